//! The names of the header fields a gRPC call carries, which of them are the
//! protocol's and which are custom metadata, and the `content-type` rules.
//!
//! Names are `&'static str`, lower case as HTTP/2 sends them: the runtime builds
//! `http::HeaderName::from_static(NAME)` from them, and an HPACK decoder compares
//! raw bytes with `NAME.as_bytes()`. [`classify`] sorts any field name into
//! [`Field`]s; the [`request`](crate::request) and [`response`](crate::response)
//! parsers use it for every field they are given.
//!
//! ```
//! use aqueduct_wire::headers::{self, Field};
//!
//! assert_eq!(headers::GRPC_STATUS, "grpc-status");
//! assert_eq!(headers::classify(b":path"), Field::Pseudo);
//! assert_eq!(headers::classify(b"grpc-timeout"), Field::Protocol);
//! assert_eq!(headers::classify(b"x-request-id"), Field::Metadata);
//! ```

/// `:method`, the request's HTTP method; gRPC uses only [`POST`].
pub const METHOD: &str = ":method";
/// `:scheme`, `http` or `https`.
pub const SCHEME: &str = ":scheme";
/// `:path`, the method to call: `/package.Service/Method`.
pub const PATH: &str = ":path";
/// `:authority`, the server's name.
pub const AUTHORITY: &str = ":authority";
/// `:status`, the response's HTTP status; gRPC responses are [`STATUS_OK`].
pub const STATUS: &str = ":status";

/// `content-type`: `application/grpc` (see [`CONTENT_TYPE`](crate::CONTENT_TYPE)
/// for the value), optionally `+proto` or another subtype.
pub const CONTENT_TYPE: &str = "content-type";
/// `te`: a request's [`TRAILERS`], saying the client reads trailers.
pub const TE: &str = "te";
/// `user-agent`: the client's name and version.
pub const USER_AGENT: &str = "user-agent";
/// `grpc-timeout`: how long the call may take (see [`timeout`](crate::timeout)).
pub const GRPC_TIMEOUT: &str = "grpc-timeout";
/// `grpc-encoding`: the compression of the messages the sender compresses.
pub const GRPC_ENCODING: &str = "grpc-encoding";
/// `grpc-accept-encoding`: the compressions the sender can decode.
pub const GRPC_ACCEPT_ENCODING: &str = "grpc-accept-encoding";
/// `grpc-status`: the call's final [`Code`](crate::status::Code), in trailers.
pub const GRPC_STATUS: &str = "grpc-status";
/// `grpc-message`: the status message, percent-encoded
/// ([`encode_message`](crate::status::encode_message)).
pub const GRPC_MESSAGE: &str = "grpc-message";
/// `grpc-status-details-bin`: binary status details, usually an encoded
/// `google.rpc.Status`, base64 like other `-bin` values.
pub const GRPC_STATUS_DETAILS_BIN: &str = "grpc-status-details-bin";

/// `host`: HTTP/1's `:authority`; never metadata.
pub const HOST: &str = "host";
/// `connection`: HTTP/1 connection option; forbidden in HTTP/2 (RFC 9113 8.2.2).
pub const CONNECTION: &str = "connection";
/// `keep-alive`: HTTP/1 connection option; forbidden in HTTP/2.
pub const KEEP_ALIVE: &str = "keep-alive";
/// `proxy-connection`: HTTP/1 connection option; forbidden in HTTP/2.
pub const PROXY_CONNECTION: &str = "proxy-connection";
/// `transfer-encoding`: HTTP/1 framing; forbidden in HTTP/2.
pub const TRANSFER_ENCODING: &str = "transfer-encoding";
/// `upgrade`: HTTP/1 protocol switch; forbidden in HTTP/2.
pub const UPGRADE: &str = "upgrade";

/// Every name starting with this is the protocol's (`grpc-status`, ...), never
/// metadata.
pub const GRPC_PREFIX: &str = "grpc-";

/// The [`METHOD`] of every gRPC request.
pub const POST: &str = "POST";
/// The [`TE`] value of a gRPC request.
pub const TRAILERS: &str = "trailers";
/// The [`STATUS`] of every gRPC response, errors included.
pub const STATUS_OK: &str = "200";
/// The `content-type` of protobuf requests, which a server also accepts besides
/// plain [`CONTENT_TYPE`](crate::CONTENT_TYPE).
pub const CONTENT_TYPE_PROTO: &str = "application/grpc+proto";

