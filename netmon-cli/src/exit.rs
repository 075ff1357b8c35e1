//! Exit codes of every command: one table, which `netmon --help` and docs/cli.md list. Core
//! says what failed (for example [`CaptureError`]'s variant); this module picks the code.

use netmon_core::capture::CaptureError;

/// Success; for `doctor`, every check passed (warnings allowed).
pub const OK: u8 = 0;
/// The command failed: the message on stderr says what and what to do.
pub const FAILURE: u8 = 1;
/// Wrong command-line usage (clap's own code for a bad argument).
pub const USAGE: u8 = 2;
/// A check of `netmon doctor` failed, or `netmon status` found no daemon.
pub const NOT_HEALTHY: u8 = 3;
/// A service netmon needs is unavailable (EX_UNAVAILABLE), e.g. no daemon for `top`.
pub const UNAVAILABLE: u8 = 69;
/// A file could not be read or written (EX_IOERR).
pub const IO: u8 = 74;
/// Not permitted (EX_NOPERM): capture without privileges, or the user cannot be taken on.
pub const NOT_PERMITTED: u8 = 77;
/// The configuration cannot be used (EX_CONFIG).
pub const CONFIG: u8 = 78;

/// Every exit code and what it means, in the order `--help` lists them.
pub const TABLE: [(u8, &str); 8] = [
    (OK, "success (doctor: every check passed)"),
    (
        FAILURE,
        "the command failed (the message says what and what to do)",
    ),
    (USAGE, "wrong command-line usage"),
    (
        NOT_HEALTHY,
        "doctor found a failing check; status found no running daemon",
    ),
    (
        UNAVAILABLE,
        "a service is unavailable (no daemon for `top`, capture or the port cannot be used)",
    ),
    (IO, "a file could not be read or written"),
    (
        NOT_PERMITTED,
        "not permitted (capture without privileges, a user netmon cannot become)",
    ),
    (CONFIG, "the configuration cannot be used"),
];

/// The text of `netmon --help` that lists the exit codes, from [`TABLE`].
pub fn help() -> String {
    let lines = TABLE
        .iter()
        .map(|(code, meaning)| format!("  {code:<3} {meaning}"));
    std::iter::once("Exit codes:".to_string())
        .chain(lines)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The exit code for a capture that could not start or went on failing.
pub fn of_capture(error: &CaptureError) -> u8 {
    match error {
        CaptureError::PermissionDenied { .. } => NOT_PERMITTED,
        CaptureError::NoDevice { .. }
        | CaptureError::UnsupportedLink { .. }
        | CaptureError::Failed { .. }
        | CaptureError::NotOnThisSystem { .. } => UNAVAILABLE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_lists_every_code_once_in_order() {
        let help = help();
        let listed: Vec<u8> = help
            .lines()
            .skip(1)
            .filter_map(|line| line.split_whitespace().next()?.parse().ok())
            .collect();
        assert_eq!(listed, [0, 1, 2, 3, 69, 74, 77, 78], "{help}");
    }

    #[test]
    fn capture_failures_map_to_not_permitted_or_unavailable() {
        let denied = CaptureError::PermissionDenied {
            device: "any".into(),
            detail: "EPERM".into(),
            hint: "sudo",
        };
        assert_eq!(of_capture(&denied), NOT_PERMITTED);
        let elsewhere = CaptureError::NotOnThisSystem {
            method: "nettop",
            hint: "macOS only",
        };
        assert_eq!(of_capture(&elsewhere), UNAVAILABLE);
    }
}
