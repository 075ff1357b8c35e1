//! Address and link changes from the kernel's routing netlink (`RTMGRP_*` multicast groups):
//! the monitor reads this machine's interfaces again only when one was announced, instead of
//! every few seconds.

use std::io;

use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr as NetlinkAddr};

/// Links coming, going or changing, and IPv4 and IPv6 addresses added or removed.
const GROUPS: u32 =
    (libc::RTMGRP_LINK | libc::RTMGRP_IPV4_IFADDR | libc::RTMGRP_IPV6_IFADDR) as u32;
/// Room for a burst of announcements (one each is about 100 bytes); an overrun says "changed".
const RECEIVE_BUFFER: usize = 16 << 10;

/// A non-blocking socket subscribed to this network namespace's address and link changes.
pub struct RouteChanges {
    socket: Socket,
    buffer: Vec<u8>,
}

impl RouteChanges {
    pub fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind(&NetlinkAddr::new(0, GROUPS))?;
        socket.set_non_blocking(true)?;
        Ok(Self {
            socket,
            buffer: vec![0; RECEIVE_BUFFER],
        })
    }

    /// Whether anything was announced since the last call (or announcements were lost to an
    /// overrun); reads them all, without waiting.
    pub fn changed(&mut self) -> bool {
        // Every message of the subscribed groups is a change.
        crate::os::any_announced(|| self.socket.recv(&mut &mut self.buffer[..], 0).map(|_| true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::os::linux::netns::{ip, isolated};
    use std::thread;
    use std::time::{Duration, Instant};

    fn changed_within(changes: &mut RouteChanges, limit: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < limit {
            if changes.changed() {
                return true;
            }
            thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn an_address_added_or_removed_is_announced_once() {
        isolated(|| {
            let mut changes = RouteChanges::open().unwrap();
            assert!(!changes.changed(), "nothing happened yet");
            ip(&["link", "set", "lo", "up"]);
            assert!(changed_within(&mut changes, Duration::from_secs(2)));
            thread::sleep(Duration::from_millis(50));
            while changes.changed() {}
            assert!(
                !changed_within(&mut changes, Duration::from_millis(200)),
                "each announcement is read once, and nothing else is announced"
            );
            ip(&["addr", "add", "10.77.0.1/32", "dev", "lo"]);
            assert!(changed_within(&mut changes, Duration::from_secs(2)));
            thread::sleep(Duration::from_millis(50));
            while changes.changed() {}
            ip(&["addr", "del", "10.77.0.1/32", "dev", "lo"]);
            assert!(changed_within(&mut changes, Duration::from_secs(2)));
        });
    }
}