/// The names as bytes, for this crate's `match`es: derived from the names
/// above, so each is written once.
pub(crate) mod raw {
    pub(crate) const METHOD: &[u8] = super::METHOD.as_bytes();
    pub(crate) const STATUS: &[u8] = super::STATUS.as_bytes();
    pub(crate) const CONTENT_TYPE: &[u8] = super::CONTENT_TYPE.as_bytes();
    pub(crate) const TE: &[u8] = super::TE.as_bytes();
    pub(crate) const USER_AGENT: &[u8] = super::USER_AGENT.as_bytes();
    pub(crate) const GRPC_TIMEOUT: &[u8] = super::GRPC_TIMEOUT.as_bytes();
    pub(crate) const GRPC_ENCODING: &[u8] = super::GRPC_ENCODING.as_bytes();
    pub(crate) const GRPC_ACCEPT_ENCODING: &[u8] = super::GRPC_ACCEPT_ENCODING.as_bytes();
    pub(crate) const GRPC_STATUS: &[u8] = super::GRPC_STATUS.as_bytes();
    pub(crate) const GRPC_MESSAGE: &[u8] = super::GRPC_MESSAGE.as_bytes();
    pub(crate) const GRPC_STATUS_DETAILS_BIN: &[u8] = super::GRPC_STATUS_DETAILS_BIN.as_bytes();
    pub(crate) const HOST: &[u8] = super::HOST.as_bytes();
    pub(crate) const CONNECTION: &[u8] = super::CONNECTION.as_bytes();
    pub(crate) const KEEP_ALIVE: &[u8] = super::KEEP_ALIVE.as_bytes();
    pub(crate) const PROXY_CONNECTION: &[u8] = super::PROXY_CONNECTION.as_bytes();
    pub(crate) const TRANSFER_ENCODING: &[u8] = super::TRANSFER_ENCODING.as_bytes();
    pub(crate) const UPGRADE: &[u8] = super::UPGRADE.as_bytes();
    pub(crate) const POST: &[u8] = super::POST.as_bytes();
    pub(crate) const TRAILERS: &[u8] = super::TRAILERS.as_bytes();
    pub(crate) const STATUS_OK: &[u8] = super::STATUS_OK.as_bytes();
}

/// What a header field is to a gRPC call, by its name alone.
///
/// Non-exhaustive: later versions may sort some names more finely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Field {
    /// A pseudo-header (`:method`, `:path`, `:status`, ...).
    Pseudo,
    /// A header the protocol owns: `content-type`, `te`, `user-agent`, every
    /// `grpc-*`, and HTTP/1's connection headers and `host`. Never metadata.
    Protocol,
    /// Custom metadata: handed to the application (a handler, or the caller
    /// of a client call).
    Metadata,
}

/// Sorts a field name: [`Field::Pseudo`], [`Field::Protocol`] or
/// [`Field::Metadata`].
///
/// Only the name is looked at. Names are expected as HTTP/2 delivers them:
/// lower case, well formed (an HTTP/2 engine refuses others as malformed,
/// RFC 9113 8.2.1, before they get here).
///
/// ```
/// use aqueduct_wire::headers::{Field, classify};
/// assert_eq!(classify(b"user-agent"), Field::Protocol);
/// assert_eq!(classify(b"grpc-status-details-bin"), Field::Protocol);
/// assert_eq!(classify(b"trace-bin"), Field::Metadata);
/// ```
#[inline]
#[must_use]
pub fn classify(name: &[u8]) -> Field {
    if name.starts_with(b":") {
        Field::Pseudo
    } else if is_reserved(name) || name == raw::USER_AGENT {
        Field::Protocol
    } else {
        Field::Metadata
    }
}

/// Whether a name is reserved for the protocol, so that it may not be set as
/// metadata: pseudo-headers, `grpc-*`, `content-type`, `te`, HTTP/1's
/// connection headers and `host`.
///
/// `user-agent` is not reserved (an application may set it), but a received
/// one is not metadata either: see [`classify`].
#[inline]
#[must_use]
pub fn is_reserved(name: &[u8]) -> bool {
    name.starts_with(GRPC_PREFIX.as_bytes())
        || name.starts_with(b":")
        || matches!(
            name,
            raw::CONTENT_TYPE
                | raw::TE
                | raw::CONNECTION
                | raw::KEEP_ALIVE
                | raw::PROXY_CONNECTION
                | raw::TRANSFER_ENCODING
                | raw::UPGRADE
                | raw::HOST
        )
}

