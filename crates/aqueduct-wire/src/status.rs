//! Status codes, the `grpc-message` encoding, and how plain HTTP responses map to
//! codes.

use std::fmt;

/// A gRPC status code: the 17 codes every implementation shares.
///
/// Deliberately exhaustive: the set is fixed by the protocol. Numbers outside it that
/// arrive from a peer become [`Code::Unknown`] (see [`Code::from_i32`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// Not an error.
    Ok = 0,
    /// The operation was cancelled, typically by the caller.
    Cancelled = 1,
    /// Unknown error, including errors from peers that sent no usable status.
    Unknown = 2,
    /// The client specified an invalid argument.
    InvalidArgument = 3,
    /// The deadline expired before the operation could complete.
    DeadlineExceeded = 4,
    /// Some requested entity was not found.
    NotFound = 5,
    /// The entity that a client tried to create already exists.
    AlreadyExists = 6,
    /// The caller does not have permission to run the operation.
    PermissionDenied = 7,
    /// Some resource has been exhausted (quota, message size, ...).
    ResourceExhausted = 8,
    /// The system is not in a state required for the operation.
    FailedPrecondition = 9,
    /// The operation was aborted, typically due to a concurrency issue.
    Aborted = 10,
    /// The operation was attempted past the valid range.
    OutOfRange = 11,
    /// The operation is not implemented or supported.
    Unimplemented = 12,
    /// An invariant expected by the system was broken.
    Internal = 13,
    /// The service is currently unavailable; retrying may help.
    Unavailable = 14,
    /// Unrecoverable data loss or corruption.
    DataLoss = 15,
    /// The request does not have valid authentication credentials.
    Unauthenticated = 16,
}

impl Code {
    /// Every code, in numeric order.
    pub const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    /// The code for a number; numbers outside 0..=16 are [`Code::Unknown`].
    #[must_use]
    pub fn from_i32(n: i32) -> Code {
        usize::try_from(n)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
            .unwrap_or(Code::Unknown)
    }

    /// Parses the `grpc-status` header value: ASCII digits only.
    ///
    /// Returns `None` when the value is not a number; a number outside the known codes
    /// is [`Code::Unknown`], as the gRPC spec asks.
    #[must_use]
    pub fn from_header(value: &[u8]) -> Option<Code> {
        if value.is_empty() || value.len() > 10 || !value.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = value
            .iter()
            .fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
        Some(i32::try_from(n).map_or(Code::Unknown, Code::from_i32))
    }

    /// The number carried on the wire.
    #[must_use]
    pub fn as_i32(self) -> i32 {
        self as i32
    }

