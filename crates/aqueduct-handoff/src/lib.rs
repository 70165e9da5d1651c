//! Handing live connections between processes.
//!
//! A process accepts a TCP connection, perhaps reads its first bytes to decide
//! where it should go, and passes the live socket, with those bytes and its
//! addresses, over a Unix socket to another process, which serves it as if it
//! had accepted it. No byte is copied after the hand-off: the kernel moves the
//! descriptor (`SCM_RIGHTS`). Listening sockets and any file can be passed the
//! same way, which is how a new server process takes over an old one's
//! listener at restart without refusing a connection.
//!
//! ```text
//!  sender                                  receiver
//!  HandoffSender::send_connection ──unix──► HandoffReceiver::recv ──► Handoff::Connection
//!   (socket + peeked bytes + addrs)          (checks SO_PEERCRED)       HandoffListener ──► Server
//! ```
//!
//! - [`HandoffSender`] / [`HandoffReceiver`]: one message per descriptor, framed
//!   (see `wire`), sent and received through tokio's readiness (no thread ever
//!   parks in a syscall). Partial writes, `EAGAIN`, truncated control data
//!   (`MSG_CTRUNC`) and EOF are handled; received descriptors are close-on-exec
//!   and owned ([`OwnedFd`]), so every error path closes them.
//! - [`PeerPolicy`]: the receiver checks the sending process's user
//!   (`SO_PEERCRED`): by default only the same user may hand over descriptors.
//! - [`HandoffListener`]: an [`aqueduct::Listener`] fed by hand-offs; each
//!   connection replays its peeked bytes first, then reads the socket (less
//!   the client's ACK of the SETTINGS a front sent it, see [`route`]).
//! - [`peek`]: reads a connection's first gRPC request (`:path`,
//!   `:authority`) from its first bytes, for a front that routes by service.
//! - [`client_hello`]: reads a TLS connection's ClientHello (server name,
//!   ALPN) from its first bytes, without terminating TLS, for a front that
//!   routes by SNI.
//! - [`restart`]: a new process takes the running one's listening sockets over
//!   a control socket, and the old one stops accepting only once the new one
//!   is ready: restarts that refuse no connection.
//! - [`route`]: that front (`aqueduct route`): accepts TCP and tells TLS
//!   from plaintext by the first byte. Plaintext: sends the HTTP/2 server
//!   preface (most clients wait for it), peeks, hands each connection to the
//!   backend process that serves its service. TLS: reads the ClientHello,
//!   hands the connection, ClientHello and all, to the backend for its server
//!   name, which terminates TLS itself; the front holds no key.
//!
//! Every length and count from the peer is bounded (payload 64 KiB, peeked
//! bytes [`MAX_PEEKED`], names [`MAX_NAME`], one descriptor per message, a few
//! queued; a ClientHello [`client_hello::MAX_LEN`]), and a malformed message
//! closes the channel with an error, never a panic.
//!
//! # No `unsafe`
//!
//! `rustix` wraps `sendmsg`/`recvmsg` with `SCM_RIGHTS` and `SO_PEERCRED`
//! safely, handing received descriptors out as `OwnedFd`, so this crate keeps
//! the workspace's `forbid(unsafe_code)`.
//!
//! # Windows
//!
//! Not built; Linux (and Unix) only. On Windows the sender would call
//! `WSADuplicateSocketW` with the receiver's process id, producing a
//! `WSAPROTOCOL_INFOW` blob that it sends over any channel (a named pipe in
//! place of the Unix socket), with the peeked bytes and addresses as here; the
//! receiver passes the blob to `WSASocketW(FROM_PROTOCOL_INFO, ...)` to get its
//! own handle to the same socket, then closes nothing until the sender has
//! closed its copy. The receiver's process id must be known in advance (the
//! pipe's `GetNamedPipeClientProcessId` gives it), and the credential check
//! becomes the pipe's security descriptor. Files go by `DuplicateHandle`.

mod channel;
pub mod client_hello;
mod listener;
pub mod peek;
mod preface;
pub mod restart;
pub mod route;
mod wire;

use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use bytes::Bytes;

pub use channel::{HandoffReceiver, HandoffSender};

/// What the unit tests share.
#[cfg(test)]
mod testing {
    /// A small deterministic generator for fuzz-style tests, so failures
    /// reproduce.
    pub(crate) struct XorShift(pub(crate) u64);

    impl XorShift {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// One HTTP/2 frame's bytes, header and payload, from the test-support
    /// crate's frame DSL.
    pub(crate) fn frame(kind: u8, flags: u8, id: u32, payload: &[u8]) -> Vec<u8> {
        aqueduct_test_support::Frames::new()
            .frame(kind, flags, id, payload)
            .as_bytes()
            .to_vec()
    }
}

pub use listener::{HandoffListener, Prefixed};
pub use wire::{MAX_NAME, MAX_PEEKED, WireError};

/// What a [`HandoffReceiver`] received.
#[derive(Debug)]
pub enum Handoff {
    /// A live TCP connection.
    Connection(HandedConnection),
    /// A listening socket.
    Listener(Named),
    /// Any other file.
    File(Named),
}

/// A live TCP connection handed over by another process.
#[derive(Debug)]
pub struct HandedConnection {
    /// The socket (blocking mode as the sender left it; [`HandoffListener`]
    /// makes it non-blocking).
    pub socket: std::net::TcpStream,
    /// Bytes the sender already read from the socket: they come first.
    pub peeked: Bytes,
    /// The address the connection was accepted on.
    pub local: SocketAddr,
    /// The client's address.
    pub peer: SocketAddr,
    /// The sender wrote the HTTP/2 server preface to the client
    /// ([`HandoffSender::send_connection_after_preface`]): serve it through
    /// [`Prefixed::after_server_preface`], which drops the client's
    /// acknowledgement of it ([`HandoffListener`] does).
    pub preface_sent: bool,
}

/// A descriptor handed over under a name.
#[derive(Debug)]
pub struct Named {
    /// The name the sender gave.
    pub name: String,
    /// The descriptor, closed on drop.
    pub fd: OwnedFd,
}

/// Which sending processes a receiver accepts descriptors from, by user id.
#[derive(Debug, Clone, Default)]
pub enum PeerPolicy {
    /// Only processes of the receiver's own user (the default).
    #[default]
    SameUser,
    /// Processes of these users (add your own uid if it should be one).
    Users(Vec<u32>),
}

impl PeerPolicy {
    /// Whether a sender running as `uid` is admitted.
    #[must_use]
    pub fn admits(&self, uid: u32) -> bool {
        match self {
            Self::SameUser => uid == rustix::process::getuid().as_raw(),
            Self::Users(uids) => uids.contains(&uid),
        }
    }
}
