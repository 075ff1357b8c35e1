//! The server name of a QUIC client's ClientHello, from its Initial packets (QUIC v1, RFC 9000 and
//! RFC 9001; QUIC v2, RFC 9369).
//!
//! Initial packets are encrypted with keys anyone can derive from the destination connection ID
//! (RFC 9001 §5.2): header protection is removed (AES-128 on a 16-byte sample), the payload
//! decrypted (AES-128-GCM), its CRYPTO frames put back in offset order, and the ClientHello in
//! them read like one sent over TCP. Nothing past the Initial packets is ever decrypted.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::Aes128Gcm;
use hkdf::Hkdf;
use sha2::Sha256;

use super::assembler::{HelloStream, SniProgress};
use super::handshake::{self, ServerName, SniError, MAX_CLIENT_HELLO};
use super::reader::Reader;

/// Longest connection ID in QUIC v1 and v2.
const MAX_CID_LEN: usize = 20;
/// Length of the AEAD tag ending every packet.
const TAG_LEN: usize = 16;
/// Datagrams without a usable Initial tolerated once a ClientHello has begun.
const MAX_STRAY_DATAGRAMS: u8 = 4;

/// QUIC versions whose Initial packets can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuicVersion {
    /// QUIC version 1 (RFC 9000, RFC 9001).
    V1,
    /// QUIC version 2 (RFC 9369).
    V2,
}

impl QuicVersion {
    /// The version for a long header's version field, when supported.
    pub fn from_wire(version: u32) -> Option<Self> {
        match version {
            0x0000_0001 => Some(Self::V1),
            0x6b33_43cf => Some(Self::V2),
            _ => None,
        }
    }

    /// Salt of the Initial secret (RFC 9001 §5.2, RFC 9369 §3.3.1).
    fn initial_salt(self) -> &'static [u8] {
        match self {
            Self::V1 => &[
                0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
                0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
            ],
            Self::V2 => &[
                0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26,
                0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
            ],
        }
    }

    /// HKDF labels of the packet key, IV and header-protection key (RFC 9369 §3.3.2).
    fn key_labels(self) -> [&'static str; 3] {
        match self {
            Self::V1 => ["quic key", "quic iv", "quic hp"],
            Self::V2 => ["quicv2 key", "quicv2 iv", "quicv2 hp"],
        }
    }

    /// The long-header packet type bits of Initial and Retry packets (RFC 9369 §3.2).
    fn initial_and_retry_types(self) -> (u8, u8) {
        match self {
            Self::V1 => (0b00, 0b11),
            Self::V2 => (0b01, 0b00),
        }
    }
}

/// The client's Initial packet protection keys.
#[derive(Clone)]
struct InitialKeys {
    packet: Aes128Gcm,
    iv: [u8; 12],
    header: Aes128,
}

impl std::fmt::Debug for InitialKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InitialKeys(..)")
    }
}

impl InitialKeys {
    /// Keys derived from the client's first destination connection ID (RFC 9001 §5.2).
    fn derive(version: QuicVersion, dcid: &[u8]) -> Self {
        let material = KeyMaterial::derive(version, dcid);
        Self {
            packet: Aes128Gcm::new(&material.key.into()),
            iv: material.iv,
            header: Aes128::new(&material.hp.into()),
        }
    }

    /// The header-protection mask for a 16-byte ciphertext sample (RFC 9001 §5.4.3).
    fn mask(&self, sample: [u8; 16]) -> [u8; 16] {
        let mut block = sample.into();
        self.header.encrypt_block(&mut block);
        block.into()
    }

    /// The AEAD nonce of packet number `number` (RFC 9001 §5.3).
    fn nonce(&self, number: u64) -> [u8; 12] {
        let mut nonce = self.iv;
        nonce
            .iter_mut()
            .skip(4)
            .zip(number.to_be_bytes())
            .for_each(|(byte, pn)| *byte ^= pn);
        nonce
    }

    fn open(&self, number: u64, header: &[u8], payload: &mut [u8], tag: [u8; 16]) -> bool {
        self.packet
            .decrypt_in_place_detached(&self.nonce(number).into(), header, payload, &tag.into())
            .is_ok()
    }
}

/// The raw Initial key material of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeyMaterial {
    key: [u8; 16],
    iv: [u8; 12],
    hp: [u8; 16],
}

