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

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::metadata::MetadataMap;
use crate::status::{Code, Status};

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
    pub(crate) deadline: Option<Instant>,
    pub(crate) remote_addr: Option<SocketAddr>,
    pub(crate) extensions: &'a mut http::Extensions,
    pub(crate) response_headers: &'a mut MetadataMap,
    pub(crate) response_trailers: &'a mut MetadataMap,
}

impl CallInfo<'_> {
    /// The full method name, as in `/helloworld.v1.Greeter/SayHello`.
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
        self.deadline
    }

    /// The peer's address, when the transport has one (TCP).
    #[must_use]
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
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
}

/// How a call ended, as [`Interceptor::on_end`] sees it.
#[derive(Debug)]
pub struct CallEnd<'a> {
    pub(crate) method: &'a str,
    pub(crate) code: Code,
    pub(crate) duration: Duration,
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

    /// Time from the request head's arrival to the end of the call.
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.duration
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

/// The interceptors of one route, outermost first.
pub(crate) type Chain = Arc<[Arc<dyn DynInterceptor>]>;

/// Runs `chain`'s `on_call` in order until one refuses the call. `ran` counts
/// those that started (their `on_end` is owed, the refusing one's too), also
/// when the call is dropped midway.
pub(crate) async fn run_on_call(
    chain: &Chain,
    call: &mut CallInfo<'_>,
    ran: &mut usize,
) -> Result<(), Status> {
    for interceptor in chain.iter() {
        *ran += 1;
        interceptor.on_call_boxed(call).await?;
    }
    Ok(())
}

/// Runs `on_end` for the first `ran` interceptors of `chain`, innermost first.
pub(crate) fn run_on_end(chain: &Chain, ran: usize, end: &CallEnd<'_>) {
    for interceptor in chain.iter().take(ran).rev() {
        interceptor.on_end_dyn(end);
    }
}
