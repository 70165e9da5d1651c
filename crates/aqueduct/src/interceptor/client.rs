//! Client interceptors: code that sees each call a [`Channel`](crate::Channel)
//! makes before it goes out, and its end.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::time::Instant;

use super::{CallEnd, MessageHook, MessageHooks};
use crate::metadata::MetadataMap;
use crate::status::{Code, Status};

/// Sees each call a channel makes before it is sent, and its end.
///
/// Added with [`ChannelBuilder::intercept`](crate::ChannelBuilder::intercept) or
/// [`Channel::intercept`](crate::Channel::intercept); they run in the order
/// added, and see the end in the reverse order.
///
/// ```
/// use aqueduct::interceptor::{CallEnd, ClientCallInfo, ClientInterceptor};
/// use aqueduct::Status;
///
/// /// Tags every call with the client's name, and logs how it ended.
/// struct Tag;
///
/// impl ClientInterceptor for Tag {
///     async fn on_call(&self, call: &mut ClientCallInfo<'_>) -> Result<(), Status> {
///         call.metadata_mut()
///             .insert("x-client", "billing")
///             .map_err(|e| Status::internal(e.to_string()))
///     }
///
///     fn on_end(&self, end: &CallEnd<'_>) {
///         println!("{} -> {:?}", end.method(), end.code());
///     }
/// }
/// ```
pub trait ClientInterceptor: Send + Sync + 'static {
    /// Runs before the call is sent. An `Err` fails the call with that status
    /// before anything is sent; the interceptors after this one do not run.
    fn on_call(
        &self,
        call: &mut ClientCallInfo<'_>,
    ) -> impl Future<Output = Result<(), Status>> + Send {
        let _ = call;
        async { Ok(()) }
    }

    /// Runs once the call has ended, for every interceptor whose `on_call` ran:
    /// with the final status; `CANCELLED` when the caller dropped the call (or
    /// its response stream) before the end.
    fn on_end(&self, end: &CallEnd<'_>) {
        let _ = end;
    }
}

/// What a client interceptor sees of a call before it is sent.
#[derive(Debug)]
pub struct ClientCallInfo<'a> {
    pub(crate) method: &'a str,
    pub(crate) metadata: &'a mut MetadataMap,
    pub(crate) deadline: Option<Instant>,
    pub(crate) messages: &'a mut Vec<Box<dyn MessageHook>>,
}

impl ClientCallInfo<'_> {
    /// The full method name, as in `/helloworld.v1.GreeterService/SayHello`.
    #[must_use]
    pub fn method(&self) -> &str {
        self.method
    }

    /// The request metadata.
    #[must_use]
    pub fn metadata(&self) -> &MetadataMap {
        self.metadata
    }

    /// The request metadata, to add to or change.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        self.metadata
    }

    /// The call's deadline (its own timeout, or the one inherited from the call
    /// being served); `None` when it has none.
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Wraps the call's message streams: `hook` sees each request message before
    /// it is sent and each response message before the caller does. Received
    /// messages pass the hooks in the order of their interceptors, sent ones in
    /// the reverse order.
    pub fn wrap_messages(&mut self, hook: impl MessageHook) {
        self.messages.push(Box::new(hook));
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`ClientInterceptor`] in a form that can be stored in a chain.
pub(crate) trait DynClientInterceptor: Send + Sync + 'static {
    fn on_call_boxed<'a>(
        &'a self,
        call: &'a mut ClientCallInfo<'_>,
    ) -> BoxFuture<'a, Result<(), Status>>;
    fn on_end_dyn(&self, end: &CallEnd<'_>);
}

impl<I: ClientInterceptor> DynClientInterceptor for I {
    fn on_call_boxed<'a>(
        &'a self,
        call: &'a mut ClientCallInfo<'_>,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(self.on_call(call))
    }

    fn on_end_dyn(&self, end: &CallEnd<'_>) {
        self.on_end(end);
    }
}

/// A channel's interceptors, in the order added.
pub(crate) type ClientChain = Arc<[Arc<dyn DynClientInterceptor>]>;

/// One client call's interceptors: run `on_call` with [`start`](Self::start),
/// and owed an `on_end` from then on, which [`end`](Self::end) delivers; dropped
/// before that, the call was abandoned and they see `CANCELLED`.
pub(crate) struct ClientHooks {
    chain: ClientChain,
    method: &'static str,
    ran: usize,
    started: Instant,
    /// The message hooks the interceptors installed, if any.
    pub(crate) messages: Option<Arc<MessageHooks>>,
}

impl ClientHooks {
    pub(crate) fn new(chain: ClientChain, method: &'static str) -> Box<Self> {
        Box::new(Self {
            chain,
            method,
            ran: 0,
            started: Instant::now(),
            messages: None,
        })
    }

    /// Runs the chain's `on_call` in order until one refuses the call.
    pub(crate) async fn start(
        &mut self,
        metadata: &mut MetadataMap,
        deadline: Option<Instant>,
    ) -> Result<(), Status> {
        let mut messages = Vec::new();
        let mut info = ClientCallInfo {
            method: self.method,
            metadata,
            deadline,
            messages: &mut messages,
        };
        let chain = self.chain.clone();
        for interceptor in chain.iter() {
            self.ran += 1;
            interceptor.on_call_boxed(&mut info).await?;
        }
        self.messages = MessageHooks::shared(messages);
        Ok(())
    }

    /// Delivers `on_end` with the call's final code, innermost first, once.
    pub(crate) fn end(&mut self, code: Code) {
        let end = CallEnd {
            method: self.method,
            code,
            duration: self.started.elapsed(),
            span: None,
        };
        for interceptor in self.chain.iter().take(self.ran).rev() {
            interceptor.on_end_dyn(&end);
        }
        // Delivered: dropping the hooks now owes nothing.
        self.ran = 0;
    }
}

impl Drop for ClientHooks {
    fn drop(&mut self) {
        self.end(Code::Cancelled);
    }
}

impl std::fmt::Debug for ClientHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientHooks")
            .field("method", &self.method)
            .field("ran", &self.ran)
            .finish_non_exhaustive()
    }
}
