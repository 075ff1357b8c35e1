//! The server name of a plain-HTTP/1.x request: the hostname of its `Host` header (RFC 9112
//! §3.2), and nothing else. The request line is checked for shape only (method, a target, an
//! `HTTP/1.x` version) and its target — path and query — is never kept or returned; no other
//! header is read.

use thiserror::Error;

use super::rollup;

/// The most bytes of a request head read before giving up (headers beyond are not looked at).
pub const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// Methods of requests that are read (RFC 9110 §9 plus PATCH).
const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT",
];

/// The first four bytes of a request of each method that is read: the method and its space,
/// cut to four (`GET `, `HEAD`, `DELE`). The capture's kernel filter keeps segments that begin
/// so whole (see `capture::pcap::snap`).
pub fn request_starts() -> impl Iterator<Item = [u8; 4]> {
    METHODS.iter().map(|method| {
        let mut start = [b' '; 4];
        start
            .iter_mut()
            .zip(method.as_bytes())
            .for_each(|(byte, letter)| *byte = *letter);
        start
    })
}

/// Why a request head named no server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum HttpError {
    /// The bytes so far are a valid beginning of a request head: more are needed.
    #[error("more bytes are needed")]
    Incomplete,
    /// The bytes do not begin with an HTTP/1.x request line.
    #[error("not an HTTP/1.x request")]
    NotHttp,
    /// The head is longer than [`MAX_REQUEST_HEAD`] before its Host header.
    #[error("request head larger than {MAX_REQUEST_HEAD} bytes")]
    TooLarge,
    /// A header line is not `name: value`.
    #[error("malformed header line")]
    Malformed,
}

/// True when `bytes` begin like an HTTP request (a known method and a space), so a stream is
/// worth following. Every captured TCP segment's payload is asked, so most answers come from
/// the first byte (every method is upper case).
pub fn looks_like_request(bytes: &[u8]) -> bool {
    bytes.first().is_some_and(u8::is_ascii_uppercase)
        && METHODS.iter().any(|method| {
            bytes.len() > method.len()
                && bytes.starts_with(method.as_bytes())
                && bytes[method.len()] == b' '
        })
}

/// The hostname of the request head at the start of `bytes`: `Ok(Some(host))` once its Host
/// header is read (normalised, port removed), `Ok(None)` for a complete head without a Host
/// header or whose Host is an address or not a hostname, `Err(Incomplete)` while it is cut short.
pub fn request_host(bytes: &[u8]) -> Result<Option<String>, HttpError> {
    let head = &bytes[..bytes.len().min(MAX_REQUEST_HEAD)];
    let mut lines = Lines { rest: head };
    let request_line = lines.next().ok_or_else(|| incomplete_or_not(head))?;
    check_request_line(request_line)?;
    for line in std::iter::from_fn(|| lines.next()) {
        if line.is_empty() {
            return Ok(None);
        }
        let (name, value) = header(line)?;
        if name.eq_ignore_ascii_case(b"host") {
            return Ok(hostname(value));
        }
    }
    if bytes.len() >= MAX_REQUEST_HEAD {
        Err(HttpError::TooLarge)
    } else {
        Err(HttpError::Incomplete)
    }
}

/// Lines ending in CRLF (a bare LF is accepted, RFC 9112 §2.2); an unterminated tail is not
/// a line.
struct Lines<'a> {
    rest: &'a [u8],
}

impl<'a> Lines<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        let end = self.rest.iter().position(|&byte| byte == b'\n')?;
        let line = &self.rest[..end];
        self.rest = &self.rest[end + 1..];
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    }
}

/// Before a whole request line is in: incomplete while the bytes could still begin one.
fn incomplete_or_not(head: &[u8]) -> HttpError {
    let could_be = METHODS.iter().any(|method| {
        let start = [method.as_bytes(), b" "].concat();
        let shared = head.len().min(start.len());
        head[..shared] == start[..shared]
    });
    if could_be && head.len() < MAX_REQUEST_HEAD {
        HttpError::Incomplete
    } else {
        HttpError::NotHttp
    }
}

/// `METHOD SP target SP HTTP/1.x`, the target not looked at beyond having no spaces.
fn check_request_line(line: &[u8]) -> Result<(), HttpError> {
    let mut parts = line.split(|&byte| byte == b' ');
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let version = parts.next().unwrap_or_default();
    let known = METHODS.iter().any(|known| known.as_bytes() == method);
    let shaped = known
        && !target.is_empty()
        && matches!(version, b"HTTP/1.0" | b"HTTP/1.1")
        && parts.next().is_none();
    shaped.then_some(()).ok_or(HttpError::NotHttp)
}

/// A header line's name and value (value trimmed of spaces and tabs).
fn header(line: &[u8]) -> Result<(&[u8], &[u8]), HttpError> {
    let colon = line
        .iter()
        .position(|&byte| byte == b':')
        .ok_or(HttpError::Malformed)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    let is_token = !name.is_empty() && name.iter().all(|&byte| byte.is_ascii_graphic());
    if !is_token {
        return Err(HttpError::Malformed);
    }
    Ok((name, value.trim_ascii()))
}

