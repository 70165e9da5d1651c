//! The four call kinds on the client side.

use std::fmt;
use std::future::{Future, poll_fn};
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, TE, USER_AGENT};
use http::uri::PathAndQuery;
use tokio::time::Instant;

use aqueduct_wire::compression::Encoding;
use aqueduct_wire::headers;

const GRPC_ACCEPT_ENCODING: HeaderName = HeaderName::from_static(headers::GRPC_ACCEPT_ENCODING);
const GRPC_ENCODING: HeaderName = HeaderName::from_static(headers::GRPC_ENCODING);
const GRPC_TIMEOUT: HeaderName = HeaderName::from_static(headers::GRPC_TIMEOUT);

use super::Channel;
use crate::carrier::{ResponseFuture, SendBody};
use crate::codec;
use crate::interceptor::{AnyMessage, ClientHooks, MessageHooks};
use crate::metadata::MetadataMap;
use crate::request::{CallOptions, Request, Response};
use crate::status::{Code, Status};
use crate::streaming::{ClientCall, ResponseStream, Streaming};

/// Attempts for a call whose stream the server refused unprocessed.
const MAX_REFUSED_RETRIES: u32 = 5;

const USER_AGENT_VALUE: &str = concat!("aqueduct/", env!("CARGO_PKG_VERSION"));

/// The outbound messages of a client-streaming or bidirectional call.
///
/// [`send`](Self::send) waits for HTTP/2 flow control. Dropping the sink, or
/// [`close`](Self::close), half-closes the request stream: the server sees the end of
/// its inbound messages.
///
/// When the server has already ended the call (an interceptor refused it, a
/// message was over its limit, or the handler simply returned), sending fails
/// with the call's final status: the code and message of the server's
/// trailers, the same status the response side reports. So `send(..).await?`
/// propagates `UNAUTHENTICATED`, say, and not a transport error that retry
/// logic would take for "try again". A call the server finished with `OK`
/// gives a status with code [`Code::Ok`]: the message was not sent, and the
/// response side has the result.
pub struct RequestSink<T> {
    stream: Option<SendBody>,
    /// The response side, shared: read ahead to the final status when a send
    /// fails.
    call: Arc<ClientCall>,
    encoding: Option<Encoding>,
    limit: usize,
    /// Messages fed but not yet flushed: several small messages share one DATA
    /// frame. Bounded: feeding flushes first once it holds `COALESCE_LIMIT`.
    out: BytesMut,
    /// Message hooks client interceptors installed, run on each message sent.
    messages: Option<Arc<MessageHooks>>,
    _marker: PhantomData<fn(T)>,
}

/// How many bytes of fed messages a [`RequestSink`] holds before feeding flushes.
const COALESCE_LIMIT: usize = 32 * 1024;

