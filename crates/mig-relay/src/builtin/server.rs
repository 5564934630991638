//! Server side of the built-in relay: accepts agents over WebSocket on mutual TLS, checks
//! their identity, delivers their queued commands, and hands heartbeats and results to the
//! server through [`Backend`].

use crate::protocol::{verify_hello, AgentMessage, ServerMessage};
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use mig_core::{Agent, Command, ScheduledRun};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Raises this process's open-file limit to its hard limit: every agent connection is a
/// descriptor, and the usual soft limit (1024) is far below a relay's load. Returns the limit.
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the local struct only.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur;
            }
        }
    }
    lim.rlim_cur
}
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tracing::{debug, info, warn};

/// What the server does with what agents send. Implemented by mig-server.
pub trait Backend: Send + Sync + 'static {
    /// An agent proved it holds `publickey`: register it (or refuse, with the reason).
    fn register(
        &self,
        agent: Agent,
        publickey: String,
        peer: SocketAddr,
    ) -> impl Future<Output = Result<u64, String>> + Send;
    /// A heartbeat from a connected agent: record it.
    fn heartbeat(&self, agent_id: u64, agent: Agent) -> impl Future<Output = ()> + Send;
    /// A result: store it, then acknowledge it through the hub.
    fn result(&self, agent_id: u64, command: Command) -> impl Future<Output = ()> + Send;
    /// A scheduled run: store it, then acknowledge it through the hub (`runack`).
    fn run(&self, agent_id: u64, run: ScheduledRun) -> impl Future<Output = ()> + Send;
    /// Commands waiting for the agent, as command JSON.
    fn pending(&self, agent_id: u64) -> impl Future<Output = Vec<String>> + Send;
}

/// How the relay's listener takes agents.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// The server's TLS configuration, which should require the agents' client certificate.
    pub tls: Arc<rustls::ServerConfig>,
    /// The largest message taken from an agent, in bytes; a larger one ends its connection.
    pub max_message: usize,
    /// How long each step of accepting an agent may take: TLS, WebSocket, hello.
    pub handshake_timeout: Duration,
    /// The server pings every agent this often; an agent silent for three periods is dropped.
    pub ping_interval: Duration,
}

/// A connected agent: the connection's generation, and its outgoing frames.
type Connections = HashMap<u64, (u64, mpsc::Sender<String>)>;

/// The agents connected to this process, and a way to send to each.
#[derive(Clone, Default)]
pub struct Hub {
    inner: Arc<Mutex<Connections>>,
    generation: Arc<AtomicU64>,
}

impl Hub {
    /// Queues a text frame for an agent; false if it is not connected here (or too slow).
    pub fn send(&self, agent_id: u64, frame: String) -> bool {
        let tx = self.lock().get(&agent_id).map(|(_, tx)| tx.clone());
        match tx {
            Some(tx) => tx.try_send(frame).is_ok(),
            None => false,
        }
    }

    /// Whether the agent is connected to this process.
    pub fn is_connected(&self, agent_id: u64) -> bool {
        self.lock().contains_key(&agent_id)
    }

    /// How many agents are connected to this process.
    pub fn connected(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connections> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn insert(&self, agent_id: u64, tx: mpsc::Sender<String>) -> u64 {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        // A newer connection of the same agent replaces the old one (whose writer then ends).
        self.lock().insert(agent_id, (generation, tx));
        generation
    }

    fn remove(&self, agent_id: u64, generation: u64) {
        let mut map = self.lock();
        if map.get(&agent_id).is_some_and(|(g, _)| *g == generation) {
            map.remove(&agent_id);
        }
    }
}

/// Accepts agents until the listener fails. Each connection runs in its own task, TLS
/// handshake included, so a slow or hostile client never blocks the accept loop.
pub async fn serve<B: Backend>(
    listener: TcpListener,
    settings: ServerSettings,
    backend: Arc<B>,
    hub: Hub,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(settings.tls.clone());
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                warn!("relay: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, settings, backend, hub) = (
            acceptor.clone(),
            settings.clone(),
            backend.clone(),
            hub.clone(),
        );
        tokio::spawn(async move {
            if let Err(e) = handle(tcp, peer, acceptor, settings, backend, hub).await {
                debug!("relay: connection from {peer} ended: {e}");
            }
        });
    }
}

