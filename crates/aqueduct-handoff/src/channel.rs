//! Sending and receiving messages with descriptors over a tokio `UnixStream`,
//! through tokio's readiness: no thread ever blocks in a syscall.

use std::collections::VecDeque;
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use bytes::{Buf as _, Bytes, BytesMut};
use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use tokio::io::Interest;
use tokio::net::UnixStream;

use crate::wire::{self, FDS_PER_MESSAGE, Frame, HEADER, MAX_PAYLOAD};
use crate::{HandedConnection, Handoff, Named, PeerPolicy};

/// Descriptors one read may bring: one message's worth. A sender that attaches
/// more has them truncated by the kernel (`MSG_CTRUNC`) or refused: the
/// channel closes.
const FDS_PER_READ: usize = FDS_PER_MESSAGE;
/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 16 * 1024;

/// The sending end of a hand-off channel.
#[derive(Debug)]
pub struct HandoffSender {
    stream: UnixStream,
}

impl HandoffSender {
    /// Connects to a receiver's Unix socket at `path`.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Self::new(UnixStream::connect(path).await?))
    }

    /// Sends over an already connected stream.
    #[must_use]
    pub fn new(stream: UnixStream) -> Self {
        Self { stream }
    }

    /// Closes the sending direction: the receiver's next `recv` returns
    /// `None` once it has read everything sent. The stream stays open for
    /// reading (a successor's "ready" travels back on it).
    pub(crate) async fn finish(&mut self) -> io::Result<()> {
        tokio::io::AsyncWriteExt::shutdown(&mut self.stream).await
    }

    /// The stream, to read a reply on.
    pub(crate) fn stream_mut(&mut self) -> &mut UnixStream {
        &mut self.stream
    }

    /// Hands over a connected TCP socket, with the bytes already read from it
    /// (at most [`MAX_PEEKED`](crate::MAX_PEEKED)) and its addresses. The
    /// receiver serves it from where the peeked bytes end. Close your copy of
    /// the socket afterwards (drop it), or both processes hold the connection.
    pub async fn send_connection(
        &mut self,
        socket: impl AsFd,
        peeked: &[u8],
        local: SocketAddr,
        peer: SocketAddr,
    ) -> io::Result<()> {
        self.send_handed(socket.as_fd(), peeked, local, peer, false)
            .await
    }

    /// Hands over an HTTP/2 connection to which this process has written the
    /// server preface ([`SERVER_PREFACE`](crate::peek::SERVER_PREFACE), a
    /// SETTINGS frame of defaults and a 100-stream limit) and nothing else, as a front must before most
    /// clients send a request. `peeked` are the bytes read from its start.
    /// The receiver drops the client's acknowledgement of those SETTINGS,
    /// wherever it comes (in `peeked` or later), so its HTTP/2 stack sees
    /// only acknowledgements of its own. Otherwise as
    /// [`send_connection`](Self::send_connection).
    pub async fn send_connection_after_preface(
        &mut self,
        socket: impl AsFd,
        peeked: &[u8],
        local: SocketAddr,
        peer: SocketAddr,
    ) -> io::Result<()> {
        self.send_handed(socket.as_fd(), peeked, local, peer, true)
            .await
    }

    /// Sends one connection, saying whether the server preface went out.
    async fn send_handed(
        &mut self,
        socket: BorrowedFd<'_>,
        peeked: &[u8],
        local: SocketAddr,
        peer: SocketAddr,
        preface_sent: bool,
    ) -> io::Result<()> {
        let frame = Frame::Connection {
            local,
            peer,
            peeked,
            preface_sent,
        };
        self.send(&frame, socket).await
    }

    /// Hands over a listening socket under `name`.
    pub async fn send_listener(&mut self, name: &str, listener: impl AsFd) -> io::Result<()> {
        let frame = Frame::Listener { name };
        self.send(&frame, listener.as_fd()).await
    }

    /// Hands over any file (a `File`, a pipe, a socket...) under `name`.
    pub async fn send_file(&mut self, name: &str, file: impl AsFd) -> io::Result<()> {
        let frame = Frame::File { name };
        self.send(&frame, file.as_fd()).await
    }

    async fn send(&mut self, frame: &Frame<'_>, fd: BorrowedFd<'_>) -> io::Result<()> {
        let bytes =
            wire::encode(frame).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut sent = 0;
        while sent < bytes.len() {
            let rest = bytes.get(sent..).unwrap_or_default();
            // The descriptor rides on the message's first byte only; after a
            // partial write the rest goes without it.
            let attach = sent == 0;
            let n = self
                .stream
                .async_io(Interest::WRITABLE, || {
                    send_with_fd(&self.stream, rest, attach.then_some(fd))
                })
                .await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            sent += n;
        }
        Ok(())
    }
}

/// One `sendmsg`, with `fd` attached if given. `EAGAIN` comes back as
/// `WouldBlock`, which `async_io` turns into waiting for writability.
fn send_with_fd(
    stream: &UnixStream,
    bytes: &[u8],
    fd: Option<BorrowedFd<'_>>,
) -> io::Result<usize> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    let fds;
    if let Some(fd) = fd {
        fds = [fd];
        if !control.push(SendAncillaryMessage::ScmRights(&fds)) {
            return Err(io::Error::other(
                "descriptor does not fit the control buffer",
            ));
        }
    }
    let n = rustix::net::sendmsg(
        stream,
        &[IoSlice::new(bytes)],
        &mut control,
        SendFlags::NOSIGNAL,
    )?;
    Ok(n)
}

