//! Ends a capture source's wait early: a stop (a signal handler writes to it) or a new source
//! asked for. A source that waits on descriptors waits on this one too, so an idle capture can
//! sleep long instead of waking every few seconds to look for a stop request (see
//! [`super::CaptureSource::wake_on`]).
//!
//! It is a connected pair of Unix sockets: [`Wake::wake`] (or a signal handler given
//! [`Wake::signal_writer`]) writes a byte to one end, which makes the other readable until the
//! waiting side [`Wake::drain`]s it. Both ends are non-blocking, so neither side ever blocks on
//! it: a full socket already wakes its reader.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

/// A shared wake-up for a waiting capture; clones wake the same waiter.
#[derive(Debug, Clone)]
pub struct Wake {
    ends: Arc<Ends>,
}

#[derive(Debug)]
struct Ends {
    reader: UnixStream,
    writer: UnixStream,
}

impl Wake {
    pub fn new() -> io::Result<Self> {
        let (reader, writer) = UnixStream::pair()?;
        reader.set_nonblocking(true)?;
        writer.set_nonblocking(true)?;
        Ok(Self {
            ends: Arc::new(Ends { reader, writer }),
        })
    }

    /// Wakes the waiter (now, or at its next wait if it is not waiting).
    pub fn wake(&self) {
        // A full socket (it would block) is already readable: the waiter wakes all the same.
        let _ = (&self.ends.writer).write(&[1]);
    }

    /// A second handle on the writing end, for a signal handler to write to
    /// (`signal_hook::low_level::pipe::register`).
    pub fn signal_writer(&self) -> io::Result<UnixStream> {
        self.ends.writer.try_clone()
    }

    /// The descriptor to wait on: readable once woken, until drained.
    pub fn fd(&self) -> RawFd {
        self.ends.reader.as_raw_fd()
    }

    /// Reads every pending wake-up, so the next wait sleeps again.
    pub fn drain(&self) {
        let mut buffer = [0; 64];
        while matches!((&self.ends.reader).read(&mut buffer), Ok(read) if read > 0) {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readable(fd: RawFd) -> bool {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        unsafe { libc::poll(&mut poll, 1, 0) > 0 }
    }

    #[test]
    fn a_wake_makes_the_descriptor_readable_until_drained() {
        let wake = Wake::new().unwrap();
        assert!(!readable(wake.fd()));
        wake.clone().wake();
        wake.wake();
        assert!(readable(wake.fd()));
        wake.drain();
        assert!(!readable(wake.fd()));
    }

    #[test]
    fn the_signal_writer_wakes_the_same_waiter_and_waking_never_blocks() {
        let wake = Wake::new().unwrap();
        (&wake.signal_writer().unwrap()).write_all(&[1]).unwrap();
        assert!(readable(wake.fd()));
        // Far more wake-ups than the socket holds: none blocks, and one drain empties it.
        (0..100_000).for_each(|_| wake.wake());
        wake.drain();
        assert!(!readable(wake.fd()));
    }
}
