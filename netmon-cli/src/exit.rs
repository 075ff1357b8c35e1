//! Exit codes of every command (listed in `netmon --help` and docs/cli.md).

/// Success; for `doctor`, every check passed (warnings allowed).
pub const OK: u8 = 0;
/// The command failed: the message on stderr says what and what to do.
pub const FAILURE: u8 = 1;
/// A check of `netmon doctor` failed, or `netmon status` found no daemon.
pub const NOT_HEALTHY: u8 = 3;
/// A service netmon needs is unavailable (EX_UNAVAILABLE), e.g. no daemon for `top`.
pub const UNAVAILABLE: u8 = 69;
/// A file could not be read or written (EX_IOERR).
pub const IO: u8 = 74;
/// The configuration cannot be used (EX_CONFIG).
pub const CONFIG: u8 = 78;

/// The text of `netmon --help` that lists the exit codes.
pub const HELP: &str = "Exit codes:
  0   success (doctor: every check passed)
  1   the command failed (the message says what and what to do)
  2   wrong command-line usage
  3   doctor found a failing check; status found no running daemon
  69  a service is unavailable (no daemon for `top`, capture cannot start)
  74  a file could not be read or written
  77  not permitted (capture without privileges)
  78  the configuration cannot be used";
