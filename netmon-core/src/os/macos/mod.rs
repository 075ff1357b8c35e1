//! macOS: libproc calls reached through `libc` (the `libproc` crate's build needs the macOS SDK),
//! for executable paths, the socket-table fallback used when PKTAP is unavailable, and the
//! processes holding utun devices (`utun`); address and interface changes from a routing socket
//! (`route`).

pub mod libproc;
pub mod route;
pub mod sockets;
pub mod utun;
