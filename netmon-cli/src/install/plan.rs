//! What an install or uninstall does, as plain values: the [`Context`] it depends on and the
//! [`Plan`] of directories, files, commands and removals, which `--print` shows with
//! [`describe`] and `apply` carries out.

use std::path::{Path, PathBuf};

use netmon_core::os::privileges::User;
use netmon_core::os::Platform;
use netmon_core::paths::Paths;
use netmon_core::service::{Locations, Scope};

use super::InstallError;

/// Where and how netmon is installed: everything the files and commands depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub os: Platform,
    /// At boot as root ([`Scope::System`]) or at login as the user.
    pub scope: Scope,
    /// Where the service files go: the system's root, the user's home and `$XDG_CONFIG_HOME`.
    pub locations: Locations,
    /// The user netmon runs for: whose files it keeps, whose menubar it shows.
    pub user: User,
    /// The scopes already installed (their daemon files exist).
    pub installed: Vec<Scope>,
    /// `$NETMON_HOME` when set, passed on to the service.
    pub netmon_home: Option<PathBuf>,
    pub binary: PathBuf,
}

impl Context {
    /// netmon's own files, whose logs directory receives the login services' output.
    pub fn paths(&self) -> Paths {
        Paths::at(
            self.netmon_home
                .clone()
                .unwrap_or_else(|| self.locations.home.join(".netmonitor")),
        )
    }

    /// `logs/<name>.out.log` and `logs/<name>.err.log`, where a login service's output goes.
    pub fn output_logs(&self, name: &str) -> (PathBuf, PathBuf) {
        let logs = self.paths().logs();
        (
            logs.join(format!("{name}.out.log")),
            logs.join(format!("{name}.err.log")),
        )
    }

    /// The arguments of `netmon run` for the service: `--service` (a bad config.json is
    /// reported and the defaults run, rather than a restart loop), and the system daemon
    /// becomes the user once capture is open (unless the user is root).
    pub fn run_arguments(&self) -> Vec<String> {
        let become_user = (self.scope == Scope::System && self.user.uid != 0)
            .then(|| ["--user".to_string(), self.user.name.clone()]);
        ["run", "--service"]
            .map(String::from)
            .into_iter()
            .chain(become_user.into_iter().flatten())
            .collect()
    }

    /// Whether a login-time (user) install is there beside a system one being planned.
    pub fn replaces_user_install(&self) -> bool {
        self.scope == Scope::System && self.installed.contains(&Scope::User)
    }
}

/// Who owns a written file or directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// root (group 0: wheel on macOS, root on Linux).
    Root,
    /// The user netmon runs for.
    User,
}

/// A directory to create when missing, with its owner and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    pub path: PathBuf,
    pub owner: Owner,
    pub mode: u32,
}

/// A file to write, with its owner and mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub path: PathBuf,
    pub contents: String,
    pub owner: Owner,
    pub mode: u32,
}

/// A command to run; `must_succeed` false for steps whose failure only means "already so".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub program: &'static str,
    pub args: Vec<String>,
    pub must_succeed: bool,
}

impl Step {
    pub fn new(program: &'static str, args: &[&str], must_succeed: bool) -> Self {
        Self {
            program,
            args: args.iter().map(|arg| arg.to_string()).collect(),
            must_succeed,
        }
    }

    pub fn line(&self) -> String {
        std::iter::once(self.program.to_string())
            .chain(self.args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What `install` or `uninstall` does, in this order: create the directories, write the
/// files, run the steps, remove the removals (those that exist).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub directories: Vec<Directory>,
    pub files: Vec<File>,
    pub steps: Vec<Step>,
    pub removals: Vec<PathBuf>,
}

impl Plan {
    /// This plan, then `other`'s.
    pub fn then(mut self, other: Plan) -> Plan {
        self.directories.extend(other.directories);
        self.files.extend(other.files);
        self.steps.extend(other.steps);
        self.removals.extend(other.removals);
        self
    }
}

/// `--print`: directories, each file with its path, owner and mode, then the commands and
/// the removals.
pub fn describe(plan: &Plan) -> String {
    let owner = |owner: Owner| match owner {
        Owner::Root => "root",
        Owner::User => "user",
    };
    let directories = plan.directories.iter().map(|directory| {
        format!(
            "# directory {} ({}, {:o})\n",
            directory.path.display(),
            owner(directory.owner),
            directory.mode
        )
    });
    let files = plan.files.iter().map(|file| {
        format!(
            "# write {} ({}, {:o})\n{}\n",
            file.path.display(),
            owner(file.owner),
            file.mode,
            file.contents
        )
    });
    let steps = plan.steps.iter().map(|step| format!("{}\n", step.line()));
    let removals = plan
        .removals
        .iter()
        .map(|path| format!("# remove {}\n", path.display()));
    directories
        .chain(files)
        .chain(std::iter::once("# run\n".to_string()))
        .chain(steps)
        .chain(removals)
        .collect()
}

/// A path as UTF-8 text, for property lists and units.
pub fn text(path: &Path) -> Result<String, InstallError> {
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| InstallError::NotUtf8(path.to_path_buf()))
}
