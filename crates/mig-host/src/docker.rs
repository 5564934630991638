//! The Docker Engine API, read-only: `GET` requests over the daemon's Unix socket, as osquery's
//! docker tables make them (HTTP/1.0, one request per connection, so the answer is the bytes
//! up to the end of the stream, never chunked).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Where the daemon listens unless told otherwise (osquery's `--docker_socket` default).
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The largest answer read: a daemon's container and image lists stay far below it.
const MAX_RESPONSE: u64 = 64 << 20;

/// Why a request got no answer.
#[derive(Debug)]
pub enum DockerError {
    /// No daemon listens on the socket (it does not exist, or refuses connections): there is
    /// nothing to report, not an error.
    NotRunning,
    /// The daemon refused the request: its status (404: no such object; 409: not running)
    /// and explanation.
    Refused(u16, String),
    /// The connection failed, or the answer was not HTTP.
    Failed(String),
}

impl std::fmt::Display for DockerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DockerError::NotRunning => f.write_str("no Docker daemon is running"),
            DockerError::Refused(status, why) => write!(f, "status {status}: {why}"),
            DockerError::Failed(why) => f.write_str(why),
        }
    }
}

/// `GET uri` (a path with its query string, `/containers/json?all=1`) on the daemon at
/// `socket`: the body of a 200 answer.
pub fn get(socket: &Path, uri: &str, timeout: Duration) -> Result<Vec<u8>, DockerError> {
    if uri.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err(DockerError::Failed(format!(
            "refused to send the request path {uri:?}: it has spaces or control characters"
        )));
    }
    let mut stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => DockerError::NotRunning,
        _ => DockerError::Failed(format!(
            "cannot connect to {}: {}",
            socket.display(),
            crate::error_text(&e)
        )),
    })?;
    let failed = |e: io::Error| {
        DockerError::Failed(format!(
            "GET {uri} on {}: {}",
            socket.display(),
            crate::error_text(&e)
        ))
    };
    stream.set_read_timeout(Some(timeout)).map_err(failed)?;
    stream.set_write_timeout(Some(timeout)).map_err(failed)?;
    // One write: the request arrives whole.
    let request = format!(
        "GET {uri} HTTP/1.0\r\nHost: docker\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(failed)?;
    let mut answer = Vec::new();
    stream
        .take(MAX_RESPONSE + 1)
        .read_to_end(&mut answer)
        .map_err(failed)?;
    if answer.len() as u64 > MAX_RESPONSE {
        return Err(DockerError::Failed(format!(
            "GET {uri}: the answer is larger than {} MiB",
            MAX_RESPONSE >> 20
        )));
    }
    let r = crate::http::parse_response(&answer)
        .map_err(|why| DockerError::Failed(format!("GET {uri}: {why}")))?;
    if r.status != 200 {
        let why = String::from_utf8_lossy(&r.body).trim().to_string();
        return Err(DockerError::Refused(r.status, format!("GET {uri}: {why}")));
    }
    Ok(r.body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    #[test]
    fn a_missing_socket_means_no_daemon() {
        let d = tempfile::tempdir().unwrap();
        let r = get(
            &d.path().join("docker.sock"),
            "/version",
            Duration::from_secs(1),
        );
        assert!(matches!(r, Err(DockerError::NotRunning)), "{r:?}");
    }

    #[test]
    fn answers_are_read_to_the_end_and_refusals_quoted() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("docker.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            for answer in [
                "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"Version\":\"1\"}",
                "HTTP/1.1 404 Not Found\r\n\r\n{\"message\":\"No such image: x\"}",
            ] {
                let (mut s, _) = listener.accept().unwrap();
                let mut request = Vec::new();
                let mut byte = [0u8; 1];
                while !request.ends_with(b"\r\n\r\n") && s.read(&mut byte).unwrap() == 1 {
                    request.push(byte[0]);
                }
                assert!(request.starts_with(b"GET /"));
                s.write_all(answer.as_bytes()).unwrap();
            }
        });
        let t = Duration::from_secs(5);
        assert_eq!(get(&path, "/version", t).unwrap(), b"{\"Version\":\"1\"}");
        let e = get(&path, "/images/x/history", t).unwrap_err().to_string();
        assert!(
            e.contains("status 404") && e.contains("No such image"),
            "{e}"
        );
        server.join().unwrap();
        let e = get(&path, "/x y", t).unwrap_err().to_string();
        assert!(e.contains("spaces"), "{e}");
    }

    /// A socket that never answers is cut at the timeout; one that floods is cut at the cap.
    #[test]
    fn hostile_sockets_are_bounded() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("silent.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let hold = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_secs(3));
            drop(s);
        });
        let start = std::time::Instant::now();
        let e = get(&path, "/version", Duration::from_millis(500)).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(3), "{e}");
        assert!(matches!(e, DockerError::Failed(_)), "{e}");
        hold.join().unwrap();

        let path = d.path().join("flood.sock");
        let listener = UnixListener::bind(&path).unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\n\r\n");
            let chunk = vec![b'['; 1 << 20];
            while s.write_all(&chunk).is_ok() {}
        });
        let e = get(&path, "/containers/json", Duration::from_secs(30))
            .unwrap_err()
            .to_string();
        assert!(e.contains("larger than"), "{e}");
    }
}
