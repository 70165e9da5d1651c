//! The client's side of a response: its head (`:status`, `content-type`,
//! `grpc-encoding`, or the whole status of a trailers-only response) and its
//! trailers; and the reverse for servers, the fields that carry a status
//! ([`StatusFields`]).
//!
//! Like [`request`](crate::request), the parsers are push-style: feed every
//! field (pseudo-headers included), then `finish`. Neither allocates for a
//! well-formed response beyond what it returns (a status message, details).
//!
//! ```text
//!  head:     ResponseParser::field ... finish(end_stream)
//!              ├─ Err(ResponseError)                   the call fails
//!              ├─ Headers { encoding }                 messages follow, then
//!              │   trailers: TrailersParser::field ... finish() ─► status
//!              └─ TrailersOnly(status)                 the status, nothing follows
//! ```
//!
//! Where a field comes twice, the first one counts (`:status`,
//! `content-type`, `grpc-encoding`, `grpc-status`, `grpc-message`,
//! `grpc-status-details-bin`), as `http::HeaderMap::get` reads it; of several
//! bad `-bin` values the first is reported.

use std::fmt;

use crate::compression::Encoding;
use crate::headers::{self, Field, raw};
use crate::request::lossy;
use crate::status::Code;

mod trailers;

use trailers::StatusReader;
pub use trailers::{ReceivedStatus, StatusFields, TrailersParser};

/// Reads a response head, field by field; [`finish`](Self::finish) checks it.
///
/// ```
/// use aqueduct_wire::compression::Encoding;
/// use aqueduct_wire::response::{ResponseHead, ResponseParser};
///
/// let mut parser = ResponseParser::new();
/// parser.field(b":status", b"200");
/// parser.field(b"content-type", b"application/grpc");
/// parser.field(b"grpc-encoding", b"gzip");
/// match parser.finish(false).unwrap() {
///     ResponseHead::Headers { encoding, .. } => assert_eq!(encoding, Some(Encoding::Gzip)),
///     ResponseHead::TrailersOnly(_) => unreachable!(),
/// }
/// ```
#[derive(Debug, Default)]
pub struct ResponseParser {
    http_status: HttpStatus,
    /// The first `content-type`: gRPC's, or its text for the error.
    content_type: Option<Result<(), String>>,
    /// The first `grpc-encoding`, or its text when no decoder is built in.
    encoding: Option<Result<Encoding, String>>,
    /// The first bad `-bin` value's error text.
    bad_metadata: Option<String>,
    /// A trailers-only response's status.
    status: StatusReader,
}

/// The first `:status`.
#[derive(Debug, Default)]
enum HttpStatus {
    #[default]
    Missing,
    Ok,
    Other(u16),
    Malformed(String),
}

/// What a response head says, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
// Deliberately exhaustive: a gRPC response head is one or the other.
pub enum ResponseHead {
    /// Response headers: messages follow, then trailers
    /// ([`TrailersParser`]).
    #[non_exhaustive]
    Headers {
        /// The compression of compressed response messages (`grpc-encoding`;
        /// `identity` is kept as it came); `None` without one.
        encoding: Option<Encoding>,
    },
    /// A trailers-only response (the head ended the stream): the status it
    /// carries, or, when its `grpc-status` is missing or garbled, the
    /// `INTERNAL` error that stands for it. Nothing follows.
    TrailersOnly(Result<ReceivedStatus, ResponseError>),
}

impl ResponseParser {
    /// A parser for one response head.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one field of the head and says what it is: a
    /// [`Field::Metadata`] field is the caller's to hand to the application
    /// (as response headers, or as a trailers-only response's trailers).
    pub fn field(&mut self, name: &[u8], value: &[u8]) -> Field {
        match name {
            raw::STATUS => {
                if let HttpStatus::Missing = self.http_status {
                    self.http_status = parse_http_status(value);
                }
            }
            raw::CONTENT_TYPE => {
                if self.content_type.is_none() {
                    let grpc = headers::is_grpc_content_type(value);
                    self.content_type = Some(if grpc { Ok(()) } else { Err(lossy(value)) });
                }
            }
            raw::GRPC_ENCODING => {
                if self.encoding.is_none() {
                    self.encoding = Some(Encoding::from_name(value).ok_or_else(|| lossy(value)));
                }
            }
            _ => {
                self.status.field(name, value);
                if self.bad_metadata.is_none() {
                    self.bad_metadata = crate::metadata::received_binary_error(name, value);
                }
            }
        }
        headers::classify(name)
    }

