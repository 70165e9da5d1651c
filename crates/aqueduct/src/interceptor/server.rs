//! One server call's interceptors, as one value: run their `on_call` with
//! [`ServerHooks::start`], settle what they asked for, and owe them an
//! `on_end` from then on, which [`ServerHooks::end`] delivers. The server's
//! counterpart of [`ClientHooks`](super::ClientHooks).

use std::sync::Arc;

use tokio::time::Instant;

use super::{Attached, CallEnd, CallExtra, CallInfo, Chain, MessageHooks};
use crate::metadata::MetadataMap;
use crate::request::Peer;
use crate::status::{Code, Status};

/// What the interceptors of one call need from its start to its end.
pub(crate) struct ServerHooks {
    chain: Chain,
    /// How many interceptors' `on_call` started; they are owed an `on_end`.
    ran: usize,
    started: Instant,
    /// Response headers the interceptors added, until they join the writer's.
    headers: MetadataMap,
    trailers: MetadataMap,
    /// What the interceptors attached: message hooks for the response
    /// messages, the span `on_end` runs in.
    attached: Option<Arc<Attached>>,
    /// What the interceptors ask for while they run, once one asks (here
    /// rather than in the call future, which it would make bigger).
    extra: Option<Box<CallExtra>>,
    /// The call's deadline before the interceptors ran.
    deadline_before: Option<Instant>,
}

/// The request head the interceptors may read and change.
pub(crate) struct HeadParts<'a> {
    pub(crate) metadata: &'a mut MetadataMap,
    pub(crate) deadline: &'a mut Option<Instant>,
    pub(crate) peer: &'a Peer,
    pub(crate) extensions: &'a mut http::Extensions,
}

impl ServerHooks {
    pub(crate) fn boxed(chain: Chain, deadline: Option<Instant>) -> Box<Self> {
        Box::new(Self {
            chain,
            ran: 0,
            started: Instant::now(),
            headers: MetadataMap::new(),
            trailers: MetadataMap::new(),
            attached: None,
            extra: None,
            deadline_before: deadline,
        })
    }

    /// Runs the chain's `on_call` in order until one refuses the call. Those
    /// that started (the refusing one too) are owed an `on_end`, also when
    /// the call is dropped midway.
    pub(crate) async fn start(&mut self, head: HeadParts<'_>) -> Result<(), Status> {
        let mut info = CallInfo {
            method: self.chain.method,
            metadata: head.metadata,
            deadline: head.deadline,
            peer: head.peer,
            extensions: head.extensions,
            response_headers: &mut self.headers,
            response_trailers: &mut self.trailers,
            extra: &mut self.extra,
        };
        for interceptor in &self.chain.interceptors {
            self.ran += 1;
            interceptor.on_call_boxed(&mut info).await?;
        }
        Ok(())
    }

    /// After `on_call`: whether the interceptors changed the call's deadline
    /// to `now`, and what they attached (message hooks, a span), settled once
    /// and shared by the request side, the handler's context and the writer.
    pub(crate) fn settle(
        &mut self,
        deadline_now: Option<Instant>,
    ) -> (bool, Option<Arc<Attached>>) {
        let moved = deadline_now != self.deadline_before;
        let attached = self.extra.take().and_then(|extra| extra.settle());
        self.attached.clone_from(&attached);
        (moved, attached)
    }

    /// The response headers the interceptors added, taken for the writer.
    pub(crate) fn take_headers(&mut self) -> MetadataMap {
        std::mem::take(&mut self.headers)
    }

    /// The response trailers the interceptors added.
    pub(crate) fn trailers(&self) -> &MetadataMap {
        &self.trailers
    }

    /// The message hooks the interceptors installed, for response messages.
    pub(crate) fn messages(&self) -> Option<Arc<MessageHooks>> {
        self.attached.as_ref().and_then(|a| a.messages.clone())
    }

    /// Delivers `on_end` with the call's final code, innermost first, in the
    /// span an interceptor set.
    pub(crate) fn end(self, code: Code) {
        let span = self.attached.as_ref().and_then(|a| a.span.as_ref());
        let end = CallEnd {
            method: self.chain.method,
            code,
            duration: self.started.elapsed(),
            span,
        };
        let _entered = span.map(tracing::Span::enter);
        for interceptor in self.chain.interceptors.iter().take(self.ran).rev() {
            interceptor.on_end_dyn(&end);
        }
    }
}
