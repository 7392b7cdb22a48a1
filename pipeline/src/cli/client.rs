//! A minimal HTTP/1.1 GET for the CLI companions (`rowlog status`,
//! `rowlog wait`) talking to a running `rowlog run` on localhost: one
//! request per connection, no TLS, no redirects. Written by hand because
//! those few lines are all the commands need, and a client crate would add
//! a second HTTP stack to the binary.
//!
//! Invariant: every failure is a message naming the URL and saying how to
//! point `--url` elsewhere; nothing panics on a bad answer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// `GET path_and_query` on `url` (`http://HOST:PORT`): the status code and
/// the body. Waits at most `timeout` for the answer.
pub fn get(url: &str, path_and_query: &str, timeout: Duration) -> Result<(u16, String), String> {
    let hostport = url
        .strip_prefix("http://")
        .map(|r| r.trim_end_matches('/'))
        .filter(|r| !r.is_empty() && !r.contains('/'))
        .ok_or_else(|| format!("--url {url}: expected http://HOST:PORT"))?;
    let unreachable = |e: std::io::Error| {
        format!("{url}: {e}; is `rowlog run` running there? (see its http.listen, or pass --url)")
    };
    let mut stream = TcpStream::connect(hostport).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(unreachable)?;
    write!(
        stream,
        "GET {path_and_query} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n"
    )
    .map_err(unreachable)?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(unreachable)?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("{url}{path_and_query}: not an HTTP response"))?;
    let code = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| format!("{url}{path_and_query}: not an HTTP response"))?;
    Ok((code, body.to_string()))
}

/// Percent-encodes a query value (everything but unreserved characters and
/// the `,:/` that positions are made of).
pub fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~,:/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_and_unreachable_servers_are_messages() {
        assert!(get("ftp://x", "/", Duration::from_secs(1)).is_err());
        assert!(
            get("http://127.0.0.1:1", "/", Duration::from_secs(1))
                .unwrap_err()
                .contains("is `rowlog run` running")
        );
    }

    #[test]
    fn positions_keep_their_shape_in_a_query() {
        assert_eq!(query_value("0/16B3748"), "0/16B3748");
        assert_eq!(query_value("0-1-5,1-2-7"), "0-1-5,1-2-7");
        assert_eq!(query_value("a b+c&d"), "a%20b%2Bc%26d");
    }
}
