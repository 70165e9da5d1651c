//! Rich error details: the standard `google.rpc` messages a [`Status`] can carry
//! in `grpc-status-details-bin`, as every gRPC implementation reads them.
//!
//! A server attaches [`ErrorDetails`] with [`Status::with_error_details`]; a
//! client reads them back with [`Status::error_details`]. On the wire they are a
//! `google.rpc.Status` (code, message, and each detail packed as
//! `google.protobuf.Any`), so clients on other stacks (`grpcio-status`, grpc-go's
//! `status.Details()`, tonic-types) read them too.
//!
//! ```
//! use aqueduct::details::{ErrorDetails, FieldViolation};
//! use aqueduct::Status;
//!
//! let status = Status::invalid_argument("bad request").with_error_details(
//!     ErrorDetails::new()
//!         .bad_request(vec![FieldViolation::new("name", "must not be empty")])
//!         .error_info("NAME_EMPTY", "greeter.example.com", []),
//! );
//! let details = status.error_details().unwrap();
//! assert_eq!(details.bad_request.unwrap().field_violations[0].field, "name");
//! ```
//!
//! Which code to use, in short (the gRPC status code guide): `INVALID_ARGUMENT`
//! for a request that is wrong whatever the state of the system (with
//! [`BadRequest`]); `FAILED_PRECONDITION` when the system is not in the state the
//! call needs ([`PreconditionFailure`]); `OUT_OF_RANGE` for a value past a valid
//! range that may become valid; `NOT_FOUND` / `ALREADY_EXISTS` for the resource
//! ([`ResourceInfo`]); `PERMISSION_DENIED` / `UNAUTHENTICATED` for who is asking;
//! `ABORTED` for a concurrency conflict the caller should retry higher up;
//! `RESOURCE_EXHAUSTED` for quotas ([`QuotaFailure`], [`RetryInfo`]); `DATA_LOSS`
//! for unrecoverable corruption. Errors belong in the status, never in `code` or
//! `error` fields of a response message.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use prost::Message;

use crate::status::{Code, Status};

const TYPE_PREFIX: &str = "type.googleapis.com/";

/// The encoded `FileDescriptorSet` of `google/rpc/status.proto` and
/// `google/rpc/error_details.proto` (with the well-known types they import),
/// which reflection serves whenever it is on, so tools such as `grpcurl`
/// decode the details a handler attached.
pub(crate) const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("../descriptors/error_details.bin");

/// `google.protobuf.Any`: a packed message and its type URL.
#[derive(Clone, PartialEq, Message)]
struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// `google.protobuf.Duration`.
#[derive(Clone, Copy, PartialEq, Message)]
struct ProtoDuration {
    #[prost(int64, tag = "1")]
    seconds: i64,
    #[prost(int32, tag = "2")]
    nanos: i32,
}

/// `google.rpc.Status`: what `grpc-status-details-bin` holds.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
    #[prost(message, repeated, tag = "3")]
    details: Vec<Any>,
}

/// `google.rpc.ErrorInfo`: the reason for an error, as a stable machine-readable
/// identifier within a domain.
#[derive(Clone, PartialEq, Message)]
pub struct ErrorInfo {
    /// `UPPER_SNAKE_CASE` reason, unique within the domain.
    #[prost(string, tag = "1")]
    pub reason: String,
    /// The logical grouping the reason belongs to, usually the service's name.
    #[prost(string, tag = "2")]
    pub domain: String,
    /// Further structured details.
    #[prost(map = "string, string", tag = "3")]
    pub metadata: HashMap<String, String>,
}

/// `google.rpc.RetryInfo`: when the client may retry.
#[derive(Clone, PartialEq, Message)]
pub struct RetryInfo {
    #[prost(message, optional, tag = "1")]
    retry_delay: Option<ProtoDuration>,
}

impl RetryInfo {
    /// Retry after `delay`.
    #[must_use]
    pub fn new(delay: Duration) -> Self {
        Self {
            retry_delay: Some(ProtoDuration {
                seconds: i64::try_from(delay.as_secs()).unwrap_or(i64::MAX),
                nanos: i32::try_from(delay.subsec_nanos()).unwrap_or(0),
            }),
        }
    }

    /// How long to wait before retrying; `None` if unset or negative.
    #[must_use]
    pub fn retry_delay(&self) -> Option<Duration> {
        let d = self.retry_delay?;
        let seconds = u64::try_from(d.seconds).ok()?;
        let nanos = u32::try_from(d.nanos).ok()?;
        Some(Duration::new(seconds, nanos))
    }
}

