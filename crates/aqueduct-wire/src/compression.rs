//! Message compression and the `grpc-encoding` / `grpc-accept-encoding` negotiation.
//!
//! gRPC's `deflate` is the zlib format (RFC 1950), as grpc-java and C-core send it.
//! Decompression stops one byte past the receive limit, so a small compressed message
//! cannot expand into unbounded memory (a "zip bomb").

use std::fmt;
use std::io::{self, Read, Write};

use bytes::{BufMut, BytesMut};

/// A message compression algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// No compression.
    Identity,
    /// gzip (RFC 1952).
    Gzip,
    /// zlib-wrapped deflate (RFC 1950), which gRPC calls `deflate`.
    Deflate,
    /// Zstandard. Only with the `zstd` feature.
    #[cfg(feature = "zstd")]
    Zstd,
}

impl Encoding {
    /// Every encoding this build supports, identity first.
    pub const SUPPORTED: &'static [Encoding] = &[
        Encoding::Identity,
        Encoding::Gzip,
        Encoding::Deflate,
        #[cfg(feature = "zstd")]
        Encoding::Zstd,
    ];

    /// The name used in `grpc-encoding`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Identity => "identity",
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
            #[cfg(feature = "zstd")]
            Encoding::Zstd => "zstd",
        }
    }

    /// Parses a `grpc-encoding` value; `None` for anything this build cannot decode.
    #[must_use]
    pub fn from_name(name: &[u8]) -> Option<Encoding> {
        let name = name.trim_ascii();
        // The exact lowercase names first: what peers send, matched in a few
        // instructions (this runs for every call's headers).
        let exact = match name {
            b"identity" => Some(Encoding::Identity),
            b"gzip" => Some(Encoding::Gzip),
            b"deflate" => Some(Encoding::Deflate),
            #[cfg(feature = "zstd")]
            b"zstd" => Some(Encoding::Zstd),
            _ => None,
        };
        exact.or_else(|| {
            Self::SUPPORTED
                .iter()
                .copied()
                .find(|e| e.name().as_bytes().eq_ignore_ascii_case(name))
        })
    }

    /// The `grpc-accept-encoding` value listing every supported encoding.
    #[must_use]
    pub fn accept_header() -> &'static str {
        #[cfg(feature = "zstd")]
        {
            "identity,gzip,deflate,zstd"
        }
        #[cfg(not(feature = "zstd"))]
        {
            "identity,gzip,deflate"
        }
    }

    fn bit(self) -> u8 {
        match self {
            Encoding::Identity => 1,
            Encoding::Gzip => 2,
            Encoding::Deflate => 4,
            #[cfg(feature = "zstd")]
            Encoding::Zstd => 8,
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The set of encodings a peer said it accepts in `grpc-accept-encoding`.
///
/// ```
/// use aqueduct_wire::compression::{AcceptEncodings, Encoding};
/// let accept = AcceptEncodings::parse(b"gzip, br");
/// assert!(accept.contains(Encoding::Gzip));
/// assert!(!accept.contains(Encoding::Deflate));
/// assert!(accept.contains(Encoding::Identity)); // always acceptable
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AcceptEncodings(u8);

impl AcceptEncodings {
    /// Parses a comma-separated `grpc-accept-encoding` value; unknown names are
    /// skipped. Identity is always included.
    #[must_use]
    pub fn parse(value: &[u8]) -> Self {
        let mut bits = Encoding::Identity.bit();
        for name in value.split(|&b| b == b',') {
            if let Some(e) = Encoding::from_name(name) {
                bits |= e.bit();
            }
        }
        Self(bits)
    }

    /// Whether the peer accepts `encoding`.
    #[must_use]
    pub fn contains(self, encoding: Encoding) -> bool {
        encoding == Encoding::Identity || self.0 & encoding.bit() != 0
    }
}

/// Why a message could not be decompressed.
#[derive(Debug)]
#[non_exhaustive]
pub enum DecompressError {
    /// The decompressed message exceeds the receive limit.
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The compressed bytes are corrupt.
    Corrupt(io::Error),
}

impl fmt::Display for DecompressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { limit } => write!(
                f,
                "grpc: received message after decompression larger than max {limit}"
            ),
            Self::Corrupt(e) => write!(f, "grpc: failed to decompress message: {e}"),
        }
    }
}

impl std::error::Error for DecompressError {}

