//! macOS: libproc calls reached through `libc` (the `libproc` crate's build needs the macOS SDK),
//! for executable paths and the socket-table fallback used when PKTAP is unavailable.

pub mod libproc;
pub mod sockets;
