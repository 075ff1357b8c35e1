//! A child process whose output lines are read without blocking, restarted with exponential
//! backoff when it exits. Platform-neutral: the command is a value, so tests run `sh` where
//! production runs `nettop`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// A program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    pub program: String,
    pub args: Vec<String>,
}

impl CommandSpec {
    /// The command line, for logs.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Waits between restarts: `first`, doubling up to `max`; back to `first` after a run that
/// lasted at least `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            next: first,
        }
    }

    /// The wait before the next start, after a run of `ran`.
    pub fn after_run(&mut self, ran: Duration) -> Duration {
        if ran >= self.max {
            self.next = self.first;
        }
        let wait = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        wait
    }
}

/// What one poll of a [`Supervised`] child brought.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A line of output, without its line ending.
    Line(String),
    /// The child exited (or closed its output); it is started again after a backoff, and what
    /// it counted before must not be compared with what the next run counts.
    Exited,
    /// A new run of the child started.
    Started,
}

/// Why the child could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start {command}: {source}")]
pub struct SpawnError {
    pub command: String,
    pub source: std::io::Error,
}

/// A running (or restarting) child process.
pub struct Supervised {
    spec: CommandSpec,
    backoff: Backoff,
    run: Option<Run>,
    restart_at: Option<Instant>,
}

struct Run {
    child: Child,
    lines: Receiver<String>,
    started: Instant,
}

impl Supervised {
    /// Starts the command; an error if it cannot start at all (missing program).
    pub fn start(spec: CommandSpec, backoff: Backoff) -> Result<Self, SpawnError> {
        let run = Run::spawn(&spec)?;
        Ok(Self {
            spec,
            backoff,
            run: Some(run),
            restart_at: None,
        })
    }

    /// Waits up to `timeout` for output; appends the lines that arrived (and starts, exits)
    /// to `events`.
    pub fn poll(&mut self, timeout: Duration, events: &mut Vec<Event>) {
        let now = Instant::now();
        self.restart_if_due(now, events);
        let Some(run) = self.run.as_mut() else {
            thread::sleep(timeout.min(self.time_to_restart(now)));
            return;
        };
        match run.lines.recv_timeout(timeout) {
            Ok(line) => {
                events.push(Event::Line(line));
                events.extend(run.lines.try_iter().map(Event::Line));
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => self.exited(now, events),
        }
    }

    fn exited(&mut self, now: Instant, events: &mut Vec<Event>) {
        if let Some(mut run) = self.run.take() {
            let status = run.child.wait();
            let wait = self.backoff.after_run(now.duration_since(run.started));
            tracing::warn!(command = %self.spec.display(), ?status, ?wait, "child exited; restarting");
            self.restart_at = Some(now + wait);
            events.push(Event::Exited);
        }
    }

    fn restart_if_due(&mut self, now: Instant, events: &mut Vec<Event>) {
        if self.restart_at.is_some_and(|at| now >= at) {
            match Run::spawn(&self.spec) {
                Ok(run) => {
                    self.run = Some(run);
                    self.restart_at = None;
                    events.push(Event::Started);
                }
                Err(error) => {
                    let wait = self.backoff.after_run(Duration::ZERO);
                    tracing::warn!(%error, ?wait, "restart failed");
                    self.restart_at = Some(now + wait);
                }
            }
        }
    }

    fn time_to_restart(&self, now: Instant) -> Duration {
        self.restart_at
            .map(|at| at.saturating_duration_since(now))
            .unwrap_or_default()
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if let Some(mut run) = self.run.take() {
            // The child may already have exited; either way it is reaped.
            let _ = run.child.kill();
            let _ = run.child.wait();
        }
    }
}

impl Run {
    fn spawn(spec: &CommandSpec) -> Result<Self, SpawnError> {
        let mut child = Command::new(&spec.program)
            .args(&spec.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| SpawnError {
                command: spec.display(),
                source,
            })?;
        let (sender, lines) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            thread::spawn(move || {
                BufReader::new(stdout)
                    .split(b'\n')
                    .map_while(Result::ok)
                    .map(|line| line_text(&line))
                    .try_for_each(|line| sender.send(line))
            });
        }
        Ok(Self {
            child,
            lines,
            started: Instant::now(),
        })
    }
}

/// A line as text: invalid UTF-8 replaced, the `\r` a pseudo-terminal adds removed.
fn line_text(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    text.trim_end_matches(['\r', '\n']).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> CommandSpec {
        CommandSpec {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
        }
    }

    fn quick() -> Backoff {
        Backoff::new(Duration::from_millis(20), Duration::from_millis(200))
    }

    fn collect(child: &mut Supervised, until: impl Fn(&[Event]) -> bool) -> Vec<Event> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut events = Vec::new();
        while !until(&events) && Instant::now() < deadline {
            child.poll(Duration::from_millis(20), &mut events);
        }
        events
    }

    #[test]
    fn backoff_doubles_to_its_ceiling_and_resets_after_a_long_run() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let waits: Vec<u64> = (0..5)
            .map(|_| backoff.after_run(Duration::ZERO).as_secs())
            .collect();
        assert_eq!(waits, [1, 2, 4, 8, 8]);
        assert_eq!(backoff.after_run(Duration::from_secs(9)).as_secs(), 1);
    }

    #[test]
    fn lines_arrive_and_an_exited_child_is_restarted() {
        let mut child = Supervised::start(sh("printf 'a\\r\\nb\\n'"), quick()).unwrap();
        let events = collect(&mut child, |events| {
            events
                .iter()
                .filter(|event| **event == Event::Started)
                .count()
                == 1
                && events
                    .iter()
                    .filter(|event| **event == Event::Line("b".into()))
                    .count()
                    == 2
        });
        let lines: Vec<&Event> = events.iter().take(3).collect();
        assert_eq!(
            lines,
            [
                &Event::Line("a".into()),
                &Event::Line("b".into()),
                &Event::Exited
            ]
        );
        assert!(events.contains(&Event::Started));
    }

    #[test]
    fn a_missing_program_is_an_error() {
        let spec = CommandSpec {
            program: "/nonexistent/netmon-test-program".into(),
            args: Vec::new(),
        };
        let error = Supervised::start(spec, quick()).err().unwrap();
        assert!(error
            .to_string()
            .contains("/nonexistent/netmon-test-program"));
    }
}
