//! The server name (SNI) of a TLS ClientHello, from the first payload bytes a client sends on a
//! TCP connection, possibly spread over several segments.
//!
//! Only the record layer (RFC 8446 §5.1) and the ClientHello are read: nothing after the
//! ClientHello, and no payload of the connection, is ever looked at.

use std::borrow::Cow;

use super::assembler::{HelloStream, SniProgress};
use super::handshake::{self, ServerName, SniError};
use super::reader::Reader;

/// Record content type of handshake messages.
const HANDSHAKE: u8 = 22;
/// Largest record fragment a peer may send (2^14 plus the slack TLS 1.2 allows ciphertext).
const MAX_RECORD: usize = 16 * 1024 + 2048;
/// Stream bytes kept per flow: a ClientHello of the largest accepted size plus its record headers.
const MAX_STREAM: usize = handshake::MAX_CLIENT_HELLO + 512;

/// The server name of the ClientHello at the start of `stream` (the client's first TCP payload
/// bytes, in order). `Ok(None)` for a complete ClientHello without server name;
/// `Err(SniError::Incomplete)` while more bytes are needed.
pub fn client_hello_sni(stream: &[u8]) -> Result<Option<ServerName>, SniError> {
    let mut joined: Cow<'_, [u8]> = Cow::Borrowed(&[]);
    for fragment in records(stream) {
        let fragment = fragment?;
        if joined.is_empty() {
            joined = Cow::Borrowed(fragment);
        } else {
            joined.to_mut().extend_from_slice(fragment);
        }
        match handshake::client_hello_sni(&joined) {
            Err(SniError::Incomplete) => continue,
            outcome => return outcome,
        }
    }
    Err(SniError::Incomplete)
}

/// True when `stream` cannot be the start of a TLS handshake, judging by its first bytes alone:
/// lets a caller drop a flow after its first segment.
pub fn is_clearly_not_tls(stream: &[u8]) -> bool {
    match stream {
        [] => false,
        [kind] => *kind != HANDSHAKE,
        [kind, major, ..] => *kind != HANDSHAKE || *major != 3,
    }
}

/// The fragments of the handshake records at the start of `stream`; stops with `Incomplete` at
/// a record cut short.
fn records(stream: &[u8]) -> impl Iterator<Item = Result<&[u8], SniError>> {
    let mut reader = Reader::new(stream);
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        let record = next_record(&mut reader);
        failed = record.is_err();
        Some(record)
    })
}

fn next_record<'a>(reader: &mut Reader<'a>) -> Result<&'a [u8], SniError> {
    let header = reader.array::<5>().ok_or(SniError::Incomplete)?;
    let [kind, major, _minor, len_high, len_low] = header;
    if kind != HANDSHAKE || major != 3 {
        return Err(SniError::NotTls);
    }
    let len = usize::from(u16::from_be_bytes([len_high, len_low]));
    if len == 0 || len > MAX_RECORD {
        return Err(SniError::Malformed("record length"));
    }
    reader.take(len).ok_or(SniError::Incomplete)
}

/// Per-flow reassembly of a ClientHello split over TCP segments, bounded to
/// [`handshake::MAX_CLIENT_HELLO`] bytes and a few out-of-order pieces.
///
/// Feed it the client's payload bytes with [`push`](Self::push) (segments in order) or
/// [`push_at`](Self::push_at) (offset from the first payload byte, e.g. sequence number minus the
/// initial one, plus one); stop once the returned progress [is
/// finished](SniProgress::is_finished).
#[derive(Debug, Clone)]
pub struct ClientHelloAssembler {
    stream: HelloStream,
    next_offset: u64,
}

impl Default for ClientHelloAssembler {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientHelloAssembler {
    /// An assembler that has seen nothing yet.
    pub fn new() -> Self {
        Self {
            stream: HelloStream::new(MAX_STREAM),
            next_offset: 0,
        }
    }

    /// Adds the next in-order segment.
    pub fn push(&mut self, segment: &[u8]) -> SniProgress {
        let offset = self.next_offset;
        self.push_at(offset, segment)
    }

