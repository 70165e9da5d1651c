//! Metadata rules: which keys are valid, which are reserved for the protocol, how
//! ASCII values are checked and how `-bin` values are base64-encoded.
//!
//! Binary values are sent as unpadded base64 and accepted padded or unpadded, as the
//! gRPC spec asks. One received `-bin` header may hold several values joined with
//! `,` (HTTP/2 lets intermediaries join duplicate fields); the spec says to split on
//! `,` before decoding, so [`binary_values`] does, and [`validate_binary`] checks
//! every part.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};

/// Suffix that marks a metadata key as carrying binary values.
pub const BINARY_SUFFIX: &str = "-bin";

/// Why a metadata key or value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataError {
    /// The key is empty or has a character outside `0-9 a-z _ - .`.
    InvalidKey,
    /// The key is owned by the protocol (`grpc-*`, `content-type`, `te`, pseudo-headers...).
    ReservedKey,
    /// An ASCII value has a byte outside printable ASCII (0x20..=0x7E).
    InvalidAsciiValue,
    /// An ASCII value was given for a `-bin` key, or a binary value for an ASCII key.
    WrongKind,
    /// A `-bin` value is not valid base64.
    InvalidBase64,
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidKey => "metadata key must be non-empty and use only 0-9 a-z _ - .",
            Self::ReservedKey => "metadata key is reserved for the gRPC protocol",
            Self::InvalidAsciiValue => "ASCII metadata value must be printable ASCII (0x20-0x7E)",
            Self::WrongKind => {
                "binary values need a key ending in -bin; ASCII values need one that does not"
            }
            Self::InvalidBase64 => "binary metadata value is not valid base64",
        })
    }
}

impl std::error::Error for MetadataError {}

/// Checks a key's characters: non-empty, only `0-9 a-z _ - .`.
pub fn validate_key(key: &str) -> Result<(), MetadataError> {
    let ok = !key.is_empty()
        && key
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'z' | b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(MetadataError::InvalidKey)
    }
}

/// Whether the key belongs to the protocol and so may not be set as user metadata
/// ([`headers::is_reserved`](crate::headers::is_reserved)).
///
/// ```
/// use aqueduct_wire::metadata::is_reserved;
/// assert!(is_reserved("grpc-timeout"));
/// assert!(is_reserved("content-type"));
/// assert!(!is_reserved("x-request-id"));
/// ```
#[must_use]
pub fn is_reserved(key: &str) -> bool {
    crate::headers::is_reserved(key.as_bytes())
}

/// Whether a key carries binary (base64) values.
#[must_use]
pub fn is_binary_key(key: &str) -> bool {
    key.ends_with(BINARY_SUFFIX)
}

/// Checks an ASCII metadata value: printable ASCII only.
pub fn validate_ascii_value(value: &[u8]) -> Result<(), MetadataError> {
    if value.iter().all(|b| (0x20..=0x7e).contains(b)) {
        Ok(())
    } else {
        Err(MetadataError::InvalidAsciiValue)
    }
}

/// Encodes a binary value for the wire: standard base64 without padding.
#[must_use]
pub fn encode_binary(value: &[u8]) -> String {
    general_purpose::STANDARD_NO_PAD.encode(value)
}

const DECODER: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The parts of a received `-bin` header value: split on `,`, each part with
/// the optional whitespace HTTP allows around list members (space, tab)
/// trimmed. A value without commas is one part, an empty value one empty part.
///
/// ```
/// use aqueduct_wire::metadata::binary_values;
/// let parts: Vec<&[u8]> = binary_values(b"AQI, AQID").collect();
/// assert_eq!(parts, [&b"AQI"[..], &b"AQID"[..]]);
/// ```
pub fn binary_values(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(|part| part.trim_ascii())
}

/// Checks a received `-bin` header value without decoding it: every part
/// ([`binary_values`]) must be standard base64, padded or not, exactly what
/// [`decode_binary`] accepts. grpc-go fails a call with such a value
/// (`INTERNAL`); this is the check for doing the same.
///
/// ```
/// use aqueduct_wire::metadata::validate_binary;
/// assert!(validate_binary(b"AQI").is_ok());
/// assert!(validate_binary(b"AQI=,AQID").is_ok());
/// assert!(validate_binary(b"AQI,A!").is_err());
/// ```
pub fn validate_binary(value: &[u8]) -> Result<(), MetadataError> {
    binary_values(value).try_for_each(validate_part)
}

/// One part: every whole group of four before the last is four alphabet
/// characters (padding can only end the value); the last group, padded or
/// not, must decode on its own. Decoding group by group is equivalent to
/// decoding the whole part, and needs no allocation.
fn validate_part(part: &[u8]) -> Result<(), MetadataError> {
    let last = part.len().saturating_sub(1) / 4 * 4;
    let (body, tail) = part.split_at(last);
    let in_alphabet = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/');
    if !body.iter().all(in_alphabet) {
        return Err(MetadataError::InvalidBase64);
    }
    let mut out = [0u8; 3];
    DECODER
        .decode_slice(tail, &mut out)
        .map(drop)
        .map_err(|_| MetadataError::InvalidBase64)
}

