//! The server's side of a request head: which fields it reads, how it checks
//! them, and the exact answer to each kind of bad request.
//!
//! [`RequestParser`] is push-style, so it runs over anything that yields a
//! head's fields one by one without allocating: an `http::HeaderMap` (with
//! `:method` fed from the request line), or an HPACK decoder's callback, whose
//! name and value slices need not outlive the call. Each
//! [`field`](RequestParser::field) says what the field is ([`Field`]): the
//! caller keeps `:path` for routing and [`Field::Metadata`] for the handler.
//!
//! ```text
//!  field(name, value)  for each field, in order
//!        │
//!  finish() ── checks :method, content-type, -bin metadata, in this order
//!        │       └─ Err(RequestError): 405 / 415 plain HTTP, or a gRPC status
//!        ▼
//!  RequestHead ── the caller routes on :path ──► timeout() ──► encoding()
//! ```
//!
//! `grpc-timeout` and `grpc-encoding` are checked after routing, so a request
//! for an unknown method gets `UNIMPLEMENTED` whatever its timeout says.
//!
//! Where a field comes twice, the last one counts, for `:method`,
//! `content-type`, `te`, `grpc-timeout`, `grpc-encoding` and
//! `grpc-accept-encoding` alike; of several bad `-bin` values, the first is
//! reported. The parser does not check HTTP/2's own rules for a head (one of
//! each pseudo-header, before the other fields, RFC 9113 8.3): the HTTP/2
//! engine refuses heads that break them.

use std::fmt;
use std::time::Duration;

use crate::compression::{AcceptEncodings, Encoding};
use crate::headers::{self, Field, raw};
use crate::status::Code;
use crate::timeout::{self, TimeoutError};

/// Reads a request head, field by field; [`finish`](Self::finish) checks it.
///
/// ```
/// use std::time::Duration;
/// use aqueduct_wire::compression::Encoding;
/// use aqueduct_wire::headers::Field;
/// use aqueduct_wire::request::RequestParser;
///
/// let mut parser = RequestParser::new();
/// let mut path = None;
/// for (name, value) in [
///     (&b":method"[..], &b"POST"[..]),
///     (b":path", b"/hello.v1.Greeter/SayHello"),
///     (b"content-type", b"application/grpc"),
///     (b"grpc-timeout", b"250m"),
///     (b"grpc-encoding", b"gzip"),
///     (b"x-request-id", b"abc"),
/// ] {
///     match parser.field(name, value) {
///         Field::Pseudo if name == b":path" => path = Some(value),
///         Field::Metadata => { /* kept for the handler */ }
///         _ => {}
///     }
/// }
/// let head = parser.finish().unwrap();
/// assert_eq!(path, Some(&b"/hello.v1.Greeter/SayHello"[..]));
/// assert_eq!(head.timeout().unwrap(), Some(Duration::from_millis(250)));
/// assert_eq!(head.encoding().unwrap(), Some(Encoding::Gzip));
/// ```
#[derive(Debug, Default)]
pub struct RequestParser {
    method: Method,
    content_type: ContentType,
    head: RequestHead,
    /// The first bad `-bin` value's error text.
    bad_metadata: Option<String>,
}

/// `:method` as received. A wrong one is kept as text for the error, so only a
/// bad request allocates.
#[derive(Debug, Default)]
enum Method {
    #[default]
    Missing,
    Post,
    Other(String),
}

/// `content-type` as received; missing is refused like an empty value.
#[derive(Debug, Default)]
enum ContentType {
    #[default]
    Missing,
    Accepted,
    Refused(String),
}

impl RequestParser {
    /// A parser for one request head.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that the request's `:method` is `POST`, for a caller whose
    /// HTTP library has parsed the method already (no bytes to compare);
    /// the same as feeding [`field`](Self::field) `:method: POST`.
    #[inline]
    pub fn post(&mut self) {
        self.method = Method::Post;
    }

