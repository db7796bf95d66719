//! One kept-alive connection, as every browser holds one, carrying a few hundred malformed
//! requests of every kind (bad JSON, wrong content type, oversized, wrong method, unknown
//! route), signed in and anonymous: each gets a 4xx with the one JSON error body, and the
//! connection never fails under the next request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use noizylab_tests::*;
use serde_json::Value;

/// One answer read off a kept-alive connection.
struct Answer {
    status: u16,
    close: bool,
    body: Vec<u8>,
}

fn read_answer(reader: &mut BufReader<TcpStream>) -> std::io::Result<Answer> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before an answer"));
    }
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (mut length, mut chunked, mut close) = (0usize, false, false);
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end().to_ascii_lowercase();
        if h.is_empty() {
            break;
        }
        if let Some(v) = h.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        } else if h.starts_with("transfer-encoding:") && h.contains("chunked") {
            chunked = true;
        } else if h.starts_with("connection:") && h.contains("close") {
            close = true;
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            let mut chunk = vec![0u8; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Answer { status, close, body })
}

struct Malformed {
    what: &'static str,
    method: &'static str,
    path: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    signed_in: bool,
}

fn kinds() -> Vec<Malformed> {
    let m = |what, method, path, content_type, body: &[u8], signed_in| Malformed {
        what,
        method,
        path,
        content_type,
        body: body.to_vec(),
        signed_in,
    };
    let mut too_big = b"{\"title\":\"".to_vec();
    too_big.resize(1024 * 1024 + 100, b'a');
    too_big.extend_from_slice(b"\"}");
    vec![
        m("text/plain profile", "PUT", "/api/v1/users/profile", Some("text/plain"), b"name=Bob", true),
        m("bad JSON ticket", "POST", "/api/v1/tickets", Some("application/json"), b"{\"title\":", true),
        m("wrong method", "DELETE", "/api/v1/auth/login", Some("application/json"), b"{}", false),
        m("xml device", "POST", "/api/v1/devices/register", Some("application/xml"), b"<device/>", true),
        m("array for a link", "POST", "/api/v1/auth/magic-link", Some("application/json"), b"[]", false),
        m("text estimate", "POST", "/api/v1/pricing/estimate", Some("text/plain"), b"parts", true),
        m("bad JSON chat", "POST", "/api/v1/chat/conversations", Some("application/json"), b"{{", true),
        m("no type preferences", "PUT", "/api/v1/users/preferences", None, b"{\"sms\":true}", true),
        m("unknown area", "POST", "/api/v1/nowhere", Some("application/json"), b"{}", false),
        m("bad JSON login", "POST", "/api/v1/auth/login", Some("application/json"), b"{\"email\":1", false),
        m("over the JSON limit", "POST", "/api/v1/tickets", Some("application/json"), &too_big, true),
    ]
}

#[test]
fn malformed_requests_over_one_kept_alive_connection_never_break_it() {
    let p = Platform::fresh("keepalive");
    let token = access(&sign_in(&p, &unique_email("keepalive")));
    let kinds = kinds();
    let connect = || {
        let stream = TcpStream::connect(("127.0.0.1", p.port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        (stream, reader)
    };
    let (mut stream, mut reader) = connect();
    let (mut transport_errors, mut reopened) = (Vec::new(), 0);
    for n in 0..330 {
        let k = &kinds[n % kinds.len()];
        let mut head = format!("{} {} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: keep-alive\r\n", k.method, k.path);
        if let Some(t) = k.content_type {
            head.push_str(&format!("content-type: {t}\r\n"));
        }
        if k.signed_in {
            head.push_str(&format!("authorization: Bearer {token}\r\n"));
        }
        head.push_str(&format!("content-length: {}\r\n\r\n", k.body.len()));
        let sent = stream.write_all(head.as_bytes()).and_then(|()| stream.write_all(&k.body));
        let answer = sent.and_then(|()| read_answer(&mut reader));
        match answer {
            Ok(a) => {
                assert!((400..500).contains(&a.status), "{}: answered {}", k.what, a.status);
                let body: Value = serde_json::from_slice(&a.body)
                    .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", k.what, String::from_utf8_lossy(&a.body)));
                assert!(body["error"]["code"].is_string(), "{}: {body}", k.what);
                assert!(body["error"]["message"].is_string(), "{}: {body}", k.what);
                if a.close {
                    // The server said it would close: a new connection is not a failure.
                    (stream, reader) = connect();
                    reopened += 1;
                }
            }
            Err(e) => {
                transport_errors.push(format!("#{n} {}: {e}", k.what));
                (stream, reader) = connect();
            }
        }
    }
    assert!(transport_errors.is_empty(), "{} transport errors: {transport_errors:?}", transport_errors.len());
    assert!(reopened <= 330 / kinds.len() + 1, "only answers that say `connection: close` end a connection");
}
