//! Address records from DNS responses (RFC 1035), followed through CNAME chains so each address
//! is named by what the client asked for: `www.netflix.com → …cdn… → 192.0.2.7` gives
//! `192.0.2.7 → www.netflix.com`.
//!
//! Parsing is `simple-dns`'s; this module only adds a cheap pre-check (responses only, and record
//! counts that the message could possibly hold, so no forged header makes the parser reserve
//! memory for 65 535 records) and the chain walk.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::RData;
use simple_dns::{Packet, ResourceRecord, CLASS};
use thiserror::Error;

use super::reader::Reader;
use super::rollup;

/// DNS header length.
const HEADER_LEN: usize = 12;
/// Smallest question on the wire: root name, type, class.
const MIN_QUESTION_LEN: usize = 5;
/// Smallest resource record on the wire: root name, type, class, TTL, data length.
const MIN_RECORD_LEN: usize = 11;
/// Most CNAME links followed from an address back to the name asked for.
const MAX_CHAIN: usize = 16;
/// QR bit of the header flags: set on responses.
const RESPONSE_FLAG: u16 = 0x8000;

/// One address learned from a DNS response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsAnswer {
    /// The address of an A or AAAA record.
    pub ip: IpAddr,
    /// The name at the head of the CNAME chain leading to the address (normally the name the
    /// client asked for), normalised: lower case, no trailing dot.
    pub host: String,
    /// Seconds the answer may be cached: the smallest TTL along the chain.
    pub ttl: u32,
}

/// Why a DNS message gave no answers.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DnsError {
    /// Shorter than its header or its length prefix says.
    #[error("DNS message cut short")]
    Truncated,
    /// A query, not a response.
    #[error("DNS message is not a response")]
    NotResponse,
    /// Record counts that the message is too short to hold.
    #[error("DNS record counts do not fit the message")]
    ImplausibleCounts,
    /// The DNS parser refused the message.
    #[error("malformed DNS message: {0}")]
    Malformed(String),
}

/// The addresses answered in one DNS response (a UDP payload), each named by the head of its
/// CNAME chain. Records of other classes than IN, and names that are not plausible hostnames,
/// are left out.
pub fn parse_response(message: &[u8]) -> Result<Vec<DnsAnswer>, DnsError> {
    precheck(message)?;
    let packet = Packet::parse(message).map_err(|error| DnsError::Malformed(error.to_string()))?;
    let records = Records::of(&packet.answers);
    Ok(records.answers().collect())
}

/// The addresses answered in the DNS responses of a TCP stream's bytes (each message behind a
/// two-byte length, RFC 1035 §4.2.2). Complete messages are read; a last one cut short is
/// ignored, unless no message is complete (`Err(Truncated)`). A message that fails to parse
/// fails the whole call.
pub fn parse_tcp_responses(stream: &[u8]) -> Result<Vec<DnsAnswer>, DnsError> {
    let mut reader = Reader::new(stream);
    let messages: Vec<&[u8]> = std::iter::from_fn(|| reader.vec16()).collect();
    if messages.is_empty() {
        return Err(DnsError::Truncated);
    }
    messages
        .into_iter()
        .map(parse_response)
        .try_fold(Vec::new(), |mut all, answers| {
            all.extend(answers?);
            Ok(all)
        })
}

/// Refuses queries and headers whose counts the message cannot hold, before any parsing.
fn precheck(message: &[u8]) -> Result<(), DnsError> {
    let mut reader = Reader::new(message);
    let header = reader.array::<HEADER_LEN>().ok_or(DnsError::Truncated)?;
    let field = |at: usize| {
        let bytes = header.get(at..at.saturating_add(2)).unwrap_or_default();
        bytes
            .iter()
            .fold(0usize, |value, &byte| (value << 8) | usize::from(byte))
    };
    if field(2) & usize::from(RESPONSE_FLAG) == 0 {
        return Err(DnsError::NotResponse);
    }
    let records = field(6).saturating_add(field(8)).saturating_add(field(10));
    let least_len = field(4)
        .saturating_mul(MIN_QUESTION_LEN)
        .saturating_add(records.saturating_mul(MIN_RECORD_LEN));
    if least_len > reader.rest().len() {
        return Err(DnsError::ImplausibleCounts);
    }
    Ok(())
}

/// The answer section reduced to what the chain walk needs, names normalised.
struct Records {
    /// (alias, target, ttl) of each CNAME record.
    aliases: Vec<(String, String, u32)>,
    /// (owner, address, ttl) of each A and AAAA record.
    addresses: Vec<(String, IpAddr, u32)>,
}

