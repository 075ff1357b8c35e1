//! The server name (SNI) of a TLS ClientHello, from the first payload bytes a client sends.
//!
//! Reads one TLS record: handshake type ClientHello, past version, random, session id, cipher
//! suites and compression methods, to the `server_name` extension. Every read is bounds-checked:
//! any input gives a name or `None`, never a panic. A ClientHello split across TCP segments is
//! read as far as the first segment goes (the name is usually in it).

/// Longest hostname kept.
const MAX_NAME: usize = 253;

/// The `server_name` of a ClientHello at the start of `payload`, if there is one.
pub fn client_hello_sni(payload: &[u8]) -> Option<String> {
    let mut record = Reader::new(payload);
    let (content_type, _version) = (record.u8()?, record.u16()?);
    if content_type != 22 {
        return None; // not a handshake record
    }
    let length = usize::from(record.u16()?);
    let mut hello = Reader::new(record.rest_up_to(length));
    if hello.u8()? != 1 {
        return None; // not a ClientHello
    }
    hello.skip(3 + 2 + 32)?; // handshake length, client version, random
    let session_id = usize::from(hello.u8()?);
    hello.skip(session_id)?;
    let suites = usize::from(hello.u16()?);
    hello.skip(suites)?;
    let compression = usize::from(hello.u8()?);
    hello.skip(compression)?;
    let extensions_length = usize::from(hello.u16()?);
    let mut extensions = Reader::new(hello.rest_up_to(extensions_length));
    while let (Some(kind), Some(length)) = (extensions.u16(), extensions.u16()) {
        let body = extensions.take(usize::from(length))?;
        if kind == 0 {
            return server_name(body);
        }
    }
    None
}

/// The host_name entry of a server_name extension.
fn server_name(body: &[u8]) -> Option<String> {
    let mut list = Reader::new(body);
    let length = usize::from(list.u16()?);
    let mut names = Reader::new(list.take(length)?);
    while let Some(kind) = names.u8() {
        let length = usize::from(names.u16()?);
        let name = names.take(length)?;
        if kind == 0 {
            return valid_hostname(name);
        }
    }
    None
}

fn valid_hostname(name: &[u8]) -> Option<String> {
    let allowed = |byte: &u8| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_');
    (!name.is_empty() && name.len() <= MAX_NAME && name.iter().all(allowed))
        .then(|| String::from_utf8_lossy(name).to_ascii_lowercase())
}

/// A cursor over bytes whose reads fail (None) instead of running past the end.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    fn take(&mut self, count: usize) -> Option<&'a [u8]> {
        let (taken, rest) = self.bytes.split_at_checked(count)?;
        self.bytes = rest;
        Some(taken)
    }

    fn skip(&mut self, count: usize) -> Option<()> {
        self.take(count).map(|_| ())
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|bytes| bytes[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2)
            .map(|bytes| u16::from_be_bytes([bytes[0], bytes[1]]))
    }

    /// Up to `count` bytes (fewer when the capture was cut short).
    fn rest_up_to(&mut self, count: usize) -> &'a [u8] {
        let count = count.min(self.bytes.len());
        self.take(count).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A ClientHello built field by field, as a client would send it.
    fn client_hello(name: &str) -> Vec<u8> {
        let name = name.as_bytes();
        let mut sni = vec![0, 0]; // extension type server_name
        let list_len = name.len() + 3;
        sni.extend_from_slice(&((list_len + 2) as u16).to_be_bytes());
        sni.extend_from_slice(&(list_len as u16).to_be_bytes());
        sni.push(0);
        sni.extend_from_slice(&(name.len() as u16).to_be_bytes());
        sni.extend_from_slice(name);
        let other = [0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]; // ec_point_formats
        let extensions: Vec<u8> = other.iter().copied().chain(sni).collect();
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7; 32]);
        body.push(32);
        body.extend_from_slice(&[9; 32]);
        body.extend_from_slice(&[0, 4, 0x13, 0x01, 0x13, 0x02]);
        body.extend_from_slice(&[1, 0]);
        body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
        body.extend_from_slice(&extensions);
        let mut handshake = vec![1];
        handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        handshake.extend_from_slice(&body);
        let mut record = vec![22, 3, 1];
        record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
        record.extend_from_slice(&handshake);
        record
    }

    #[test]
    fn reads_the_server_name() {
        assert_eq!(
            client_hello_sni(&client_hello("www.Netflix.com")).as_deref(),
            Some("www.netflix.com")
        );
    }

    #[test]
    fn other_records_and_damaged_hellos_give_nothing() {
        let hello = client_hello("example.com");
        assert_eq!(client_hello_sni(b"GET / HTTP/1.1\r\n"), None);
        assert_eq!(client_hello_sni(&hello[..20]), None);
        let mut server_hello = hello.clone();
        server_hello[5] = 2;
        assert_eq!(client_hello_sni(&server_hello), None);
        assert_eq!(client_hello_sni(&client_hello("bad name/with/path")), None);
    }

    #[test]
    fn a_hello_cut_after_the_name_still_names_it() {
        let hello = client_hello("cut.example");
        assert_eq!(client_hello_sni(&hello).as_deref(), Some("cut.example"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = client_hello_sni(&bytes);
        }

        #[test]
        fn damaged_hellos_never_panic(cut in 0usize..120, flips in proptest::collection::vec((0usize..120, any::<u8>()), 0..6)) {
            let mut hello = client_hello("damaged.example.org");
            flips.iter().for_each(|&(at, value)| {
                if let Some(byte) = hello.get_mut(at) { *byte ^= value; }
            });
            hello.truncate(cut);
            let _ = client_hello_sni(&hello);
        }

        #[test]
        fn any_valid_name_is_read_back(name in "[a-z0-9]{1,20}(\\.[a-z0-9]{1,20}){0,4}") {
            prop_assert_eq!(client_hello_sni(&client_hello(&name)), Some(name));
        }
    }
}
