//! Platform code. Nothing outside this module (and the capture sources it serves) uses an
//! OS-specific API.

#[cfg(target_os = "linux")]
pub mod linux;

use crate::attribution::SocketOwners;

/// The socket-owner lookup of this platform.
pub fn socket_owners() -> Box<dyn SocketOwners> {
    #[cfg(target_os = "linux")]
    {
        Box::new(linux::sockets::ProcSockets::default())
    }
    #[cfg(not(target_os = "linux"))]
    {
        Box::new(crate::attribution::NoOwners)
    }
}
