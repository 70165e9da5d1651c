//! [`MetadataMap`]: the custom key-value pairs a call carries in its headers and
//! trailers.

use std::fmt;

use http::HeaderMap;
use http::header::{HeaderName, HeaderValue};

use aqueduct_wire::metadata as rules;
pub use aqueduct_wire::metadata::MetadataError;

/// Custom metadata: ASCII values under ordinary keys, binary values under keys that
/// end in `-bin`.
///
/// Keys are lower-case `0-9 a-z _ - .`; keys the protocol owns (`grpc-*`,
/// `content-type`, `te`, ...) are refused on insert and left out when received.
/// A key may hold several values.
///
/// Binary values are sent as unpadded base64 and read padded or unpadded,
/// several values joined with `,` in one header included. A request whose
/// `-bin` value is not base64 never reaches a handler: the server fails the
/// call `INTERNAL`, naming the key, as grpc-go does.
///
/// ```
/// use aqueduct::MetadataMap;
///
/// let mut md = MetadataMap::new();
/// md.insert("x-request-id", "abc-123").unwrap();
/// md.insert_bin("trace-bin", &[0xde, 0xad]).unwrap();
/// assert_eq!(md.get("x-request-id"), Some("abc-123"));
/// assert_eq!(md.get_bin("trace-bin").unwrap(), vec![0xde, 0xad]);
/// assert!(md.insert("grpc-status", "0").is_err());
/// ```
#[derive(Clone, Default)]
pub struct MetadataMap {
    /// For received metadata, the headers exactly as they arrived, protocol keys
    /// included: they are skipped on access instead of copied out on every call.
    headers: HeaderMap,
}

/// Whether a key is user metadata rather than the protocol's own.
fn is_user_key(key: &str) -> bool {
    aqueduct_wire::headers::classify(key.as_bytes()) == aqueduct_wire::headers::Field::Metadata
}

/// Whether a stored entry is visible as metadata: a user key, and for ASCII keys a
/// value that is visible ASCII.
fn is_visible(name: &HeaderName, value: &HeaderValue) -> bool {
    let key = name.as_str();
    is_user_key(key) && (rules::is_binary_key(key) || value.to_str().is_ok())
}

