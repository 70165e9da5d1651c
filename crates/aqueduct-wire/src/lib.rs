//! The gRPC wire format, without I/O.
//!
//! `aqueduct-wire` holds every piece of the gRPC protocol that can be expressed as a
//! pure function over bytes and values: nothing here opens a socket, spawns a task or
//! reads a clock. The runtime (`aqueduct`) drives these pieces over HTTP/2; tests and
//! fuzzers drive them directly.
//!
//! # Layout
//!
//! | module | what it does |
//! |---|---|
//! | [`frame`] | the 5-byte length-prefixed message framing: [`frame::Decoder`] and [`frame::encode_header`] |
//! | [`timeout`] | parse and format the `grpc-timeout` header |
//! | [`status`] | the 17 status [`Code`](status::Code)s, `grpc-message` percent-encoding, HTTP status mapping |
//! | [`metadata`] | metadata key rules, ASCII values, base64 for `-bin` keys |
//! | [`compression`] | identity, gzip, deflate (and zstd with the `zstd` feature), `grpc-encoding` negotiation |
//! | [`headers`] | the names of the fields a call carries; which are the protocol's and which are metadata; `content-type` rules |
//! | [`request`] | the server's side of a request head: [`request::RequestParser`] checks it and says how to refuse it |
//! | [`response`] | the client's side of a response: head and trailers parsers, and [`response::StatusFields`] to send a status |
//!
//! ```text
//!  bytes from HTTP/2 DATA frames ──► frame::Decoder ──► (compressed?, payload)
//!                                                         │
//!                          compression::decompress ◄──────┘ (limit applies again)
//!                                                         │
//!                                                   message bytes ──► codec
//! ```
//!
//! The call protocol around the messages is pure code too: the head and trailer
//! parsers take each field as a (name, value) pair of byte slices, pseudo-headers
//! included, so an `http::HeaderMap` and an HPACK decoder drive them alike.
//!
//! ```text
//!  client                                         server
//!  :method :path content-type te grpc-timeout ──► request::RequestParser
//!  grpc-encoding grpc-accept-encoding metadata        (405 / 415 / status)
//!
//!  response::ResponseParser ◄── :status content-type grpc-encoding metadata
//!                                 (or the status alone: trailers-only)
//!  response::TrailersParser ◄── grpc-status grpc-message details metadata
//!                                 (response::StatusFields writes them)
//! ```
//!
//! # What this crate does not do
//!
//! It does not know HTTP/2 framing, HPACK, protobuf or any async runtime, and
//! takes no `http` types: the HTTP/2 engine checks what HTTP/2 itself requires of
//! a head (pseudo-headers once and first, well-formed names) before the parsers
//! here see its fields. Time is passed in as a
//! [`Duration`](std::time::Duration) by the caller; limits are passed in as numbers.
//!
//! # Feature flags
//!
//! - `zstd`: zstd message compression. Off by default because it builds a C library.

pub mod compression;
pub mod frame;
pub mod headers;
pub mod metadata;
pub mod request;
pub mod response;
pub mod status;
pub mod timeout;

/// The default limit on a received message, after decompression: 4 MiB, as in every
/// mainstream gRPC implementation.
pub const DEFAULT_MAX_RECV_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// The `content-type` value that gRPC requests and responses carry (the name is
/// [`headers::CONTENT_TYPE`]).
pub const CONTENT_TYPE: &str = "application/grpc";

#[cfg(test)]
pub(crate) mod test_rng {
    //! A tiny deterministic generator for the never-panics property tests, so they
    //! need no extra dependency and replay the same inputs on every run.

    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Self {
            Self(seed | 1)
        }

        pub(crate) fn next_u64(&mut self) -> u64 {
            // xorshift64*
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        pub(crate) fn below(&mut self, n: usize) -> usize {
            if n == 0 {
                0
            } else {
                (self.next_u64() % n as u64) as usize
            }
        }

        /// A byte that is often 0 or 1, so flags and small lengths come up often.
        pub(crate) fn byte_biased(&mut self) -> u8 {
            match self.below(4) {
                0 => 0,
                1 => 1,
                _ => self.next_u64() as u8,
            }
        }

        /// A byte drawn from `alphabet`, or any byte one time in eight.
        pub(crate) fn byte_from(&mut self, alphabet: &[u8]) -> u8 {
            if self.below(8) == 0 || alphabet.is_empty() {
                self.next_u64() as u8
            } else {
                alphabet[self.below(alphabet.len())]
            }
        }
    }
}
