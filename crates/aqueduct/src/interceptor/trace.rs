//! [`Trace`]: a `tracing` span per call, with request ids carried through.

use std::fmt;

use tracing::field::Empty;

use super::{CallEnd, CallInfo, Interceptor};
use crate::metadata::MetadataMap;
use crate::status::Status;

/// Server interceptor: runs each call in a `tracing` span and logs its end.
///
/// The span is named `grpc` (level INFO) with the fields `rpc.method`, `peer`
/// (when the transport has an address), `request_id`, and, recorded at the end,
/// `grpc.code` and `duration_us`; an INFO event `call ended` is logged inside
/// it. The handler runs in the span, so its own events carry the same fields.
///
/// **Request ids.** When the call carries the request-id metadata key
/// (`x-request-id` unless set with [`request_id_key`](Self::request_id_key)),
/// its value is recorded in the span, echoed in the response headers, put in the
/// call's extensions as a [`RequestId`] for the handler, and propagated: every
/// call the handler makes while serving this one carries it too (see
/// [`CallInfo::propagated_mut`]), so one id follows a request through every
/// service it touches.
///
/// ```
/// use aqueduct::interceptor::Trace;
///
/// let trace = Trace::new().request_id_key("x-correlation-id");
/// // Server::builder().intercept(trace) ...
/// # drop(trace);
/// ```
#[derive(Clone)]
#[must_use]
pub struct Trace {
    request_id_key: String,
}

/// The request id of the call being served, as [`Trace`] found it in the
/// metadata; read it in a handler with
/// `request.extensions().get::<RequestId>()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl Trace {
    /// Spans for every call; request ids under `x-request-id`.
    pub fn new() -> Self {
        Self {
            request_id_key: "x-request-id".to_owned(),
        }
    }

    /// The metadata key that carries request ids.
    ///
    /// # Panics
    ///
    /// If `key` is not a valid ASCII metadata key (lower-case, not reserved, no
    /// `-bin` suffix): a programming error, caught when the server is built.
    pub fn request_id_key(mut self, key: &str) -> Self {
        let valid = MetadataMap::new().insert(key, "x").is_ok();
        assert!(valid, "{key:?} is not a valid ASCII metadata key");
        self.request_id_key = key.to_owned();
        self
    }
}

impl Default for Trace {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("request_id_key", &self.request_id_key)
            .finish()
    }
}

impl Interceptor for Trace {
    async fn on_call(&self, call: &mut CallInfo<'_>) -> Result<(), Status> {
        let key = self.request_id_key.as_str();
        let request_id = call.metadata().get(key).map(str::to_owned);
        let span = tracing::info_span!(
            "grpc",
            rpc.method = call.method(),
            peer = Empty,
            request_id = Empty,
            grpc.code = Empty,
            duration_us = Empty,
        );
        if let Some(peer) = call.remote_addr() {
            span.record("peer", tracing::field::display(peer));
        }
        if let Some(id) = request_id {
            span.record("request_id", id.as_str());
            // The key was checked when it was set, and the value arrived as
            // valid metadata: these inserts cannot fail.
            let _ = call.response_headers_mut().insert(key, &id);
            let _ = call.propagated_mut().insert(key, &id);
            call.extensions_mut().insert(RequestId(id));
        }
        if !span.is_disabled() {
            call.set_span(span);
        }
        Ok(())
    }

    fn on_end(&self, end: &CallEnd<'_>) {
        let micros = u64::try_from(end.duration().as_micros()).unwrap_or(u64::MAX);
        if let Some(span) = end.span() {
            span.record("grpc.code", end.code() as i32);
            span.record("duration_us", micros);
        }
        // Inside the call's span: the server enters it for `on_end`.
        tracing::info!(
            rpc.method = end.method(),
            grpc.code = ?end.code(),
            duration_us = micros,
            "call ended"
        );
    }
}
