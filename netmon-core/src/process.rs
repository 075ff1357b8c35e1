//! Processes and the applications users think in.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// A process that owns sockets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub pid: u32,
    /// The process's own (possibly truncated) name: `comm` on Linux.
    pub name: String,
    /// Full path of the executable, when it could be read.
    pub exe: Option<String>,
    /// The application the process belongs to (see [`app_name`]).
    pub app: String,
}

impl ProcessInfo {
    pub fn new(pid: u32, name: impl Into<String>, exe: Option<String>) -> Self {
        let name = name.into();
        let exe = exe.map(|path| strip_deleted(&path).to_string());
        let app = app_name(&name, exe.as_deref());
        Self {
            pid,
            name,
            exe,
            app,
        }
    }
}

/// Finds a process's executable path from its PID (`proc_pidpath` on macOS).
pub type ExeLookup = Box<dyn FnMut(u32) -> Option<String> + Send>;

/// Shares one [`ProcessInfo`] per (PID, name) among the observations of capture sources that
/// name processes themselves (PKTAP, nettop), filling the executable path once per process so
/// applications group by bundle; `os::process_cache` builds the platform's. A PID reused
/// under another name is a new entry; the cache is emptied when it grows past
/// [`ProcessCache::CAPACITY`] entries.
pub struct ProcessCache {
    exe_of: ExeLookup,
    known: HashMap<(u32, String), Arc<ProcessInfo>>,
}

impl ProcessCache {
    /// Most processes remembered before the cache starts over.
    pub const CAPACITY: usize = 4096;

    /// A cache that asks `exe_of` for the executable of each new process.
    pub fn new(exe_of: ExeLookup) -> Self {
        Self {
            exe_of,
            known: HashMap::new(),
        }
    }

    /// The process with this PID and name.
    pub fn get(&mut self, pid: u32, name: &str) -> Arc<ProcessInfo> {
        if let Some(known) = self.known.get(&(pid, name.to_string())) {
            return Arc::clone(known);
        }
        if self.known.len() >= Self::CAPACITY {
            self.known.clear();
        }
        let info = Arc::new(ProcessInfo::new(pid, name, (self.exe_of)(pid)));
        self.known
            .insert((pid, name.to_string()), Arc::clone(&info));
        info
    }

    /// Forgets every process whose PID `keep` rejects (processes that exited).
    pub fn retain(&mut self, mut keep: impl FnMut(u32) -> bool) {
        self.known.retain(|(pid, _), _| keep(*pid));
    }
}

impl std::fmt::Debug for ProcessCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessCache")
            .field("known", &self.known.len())
            .finish_non_exhaustive()
    }
}

/// Groups a process into an application: the outermost `.app` bundle of its executable
/// (`…/Google Chrome.app/…/Google Chrome Helper (Renderer)` → `Google Chrome`), else the
/// executable's file name, else the process name.
pub fn app_name(name: &str, exe: Option<&str>) -> String {
    exe.map(strip_deleted)
        .and_then(|exe| bundle_name(exe).or_else(|| file_name(exe)))
        .unwrap_or_else(|| name.trim().to_string())
}

fn bundle_name(exe: &str) -> Option<String> {
    Path::new(exe)
        .components()
        .filter_map(|component| component.as_os_str().to_str())
        .find_map(|part| part.strip_suffix(".app"))
        .filter(|stem| !stem.is_empty())
        .map(str::to_string)
}

fn file_name(exe: &str) -> Option<String> {
    Path::new(exe)
        .file_name()
        .and_then(|name| name.to_str())
        .filter(|name| !name.is_empty())
        .map(str::to_string)
}

/// Linux marks the executable of a replaced binary with a ` (deleted)` suffix.
fn strip_deleted(exe: &str) -> &str {
    exe.strip_suffix(" (deleted)").unwrap_or(exe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn executables_group_by_file_name() {
        assert_eq!(
            app_name("Socket Process", Some("/usr/lib/firefox/firefox")),
            "firefox"
        );
        assert_eq!(app_name("curl", None), "curl");
        assert_eq!(
            app_name("x", Some("/usr/bin/python3.11 (deleted)")),
            "python3.11"
        );
    }

    #[test]
    fn macos_helpers_group_under_their_outer_bundle() {
        let exe = "/Applications/Google Chrome.app/Contents/Frameworks/Google Chrome Framework.framework/Versions/1/Helpers/Google Chrome Helper (Renderer).app/Contents/MacOS/Google Chrome Helper (Renderer)";
        assert_eq!(app_name("Google Chrome H", Some(exe)), "Google Chrome");
        assert_eq!(
            app_name("zen", Some("/Applications/Zen.app/Contents/MacOS/zen")),
            "Zen"
        );
    }

    #[test]
    fn the_cache_shares_processes_and_asks_for_each_executable_once() {
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&asked);
        let mut cache = ProcessCache::new(Box::new(move |pid| {
            seen.lock().unwrap().push(pid);
            (pid == 7).then(|| "/Applications/Zen.app/Contents/MacOS/zen".to_string())
        }));
        let first = cache.get(7, "zen");
        assert!(Arc::ptr_eq(&first, &cache.get(7, "zen")));
        assert_eq!(first.app, "Zen");
        assert_eq!(cache.get(7, "other").name, "other");
        assert_eq!(cache.get(8, "curl").app, "curl");
        cache.retain(|pid| pid != 7);
        cache.get(7, "zen");
        assert_eq!(*asked.lock().unwrap(), vec![7, 7, 8, 7]);
    }

    #[test]
    fn process_info_strips_deleted_marks() {
        let info = ProcessInfo::new(7, "curl", Some("/tmp/curl (deleted)".into()));
        assert_eq!(info.exe.as_deref(), Some("/tmp/curl"));
        assert_eq!(info.app, "curl");
    }
}
