//! `netmon logs`: prints (and follows) one of netmon's log files.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use clap::{Args, ValueEnum};
use netmon_core::Paths;

use crate::exit;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Log {
    /// Capture and sampling (daemon.log).
    Daemon,
    /// The local web server and API (webserver.log).
    Webserver,
    /// Reports from the browser extension (extension.log).
    Extension,
}

impl Log {
    fn file_name(self) -> &'static str {
        match self {
            Self::Daemon => "daemon.log",
            Self::Webserver => "webserver.log",
            Self::Extension => "extension.log",
        }
    }
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[arg(value_enum, default_value_t = Log::Daemon)]
    log: Log,
    /// Keep printing lines as they are written (Ctrl-C stops).
    #[arg(short, long)]
    follow: bool,
    /// Print only the last N lines first.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 100)]
    lines: usize,
}

pub fn run(args: LogsArgs) -> u8 {
    let path = match Paths::resolve() {
        Ok(paths) => paths.log_file(args.log.file_name()),
        Err(error) => {
            eprintln!("netmon: {error}");
            return exit::FAILURE;
        }
    };
    match print(&path, &args) {
        Ok(()) => exit::OK,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "netmon: {} does not exist yet (netmon writes it once `netmon run` has started)",
                path.display()
            );
            exit::FAILURE
        }
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => exit::OK,
        Err(error) => {
            eprintln!("netmon: cannot read {}: {error}", path.display());
            exit::IO
        }
    }
}

fn print(path: &Path, args: &LogsArgs) -> std::io::Result<()> {
    let mut file = File::open(path)?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(tail(&text, args.lines).as_bytes())?;
    stdout.flush()?;
    if args.follow {
        follow(path, file, text.len() as u64, &mut stdout)?;
    }
    Ok(())
}

/// The last `count` lines of `text`.
fn tail(text: &str, count: usize) -> &str {
    if count == 0 {
        return "";
    }
    text.trim_end_matches('\n')
        .rmatch_indices('\n')
        .nth(count - 1)
        .map_or(text, |(at, _)| &text[at + 1..])
}

/// Prints what is appended; starts over when the file is rotated (replaced or truncated).
fn follow(
    path: &Path,
    mut file: File,
    mut offset: u64,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let Ok(current) = std::fs::metadata(path) else {
            continue; // between rotation's rename and the new file
        };
        if current.len() < offset || replaced(&file, &current) {
            file = File::open(path)?;
            offset = 0;
        }
        file.seek(SeekFrom::Start(offset))?;
        buffer.clear();
        offset += file.read_to_end(&mut buffer)? as u64;
        if !buffer.is_empty() {
            out.write_all(&buffer)?;
            out.flush()?;
        }
    }
}

/// Whether the file at the path is no longer the one open.
#[cfg(unix)]
fn replaced(open: &File, current: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    open.metadata()
        .map(|meta| (meta.dev(), meta.ino()) != (current.dev(), current.ino()))
        .unwrap_or(true)
}

#[cfg(not(unix))]
fn replaced(_open: &File, _current: &std::fs::Metadata) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail("a\nb\nc\n", 10), "a\nb\nc\n");
        assert_eq!(tail("a\nb\nc", 1), "c");
        assert_eq!(tail("a\n", 0), "");
    }
}