impl Records {
    fn of(answers: &[ResourceRecord<'_>]) -> Self {
        let internet = answers.iter().filter(|record| record.class == CLASS::IN);
        let mut records = Records {
            aliases: Vec::new(),
            addresses: Vec::new(),
        };
        for record in internet {
            let owner = record.name.to_string().to_ascii_lowercase();
            match &record.rdata {
                RData::A(a) => {
                    records
                        .addresses
                        .push((owner, Ipv4Addr::from(a.address).into(), record.ttl))
                }
                RData::AAAA(aaaa) => {
                    records
                        .addresses
                        .push((owner, Ipv6Addr::from(aaaa.address).into(), record.ttl))
                }
                RData::CNAME(cname) => {
                    let target = cname.0.to_string().to_ascii_lowercase();
                    records.aliases.push((owner, target, record.ttl));
                }
                _ => {}
            }
        }
        records
    }

    /// Each address named by the head of its chain.
    fn answers(&self) -> impl Iterator<Item = DnsAnswer> + '_ {
        self.addresses.iter().filter_map(|(owner, ip, ttl)| {
            let (head, ttl) = self.chain_head(owner, *ttl);
            let host = rollup::normalize_name(head)?;
            Some(DnsAnswer {
                ip: ip.to_canonical(),
                host,
                ttl,
            })
        })
    }