impl<T: prost::Message + 'static> RequestSink<T> {
    /// Sends one message (compressed if the call set compression): queues it and
    /// flushes, waiting for HTTP/2 flow control.
    ///
    /// An error means the stream can take no more messages. If the server
    /// ended the call, it is the call's final status (see the type's docs);
    /// otherwise it says why the message could not go (over the send limit,
    /// refused by an interceptor, the connection failed).
    pub async fn send(&mut self, msg: T) -> Result<(), Status> {
        self.send_with(msg, true).await
    }

    /// Sends one message, compressed or not (when the call set compression).
    pub async fn send_with(&mut self, msg: T, compress: bool) -> Result<(), Status> {
        self.feed_with(msg, compress).await?;
        self.flush().await
    }

    /// Queues one message without sending it yet, so that many small messages go
    /// out together in few DATA frames (much cheaper for both sides, and what
    /// servers expect of clients that stream many tiny messages). Queued messages
    /// are sent by [`flush`](Self::flush), by the next [`send`](Self::send), when
    /// 32 KiB are queued, and on [`close`](Self::close).
    pub async fn feed(&mut self, msg: T) -> Result<(), Status> {
        self.feed_with(msg, true).await
    }

    /// [`feed`](Self::feed), compressed or not (when the call set compression).
    pub async fn feed_with(&mut self, mut msg: T, compress: bool) -> Result<(), Status> {
        if self.stream.is_none() {
            return Err(Status::failed_precondition("request stream already closed"));
        }
        if let Some(hooks) = &self.messages {
            hooks.sending(&mut msg as &mut dyn AnyMessage)?;
        }
        if self.out.len() >= COALESCE_LIMIT {
            self.flush().await?;
        }
        let encoding = if compress { self.encoding } else { None };
        codec::encode_into(&msg, encoding, self.limit, &mut self.out)
    }

    /// Sends every queued message, waiting for HTTP/2 flow control.
    pub async fn flush(&mut self) -> Result<(), Status> {
        if self.out.is_empty() {
            return Ok(());
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(Status::failed_precondition("request stream already closed"));
        };
        let mut data = self.out.split().freeze();
        let sent = poll_fn(|cx| stream.poll_send(&mut data, false, cx)).await;
        match sent {
            Err(e) => Err(self.call.final_status(e).await),
            Ok(()) => Ok(()),
        }
    }

    /// Cancels the whole call: sends `RST_STREAM(CANCEL)`. The server's handler is
    /// stopped, and reading the response side returns `CANCELLED`.
    pub fn cancel(&mut self) {
        self.out.clear();
        if let Some(mut stream) = self.stream.take() {
            stream.cancel();
        }
    }
}

impl<T> RequestSink<T> {
    /// Half-closes the request stream: sends what is queued, then the end of the
    /// stream. (What is queued is at most 32 KiB and a message, so it goes out past
    /// flow control without waiting.)
    pub fn close(&mut self) {
        if let Some(mut stream) = self.stream.take() {
            stream.send_last(self.out.split().freeze());
        }
    }
}

impl<T> Drop for RequestSink<T> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<T> fmt::Debug for RequestSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestSink")
            .field("open", &self.stream.is_some())
            .field("encoding", &self.encoding)
            .finish()
    }
}

/// A client-streaming call in progress: send messages, then
/// [`finish`](Self::finish) for the single response.
#[derive(Debug)]
pub struct ClientStreamingCall<Req, Resp> {
    requests: RequestSink<Req>,
    response: Streaming<Resp>,
}

impl<Req: prost::Message + 'static, Resp: prost::Message + Default + 'static>
    ClientStreamingCall<Req, Resp>
{
    /// Sends one request message; see [`RequestSink::send`].
    pub async fn send(&mut self, msg: Req) -> Result<(), Status> {
        self.requests.send(msg).await
    }

    /// Sends one request message, compressed or not; see [`RequestSink::send_with`].
    pub async fn send_with(&mut self, msg: Req, compress: bool) -> Result<(), Status> {
        self.requests.send_with(msg, compress).await
    }

    /// Queues one request message; see [`RequestSink::feed`].
    pub async fn feed(&mut self, msg: Req) -> Result<(), Status> {
        self.requests.feed(msg).await
    }

    /// Sends every queued request message; see [`RequestSink::flush`].
    pub async fn flush(&mut self) -> Result<(), Status> {
        self.requests.flush().await
    }

    /// Cancels the call (`RST_STREAM(CANCEL)`); [`finish`](Self::finish) then
    /// returns `CANCELLED`.
    pub fn cancel(&mut self) {
        self.requests.cancel();
    }

    /// Half-closes the request stream and waits for the response.
    pub async fn finish(mut self) -> Result<Response<Resp>, Status> {
        self.requests.close();
        read_single(&mut self.response).await
    }
}

/// A bidirectional call in progress: the two halves can be used from different
/// tasks.
#[derive(Debug)]
#[non_exhaustive]
pub struct BidiCall<Req, Resp> {
    /// Request messages to the server.
    pub requests: RequestSink<Req>,
    /// Response messages from the server.
    pub responses: Streaming<Resp>,
}