/// One metadata value, as [`MetadataMap::iter`] yields it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum MetadataValue<'a> {
    /// A value under an ordinary key.
    Ascii(&'a str),
    /// A value under a `-bin` key, still base64-encoded as it travels.
    Binary(&'a str),
}

impl MetadataMap {
    /// An empty map.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of values (a key with two values counts twice).
    #[must_use]
    pub fn len(&self) -> usize {
        self.headers
            .iter()
            .filter(|(k, v)| is_visible(k, v))
            .count()
    }

    /// Whether there are no values.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        !self.headers.iter().any(|(k, v)| is_visible(k, v))
    }

    fn key(key: &str, binary: bool) -> Result<HeaderName, MetadataError> {
        rules::validate_key(key)?;
        if rules::is_reserved(key) {
            return Err(MetadataError::ReservedKey);
        }
        if rules::is_binary_key(key) != binary {
            return Err(MetadataError::WrongKind);
        }
        HeaderName::from_bytes(key.as_bytes()).map_err(|_| MetadataError::InvalidKey)
    }

    /// Replaces the values of an ASCII key with `value`.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), MetadataError> {
        let name = Self::key(key, false)?;
        let value = ascii_value(value)?;
        self.headers.insert(name, value);
        Ok(())
    }

    /// Adds `value` to an ASCII key, keeping the values already there.
    pub fn append(&mut self, key: &str, value: &str) -> Result<(), MetadataError> {
        let name = Self::key(key, false)?;
        let value = ascii_value(value)?;
        self.headers.append(name, value);
        Ok(())
    }

    /// Replaces the values of a `-bin` key with `value`.
    pub fn insert_bin(&mut self, key: &str, value: &[u8]) -> Result<(), MetadataError> {
        let name = Self::key(key, true)?;
        let value = HeaderValue::try_from(rules::encode_binary(value))
            .map_err(|_| MetadataError::InvalidBase64)?;
        self.headers.insert(name, value);
        Ok(())
    }

    /// Adds `value` to a `-bin` key, keeping the values already there.
    pub fn append_bin(&mut self, key: &str, value: &[u8]) -> Result<(), MetadataError> {
        let name = Self::key(key, true)?;
        let value = HeaderValue::try_from(rules::encode_binary(value))
            .map_err(|_| MetadataError::InvalidBase64)?;
        self.headers.append(name, value);
        Ok(())
    }

    /// The first value of an ASCII key.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        if rules::is_binary_key(key) || !is_user_key(key) {
            return None;
        }
        self.headers.get(key).and_then(|v| v.to_str().ok())
    }

    /// Every value of an ASCII key, in order.
    pub fn get_all<'a>(&'a self, key: &str) -> impl Iterator<Item = &'a str> + 'a {
        let hidden = rules::is_binary_key(key) || !is_user_key(key);
        self.headers
            .get_all(key)
            .iter()
            .filter(move |_| !hidden)
            .filter_map(|v| v.to_str().ok())
    }

    /// The first value of a `-bin` key, decoded. `None` if absent or not base64.
    ///
    /// Received values may arrive joined in one header (`AQI,AQID`, as HTTP/2
    /// intermediaries may join duplicates): the first of them is the first value.
    #[must_use]
    pub fn get_bin(&self, key: &str) -> Option<Vec<u8>> {
        self.get_all_bin(key).next()
    }

    /// Every value of a `-bin` key, decoded, in order; a received header
    /// holding values joined with `,` gives each of them. Values that are not
    /// base64 are skipped (a server never lets a call with one reach its
    /// handler: it fails the call `INTERNAL`).
    pub fn get_all_bin<'a>(&'a self, key: &str) -> impl Iterator<Item = Vec<u8>> + 'a {
        let binary = rules::is_binary_key(key) && is_user_key(key);
        self.headers
            .get_all(key)
            .iter()
            .filter(move |_| binary)
            .flat_map(|v| rules::binary_values(v.as_bytes()))
            .filter_map(|v| rules::decode_binary(v).ok())
    }

    /// Whether the key has at least one value.
    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        is_user_key(key) && self.headers.contains_key(key)
    }

    /// Removes every value of a key; returns whether there were any.
    pub fn remove(&mut self, key: &str) -> bool {
        is_user_key(key) && self.headers.remove(key).is_some()
    }

    /// Every key and value, in no particular order of keys.
    pub fn iter(&self) -> impl Iterator<Item = (&str, MetadataValue<'_>)> + '_ {
        self.headers
            .iter()
            .filter(|(k, v)| is_visible(k, v))
            .filter_map(|(k, v)| {
                let key = k.as_str();
                let value = v.to_str().ok()?;
                Some(if rules::is_binary_key(key) {
                    (key, MetadataValue::Binary(value))
                } else {
                    (key, MetadataValue::Ascii(value))
                })
            })
    }

    /// The user metadata in received headers: protocol headers, and ASCII values
    /// that are not visible ASCII, are not visible through the map.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Self {
        Self::from_header_map(headers.clone())
    }

    /// Like [`from_headers`](Self::from_headers), taking the map by value: O(1),
    /// nothing is copied or rehashed.
    pub(crate) fn from_header_map(headers: HeaderMap) -> Self {
        Self { headers }
    }

    /// The headers underneath, as they arrived (protocol keys included).
    #[cfg(feature = "tower")]
    pub(crate) fn into_header_map(self) -> HeaderMap {
        self.headers
    }

    /// Appends every value of `other` (keeping what is here).
    pub(crate) fn append_all(&mut self, other: MetadataMap) {
        if self.headers.is_empty() {
            *self = other;
            return;
        }
        let mut current = None;
        for (name, value) in other.headers {
            if name.is_some() {
                current = name;
            }
            if let Some(name) = &current {
                self.headers.append(name.clone(), value);
            }
        }
    }

    /// Appends the visible values of every key `headers` does not have yet.
    pub(crate) fn write_missing_into(&self, headers: &mut HeaderMap) {
        for name in self.headers.keys() {
            if headers.contains_key(name) {
                continue;
            }
            for value in self.headers.get_all(name) {
                if is_visible(name, value) {
                    headers.append(name.clone(), value.clone());
                }
            }
        }
    }

    /// Appends every visible value to `headers`.
    pub(crate) fn write_into(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.headers {
            if is_visible(name, value) {
                headers.append(name.clone(), value.clone());
            }
        }
    }
}

