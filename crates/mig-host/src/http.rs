//! A small blocking HTTP/1.1 client for one GET at a time: plain HTTP, or HTTPS with the
//! system's certificate authorities (rustls). What the query module's `curl` table fetches
//! with; no redirects are followed, no cookies or proxies are used, the body is capped.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// An answer: its status and body (chunked transfer decoded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// `GET url` with `user_agent`, within `timeout` for connecting and for each read; at most
/// `max_bytes` of answer are read.
pub fn get(
    url: &str,
    user_agent: &str,
    timeout: Duration,
    max_bytes: u64,
) -> Result<Response, String> {
    get_trusting(url, user_agent, timeout, max_bytes, &[])
}

/// [`get`], where HTTPS also trusts the certificate authorities in `extra_roots_pem` (a
/// deployment's own CA, as the agent's upgrade downloads use it) besides the system's.
pub fn get_trusting(
    url: &str,
    user_agent: &str,
    timeout: Duration,
    max_bytes: u64,
    extra_roots_pem: &[u8],
) -> Result<Response, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("invalid URL {url:?}: {e}"))?;
    let tls = match parsed.scheme() {
        "http" => false,
        "https" => true,
        other => {
            return Err(format!(
                "{url}: only http and https URLs are fetched, not {other}"
            ))
        }
    };
    let host = parsed
        .host_str()
        .ok_or_else(|| format!("{url}: the URL has no host"))?
        .to_string();
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| format!("{url}: the URL has no port"))?;
    // CR and LF would end the header: refused, not stripped.
    if user_agent.contains(['\r', '\n']) {
        return Err("the user agent has a line break".into());
    }
    let mut target = parsed.path().to_string();
    if let Some(q) = parsed.query() {
        target.push('?');
        target.push_str(q);
    }
    let authority = match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let request = format!(
        "GET {target} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {user_agent}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    let bare_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let stream = connect(&bare_host, port, timeout).map_err(|e| format!("{url}: {e}"))?;
    let answer = if tls {
        let mut tls =
            tls_stream(&bare_host, stream, extra_roots_pem).map_err(|e| format!("{url}: {e}"))?;
        exchange(&mut tls, &request, max_bytes)
    } else {
        let mut plain = stream;
        exchange(&mut plain, &request, max_bytes)
    }
    .map_err(|e| format!("{url}: {e}"))?;
    parse_response(&answer).map_err(|e| format!("{url}: {e}"))
}

fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, String> {
    let addresses: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {}", crate::error_text(&e)))?
        .collect();
    let mut last = format!("{host} has no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(s) => {
                s.set_read_timeout(Some(timeout))
                    .map_err(|e| e.to_string())?;
                s.set_write_timeout(Some(timeout))
                    .map_err(|e| e.to_string())?;
                return Ok(s);
            }
            Err(e) => last = format!("cannot connect to {address}: {}", crate::error_text(&e)),
        }
    }
    Err(last)
}

fn tls_stream(
    host: &str,
    stream: TcpStream,
    extra_roots_pem: &[u8],
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(extra_roots_pem) {
        let cert = cert.map_err(|e| format!("the extra certificate authorities: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("the extra certificate authorities: {e}"))?;
    }
    if roots.is_empty() {
        return Err("no certificate authorities found on this system".into());
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host}: {e}"))?;
    let connection =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    Ok(rustls::StreamOwned::new(connection, stream))
}

/// The certificate `host:port` presents in a TLS handshake (DER), whoever issued it: the
/// handshake completes with any certificate, and nothing is sent over the connection.
pub fn peer_certificate(host: &str, port: u16, timeout: Duration) -> Result<Vec<u8>, String> {
    let stream = connect(host, port, timeout)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host}: {e}"))?;
    let mut connection =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let mut stream = stream;
    while connection.is_handshaking() {
        connection.complete_io(&mut stream).map_err(|e| {
            format!(
                "TLS handshake with {host}:{port}: {}",
                crate::error_text(&e)
            )
        })?;
    }
    connection
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| c.as_ref().to_vec())
        .ok_or_else(|| format!("{host}:{port} presented no certificate"))
}