impl KeyMaterial {
    fn derive(version: QuicVersion, dcid: &[u8]) -> Self {
        let client = Hkdf::<Sha256>::from_prk(&client_initial_secret(version, dcid))
            // A 32-byte pseudorandom key is always long enough: the fallback is unreachable.
            .unwrap_or_else(|_| Hkdf::<Sha256>::new(None, dcid));
        let [key, iv, hp] = version.key_labels();
        Self {
            key: expand_label(&client, key),
            iv: expand_label(&client, iv),
            hp: expand_label(&client, hp),
        }
    }
}

/// The client's Initial secret (RFC 9001 §5.2).
fn client_initial_secret(version: QuicVersion, dcid: &[u8]) -> [u8; 32] {
    let initial = Hkdf::<Sha256>::new(Some(version.initial_salt()), dcid);
    expand_label(&initial, "client in")
}

/// HKDF-Expand-Label with an empty context (RFC 8446 §7.1), for outputs of at most 255 bytes.
fn expand_label<const N: usize>(secret: &Hkdf<Sha256>, label: &str) -> [u8; N] {
    let mut out = [0u8; N];
    let length = u16::try_from(N).unwrap_or(u16::MAX).to_be_bytes();
    let label_len = [u8::try_from(label.len() + 6).unwrap_or(u8::MAX)];
    let info: [&[u8]; 5] = [&length, &label_len, b"tls13 ", label.as_bytes(), &[0]];
    // Expansion only fails past 255 hash lengths; the outputs here are at most 32 bytes.
    let _ = secret.expand_multi_info(&info, &mut out);
    out
}

/// One long-header packet of a datagram, still protected.
#[derive(Debug, Clone, Copy)]
struct Packet<'a> {
    version: QuicVersion,
    initial: bool,
    dcid: &'a [u8],
    /// The whole packet, header to tag.
    bytes: &'a [u8],
    /// Where the (protected) packet number starts.
    pn_offset: usize,
}

/// Splits the first long-header packet off `datagram`.
fn split_packet(datagram: &[u8]) -> Result<(Packet<'_>, &[u8]), SniError> {
    let mut reader = Reader::new(datagram);
    let first = reader.u8().ok_or(SniError::NotQuicInitial)?;
    let wire_version = reader.u32().ok_or(SniError::NotQuicInitial)?;
    if first & 0x80 == 0 || wire_version == 0 {
        return Err(SniError::NotQuicInitial);
    }
    let version =
        QuicVersion::from_wire(wire_version).ok_or(SniError::UnsupportedVersion(wire_version))?;
    let (initial_type, retry_type) = version.initial_and_retry_types();
    let packet_type = (first >> 4) & 0b11;
    if packet_type == retry_type {
        return Err(SniError::NotQuicInitial);
    }
    let dcid = connection_id(&mut reader)?;
    connection_id(&mut reader)?;
    let initial = packet_type == initial_type;
    if initial {
        reader.vec_varint().ok_or(SniError::Malformed("token"))?;
    }
    let length = reader.varint_usize().ok_or(SniError::Malformed("length"))?;
    let pn_offset = reader.position_in(datagram);
    let (bytes, rest) = pn_offset
        .checked_add(length)
        .and_then(|end| datagram.split_at_checked(end))
        .ok_or(SniError::Malformed("packet length"))?;
    let packet = Packet {
        version,
        initial,
        dcid,
        bytes,
        pn_offset,
    };
    Ok((packet, rest))
}

fn connection_id<'a>(reader: &mut Reader<'a>) -> Result<&'a [u8], SniError> {
    reader
        .vec8()
        .filter(|id| id.len() <= MAX_CID_LEN)
        .ok_or(SniError::Malformed("connection ID"))
}

/// The Initial packets coalesced in `datagram`; other long-header packets are skipped, and a
/// short-header packet or padding ends the walk.
fn initial_packets(datagram: &[u8]) -> impl Iterator<Item = Result<Packet<'_>, SniError>> {
    let mut rest = datagram;
    std::iter::from_fn(move || loop {
        if rest.first().is_none_or(|first| first & 0x80 == 0) {
            return None;
        }
        match split_packet(rest) {
            Err(error) => {
                rest = &[];
                return Some(Err(error));
            }
            Ok((packet, tail)) => {
                rest = tail;
                if packet.initial {
                    return Some(Ok(packet));
                }
            }
        }
    })
}