    /// Adds a segment whose first byte is at `offset` in the client's byte stream.
    pub fn push_at(&mut self, offset: u64, segment: &[u8]) -> SniProgress {
        let end = u64::try_from(segment.len())
            .ok()
            .and_then(|len| offset.checked_add(len));
        self.next_offset = self.next_offset.max(end.unwrap_or(u64::MAX));
        self.stream.insert(offset, segment);
        self.stream.evaluate(|bytes| {
            if is_clearly_not_tls(bytes) {
                Err(SniError::NotTls)
            } else {
                client_hello_sni(bytes)
            }
        });
        self.progress()
    }

    /// The outcome so far.
    pub fn progress(&self) -> SniProgress {
        self.stream.outcome().clone()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domains::handshake::tests::client_hello;
    use crate::domains::testdata;

    /// `message` wrapped in handshake records of at most `max_fragment` bytes each.
    pub(crate) fn records_of(message: &[u8], max_fragment: usize) -> Vec<u8> {
        message
            .chunks(max_fragment)
            .flat_map(|fragment| {
                let len = u16::try_from(fragment.len()).unwrap().to_be_bytes();
                [HANDSHAKE, 3, 1, len[0], len[1]]
                    .into_iter()
                    .chain(fragment.iter().copied())
            })
            .collect()
    }

    #[test]
    fn real_client_hello() {
        let hello = testdata::openssl_client_hello();
        assert_eq!(client_hello_sni(&hello), Ok(Some("www.netflix.com".into())));
    }

    #[test]
    fn real_client_hello_split_at_every_point() {
        let hello = testdata::openssl_client_hello();
        for cut in 0..=hello.len() {
            let mut assembler = ClientHelloAssembler::new();
            let (head, tail) = hello.split_at(cut);
            let first = assembler.push(head);
            assert_eq!(first.is_finished(), cut == hello.len(), "cut {cut}");
            let last = assembler.push(tail);
            assert_eq!(last.server_name(), Some("www.netflix.com"), "cut {cut}");
        }
    }

    #[test]
    fn real_client_hello_in_three_segments_out_of_order() {
        let hello = testdata::openssl_client_hello();
        let mut assembler = ClientHelloAssembler::new();
        assert_eq!(assembler.push_at(300, &hello[300..]), SniProgress::NeedMore);
        assert_eq!(assembler.push_at(5, &hello[5..300]), SniProgress::NeedMore);
        let progress = assembler.push_at(0, &hello[..5]);
        assert_eq!(progress, SniProgress::Found("www.netflix.com".into()));
    }

    #[test]
    fn a_hello_spread_over_several_records() {
        let message = client_hello(Some("video.example.net"), 600);
        for fragment in [1, 4, 5, 100, 599] {
            let stream = records_of(&message, fragment);
            assert_eq!(
                client_hello_sni(&stream),
                Ok(Some("video.example.net".into())),
                "fragment {fragment}"
            );
        }
    }

    #[test]
    fn a_hello_without_server_name() {
        let stream = records_of(&client_hello(None, 0), 1000);
        assert_eq!(
            ClientHelloAssembler::new().push(&stream),
            SniProgress::Absent
        );
    }

    #[test]
    fn other_protocols_are_dropped_at_the_first_byte() {
        let mut assembler = ClientHelloAssembler::new();
        assert_eq!(
            assembler.push(b"GET / HTTP/1.1\r\n"),
            SniProgress::Failed(SniError::NotTls)
        );
        assert_eq!(
            assembler.push(&testdata::openssl_client_hello()),
            SniProgress::Failed(SniError::NotTls)
        );
        assert!(is_clearly_not_tls(&[22, 2]));
        assert!(!is_clearly_not_tls(&[22]));
    }

    #[test]
    fn the_assembler_gives_up_past_its_limit() {
        // 12 kB of ClientHello in 10-byte records: half again as many bytes of record headers.
        let stream = records_of(&client_hello(Some("x.example"), 12_000), 10);
        let mut assembler = ClientHelloAssembler::new();
        let progress = stream
            .chunks(1000)
            .map(|segment| assembler.push(segment))
            .find(SniProgress::is_finished);
        assert_eq!(progress, Some(SniProgress::Failed(SniError::TooLarge)));
    }
}
