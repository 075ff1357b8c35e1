//! Address records from DNS responses (RFC 1035), followed through CNAME chains so each address
//! is named by what the client asked for: `www.netflix.com → …cdn… → 192.0.2.7` gives
//! `192.0.2.7 → www.netflix.com`.
//!
//! A response cut short (a capture's snap length, tcpdump's "packet size limited during
//! capture") still gives every answer record that arrived whole, in order, up to the first one
//! cut: the question section must be whole, and no name is read half. This module walks the
//! record boundaries itself (names only skipped, never decoded) and hands `simple-dns` the
//! message reduced to its header, questions and those answers, with counts that say so; the
//! parsing of names and data stays `simple-dns`'s. Counts are never trusted for memory: the
//! reduced message holds exactly the records it claims.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::RData;
use simple_dns::{Packet, ResourceRecord, CLASS};
use thiserror::Error;

use super::reader::Reader;
use super::rollup;

/// DNS header length.
const HEADER_LEN: usize = 12;
/// Where the header's answer count, then the authority and additional counts, sit.
const ANSWER_COUNT_AT: usize = 6;
/// Type, class, TTL and data length: the fixed part of a record after its name.
const RECORD_FIXED_LEN: usize = 10;
/// Type and class: what follows a question's name.
const QUESTION_FIXED_LEN: usize = 4;
/// Most CNAME links followed from an address back to the name asked for.
const MAX_CHAIN: usize = 16;
/// QR bit of the header flags' first byte: set on responses.
const RESPONSE_FLAG: u8 = 0x80;
/// The two high bits of a label length byte: 00 a label, 11 a compression pointer.
const LABEL_KIND: u8 = 0xc0;

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
    /// Cut inside its header or question section, or shorter than its TCP length prefix says.
    #[error("DNS message cut short")]
    Truncated,
    /// A query, not a response.
    #[error("DNS message is not a response")]
    NotResponse,
    /// A name with a label type that does not exist (RFC 1035 §4.1.4, RFC 6891 §5).
    #[error("DNS name with an unknown label type {0:#04x}")]
    BadLabel(u8),
    /// The DNS parser refused the message.
    #[error("malformed DNS message: {0}")]
    Malformed(String),
}