/// Removes header protection and decrypts `packet`'s payload.
fn decrypt(packet: &Packet<'_>, keys: &InitialKeys) -> Result<Vec<u8>, SniError> {
    let malformed = SniError::Malformed("Initial packet");
    let sample_at = packet.pn_offset.checked_add(4).ok_or(malformed)?;
    let sample = packet
        .bytes
        .get(sample_at..)
        .and_then(|rest| rest.first_chunk::<16>())
        .ok_or(malformed)?;
    let mask = keys.mask(*sample);
    let first = packet.bytes.first().ok_or(malformed)? ^ (mask.first().ok_or(malformed)? & 0x0f);
    let pn_len = usize::from(first & 0b11) + 1;
    let header_len = packet.pn_offset.checked_add(pn_len).ok_or(malformed)?;
    let mut header = packet.bytes.get(..header_len).ok_or(malformed)?.to_vec();
    let number = unmask_header(&mut header, first, packet.pn_offset, &mask);
    let body = packet.bytes.get(header_len..).ok_or(malformed)?;
    let ciphertext_len = body.len().checked_sub(TAG_LEN).ok_or(malformed)?;
    let (ciphertext, tag) = body.split_at(ciphertext_len);
    let tag = *tag.first_chunk::<TAG_LEN>().ok_or(malformed)?;
    let mut payload = ciphertext.to_vec();
    if keys.open(number, &header, &mut payload, tag) {
        Ok(payload)
    } else {
        Err(SniError::Decrypt)
    }
}

/// Writes the unprotected first byte and packet number into `header`; returns the (truncated)
/// packet number, which is the full one for a client's first packets.
fn unmask_header(header: &mut [u8], first: u8, pn_offset: usize, mask: &[u8; 16]) -> u64 {
    if let Some(byte) = header.first_mut() {
        *byte = first;
    }
    let number = header.get_mut(pn_offset..).unwrap_or_default();
    number
        .iter_mut()
        .zip(mask.iter().skip(1))
        .for_each(|(byte, mask)| *byte ^= mask);
    number
        .iter()
        .fold(0u64, |value, &byte| (value << 8) | u64::from(byte))
}

/// The CRYPTO frames of a decrypted Initial payload as (offset, data); PADDING, PING, ACK and
/// CONNECTION_CLOSE are skipped, any other frame type ends the walk with an error.
fn crypto_frames(payload: &[u8]) -> impl Iterator<Item = Result<(u64, &[u8]), SniError>> {
    let mut reader = Reader::new(payload);
    std::iter::from_fn(move || loop {
        let frame_type = reader.varint()?;
        let frame = match frame_type {
            0x00 | 0x01 => continue,
            0x02 | 0x03 => skip_ack(&mut reader, frame_type == 0x03).map(|()| None),
            0x06 => reader.varint().zip(reader.vec_varint()).map(Some),
            0x1c => skip_connection_close(&mut reader).map(|()| None),
            _ => None,
        };
        match frame {
            Some(None) => continue,
            Some(Some(crypto)) => return Some(Ok(crypto)),
            None => {
                reader = Reader::new(&[]);
                return Some(Err(SniError::Malformed("frame")));
            }
        }
    })
}

fn skip_ack(reader: &mut Reader<'_>, with_ecn: bool) -> Option<()> {
    reader.varint()?; // largest acknowledged
    reader.varint()?; // delay
    let ranges = reader.varint()?;
    reader.varint()?; // first range
    if ranges > u64::try_from(reader.rest().len()).ok()? {
        return None;
    }
    (0..ranges).try_for_each(|_| reader.varint().and(reader.varint()).map(drop))?;
    if with_ecn {
        (0..3).try_for_each(|_| reader.varint().map(drop))?;
    }
    Some(())
}

fn skip_connection_close(reader: &mut Reader<'_>) -> Option<()> {
    reader.varint()?; // error code
    reader.varint()?; // frame type
    reader.vec_varint().map(drop) // reason phrase
}

/// Per-connection reassembly of a ClientHello carried by one or more client Initial packets,
/// bounded to [`MAX_CLIENT_HELLO`] bytes. Feed it the client's UDP datagrams in the order seen;
/// stop once the returned progress [is finished](SniProgress::is_finished).
///
/// Keys come from the first Initial packet's destination connection ID and are kept for the
/// connection's later Initials, as the protocol requires.
#[derive(Debug, Clone)]
pub struct QuicClientHelloAssembler {
    keys: Option<(QuicVersion, InitialKeys)>,
    stream: HelloStream,
    strays: u8,
}

