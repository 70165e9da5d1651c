//! The memory pipe: connections between a listener and dialers in the same
//! process, with no port and no socket path to collide.
//!
//! Each connection is a pair of bounded in-memory byte pipes (tokio's
//! [`duplex`](tokio::io::duplex)), so everything above the bytes — HTTP/2 framing,
//! HPACK, flow control, message encoding — runs exactly as it does over TCP. A
//! writer that fills its pipe waits for the reader, shutting down the write half
//! is end-of-file for the peer, and dropping one end is end-of-file (reads) and
//! a broken pipe (writes) for the other.
//!
//! A listener is either named, reachable from anywhere in the process as
//! `mem://name` (for example through [`Channel::from_uri`](crate::Channel::from_uri)),
//! or anonymous, reachable only through the [`MemoryConnector`] it hands out.
//!
//! ```
//! # async fn demo() -> std::io::Result<()> {
//! use aqueduct::transport::memory::{self, MemoryListener};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let mut listener = MemoryListener::bind("orders")?;
//! let mut client = memory::connect("orders").await?;
//! let mut server = listener.accept().await?;
//! client.write_all(b"ping").await?;
//! let mut buf = [0; 4];
//! server.read_exact(&mut buf).await?;
//! assert_eq!(&buf, b"ping");
//! # Ok(())
//! # }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{LazyLock, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::sync::mpsc;

/// Bytes each direction of a memory connection holds before its writer waits:
/// the same order as a loopback socket's buffer.
pub const DEFAULT_PIPE_CAPACITY: usize = 256 * 1024;

/// Connections dialed but not yet accepted, per listener. A dialer beyond it waits
/// for the listener to accept (or for its own timeout), like a full TCP backlog.
pub const DEFAULT_BACKLOG: usize = 128;

/// Longest listener name, in bytes.
pub const MAX_NAME_LEN: usize = 253;

/// The named listeners of this process.
static REGISTRY: LazyLock<Mutex<HashMap<Box<str>, Endpoint>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

fn registry() -> MutexGuard<'static, HashMap<Box<str>, Endpoint>> {
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where dialers hand new connections to a listener.
#[derive(Clone)]
struct Endpoint {
    queue: mpsc::Sender<MemoryStream>,
    capacity: usize,
}

/// A listener for memory connections. Serve it with
/// [`ServerBuilder::serve`](crate::ServerBuilder::serve).
///
/// Dropping it closes it: its name is free again, connections dialed but not yet
/// accepted see end-of-file, and further dials fail with `ConnectionRefused`.
pub struct MemoryListener {
    incoming: mpsc::Receiver<MemoryStream>,
    endpoint: Endpoint,
    name: Option<Box<str>>,
}

impl MemoryListener {
    /// Listens on `mem://name`. `name` may be given with or without the `mem://`
    /// prefix; it is 1 to 253 ASCII letters, digits, `.`, `-` or `_`.
    ///
    /// Fails with `AddrInUse` if another listener in this process has the name,
    /// and `InvalidInput` for a malformed name.
    pub fn bind(name: &str) -> io::Result<Self> {
        Self::bind_with(name, DEFAULT_PIPE_CAPACITY, DEFAULT_BACKLOG)
    }

    /// [`bind`](Self::bind) with a per-direction pipe capacity and a backlog.
    pub fn bind_with(name: &str, pipe_capacity: usize, backlog: usize) -> io::Result<Self> {
        let name = parse_name(name)?;
        let mut registry = registry();
        if registry.contains_key(name) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("mem://{name} already has a listener in this process"),
            ));
        }
        let mut listener = Self::unnamed(pipe_capacity, backlog);
        registry.insert(name.into(), listener.endpoint.clone());
        listener.name = Some(name.into());
        Ok(listener)
    }

    /// A listener with no name, reachable only through its
    /// [`connector`](Self::connector): nothing else in the process can dial it.
    #[must_use]
    pub fn anonymous() -> Self {
        Self::unnamed(DEFAULT_PIPE_CAPACITY, DEFAULT_BACKLOG)
    }

    fn unnamed(pipe_capacity: usize, backlog: usize) -> Self {
        let (queue, incoming) = mpsc::channel(backlog.max(1));
        Self {
            incoming,
            endpoint: Endpoint {
                queue,
                capacity: pipe_capacity.max(1),
            },
            name: None,
        }
    }

    /// The name this listener is reachable at (without `mem://`), if it has one.
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// A handle that dials this listener, named or not. It does not keep the
    /// listener open.
    #[must_use]
    pub fn connector(&self) -> MemoryConnector {
        MemoryConnector {
            queue: self.endpoint.queue.downgrade(),
            capacity: self.endpoint.capacity,
            name: self.name.clone(),
        }
    }

    /// Waits for the next connection.
    pub async fn accept(&mut self) -> io::Result<MemoryStream> {
        // The listener holds a sender itself, so the queue never reports closed.
        self.incoming
            .recv()
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::BrokenPipe, "memory listener closed"))
    }
}

