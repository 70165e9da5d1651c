//! Server interceptors: code that sees each call before its handler runs, and
//! its end.
//!
//! An interceptor can reject a call with a [`Status`] (the handler never runs),
//! change the request metadata, add response headers and trailers, and put typed
//! values into the call's extensions, which later interceptors and the handler
//! read by type ([`Request::extensions`](crate::Request::extensions)). When the
//! call has ended it sees the final status code and the duration, for logs and
//! metrics.
//!
//! Interceptors are scoped when they are added: to the whole server
//! ([`ServerBuilder::intercept`](crate::ServerBuilder::intercept)), to one
//! service, or to one method of it
//! ([`ServerBuilder::add_service_with`](crate::ServerBuilder::add_service_with)).
//! They run outermost first — server-wide, then service, then method, each in
//! the order added — and see the end in the reverse order.
//!
//! ```
//! use aqueduct::interceptor::{CallEnd, CallInfo, Interceptor};
//! use aqueduct::Status;
//!
//! /// Refuses calls without a tenant, and hands the tenant to the handler.
//! struct Tenant;
//!
//! #[derive(Clone)]
//! struct TenantId(String);
//!
//! impl Interceptor for Tenant {
//!     async fn on_call(&self, call: &mut CallInfo<'_>) -> Result<(), Status> {
//!         let tenant = call
//!             .metadata()
//!             .get("x-tenant")
//!             .ok_or_else(|| Status::unauthenticated("x-tenant is missing"))?
//!             .to_owned();
//!         call.extensions_mut().insert(TenantId(tenant));
//!         Ok(())
//!     }
//!
//!     fn on_end(&self, end: &CallEnd<'_>) {
//!         println!("{} -> {:?} in {:?}", end.method(), end.code(), end.duration());
//!     }
//! }
//! ```

use std::any::Any;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::metadata::MetadataMap;
use crate::status::{Code, Status};

mod auth;
#[cfg(feature = "tls")]
mod authz;
mod client;
mod deadline;
mod server;
mod trace;

pub use auth::{BearerAuth, BearerToken};
#[cfg(feature = "tls")]
pub use authz::IdentityPolicy;
pub use client::{ClientCallInfo, ClientInterceptor};
pub(crate) use client::{ClientChain, ClientHooks, DynClientInterceptor};
pub use deadline::DeadlinePolicy;
pub(crate) use server::{HeadParts, ServerHooks};
pub use trace::{RequestId, Trace};

/// Sees each call before its handler, and its end. See the [module](self) docs.
pub trait Interceptor: Send + Sync + 'static {
    /// Runs before the handler, after the request head has arrived (before the
    /// request message is read). An `Err` ends the call with that status; the
    /// handler and the interceptors after this one do not run.
    fn on_call(&self, call: &mut CallInfo<'_>) -> impl Future<Output = Result<(), Status>> + Send {
        let _ = call;
        async { Ok(()) }
    }

    /// Runs once the call has ended, however it ended, for every interceptor whose
    /// `on_call` ran.
    fn on_end(&self, end: &CallEnd<'_>) {
        let _ = end;
    }
}

/// What an interceptor sees of a call before its handler runs.
#[derive(Debug)]
pub struct CallInfo<'a> {
    pub(crate) method: &'a str,
    pub(crate) metadata: &'a mut MetadataMap,
    pub(crate) deadline: &'a mut Option<Instant>,
    pub(crate) peer: &'a crate::request::Peer,
    pub(crate) extensions: &'a mut http::Extensions,
    pub(crate) response_headers: &'a mut MetadataMap,
    pub(crate) response_trailers: &'a mut MetadataMap,
    /// Created on first use: most interceptors ask for none of it.
    pub(crate) extra: &'a mut Option<Box<CallExtra>>,
}

/// What interceptors asked of a call beyond its head: message hooks, metadata
/// for outgoing calls, a span.
#[derive(Default)]
pub(crate) struct CallExtra {
    pub(crate) messages: Vec<Box<dyn MessageHook>>,
    pub(crate) propagated: MetadataMap,
    pub(crate) span: Option<tracing::Span>,
}

