//! Byte transports: what the server accepts connections from and what the client
//! dials. Everything above works on any `AsyncRead + AsyncWrite` stream.
//!
//! | transport | server listens on | client dials |
//! |---|---|---|
//! | TCP | `tokio::net::TcpListener` | `http://host:port` |
//! | Unix socket | `tokio::net::UnixListener` | `unix:/path` |
//! | memory pipe | [`MemoryListener`] | `mem://name`, or [`Channel::memory`](crate::Channel::memory) |

pub mod direct;
pub mod memory;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use memory::{MemoryConnector, MemoryListener, MemoryStream};

/// A source of incoming connections for [`ServerBuilder::serve`](crate::ServerBuilder::serve).
///
/// Implemented for tokio's `TcpListener` (with `TCP_NODELAY` set on each
/// connection), `UnixListener`, and [`MemoryListener`].
pub trait Listener: Send + 'static {
    /// The connection type.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Waits for the next connection and the peer's address, if it has one.
    fn accept(&mut self)
    -> impl Future<Output = io::Result<(Self::Io, Option<SocketAddr>)>> + Send;
}

impl Listener for TcpListener {
    type Io = TcpStream;

    async fn accept(&mut self) -> io::Result<(TcpStream, Option<SocketAddr>)> {
        let (stream, addr) = TcpListener::accept(self).await?;
        // gRPC messages are small and latency-bound: never wait to coalesce them.
        stream.set_nodelay(true)?;
        Ok((stream, Some(addr)))
    }
}

impl Listener for UnixListener {
    type Io = UnixStream;

    async fn accept(&mut self) -> io::Result<(UnixStream, Option<SocketAddr>)> {
        let (stream, _) = UnixListener::accept(self).await?;
        Ok((stream, None))
    }
}

impl Listener for MemoryListener {
    type Io = MemoryStream;

    async fn accept(&mut self) -> io::Result<(MemoryStream, Option<SocketAddr>)> {
        Ok((MemoryListener::accept(self).await?, None))
    }
}

/// Where a channel connects to.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    Tcp {
        host: String,
        port: u16,
    },
    Unix(std::path::PathBuf),
    /// A named memory listener, looked up at each dial.
    Memory(String),
    /// One memory listener, named or not.
    Connector(MemoryConnector),
    /// A direct-carrier listener: calls, not bytes (see [`direct`]).
    Direct(direct::DirectConnector),
}

impl PartialEq for Target {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Target::Tcp { host: h1, port: p1 }, Target::Tcp { host: h2, port: p2 }) => {
                h1 == h2 && p1 == p2
            }
            (Target::Unix(a), Target::Unix(b)) => a == b,
            (Target::Memory(a), Target::Memory(b)) => a == b,
            (Target::Connector(a), Target::Connector(b)) => a.same_listener(b),
            (Target::Direct(a), Target::Direct(b)) => a.same_listener(b),
            _ => false,
        }
    }
}

/// A client connection over any of the supported transports.
#[derive(Debug)]
pub(crate) enum ClientIo {
    Tcp(TcpStream),
    Unix(UnixStream),
    Memory(MemoryStream),
}

impl Target {
    pub(crate) async fn connect(&self) -> io::Result<ClientIo> {
        match self {
            Target::Tcp { host, port } => {
                let stream = TcpStream::connect((host.as_str(), *port)).await?;
                stream.set_nodelay(true)?;
                Ok(ClientIo::Tcp(stream))
            }
            Target::Unix(path) => Ok(ClientIo::Unix(UnixStream::connect(path).await?)),
            Target::Memory(name) => Ok(ClientIo::Memory(memory::connect(name).await?)),
            Target::Connector(connector) => Ok(ClientIo::Memory(connector.connect().await?)),
            Target::Direct(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the direct carrier carries calls, not a byte stream",
            )),
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            ClientIo::Tcp($s) => $e,
            ClientIo::Unix($s) => $e,
            ClientIo::Memory($s) => $e,
        }
    };
}

impl AsyncRead for ClientIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for ClientIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientIo::Tcp(s) => s.is_write_vectored(),
            ClientIo::Unix(s) => s.is_write_vectored(),
            ClientIo::Memory(s) => s.is_write_vectored(),
        }
    }
}
