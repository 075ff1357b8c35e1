//! The TLS ClientHello walk shared by TLS over TCP and QUIC: from a handshake message's bytes
//! (RFC 8446 §4) to its `server_name` (RFC 6066 §3).

use thiserror::Error;

use super::reader::Reader;
use super::rollup;

/// Handshake message type of a ClientHello.
const CLIENT_HELLO: u8 = 1;
/// Extension type of `server_name`.
const SERVER_NAME: u16 = 0;
/// Extension type of `encrypted_client_hello` (draft-ietf-tls-esni): the `server_name` of a
/// ClientHello carrying it is the provider's public name, not the site.
const ENCRYPTED_CLIENT_HELLO: u16 = 0xfe0d;
/// Name type of a DNS hostname inside `server_name`.
const HOST_NAME: u8 = 0;
/// The most ClientHello bytes any reassembler keeps before giving up.
pub const MAX_CLIENT_HELLO: usize = 16 * 1024;

/// Why no server name came out of some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SniError {
    /// The bytes so far are a valid beginning: more are needed.
    #[error("more bytes are needed")]
    Incomplete,
    /// The bytes are not a TLS handshake record.
    #[error("not a TLS handshake")]
    NotTls,
    /// The first handshake message is not a ClientHello.
    #[error("not a ClientHello")]
    NotClientHello,
    /// A length or field does not fit the message.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// The server name is not a plausible DNS hostname.
    #[error("server name is not a hostname")]
    BadName,
    /// The ClientHello would exceed the reassembly limit.
    #[error("ClientHello larger than {MAX_CLIENT_HELLO} bytes")]
    TooLarge,
    /// Too many separate pieces arrived out of order.
    #[error("too many out-of-order pieces")]
    TooFragmented,
    /// The datagram holds no QUIC Initial packet this parser understands.
    #[error("not a QUIC Initial packet")]
    NotQuicInitial,
    /// A QUIC long header with a version other than 1 and 2.
    #[error("unsupported QUIC version {0:#010x}")]
    UnsupportedVersion(u32),
    /// A QUIC Initial packet did not decrypt (wrong keys or corrupted).
    #[error("QUIC Initial packet did not decrypt")]
    Decrypt,
}

/// A ClientHello's server name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerName {
    /// The `server_name` hostname, normalised.
    pub host: String,
    /// True when the ClientHello also carries `encrypted_client_hello`: `host` is then only the
    /// public (outer) name of the provider, e.g. `cloudflare-ech.com`, not the site.
    pub ech: bool,
}

impl From<&str> for ServerName {
    /// A plain (non-ECH) server name.
    fn from(host: &str) -> Self {
        Self {
            host: host.to_owned(),
            ech: false,
        }
    }
}

/// The server name of the ClientHello at the start of `message` (a handshake message: type,
/// 24-bit length, body). `Ok(None)` for a complete ClientHello without `server_name`;
/// `Err(Incomplete)` while the message is cut short.
pub fn client_hello_sni(message: &[u8]) -> Result<Option<ServerName>, SniError> {
    let mut reader = Reader::new(message);
    let kind = reader.u8().ok_or(SniError::Incomplete)?;
    if kind != CLIENT_HELLO {
        return Err(SniError::NotClientHello);
    }
    let len = reader.u24().ok_or(SniError::Incomplete)?;
    if usize::try_from(len).map_or(true, |len| len > MAX_CLIENT_HELLO) {
        return Err(SniError::TooLarge);
    }
    let body = reader
        .take(usize::try_from(len).unwrap_or(usize::MAX))
        .ok_or(SniError::Incomplete)?;
    let block = extensions_of(body).ok_or(SniError::Malformed("ClientHello"))?;
    let host = server_name(block)?;
    let ech = extensions(block)
        .any(|extension| extension.is_ok_and(|(kind, _)| kind == ENCRYPTED_CLIENT_HELLO));
    Ok(host.map(|host| ServerName { host, ech }))
}

/// The extensions block of a ClientHello body (empty when the client sent none).
fn extensions_of(body: &[u8]) -> Option<&[u8]> {
    let mut reader = Reader::new(body);
    reader.take(2)?; // legacy_version
    reader.take(32)?; // random
    reader.vec8()?; // legacy_session_id
    reader.vec16()?; // cipher_suites
    reader.vec8()?; // legacy_compression_methods
    if reader.is_empty() {
        return Some(&[]);
    }
    reader.vec16()
}

/// Each extension as (type, data), or `Err` once one is cut short.
fn extensions(block: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), SniError>> {
    let mut reader = Reader::new(block);
    std::iter::from_fn(move || {
        if reader.is_empty() {
            return None;
        }
        let extension = reader.u16().zip(reader.vec16());
        if extension.is_none() {
            reader = Reader::new(&[]);
        }
        Some(extension.ok_or(SniError::Malformed("extension")))
    })
}

fn server_name(block: &[u8]) -> Result<Option<String>, SniError> {
    extensions(block)
        .find_map(|extension| match extension {
            Ok((SERVER_NAME, data)) => Some(host_name(data).map(Some)),
            Ok(_) => None,
            Err(error) => Some(Err(error)),
        })
        .unwrap_or(Ok(None))
}