/// `google.rpc.DebugInfo`: for developers, not for end users.
#[derive(Clone, PartialEq, Message)]
pub struct DebugInfo {
    /// The stack trace.
    #[prost(string, repeated, tag = "1")]
    pub stack_entries: Vec<String>,
    /// Anything else.
    #[prost(string, tag = "2")]
    pub detail: String,
}

/// One quota that was exceeded.
#[derive(Clone, PartialEq, Message)]
pub struct QuotaViolation {
    /// What the quota applies to, e.g. `clientip:1.2.3.4` or `project:p1`.
    #[prost(string, tag = "1")]
    pub subject: String,
    /// Why it was exceeded.
    #[prost(string, tag = "2")]
    pub description: String,
}

/// `google.rpc.QuotaFailure`.
#[derive(Clone, PartialEq, Message)]
pub struct QuotaFailure {
    /// The quotas exceeded.
    #[prost(message, repeated, tag = "1")]
    pub violations: Vec<QuotaViolation>,
}

/// One precondition that failed.
#[derive(Clone, PartialEq, Message)]
pub struct PreconditionViolation {
    /// A service-specific type, e.g. `TOS`.
    #[prost(string, tag = "1")]
    pub r#type: String,
    /// What failed it, e.g. `google.com/cloud`.
    #[prost(string, tag = "2")]
    pub subject: String,
    /// How to fix it.
    #[prost(string, tag = "3")]
    pub description: String,
}

/// `google.rpc.PreconditionFailure`.
#[derive(Clone, PartialEq, Message)]
pub struct PreconditionFailure {
    /// The preconditions that failed.
    #[prost(message, repeated, tag = "1")]
    pub violations: Vec<PreconditionViolation>,
}

/// One bad field of a request.
#[derive(Clone, PartialEq, Message)]
pub struct FieldViolation {
    /// The field's path, e.g. `address.zip`.
    #[prost(string, tag = "1")]
    pub field: String,
    /// Why it is bad.
    #[prost(string, tag = "2")]
    pub description: String,
}

impl FieldViolation {
    /// `field` is bad because of `description`.
    #[must_use]
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// `google.rpc.BadRequest`: which fields of the request are wrong.
#[derive(Clone, PartialEq, Message)]
pub struct BadRequest {
    /// The bad fields.
    #[prost(message, repeated, tag = "1")]
    pub field_violations: Vec<FieldViolation>,
}

/// `google.rpc.RequestInfo`: for finding the request in the server's logs.
#[derive(Clone, PartialEq, Message)]
pub struct RequestInfo {
    /// An id the server's logs know the request by.
    #[prost(string, tag = "1")]
    pub request_id: String,
    /// Opaque data for debugging.
    #[prost(string, tag = "2")]
    pub serving_data: String,
}

/// `google.rpc.ResourceInfo`: the resource the error is about.
#[derive(Clone, PartialEq, Message)]
pub struct ResourceInfo {
    /// E.g. `sql table` or a type URL.
    #[prost(string, tag = "1")]
    pub resource_type: String,
    /// The resource's name.
    #[prost(string, tag = "2")]
    pub resource_name: String,
    /// Its owner, if known.
    #[prost(string, tag = "3")]
    pub owner: String,
    /// What went wrong with it.
    #[prost(string, tag = "4")]
    pub description: String,
}

/// A link to documentation.
#[derive(Clone, PartialEq, Message)]
pub struct HelpLink {
    /// What the link is about.
    #[prost(string, tag = "1")]
    pub description: String,
    /// The URL.
    #[prost(string, tag = "2")]
    pub url: String,
}

/// `google.rpc.Help`.
#[derive(Clone, PartialEq, Message)]
pub struct Help {
    /// The links.
    #[prost(message, repeated, tag = "1")]
    pub links: Vec<HelpLink>,
}

/// `google.rpc.LocalizedMessage`: an error message for the end user.
#[derive(Clone, PartialEq, Message)]
pub struct LocalizedMessage {
    /// A BCP-47 locale, e.g. `en-US`.
    #[prost(string, tag = "1")]
    pub locale: String,
    /// The message in that locale.
    #[prost(string, tag = "2")]
    pub message: String,
}

/// The standard details a status carries, at most one of each kind (as
/// `google.rpc` recommends). Unknown detail types are skipped when reading.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ErrorDetails {
    /// [`ErrorInfo`].
    pub error_info: Option<ErrorInfo>,
    /// [`RetryInfo`].
    pub retry_info: Option<RetryInfo>,
    /// [`DebugInfo`].
    pub debug_info: Option<DebugInfo>,
    /// [`QuotaFailure`].
    pub quota_failure: Option<QuotaFailure>,
    /// [`PreconditionFailure`].
    pub precondition_failure: Option<PreconditionFailure>,
    /// [`BadRequest`].
    pub bad_request: Option<BadRequest>,
    /// [`RequestInfo`].
    pub request_info: Option<RequestInfo>,
    /// [`ResourceInfo`].
    pub resource_info: Option<ResourceInfo>,
    /// [`Help`].
    pub help: Option<Help>,
    /// [`LocalizedMessage`].
    pub localized_message: Option<LocalizedMessage>,
}

