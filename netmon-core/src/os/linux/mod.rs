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

/// For tests: a network namespace of a thread's own.
#[cfg(test)]
pub mod netns {
    use std::net::{IpAddr, SocketAddr, UdpSocket};
    use std::process::Command;
    use std::thread;

    /// Runs `body` on a new thread in a new, empty network namespace (namespaces are per
    /// thread, and threads it starts share it), so the machine's own interfaces are left
    /// alone. Needs root, as CI has.
    pub fn isolated<T: Send + 'static>(body: impl FnOnce() -> T + Send + 'static) -> T {
        thread::spawn(|| {
            // SAFETY: unshare has no memory preconditions; it changes this thread's namespace.
            let entered = unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0;
            assert!(
                entered,
                "this test makes a network namespace and needs root (CI runs as root): {}",
                std::io::Error::last_os_error()
            );
            body()
        })
        .join()
        .unwrap()
    }

    /// Runs `ip ARGS` in the calling thread's network namespace.
    pub fn ip(args: &[&str]) {
        let status = Command::new("ip").args(args).status().expect("ip runs");
        assert!(status.success(), "ip {args:?} failed");
    }

    /// Sends `payload` to `host`:`port` from a new UDP socket; returns its port.
    pub fn datagram(host: &str, port: u16, payload: &[u8]) -> u16 {
        let socket = UdpSocket::bind((host, 0)).unwrap();
        let to: SocketAddr = (host.parse::<IpAddr>().unwrap(), port).into();
        socket.send_to(payload, to).unwrap();
        socket.local_addr().unwrap().port()
    }
}
