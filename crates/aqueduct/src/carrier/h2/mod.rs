//! The HTTP/2 carrier, on the `h2` crate: the server's side of a connection
//! (handshake, next stream, GOAWAY; the loop that drives it is the server's,
//! `server/conn.rs`), the client's dial and stream opening, sends through flow
//! control, and h2's errors in gRPC's words. With the enum variants in
//! `carrier/mod.rs` that hold its types, the only code of the crate that
//! names `h2`.

mod client;
mod error;
mod send;
mod server;

use std::task::{Context, Poll};

use bytes::Bytes;

use crate::status::Status;

pub(crate) use client::{Sender, dial, open};
pub(crate) use error::unprocessed;
pub(crate) use send::poll_send_data;
pub(crate) use server::{Accepted, Connection as ServerConnection, handshake};

/// The next chunk of a stream's body; `server` says the server reads it (a
/// `CANCEL` reset is then the client cancelling the call).
#[inline]
pub(super) fn poll_data(
    recv: &mut ::h2::RecvStream,
    cx: &mut Context<'_>,
    server: bool,
) -> Poll<Option<Result<Bytes, Status>>> {
    recv.poll_data(cx)
        .map(|chunk| chunk.map(|r| r.map_err(|e| error::body_error(&e, server))))
}