impl ErrorDetails {
    /// No details.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an [`ErrorInfo`].
    #[must_use]
    pub fn error_info<'a>(
        mut self,
        reason: impl Into<String>,
        domain: impl Into<String>,
        metadata: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        self.error_info = Some(ErrorInfo {
            reason: reason.into(),
            domain: domain.into(),
            metadata: metadata
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        });
        self
    }

    /// Adds a [`BadRequest`].
    #[must_use]
    pub fn bad_request(mut self, violations: Vec<FieldViolation>) -> Self {
        self.bad_request = Some(BadRequest {
            field_violations: violations,
        });
        self
    }

    /// Adds a [`RetryInfo`].
    #[must_use]
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_info = Some(RetryInfo::new(delay));
        self
    }

    /// Adds a [`RequestInfo`].
    #[must_use]
    pub fn request_info(mut self, request_id: impl Into<String>) -> Self {
        self.request_info = Some(RequestInfo {
            request_id: request_id.into(),
            serving_data: String::new(),
        });
        self
    }

    /// Adds a [`LocalizedMessage`].
    #[must_use]
    pub fn localized(mut self, locale: impl Into<String>, message: impl Into<String>) -> Self {
        self.localized_message = Some(LocalizedMessage {
            locale: locale.into(),
            message: message.into(),
        });
        self
    }

    fn pack(&self) -> Vec<Any> {
        fn any<M: Message>(name: &str, m: &M) -> Any {
            Any {
                type_url: format!("{TYPE_PREFIX}google.rpc.{name}"),
                value: m.encode_to_vec(),
            }
        }
        let mut out = Vec::new();
        macro_rules! put {
            ($($field:ident => $name:literal),*) => {
                $(if let Some(m) = &self.$field { out.push(any($name, m)); })*
            };
        }
        put!(
            error_info => "ErrorInfo",
            retry_info => "RetryInfo",
            debug_info => "DebugInfo",
            quota_failure => "QuotaFailure",
            precondition_failure => "PreconditionFailure",
            bad_request => "BadRequest",
            request_info => "RequestInfo",
            resource_info => "ResourceInfo",
            help => "Help",
            localized_message => "LocalizedMessage"
        );
        out
    }

    fn unpack(details: &[Any]) -> Result<Self, prost::DecodeError> {
        let mut out = Self::default();
        for any in details {
            let Some(name) = any
                .type_url
                .rsplit('/')
                .next()
                .and_then(|n| n.strip_prefix("google.rpc."))
            else {
                continue;
            };
            let v = any.value.as_slice();
            match name {
                "ErrorInfo" => out.error_info = Some(Message::decode(v)?),
                "RetryInfo" => out.retry_info = Some(Message::decode(v)?),
                "DebugInfo" => out.debug_info = Some(Message::decode(v)?),
                "QuotaFailure" => out.quota_failure = Some(Message::decode(v)?),
                "PreconditionFailure" => out.precondition_failure = Some(Message::decode(v)?),
                "BadRequest" => out.bad_request = Some(Message::decode(v)?),
                "RequestInfo" => out.request_info = Some(Message::decode(v)?),
                "ResourceInfo" => out.resource_info = Some(Message::decode(v)?),
                "Help" => out.help = Some(Message::decode(v)?),
                "LocalizedMessage" => out.localized_message = Some(Message::decode(v)?),
                _ => {}
            }
        }
        Ok(out)
    }
}

impl Status {
    /// Attaches `details` as an encoded `google.rpc.Status` in
    /// `grpc-status-details-bin`, with this status's code and message.
    #[must_use]
    pub fn with_error_details(self, details: ErrorDetails) -> Status {
        let rpc = RpcStatus {
            code: self.code() as i32,
            message: self.message().to_owned(),
            details: details.pack(),
        };
        self.with_details(Bytes::from(rpc.encode_to_vec()))
    }