    /// The `grpc-status` header value for this code.
    #[must_use]
    pub fn header_value(self) -> &'static str {
        const VALUES: [&str; 17] = [
            "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
            "16",
        ];
        VALUES[self as usize]
    }

    /// The canonical upper-snake-case name, as in `UNAVAILABLE`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Code::Ok => "OK",
            Code::Cancelled => "CANCELLED",
            Code::Unknown => "UNKNOWN",
            Code::InvalidArgument => "INVALID_ARGUMENT",
            Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
            Code::NotFound => "NOT_FOUND",
            Code::AlreadyExists => "ALREADY_EXISTS",
            Code::PermissionDenied => "PERMISSION_DENIED",
            Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
            Code::FailedPrecondition => "FAILED_PRECONDITION",
            Code::Aborted => "ABORTED",
            Code::OutOfRange => "OUT_OF_RANGE",
            Code::Unimplemented => "UNIMPLEMENTED",
            Code::Internal => "INTERNAL",
            Code::Unavailable => "UNAVAILABLE",
            Code::DataLoss => "DATA_LOSS",
            Code::Unauthenticated => "UNAUTHENTICATED",
        }
    }

    /// The code a client reports when a response is plain HTTP with this status
    /// instead of gRPC, following gRPC's `http-grpc-status-mapping.md`.
    ///
    /// ```
    /// use aqueduct_wire::status::Code;
    /// assert_eq!(Code::from_http_status(404), Code::Unimplemented);
    /// assert_eq!(Code::from_http_status(503), Code::Unavailable);
    /// ```
    #[must_use]
    pub fn from_http_status(status: u16) -> Code {
        match status {
            400 => Code::Internal,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::Unimplemented,
            429 | 502 | 503 | 504 => Code::Unavailable,
            _ => Code::Unknown,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether `b` may appear in `grpc-message` without percent-encoding.
fn is_unreserved(b: u8) -> bool {
    (0x20..=0x7e).contains(&b) && b != b'%'
}

/// Percent-encodes a status message for the `grpc-message` header: bytes outside
/// printable ASCII, and `%` itself, become `%XX` of their UTF-8 bytes.
///
/// ```
/// use aqueduct_wire::status::{decode_message, encode_message};
/// let wire = encode_message("100% \u{2713}");
/// assert_eq!(wire, "100%25 %E2%9C%93");
/// assert_eq!(decode_message(wire.as_bytes()), "100% \u{2713}");
/// ```
#[must_use]
pub fn encode_message(message: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(message.len());
    for &b in message.as_bytes() {
        if is_unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// Decodes a `grpc-message` header value.
///
/// Never fails, as the gRPC spec asks: an invalid escape is kept as it is, and bytes
/// that are not UTF-8 after decoding become U+FFFD.
#[must_use]
pub fn decode_message(value: &[u8]) -> String {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(value.len());
    let mut rest = value;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            if let [h, l, after @ ..] = tail {
                if let (Some(h), Some(l)) = (hex(*h), hex(*l)) {
                    out.push(h << 4 | l);
                    rest = after;
                    continue;
                }
            }
        }
        out.push(b);
        rest = tail;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for (i, code) in Code::ALL.iter().enumerate() {
            assert_eq!(code.as_i32() as usize, i);
            assert_eq!(Code::from_i32(code.as_i32()), *code);
            assert_eq!(
                Code::from_header(code.header_value().as_bytes()),
                Some(*code)
            );
        }
        assert_eq!(Code::from_i32(17), Code::Unknown);
        assert_eq!(Code::from_i32(-1), Code::Unknown);
    }

    #[test]
    fn status_header_error_paths() {
        assert_eq!(Code::from_header(b""), None);
        assert_eq!(Code::from_header(b"-1"), None);
        assert_eq!(Code::from_header(b"1a"), None);
        assert_eq!(Code::from_header(b" 1"), None);
        assert_eq!(Code::from_header(b"99"), Some(Code::Unknown));
        assert_eq!(Code::from_header(b"9999999999"), Some(Code::Unknown));
        assert_eq!(Code::from_header(b"99999999999"), None);
    }

    #[test]
    fn http_mapping() {
        assert_eq!(Code::from_http_status(400), Code::Internal);
        assert_eq!(Code::from_http_status(401), Code::Unauthenticated);
        assert_eq!(Code::from_http_status(403), Code::PermissionDenied);
        assert_eq!(Code::from_http_status(404), Code::Unimplemented);
        assert_eq!(Code::from_http_status(429), Code::Unavailable);
        assert_eq!(Code::from_http_status(502), Code::Unavailable);
        assert_eq!(Code::from_http_status(504), Code::Unavailable);
        assert_eq!(Code::from_http_status(500), Code::Unknown);
        assert_eq!(Code::from_http_status(200), Code::Unknown);
    }

    #[test]
    fn special_status_message_round_trip() {
        // The interop test's special_status_message text.
        let msg = "\t\ntest with whitespace\r\nand Unicode BMP \u{263a} and non-BMP \u{1f608}\t\n";
        let wire = encode_message(msg);
        assert!(wire.bytes().all(|b| (0x20..=0x7e).contains(&b)));
        assert_eq!(decode_message(wire.as_bytes()), msg);
    }

    #[test]
    fn decode_keeps_invalid_escapes() {
        assert_eq!(decode_message(b"%"), "%");
        assert_eq!(decode_message(b"%4"), "%4");
        assert_eq!(decode_message(b"%zz%41"), "%zzA");
        assert_eq!(decode_message(b"%FF"), "\u{fffd}");
    }

    #[test]
    fn random_input_never_panics() {
        let mut rng = crate::test_rng::Rng::new(99);
        for _ in 0..50_000 {
            let len = rng.below(12);
            let v: Vec<u8> = (0..len).map(|_| rng.byte_from(b"%0aF9gZ ")).collect();
            let decoded = decode_message(&v);
            // Whatever came in, encoding the result gives a valid header value.
            assert!(
                encode_message(&decoded)
                    .bytes()
                    .all(|b| (0x20..=0x7e).contains(&b))
            );
        }
    }
}
