//! Linux: socket inodes from netlink `sock_diag`, socket owners from `/proc/PID/fd`.

pub mod diag;
pub mod sockets;
