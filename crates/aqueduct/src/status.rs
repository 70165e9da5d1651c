//! [`Status`]: the outcome of a call, as the peer sees it.

use std::fmt;

use bytes::Bytes;
use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

use aqueduct_wire::headers;
pub use aqueduct_wire::status::Code;
use aqueduct_wire::status::encode_message;

use crate::metadata::MetadataMap;

pub(crate) const GRPC_STATUS: HeaderName = HeaderName::from_static(headers::GRPC_STATUS);
pub(crate) const GRPC_MESSAGE: HeaderName = HeaderName::from_static(headers::GRPC_MESSAGE);
pub(crate) const GRPC_STATUS_DETAILS: HeaderName =
    HeaderName::from_static(headers::GRPC_STATUS_DETAILS_BIN);

/// The status of a finished call: a [`Code`], a message for humans, optional binary
/// details and metadata sent with it as trailers.
///
/// Errors travel as `Status`, never as error fields in response messages.
///
/// ```
/// use aqueduct::{Code, Status};
///
/// let status = Status::not_found("no such user: 42");
/// assert_eq!(status.code(), Code::NotFound);
/// assert_eq!(status.message(), "no such user: 42");
/// ```
#[derive(Clone)]
pub struct Status(Box<Inner>);

#[derive(Clone)]
struct Inner {
    code: Code,
    message: String,
    details: Bytes,
    metadata: MetadataMap,
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $code:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $name(message: impl Into<String>) -> Status {
                Status::new(Code::$code, message)
            }
        )*
    };
}

impl Status {
    /// A status with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status(Box::new(Inner {
            code,
            message: message.into(),
            details: Bytes::new(),
            metadata: MetadataMap::new(),
        }))
    }

    constructors! {
        /// `OK`: not an error.
        ok => Ok,
        /// `CANCELLED`: the call was cancelled, usually by the caller.
        cancelled => Cancelled,
        /// `UNKNOWN`: an error with no better code.
        unknown => Unknown,
        /// `INVALID_ARGUMENT`: the caller sent something invalid.
        invalid_argument => InvalidArgument,
        /// `DEADLINE_EXCEEDED`: the deadline passed before the call finished.
        deadline_exceeded => DeadlineExceeded,
        /// `NOT_FOUND`: a requested entity does not exist.
        not_found => NotFound,
        /// `ALREADY_EXISTS`: the entity the caller tried to create exists.
        already_exists => AlreadyExists,
        /// `PERMISSION_DENIED`: the caller may not do this.
        permission_denied => PermissionDenied,
        /// `RESOURCE_EXHAUSTED`: a quota or limit (such as message size) was hit.
        resource_exhausted => ResourceExhausted,
        /// `FAILED_PRECONDITION`: the system is not in the state the call needs.
        failed_precondition => FailedPrecondition,
        /// `ABORTED`: aborted, typically by a concurrency conflict.
        aborted => Aborted,
        /// `OUT_OF_RANGE`: past the valid range.
        out_of_range => OutOfRange,
        /// `UNIMPLEMENTED`: the method is not implemented or supported.
        unimplemented => Unimplemented,
        /// `INTERNAL`: an invariant broke.
        internal => Internal,
        /// `UNAVAILABLE`: the service cannot be reached now; retrying may help.
        unavailable => Unavailable,
        /// `DATA_LOSS`: unrecoverable data loss.
        data_loss => DataLoss,
        /// `UNAUTHENTICATED`: the caller's credentials are missing or invalid.
        unauthenticated => Unauthenticated,
    }

    /// The status code.
    #[must_use]
    pub fn code(&self) -> Code {
        self.0.code
    }

    /// The message for humans (already percent-decoded).
    #[must_use]
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The binary details (`grpc-status-details-bin`), usually an encoded
    /// `google.rpc.Status`; empty when none were sent.
    #[must_use]
    pub fn details(&self) -> &[u8] {
        &self.0.details
    }

    /// Sets the binary details.
    #[must_use]
    pub fn with_details(mut self, details: impl Into<Bytes>) -> Status {
        self.0.details = details.into();
        self
    }

    /// Metadata carried with the status: the call's trailers, less the protocol's own.
    #[must_use]
    pub fn metadata(&self) -> &MetadataMap {
        &self.0.metadata
    }

    /// Mutable access to the metadata sent with the status.
    pub fn metadata_mut(&mut self) -> &mut MetadataMap {
        &mut self.0.metadata
    }

    /// The status a peer's `grpc-status`, `grpc-message` and details gave,
    /// with the fields they came in as its metadata.
    pub(crate) fn from_received(
        received: aqueduct_wire::response::ReceivedStatus,
        metadata: MetadataMap,
    ) -> Status {
        Status(Box::new(Inner {
            code: received.code,
            message: received.message,
            details: Bytes::from(received.details),
            metadata,
        }))
    }

    /// Writes `grpc-status`, `grpc-message`, details and metadata into `headers`.
    pub(crate) fn write_trailers(&self, headers: &mut HeaderMap) {
        headers.insert(
            GRPC_STATUS,
            HeaderValue::from_static(self.0.code.header_value()),
        );
        if !self.0.message.is_empty() {
            if let Ok(v) = HeaderValue::try_from(encode_message(&self.0.message)) {
                headers.insert(GRPC_MESSAGE, v);
            }
        }
        if !self.0.details.is_empty() {
            let encoded = aqueduct_wire::metadata::encode_binary(&self.0.details);
            if let Ok(v) = HeaderValue::try_from(encoded) {
                headers.insert(GRPC_STATUS_DETAILS, v);
            }
        }
        self.0.metadata.write_into(headers);
    }

    /// Writes `grpc-status: 0`, the whole of an OK status, without building one.
    pub(crate) fn write_ok(headers: &mut HeaderMap) {
        headers.insert(GRPC_STATUS, HeaderValue::from_static("0"));
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Status");
        d.field("code", &self.0.code);
        d.field("message", &self.0.message);
        if !self.0.details.is_empty() {
            d.field("details", &self.0.details);
        }
        if !self.0.metadata.is_empty() {
            d.field("metadata", &self.0.metadata);
        }
        d.finish()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.message.is_empty() {
            write!(f, "{}", self.0.code)
        } else {
            write!(f, "{}: {}", self.0.code, self.0.message)
        }
    }
}