    /// The standard details the status carries, decoded from
    /// `grpc-status-details-bin`; empty when it carries none. `Err` when the bytes
    /// are not a `google.rpc.Status`, or one whose code differs from the status's
    /// own (the gRPC spec says to treat that as an error).
    pub fn error_details(&self) -> Result<ErrorDetails, DetailsError> {
        if self.details().is_empty() {
            return Ok(ErrorDetails::default());
        }
        let rpc = RpcStatus::decode(self.details()).map_err(DetailsError::Decode)?;
        let details = Code::from_i32(rpc.code);
        if details != self.code() {
            return Err(DetailsError::CodeMismatch {
                status: self.code(),
                details,
            });
        }
        ErrorDetails::unpack(&rpc.details).map_err(DetailsError::Decode)
    }
}

/// Why a status's details could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum DetailsError {
    /// The bytes are not a `google.rpc.Status`, or a detail is malformed.
    Decode(prost::DecodeError),
    /// The `google.rpc.Status` has another code than the status it came with.
    CodeMismatch {
        /// The code in `grpc-status`.
        status: Code,
        /// The code in `grpc-status-details-bin`.
        details: Code,
    },
}

impl std::fmt::Display for DetailsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DetailsError::Decode(e) => write!(f, "malformed status details: {e}"),
            DetailsError::CodeMismatch { status, details } => write!(
                f,
                "status details carry code {details:?}, the status has {status:?}"
            ),
        }
    }
}

impl std::error::Error for DetailsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_detail_round_trips() {
        let details = ErrorDetails {
            error_info: Some(ErrorInfo {
                reason: "R".into(),
                domain: "d".into(),
                metadata: [("k".to_owned(), "v".to_owned())].into(),
            }),
            retry_info: Some(RetryInfo::new(Duration::from_millis(1500))),
            debug_info: Some(DebugInfo {
                stack_entries: vec!["a".into()],
                detail: "b".into(),
            }),
            quota_failure: Some(QuotaFailure {
                violations: vec![QuotaViolation {
                    subject: "s".into(),
                    description: "d".into(),
                }],
            }),
            precondition_failure: Some(PreconditionFailure {
                violations: vec![PreconditionViolation {
                    r#type: "TOS".into(),
                    subject: "s".into(),
                    description: "d".into(),
                }],
            }),
            bad_request: Some(BadRequest {
                field_violations: vec![FieldViolation::new("f", "d")],
            }),
            request_info: Some(RequestInfo {
                request_id: "id".into(),
                serving_data: "x".into(),
            }),
            resource_info: Some(ResourceInfo {
                resource_type: "t".into(),
                resource_name: "n".into(),
                owner: "o".into(),
                description: "d".into(),
            }),
            help: Some(Help {
                links: vec![HelpLink {
                    description: "docs".into(),
                    url: "https://example.com".into(),
                }],
            }),
            localized_message: Some(LocalizedMessage {
                locale: "en".into(),
                message: "m".into(),
            }),
        };
        let status = Status::failed_precondition("nope").with_error_details(details.clone());
        assert_eq!(status.error_details().unwrap(), details);
        assert_eq!(
            status
                .error_details()
                .unwrap()
                .retry_info
                .unwrap()
                .retry_delay(),
            Some(Duration::from_millis(1500))
        );
    }

    #[test]
    fn no_details_is_empty_and_garbage_or_a_code_mismatch_is_an_error() {
        assert_eq!(
            Status::internal("x").error_details().unwrap(),
            ErrorDetails::default()
        );
        assert!(
            Status::internal("x")
                .with_details(vec![0xff, 0xff])
                .error_details()
                .is_err()
        );
        let other =
            Status::not_found("x").with_error_details(ErrorDetails::new().request_info("r"));
        let mismatched = Status::internal("x").with_details(other.details().to_vec());
        assert!(mismatched.error_details().is_err());
    }

    #[test]
    fn unknown_detail_types_are_skipped() {
        let rpc = RpcStatus {
            code: Code::Aborted as i32,
            message: String::new(),
            details: vec![
                Any {
                    type_url: "type.googleapis.com/acme.Custom".into(),
                    value: vec![1, 2, 3],
                },
                Any {
                    type_url: "type.googleapis.com/google.rpc.RequestInfo".into(),
                    value: RequestInfo {
                        request_id: "r1".into(),
                        serving_data: String::new(),
                    }
                    .encode_to_vec(),
                },
            ],
        };
        let status = Status::aborted("x").with_details(rpc.encode_to_vec());
        let details = status.error_details().unwrap();
        assert_eq!(details.request_info.unwrap().request_id, "r1");
    }
}