impl Default for QuicClientHelloAssembler {
    fn default() -> Self {
        Self::new()
    }
}

impl QuicClientHelloAssembler {
    /// An assembler that has seen nothing yet.
    pub fn new() -> Self {
        Self {
            keys: None,
            stream: HelloStream::new(MAX_CLIENT_HELLO),
            strays: 0,
        }
    }

    /// Adds one client datagram (UDP payload).
    pub fn push_datagram(&mut self, datagram: &[u8]) -> SniProgress {
        if self.stream.outcome().is_finished() {
            return self.progress();
        }
        match self.absorb(datagram) {
            Ok(()) => {
                self.stream.evaluate(handshake::client_hello_sni);
            }
            Err(error) if self.stream.is_empty() || self.strays >= MAX_STRAY_DATAGRAMS => {
                self.stream.fail(error);
            }
            Err(_) => self.strays = self.strays.saturating_add(1),
        }
        self.progress()
    }

    /// The outcome so far.
    pub fn progress(&self) -> SniProgress {
        self.stream.outcome().clone()
    }

    /// Decrypts the datagram's Initial packets and stores their CRYPTO data.
    fn absorb(&mut self, datagram: &[u8]) -> Result<(), SniError> {
        let mut any_initial = false;
        for packet in initial_packets(datagram) {
            let packet = packet?;
            let payload = decrypt(&packet, self.keys_for(&packet)?)?;
            for frame in crypto_frames(&payload) {
                let (offset, data) = frame?;
                self.stream.insert(offset, data);
            }
            any_initial = true;
        }
        if !any_initial {
            return Err(SniError::NotQuicInitial);
        }
        Ok(())
    }

    fn keys_for(&mut self, packet: &Packet<'_>) -> Result<&InitialKeys, SniError> {
        let (version, keys) = self.keys.get_or_insert_with(|| {
            (
                packet.version,
                InitialKeys::derive(packet.version, packet.dcid),
            )
        });
        if *version == packet.version {
            Ok(keys)
        } else {
            // Keys of another version cannot open it: treated like a packet that fails to decrypt.
            Err(SniError::Decrypt)
        }
    }
}

