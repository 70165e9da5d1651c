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

use crate::preface::AckStrip;
use crate::{HandedConnection, Handoff, HandoffReceiver, PeerPolicy};

/// Connections received but not yet accepted by the server.
const BACKLOG: usize = 64;
/// Senders connected at once; more wait to be accepted.
const MAX_SENDERS: usize = 64;
/// Bytes read from the socket at a time while a SETTINGS ACK is looked for.
const STRIP_CHUNK: usize = 4096;

/// A handed-off connection waiting for the server to accept it: the socket,
/// the peeked bytes, the peer, and whether the sender wrote the server preface.
type Incoming = (TcpStream, Bytes, SocketAddr, bool);

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
/// A connection whose sender wrote the HTTP/2 server preface
/// ([`HandoffSender::send_connection_after_preface`](crate::HandoffSender::send_connection_after_preface),
/// as `aqueduct route` does) is served through
/// [`Prefixed::after_server_preface`]: the server never sees the client's
/// acknowledgement of SETTINGS it did not send.
///
/// A TLS connection handed over unterminated (as `aqueduct route` hands
/// connections it routes by server name) replays its ClientHello first:
/// serve the listener with TLS (`ServerBuilder::tls`), and the server's
/// handshake runs as if it had accepted the connection.
///
/// Each sender is checked against the [`PeerPolicy`] when it connects. A
/// sender whose message is malformed is disconnected (its descriptors closed)
/// and logged; the listener goes on with the others. Listeners and files
/// handed to it are closed and logged: it takes connections only.
#[derive(Debug)]
pub struct HandoffListener {
    incoming: mpsc::Receiver<Incoming>,
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

async fn accept_senders(listener: UnixListener, policy: PeerPolicy, tx: mpsc::Sender<Incoming>) {
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

async fn read_sender(stream: UnixStream, policy: &PeerPolicy, tx: mpsc::Sender<Incoming>) {
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

fn into_tokio(conn: HandedConnection) -> io::Result<Incoming> {
    conn.socket.set_nonblocking(true)?;
    let stream = TcpStream::from_std(conn.socket)?;
    stream.set_nodelay(true)?;
    Ok((stream, conn.peeked, conn.peer, conn.preface_sent))
}

impl aqueduct::Listener for HandoffListener {
    type Io = Prefixed<TcpStream>;

    async fn accept(&mut self) -> io::Result<(Prefixed<TcpStream>, Option<SocketAddr>)> {
        match self.incoming.recv().await {
            Some((stream, peeked, peer, false)) => Ok((Prefixed::new(peeked, stream), Some(peer))),
            Some((stream, peeked, peer, true)) => {
                Ok((Prefixed::after_server_preface(peeked, stream), Some(peer)))
            }
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
    /// Drops the client's ACK of a front's SETTINGS, until it has; boxed, as
    /// most connections never need it.
    strip: Option<Box<AckStrip>>,
}

impl<S> Prefixed<S> {
    /// Reads `prefix`, then `inner`.
    pub fn new(prefix: Bytes, inner: S) -> Self {
        Self {
            prefix,
            inner,
            strip: None,
        }
    }

    /// Reads `prefix`, then `inner`, for an HTTP/2 connection to which the
    /// sender wrote the server preface
    /// ([`SERVER_PREFACE`](crate::peek::SERVER_PREFACE)), `prefix` being the
    /// bytes it read from the connection's start: the client's first SETTINGS
    /// acknowledgement, which answers that preface, is left out, wherever it
    /// comes. Bytes are looked at (and copied once more) only until then.
    pub fn after_server_preface(prefix: Bytes, inner: S) -> Self {
        let mut strip = AckStrip::new();
        let mut kept = Vec::with_capacity(prefix.len());
        strip.feed(&prefix, &mut kept);
        Self {
            prefix: kept.into(),
            inner,
            strip: (!strip.is_done()).then(|| Box::new(strip)),
        }
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
        let this = &mut *self;
        loop {
            if !this.prefix.is_empty() {
                let n = this.prefix.len().min(buf.remaining());
                buf.put_slice(this.prefix.get(..n).unwrap_or_default());
                this.prefix.advance(n);
                return Poll::Ready(Ok(()));
            }
            let Some(strip) = this.strip.as_mut() else {
                return Pin::new(&mut this.inner).poll_read(cx, buf);
            };
            // Still looking for the ACK: read into our own buffer, keep what
            // passes as the new prefix, and go round (a read that only held
            // back or dropped bytes must not look like the end of the stream).
            let mut chunk = [0; STRIP_CHUNK];
            let mut read = ReadBuf::new(&mut chunk);
            std::task::ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let mut kept = Vec::with_capacity(read.filled().len());
            let eof = read.filled().is_empty();
            if eof {
                strip.finish(&mut kept);
            } else {
                strip.feed(read.filled(), &mut kept);
            }
            if strip.is_done() {
                this.strip = None;
            }
            this.prefix = kept.into();
            if eof && this.prefix.is_empty() {
                return Poll::Ready(Ok(()));
            }
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;
    use crate::peek::PREFACE;
    use crate::testing::frame;

    const ACK: [u8; 9] = [0, 0, 0, 4, 1, 0, 0, 0, 0];

    /// Reads `prefixed` to its end, while `writes` go into the other end of
    /// its socket one by one (most reads see them apart; the bytes read must
    /// not depend on how they are split).
    async fn read_all(prefix: Vec<u8>, writes: Vec<Vec<u8>>) -> Vec<u8> {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let mut prefixed = Prefixed::after_server_preface(prefix.into(), server);
        let writer = tokio::spawn(async move {
            let mut client = client;
            for w in writes {
                client.write_all(&w).await.unwrap();
                client.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        let mut out = Vec::new();
        let read = prefixed.read_to_end(&mut out);
        tokio::time::timeout(std::time::Duration::from_secs(10), read)
            .await
            .unwrap()
            .unwrap();
        writer.await.unwrap();
        out
    }

    fn start() -> Vec<u8> {
        let mut start = PREFACE.to_vec();
        start.extend(frame(4, 0, 0, &[0, 3, 0, 0, 0, 100]));
        start.extend(frame(1, 4, 1, b"\x83\x86"));
        start
    }

    #[tokio::test]
    async fn an_ack_in_the_peeked_bytes_is_left_out() {
        let mut peeked = PREFACE.to_vec();
        peeked.extend(frame(4, 0, 0, &[]));
        let mut expected = peeked.clone();
        peeked.extend(ACK);
        let headers = frame(1, 4, 1, b"\x83\x86");
        peeked.extend(&headers);
        expected.extend(&headers);
        let later = frame(0, 1, 1, b"\0\0\0\0\0");
        expected.extend(&later);
        assert_eq!(read_all(peeked, vec![later]).await, expected);
    }

    #[tokio::test]
    async fn an_ack_read_from_the_socket_later_is_left_out() {
        let data = frame(0, 0, 1, &[9; 40_000]);
        let window = frame(8, 0, 0, &1000u32.to_be_bytes());
        // DATA first, the ACK alone in its own write, split in two, then more.
        let writes = vec![
            data.clone(),
            ACK[..4].to_vec(),
            ACK[4..].to_vec(),
            window.clone(),
            ACK.to_vec(),
        ];
        let mut expected = start();
        expected.extend(&data);
        expected.extend(&window);
        // The second ACK answers the backend's SETTINGS: it stays.
        expected.extend(ACK);
        assert_eq!(read_all(start(), writes).await, expected);
    }

    #[tokio::test]
    async fn a_connection_that_ends_before_its_ack_reads_to_its_end() {
        let cut = ACK[..5].to_vec();
        let mut expected = start();
        expected.extend(&cut);
        assert_eq!(read_all(start(), vec![cut]).await, expected);
    }
}
