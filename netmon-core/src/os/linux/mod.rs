//! Linux: socket inodes from netlink `sock_diag`, socket owners from `/proc/PID/fd`, tunnel
//! devices and their holders (`tun`); glibc's allocator settings for the daemon; inotify
//! watching one file (`watch`); a capture socket's kernel filter (`socket_filter`); address and
//! link changes announced by routing netlink (`route`).

pub mod diag;
#[cfg(target_env = "gnu")]
pub mod memory;
pub mod route;
pub mod socket_filter;
pub mod sockets;
pub mod tun;
pub mod watch;
