//! Reads captured packets for the facts that name servers: DNS responses (UDP and TCP port 53),
//! TLS ClientHellos over TCP (reassembled when one spans segments), the `Host` header of
//! plain-HTTP/1.x requests (hostname only) and QUIC Initials sent to UDP port 443 (v1 and v2).
//!
//! One [`Inspector`] per capture keeps the state of the client streams whose ClientHello is not
//! complete yet, bounded (least recently used dropped first). A stream is dropped as soon as its
//! outcome is known, so established connections cost one map lookup per packet. Only the
//! ClientHello, DNS responses and HTTP request heads (for their Host header) are read; no other
//! payload is looked at, and nothing but hostnames is kept.

use std::net::SocketAddr;
use std::num::NonZeroUsize;

use lru::LruCache;

use super::assembler::SniProgress;
use super::dns::{self, DnsAnswer};
use super::handshake::ServerName;
use super::http::{self, HttpError};
use super::quic::QuicClientHelloAssembler;
use super::tls::ClientHelloAssembler;
use crate::packet::{PacketMeta, Transport};

/// DNS server port.
pub const DNS_PORT: u16 = 53;
/// QUIC (HTTP/3) server port.
pub const QUIC_PORT: u16 = 443;
/// TLS record content type of a handshake, the first byte of a ClientHello stream.
pub const TLS_HANDSHAKE: u8 = 0x16;
/// Largest DNS message over TCP that is reassembled; longer ones are skipped.
const MAX_DNS_TCP_MESSAGE: usize = 16 * 1024;
/// Most client streams whose ClientHello is being reassembled, per protocol (and most DNS
/// responses over TCP awaiting their next segment).
const MAX_STREAMS: NonZeroUsize = match NonZeroUsize::new(256) {
    Some(limit) => limit,
    None => NonZeroUsize::MIN,
};

/// What a packet tells about server names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Naming {
    /// The packet's flow talks to this server (its ClientHello's server name, normalised).
    Server(Box<str>),
    /// The packet's ClientHello carries `encrypted_client_hello`: its server name is only the
    /// provider's public name (weaker than DNS or the extension).
    OuterServer(Box<str>),
    /// The packet's flow is a plain-HTTP request for this host (its `Host` header, normalised).
    HttpHost(Box<str>),
    /// A DNS response: addresses and the hostnames they were asked for.
    Dns(Vec<DnsAnswer>),
}

/// Which reader [`Inspector::inspect`] hands a packet to, by its transport and ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// A DNS response over UDP (source port 53).
    Dns,
    /// A segment of a DNS server's TCP stream (source port 53).
    DnsOverTcp,
    /// A datagram to UDP port 443: a QUIC Initial's ClientHello, perhaps.
    Quic,
    /// Any other TCP segment: a TLS ClientHello, perhaps.
    Tls,
}

impl Reader {
    /// The reader that looks at `meta`'s payload, if any does.
    pub fn of(meta: &PacketMeta) -> Option<Self> {
        match meta.transport {
            Transport::Udp { src_port, .. } if src_port == DNS_PORT => Some(Self::Dns),
            Transport::Tcp { src_port, .. } if src_port == DNS_PORT => Some(Self::DnsOverTcp),
            Transport::Udp { dst_port, .. } if dst_port == QUIC_PORT => Some(Self::Quic),
            Transport::Tcp { .. } => Some(Self::Tls),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::DnsOverTcp => "dns-tcp",
            Self::Quic => "quic",
            Self::Tls => "tls",
        }
    }
}

/// One direction of a connection: (protocol, source, destination).
type StreamKey = (u8, SocketAddr, SocketAddr);

/// The direction of a connection a packet travels in.
fn stream_key(meta: &PacketMeta) -> StreamKey {
    let (src_port, dst_port) = meta.ports();
    (
        meta.protocol(),
        SocketAddr::new(meta.src, src_port),
        SocketAddr::new(meta.dst, dst_port),
    )
}