    /// Checks the head, in this order: `:status` is 200 (else the code
    /// [`Code::from_http_status`] maps it to), `content-type` is gRPC's
    /// (else `UNKNOWN`), every custom `-bin` value is base64 (else
    /// `INTERNAL`). Then, if the head ended the stream (`end_stream`), it is a
    /// trailers-only response and its status is read; otherwise its
    /// `grpc-encoding` must be one this build decodes (else `INTERNAL`).
    ///
    /// ```
    /// use aqueduct_wire::status::Code;
    /// use aqueduct_wire::response::ResponseParser;
    ///
    /// let mut parser = ResponseParser::new();
    /// parser.field(b":status", b"503");
    /// let e = parser.finish(true).unwrap_err();
    /// assert_eq!(e.code(), Code::Unavailable);
    /// assert_eq!(e.message(), "unexpected HTTP status code 503 Service Unavailable from server");
    /// ```
    pub fn finish(self, end_stream: bool) -> Result<ResponseHead, ResponseError> {
        match self.http_status {
            HttpStatus::Ok => {}
            HttpStatus::Other(status) => {
                let reason = reason_phrase(status).unwrap_or("<unknown status code>");
                return Err(ResponseError::new(
                    ResponseErrorKind::HttpStatus,
                    Code::from_http_status(status),
                    format!("unexpected HTTP status code {status} {reason} from server"),
                ));
            }
            // Only without an HTTP/2 engine in front: it refuses such a head.
            HttpStatus::Missing => {
                return Err(ResponseError::new(
                    ResponseErrorKind::MalformedHttpStatus,
                    Code::Internal,
                    format!("response without {}", headers::STATUS),
                ));
            }
            HttpStatus::Malformed(value) => {
                return Err(ResponseError::new(
                    ResponseErrorKind::MalformedHttpStatus,
                    Code::Internal,
                    format!("malformed {} {value:?} in response", headers::STATUS),
                ));
            }
        }
        let refused = match &self.content_type {
            Some(Ok(())) => None,
            Some(Err(value)) => Some(value.as_str()),
            None => Some(""),
        };
        if let Some(value) = refused {
            return Err(ResponseError::new(
                ResponseErrorKind::ContentType,
                Code::Unknown,
                format!("invalid content-type {value:?} in response"),
            ));
        }
        if let Some(message) = self.bad_metadata {
            return Err(ResponseError::new(
                ResponseErrorKind::BinaryMetadata,
                Code::Internal,
                message,
            ));
        }
        if end_stream {
            let status = self
                .status
                .finish("server ended the response without a grpc-status");
            return Ok(ResponseHead::TrailersOnly(status));
        }
        let encoding = match self.encoding {
            None => None,
            Some(Ok(encoding)) => Some(encoding),
            Some(Err(value)) => {
                return Err(ResponseError::new(
                    ResponseErrorKind::Encoding,
                    Code::Internal,
                    format!("server sent unsupported grpc-encoding {value:?}"),
                ));
            }
        };
        Ok(ResponseHead::Headers { encoding })
    }
}

/// A `:status` value: three ASCII digits, 100 to 999, as HTTP has them.
fn parse_http_status(value: &[u8]) -> HttpStatus {
    if value == raw::STATUS_OK {
        return HttpStatus::Ok;
    }
    match value {
        [a @ b'1'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => HttpStatus::Other(
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'),
        ),
        _ => HttpStatus::Malformed(lossy(value)),
    }
}

/// Why a response fails its call, with the status the client reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseError {
    kind: ResponseErrorKind,
    code: Code,
    message: String,
}

/// Which check a response failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseErrorKind {
    /// `:status` is not 200: the code gRPC maps the HTTP status to.
    HttpStatus,
    /// `:status` is missing or not three digits: `INTERNAL`. An HTTP/2 engine
    /// refuses such a head before this is reached.
    MalformedHttpStatus,
    /// `content-type` is missing or not gRPC's: `UNKNOWN`.
    ContentType,
    /// A custom `-bin` value is not base64: `INTERNAL`, naming the key.
    BinaryMetadata,
    /// `grpc-encoding` names a compression this build cannot decode:
    /// `INTERNAL`.
    Encoding,
    /// Trailers (or a trailers-only head) without `grpc-status`: `INTERNAL`.
    MissingStatus,
    /// A `grpc-status` that is not a number: `INTERNAL`.
    InvalidStatus,
    /// The stream ended without trailers: `INTERNAL`.
    NoTrailers,
}

impl ResponseError {
    fn new(kind: ResponseErrorKind, code: Code, message: String) -> Self {
        Self {
            kind,
            code,
            message,
        }
    }

    /// The error for a response stream that ended after its messages without
    /// trailers (so without a status).
    ///
    /// ```
    /// use aqueduct_wire::response::ResponseError;
    /// let e = ResponseError::no_trailers();
    /// assert_eq!(e.message(), "server closed the stream without trailers");
    /// ```
    #[must_use]
    pub fn no_trailers() -> Self {
        Self::new(
            ResponseErrorKind::NoTrailers,
            Code::Internal,
            "server closed the stream without trailers".to_owned(),
        )
    }

    /// Which check failed.
    #[must_use]
    pub fn kind(&self) -> ResponseErrorKind {
        self.kind
    }

    /// The status code the call ends with.
    #[must_use]
    pub fn code(&self) -> Code {
        self.code
    }

    /// The status message the call ends with.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The status message, owned.
    #[must_use]
    pub fn into_message(self) -> String {
        self.message
    }
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ResponseError {}

/// The reason phrase of an HTTP status, for the error message: the `http`
/// crate's table, so the text is the one `http::StatusCode` displays.
fn reason_phrase(status: u16) -> Option<&'static str> {
    Some(match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Entity",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