async fn read_single<T: prost::Message + Default + 'static>(
    inbound: &mut Streaming<T>,
) -> Result<Response<T>, Status> {
    let Some(message) = inbound.message().await? else {
        return Err(Status::internal(
            "server sent no response message for a unary response",
        ));
    };
    let compressed = inbound.last_message_compressed();
    if inbound.message().await?.is_some() {
        return Err(Status::internal(
            "server sent more than one response message for a unary response",
        ));
    }
    let (metadata, trailers) = inbound.take_metadata();
    Ok(Response {
        metadata,
        trailers,
        message,
        compression: None,
        message_compressed: compressed,
    })
}

impl Channel {
    /// The request head for `path` with `options`' metadata, timeout and
    /// compression.
    fn request_head(
        &self,
        path: &'static str,
        options: &CallOptions,
        deadline: Option<Instant>,
    ) -> Result<http::Request<()>, Status> {
        let path = PathAndQuery::from_maybe_shared(Bytes::from_static(path.as_bytes()))
            .map_err(|_| Status::internal(format!("invalid method path {path:?}")))?;
        let uri = http::Uri::builder()
            .scheme(self.scheme().clone())
            .authority(self.authority().clone())
            .path_and_query(path)
            .build()
            .map_err(|e| Status::internal(format!("cannot build request URI: {e}")))?;
        let mut request = http::Request::new(());
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = uri;
        let h = request.headers_mut();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(aqueduct_wire::CONTENT_TYPE),
        );
        h.insert(TE, HeaderValue::from_static(headers::TRAILERS));
        h.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        h.insert(
            GRPC_ACCEPT_ENCODING,
            HeaderValue::from_static(Encoding::accept_header()),
        );
        if let Some(enc) = options.compression.filter(|e| *e != Encoding::Identity) {
            h.insert(GRPC_ENCODING, HeaderValue::from_static(enc.name()));
        }
        if let Some(deadline) = deadline {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if let Ok(v) = HeaderValue::try_from(aqueduct_wire::timeout::format(remaining)) {
                h.insert(GRPC_TIMEOUT, v);
            }
        }
        options.metadata.write_into(h);
        if !options.detached {
            crate::context::write_propagated(h);
        }
        Ok(request)
    }

    /// Opens a stream for `path` with `options`' metadata, timeout and
    /// compression, with one retry on a new connection if the channel's
    /// connection is going away (GOAWAY, reset, a direct server that closed
    /// it). The head is built once the connection has room for the stream.
    async fn start(
        &self,
        path: &'static str,
        options: &CallOptions,
        deadline: Option<Instant>,
    ) -> Result<(ResponseFuture, SendBody), Status> {
        let head = || self.request_head(path, options, deadline);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (connection, generation) = self.connection().await?;
            match connection.open(&head).await {
                Ok(opened) => return Ok(opened),
                Err(e) if e.retry => {
                    self.forget(generation);
                    if attempts < 2 {
                        continue;
                    }
                    return Err(e.status);
                }
                Err(e) => return Err(e.status),
            }
        }
    }

    /// The call's deadline: the earliest of its own timeout, the channel's
    /// default timeout, and the inherited deadline of the call being served
    /// (see [`context`](crate::context)).
    fn deadline(&self, options: &CallOptions) -> Option<Instant> {
        let timeout = match (options.timeout, self.config().timeout) {
            (Some(own), Some(default)) => Some(own.min(default)),
            (own, default) => own.or(default),
        };
        let own = timeout.and_then(|t| Instant::now().checked_add(t));
        if options.detached {
            return own;
        }
        match (own, crate::context::inherited_deadline()) {
            (Some(own), Some(inherited)) => Some(own.min(inherited)),
            (own, inherited) => own.or(inherited),
        }
    }

    /// Sends a single-message request and waits for the response headers,
    /// retrying transparently while the server refuses the stream unprocessed
    /// (`REFUSED_STREAM`, as h2 does for streams over its limit before the client
    /// has learned it).
    ///
    /// `deadline` goes to the server as `grpc-timeout`; with `timer`, the returned
    /// stream also enforces it itself (for calls whose caller does not).
    async fn send_single<M: prost::Message>(
        &self,
        path: &'static str,
        options: &CallOptions,
        message: &M,
        deadline: Option<Instant>,
        timer: bool,
    ) -> Result<ResponseStream, Status> {
        let framed = codec::encode(
            message,
            options.compression,
            self.config().max_send_message_size,
        )?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (response, mut stream) = self.start(path, options, deadline).await?;
            let mut body = framed.clone();
            // If sending fails the server has already answered (an error status,
            // usually); the response side has it.
            let _ = poll_fn(|cx| stream.poll_send(&mut body, true, cx)).await;
            let timer = deadline.filter(|_| timer);
            let mut inbound =
                ResponseStream::new(response, self.config().max_recv_message_size, timer);
            match poll_fn(|cx| inbound.poll_headers(cx)).await {
                Ok(()) => return Ok(inbound),
                Err(_) if inbound.was_refused() && attempt < MAX_REFUSED_RETRIES => {
                    tokio::task::yield_now().await;
                }
                Err(status) => return Err(status),
            }
        }
    }

    /// A unary call to the method at `path` (`/package.Service/Method`), with any
    /// `prost` messages: what generated clients call, and the way in for code
    /// that picks methods at run time (gateways, dynamic clients, tests).
    ///
    /// The path is `&'static str` because generated code passes constants; a
    /// gateway that learns its methods at run time can intern each path once
    /// (`Box::leak`, bounded by the methods it knows). The request's
    /// [`CallOptions`] (metadata, timeout, compression) apply as for a
    /// generated client, and so do the channel's interceptors and timeout.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), aqueduct::Status> {
    /// use aqueduct::{Channel, Request};
    ///
    /// let channel = Channel::from_uri("http://127.0.0.1:50051").unwrap();
    /// // google.protobuf.StringValue in, StringValue out: prost's `String`.
    /// let reply = channel
    ///     .unary::<String, String>("/echo.v1.Echo/Echo", Request::new("hi".to_owned()))
    ///     .await?;
    /// println!("{}", reply.into_inner());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn unary<Req, Resp>(
        &self,
        path: &'static str,
        request: Request<Req>,
    ) -> Result<Response<Resp>, Status>
    where
        Req: prost::Message + 'static,
        Resp: prost::Message + Default + 'static,
    {
        let (mut options, mut message) = request.into_parts();
        let deadline = self.deadline(&options);
        let mut hooks = self.hooks(path);
        let call = async {
            let messages = intercept(&mut hooks, &mut options.metadata, deadline).await?;
            if let Some(m) = &messages {
                m.sending(&mut message as &mut dyn AnyMessage)?;
            }
            // The whole call runs under `with_deadline`: the stream needs no timer
            // of its own, but the server must still learn the deadline.
            let inbound = self
                .send_single(path, &options, &message, deadline, false)
                .await?;
            read_single(&mut Streaming::response(inbound.with_hooks(messages, None))).await
        };
        let result = with_deadline(deadline, call).await;
        if let Some(mut hooks) = hooks {
            hooks.end(result.as_ref().err().map_or(Code::Ok, Status::code));
        }
        result
    }

    /// A server-streaming call to the method at `path`, with any `prost`
    /// messages (see [`unary`](Self::unary)). Returns once the response headers
    /// have arrived, so a call the server refuses fails here; read the responses
    /// from the returned [`Streaming`].
    pub async fn server_streaming<Req, Resp>(
        &self,
        path: &'static str,
        request: Request<Req>,
    ) -> Result<Streaming<Resp>, Status>
    where
        Req: prost::Message + 'static,
        Resp: prost::Message + Default + 'static,
    {
        let (mut options, mut message) = request.into_parts();
        let deadline = self.deadline(&options);
        let mut hooks = self.hooks(path);
        let call = async {
            let messages = intercept(&mut hooks, &mut options.metadata, deadline).await?;
            if let Some(m) = &messages {
                m.sending(&mut message as &mut dyn AnyMessage)?;
            }
            let inbound = self
                .send_single(path, &options, &message, deadline, true)
                .await?;
            Ok((inbound, messages))
        };
        match with_deadline(deadline, call).await {
            Ok((inbound, messages)) => Ok(Streaming::response(inbound.with_hooks(messages, hooks))),
            Err(status) => {
                if let Some(mut hooks) = hooks {
                    hooks.end(status.code());
                }
                Err(status)
            }
        }
    }

    /// A client-streaming call to the method at `path`, with any `prost`
    /// messages (see [`unary`](Self::unary)): send requests on the returned
    /// call, then [`finish`](ClientStreamingCall::finish) it for the response.
    pub async fn client_streaming<Req, Resp>(
        &self,
        path: &'static str,
        options: CallOptions,
    ) -> Result<ClientStreamingCall<Req, Resp>, Status>
    where
        Req: prost::Message + 'static,
        Resp: prost::Message + Default + 'static,
    {
        let (requests, response) = self.open(path, options).await?;
        Ok(ClientStreamingCall { requests, response })
    }

    /// A bidirectional-streaming call to the method at `path`, with any `prost`
    /// messages (see [`unary`](Self::unary)): the returned call's two halves
    /// can be used from different tasks.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), aqueduct::Status> {
    /// use aqueduct::{CallOptions, Channel};
    ///
    /// let channel = Channel::from_uri("http://127.0.0.1:50051").unwrap();
    /// let mut call = channel
    ///     .bidi_streaming::<String, String>("/echo.v1.Echo/Chat", CallOptions::default())
    ///     .await?;
    /// call.requests.send("hello".to_owned()).await?;
    /// call.requests.close();
    /// while let Some(reply) = call.responses.message().await? {
    ///     println!("{reply}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub async fn bidi_streaming<Req, Resp>(
        &self,
        path: &'static str,
        options: CallOptions,
    ) -> Result<BidiCall<Req, Resp>, Status>
    where
        Req: prost::Message + 'static,
        Resp: prost::Message + Default + 'static,
    {
        let (requests, responses) = self.open(path, options).await?;
        Ok(BidiCall {
            requests,
            responses,
        })
    }

    async fn open<Req, Resp>(
        &self,
        path: &'static str,
        mut options: CallOptions,
    ) -> Result<(RequestSink<Req>, Streaming<Resp>), Status> {
        let deadline = self.deadline(&options);
        let mut hooks = self.hooks(path);
        let call = async {
            let messages = intercept(&mut hooks, &mut options.metadata, deadline).await?;
            let started = self.start(path, &options, deadline).await?;
            Ok((started, messages))
        };
        let ((response, stream), messages) = match with_deadline(deadline, call).await {
            Ok(opened) => opened,
            Err(status) => {
                if let Some(mut hooks) = hooks {
                    hooks.end(status.code());
                }
                return Err(status);
            }
        };
        let inbound = ResponseStream::new(response, self.config().max_recv_message_size, deadline)
            .with_hooks(messages.clone(), hooks);
        let call = ClientCall::new(inbound);
        let sink = RequestSink {
            stream: Some(stream),
            call: call.clone(),
            out: BytesMut::new(),
            encoding: options.compression.filter(|e| *e != Encoding::Identity),
            limit: self.config().max_send_message_size,
            messages,
            _marker: PhantomData,
        };
        Ok((sink, Streaming::client_call(call)))
    }
}

/// Runs the call's client interceptors, if any, and returns the message hooks
/// they installed.
async fn intercept(
    hooks: &mut Option<Box<ClientHooks>>,
    metadata: &mut MetadataMap,
    deadline: Option<Instant>,
) -> Result<Option<Arc<MessageHooks>>, Status> {
    match hooks {
        Some(hooks) => {
            hooks.start(metadata, deadline).await?;
            Ok(hooks.messages.clone())
        }
        None => Ok(None),
    }
}

async fn with_deadline<T>(
    deadline: Option<Instant>,
    fut: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    match deadline {
        None => fut.await,
        // On expiry the call future is dropped, which resets the stream
        // (RST_STREAM CANCEL) so the server stops too.
        Some(d) => tokio::time::timeout_at(d, fut)
            .await
            .unwrap_or_else(|_| Err(Status::deadline_exceeded("deadline exceeded"))),
    }
}
