//! Exact socket lookups through netlink `sock_diag` (what `ss` uses): the kernel finds the
//! socket that receives a flow's packets — connected, or bound/listening — and returns its inode.
//!
//! One request per flow costs a few microseconds, whatever the number of sockets on the
//! machine; the text tables in `/proc/net` walk the kernel's whole socket hash (sized by the
//! machine's memory) on every read, which takes long enough for a short connection to be gone.

use std::io;
use std::net::{IpAddr, SocketAddr};

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};
use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_sys::protocols::NETLINK_SOCK_DIAG;
use netlink_sys::{Socket, SocketAddr as NetlinkAddr};

use crate::flow::FlowKey;

/// "Any socket": the kernel does not check the cookie.
const NO_COOKIE: [u8; 8] = [0xff; 8];
const RECEIVE_BUFFER: usize = 8192;

/// A netlink socket for `sock_diag` requests in this process's network namespace.
pub struct SockDiag {
    socket: Socket,
    buffer: Vec<u8>,
}

impl SockDiag {
    pub fn open() -> io::Result<Self> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
        socket.bind_auto()?;
        socket.connect(&NetlinkAddr::new(0, 0))?;
        Ok(Self {
            socket,
            buffer: vec![0; RECEIVE_BUFFER],
        })
    }

    /// The inode of the socket that receives `flow`'s packets; `None` when there is none (or
    /// only one without an owner, such as TCP TIME_WAIT).
    pub fn inode(&mut self, flow: &FlowKey) -> io::Result<Option<u64>> {
        let protocol = match flow.protocol {
            6 => IPPROTO_TCP,
            17 => IPPROTO_UDP,
            _ => return Ok(None),
        };
        // TCP requests name the socket's own address first; UDP requests name the packet's
        // source (the remote) first. Both orders are tried, as the kernel has differed.
        let orders = [(flow.local, flow.remote), (flow.remote, flow.local)];
        for (source, destination) in orders {
            if let Some(inode) = self.query(protocol, source, destination)? {
                return Ok(Some(inode));
            }
        }
        Ok(None)
    }

    fn query(
        &mut self,
        protocol: u8,
        source: SocketAddr,
        destination: SocketAddr,
    ) -> io::Result<Option<u64>> {
        let family = match source.ip() {
            IpAddr::V4(_) => AF_INET,
            IpAddr::V6(_) => AF_INET6,
        };
        let request = SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol,
            extensions: ExtensionFlags::empty(),
            states: StateFlags::all(),
            socket_id: SocketId {
                source_port: source.port(),
                destination_port: destination.port(),
                source_address: source.ip(),
                destination_address: destination.ip(),
                interface_id: 0,
                cookie: NO_COOKIE,
            },
        });
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST;
        let mut message = NetlinkMessage::new(header, request.into());
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.serialize(&mut bytes);
        self.socket.send(&bytes, 0)?;
        self.receive()
    }

    fn receive(&mut self) -> io::Result<Option<u64>> {
        let size = self.socket.recv(&mut &mut self.buffer[..], 0)?;
        let reply = self.buffer.get(..size).unwrap_or_default();
        let message = NetlinkMessage::<SockDiagMessage>::deserialize(reply)
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error.to_string()))?;
        Ok(match message.payload {
            NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                Some(u64::from(response.header.inode)).filter(|inode| *inode != 0)
            }
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream, UdpSocket};

    #[test]
    fn finds_tcp_udp_and_listening_sockets() {
        let mut diag = SockDiag::open().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let connected = FlowKey::new(6, client.local_addr().unwrap(), client.peer_addr().unwrap());
        assert!(diag.inode(&connected).unwrap().is_some());
        let to_listener = FlowKey::new(
            6,
            listener.local_addr().unwrap(),
            "127.0.0.9:4000".parse().unwrap(),
        );
        assert!(diag.inode(&to_listener).unwrap().is_some());
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let unconnected = FlowKey::new(
            17,
            udp.local_addr().unwrap(),
            "127.0.0.9:53".parse().unwrap(),
        );
        assert!(diag.inode(&unconnected).unwrap().is_some());
        let nothing = FlowKey::new(
            6,
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
        );
        assert_eq!(diag.inode(&nothing).unwrap(), None);
    }

    #[test]
    fn finds_ipv6_sockets() {
        let Ok(listener) = TcpListener::bind("[::1]:0") else {
            return; // this machine has no IPv6 loopback
        };
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let key = FlowKey::new(6, client.local_addr().unwrap(), client.peer_addr().unwrap());
        assert!(SockDiag::open().unwrap().inode(&key).unwrap().is_some());
    }
}