/// The hostname of a Host value (`name`, `name:port`); `None` for addresses and non-names.
fn hostname(value: &[u8]) -> Option<String> {
    let value = std::str::from_utf8(value).ok()?;
    if value.starts_with('[') {
        return None; // an IPv6 literal: the address, not a name
    }
    let host = match value.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|byte| byte.is_ascii_digit()) => host,
        Some(_) => return None,
        None => value,
    };
    rollup::normalize_name(host).filter(|_| host.is_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn host(request: &[u8]) -> Result<Option<String>, HttpError> {
        request_host(request)
    }

    #[test]
    fn each_method_starts_a_request_with_its_first_four_bytes() {
        let starts: Vec<[u8; 4]> = request_starts().collect();
        assert_eq!(
            starts,
            [
                *b"GET ", *b"HEAD", *b"POST", *b"PUT ", *b"DELE", *b"OPTI", *b"PATC", *b"TRAC",
                *b"CONN"
            ]
        );
        // A request of each method begins with its start, and is taken for one.
        starts.iter().zip(METHODS).for_each(|(start, method)| {
            let request = format!("{method} / HTTP/1.1\r\n");
            assert!(request.as_bytes().starts_with(start), "{method}");
            assert!(looks_like_request(request.as_bytes()), "{method}");
        });
    }

    #[test]
    fn the_host_header_names_the_server_and_nothing_else_is_kept() {
        let request = b"GET /secret/path?token=hunter2 HTTP/1.1\r\nUser-Agent: x\r\nHOST: Video.Example-CDN.net:8080\r\nCookie: a=b\r\n\r\n";
        assert_eq!(host(request), Ok(Some("video.example-cdn.net".into())));
        let request = b"POST /x HTTP/1.0\nhost:\texample.com \n\n";
        assert_eq!(host(request), Ok(Some("example.com".into())));
    }

    #[test]
    fn heads_without_a_usable_host_name_nothing() {
        for request in [
            &b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost: 192.0.2.7:80\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: example.com:http\r\n\r\n",
        ] {
            assert_eq!(
                host(request),
                Ok(None),
                "{:?}",
                String::from_utf8_lossy(request)
            );
        }
    }

    #[test]
    fn what_is_not_a_request_is_refused() {
        for bytes in [
            &b"HTTP/1.1 200 OK\r\n\r\n"[..],
            b"\x16\x03\x01\x02\x00",
            b"GET / HTTP/2.0\r\n\r\n",
            b"GET  HTTP/1.1\r\n\r\n",
            b"FETCH / HTTP/1.1\r\n\r\n",
            b"GETX",
        ] {
            assert_eq!(
                host(bytes),
                Err(HttpError::NotHttp),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        assert_eq!(
            host(b"GET / HTTP/1.1\r\nno colon here\r\n\r\n"),
            Err(HttpError::Malformed)
        );
    }

    #[test]
    fn every_cut_short_prefix_is_incomplete() {
        let request = b"GET /p HTTP/1.1\r\nAccept: */*\r\nHost: example.com\r\n\r\n";
        let host_line_end = request.len() - 2;
        (0..host_line_end).for_each(|len| {
            assert_eq!(host(&request[..len]), Err(HttpError::Incomplete), "{len}");
        });
        assert_eq!(
            host(&request[..host_line_end]),
            Ok(Some("example.com".into()))
        );
    }

    #[test]
    fn long_heads_give_up() {
        let mut request = b"GET / HTTP/1.1\r\n".to_vec();
        while request.len() < MAX_REQUEST_HEAD {
            request.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(host(&request), Err(HttpError::TooLarge));
    }

    #[test]
    fn only_request_beginnings_are_followed() {
        assert!(looks_like_request(b"GET /"));
        assert!(looks_like_request(b"OPTIONS *"));
        assert!(!looks_like_request(b"GET"));
        assert!(!looks_like_request(b"HTTP/1.1 200 OK"));
        assert!(!looks_like_request(b"\x16\x03\x01"));
    }

    fn token() -> impl Strategy<Value = String> {
        "[A-Za-z][A-Za-z0-9-]{0,15}"
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = request_host(&bytes);
            let _ = looks_like_request(&bytes);
        }

        /// Any well-formed request names its Host, whatever its path, query and other headers,
        /// and the path never comes out.
        #[test]
        fn well_formed_requests_name_their_host(
            method in proptest::sample::select(METHODS.to_vec()),
            path in "/[a-z0-9/?=&]{0,40}",
            before in proptest::collection::vec((token(), "[ -~]{0,30}"), 0..5),
            name in "[a-z][a-z0-9]{0,10}(\\.[a-z][a-z0-9]{0,10}){1,3}",
            port in proptest::option::of(1u16..),
        ) {
            prop_assume!(!before.iter().any(|(header, _)| header.eq_ignore_ascii_case("host")));
            let mut request = format!("{method} {path} HTTP/1.1\r\n");
            before.iter().for_each(|(header, value)| request += &format!("{header}: {value}\r\n"));
            let port = port.map(|port| format!(":{port}")).unwrap_or_default();
            request += &format!("Host: {name}{port}\r\n\r\n");
            let found = request_host(request.as_bytes());
            prop_assert_eq!(found, Ok(Some(name.clone())));
            // Every cut before the Host line's end is incomplete; the host is never the path.
            let end = request.len() - 2;
            for cut in 0..end {
                prop_assert_eq!(request_host(&request.as_bytes()[..cut]), Err(HttpError::Incomplete));
            }
        }
    }
}