    /// Reads one field of the head and says what it is.
    ///
    /// Pseudo-headers and protocol fields are read here (`:path` and
    /// `:authority` are left to the caller); a [`Field::Metadata`] field is
    /// the caller's to hand to the handler, after its `-bin` value, if any,
    /// has been checked.
    #[inline]
    pub fn field(&mut self, name: &[u8], value: &[u8]) -> Field {
        match name {
            raw::METHOD if value == raw::POST => self.method = Method::Post,
            raw::METHOD => self.method = Method::Other(lossy(value)),
            raw::CONTENT_TYPE if headers::is_grpc_proto_content_type(value) => {
                self.content_type = ContentType::Accepted;
            }
            raw::CONTENT_TYPE => self.content_type = ContentType::Refused(lossy(value)),
            raw::TE => self.head.te_trailers = value == raw::TRAILERS,
            raw::GRPC_TIMEOUT => self.head.timeout = Some(timeout::parse(value)),
            raw::GRPC_ENCODING => {
                self.head.encoding = Some(Encoding::from_name(value).ok_or_else(|| lossy(value)));
            }
            raw::GRPC_ACCEPT_ENCODING => self.head.accept = AcceptEncodings::parse(value),
            // Every other field is classified once, here: the common case is
            // a few of them per request, on the server's hottest path.
            _ => {
                let field = headers::classify(name);
                if field == Field::Metadata && self.bad_metadata.is_none() {
                    self.bad_metadata = crate::metadata::received_binary_error(name, value);
                }
                return field;
            }
        }
        // The names matched above are all the protocol's own.
        if name == raw::METHOD {
            Field::Pseudo
        } else {
            Field::Protocol
        }
    }

    /// Checks what a server checks before routing, in this order: the method is
    /// `POST` (else 405), the `content-type` is gRPC with protobuf
    /// ([`is_grpc_proto_content_type`](headers::is_grpc_proto_content_type),
    /// else 415), and every custom `-bin` value is base64 (else `INTERNAL`).
    #[inline]
    pub fn finish(self) -> Result<RequestHead, RequestError> {
        match self.method {
            Method::Post => {}
            Method::Other(method) => {
                return Err(RequestError::new(
                    RequestErrorKind::Method,
                    format!("gRPC requires POST, got {method}"),
                ));
            }
            // Only without an HTTP/2 engine in front: it refuses such a head.
            Method::Missing => {
                return Err(RequestError::new(
                    RequestErrorKind::Method,
                    format!("gRPC requires POST, got no {}", headers::METHOD),
                ));
            }
        }
        let refused = match self.content_type {
            ContentType::Accepted => None,
            ContentType::Missing => Some(String::new()),
            ContentType::Refused(value) => Some(value),
        };
        if let Some(value) = refused {
            return Err(RequestError::new(
                RequestErrorKind::ContentType,
                format!("invalid gRPC request content-type {value:?}"),
            ));
        }
        if let Some(message) = self.bad_metadata {
            return Err(RequestError::new(RequestErrorKind::BinaryMetadata, message));
        }
        Ok(self.head)
    }
}

/// A request head that passed [`RequestParser::finish`]: what the call needs
/// from it, checked as the server checks it once the call is routed.
#[derive(Debug, Clone, Default)]
pub struct RequestHead {
    timeout: Option<Result<Duration, TimeoutError>>,
    /// The `grpc-encoding`, or the value's text when no decoder is built in.
    encoding: Option<Result<Encoding, String>>,
    accept: AcceptEncodings,
    te_trailers: bool,
}

impl RequestHead {
    /// The call's `grpc-timeout`, if it has one; a malformed one is an
    /// `INTERNAL` error. Check it after routing, before
    /// [`encoding`](Self::encoding).
    ///
    /// ```
    /// use aqueduct_wire::request::RequestParser;
    ///
    /// let mut parser = RequestParser::new();
    /// parser.field(b":method", b"POST");
    /// parser.field(b"content-type", b"application/grpc");
    /// parser.field(b"grpc-timeout", b"1x");
    /// let e = parser.finish().unwrap().timeout().unwrap_err();
    /// assert_eq!(
    ///     e.message(),
    ///     "malformed grpc-timeout: grpc-timeout unit must be one of H, M, S, m, u, n"
    /// );
    /// ```
    pub fn timeout(&self) -> Result<Option<Duration>, RequestError> {
        match &self.timeout {
            None => Ok(None),
            Some(Ok(timeout)) => Ok(Some(*timeout)),
            Some(Err(e)) => Err(RequestError::new(
                RequestErrorKind::Timeout,
                format!("malformed {}: {e}", headers::GRPC_TIMEOUT),
            )),
        }
    }