impl Drop for MemoryListener {
    fn drop(&mut self) {
        if let Some(name) = &self.name {
            let mut registry = registry();
            if registry
                .get(name)
                .is_some_and(|e| e.queue.same_channel(&self.endpoint.queue))
            {
                registry.remove(name);
            }
        }
    }
}

impl fmt::Debug for MemoryListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryListener")
            .field("name", &self.name)
            .field("pipe_capacity", &self.endpoint.capacity)
            .finish_non_exhaustive()
    }
}

/// Dials one [`MemoryListener`]; from [`MemoryListener::connector`]. Cheap to
/// clone; does not keep the listener open.
#[derive(Clone)]
pub struct MemoryConnector {
    queue: mpsc::WeakSender<MemoryStream>,
    capacity: usize,
    name: Option<Box<str>>,
}

impl MemoryConnector {
    /// Opens a connection to the listener. Waits while the listener's backlog is
    /// full; drop the future to give up. Fails with `ConnectionRefused` once the
    /// listener is closed.
    pub async fn connect(&self) -> io::Result<MemoryStream> {
        let Some(queue) = self.queue.upgrade() else {
            return Err(self.closed());
        };
        dial(&queue, self.capacity).await.map_err(|_| self.closed())
    }

    fn closed(&self) -> io::Error {
        let what = self.name.as_deref().map_or_else(
            || "anonymous memory listener".to_owned(),
            |n| format!("mem://{n}"),
        );
        io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("{what} is closed"),
        )
    }

    /// Whether two connectors dial the same listener.
    pub(crate) fn same_listener(&self, other: &MemoryConnector) -> bool {
        match (self.queue.upgrade(), other.queue.upgrade()) {
            (Some(a), Some(b)) => a.same_channel(&b),
            _ => false,
        }
    }
}

impl fmt::Debug for MemoryConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryConnector")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Opens a connection to the listener on `mem://name` (the prefix is optional).
///
/// Fails with `ConnectionRefused` when no listener in this process has the name,
/// as dialing a TCP port nobody listens on does; waits while the listener's
/// backlog is full (drop the future to give up).
pub async fn connect(name: &str) -> io::Result<MemoryStream> {
    let name = parse_name(name)?;
    let endpoint = registry().get(name).cloned();
    let refused = || {
        io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("no listener on mem://{name} in this process"),
        )
    };
    let endpoint = endpoint.ok_or_else(refused)?;
    dial(&endpoint.queue, endpoint.capacity)
        .await
        .map_err(|_| refused())
}

async fn dial(
    queue: &mpsc::Sender<MemoryStream>,
    capacity: usize,
) -> Result<MemoryStream, mpsc::error::SendError<MemoryStream>> {
    let (ours, theirs) = tokio::io::duplex(capacity);
    queue.send(MemoryStream(theirs)).await?;
    Ok(MemoryStream(ours))
}

/// Checks a listener name and strips an optional `mem://` prefix.
pub(crate) fn parse_name(name: &str) -> io::Result<&str> {
    let name = name.strip_prefix("mem://").unwrap_or(name);
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if valid {
        Ok(name)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "invalid memory listener name {name:?}: use 1 to {MAX_NAME_LEN} ASCII letters, digits, '.', '-' or '_'"
            ),
        ))
    }
}

/// One end of a memory connection.
pub struct MemoryStream(DuplexStream);

impl fmt::Debug for MemoryStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStream").finish_non_exhaustive()
    }
}