/// The error text for a received field whose `-bin` value is not base64
/// ([`validate_binary`]), when its key is custom metadata (the protocol's own
/// `-bin` keys are not checked here); `None` for every other field. Names the
/// key, not the value, as grpc-go's error does.
pub(crate) fn received_binary_error(name: &[u8], value: &[u8]) -> Option<String> {
    if !name.ends_with(BINARY_SUFFIX.as_bytes())
        || crate::headers::classify(name) != crate::headers::Field::Metadata
    {
        return None;
    }
    let e = validate_binary(value).err()?;
    Some(format!(
        "malformed binary metadata {:?}: {e} (standard alphabet, padded or not)",
        String::from_utf8_lossy(name)
    ))
}

/// Decodes a binary value from the wire, padded or not.
///
/// ```
/// use aqueduct_wire::metadata::decode_binary;
/// assert_eq!(decode_binary(b"AQI").unwrap(), vec![1, 2]);
/// assert_eq!(decode_binary(b"AQI=").unwrap(), vec![1, 2]);
/// assert!(decode_binary(b"A!").is_err());
/// ```
pub fn decode_binary(value: &[u8]) -> Result<Vec<u8>, MetadataError> {
    DECODER
        .decode(value)
        .map_err(|_| MetadataError::InvalidBase64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        validate_key("x-user_id.v2").unwrap();
        assert_eq!(validate_key(""), Err(MetadataError::InvalidKey));
        assert_eq!(validate_key("X-Upper"), Err(MetadataError::InvalidKey));
        assert_eq!(validate_key("sp ace"), Err(MetadataError::InvalidKey));
        assert_eq!(validate_key("é"), Err(MetadataError::InvalidKey));
        assert!(is_reserved("grpc-status"));
        assert!(is_reserved(":path"));
        assert!(is_reserved("te"));
        assert!(!is_reserved("grpcx"));
        assert!(is_binary_key("trace-bin"));
        assert!(!is_binary_key("bin"));
    }

    #[test]
    fn ascii_values() {
        validate_ascii_value(b"hello world ~").unwrap();
        validate_ascii_value(b"").unwrap();
        assert_eq!(
            validate_ascii_value(b"tab\there"),
            Err(MetadataError::InvalidAsciiValue)
        );
        assert_eq!(
            validate_ascii_value("ü".as_bytes()),
            Err(MetadataError::InvalidAsciiValue)
        );
        assert_eq!(
            validate_ascii_value(b"\x7f"),
            Err(MetadataError::InvalidAsciiValue)
        );
    }

    #[test]
    fn binary_values_round_trip_padded_or_not() {
        for len in 0..10u8 {
            let v: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37)).collect();
            let unpadded = encode_binary(&v);
            assert!(!unpadded.ends_with('='));
            assert_eq!(decode_binary(unpadded.as_bytes()).unwrap(), v);
            let padded = general_purpose::STANDARD.encode(&v);
            assert_eq!(decode_binary(padded.as_bytes()).unwrap(), v);
        }
        assert_eq!(decode_binary(b"a"), Err(MetadataError::InvalidBase64));
        assert_eq!(decode_binary(b"ab-_"), Err(MetadataError::InvalidBase64));
        assert_eq!(decode_binary(b"ab=c"), Err(MetadataError::InvalidBase64));
    }

    #[test]
    fn validating_agrees_with_decoding_each_part() {
        let mut rng = crate::test_rng::Rng::new(7);
        let mut accepted = 0;
        for _ in 0..50_000 {
            let len = rng.below(14);
            let v: Vec<u8> = (0..len).map(|_| rng.byte_from(b"AQaz9+/=!-, ")).collect();
            let decodes = binary_values(&v).all(|part| decode_binary(part).is_ok());
            assert_eq!(
                validate_binary(&v).is_ok(),
                decodes,
                "{:?}",
                String::from_utf8_lossy(&v)
            );
            accepted += usize::from(decodes);
        }
        // The alphabet above makes both outcomes common.
        assert!(accepted > 1_000, "{accepted}");
    }

    #[test]
    fn joined_values_split_and_padding_is_optional() {
        for ok in [
            &b""[..],
            b"AQI",
            b"AQI=",
            b"AQID",
            b"AQIDBA",
            b"AQIDBA==",
            b"AQI,AQID",
            b"AQI=, AQID",
            b" AQI\t,\tAQID ",
            b"AQI,",
        ] {
            validate_binary(ok).unwrap();
        }
        for bad in [
            &b"A"[..],
            b"AQI==",
            b"AQ=I",
            b"AQI=AQID",
            b"ab-_",
            b"AQI,A",
            b"AQ I",
            b"\xff\xfe",
        ] {
            assert_eq!(
                validate_binary(bad),
                Err(MetadataError::InvalidBase64),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn random_base64_never_panics() {
        let mut rng = crate::test_rng::Rng::new(3);
        for _ in 0..50_000 {
            let len = rng.below(10);
            let v: Vec<u8> = (0..len).map(|_| rng.byte_from(b"AZaz09+/=")).collect();
            let _ = decode_binary(&v);
        }
    }
}