/// Compresses `input` with `encoding`, appending to `dst`.
pub fn compress(encoding: Encoding, input: &[u8], dst: &mut BytesMut) -> io::Result<()> {
    let writer = dst.writer();
    match encoding {
        Encoding::Identity => {
            let mut w = writer;
            w.write_all(input)?;
        }
        Encoding::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(writer, flate2::Compression::fast());
            enc.write_all(input)?;
            enc.finish()?;
        }
        Encoding::Deflate => {
            let mut enc = flate2::write::ZlibEncoder::new(writer, flate2::Compression::fast());
            enc.write_all(input)?;
            enc.finish()?;
        }
        #[cfg(feature = "zstd")]
        Encoding::Zstd => {
            let mut enc = zstd::stream::write::Encoder::new(writer, 1)?;
            enc.write_all(input)?;
            enc.finish()?;
        }
    }
    Ok(())
}

/// Decompresses `input`, refusing output larger than `limit` bytes.
pub fn decompress(
    encoding: Encoding,
    input: &[u8],
    limit: usize,
) -> Result<Vec<u8>, DecompressError> {
    // Read one byte past the limit: getting it proves the message is too large.
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::with_capacity(input.len().saturating_mul(2).min(limit));
    let read = match encoding {
        Encoding::Identity => (&mut &input[..]).take(cap).read_to_end(&mut out),
        Encoding::Gzip => flate2::read::GzDecoder::new(input)
            .take(cap)
            .read_to_end(&mut out),
        Encoding::Deflate => flate2::read::ZlibDecoder::new(input)
            .take(cap)
            .read_to_end(&mut out),
        #[cfg(feature = "zstd")]
        Encoding::Zstd => {
            zstd::stream::read::Decoder::new(input).and_then(|d| d.take(cap).read_to_end(&mut out))
        }
    };
    read.map_err(DecompressError::Corrupt)?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge { limit });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_every_encoding() {
        let input: Vec<u8> = (0..10_000u32).map(|i| (i % 7) as u8).collect();
        for &enc in Encoding::SUPPORTED {
            let mut buf = BytesMut::new();
            compress(enc, &input, &mut buf).unwrap();
            if enc != Encoding::Identity {
                assert!(buf.len() < input.len() / 4, "{enc} did not compress");
            }
            assert_eq!(decompress(enc, &buf, input.len()).unwrap(), input);
            assert_eq!(Encoding::from_name(enc.name().as_bytes()), Some(enc));
        }
    }

    #[test]
    fn limit_applies_after_decompression() {
        let input = vec![0u8; 1 << 20];
        for &enc in Encoding::SUPPORTED {
            let mut buf = BytesMut::new();
            compress(enc, &input, &mut buf).unwrap();
            assert!(matches!(
                decompress(enc, &buf, (1 << 20) - 1),
                Err(DecompressError::TooLarge { limit }) if limit == (1 << 20) - 1
            ));
            assert_eq!(decompress(enc, &buf, 1 << 20).unwrap().len(), 1 << 20);
        }
    }

    #[test]
    fn corrupt_input() {
        for enc in [Encoding::Gzip, Encoding::Deflate] {
            assert!(matches!(
                decompress(enc, b"not compressed at all", 100),
                Err(DecompressError::Corrupt(_))
            ));
        }
    }

    #[test]
    fn names_and_negotiation() {
        assert_eq!(Encoding::from_name(b"GZIP"), Some(Encoding::Gzip));
        assert_eq!(Encoding::from_name(b" deflate "), Some(Encoding::Deflate));
        assert_eq!(Encoding::from_name(b"br"), None);
        assert_eq!(Encoding::from_name(b""), None);
        let a = AcceptEncodings::parse(b"deflate,gzip");
        assert!(a.contains(Encoding::Gzip) && a.contains(Encoding::Deflate));
        let none = AcceptEncodings::parse(b"");
        assert!(none.contains(Encoding::Identity) && !none.contains(Encoding::Gzip));
        assert_eq!(
            AcceptEncodings::parse(Encoding::accept_header().as_bytes()),
            AcceptEncodings::parse(b"gzip,deflate,zstd,identity")
        );
    }

    #[test]
    fn random_input_never_panics() {
        let mut rng = crate::test_rng::Rng::new(11);
        for _ in 0..2_000 {
            let len = rng.below(64);
            let mut v: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
            if rng.below(2) == 0 && v.len() > 2 {
                v[0] = 0x1f;
                v[1] = 0x8b;
            }
            for &enc in Encoding::SUPPORTED {
                let _ = decompress(enc, &v, 128);
            }
        }
    }
}
