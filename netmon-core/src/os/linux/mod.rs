//! Linux: socket tables from `/proc/net`, socket owners from `/proc/PID/fd`.

pub mod sockets;