/// Whether a `content-type` is gRPC's: `application/grpc`, optionally followed
/// by `+subtype` or `;parameters`. Case-sensitive, as sent.
///
/// This is the check a client makes on a response.
///
/// ```
/// use aqueduct_wire::headers::is_grpc_content_type;
/// assert!(is_grpc_content_type(b"application/grpc"));
/// assert!(is_grpc_content_type(b"application/grpc+json"));
/// assert!(!is_grpc_content_type(b"application/grpcx"));
/// assert!(!is_grpc_content_type(b"text/html"));
/// ```
#[inline]
#[must_use]
pub fn is_grpc_content_type(value: &[u8]) -> bool {
    // What nearly every peer sends, decided at once.
    if value == crate::CONTENT_TYPE.as_bytes() {
        return true;
    }
    match value.strip_prefix(crate::CONTENT_TYPE.as_bytes()) {
        Some(rest) => rest.is_empty() || rest.starts_with(b"+") || rest.starts_with(b";"),
        None => false,
    }
}

/// Whether a server decodes requests of this `content-type`: gRPC
/// ([`is_grpc_content_type`]) with protobuf messages, that is `application/grpc`
/// or `application/grpc+proto`, either with `;parameters`.
///
/// ```
/// use aqueduct_wire::headers::is_grpc_proto_content_type;
/// assert!(is_grpc_proto_content_type(b"application/grpc"));
/// assert!(is_grpc_proto_content_type(b"application/grpc+proto;charset=utf-8"));
/// assert!(!is_grpc_proto_content_type(b"application/grpc+json"));
/// ```
#[inline]
#[must_use]
pub fn is_grpc_proto_content_type(value: &[u8]) -> bool {
    // What nearly every peer sends, decided at once.
    if value == crate::CONTENT_TYPE.as_bytes() {
        return true;
    }
    let media_type = value.split(|&b| b == b';').next().unwrap_or_default();
    is_grpc_content_type(value)
        && (media_type == crate::CONTENT_TYPE.as_bytes()
            || media_type == CONTENT_TYPE_PROTO.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        for pseudo in [METHOD, SCHEME, PATH, AUTHORITY, STATUS, ":protocol", ":"] {
            assert_eq!(classify(pseudo.as_bytes()), Field::Pseudo, "{pseudo}");
        }
        for protocol in [
            CONTENT_TYPE,
            TE,
            USER_AGENT,
            GRPC_TIMEOUT,
            GRPC_ENCODING,
            GRPC_ACCEPT_ENCODING,
            GRPC_STATUS,
            GRPC_MESSAGE,
            GRPC_STATUS_DETAILS_BIN,
            "grpc-anything-bin",
            "grpc-",
            HOST,
            CONNECTION,
            KEEP_ALIVE,
            PROXY_CONNECTION,
            TRANSFER_ENCODING,
            UPGRADE,
        ] {
            assert_eq!(classify(protocol.as_bytes()), Field::Protocol, "{protocol}");
        }
        for metadata in [
            "x-id",
            "trace-bin",
            "grpc",
            "grpcx-y",
            "tee",
            "content-types",
            "",
        ] {
            assert_eq!(classify(metadata.as_bytes()), Field::Metadata, "{metadata}");
        }
        assert!(!is_reserved(USER_AGENT.as_bytes()));
        assert!(is_reserved(b":path") && is_reserved(b"grpc-x") && is_reserved(b"te"));
    }

    #[test]
    fn content_types() {
        for ok in [
            &b"application/grpc"[..],
            b"application/grpc+proto",
            b"application/grpc;charset=utf-8",
            b"application/grpc+proto;x=y",
            b"application/grpc;",
        ] {
            assert!(is_grpc_content_type(ok));
            assert!(is_grpc_proto_content_type(ok), "{ok:?}");
        }
        for grpc_not_proto in [
            &b"application/grpc+json"[..],
            b"application/grpc+",
            b"application/grpc+proto2",
            b"application/grpc+json;x=application/grpc",
        ] {
            assert!(is_grpc_content_type(grpc_not_proto));
            assert!(!is_grpc_proto_content_type(grpc_not_proto));
        }
        for bad in [
            &b""[..],
            b"application/grp",
            b"application/grpcx",
            b"application/grpc ",
            b"Application/grpc",
            b"application/json",
            b"\xff",
        ] {
            assert!(!is_grpc_content_type(bad));
            assert!(!is_grpc_proto_content_type(bad));
        }
    }
}