/// The server name of the ClientHello in one client datagram. `Err(SniError::Incomplete)` when
/// the ClientHello continues in later datagrams: use [`QuicClientHelloAssembler`] for those.
pub fn client_hello_sni(datagram: &[u8]) -> Result<Option<ServerName>, SniError> {
    QuicClientHelloAssembler::new()
        .push_datagram(datagram)
        .into_result()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domains::testdata::{self, hex, RFC_DCID};

    const V1_WIRE: u32 = 1;
    const V2_WIRE: u32 = 0x6b33_43cf;

    /// Encrypts `payload` behind `header` (unprotected, packet number last) and applies header
    /// protection: the sender's side of `decrypt`.
    fn seal(keys: &InitialKeys, header: &[u8], pn_offset: usize, payload: &[u8]) -> Vec<u8> {
        let pn_len = usize::from(header[0] & 0b11) + 1;
        let number = header[pn_offset..]
            .iter()
            .fold(0u64, |value, &byte| (value << 8) | u64::from(byte));
        let mut body = payload.to_vec();
        let tag = keys
            .packet
            .encrypt_in_place_detached(&keys.nonce(number).into(), header, &mut body)
            .unwrap();
        let mut packet = [header, &body, tag.as_slice()].concat();
        let sample: [u8; 16] = packet[pn_offset + 4..pn_offset + 20].try_into().unwrap();
        let mask = keys.mask(sample);
        packet[0] ^= mask[0] & 0x0f;
        for i in 0..pn_len {
            packet[pn_offset + i] ^= mask[1 + i];
        }
        packet
    }

    /// An unprotected Initial header with a 4-byte packet number, for a payload of `len` bytes.
    fn initial_header(
        version: QuicVersion,
        dcid: &[u8],
        number: u32,
        len: usize,
    ) -> (Vec<u8>, usize) {
        let (initial_type, _) = version.initial_and_retry_types();
        let wire = if version == QuicVersion::V1 {
            V1_WIRE
        } else {
            V2_WIRE
        };
        let mut header = vec![0xc0 | (initial_type << 4) | 0b11];
        header.extend_from_slice(&wire.to_be_bytes());
        header.push(u8::try_from(dcid.len()).unwrap());
        header.extend_from_slice(dcid);
        header.extend_from_slice(&[0, 0]); // empty source connection ID, empty token
        let length = u16::try_from(4 + len + TAG_LEN).unwrap() | 0x4000;
        header.extend_from_slice(&length.to_be_bytes());
        let pn_offset = header.len();
        header.extend_from_slice(&number.to_be_bytes());
        (header, pn_offset)
    }

    /// A client Initial datagram carrying `frames`, padded to 1200 bytes.
    fn datagram(
        version: QuicVersion,
        key_dcid: &[u8],
        dcid: &[u8],
        number: u32,
        frames: &[u8],
    ) -> Vec<u8> {
        let keys = InitialKeys::derive(version, key_dcid);
        let mut payload = frames.to_vec();
        payload.resize(1200 - 64, 0);
        let (header, pn_offset) = initial_header(version, dcid, number, payload.len());
        seal(&keys, &header, pn_offset, &payload)
    }

    fn crypto_frame(offset: usize, data: &[u8]) -> Vec<u8> {
        let mut frame = vec![0x06];
        frame.extend_from_slice(&(u16::try_from(offset).unwrap() | 0x4000).to_be_bytes());
        frame.extend_from_slice(&(u16::try_from(data.len()).unwrap() | 0x4000).to_be_bytes());
        frame.extend_from_slice(data);
        frame
    }

    /// The handshake message inside the OpenSSL ClientHello record (for `www.netflix.com`).
    fn netflix_hello() -> Vec<u8> {
        testdata::openssl_client_hello()[5..].to_vec()
    }

    #[test]
    fn rfc_initial_keys() {
        // RFC 9001 §A.1 and RFC 9369 §A.1: client secret, key, iv, hp.
        let cases = [
            (
                QuicVersion::V1,
                "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
                [
                    "1f369613dd76d5467730efcbe3b1a22d",
                    "fa044b2f42a3fd3b46fb255c",
                    "9f50449e04a0e810283a1e9933adedd2",
                ],
            ),
            (
                QuicVersion::V2,
                "14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b",
                [
                    "8b1a0bc121284290a29e0971b5cd045d",
                    "91f73e2351d8fa91660e909f",
                    "45b95e15235d6f45a6b19cbcb0294ba9",
                ],
            ),
        ];
        for (version, secret, [key, iv, hp]) in cases {
            assert_eq!(
                client_initial_secret(version, &RFC_DCID).to_vec(),
                hex(secret)
            );
            let expected = KeyMaterial {
                key: hex(key).try_into().unwrap(),
                iv: hex(iv).try_into().unwrap(),
                hp: hex(hp).try_into().unwrap(),
            };
            assert_eq!(
                KeyMaterial::derive(version, &RFC_DCID),
                expected,
                "{version:?}"
            );
        }
    }

    #[test]
    fn rfc_client_initials_name_example_com() {
        for packet in [
            testdata::rfc9001_client_initial(),
            testdata::rfc9369_client_initial(),
        ] {
            assert_eq!(packet.len(), 1200);
            assert_eq!(client_hello_sni(&packet), Ok(Some("example.com".into())));
        }
    }

    #[test]
    fn sealing_the_rfc_plaintext_gives_the_rfc_packets() {
        let cases = [
            (
                QuicVersion::V1,
                "c300000001088394c8f03e5157080000449e00000002",
                testdata::rfc9001_client_initial(),
            ),
            (
                QuicVersion::V2,
                "d36b3343cf088394c8f03e5157080000449e00000002",
                testdata::rfc9369_client_initial(),
            ),
        ];
        for (version, header, protected) in cases {
            let mut payload = testdata::rfc_crypto_frame();
            payload.resize(1162, 0);
            let keys = InitialKeys::derive(version, &RFC_DCID);
            assert_eq!(
                seal(&keys, &hex(header), 18, &payload),
                protected,
                "{version:?}"
            );
        }
    }

    #[test]
    fn a_hello_over_two_datagrams_with_frames_out_of_order() {
        let hello = netflix_hello();
        for version in [QuicVersion::V1, QuicVersion::V2] {
            let first = [
                crypto_frame(300, &hello[300..]),
                crypto_frame(0, &hello[..120]),
            ]
            .concat();
            let second = [vec![0x01], crypto_frame(120, &hello[120..300])].concat();
            let server_chosen = [9u8; 12];
            let mut assembler = QuicClientHelloAssembler::new();
            let datagram_1 = datagram(version, &RFC_DCID, &RFC_DCID, 0, &first);
            assert_eq!(assembler.push_datagram(&datagram_1), SniProgress::NeedMore);
            // The second Initial goes to the server's connection ID, still under the first keys.
            let datagram_2 = datagram(version, &RFC_DCID, &server_chosen, 1, &second);
            let progress = assembler.push_datagram(&datagram_2);
            assert_eq!(
                progress,
                SniProgress::Found("www.netflix.com".into()),
                "{version:?}"
            );
        }
    }

    #[test]
    fn ack_and_ping_frames_are_skipped() {
        let hello = netflix_hello();
        let ack_with_ranges = [0x02, 0x0a, 0x00, 0x01, 0x02, 0x01, 0x01];
        let ack_with_ecn = [0x03, 0x05, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00];
        let frames = [
            &ack_with_ranges[..],
            &[0x01],
            &ack_with_ecn,
            &crypto_frame(0, &hello),
        ]
        .concat();
        let packet = datagram(QuicVersion::V1, &[1, 2, 3, 4], &[1, 2, 3, 4], 0, &frames);
        assert_eq!(
            client_hello_sni(&packet),
            Ok(Some("www.netflix.com".into()))
        );
    }

    #[test]
    fn coalesced_packets_after_the_initial_are_skipped() {
        let mut packet = testdata::rfc9001_client_initial();
        // A 0-RTT packet (type 1 in v1) of 20 opaque bytes, then padding.
        packet.extend_from_slice(&[0xd0, 0, 0, 0, 1, 0, 0, 20]);
        packet.extend_from_slice(&[0xaa; 20]);
        packet.extend_from_slice(&[0; 30]);
        assert_eq!(client_hello_sni(&packet), Ok(Some("example.com".into())));
    }

    #[test]
    fn a_one_datagram_hello_that_continues_is_incomplete() {
        let hello = netflix_hello();
        let packet = datagram(
            QuicVersion::V1,
            &RFC_DCID,
            &RFC_DCID,
            0,
            &crypto_frame(0, &hello[..200]),
        );
        assert_eq!(client_hello_sni(&packet), Err(SniError::Incomplete));
    }

    #[test]
    fn other_packets_are_refused() {
        for initial in [
            testdata::rfc9001_client_initial(),
            testdata::rfc9369_client_initial(),
        ] {
            for at in [30, 600, 1199] {
                let mut tampered = initial.clone();
                tampered[at] ^= 1;
                assert_eq!(client_hello_sni(&tampered), Err(SniError::Decrypt), "{at}");
            }
        }

        let mut unknown_version = testdata::rfc9001_client_initial();
        unknown_version[1..5].copy_from_slice(&[0xff, 0, 0, 0x1d]);
        assert_eq!(
            client_hello_sni(&unknown_version),
            Err(SniError::UnsupportedVersion(0xff00_001d))
        );

        let short_header = [0x40u8; 100];
        assert_eq!(
            client_hello_sni(&short_header),
            Err(SniError::NotQuicInitial)
        );
        let version_negotiation = [0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            client_hello_sni(&version_negotiation),
            Err(SniError::NotQuicInitial)
        );
        assert_eq!(client_hello_sni(&[]), Err(SniError::NotQuicInitial));
    }

    #[test]
    fn every_truncation_of_a_real_packet_fails_cleanly() {
        let packet = testdata::rfc9001_client_initial();
        for len in 0..packet.len() {
            assert!(client_hello_sni(&packet[..len]).is_err(), "len {len}");
        }
    }

    #[test]
    fn a_stream_that_never_starts_gives_up() {
        let mut assembler = QuicClientHelloAssembler::new();
        assert_eq!(
            assembler.push_datagram(&[0x40; 50]),
            SniProgress::Failed(SniError::NotQuicInitial)
        );
        assert!(assembler
            .push_datagram(&testdata::rfc9001_client_initial())
            .is_finished());
    }
}
