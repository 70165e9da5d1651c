//! HPACK (RFC 7541): header block decoding and encoding.
//!
//! Our own implementation, sans-I/O like the rest of the crate: a
//! [`Decoder`] and an [`Encoder`], one of each per connection, each keeping
//! its dynamic table across the blocks of that connection. Neither builds a
//! header map: the decoder hands each field to a closure as it is decoded,
//! the encoder takes an iterator of [`Field`]s and appends to a `Vec<u8>`.
//!
//! ```
//! use aqueduct_http2::hpack::{Decoder, Encoder, Field};
//!
//! let mut encoder = Encoder::new();
//! let mut block = Vec::new();
//! encoder.encode(
//!     [
//!         Field::new(b":status", b"200"),
//!         Field::new(b"content-type", b"application/grpc"),
//!     ],
//!     &mut block,
//! );
//!
//! let mut decoder = Decoder::new(4096);
//! let mut fields = Vec::new();
//! decoder.decode(&block, 16 * 1024, |name, value, _sensitive| {
//!     fields.push((name.to_vec(), value.to_vec()))
//! })?;
//! assert_eq!(fields[1].1, b"application/grpc");
//! # Ok::<(), aqueduct_http2::hpack::DecodeError>(())
//! ```
//!
//! # Limits and their errors
//!
//! Peer bytes are never indexed unchecked or unwrapped; every problem is a
//! [`DecodeError`]:
//!
//! - integers: at most `u32::MAX` and 6 bytes ([`DecodeError::IntegerOverflow`]);
//! - truncated representations or strings ([`DecodeError::Truncated`]);
//! - indices: 0 or past the dynamic table ([`DecodeError::ZeroIndex`],
//!   [`DecodeError::InvalidIndex`]);
//! - Huffman: EOS, padding over 7 bits, padding not all ones
//!   ([`DecodeError::HuffmanEos`], [`DecodeError::HuffmanPaddingTooLong`],
//!   [`DecodeError::HuffmanPaddingNotOnes`]);
//! - dynamic table size updates: only at the start of a block, never above
//!   our `SETTINGS_HEADER_TABLE_SIZE`, and required after we lower it
//!   ([`DecodeError::SizeUpdateNotAtStart`],
//!   [`DecodeError::SizeUpdateTooLarge`], [`DecodeError::SizeUpdateMissing`]);
//! - the header list size (RFC 9113 §6.5.2), counted as fields are decoded,
//!   so a bomb (one 4 KiB entry referenced thousands of times) costs a table
//!   lookup per reference and never a copy ([`DecodeError::HeaderListTooLarge`]).
//!
//! All but the last are connection errors, `COMPRESSION_ERROR`
//! ([`DecodeError::error_code`]); after them the decoder is unusable. The
//! list-size error is a stream error (431 or `RST_STREAM`), and the
//! decoder stays in sync and usable: see [`Decoder`].
//!
//! The bounds on a block itself (its length, the number of CONTINUATION
//! frames) belong to the connection layer, before decoding.
//!
//! # How it is tested
//!
//! - unit tests of each part: integers, Huffman (every octet, padding and
//!   EOS rules), the tables (index space, eviction);
//! - RFC 7541 Appendix C (C.1–C.6): every example decoded, with the table
//!   checked after each, and encoded: our encoder's bytes equal the RFC's
//!   Huffman examples (C.4, C.6), and decode(encode(x)) == x for all;
//! - `tests/hpack_test_case.rs`: stories from `http2jp/hpack-test-case`
//!   (several encoders' output) decoded with a fresh decoder per story, and
//!   re-encoded and decoded by ours;
//! - fuzz-style tests with a fixed-seed generator: random and mutated
//!   blocks never panic, random field lists with table size changes round
//!   trip, and bombs are refused after a bounded number of fields.

mod decoder;
mod encoder;
mod huffman;
mod huffman_table;
mod table;

use std::fmt;

use crate::ErrorCode;

pub use decoder::Decoder;
pub use encoder::{Encoder, Field};

/// The `SETTINGS_HEADER_TABLE_SIZE` both ends start with (RFC 9113 §6.5.2).
pub const DEFAULT_TABLE_SIZE: usize = 4096;

/// Why a header block could not be decoded.
///
/// Every variant but [`DecodeError::HeaderListTooLarge`] is a connection
/// error, `COMPRESSION_ERROR` (RFC 9113 §4.3).
///
/// ```
/// use aqueduct_http2::ErrorCode;
/// use aqueduct_http2::hpack::DecodeError;
///
/// assert_eq!(DecodeError::Truncated.error_code(), Some(ErrorCode::CompressionError));
/// assert_eq!(DecodeError::HeaderListTooLarge { max: 8192 }.error_code(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The block ended inside a representation or a string.
    Truncated,
    /// An integer above `u32::MAX`, or encoded in more than 6 bytes.
    IntegerOverflow,
    /// Index 0, which names no field (§6.1).
    ZeroIndex,
    /// An index past the end of the dynamic table.
    InvalidIndex(usize),
    /// A Huffman string contains EOS (§5.2).
    HuffmanEos,
    /// A Huffman string ends with more than 7 bits of padding (§5.2).
    HuffmanPaddingTooLong,
    /// A Huffman string's padding is not the EOS prefix, all ones (§5.2).
    HuffmanPaddingNotOnes,
    /// A dynamic table size update after the first field of a block (§4.2).
    SizeUpdateNotAtStart,
    /// A dynamic table size update above our `SETTINGS_HEADER_TABLE_SIZE`.
    SizeUpdateTooLarge {
        /// The size asked for.
        size: usize,
        /// Our setting.
        max: usize,
    },
    /// We lowered `SETTINGS_HEADER_TABLE_SIZE` below the table's size and
    /// the block did not start with the size update that must follow (§4.2).
    SizeUpdateMissing,
    /// The decoded header list exceeds the limit (RFC 9113 §6.5.2). Not a
    /// compression error: the block was decoded to its end, the table is in
    /// sync; refuse the stream (431 or `RST_STREAM`), keep the connection.
    HeaderListTooLarge {
        /// The limit that was passed to [`Decoder::decode`].
        max: usize,
    },
}

impl DecodeError {
    /// The connection error this calls for: `COMPRESSION_ERROR`, or `None`
    /// for [`DecodeError::HeaderListTooLarge`], a stream-level refusal.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Self::HeaderListTooLarge { .. } => None,
            _ => Some(ErrorCode::CompressionError),
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("header block truncated"),
            Self::IntegerOverflow => f.write_str("HPACK integer too large"),
            Self::ZeroIndex => f.write_str("HPACK index 0"),
            Self::InvalidIndex(i) => write!(f, "HPACK index {i} past the dynamic table"),
            Self::HuffmanEos => f.write_str("Huffman string contains EOS"),
            Self::HuffmanPaddingTooLong => f.write_str("Huffman padding longer than 7 bits"),
            Self::HuffmanPaddingNotOnes => f.write_str("Huffman padding not all ones"),
            Self::SizeUpdateNotAtStart => {
                f.write_str("dynamic table size update not at the start of the block")
            }
            Self::SizeUpdateTooLarge { size, max } => write!(
                f,
                "dynamic table size update to {size}, above SETTINGS_HEADER_TABLE_SIZE {max}"
            ),
            Self::SizeUpdateMissing => {
                f.write_str("header block lacks the dynamic table size update owed after SETTINGS")
            }
            Self::HeaderListTooLarge { max } => {
                write!(f, "header list larger than {max} bytes")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests;