impl std::error::Error for Status {}

impl From<std::io::Error> for Status {
    fn from(err: std::io::Error) -> Status {
        Status::unavailable(format!("transport error: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads a status back as the client does: aqueduct-wire's trailers
    /// parser, then [`Status::from_received`].
    fn read_back(headers: &HeaderMap) -> Result<Status, Status> {
        let mut parser = aqueduct_wire::response::TrailersParser::new();
        for (name, value) in headers {
            parser.field(name.as_str().as_bytes(), value.as_bytes());
        }
        parser
            .finish()
            .map(|received| Status::from_received(received, MetadataMap::from_headers(headers)))
            .map_err(|e| Status::new(e.code(), e.into_message()))
    }

    #[test]
    fn trailers_round_trip() {
        let mut status =
            Status::invalid_argument("bad 100% \u{263a}").with_details(&b"\x00\x01"[..]);
        status.metadata_mut().insert("x-why", "because").unwrap();
        let mut headers = HeaderMap::new();
        status.write_trailers(&mut headers);
        let back = read_back(&headers).unwrap();
        assert_eq!(back.code(), Code::InvalidArgument);
        assert_eq!(back.message(), "bad 100% \u{263a}");
        assert_eq!(back.details(), b"\x00\x01");
        assert_eq!(back.metadata().get("x-why"), Some("because"));
        assert!(back.metadata().get("grpc-status").is_none());
    }

    #[test]
    fn bad_grpc_status_is_internal() {
        let mut headers = HeaderMap::new();
        headers.insert(GRPC_STATUS, HeaderValue::from_static("abc"));
        assert_eq!(read_back(&headers).unwrap_err().code(), Code::Internal);
        let missing = read_back(&HeaderMap::new()).unwrap_err();
        assert_eq!(missing.code(), Code::Internal);
        assert!(
            missing.message().contains("without grpc-status"),
            "{missing}"
        );
    }
}
