//! Talking to a running `netmon run` over its local API (127.0.0.1 only), with short timeouts
//! so a command never hangs on a daemon that is stuck or absent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long to wait for the daemon to accept and answer.
pub const TIMEOUT: Duration = Duration::from_millis(1500);

/// An answer from the API: HTTP status and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

fn connect(port: u16) -> std::io::Result<TcpStream> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&address, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    Ok(stream)
}

fn head(method: &str, path: &str, port: u16, body: &str) -> String {
    let content = if body.is_empty() {
        String::new()
    } else {
        format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        )
    };
    format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n{content}\r\n{body}")
}

/// Sends one request (HTTP/1.0, so the body ends when the connection closes).
pub fn request(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<Reply> {
    let mut stream = connect(port)?;
    stream.write_all(head(method, path, port, body).as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    parse(&response).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "the answer is not HTTP from netmon",
        )
    })
}

fn parse(response: &str) -> Option<Reply> {
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head
        .lines()
        .next()?
        .strip_prefix("HTTP/1.")?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(Reply {
        status,
        body: body.to_string(),
    })
}

/// `/api/status` of the daemon on `port`, when netmon (and not another program) answers there.
pub fn status(port: u16) -> Option<serde_json::Value> {
    let reply = request(port, "GET", "/api/status", "").ok()?;
    let value: serde_json::Value = serde_json::from_str(&reply.body).ok()?;
    (reply.status == 200 && value.get("capture_source").is_some()).then_some(value)
}

/// The live stream (`/api/live`, server-sent events): calls `each` with every event's JSON data
/// until `each` returns false or the stream ends. `keep_going` is asked between reads so a
/// caller can stop within a read timeout.
pub fn live(
    port: u16,
    keep_going: &dyn Fn() -> bool,
    mut each: impl FnMut(serde_json::Value) -> bool,
) -> std::io::Result<()> {
    let mut stream = connect(port)?;
    stream.set_read_timeout(Some(Duration::from_millis(250)))?;
    stream.write_all(
        format!(
            "GET /api/live HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .as_bytes(),
    )?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        if !keep_going() {
            return Ok(());
        }
        match reader.read_line(&mut line) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                if let Some(data) = line.trim_end().strip_prefix("data:") {
                    if let Ok(value) = serde_json::from_str(data.trim()) {
                        if !each(value) {
                            return Ok(());
                        }
                    }
                }
                line.clear();
            }
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_status_and_body() {
        let reply =
            parse("HTTP/1.0 200 OK\r\ncontent-type: application/json\r\n\r\n{\"a\":1}").unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.body, "{\"a\":1}");
        assert!(parse("SSH-2.0-OpenSSH\r\n").is_none());
    }
}