impl CallInfo<'_> {
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

    /// The request metadata, to change what later interceptors and the handler see.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        self.metadata
    }

    /// The call's deadline; `None` when the client set none.
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        *self.deadline
    }

    /// Replaces the call's deadline: the server enforces the new one, the handler
    /// sees it, and calls the handler makes inherit it. Used by
    /// [`DeadlinePolicy`] to give calls without one a default.
    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        *self.deadline = deadline;
    }

    /// The peer's address, when the transport has one (TCP).
    #[must_use]
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.peer.addr
    }

    /// The TLS connection the call came on: protocol, cipher, and the
    /// client's verified certificate and identity (see
    /// [`IdentityPolicy`]). `None` for a call that did not come over TLS.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn peer_tls(&self) -> Option<&crate::tls::TlsInfo> {
        self.peer.tls.as_deref()
    }

    /// Typed values for later interceptors and the handler.
    #[must_use]
    pub fn extensions(&self) -> &http::Extensions {
        self.extensions
    }

    /// Typed values for later interceptors and the handler: insert one per type.
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        self.extensions
    }

    /// Response headers to send (with the handler's own).
    pub fn response_headers_mut(&mut self) -> &mut MetadataMap {
        self.response_headers
    }

    /// Trailers to send when the call ends, whatever its status (with the
    /// handler's own).
    pub fn response_trailers_mut(&mut self) -> &mut MetadataMap {
        self.response_trailers
    }

    /// Wraps the call's message streams: `hook` sees each request message before
    /// the handler does, and each response message before it is sent, and may
    /// change or refuse it. Hooks run in the order of their interceptors for
    /// received messages, and in the reverse order for sent ones (the outermost
    /// interceptor is the one nearest the wire both ways).
    pub fn wrap_messages(&mut self, hook: impl MessageHook) {
        self.extra().messages.push(Box::new(hook));
    }

    /// Metadata that every call the handler makes while serving this call carries
    /// (through any [`Channel`](crate::Channel), like the deadline; not calls
    /// made [`detached`](crate::CallOptions::detached), and not keys the call sets
    /// itself). For request ids, tenant ids and other baggage.
    pub fn propagated_mut(&mut self) -> &mut MetadataMap {
        &mut self.extra().propagated
    }

    /// Instruments the call with `span`: the handler runs inside it, and so do
    /// the interceptors' [`on_end`](Interceptor::on_end) hooks. The last span set
    /// wins. [`Trace`] uses it.
    pub fn set_span(&mut self, span: tracing::Span) {
        self.extra().span = Some(span);
    }

    fn extra(&mut self) -> &mut CallExtra {
        self.extra.get_or_insert_with(Box::default)
    }
}

impl std::fmt::Debug for CallExtra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallExtra")
            .field("messages", &self.messages.len())
            .field("propagated", &self.propagated)
            .field("span", &self.span)
            .finish()
    }
}

impl CallExtra {
    /// What the interceptors asked for, settled once their `on_call` ran;
    /// `None` when they asked for nothing.
    pub(crate) fn settle(self) -> Option<Arc<Attached>> {
        let messages = MessageHooks::shared(self.messages);
        (messages.is_some() || !self.propagated.is_empty() || self.span.is_some()).then(|| {
            Arc::new(Attached {
                messages,
                propagated: self.propagated,
                span: self.span,
            })
        })
    }
}

/// What interceptors attached to a server call, shared by the parts that use
/// it: the request side (message hooks), the handler's context (propagated
/// metadata, span) and the response writer (message hooks, the span `on_end`
/// runs in).
#[derive(Debug)]
pub(crate) struct Attached {
    pub(crate) messages: Option<Arc<MessageHooks>>,
    pub(crate) propagated: MetadataMap,
    pub(crate) span: Option<tracing::Span>,
}

/// Sees, and may change or refuse, each message of one call as it passes.
///
/// Installed per call by an interceptor's `on_call`, with
/// [`CallInfo::wrap_messages`] on the server or
/// [`ClientCallInfo::wrap_messages`] on a client; it lives as long as the call,
/// so it can keep per-call state (counts, sizes, a rate).
///
/// ```
/// use aqueduct::interceptor::{AnyMessage, MessageHook};
/// use aqueduct::Status;
///
/// /// Refuses messages over 1 KiB, in either direction.
/// struct SmallOnly;
///
/// impl MessageHook for SmallOnly {
///     fn on_receive(&mut self, message: &mut dyn AnyMessage) -> Result<(), Status> {
///         self.on_send(message)
///     }
///
///     fn on_send(&mut self, message: &mut dyn AnyMessage) -> Result<(), Status> {
///         if message.encoded_len() > 1024 {
///             return Err(Status::invalid_argument(format!(
///                 "{} is over 1 KiB",
///                 message.type_name()
///             )));
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait MessageHook: Send + 'static {
    /// Each message received (on the server, a request; on a client, a
    /// response), decoded, before the handler or the caller sees it. An `Err`
    /// is what the reader gets instead of the message, and ends the inbound
    /// stream; a unary handler then does not run, and the call ends with it.
    fn on_receive(&mut self, message: &mut dyn AnyMessage) -> Result<(), Status> {
        let _ = message;
        Ok(())
    }

    /// Each message about to be sent (on the server, a response; on a client,
    /// a request), before it is encoded. An `Err` is what the sender gets
    /// instead of sending; on the server it also ends the call with that status.
    fn on_send(&mut self, message: &mut dyn AnyMessage) -> Result<(), Status> {
        let _ = message;
        Ok(())
    }
}

impl std::fmt::Debug for dyn MessageHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageHook")
    }
}

