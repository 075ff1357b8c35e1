//! Platform code. Nothing outside this module (and the capture sources it serves) uses an
//! OS-specific API.

#[cfg(unix)]
pub mod files;
#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(target_os = "macos")]
pub mod macos;
#[cfg(unix)]
pub mod privileges;
#[cfg(any(target_os = "macos", test))]
mod route_messages;
pub mod watch;

use std::str::FromStr;

use crate::attribution::SocketOwners;
use crate::process::ProcessCache;

/// The system netmon runs on, or is asked about (`netmon install --os`): the one platform
/// value that capture, install and the menubar decide by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Macos,
    Linux,
    /// Any other system: libpcap capture, no service manager netmon knows.
    Other,
}

impl Platform {
    /// This system.
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Self::Macos
        } else if cfg!(target_os = "linux") {
            Self::Linux
        } else {
            Self::Other
        }
    }
}

impl FromStr for Platform {
    type Err = String;

    /// `macos` or `linux`, as `--os` takes them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "macos" => Ok(Self::Macos),
            "linux" => Ok(Self::Linux),
            other => Err(format!(
                "{other:?} is not a system netmon knows: macos or linux"
            )),
        }
    }
}

/// Whether this process runs as root (effective user id 0).
pub fn is_root() -> bool {
    effective_uid() == 0
}

/// This process's effective user id.
pub fn effective_uid() -> u32 {
    #[cfg(unix)]
    {
        // SAFETY: geteuid has no preconditions and cannot fail.
        unsafe { libc::geteuid() }
    }
    #[cfg(not(unix))]
    {
        u32::MAX
    }
}

/// A process cache that finds executables through this platform ([`executable_path`]).
pub fn process_cache() -> ProcessCache {
    ProcessCache::new(Box::new(executable_path))
}

/// This machine's address and interface changes, as the system announces them: whether any
/// came since the last look, read without waiting. `None` where the system offers none (or the
/// socket could not be opened): the caller reads the interfaces on a timer instead.
pub struct InterfaceChanges {
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    inner: RouteChanges,
}

#[cfg(target_os = "linux")]
use linux::route::RouteChanges;
#[cfg(target_os = "macos")]
use macos::route::RouteChanges;

impl InterfaceChanges {
    pub fn open() -> Option<Self> {
        #[cfg(any(target_os = "linux", target_os = "macos"))]
        let opened = RouteChanges::open()
            .map(|inner| Self { inner })
            .map_err(|error| {
                tracing::warn!(%error, "cannot follow address changes: interfaces are read every few seconds instead");
            })
            .ok();
        #[cfg(not(any(target_os = "linux", target_os = "macos")))]
        let opened = None;
        opened
    }

    /// Whether an address or interface change was announced since the last call.
    pub fn changed(&mut self) -> bool {
        #[cfg(any(target_os = "linux", target_os = "macos"))]
        {
            self.inner.changed()
        }
        #[cfg(not(any(target_os = "linux", target_os = "macos")))]
        {
            true
        }
    }
}

/// Reads every pending announcement of a non-blocking socket with `read_one` (whether the
/// message it read was a change; `WouldBlock` when none is left), without waiting: whether any
/// was a change. Lost messages (an overrun) and a failing socket count as a change.
#[cfg(any(target_os = "linux", target_os = "macos"))]
fn any_announced(mut read_one: impl FnMut() -> std::io::Result<bool>) -> bool {
    use std::io::ErrorKind;
    let mut changed = false;
    loop {
        match read_one() {
            Ok(change) => changed |= change,
            Err(error) if error.kind() == ErrorKind::WouldBlock => return changed,
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
}

/// The socket-owner lookup of this platform.
pub fn socket_owners() -> Box<dyn SocketOwners> {
    #[cfg(target_os = "linux")]
    {
        Box::new(linux::sockets::ProcSockets::default())
    }
    #[cfg(target_os = "macos")]
    {
        Box::new(macos::sockets::LibprocSockets::default())
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        Box::new(crate::attribution::NoOwners)
    }
}

/// Sets this platform's allocator up for a long-running daemon (glibc: return memory freed
/// after bursts). Call once, before threads start.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    linux::memory::tune_allocator();
}

/// The executable path of process `pid`, when this platform can tell.
pub fn executable_path(pid: u32) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        std::fs::read_link(format!("/proc/{pid}/exe"))
            .ok()
            .and_then(|path| path.to_str().map(str::to_string))
    }
    #[cfg(target_os = "macos")]
    {
        macos::libproc::executable_path(pid)
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        let _ = pid;
        None
    }
}

/// The processes holding a tunnel device open, with the interface each device is (Linux:
/// `/dev/net/tun` descriptors; macOS: utun control sockets).
pub fn tunnel_holders() -> Vec<crate::tunnel::Holder> {
    #[cfg(target_os = "linux")]
    {
        linux::tun::holders()
    }
    #[cfg(target_os = "macos")]
    {
        macos::utun::holders()
    }
    #[cfg(not(any(target_os = "linux", target_os = "macos")))]
    {
        Vec::new()
    }
}

/// Whether interface `name` is a tunnel by its kind, whatever its name (Linux: a tun device or
/// a link type without hardware addresses, as WireGuard's; elsewhere names decide).
pub fn is_tunnel_kind(name: &str) -> bool {
    #[cfg(target_os = "linux")]
    {
        linux::tun::is_tunnel_kind(name)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = name;
        false
    }
}

#[cfg(all(test, any(target_os = "linux", target_os = "macos")))]
mod tests {
    use super::any_announced;
    use std::io::{Error, ErrorKind};

    /// Whether `any_announced` calls it a change when reads return `results` in turn.
    fn announced(results: Vec<std::io::Result<bool>>) -> bool {
        let mut results = results.into_iter();
        any_announced(|| results.next().expect("it stops at WouldBlock or an error"))
    }

    #[test]
    fn a_change_among_the_pending_messages_is_one() {
        let none_left = || Err(Error::from(ErrorKind::WouldBlock));
        assert!(announced(vec![Ok(false), Ok(true), Ok(false), none_left()]));
        assert!(!announced(vec![Ok(false), Ok(false), none_left()]));
        assert!(!announced(vec![none_left()]));
        // Interrupted reads are tried again; lost messages and failures count as a change.
        assert!(!announced(vec![
            Err(Error::from(ErrorKind::Interrupted)),
            none_left()
        ]));
        assert!(announced(vec![
            Ok(false),
            Err(Error::from_raw_os_error(105))
        ]));
    }
}