/// Per-capture state for reading server names from packets (see the module docs).
pub struct Inspector {
    tls: LruCache<StreamKey, ClientHelloAssembler>,
    quic: LruCache<StreamKey, QuicClientHelloAssembler>,
    /// Bytes of DNS responses over TCP whose message is not complete yet.
    dns_tcp: LruCache<StreamKey, Vec<u8>>,
    /// Beginnings of HTTP request heads whose Host header has not arrived yet.
    http: LruCache<StreamKey, Vec<u8>>,
}

impl Default for Inspector {
    fn default() -> Self {
        Self {
            tls: LruCache::new(MAX_STREAMS),
            quic: LruCache::new(MAX_STREAMS),
            dns_tcp: LruCache::new(MAX_STREAMS),
            http: LruCache::new(MAX_STREAMS),
        }
    }
}

impl std::fmt::Debug for Inspector {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Inspector")
            .field("tls_streams", &self.tls.len())
            .field("quic_streams", &self.quic.len())
            .field("dns_tcp_streams", &self.dns_tcp.len())
            .field("http_streams", &self.http.len())
            .finish()
    }
}

impl Inspector {
    /// What the packet `meta` with transport payload `payload` names, if anything.
    pub fn inspect(&mut self, meta: &PacketMeta, payload: &[u8]) -> Option<Naming> {
        if payload.is_empty() {
            return None;
        }
        match Reader::of(meta)? {
            Reader::Dns => answers(dns::parse_response(payload)),
            Reader::DnsOverTcp => self.dns_segment(stream_key(meta), payload),
            Reader::Quic => self.quic_datagram(meta, payload),
            Reader::Tls => self.tcp_segment(meta, payload),
        }
    }

    /// Streams being reassembled (TLS and QUIC ClientHellos, DNS responses over TCP, HTTP
    /// request heads).
    pub fn pending(&self) -> usize {
        self.tls.len() + self.quic.len() + self.dns_tcp.len() + self.http.len()
    }

    /// A segment of a DNS server's TCP stream: each message behind a two-byte length
    /// (RFC 1035 §4.2.2), possibly spread over segments (servers often send the length alone).
    /// Complete messages are read; the rest waits for the next segment.
    fn dns_segment(&mut self, key: StreamKey, segment: &[u8]) -> Option<Naming> {
        let mut stream = self.dns_tcp.pop(&key).unwrap_or_default();
        stream.extend_from_slice(segment);
        let (messages, rest) = split_dns_messages(&stream);
        let found: Vec<DnsAnswer> = messages
            .into_iter()
            .filter_map(|message| dns::parse_response(message).ok())
            .flatten()
            .collect();
        let waits = !rest.is_empty() && declared_len(rest) <= MAX_DNS_TCP_MESSAGE;
        if waits {
            let rest = rest.to_vec();
            self.dns_tcp.put(key, rest);
        }
        answers(Ok(found))
    }

    fn tcp_segment(&mut self, meta: &PacketMeta, segment: &[u8]) -> Option<Naming> {
        // Most segments belong to established streams: with no ClientHello or request head
        // pending and a segment that starts neither, no lookup.
        if self.tls.is_empty() && self.http.is_empty() && !starts_a_head(segment) {
            return None;
        }
        let key = stream_key(meta);
        let progress = match self.tls.get_mut(&key) {
            Some(assembler) => assembler.push(segment),
            None if segment.first() == Some(&TLS_HANDSHAKE) => {
                let mut assembler = ClientHelloAssembler::new();
                let progress = assembler.push(segment);
                if !progress.is_finished() {
                    self.tls.put(key, assembler);
                }
                progress
            }
            None => return self.http_segment(key, segment),
        };
        settle(&mut self.tls, &key, progress)
    }