/// A message of any type, as a [`MessageHook`] sees it: its size, its type's
/// name, and the message itself by downcasting to the generated type.
///
/// ```
/// use aqueduct::interceptor::AnyMessage;
///
/// #[derive(Clone, PartialEq, prost::Message)]
/// struct Note {
///     #[prost(string, tag = "1")]
///     text: String,
/// }
///
/// let mut note = Note { text: "hi".into() };
/// let any: &mut dyn AnyMessage = &mut note;
/// assert_eq!(any.encoded_len(), 4);
/// if let Some(note) = any.downcast_mut::<Note>() {
///     note.text.make_ascii_uppercase();
/// }
/// assert_eq!(note.text, "HI");
/// ```
pub trait AnyMessage: Any + Send {
    /// The message's encoded size in bytes (before compression and framing).
    fn encoded_len(&self) -> usize;

    /// The Rust type's name, for logs.
    fn type_name(&self) -> &'static str;

    /// The message as [`Any`].
    fn as_any(&self) -> &dyn Any;

    /// The message as [`Any`], mutably.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: prost::Message + 'static> AnyMessage for T {
    fn encoded_len(&self) -> usize {
        prost::Message::encoded_len(self)
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl dyn AnyMessage {
    /// Whether the message is a `T`.
    #[must_use]
    pub fn is<T: 'static>(&self) -> bool {
        self.as_any().is::<T>()
    }

    /// The message as a `T`, if it is one.
    #[must_use]
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        self.as_any().downcast_ref()
    }

    /// The message as a mutable `T`, if it is one.
    pub fn downcast_mut<T: 'static>(&mut self) -> Option<&mut T> {
        self.as_any_mut().downcast_mut()
    }
}

/// The message hooks of one call, shared by its inbound and outbound halves
/// (both used from the call's own task, so the lock is never contended).
pub(crate) struct MessageHooks(Mutex<Vec<Box<dyn MessageHook>>>);

impl std::fmt::Debug for MessageHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageHooks").finish_non_exhaustive()
    }
}

impl MessageHooks {
    /// The hooks, shared; `None` when there are none.
    pub(crate) fn shared(hooks: Vec<Box<dyn MessageHook>>) -> Option<Arc<Self>> {
        (!hooks.is_empty()).then(|| Arc::new(Self(Mutex::new(hooks))))
    }

    /// Runs every hook's `on_receive`, outermost first.
    pub(crate) fn received(&self, message: &mut dyn AnyMessage) -> Result<(), Status> {
        let mut hooks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        hooks.iter_mut().try_for_each(|h| h.on_receive(message))
    }

    /// Runs every hook's `on_send`, innermost first.
    pub(crate) fn sending(&self, message: &mut dyn AnyMessage) -> Result<(), Status> {
        let mut hooks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        hooks.iter_mut().rev().try_for_each(|h| h.on_send(message))
    }
}

/// How a call ended, as [`Interceptor::on_end`] sees it.
#[derive(Debug)]
pub struct CallEnd<'a> {
    pub(crate) method: &'a str,
    pub(crate) code: Code,
    pub(crate) duration: Duration,
    pub(crate) span: Option<&'a tracing::Span>,
}

impl CallEnd<'_> {
    /// The full method name.
    #[must_use]
    pub fn method(&self) -> &str {
        self.method
    }

    /// The final status code: what was sent to the client, or `CANCELLED` when
    /// the client went away first.
    #[must_use]
    pub fn code(&self) -> Code {
        self.code
    }

    /// Time from the request head's arrival (on a client: from the call's
    /// start) to the end of the call.
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The span an interceptor set for the call with [`CallInfo::set_span`]
    /// (entered while `on_end` runs), to record the outcome in.
    #[must_use]
    pub fn span(&self) -> Option<&tracing::Span> {
        self.span
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// [`Interceptor`] in a form that can be stored in a chain.
pub(crate) trait DynInterceptor: Send + Sync + 'static {
    fn on_call_boxed<'a>(&'a self, call: &'a mut CallInfo<'_>)
    -> BoxFuture<'a, Result<(), Status>>;
    fn on_end_dyn(&self, end: &CallEnd<'_>);
}

impl<I: Interceptor> DynInterceptor for I {
    fn on_call_boxed<'a>(
        &'a self,
        call: &'a mut CallInfo<'_>,
    ) -> BoxFuture<'a, Result<(), Status>> {
        Box::pin(self.on_call(call))
    }

    fn on_end_dyn(&self, end: &CallEnd<'_>) {
        self.on_end(end);
    }
}

/// The interceptors of one route, outermost first, with the route's method:
/// one pointer in each call to the route, and nothing to allocate per call.
pub(crate) type Chain = Arc<RouteChain>;

/// See [`Chain`].
pub(crate) struct RouteChain {
    pub(crate) method: &'static str,
    pub(crate) interceptors: Vec<Arc<dyn DynInterceptor>>,
}