async fn handle<B: Backend>(
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: tokio_rustls::TlsAcceptor,
    settings: ServerSettings,
    backend: Arc<B>,
    hub: Hub,
) -> Result<(), String> {
    let timeout = settings.handshake_timeout;
    // A refused handshake (no client certificate, another CA's) is worth an operator's
    // attention: logged at info with who tried.
    let tls = match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            info!("relay: TLS handshake with {peer} refused: {e}");
            return Err(format!("TLS handshake failed: {e}"));
        }
        Err(_) => {
            info!("relay: TLS handshake with {peer} timed out");
            return Err("TLS handshake timed out".into());
        }
    };
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(settings.max_message);
    config.max_frame_size = Some(settings.max_message);
    let ws = tokio::time::timeout(
        timeout,
        tokio_tungstenite::accept_async_with_config(tls, Some(config)),
    )
    .await
    .map_err(|_| "WebSocket handshake timed out".to_string())?
    .map_err(|e| format!("WebSocket handshake failed: {e}"))?;
    let (mut sink, mut stream) = ws.split();

    let nonce: [u8; 32] = rand::random();
    let challenge = ServerMessage::Challenge {
        nonce: base64::engine::general_purpose::STANDARD.encode(nonce),
    };
    send_json(&mut sink, &challenge).await?;
    let hello = tokio::time::timeout(timeout, stream.next())
        .await
        .map_err(|_| "no hello before the timeout".to_string())?
        .ok_or("closed before hello")?
        .map_err(|e| format!("reading hello: {e}"))?;
    let Message::Text(text) = hello else {
        return Err("expected a hello text frame".into());
    };
    let (agent, publickey, signature) = match serde_json::from_str::<AgentMessage>(&text) {
        Ok(AgentMessage::Hello {
            agent,
            publickey,
            signature,
        }) => (agent, publickey, signature),
        Ok(_) => return refuse(&mut sink, "expected hello".into()).await,
        Err(e) => return refuse(&mut sink, format!("malformed hello: {e}")).await,
    };
    if let Err(e) = verify_hello(&nonce, &publickey, &signature, &agent.queueloc) {
        return refuse(&mut sink, e).await;
    }
    let queueloc = agent.queueloc.clone();
    let agent_id = match backend.register(*agent, publickey, peer).await {
        Ok(id) => id,
        Err(e) => return refuse(&mut sink, e).await,
    };
    send_json(&mut sink, &ServerMessage::Welcome { agent_id }).await?;
    info!("relay: agent {queueloc} ({agent_id}) connected from {peer}");

    let (tx, mut rx) = mpsc::channel::<String>(4096);
    let generation = hub.insert(agent_id, tx.clone());
    for frame in backend.pending(agent_id).await {
        if tx
            .send(crate::protocol::command_frame(&frame))
            .await
            .is_err()
        {
            break;
        }
    }
    drop(tx);

    let ping_interval = settings.ping_interval;
    let writer = tokio::spawn(async move {
        let mut ping = tokio::time::interval(ping_interval);
        ping.tick().await;
        loop {
            tokio::select! {
                frame = rx.recv() => match frame {
                    Some(f) => if sink.send(Message::text(f)).await.is_err() { break },
                    None => break,
                },
                _ = ping.tick() => if sink.send(Message::Ping(Vec::new().into())).await.is_err() { break },
            }
        }
        let _ = sink.close().await;
    });

    let idle_limit = ping_interval * 3;
    let outcome = loop {
        let next = match tokio::time::timeout(idle_limit, stream.next()).await {
            Err(_) => break format!("agent {queueloc} silent for {idle_limit:?}"),
            Ok(None) => break "closed".to_string(),
            Ok(Some(Err(e))) => break format!("agent {queueloc}: {e}"),
            Ok(Some(Ok(m))) => m,
        };
        match next {
            Message::Text(text) => match serde_json::from_str::<AgentMessage>(&text) {
                Ok(AgentMessage::Heartbeat { agent }) => backend.heartbeat(agent_id, *agent).await,
                Ok(AgentMessage::Result { command }) => backend.result(agent_id, *command).await,
                Ok(AgentMessage::Run { run }) => backend.run(agent_id, *run).await,
                Ok(AgentMessage::Hello { .. }) => {
                    warn!("relay: agent {queueloc} sent a second hello; ignored")
                }
                Err(e) => warn!("relay: malformed message from agent {queueloc} dropped: {e}"),
            },
            Message::Close(_) => break "closed by the agent".to_string(),
            Message::Binary(_) => warn!("relay: binary frame from agent {queueloc} dropped"),
            _ => {}
        }
    };
    hub.remove(agent_id, generation);
    writer.abort();
    info!("relay: agent {queueloc} ({agent_id}) disconnected: {outcome}");
    Ok(())
}

type Sink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_rustls::server::TlsStream<tokio::net::TcpStream>>,
    Message,
>;

async fn send_json(sink: &mut Sink, msg: &ServerMessage) -> Result<(), String> {
    let text = serde_json::to_string(msg).map_err(|e| e.to_string())?;
    sink.send(Message::text(text))
        .await
        .map_err(|e| format!("send: {e}"))
}

async fn refuse(sink: &mut Sink, reason: String) -> Result<(), String> {
    warn!("relay: agent refused: {reason}");
    let _ = send_json(
        sink,
        &ServerMessage::Error {
            message: reason.clone(),
        },
    )
    .await;
    let _ = sink.close().await;
    Err(reason)
}
