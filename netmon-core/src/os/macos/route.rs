//! Address and interface changes from a routing socket (`PF_ROUTE`): the monitor reads this
//! Mac's interfaces again only when one was announced. Which messages count is decided by
//! [`crate::os::route_messages`].

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::os::route_messages::announces_change;

/// Largest routing message read whole (an interface announcement is a few hundred bytes).
const RECEIVE_BUFFER: usize = 2048;

/// A non-blocking routing socket: every routing message of this Mac is readable on it.
pub struct RouteChanges {
    socket: OwnedFd,
    buffer: Vec<u8>,
}

impl RouteChanges {
    pub fn open() -> io::Result<Self> {
        // SAFETY: plain socket(2) call; the descriptor is owned at once.
        let fd = unsafe { libc::socket(libc::PF_ROUTE, libc::SOCK_RAW, libc::AF_UNSPEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor nothing else owns.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        // SAFETY: fcntl on a descriptor this function owns.
        let nonblocking = unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
        };
        if !nonblocking {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            socket,
            buffer: vec![0; RECEIVE_BUFFER],
        })
    }

    /// Whether an address or interface change was announced since the last call (or messages
    /// were lost to an overrun); reads every pending message, without waiting.
    pub fn changed(&mut self) -> bool {
        crate::os::any_announced(|| {
            // SAFETY: the buffer is valid for its length; the socket is open.
            let read = unsafe {
                libc::recv(
                    self.socket.as_raw_fd(),
                    self.buffer.as_mut_ptr().cast(),
                    self.buffer.len(),
                    0,
                )
            };
            match usize::try_from(read) {
                // Nothing more to read.
                Ok(0) => Err(io::ErrorKind::WouldBlock.into()),
                Ok(length) => Ok(announces_change(&self.buffer[..length])),
                Err(_) => Err(io::Error::last_os_error()),
            }
        })
    }
}