/// The `host_name` entry of a `server_name` extension, normalised.
fn host_name(data: &[u8]) -> Result<String, SniError> {
    let malformed = SniError::Malformed("server_name");
    let list = Reader::new(data).vec16().ok_or(malformed)?;
    let mut reader = Reader::new(list);
    let name = std::iter::from_fn(|| Some((reader.u8()?, reader.vec16()?)))
        .find_map(|(kind, name)| (kind == HOST_NAME).then_some(name))
        .ok_or(malformed)?;
    std::str::from_utf8(name)
        .ok()
        .filter(|name| name.is_ascii())
        .and_then(rollup::normalize_name)
        .ok_or(SniError::BadName)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal but well-formed ClientHello handshake message naming `host` (no name when
    /// `None`), padded with an unknown extension of `padding` bytes.
    pub(crate) fn client_hello(host: Option<&str>, padding: usize) -> Vec<u8> {
        client_hello_with(host, padding, false)
    }

    /// Like [`client_hello`], with an `encrypted_client_hello` extension when `ech`.
    pub(crate) fn client_hello_with(host: Option<&str>, padding: usize, ech: bool) -> Vec<u8> {
        let mut extensions = Vec::new();
        if ech {
            // An outer ECH extension: type 0 (outer), a cipher suite, config id, enc, payload.
            let payload = [
                [0u8].as_slice(),
                &[0, 1, 0, 1],
                &[7],
                &[0, 2, 0xaa, 0xbb],
                &[0, 3, 1, 2, 3],
            ]
            .concat();
            extensions.extend_from_slice(&ENCRYPTED_CLIENT_HELLO.to_be_bytes());
            extensions.extend_from_slice(&u16::try_from(payload.len()).unwrap().to_be_bytes());
            extensions.extend_from_slice(&payload);
        }
        if let Some(host) = host {
            let name = host.as_bytes();
            let entry_len = u16::try_from(name.len() + 3).unwrap();
            extensions.extend_from_slice(&SERVER_NAME.to_be_bytes());
            extensions.extend_from_slice(&(entry_len + 2).to_be_bytes());
            extensions.extend_from_slice(&entry_len.to_be_bytes());
            extensions.push(HOST_NAME);
            extensions.extend_from_slice(&u16::try_from(name.len()).unwrap().to_be_bytes());
            extensions.extend_from_slice(name);
        }
        extensions.extend_from_slice(&0xffa5u16.to_be_bytes());
        extensions.extend_from_slice(&u16::try_from(padding).unwrap().to_be_bytes());
        extensions.resize(extensions.len() + padding, 0);

        let mut body = vec![3, 3];
        body.extend_from_slice(&[7; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&u16::try_from(extensions.len()).unwrap().to_be_bytes());
        body.extend_from_slice(&extensions);

        let mut message = vec![CLIENT_HELLO];
        message.extend_from_slice(&u32::try_from(body.len()).unwrap().to_be_bytes()[1..]);
        message.extend_from_slice(&body);
        message
    }

    #[test]
    fn finds_the_host_name() {
        let message = client_hello(Some("Www.Example.com"), 10);
        assert_eq!(
            client_hello_sni(&message),
            Ok(Some("www.example.com".into()))
        );
    }

    #[test]
    fn an_encrypted_client_hello_marks_its_server_name_as_the_outer_one() {
        let message = client_hello_with(Some("cloudflare-ech.com"), 4, true);
        let expected = ServerName {
            host: "cloudflare-ech.com".into(),
            ech: true,
        };
        assert_eq!(client_hello_sni(&message), Ok(Some(expected)));
        let plain = client_hello_with(Some("cloudflare-ech.com"), 4, false);
        assert_eq!(
            client_hello_sni(&plain),
            Ok(Some("cloudflare-ech.com".into()))
        );
    }

    #[test]
    fn a_hello_without_server_name_has_no_name() {
        assert_eq!(client_hello_sni(&client_hello(None, 3)), Ok(None));
    }

    #[test]
    fn every_cut_short_prefix_is_incomplete() {
        let message = client_hello(Some("example.com"), 40);
        (0..message.len()).for_each(|len| {
            assert_eq!(client_hello_sni(&message[..len]), Err(SniError::Incomplete));
        });
    }

    #[test]
    fn other_messages_are_refused() {
        let mut message = client_hello(Some("example.com"), 0);
        message[0] = 2;
        assert_eq!(client_hello_sni(&message), Err(SniError::NotClientHello));
    }

    #[test]
    fn huge_declared_lengths_give_up_at_once() {
        assert_eq!(
            client_hello_sni(&[1, 0xff, 0xff, 0xff]),
            Err(SniError::TooLarge)
        );
    }

    #[test]
    fn names_that_are_not_hostnames_are_refused() {
        for name in ["exa mple.com", "a/b", "192.0.2.1", "bücher.de"] {
            let message = client_hello(Some(name), 0);
            assert_eq!(client_hello_sni(&message), Err(SniError::BadName), "{name}");
        }
    }
}
