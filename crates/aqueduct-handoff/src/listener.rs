//! [`HandoffListener`]: a server listener whose connections arrive by hand-off.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Buf as _, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::{HandedConnection, Handoff, HandoffReceiver, PeerPolicy};

/// Connections received but not yet accepted by the server.
const BACKLOG: usize = 64;
/// Senders connected at once; more wait to be accepted.
const MAX_SENDERS: usize = 64;

/// An [`aqueduct::Listener`] whose connections are handed over by other
/// processes through a Unix socket: serve it like any listener.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// let listener = aqueduct_handoff::HandoffListener::bind("/run/app/handoff.sock")?;
/// aqueduct::Server::builder()
///     // .add_service(...)
///     .serve(listener)
///     .await
/// # }
/// ```
///
/// Each sender is checked against the [`PeerPolicy`] when it connects. A
/// sender whose message is malformed is disconnected (its descriptors closed)
/// and logged; the listener goes on with the others. Listeners and files
/// handed to it are closed and logged: it takes connections only.
#[derive(Debug)]
pub struct HandoffListener {
    incoming: mpsc::Receiver<(TcpStream, Bytes, SocketAddr)>,
    /// Accepts senders and runs one reader per sender; aborted on drop.
    _tasks: JoinSet<()>,
}

impl HandoffListener {
    /// Listens for senders at `path` (a Unix socket path that must not exist
    /// yet), admitting only processes of this user.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::bind_with(path, PeerPolicy::default())
    }

    /// Listens for senders at `path`, admitting those `policy` allows.
    pub fn bind_with(path: impl AsRef<Path>, policy: PeerPolicy) -> io::Result<Self> {
        Ok(Self::from_unix(UnixListener::bind(path)?, policy))
    }

    /// Receives from senders connecting to `listener`.
    #[must_use]
    pub fn from_unix(listener: UnixListener, policy: PeerPolicy) -> Self {
        let (tx, incoming) = mpsc::channel(BACKLOG);
        let mut tasks = JoinSet::new();
        tasks.spawn(accept_senders(listener, policy, tx));
        Self {
            incoming,
            _tasks: tasks,
        }
    }
}

async fn accept_senders(
    listener: UnixListener,
    policy: PeerPolicy,
    tx: mpsc::Sender<(TcpStream, Bytes, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_SENDERS));
    let mut senders = JoinSet::new();
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = tokio::select! {
            accepted = listener.accept() => accepted,
            () = tx.closed() => return,
        };
        let stream = match stream {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "hand-off: accepting a sender failed");
                continue;
            }
        };
        // Reap finished readers so the set does not grow.
        while senders.try_join_next().is_some() {}
        let policy = policy.clone();
        let tx = tx.clone();
        senders.spawn(async move {
            read_sender(stream, &policy, tx).await;
            drop(slot);
        });
    }
}

async fn read_sender(
    stream: UnixStream,
    policy: &PeerPolicy,
    tx: mpsc::Sender<(TcpStream, Bytes, SocketAddr)>,
) {
    let Ok(mut receiver) = HandoffReceiver::new(stream, policy) else {
        return; // refused and logged
    };
    loop {
        match receiver.recv().await {
            Ok(Some(Handoff::Connection(conn))) => match into_tokio(conn) {
                Ok(accepted) => {
                    if tx.send(accepted).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "hand-off: a handed-off connection is unusable")
                }
            },
            Ok(Some(Handoff::Listener(named) | Handoff::File(named))) => {
                tracing::warn!(
                    name = named.name,
                    "hand-off: a listener takes connections only; closed the descriptor"
                );
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "hand-off: disconnected a sender");
                return;
            }
        }
    }
}

fn into_tokio(conn: HandedConnection) -> io::Result<(TcpStream, Bytes, SocketAddr)> {
    conn.socket.set_nonblocking(true)?;
    let stream = TcpStream::from_std(conn.socket)?;
    stream.set_nodelay(true)?;
    Ok((stream, conn.peeked, conn.peer))
}

impl aqueduct::Listener for HandoffListener {
    type Io = Prefixed<TcpStream>;

    async fn accept(&mut self) -> io::Result<(Prefixed<TcpStream>, Option<SocketAddr>)> {
        match self.incoming.recv().await {
            Some((stream, peeked, peer)) => Ok((Prefixed::new(peeked, stream), Some(peer))),
            None => Err(io::Error::other("the hand-off listener stopped")),
        }
    }
}

/// A stream that reads `prefix` first, then from the inner stream; writes go
/// straight to the inner stream.
#[derive(Debug)]
pub struct Prefixed<S> {
    prefix: Bytes,
    inner: S,
}

impl<S> Prefixed<S> {
    /// Reads `prefix`, then `inner`.
    pub fn new(prefix: Bytes, inner: S) -> Self {
        Self { prefix, inner }
    }

    /// The inner stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.prefix.is_empty() {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        let n = self.prefix.len().min(buf.remaining());
        buf.put_slice(self.prefix.get(..n).unwrap_or_default());
        self.prefix.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