    /// The compression of the request's messages: `None` without
    /// `grpc-encoding` or for `identity`. One this build cannot decode is an
    /// `UNIMPLEMENTED` error whose answer advertises `grpc-accept-encoding`
    /// ([`RequestError::advertise_accept_encoding`]); a compressed request's
    /// response headers advertise it too.
    ///
    /// ```
    /// use aqueduct_wire::request::RequestParser;
    ///
    /// let mut parser = RequestParser::new();
    /// parser.field(b":method", b"POST");
    /// parser.field(b"content-type", b"application/grpc");
    /// parser.field(b"grpc-encoding", b"br");
    /// let e = parser.finish().unwrap().encoding().unwrap_err();
    /// assert!(e.advertise_accept_encoding());
    /// assert_eq!(e.message(), "grpc: decompressor is not installed for grpc-encoding \"br\"");
    /// ```
    pub fn encoding(&self) -> Result<Option<Encoding>, RequestError> {
        match &self.encoding {
            None | Some(Ok(Encoding::Identity)) => Ok(None),
            Some(Ok(encoding)) => Ok(Some(*encoding)),
            Some(Err(value)) => Err(RequestError::new(
                RequestErrorKind::Encoding,
                format!("grpc: decompressor is not installed for grpc-encoding {value:?}"),
            )),
        }
    }

    /// The compressions the client accepts for the response
    /// (`grpc-accept-encoding`; identity always).
    #[must_use]
    pub fn accept_encodings(&self) -> AcceptEncodings {
        self.accept
    }

    /// Whether the request said `te: trailers`, as gRPC asks. Not required:
    /// requests without it are served (as by grpc-go).
    #[must_use]
    pub fn te_trailers(&self) -> bool {
        self.te_trailers
    }
}

/// Why a request is answered without running its call, and how to answer it.
///
/// The answer is a gRPC status ([`code`](Self::code) and
/// [`message`](Self::message)): in a plain HTTP response with
/// [`http_status`](Self::http_status) when that is set (the status as headers,
/// for gRPC clients that read them), else in a trailers-only gRPC response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    kind: RequestErrorKind,
    message: String,
}

/// Which check a request failed, in the order they are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestErrorKind {
    /// `:method` is not `POST`: HTTP 405, `UNIMPLEMENTED`.
    Method,
    /// `content-type` is missing, not gRPC, or not protobuf: HTTP 415,
    /// `INTERNAL`.
    ContentType,
    /// A custom `-bin` value is not base64: `INTERNAL`, naming the key.
    BinaryMetadata,
    /// `grpc-timeout` is malformed: `INTERNAL`.
    Timeout,
    /// `grpc-encoding` names a compression this build cannot decode:
    /// `UNIMPLEMENTED`, advertising `grpc-accept-encoding`.
    Encoding,
}

impl RequestError {
    fn new(kind: RequestErrorKind, message: String) -> Self {
        Self { kind, message }
    }

    /// Which check failed.
    #[must_use]
    pub fn kind(&self) -> RequestErrorKind {
        self.kind
    }

    /// The status code to answer with.
    #[must_use]
    pub fn code(&self) -> Code {
        match self.kind {
            RequestErrorKind::Method | RequestErrorKind::Encoding => Code::Unimplemented,
            RequestErrorKind::ContentType
            | RequestErrorKind::BinaryMetadata
            | RequestErrorKind::Timeout => Code::Internal,
        }
    }

    /// The status message to answer with (not yet percent-encoded).
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The status message, owned.
    #[must_use]
    pub fn into_message(self) -> String {
        self.message
    }

    /// The HTTP status of a plain HTTP answer: 405 for the method, 415 for the
    /// content type. `None`: answer with a gRPC response (HTTP 200).
    ///
    /// ```
    /// use aqueduct_wire::request::RequestParser;
    ///
    /// let mut parser = RequestParser::new();
    /// parser.field(b":method", b"GET");
    /// let e = parser.finish().unwrap_err();
    /// assert_eq!(e.http_status(), Some(405));
    /// assert_eq!(e.message(), "gRPC requires POST, got GET");
    /// ```
    #[must_use]
    pub fn http_status(&self) -> Option<u16> {
        match self.kind {
            RequestErrorKind::Method => Some(405),
            RequestErrorKind::ContentType => Some(415),
            _ => None,
        }
    }

    /// Whether the answer carries `grpc-accept-encoding`, so the client learns
    /// which compressions it may use instead.
    #[must_use]
    pub fn advertise_accept_encoding(&self) -> bool {
        self.kind == RequestErrorKind::Encoding
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message)
    }
}

impl std::error::Error for RequestError {}

/// A received value as text for an error message.
pub(crate) fn lossy(value: &[u8]) -> String {
    String::from_utf8_lossy(value).into_owned()
}

#[cfg(test)]
mod tests;
