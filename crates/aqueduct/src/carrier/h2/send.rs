//! Sending DATA through HTTP/2 flow control.
//!
//! h2's `send_data` buffers whatever it is given. Every send here first waits for
//! capacity that h2 has granted from the peer's window, so a slow reader stalls the
//! sender instead of growing a buffer.

use std::task::{Context, Poll, ready};

use ::h2::SendStream;
use bytes::Bytes;

use crate::status::Status;

/// Sends all of `data`, a piece at a time as capacity is granted, the last piece
/// with `END_STREAM` when `end_stream` is set. On `Pending`, `data` holds what is
/// left to send.
pub(crate) fn poll_send_data(
    stream: &mut SendStream<Bytes>,
    data: &mut Bytes,
    end_stream: bool,
    cx: &mut Context<'_>,
) -> Poll<Result<(), Status>> {
    if data.is_empty() && end_stream {
        if let Err(e) = stream.send_data(Bytes::new(), true) {
            return Poll::Ready(Err(Status::from_h2(&e)));
        }
        return Poll::Ready(Ok(()));
    }
    while !data.is_empty() {
        let mut cap = stream.capacity();
        if cap == 0 {
            stream.reserve_capacity(data.len());
            cap = stream.capacity();
        }
        if cap == 0 {
            match ready!(stream.poll_capacity(cx)) {
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Poll::Ready(Err(Status::from_h2(&e))),
                None => return Poll::Ready(Err(stream_closed(stream, cx))),
            }
        }
        let chunk = data.split_to(cap.min(data.len()));
        if let Err(e) = stream.send_data(chunk, end_stream && data.is_empty()) {
            return Poll::Ready(Err(Status::from_h2(&e)));
        }
    }
    Poll::Ready(Ok(()))
}

/// The status for a stream that can no longer send.
fn stream_closed(stream: &mut SendStream<Bytes>, cx: &mut Context<'_>) -> Status {
    match stream.poll_reset(cx) {
        Poll::Ready(Ok(::h2::Reason::CANCEL)) => Status::cancelled("the peer cancelled the stream"),
        Poll::Ready(Ok(reason)) => {
            Status::unavailable(format!("the peer reset the stream: {reason}"))
        }
        Poll::Ready(Err(e)) => Status::from_h2(&e),
        Poll::Pending => Status::unavailable("the stream is closed"),
    }
}