/// The addresses answered in one DNS response (a UDP payload, possibly cut short by the
/// capture), each named by the head of its CNAME chain. Answer records are read in order up to
/// the first one that is not whole; records of other classes than IN, and names that are not
/// plausible hostnames, are left out.
pub fn parse_response(message: &[u8]) -> Result<Vec<DnsAnswer>, DnsError> {
    let whole = whole_answers(message)?;
    let packet = Packet::parse(&whole).map_err(|error| DnsError::Malformed(error.to_string()))?;
    Ok(Records::of(&packet.answers).answers().collect())
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

/// A copy of `message` reduced to its header, its question section and the answer records
/// that are whole in it, its counts set to match (no authority or additional records).
fn whole_answers(message: &[u8]) -> Result<Vec<u8>, DnsError> {
    let mut reader = Reader::new(message);
    let header = reader.array::<HEADER_LEN>().ok_or(DnsError::Truncated)?;
    if header[2] & RESPONSE_FLAG == 0 {
        return Err(DnsError::NotResponse);
    }
    let count = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
    for _ in 0..count(4) {
        skip_name(&mut reader)?.ok_or(DnsError::Truncated)?;
        reader.take(QUESTION_FIXED_LEN).ok_or(DnsError::Truncated)?;
    }
    let mut answers: u16 = 0;
    while answers < count(ANSWER_COUNT_AT) && skip_record(&mut reader)?.is_some() {
        answers += 1;
    }
    let mut whole = message[..reader.position_in(message)].to_vec();
    whole[ANSWER_COUNT_AT..ANSWER_COUNT_AT + 2].copy_from_slice(&answers.to_be_bytes());
    whole[ANSWER_COUNT_AT + 2..HEADER_LEN].fill(0);
    Ok(whole)
}

/// Moves past one resource record; `None` (the reader left anywhere) when it is cut short.
fn skip_record(reader: &mut Reader<'_>) -> Result<Option<()>, DnsError> {
    if skip_name(reader)?.is_none() {
        return Ok(None);
    }
    let whole = reader
        .array::<RECORD_FIXED_LEN>()
        .and_then(|fixed| {
            let data_len = u16::from_be_bytes([fixed[8], fixed[9]]);
            reader.take(usize::from(data_len))
        })
        .map(|_| ());
    Ok(whole)
}

/// Moves past one name on the wire: labels up to the root label or a compression pointer.
/// `None` when the name is cut short; an error for a label type that does not exist.
fn skip_name(reader: &mut Reader<'_>) -> Result<Option<()>, DnsError> {
    loop {
        let Some(len) = reader.u8() else {
            return Ok(None);
        };
        match len & LABEL_KIND {
            0 if len == 0 => return Ok(Some(())),
            0 => {
                if reader.take(usize::from(len)).is_none() {
                    return Ok(None);
                }
            }
            LABEL_KIND => return Ok(reader.u8().map(|_| ())),
            _ => return Err(DnsError::BadLabel(len)),
        }
    }
}

/// One answer record, reduced to what the chain walk needs, names normalised.
enum Record {
    /// A CNAME record: alias, target, ttl.
    Alias(String, String, u32),
    /// An A or AAAA record: owner, address, ttl.
    Address(String, IpAddr, u32),
}

/// The answer section's CNAME and address records, in their order.
struct Records(Vec<Record>);

impl Records {
    fn of(answers: &[ResourceRecord<'_>]) -> Self {
        let internet = answers.iter().filter(|record| record.class == CLASS::IN);
        let records = internet.filter_map(|record| {
            let owner = record.name.to_string().to_ascii_lowercase();
            let address = |ip: IpAddr| Some(Record::Address(owner.clone(), ip, record.ttl));
            match &record.rdata {
                RData::A(a) => address(Ipv4Addr::from(a.address).into()),
                RData::AAAA(aaaa) => address(Ipv6Addr::from(aaaa.address).into()),
                RData::CNAME(cname) => {
                    let target = cname.0.to_string().to_ascii_lowercase();
                    Some(Record::Alias(owner.clone(), target, record.ttl))
                }
                _ => None,
            }
        });
        Records(records.collect())
    }

    /// Each address named by the head of its chain.
    fn answers(&self) -> impl Iterator<Item = DnsAnswer> + '_ {
        let records = self.0.iter().enumerate();
        records.filter_map(|(index, record)| {
            let Record::Address(owner, ip, ttl) = record else {
                return None;
            };
            let (head, ttl) = self.chain_head(index, owner, *ttl);
            let host = rollup::normalize_name(head)?;
            Some(DnsAnswer {
                ip: ip.to_canonical(),
                host,
                ttl,
            })
        })
    }

    /// Follows CNAME records backwards from `name`, the owner of record `index` (at most
    /// [`MAX_CHAIN`] links, so loops end), keeping the smallest TTL met. Only CNAME records
    /// before the address count, as resolvers order them: so the answers of a message cut short
    /// are those of the whole message up to the cut, never named differently.
    fn chain_head<'a>(&'a self, index: usize, name: &'a str, ttl: u32) -> (&'a str, u32) {
        let aliases = || {
            self.0[..index].iter().filter_map(|record| match record {
                Record::Alias(alias, target, ttl) => Some((alias, target, ttl)),
                Record::Address(..) => None,
            })
        };
        (0..MAX_CHAIN)
            .try_fold((name, ttl), |(name, ttl), _| {
                match aliases().find(|(_, target, _)| *target == name) {
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
        /// Where each question and record ends, in order.
        ends: Vec<usize>,
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
                ends: Vec::new(),
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
            self.ends.push(self.bytes.len());
            self
        }

        fn record(self, name: &str, kind: u16, class: u16, ttl: u32, data: &[u8]) -> Self {
            self.record_in(1, name, kind, class, ttl, data)
        }

        /// A TXT record in the additional section.
        pub(crate) fn additional_txt(self, name: &str, text: &str) -> Self {
            let mut data = vec![u8::try_from(text.len()).unwrap()];
            data.extend_from_slice(text.as_bytes());
            self.record_in(3, name, 16, 1, 60, &data)
        }

        /// Where each question and record ends, in the order they were added.
        pub(crate) fn ends(&self) -> &[usize] {
            &self.ends
        }

        fn record_in(
            mut self,
            section: usize,
            name: &str,
            kind: u16,
            class: u16,
            ttl: u32,
            data: &[u8],
        ) -> Self {
            self.name(name);
            self.bytes.extend_from_slice(&kind.to_be_bytes());
            self.bytes.extend_from_slice(&class.to_be_bytes());
            self.bytes.extend_from_slice(&ttl.to_be_bytes());
            self.bytes
                .extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
            self.bytes.extend_from_slice(data);
            self.counts[section] += 1;
            self.ends.push(self.bytes.len());
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
    fn forged_counts_give_only_the_records_present() {
        let mut message = Message::response()
            .a("example.com", 5, [192, 0, 2, 1])
            .bytes();
        message[6..8].copy_from_slice(&u16::MAX.to_be_bytes());
        message[10..12].copy_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(
            parse_response(&message),
            Ok(vec![answer("192.0.2.1", "example.com", 5)])
        );
        message[4..6].copy_from_slice(&u16::MAX.to_be_bytes());
        assert_eq!(parse_response(&message), Err(DnsError::Truncated));
        assert_eq!(
            parse_response(&[0x12, 0x34, 0x81]),
            Err(DnsError::Truncated)
        );
    }

    #[test]
    fn unknown_label_types_are_refused() {
        let mut message = Message::response().question("example.com", 1).bytes();
        message[12] = 0x47;
        assert_eq!(parse_response(&message), Err(DnsError::BadLabel(0x47)));
    }

    /// A response as a resolver sends it for a CDN name: a CNAME, then addresses, then an
    /// additional section.
    fn cdn_response() -> Message {
        Message::response()
            .question("www.example.com", 1)
            .cname("www.example.com", 300, "edge.example.net")
            .a("edge.example.net", 60, [192, 0, 2, 1])
            .aaaa("edge.example.net", 60, "2001:db8::2".parse().unwrap())
            .a("edge.example.net", 30, [192, 0, 2, 3])
            .additional_txt("edge.example.net", "v=cut")
    }

    #[test]
    fn a_response_cut_at_every_offset_keeps_its_whole_answers() {
        let built = cdn_response();
        let ends = built.ends().to_vec();
        let message = built.bytes();
        let all = [
            answer("192.0.2.1", "www.example.com", 60),
            answer("2001:db8::2", "www.example.com", 60),
            answer("192.0.2.3", "www.example.com", 30),
        ];
        assert_eq!(parse_response(&message), Ok(all.to_vec()));
        for cut in 0..=message.len() {
            let got = parse_response(&message[..cut]);
            if cut < ends[0] {
                assert_eq!(got, Err(DnsError::Truncated), "cut at {cut}");
                continue;
            }
            // Records 2, 3 and 4 (after the question and the CNAME) are the addresses.
            let whole_addresses = ends[2..5].iter().filter(|end| **end <= cut).count();
            assert_eq!(got, Ok(all[..whole_addresses].to_vec()), "cut at {cut}");
        }
    }

    #[test]
    fn a_cut_cname_chain_names_only_what_is_complete() {
        let built = cdn_response();
        let cname_end = built.ends()[1];
        let message = built.bytes();
        // The CNAME whole, the first address cut: nothing yet; the CNAME cut: nothing either.
        assert_eq!(parse_response(&message[..cname_end + 5]), Ok(vec![]));
        assert_eq!(parse_response(&message[..cname_end - 1]), Ok(vec![]));
    }

    #[test]
    fn a_cname_after_its_address_does_not_rename_it() {
        let message = Message::response()
            .a("edge.example.net", 60, [192, 0, 2, 1])
            .cname("www.example.com", 300, "edge.example.net")
            .bytes();
        assert_eq!(
            parse_response(&message),
            Ok(vec![answer("192.0.2.1", "edge.example.net", 60)])
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