/// The receiving end of a hand-off channel.
#[derive(Debug)]
pub struct HandoffReceiver {
    stream: UnixStream,
    buf: BytesMut,
    /// Descriptors received whose message is not complete yet.
    fds: VecDeque<OwnedFd>,
}

/// The most descriptors waiting for their message: more means the sender
/// attached descriptors to nothing.
const MAX_QUEUED_FDS: usize = 4;

impl HandoffReceiver {
    /// Receives over `stream` after checking the sending process against
    /// `policy` (`SO_PEERCRED`). A refused sender is logged and the stream
    /// closed before anything is read from it.
    pub fn new(stream: UnixStream, policy: &PeerPolicy) -> io::Result<Self> {
        let cred = stream.peer_cred()?;
        if !policy.admits(cred.uid()) {
            tracing::warn!(
                uid = cred.uid(),
                pid = cred.pid(),
                "hand-off: refused a sender its user is not allowed"
            );
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("hand-off sender uid {} is not allowed", cred.uid()),
            ));
        }
        Ok(Self {
            stream,
            buf: BytesMut::with_capacity(READ_CHUNK),
            fds: VecDeque::new(),
        })
    }

    /// The stream, to answer the sender on (descriptors not yet paired with a
    /// message are closed).
    pub(crate) fn into_stream(self) -> UnixStream {
        self.stream
    }

    /// The next message, or `None` when the sender closed the channel between
    /// messages. A malformed message, a truncated one at EOF, or descriptors
    /// that do not match the messages are errors; the caller should drop the
    /// receiver, which closes every descriptor it still holds.
    pub async fn recv(&mut self) -> io::Result<Option<Handoff>> {
        loop {
            if let Some((frame, used)) = wire::decode(&self.buf).map_err(invalid)? {
                // The kernel delivers a message's descriptor with its first
                // byte, so a complete message has its descriptor here.
                let fd = self
                    .fds
                    .pop_front()
                    .ok_or_else(|| invalid("a hand-off message arrived without its descriptor"))?;
                let handoff = into_handoff(frame, fd);
                self.buf.advance(used);
                return handoff.map(Some);
            }
            if self.buf.len() >= HEADER + MAX_PAYLOAD {
                return Err(invalid("hand-off message larger than the protocol allows"));
            }
            let (n, fds, truncated) = self
                .stream
                .async_io(Interest::READABLE, || {
                    recv_with_fds(&self.stream, &mut self.buf)
                })
                .await?;
            // The kernel never joins two messages' descriptors in one read, so
            // more than one message's worth is a sender attaching extras (the
            // control buffer's alignment slack can let a few through without
            // MSG_CTRUNC). Dropping `fds` closes those that did arrive.
            if truncated || fds.len() > FDS_PER_READ {
                return Err(invalid(
                    "hand-off control data truncated (too many descriptors on one message)",
                ));
            }
            self.fds.extend(fds);
            if self.fds.len() > MAX_QUEUED_FDS {
                return Err(invalid("hand-off sender sent descriptors without messages"));
            }
            if n == 0 {
                return if self.buf.is_empty() && self.fds.is_empty() {
                    Ok(None)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "hand-off channel closed in the middle of a message",
                    ))
                };
            }
        }
    }
}

fn invalid(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// One `recvmsg` into the spare capacity of `buf`: bytes read, descriptors
/// received (close-on-exec, owned), and whether control data was truncated.
fn recv_with_fds(
    stream: &UnixStream,
    buf: &mut BytesMut,
) -> io::Result<(usize, Vec<OwnedFd>, bool)> {
    let mut chunk = [0u8; READ_CHUNK];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(FDS_PER_READ))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let msg = rustix::net::recvmsg(
        stream,
        &mut [IoSliceMut::new(&mut chunk)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    let mut fds = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    let n = msg.bytes.min(chunk.len());
    buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    Ok((n, fds, msg.flags.contains(ReturnFlags::CTRUNC)))
}

/// Pairs a frame with its descriptor, checking a connection's descriptor is a
/// stream socket.
fn into_handoff(frame: Frame<'_>, fd: OwnedFd) -> io::Result<Handoff> {
    Ok(match frame {
        Frame::Connection {
            local,
            peer,
            peeked,
            preface_sent,
        } => {
            let kind = rustix::net::sockopt::socket_type(&fd)
                .map_err(|_| invalid("a handed-off connection is not a socket"))?;
            if kind != rustix::net::SocketType::STREAM {
                return Err(invalid("a handed-off connection is not a stream socket"));
            }
            Handoff::Connection(HandedConnection {
                socket: std::net::TcpStream::from(fd),
                peeked: Bytes::copy_from_slice(peeked),
                local,
                peer,
                preface_sent,
            })
        }
        Frame::Listener { name } => Handoff::Listener(Named {
            name: name.to_owned(),
            fd,
        }),
        Frame::File { name } => Handoff::File(Named {
            name: name.to_owned(),
            fd,
        }),
    })
}
