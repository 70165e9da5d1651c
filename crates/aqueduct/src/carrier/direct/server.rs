//! The server's side of a direct connection: a queue of calls, each run by the
//! same code as an HTTP/2 stream's.

use std::task::{Context, Poll};

use crate::carrier::{IncomingCall, RecvBody, Respond};
use crate::status::Status;

use super::{CallStopper, DirectCall, DirectConnection};

/// A client's direct connection as the server's connection loop drives it.
#[derive(Debug)]
pub(crate) struct Connection {
    calls: tokio::sync::mpsc::Receiver<DirectCall>,
    /// Handles to stop the calls taken, at the drain deadline. Pruned of
    /// finished calls as it grows.
    stoppers: Vec<CallStopper>,
    /// Most calls that run at once, for the pruning bound.
    max_running: usize,
}

impl Connection {
    pub(crate) fn new(conn: DirectConnection, max_running: usize) -> Self {
        Self {
            calls: conn.calls,
            stoppers: Vec::new(),
            max_running,
        }
    }

    /// The next call; at the handler cap (`accept` false) calls stay in the
    /// queue (bounded) until a handler ends. `None` once the client's channel
    /// is gone, or once draining has refused what was queued.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        accept: bool,
    ) -> Poll<Option<Result<IncomingCall, String>>> {
        if !accept {
            return Poll::Pending;
        }
        let Some(call) = std::task::ready!(self.calls.poll_recv(cx)) else {
            return Poll::Ready(None);
        };
        if self.stoppers.len() >= 2 * self.max_running.max(16) {
            self.stoppers.retain(|s| !s.is_done());
        }
        self.stoppers.push(call.stopper());
        Poll::Ready(Some(Ok(IncomingCall::Direct(call))))
    }

    /// No new calls from here: refuses what is queued, as GOAWAY refuses
    /// streams the server never started. Calls taken run to their end.
    pub(crate) fn drain(&mut self) {
        self.calls.close();
        while let Ok(call) = self.calls.try_recv() {
            refuse(call, "the server is shutting down");
        }
    }

    /// Past the drain deadline: stops every call still running.
    pub(crate) fn stop(self) {
        for stopper in &self.stoppers {
            stopper.stop();
        }
    }
}

impl DirectCall {
    /// The request and the response handle, carrier-neutral.
    pub(crate) fn into_call(self) -> (http::Request<RecvBody>, Respond) {
        let DirectCall {
            head,
            requests,
            responses,
        } = self;
        (
            head.map(|()| RecvBody::Direct(requests)),
            Respond::Direct(responses),
        )
    }

    /// Refuses a call over the handler cap.
    pub(crate) fn refuse(self) {
        refuse(self, "too many calls in flight");
    }
}

/// Answers a call the server will not run with `UNAVAILABLE`.
fn refuse(call: DirectCall, why: &str) {
    let mut response = http::Response::new(());
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(aqueduct_wire::CONTENT_TYPE),
    );
    Status::unavailable(why).write_trailers(headers);
    let _ = Respond::Direct(call.responses).send_response(response, true);
}