    /// A segment of a stream that may be a plain-HTTP request: its head is followed (across
    /// segments, up to [`http::MAX_REQUEST_HEAD`]) until its Host header is read.
    fn http_segment(&mut self, key: StreamKey, segment: &[u8]) -> Option<Naming> {
        let head = match self.http.pop(&key) {
            Some(mut head) => {
                head.extend_from_slice(segment);
                head
            }
            None if http::looks_like_request(segment) => segment.to_vec(),
            None => return None,
        };
        match http::request_host(&head) {
            Ok(host) => host.map(|host| Naming::HttpHost(host.into_boxed_str())),
            Err(HttpError::Incomplete) => {
                self.http.put(key, head);
                None
            }
            Err(_) => None,
        }
    }

    fn quic_datagram(&mut self, meta: &PacketMeta, datagram: &[u8]) -> Option<Naming> {
        // Most datagrams belong to established connections: with no Initial pending and a short
        // header, no lookup.
        if self.quic.is_empty() && !is_long_header(datagram) {
            return None;
        }
        let key = stream_key(meta);
        let progress = match self.quic.get_mut(&key) {
            Some(assembler) => assembler.push_datagram(datagram),
            // Only long-header packets can be Initials; short headers are the established
            // connection.
            None if is_long_header(datagram) => {
                let mut assembler = QuicClientHelloAssembler::new();
                let progress = assembler.push_datagram(datagram);
                if !progress.is_finished() {
                    self.quic.put(key, assembler);
                }
                progress
            }
            None => return None,
        };
        settle(&mut self.quic, &key, progress)
    }
}

/// Forgets a stream once its outcome is known; the server name when one was found.
fn settle<T>(
    streams: &mut LruCache<StreamKey, T>,
    key: &StreamKey,
    progress: SniProgress,
) -> Option<Naming> {
    if progress.is_finished() {
        streams.pop(key);
    }
    match progress {
        SniProgress::Found(ServerName { host, ech: false }) => {
            Some(Naming::Server(host.into_boxed_str()))
        }
        SniProgress::Found(ServerName { host, ech: true }) => {
            Some(Naming::OuterServer(host.into_boxed_str()))
        }
        _ => None,
    }
}

/// The complete length-prefixed messages at the start of `stream`, and the bytes after them.
fn split_dns_messages(stream: &[u8]) -> (Vec<&[u8]>, &[u8]) {
    let mut rest = stream;
    let messages = std::iter::from_fn(|| {
        let len = declared_len(rest);
        let message = rest.get(2..len.checked_add(2)?)?;
        rest = rest.get(len + 2..).unwrap_or_default();
        Some(message)
    })
    .collect();
    (messages, rest)
}

/// The length a DNS-over-TCP stream declares for its next message (0 until two bytes are in).
fn declared_len(stream: &[u8]) -> usize {
    match stream {
        [high, low, ..] => usize::from(u16::from_be_bytes([*high, *low])),
        _ => 0,
    }
}

fn answers(parsed: Result<Vec<DnsAnswer>, dns::DnsError>) -> Option<Naming> {
    parsed
        .ok()
        .filter(|answers| !answers.is_empty())
        .map(Naming::Dns)
}

/// Whether a QUIC datagram begins with a long header (an Initial's is one).
pub(crate) fn is_long_header(datagram: &[u8]) -> bool {
    datagram.first().is_some_and(|first| first & 0x80 != 0)
}

