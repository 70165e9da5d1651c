//! The status in trailers (or a trailers-only head): reading it, and writing it.

use super::{ResponseError, ResponseErrorKind};
use crate::headers::{self, Field, raw};
use crate::metadata::{decode_binary, encode_binary};
use crate::request::lossy;
use crate::status::{Code, decode_message, encode_message};

/// A status as a peer sent it: `grpc-status`, `grpc-message` decoded,
/// `grpc-status-details-bin` decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedStatus {
    /// The code.
    pub code: Code,
    /// The message, percent-decoded ([`decode_message`]); empty without
    /// `grpc-message`.
    pub message: String,
    /// The details, base64-decoded; empty without them, and when they are not
    /// base64 (they are dropped, not an error).
    pub details: Vec<u8>,
    /// `grpc-status` was exactly `0`, as every implementation sends `OK`.
    pub(super) plain_ok: bool,
}

impl ReceivedStatus {
    /// Whether the status is `OK` sent as `grpc-status: 0`, the common case;
    /// `false` for `OK` spelled otherwise (`00`), which a runtime may keep
    /// apart to report the peer's message with it.
    #[must_use]
    pub fn is_plain_ok(&self) -> bool {
        self.plain_ok
    }
}

/// The status fields of a head or trailers, the first of each kept.
#[derive(Debug, Default)]
pub(super) struct StatusReader {
    /// `grpc-status`, or its text when it is not a number.
    code: Option<Result<Code, String>>,
    plain_ok: bool,
    message: Option<String>,
    details: Option<Vec<u8>>,
}

impl StatusReader {
    pub(super) fn field(&mut self, name: &[u8], value: &[u8]) {
        match name {
            raw::GRPC_STATUS if self.code.is_none() => {
                self.plain_ok = value == Code::Ok.header_value().as_bytes();
                self.code = Some(Code::from_header(value).ok_or_else(|| lossy(value)));
            }
            raw::GRPC_MESSAGE if self.message.is_none() => {
                self.message = Some(decode_message(value));
            }
            raw::GRPC_STATUS_DETAILS_BIN if self.details.is_none() => {
                self.details = Some(decode_binary(value).unwrap_or_default());
            }
            _ => {}
        }
    }

    /// The status; `missing` is the message when there is no `grpc-status`.
    pub(super) fn finish(self, missing: &str) -> Result<ReceivedStatus, ResponseError> {
        match self.code {
            None => Err(ResponseError::new(
                ResponseErrorKind::MissingStatus,
                Code::Internal,
                missing.to_owned(),
            )),
            Some(Err(value)) => Err(ResponseError::new(
                ResponseErrorKind::InvalidStatus,
                Code::Internal,
                format!("protocol error: invalid {} {value:?}", headers::GRPC_STATUS),
            )),
            Some(Ok(code)) => Ok(ReceivedStatus {
                code,
                message: self.message.unwrap_or_default(),
                details: self.details.unwrap_or_default(),
                plain_ok: self.plain_ok,
            }),
        }
    }
}

/// Reads a response's trailers, field by field; [`finish`](Self::finish)
/// gives the call's status.
///
/// ```
/// use aqueduct_wire::response::TrailersParser;
/// use aqueduct_wire::status::Code;
///
/// let mut parser = TrailersParser::new();
/// parser.field(b"grpc-status", b"5");
/// parser.field(b"grpc-message", b"no such user: 42%25");
/// let status = parser.finish().unwrap();
/// assert_eq!(status.code, Code::NotFound);
/// assert_eq!(status.message, "no such user: 42%");
/// ```
#[derive(Debug, Default)]
pub struct TrailersParser {
    status: StatusReader,
    /// The first bad `-bin` value's error text.
    bad_metadata: Option<String>,
}

impl TrailersParser {
    /// A parser for one response's trailers.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one trailer field and says what it is: a [`Field::Metadata`]
    /// field is the caller's to hand to the application as trailers.
    pub fn field(&mut self, name: &[u8], value: &[u8]) -> Field {
        self.status.field(name, value);
        if self.bad_metadata.is_none() {
            self.bad_metadata = crate::metadata::received_binary_error(name, value);
        }
        headers::classify(name)
    }

    /// The call's status. Errors, in this order: a custom `-bin` value that
    /// is not base64 (`INTERNAL`, whatever the status says; the trailers are
    /// not to be handed on), no `grpc-status` or one that is not a number
    /// (`INTERNAL`; the trailers are still the call's).
    pub fn finish(self) -> Result<ReceivedStatus, ResponseError> {
        if let Some(message) = self.bad_metadata {
            return Err(ResponseError::new(
                ResponseErrorKind::BinaryMetadata,
                Code::Internal,
                message,
            ));
        }
        self.status
            .finish("server sent trailers without grpc-status")
    }
}

/// The fields that carry a status, encoded for the wire: `grpc-status`, then
/// `grpc-message` (percent-encoded) when there is a message and
/// `grpc-status-details-bin` (unpadded base64) when there are details.
///
/// Every value is printable ASCII, so it is a valid header value as it is.
///
/// ```
/// use aqueduct_wire::response::StatusFields;
/// use aqueduct_wire::status::Code;
///
/// let fields = StatusFields::new(Code::Unavailable, "100% down", b"\x01");
/// let fields: Vec<_> = fields.fields().collect();
/// assert_eq!(
///     fields,
///     [
///         ("grpc-status", "14"),
///         ("grpc-message", "100%25 down"),
///         ("grpc-status-details-bin", "AQ"),
///     ]
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusFields {
    code: Code,
    message: Option<String>,
    details: Option<String>,
}

impl StatusFields {
    /// The fields for `code`, `message` and `details`; an empty message or
    /// empty details are left out.
    #[must_use]
    pub fn new(code: Code, message: &str, details: &[u8]) -> Self {
        Self {
            code,
            message: (!message.is_empty()).then(|| encode_message(message)),
            details: (!details.is_empty()).then(|| encode_binary(details)),
        }
    }

    /// `grpc-status: 0` alone, the whole of an `OK` status. Allocates nothing.
    #[must_use]
    pub fn ok() -> Self {
        Self {
            code: Code::Ok,
            message: None,
            details: None,
        }
    }

    /// The status code.
    #[must_use]
    pub fn code(&self) -> Code {
        self.code
    }

    /// The `grpc-message` value, if there is one.
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The `grpc-status-details-bin` value, if there is one.
    #[must_use]
    pub fn details(&self) -> Option<&str> {
        self.details.as_deref()
    }

    /// Each field as (name, value), in the order to send them.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        let status = (headers::GRPC_STATUS, self.code.header_value());
        let message = self.message().map(|m| (headers::GRPC_MESSAGE, m));
        let details = self
            .details()
            .map(|d| (headers::GRPC_STATUS_DETAILS_BIN, d));
        [Some(status), message, details].into_iter().flatten()
    }
}
