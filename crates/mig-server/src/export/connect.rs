//! Connections to the exporters' receivers: TCP, or TLS trusting the system's certificate
//! authorities plus the sink's own `ca`.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// How long connecting (and the TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a sink connects, and how.
#[derive(Clone)]
pub struct Endpoint {
    /// `host:port`.
    pub address: String,
    /// TLS, checked against this name.
    pub tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
}

/// A connection to a receiver.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {
    /// The TCP socket under it (to ask the kernel what is still unacknowledged).
    fn tcp(&self) -> &TcpStream;
}

impl Stream for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Stream for tokio_rustls::client::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

impl Endpoint {
    /// An endpoint for `address`; with `tls`, trusting the system's CAs and `ca` (a PEM file),
    /// the receiver's certificate checked for `address`'s host.
    pub fn new(address: &str, tls: bool, ca: Option<&Path>) -> anyhow::Result<Endpoint> {
        let host = address
            .rsplit_once(':')
            .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
            .filter(|h| !h.is_empty())
            .ok_or_else(|| anyhow::anyhow!("{address:?} is not host:port"))?;
        if !tls {
            return Ok(Endpoint {
                address: address.to_string(),
                tls: None,
            });
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        if let Some(ca) = ca {
            let certs = CertificateDer::pem_file_iter(ca)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", ca.display()))?;
            for cert in certs {
                let cert = cert.map_err(|e| anyhow::anyhow!("{}: {e}", ca.display()))?;
                roots
                    .add(cert)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", ca.display()))?;
            }
        }
        if roots.is_empty() {
            anyhow::bail!("no certificate authority to check {address} with: set `ca`");
        }
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name =
            ServerName::try_from(host.to_string()).map_err(|e| anyhow::anyhow!("{host}: {e}"))?;
        Ok(Endpoint {
            address: address.to_string(),
            tls: Some((Arc::new(config), name)),
        })
    }

    /// Connects (and shakes hands), within a bounded time.
    pub async fn connect(&self) -> Result<Box<dyn Stream>, String> {
        let attempt = async {
            let tcp = TcpStream::connect(&self.address)
                .await
                .map_err(|e| format!("cannot connect to {}: {e}", self.address))?;
            let _ = tcp.set_nodelay(true);
            match &self.tls {
                None => Ok(Box::new(tcp) as Box<dyn Stream>),
                Some((config, name)) => {
                    let tls = tokio_rustls::TlsConnector::from(config.clone())
                        .connect(name.clone(), tcp)
                        .await
                        .map_err(|e| format!("TLS with {}: {e}", self.address))?;
                    Ok(Box::new(tls) as Box<dyn Stream>)
                }
            }
        };
        tokio::time::timeout(CONNECT_TIMEOUT, attempt)
            .await
            .map_err(|_| format!("connecting to {} timed out", self.address))?
    }
}

/// Bytes written to `tcp` that the receiver's kernel has not acknowledged yet (SIOCOUTQ).
pub fn unacknowledged(tcp: &TcpStream) -> usize {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ on sockets) writes one int through the pointer given.
    let rc = unsafe { libc::ioctl(tcp.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    if rc == 0 {
        n.max(0) as usize
    } else {
        0
    }
}

/// What the receiver did with its side of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// Nothing: still there.
    Open,
    /// It closed after reading everything it was sent (FIN; TLS: close_notify, then EOF).
    Closed,
    /// It reset the connection: it closed with bytes it had not read (a kernel answers a close
    /// with unread data with a reset), or the connection broke.
    Reset,
}

/// What the receiver did, looking without waiting more than a moment. A receiver of logs
/// sends nothing, so anything readable is its close or an error; a session ticket after a TLS
/// handshake is read and ignored.
pub async fn peer(stream: &mut Box<dyn Stream>) -> Peer {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await {
            Err(_) => return Peer::Open,
            Ok(Ok(0)) => return Peer::Closed,
            Ok(Err(_)) => return Peer::Reset,
            Ok(Ok(_)) => continue,
        }
    }
}