/// Whether `segment` can begin a TLS ClientHello or a plain-HTTP request head.
fn starts_a_head(segment: &[u8]) -> bool {
    segment.first() == Some(&TLS_HANDSHAKE) || http::looks_like_request(segment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domains::testdata;
    use crate::packet::TcpFlags;

    fn tcp(src: &str, dst: &str) -> PacketMeta {
        let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
        PacketMeta {
            src: src.ip(),
            dst: dst.ip(),
            transport: Transport::Tcp {
                src_port: src.port(),
                dst_port: dst.port(),
                flags: TcpFlags::default(),
            },
            ip_len: 1500,
        }
    }

    fn udp(src: &str, dst: &str) -> PacketMeta {
        let (src, dst): (SocketAddr, SocketAddr) = (src.parse().unwrap(), dst.parse().unwrap());
        PacketMeta {
            src: src.ip(),
            dst: dst.ip(),
            transport: Transport::Udp {
                src_port: src.port(),
                dst_port: dst.port(),
            },
            ip_len: 1500,
        }
    }

    fn server(name: &str) -> Option<Naming> {
        Some(Naming::Server(name.into()))
    }

    #[test]
    fn a_client_hello_split_over_two_segments_names_its_server() {
        let hello = testdata::openssl_client_hello();
        let (head, tail) = hello.split_at(hello.len() / 2);
        let mut inspector = Inspector::default();
        let client = tcp("10.0.0.2:40000", "192.0.2.9:443");
        let other = tcp("10.0.0.2:40001", "192.0.2.9:443");
        assert_eq!(inspector.inspect(&client, head), None);
        assert_eq!(
            inspector.inspect(&other, b"\x17\x03\x03 application data"),
            None
        );
        assert_eq!(
            inspector.pending(),
            1,
            "only ClientHello beginnings are followed"
        );
        assert_eq!(inspector.inspect(&client, tail), server("www.netflix.com"));
        assert_eq!(inspector.pending(), 0, "the named stream is forgotten");
        assert_eq!(inspector.inspect(&client, b"\x17\x03\x03 later"), None);
    }

    #[test]
    fn plain_http_requests_name_their_host_and_nothing_else() {
        let mut inspector = Inspector::default();
        let request = b"GET /secret?token=1 HTTP/1.1\r\nHost: example.com\r\n\r\n";
        let client = tcp("10.0.0.2:40000", "192.0.2.9:80");
        assert_eq!(
            inspector.inspect(&client, request),
            Some(Naming::HttpHost("example.com".into()))
        );
        assert_eq!(inspector.pending(), 0);
        let response = tcp("192.0.2.9:80", "10.0.0.2:40000");
        assert_eq!(inspector.inspect(&response, b"HTTP/1.1 200 OK\r\n"), None);
        assert_eq!(inspector.pending(), 0, "responses are not followed");
    }

    #[test]
    fn a_request_head_split_over_segments_names_its_host() {
        let request = b"GET /p HTTP/1.1\r\nUser-Agent: x\r\nHost: www.example.org:8080\r\n\r\n";
        let client = tcp("10.0.0.2:40000", "192.0.2.9:8080");
        // Cut anywhere after the method and a space (what a first segment always holds).
        ("GET /".len()..request.len() - 2).for_each(|cut| {
            let mut inspector = Inspector::default();
            let (head, tail) = request.split_at(cut);
            let named: Vec<Naming> = [head, tail]
                .iter()
                .filter_map(|segment| inspector.inspect(&client, segment))
                .collect();
            assert_eq!(
                named,
                [Naming::HttpHost("www.example.org".into())],
                "cut at {cut}"
            );
            assert_eq!(inspector.pending(), 0, "cut at {cut}");
        });
    }

    #[test]
    fn an_encrypted_client_hello_names_only_the_outer_server() {
        let message = crate::domains::handshake::tests::client_hello_with(
            Some("cloudflare-ech.com"),
            20,
            true,
        );
        let mut record = vec![22, 3, 1];
        record.extend_from_slice(&u16::try_from(message.len()).unwrap().to_be_bytes());
        record.extend_from_slice(&message);
        let mut inspector = Inspector::default();
        let client = tcp("10.0.0.2:40000", "192.0.2.9:443");
        assert_eq!(
            inspector.inspect(&client, &record),
            Some(Naming::OuterServer("cloudflare-ech.com".into()))
        );
    }

    #[test]
    fn quic_initials_to_port_443_name_their_server() {
        let mut inspector = Inspector::default();
        let client = udp("10.0.0.2:50000", "192.0.2.9:443");
        for initial in [
            testdata::rfc9001_client_initial(),
            testdata::rfc9369_client_initial(),
        ] {
            assert_eq!(inspector.inspect(&client, &initial), server("example.com"));
        }
        let elsewhere = udp("10.0.0.2:50000", "192.0.2.9:8443");
        let initial = testdata::rfc9001_client_initial();
        assert_eq!(inspector.inspect(&elsewhere, &initial), None);
    }

    #[test]
    fn a_corrupted_quic_initial_names_nothing() {
        let mut inspector = Inspector::default();
        let client = udp("10.0.0.2:50000", "192.0.2.9:443");
        let mut initial = testdata::rfc9001_client_initial();
        let last = initial.len() - 1;
        initial[last] ^= 0x40;
        assert_eq!(inspector.inspect(&client, &initial), None);
        assert_eq!(inspector.pending(), 0);
    }

    #[test]
    fn dns_responses_over_udp_and_tcp_teach_addresses() {
        let response = dns::tests::Message::response()
            .question("www.netflix.com", 1)
            .cname("www.netflix.com", 60, "edge.cdn.example")
            .a("edge.cdn.example", 30, [192, 0, 2, 7])
            .bytes();
        let expected = Some(Naming::Dns(vec![DnsAnswer {
            ip: "192.0.2.7".parse().unwrap(),
            host: "www.netflix.com".into(),
            ttl: 30,
        }]));
        let mut inspector = Inspector::default();
        let from_resolver = udp("10.0.0.1:53", "10.0.0.2:50000");
        assert_eq!(inspector.inspect(&from_resolver, &response), expected);
        let mut framed = u16::try_from(response.len())
            .unwrap()
            .to_be_bytes()
            .to_vec();
        framed.extend_from_slice(&response);
        let over_tcp = tcp("10.0.0.1:53", "10.0.0.2:50000");
        assert_eq!(inspector.inspect(&over_tcp, &framed), expected);
        let to_resolver = udp("10.0.0.2:50000", "10.0.0.1:53");
        assert_eq!(inspector.inspect(&to_resolver, &response), None);
        assert_eq!(inspector.pending(), 0);
    }

    #[test]
    fn dns_responses_over_tcp_split_anywhere_are_read() {
        let response = dns::tests::Message::response()
            .question("api.netflix.com", 1)
            .a("api.netflix.com", 60, [192, 0, 2, 8])
            .bytes();
        let mut stream = u16::try_from(response.len())
            .unwrap()
            .to_be_bytes()
            .to_vec();
        stream.extend_from_slice(&response);
        stream.extend_from_slice(&stream.clone());
        let over_tcp = tcp("10.0.0.1:53", "10.0.0.2:50000");
        for cut in 0..=stream.len() {
            let mut inspector = Inspector::default();
            let (head, tail) = stream.split_at(cut);
            let learned: usize = [head, tail]
                .iter()
                .filter_map(|segment| inspector.inspect(&over_tcp, segment))
                .map(|naming| match naming {
                    Naming::Dns(answers) => answers.len(),
                    _ => 0,
                })
                .sum();
            assert_eq!(learned, 2, "cut at {cut}");
            assert_eq!(inspector.pending(), 0, "cut at {cut}");
        }
    }

    #[test]
    fn pending_streams_are_bounded() {
        let hello = testdata::openssl_client_hello();
        let mut inspector = Inspector::default();
        (0..1000u16).for_each(|port| {
            let client = tcp(&format!("10.0.0.2:{}", 20000 + port), "192.0.2.9:443");
            inspector.inspect(&client, &hello[..10]);
        });
        assert_eq!(inspector.pending(), MAX_STREAMS.get());
    }
}
