//! gRPC on raw HTTP/2: a request's header block ([`request`]) and the
//! length-prefixed messages that go in its DATA frames ([`message`],
//! [`length_prefixed`], [`prefix`]).

use bytes::{BufMut, Bytes, BytesMut};

use crate::hpack::{HeaderBlock, index};

/// A gRPC request head for `path`: `POST`, scheme `http`, authority
/// `localhost`, `content-type: application/grpc`, `te: trailers`. Change or
/// add fields with [`GrpcRequest`]'s methods; it is a header block wherever
/// one is taken.
///
/// ```
/// use aqueduct_test_support::frames::{END_HEADERS, Frames};
/// use aqueduct_test_support::grpc;
///
/// let head = grpc::request("/test.v1.Probe/Hang").field("grpc-timeout", "50m");
/// let frames = Frames::new().headers(1, head, END_HEADERS);
/// # assert!(!frames.is_empty());
/// ```
pub fn request(path: &str) -> GrpcRequest {
    GrpcRequest {
        method: "POST".to_owned(),
        scheme: "http".to_owned(),
        path: path.to_owned(),
        authority: Some("localhost".to_owned()),
        content_type: Some("application/grpc".to_owned()),
        te: Some("trailers".to_owned()),
        fields: Vec::new(),
    }
}

/// A gRPC request head, encoded in this order: `:method`, `:scheme`,
/// `:path`, `:authority`, `content-type`, `te`, then the added fields.
/// Pseudo-fields and the two well-known ones use the static table's names;
/// everything is a literal without indexing.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct GrpcRequest {
    method: String,
    scheme: String,
    path: String,
    authority: Option<String>,
    content_type: Option<String>,
    te: Option<String>,
    fields: Vec<(String, String)>,
}

impl GrpcRequest {
    /// Another `:method`.
    pub fn method(mut self, method: &str) -> Self {
        method.clone_into(&mut self.method);
        self
    }

    /// Another `:scheme`.
    pub fn scheme(mut self, scheme: &str) -> Self {
        scheme.clone_into(&mut self.scheme);
        self
    }

    /// Another `:authority`.
    pub fn authority(mut self, authority: &str) -> Self {
        self.authority = Some(authority.to_owned());
        self
    }

    /// No `:authority`.
    pub fn without_authority(mut self) -> Self {
        self.authority = None;
        self
    }

    /// Another `content-type`.
    pub fn content_type(mut self, content_type: &str) -> Self {
        self.content_type = Some(content_type.to_owned());
        self
    }

    /// No `content-type`.
    pub fn without_content_type(mut self) -> Self {
        self.content_type = None;
        self
    }

    /// No `te`.
    pub fn without_te(mut self) -> Self {
        self.te = None;
        self
    }

    /// One more field, after the others (a repeated name is sent twice).
    pub fn field(mut self, name: &str, value: &str) -> Self {
        self.fields.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The header block.
    pub fn block(&self) -> HeaderBlock {
        let block = match self.method.as_str() {
            "POST" => HeaderBlock::new().indexed(index::METHOD_POST),
            "GET" => HeaderBlock::new().indexed(index::METHOD_GET),
            other => HeaderBlock::new().literal_name_indexed(index::METHOD_GET, other),
        };
        let block = match self.scheme.as_str() {
            "http" => block.indexed(index::SCHEME_HTTP),
            "https" => block.indexed(index::SCHEME_HTTPS),
            other => block.literal_name_indexed(index::SCHEME_HTTP, other),
        };
        let mut block = block.literal_name_indexed(index::PATH, &self.path);
        if let Some(authority) = &self.authority {
            block = block.literal_name_indexed(index::AUTHORITY, authority);
        }
        if let Some(content_type) = &self.content_type {
            block = block.literal_name_indexed(index::CONTENT_TYPE, content_type);
        }
        if let Some(te) = &self.te {
            block = block.literal("te", te);
        }
        for (name, value) in &self.fields {
            block = block.literal(name, value);
        }
        block
    }
}

impl From<GrpcRequest> for HeaderBlock {
    fn from(request: GrpcRequest) -> Self {
        request.block()
    }
}

impl From<&GrpcRequest> for HeaderBlock {
    fn from(request: &GrpcRequest) -> Self {
        request.block()
    }
}

/// `msg` encoded and length-prefixed, uncompressed: one gRPC message, for a
/// DATA frame.
pub fn message<M: prost::Message>(msg: &M) -> Bytes {
    length_prefixed(false, &msg.encode_to_vec())
}

/// `payload` after a 5-byte prefix with the compressed flag and its length.
///
/// # Panics
///
/// If the payload is 4 GiB or more, which no prefix can declare.
pub fn length_prefixed(compressed: bool, payload: &[u8]) -> Bytes {
    let len = u32::try_from(payload.len()).expect("a gRPC message under 4 GiB");
    let mut out = BytesMut::with_capacity(5 + payload.len());
    out.put_slice(&prefix(compressed, len));
    out.put_slice(payload);
    out.freeze()
}

/// A message prefix alone, declaring `length` bytes whether or not they
/// follow: for a message that is too large, or cut short.
pub fn prefix(compressed: bool, length: u32) -> [u8; 5] {
    let [l0, l1, l2, l3] = length.to_be_bytes();
    [u8::from(compressed), l0, l1, l2, l3]
}

#[cfg(test)]
mod tests;