impl AsyncRead for MemoryStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for MemoryStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn bytes_flow_both_ways_and_shutdown_is_eof() {
        let mut listener = MemoryListener::anonymous();
        let connector = listener.connector();
        let mut client = connector.connect().await.unwrap();
        let mut server = listener.accept().await.unwrap();
        client.write_all(b"hello").await.unwrap();
        client.shutdown().await.unwrap();
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"hello");
        server.write_all(b"back").await.unwrap();
        drop(server);
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"back");
    }

    #[tokio::test]
    async fn a_full_pipe_makes_the_writer_wait() {
        let mut listener = MemoryListener::bind_with("pipe-backpressure", 16, 1).unwrap();
        let mut client = connect("pipe-backpressure").await.unwrap();
        let mut server = listener.accept().await.unwrap();
        client.write_all(&[7; 16]).await.unwrap();
        // The pipe holds 16 bytes: one more cannot be written until the reader reads.
        let more = [8; 1];
        let mut write = std::pin::pin!(client.write_all(&more));
        assert!(futures_poll_once(write.as_mut()).await.is_pending());
        let mut buf = [0; 16];
        server.read_exact(&mut buf).await.unwrap();
        write.await.unwrap();
        let mut one = [0; 1];
        server.read_exact(&mut one).await.unwrap();
        assert_eq!(one, [8]);
    }

    async fn futures_poll_once<F: std::future::Future + Unpin>(mut f: F) -> Poll<F::Output> {
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut f).poll(cx))).await
    }

    #[tokio::test]
    async fn names_are_unique_and_freed_on_drop() {
        let listener = MemoryListener::bind("mem://unique-name").unwrap();
        let err = MemoryListener::bind("unique-name").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        assert!(err.to_string().contains("mem://unique-name"), "{err}");
        drop(listener);
        let again = MemoryListener::bind("unique-name").unwrap();
        assert_eq!(again.name(), Some("unique-name"));
    }

    #[tokio::test]
    async fn unknown_and_closed_listeners_refuse() {
        let err = connect("nobody-listens-here").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        assert!(
            err.to_string().contains("mem://nobody-listens-here"),
            "{err}"
        );

        let listener = MemoryListener::bind("closes-soon").unwrap();
        let connector = listener.connector();
        drop(listener);
        let err = connector.connect().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        let err = connect("closes-soon").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    }

    #[tokio::test]
    async fn pending_connections_see_eof_when_the_listener_closes() {
        let listener = MemoryListener::anonymous();
        let mut client = listener.connector().connect().await.unwrap();
        drop(listener);
        let mut buf = [0; 1];
        assert_eq!(client.read(&mut buf).await.unwrap(), 0);
        assert!(client.write_all(b"x").await.is_err());
    }

    #[tokio::test]
    async fn a_full_backlog_makes_the_dialer_wait_and_cancel_cleanly() {
        let mut listener = MemoryListener::bind_with("small-backlog", 1024, 1).unwrap();
        let connector = listener.connector();
        let _first = connector.connect().await.unwrap();
        let mut second = std::pin::pin!(connector.connect());
        assert!(futures_poll_once(second.as_mut()).await.is_pending());
        // Accepting the first frees the slot; the waiting dialer gets through.
        let _accepted = listener.accept().await.unwrap();
        let _second = second.await.unwrap();
        // A dialer that gives up leaves nothing behind.
        let third = tokio::time::timeout(std::time::Duration::ZERO, connector.connect()).await;
        assert!(third.is_err());
        let _accepted_second = listener.accept().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_connections_at_once_each_get_their_own_bytes() {
        let mut listener = MemoryListener::bind("many-connections").unwrap();
        let server = tokio::spawn(async move {
            let mut echoes = tokio::task::JoinSet::new();
            for _ in 0..200 {
                let mut conn = listener.accept().await.unwrap();
                echoes.spawn(async move {
                    let mut buf = Vec::new();
                    conn.read_to_end(&mut buf).await.unwrap();
                    conn.write_all(&buf).await.unwrap();
                });
            }
            while let Some(done) = echoes.join_next().await {
                done.unwrap();
            }
        });
        let mut clients = tokio::task::JoinSet::new();
        for i in 0..200u32 {
            clients.spawn(async move {
                let mut conn = connect("many-connections").await.unwrap();
                let sent = i.to_be_bytes().repeat(1000);
                conn.write_all(&sent).await.unwrap();
                conn.shutdown().await.unwrap();
                let mut back = Vec::new();
                conn.read_to_end(&mut back).await.unwrap();
                assert_eq!(back, sent, "connection {i} got someone else's bytes");
            });
        }
        while let Some(done) = clients.join_next().await {
            done.unwrap();
        }
        server.await.unwrap();
    }

    #[test]
    fn bad_names_are_invalid_input() {
        for name in ["", "mem://", "has space", "slash/inside", &"x".repeat(254)] {
            let err = parse_name(name).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{name:?}");
        }
        assert_eq!(parse_name("mem://a.b-c_d").unwrap(), "a.b-c_d");
    }
}