impl PartialEq for MetadataMap {
    fn eq(&self, other: &Self) -> bool {
        let mut a: Vec<_> = self.iter().collect();
        let mut b: Vec<_> = other.iter().collect();
        a.sort_unstable();
        b.sort_unstable();
        a == b
    }
}

fn ascii_value(value: &str) -> Result<HeaderValue, MetadataError> {
    rules::validate_ascii_value(value.as_bytes())?;
    HeaderValue::from_str(value).map_err(|_| MetadataError::InvalidAsciiValue)
}

impl fmt::Debug for MetadataMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_kept_apart() {
        let mut md = MetadataMap::new();
        assert_eq!(md.insert("a-bin", "x"), Err(MetadataError::WrongKind));
        assert_eq!(md.insert_bin("a", b"x"), Err(MetadataError::WrongKind));
        assert_eq!(md.insert("Upper", "x"), Err(MetadataError::InvalidKey));
        assert_eq!(md.insert("te", "x"), Err(MetadataError::ReservedKey));
        assert_eq!(
            md.insert("a", "line\nbreak"),
            Err(MetadataError::InvalidAsciiValue)
        );
        md.append("k", "1").unwrap();
        md.append("k", "2").unwrap();
        assert_eq!(md.get_all("k").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(md.len(), 2);
        assert!(md.remove("k"));
        assert!(md.is_empty());
    }

    #[test]
    fn received_headers_drop_protocol_keys() {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("application/grpc"));
        h.insert("grpc-timeout", HeaderValue::from_static("1S"));
        h.insert("x-mine", HeaderValue::from_static("yes"));
        h.insert("x-bad", HeaderValue::from_bytes(b"\xff").unwrap());
        h.insert("x-bin", HeaderValue::from_static("AQI"));
        let md = MetadataMap::from_header_map(h);
        assert_eq!(md.len(), 2);
        assert_eq!(md.get("x-mine"), Some("yes"));
        assert_eq!(md.get_bin("x-bin").unwrap(), vec![1, 2]);
    }

    #[test]
    fn joined_binary_values_are_each_a_value() {
        let mut h = HeaderMap::new();
        h.append("x-bin", HeaderValue::from_static("AQI=, AQID"));
        h.append("x-bin", HeaderValue::from_static("BA"));
        let md = MetadataMap::from_header_map(h);
        assert_eq!(md.get_bin("x-bin").unwrap(), vec![1, 2]);
        let all: Vec<Vec<u8>> = md.get_all_bin("x-bin").collect();
        assert_eq!(all, [vec![1, 2], vec![1, 2, 3], vec![4]]);
    }

    /// The `-bin` rule the runtime applies to what it receives, through the
    /// parsers it uses (aqueduct-wire's): server request heads, client
    /// trailers.
    #[test]
    fn received_binary_values_are_checked_by_key() {
        use aqueduct_wire::request::RequestParser;
        use aqueduct_wire::response::TrailersParser;
        let check = |fields: &[(&str, &str)]| {
            let mut request = RequestParser::new();
            request.field(b":method", b"POST");
            request.field(b"content-type", b"application/grpc");
            let mut trailers = TrailersParser::new();
            trailers.field(b"grpc-status", b"0");
            for (name, value) in fields {
                request.field(name.as_bytes(), value.as_bytes());
                trailers.field(name.as_bytes(), value.as_bytes());
            }
            let server = request.finish().map(drop).map_err(|e| e.into_message());
            let client = trailers.finish().map(drop).map_err(|e| e.into_message());
            assert_eq!(server, client, "both sides apply the same rule");
            server
        };
        check(&[("x-bin", "AQI")]).unwrap();
        check(&[("x-bin", "AQI=,AQID")]).unwrap();
        check(&[("x-ascii", "not base64!")]).unwrap();
        // The protocol's own -bin keys are not user metadata.
        check(&[("grpc-status-details-bin", "!")]).unwrap();
        let message = check(&[("trace-bin", "AQI,A!")]).unwrap_err();
        assert!(message.contains("\"trace-bin\""), "{message}");
        assert!(!message.contains("A!"), "{message}");

        check(&[("x-ok-bin", "AQI")]).unwrap();
        let message = check(&[("x-ok-bin", "AQI"), ("x-bad-bin", "A")]).unwrap_err();
        assert!(message.contains("x-bad-bin"), "{message}");
    }
}
