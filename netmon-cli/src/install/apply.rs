//! Carrying a [`Plan`] out: directories and files with their owners and modes (given to the
//! user when root writes them on the user's behalf), the commands, then the removals.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::process::Command as Process;

use netmon_core::os::{self, files};

use super::plan::{Context, Owner, Plan, Step};
use super::InstallError;

/// Creates, writes and runs what `plan` says; prints each file written and removed.
pub fn apply(plan: &Plan, context: &Context) -> Result<(), InstallError> {
    let owner = |owner: Owner| ids(owner, context);
    plan.directories.iter().try_for_each(|directory| {
        files::create_owned_dir(&directory.path, directory.mode, owner(directory.owner))
            .map_err(io_error("create", &directory.path))
    })?;
    plan.files.iter().try_for_each(|file| {
        if let Some(parent) = file.path.parent() {
            files::create_owned_dir(parent, 0o755, owner(file.owner))
                .map_err(io_error("create", parent))?;
        }
        files::write_owned(
            &file.path,
            file.contents.as_bytes(),
            file.mode,
            owner(file.owner),
        )
        .map_err(io_error("write", &file.path))?;
        println!("installed {}", file.path.display());
        Ok::<(), InstallError>(())
    })?;
    plan.steps.iter().try_for_each(run_step)?;
    plan.removals
        .iter()
        .filter(|path| path.exists())
        .try_for_each(|path| {
            std::fs::remove_file(path).map_err(io_error("remove", path))?;
            println!("removed {}", path.display());
            Ok(())
        })
}

/// The (uid, gid) to give a file to: only root changes owners.
fn ids(owner: Owner, context: &Context) -> Option<(u32, u32)> {
    os::is_root().then_some(match owner {
        Owner::Root => (0, 0),
        Owner::User => (context.user.uid, context.user.gid),
    })
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> InstallError {
    let path = path.to_path_buf();
    move |source| InstallError::Io {
        action,
        path,
        source,
    }
}

fn run_step(step: &Step) -> Result<(), InstallError> {
    let failure = |detail: String| InstallError::Step {
        command: step.line(),
        detail,
    };
    let output = Process::new(step.program)
        .args(step.args.iter().map(OsString::from))
        .output()
        .map_err(|error| failure(format!("cannot run {}: {error}", step.program)))?;
    if output.status.success() || !step.must_succeed {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    Err(failure(format!("{} {stderr}", output.status)))
}