    /// Follows CNAME records backwards from `name` (at most [`MAX_CHAIN`] links, so loops end),
    /// keeping the smallest TTL met.
    fn chain_head<'a>(&'a self, name: &'a str, ttl: u32) -> (&'a str, u32) {
        (0..MAX_CHAIN)
            .try_fold((name, ttl), |(name, ttl), _| {
                match self.aliases.iter().find(|(_, target, _)| target == name) {
                    Some((alias, _, link_ttl)) => Ok((alias.as_str(), ttl.min(*link_ttl))),
                    None => Err((name, ttl)),
                }
            })
            .unwrap_or_else(|head| head)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds DNS messages record by record, names uncompressed.
    pub(crate) struct Message {
        bytes: Vec<u8>,
        counts: [u16; 4],
    }

    impl Message {
        pub(crate) fn response() -> Self {
            Self::with_flags(0x8180)
        }

        pub(crate) fn with_flags(flags: u16) -> Self {
            let mut bytes = vec![0x12, 0x34];
            bytes.extend_from_slice(&flags.to_be_bytes());
            bytes.extend_from_slice(&[0; 8]);
            Self {
                bytes,
                counts: [0; 4],
            }
        }

        fn name(&mut self, name: &str) {
            for label in name.split('.').filter(|label| !label.is_empty()) {
                self.bytes.push(u8::try_from(label.len()).unwrap());
                self.bytes.extend_from_slice(label.as_bytes());
            }
            self.bytes.push(0);
        }

        pub(crate) fn question(mut self, name: &str, kind: u16) -> Self {
            self.name(name);
            self.bytes.extend_from_slice(&kind.to_be_bytes());
            self.bytes.extend_from_slice(&1u16.to_be_bytes());
            self.counts[0] += 1;
            self
        }

        fn record(mut self, name: &str, kind: u16, class: u16, ttl: u32, data: &[u8]) -> Self {
            self.name(name);
            self.bytes.extend_from_slice(&kind.to_be_bytes());
            self.bytes.extend_from_slice(&class.to_be_bytes());
            self.bytes.extend_from_slice(&ttl.to_be_bytes());
            self.bytes
                .extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
            self.bytes.extend_from_slice(data);
            self.counts[1] += 1;
            self
        }

        pub(crate) fn a(self, name: &str, ttl: u32, ip: [u8; 4]) -> Self {
            self.record(name, 1, 1, ttl, &ip)
        }

        pub(crate) fn aaaa(self, name: &str, ttl: u32, ip: Ipv6Addr) -> Self {
            self.record(name, 28, 1, ttl, &ip.octets())
        }

        pub(crate) fn cname(self, name: &str, ttl: u32, target: &str) -> Self {
            let mut encoded = Message::with_flags(0);
            encoded.bytes.clear();
            encoded.name(target);
            self.record(name, 5, 1, ttl, &encoded.bytes)
        }

        pub(crate) fn chaos_a(self, name: &str, ttl: u32, ip: [u8; 4]) -> Self {
            self.record(name, 1, 3, ttl, &ip)
        }

        pub(crate) fn bytes(mut self) -> Vec<u8> {
            for (index, count) in self.counts.iter().enumerate() {
                let at = 4 + 2 * index;
                self.bytes[at..at + 2].copy_from_slice(&count.to_be_bytes());
            }
            self.bytes
        }
    }

    fn answer(ip: &str, host: &str, ttl: u32) -> DnsAnswer {
        DnsAnswer {
            ip: ip.parse().unwrap(),
            host: host.into(),
            ttl,
        }
    }

    #[test]
    fn cname_chains_name_addresses_by_the_question() {
        let message = Message::response()
            .question("www.netflix.com", 1)
            .cname("www.netflix.com", 300, "www.dradis.netflix.com")
            .cname(
                "www.dradis.netflix.com",
                60,
                "apiproxy-website-nlb.us-east-1.nflxvideo.net",
            )
            .a(
                "apiproxy-website-nlb.us-east-1.nflxvideo.net",
                30,
                [1, 2, 3, 4],
            )
            .a(
                "apiproxy-website-nlb.us-east-1.nflxvideo.net",
                45,
                [1, 2, 3, 5],
            )
            .bytes();
        assert_eq!(
            parse_response(&message),
            Ok(vec![
                answer("1.2.3.4", "www.netflix.com", 30),
                answer("1.2.3.5", "www.netflix.com", 45),
            ])
        );
    }

    #[test]
    fn the_smallest_ttl_along_the_chain_counts() {
        let message = Message::response()
            .question("cdn.example.com", 1)
            .cname("cdn.example.com", 20, "edge.example.net")
            .a("edge.example.net", 3600, [192, 0, 2, 1])
            .bytes();
        assert_eq!(
            parse_response(&message),
            Ok(vec![answer("192.0.2.1", "cdn.example.com", 20)])
        );
    }

    #[test]
    fn aaaa_records_and_case() {
        let ip: Ipv6Addr = "2001:db8::7".parse().unwrap();
        let message = Message::response()
            .question("WWW.Example.ORG", 28)
            .cname("WWW.Example.ORG", 100, "Host.Example.ORG")
            .aaaa("host.example.org", 100, ip)
            .bytes();
        assert_eq!(
            parse_response(&message),
            Ok(vec![answer("2001:db8::7", "www.example.org", 100)])
        );
    }

    #[test]
    fn compressed_names_from_a_real_resolver_layout() {
        // Response for example.com A, names compressed against the question (offset 12).
        let message = [
            0xab, 0xcd, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0, // header
            7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', 3, b'c', b'o', b'm', 0, 0, 1, 0, 1, 0xc0,
            12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, b'c', b'd', b'n', 0xc0, 12, // cname
            0xc0, 41, 0, 1, 0, 1, 0, 0, 0, 20, 0, 4, 93, 184, 216,
            34, // a for cdn.example.com
        ];
        assert_eq!(
            parse_response(&message),
            Ok(vec![answer("93.184.216.34", "example.com", 20)])
        );
    }

    #[test]
    fn cname_loops_end() {
        let message = Message::response()
            .cname("a.example", 10, "b.example")
            .cname("b.example", 10, "a.example")
            .a("a.example", 10, [192, 0, 2, 9])
            .bytes();
        let answers = parse_response(&message).unwrap();
        assert_eq!(answers.len(), 1);
        assert!(["a.example", "b.example"].contains(&answers[0].host.as_str()));
    }

    #[test]
    fn queries_and_other_classes_give_nothing() {
        let query = Message::with_flags(0x0100)
            .question("example.com", 1)
            .bytes();
        assert_eq!(parse_response(&query), Err(DnsError::NotResponse));
        let chaos = Message::response()
            .chaos_a("example.com", 5, [192, 0, 2, 1])
            .bytes();
        assert_eq!(parse_response(&chaos), Ok(vec![]));
    }

    #[test]
    fn forged_counts_are_refused_before_parsing() {
        let mut message = Message::response()
            .a("example.com", 5, [192, 0, 2, 1])
            .bytes();
        message[6..8].copy_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(parse_response(&message), Err(DnsError::ImplausibleCounts));
        assert_eq!(
            parse_response(&[0x12, 0x34, 0x81]),
            Err(DnsError::Truncated)
        );
    }

    #[test]
    fn tcp_framing() {
        let first = Message::response()
            .a("one.example.com", 5, [192, 0, 2, 1])
            .bytes();
        let second = Message::response()
            .a("two.example.com", 6, [192, 0, 2, 2])
            .bytes();
        let mut stream = Vec::new();
        for message in [&first, &second] {
            stream.extend_from_slice(&u16::try_from(message.len()).unwrap().to_be_bytes());
            stream.extend_from_slice(message);
        }
        let both = vec![
            answer("192.0.2.1", "one.example.com", 5),
            answer("192.0.2.2", "two.example.com", 6),
        ];
        assert_eq!(parse_tcp_responses(&stream), Ok(both));
        let cut = &stream[..stream.len() - 3];
        assert_eq!(
            parse_tcp_responses(cut),
            Ok(vec![answer("192.0.2.1", "one.example.com", 5)])
        );
        assert_eq!(parse_tcp_responses(&stream[..10]), Err(DnsError::Truncated));
    }
}
