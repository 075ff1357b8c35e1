//! Running with no more privilege than capture needs. Started as root on a user's behalf
//! (`sudo netmon run`, or `netmon run --user NAME`), netmon opens the capture, then becomes that
//! user, so the database, configuration and logs it writes are the user's own.
//!
//! On Linux the socket-table lookup still has to read other users' `/proc/PID/fd`, so two
//! capabilities are kept across the switch: CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH; every
//! other capability, and the way back to root, is gone. On macOS PKTAP names each packet's
//! process, so nothing is kept.

use std::ffi::{CStr, CString};
use std::path::PathBuf;

use super::is_root;

/// A user netmon can run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
}

/// Why netmon could not become the user it runs for.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("no user named {0:?} on this system")]
    UnknownUser(String),
    #[error("no user with id {0} on this system")]
    UnknownUid(u32),
    #[error("SUDO_UID is {0:?}, which is not a user id")]
    BadSudoUid(String),
    #[error("--user {0} needs netmon to be started as root (sudo)")]
    NotRoot(String),
    #[error("cannot become user {user}: {step} failed: {source}")]
    Switch {
        user: String,
        step: &'static str,
        source: std::io::Error,
    },
    #[error("still able to regain root after becoming user {0}; refusing to go on")]
    Regained(String),
}

/// The user to become: `requested` by name, else the user sudo ran netmon for (`SUDO_UID`).
/// `None` when netmon is not root, or root runs it for root.
pub fn target_user(requested: Option<&str>) -> Result<Option<User>, PrivilegeError> {
    let root = is_root();
    match requested {
        Some(name) if !root => Err(PrivilegeError::NotRoot(name.to_string())),
        Some(name) => user_named(name).map(Some),
        None if !root => Ok(None),
        None => sudo_uid()?
            .filter(|&uid| uid != 0)
            .map(user_with_id)
            .transpose(),
    }
}

/// Becomes `user` for good: supplementary groups, group, user; on Linux keeps only the
/// capabilities the socket lookup needs. Fails if root could be regained afterwards.
pub fn become_user(user: &User) -> Result<(), PrivilegeError> {
    let switch = |step| {
        move |source| PrivilegeError::Switch {
            user: user.name.clone(),
            step,
            source,
        }
    };
    let name = CString::new(user.name.as_str()).map_err(|_| {
        switch("initgroups")(std::io::Error::from(std::io::ErrorKind::InvalidInput))
    })?;
    #[cfg(target_os = "linux")]
    keep_capabilities_across_setuid(true).map_err(switch("prctl(PR_SET_KEEPCAPS)"))?;
    // SAFETY: plain calls with a valid NUL-terminated name and ids; results are checked.
    check(unsafe { libc::initgroups(name.as_ptr(), user.gid as _) })
        .map_err(switch("initgroups"))?;
    check(unsafe { libc::setgid(user.gid) }).map_err(switch("setgid"))?;
    check(unsafe { libc::setuid(user.uid) }).map_err(switch("setuid"))?;
    #[cfg(target_os = "linux")]
    {
        keep_capabilities_across_setuid(false).map_err(switch("prctl(PR_SET_KEEPCAPS)"))?;
        linux_capabilities::keep_lookup_only().map_err(switch("capset"))?;
    }
    // SAFETY: as above; this must fail now that root is given up.
    if unsafe { libc::setuid(0) } == 0 {
        return Err(PrivilegeError::Regained(user.name.clone()));
    }
    Ok(())
}

fn sudo_uid() -> Result<Option<u32>, PrivilegeError> {
    std::env::var("SUDO_UID")
        .ok()
        .filter(|value| !value.is_empty())
        .map(|value| value.parse().map_err(|_| PrivilegeError::BadSudoUid(value)))
        .transpose()
}

/// The user named `name`.
pub fn user_named(name: &str) -> Result<User, PrivilegeError> {
    let unknown = || PrivilegeError::UnknownUser(name.to_string());
    let c_name = CString::new(name).map_err(|_| unknown())?;
    // SAFETY: getpwnam_r writes into the buffers passwd_entry provides, sized as given.
    passwd_entry(|entry, buffer, size, found| unsafe {
        libc::getpwnam_r(c_name.as_ptr(), entry, buffer, size, found)
    })
    .ok_or_else(unknown)
}

/// The user with id `uid`.
pub fn user_with_id(uid: u32) -> Result<User, PrivilegeError> {
    // SAFETY: getpwuid_r writes into the buffers passwd_entry provides, sized as given.
    passwd_entry(|entry, buffer, size, found| unsafe {
        libc::getpwuid_r(uid, entry, buffer, size, found)
    })
    .ok_or(PrivilegeError::UnknownUid(uid))
}

/// Runs a reentrant passwd lookup with a buffer of its own; `None` when there is no entry.
fn passwd_entry(
    lookup: impl Fn(
        *mut libc::passwd,
        *mut libc::c_char,
        libc::size_t,
        *mut *mut libc::passwd,
    ) -> libc::c_int,
) -> Option<User> {
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid value to be overwritten by the lookup.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    let status = lookup(&mut entry, buffer.as_mut_ptr(), buffer.len(), &mut found);
    if status != 0 || found.is_null() {
        return None;
    }
    // SAFETY: on success the entry's strings point into `buffer`, which is still alive.
    let text = |field: *const libc::c_char| unsafe { CStr::from_ptr(field) }.to_string_lossy();
    Some(User {
        name: text(entry.pw_name).into_owned(),
        uid: entry.pw_uid,
        gid: entry.pw_gid,
        home: PathBuf::from(text(entry.pw_dir).into_owned()),
    })
}

fn check(status: libc::c_int) -> std::io::Result<()> {
    if status == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(target_os = "linux")]
fn keep_capabilities_across_setuid(keep: bool) -> std::io::Result<()> {
    // SAFETY: PR_SET_KEEPCAPS takes one integer argument.
    check(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, libc::c_ulong::from(keep), 0, 0, 0) })
}

#[cfg(target_os = "linux")]
mod linux_capabilities {
    use caps::{CapSet, Capability, CapsHashSet};

    /// Reduces this process's capabilities to those the socket-owner lookup needs.
    pub fn keep_lookup_only() -> std::io::Result<()> {
        let kept: CapsHashSet = [Capability::CAP_SYS_PTRACE, Capability::CAP_DAC_READ_SEARCH]
            .into_iter()
            .collect();
        let failed = |error: caps::errors::CapsError| std::io::Error::other(error.to_string());
        caps::set(None, CapSet::Permitted, &kept).map_err(failed)?;
        caps::set(None, CapSet::Effective, &kept).map_err(failed)?;
        caps::clear(None, CapSet::Inheritable).map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_found_by_name_and_by_id() {
        let by_name = user_named("root").unwrap();
        assert_eq!((by_name.uid, by_name.gid), (0, 0));
        assert_eq!(user_with_id(0).unwrap(), by_name);
    }

    #[test]
    fn unknown_users_are_named_in_the_error() {
        let error = user_named("no-such-netmon-user").unwrap_err().to_string();
        assert!(error.contains("no-such-netmon-user"), "{error}");
        let error = user_with_id(4_000_000_123).unwrap_err().to_string();
        assert!(error.contains("4000000123"), "{error}");
    }
}