/// Accepts every server certificate: only for reading it (peer_certificate), never for
/// trusting what the connection says.
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Writes the request and reads the answer to its end (or the cap).
fn exchange(stream: &mut impl ReadWrite, request: &str, max_bytes: u64) -> Result<Vec<u8>, String> {
    stream
        .write_all(request.as_bytes())
        .and_then(|_| stream.flush())
        .map_err(|e| crate::error_text(&e))?;
    let mut answer = Vec::new();
    match stream.take(max_bytes + 1).read_to_end(&mut answer) {
        Ok(_) => {}
        // A server that closes without TLS's close_notify has still sent its answer.
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !answer.is_empty() => {}
        Err(e) => return Err(crate::error_text(&e)),
    }
    if answer.len() as u64 > max_bytes {
        return Err(format!(
            "the answer is larger than the {max_bytes} bytes read at most"
        ));
    }
    Ok(answer)
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// An HTTP/1.x answer split into status, headers and body (chunked transfer decoded).
pub fn parse_response(answer: &[u8]) -> Result<Response, String> {
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the answer has no end of headers")?;
    let head = String::from_utf8_lossy(&answer[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let status = match (parts.next(), parts.next()) {
        (Some(v), Some(code)) if v.starts_with("HTTP/1.") => code
            .parse::<u16>()
            .map_err(|_| format!("invalid status line {status_line:?}"))?,
        _ => return Err(format!("invalid status line {status_line:?}")),
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let raw = &answer[end + 4..];
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let body = if header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        dechunk(raw)?
    } else if let Some(n) = header("content-length").and_then(|n| n.parse::<usize>().ok()) {
        raw[..n.min(raw.len())].to_vec()
    } else {
        raw.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// A chunked body's data.
fn dechunk(mut raw: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk has no size line")?;
        let size_text = String::from_utf8_lossy(&raw[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("invalid chunk size {size_text:?}"))?;
        raw = &raw[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if raw.len() < size {
            return Err("the answer ends inside a chunk".into());
        }
        body.extend_from_slice(&raw[..size]);
        raw = raw.get(size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn answers_with_length_chunks_or_to_the_end() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiXX").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, b"hi".as_slice()));
        let r = parse_response(
            b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, b"abcde".as_slice()));
        let r = parse_response(b"HTTP/1.0 204 No Content\r\nServer: x\r\n\r\n").unwrap();
        assert_eq!(r.headers, [("server".to_string(), "x".to_string())]);
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err()
        );
    }

    #[test]
    fn a_request_to_a_local_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap() == 1 {
                request.push(byte[0]);
            }
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
                .unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        let url = format!("http://127.0.0.1:{port}/a/b?c=d");
        let r = get(&url, "probe/1", Duration::from_secs(5), 1 << 20).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, b"hello".as_slice()));
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /a/b?c=d HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            request.contains(&format!("Host: 127.0.0.1:{port}\r\n")),
            "{request}"
        );
        assert!(request.contains("User-Agent: probe/1\r\n"), "{request}");
        assert!(get("ftp://x/", "a", Duration::from_secs(1), 10)
            .unwrap_err()
            .contains("only http and https"));
        assert!(get(&url, "a\r\nX: y", Duration::from_secs(1), 10)
            .unwrap_err()
            .contains("line break"));
    }

    /// A server that answers too much, one that never answers, and one that does not speak
    /// TLS: each a clear error, within the bounds given.
    #[test]
    fn hostile_servers_are_bounded() {
        let flood = TcpListener::bind("127.0.0.1:0").unwrap();
        let flood_port = flood.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = flood.accept().unwrap();
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n");
            let chunk = vec![b'x'; 64 << 10];
            while s.write_all(&chunk).is_ok() {}
        });
        let e = get(
            &format!("http://127.0.0.1:{flood_port}/"),
            "t",
            Duration::from_secs(5),
            1 << 20,
        )
        .unwrap_err();
        assert!(e.contains("larger than"), "{e}");

        let silent = TcpListener::bind("127.0.0.1:0").unwrap();
        let silent_port = silent.local_addr().unwrap().port();
        let hold = std::thread::spawn(move || {
            let (s, _) = silent.accept().unwrap();
            std::thread::sleep(Duration::from_secs(3));
            drop(s);
        });
        let start = std::time::Instant::now();
        let e = get(
            &format!("http://127.0.0.1:{silent_port}/"),
            "t",
            Duration::from_millis(500),
            1 << 20,
        )
        .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(3), "{e}");
        hold.join().unwrap();

        let plain = TcpListener::bind("127.0.0.1:0").unwrap();
        let plain_port = plain.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = plain.accept().unwrap();
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\nnot TLS");
        });
        let e = peer_certificate("127.0.0.1", plain_port, Duration::from_secs(5)).unwrap_err();
        assert!(e.contains("TLS handshake"), "{e}");
    }
}
