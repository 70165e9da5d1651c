//! Encoding and decoding messages: protobuf through prost, then the gRPC framing and
//! compression from `aqueduct-wire`.

use bytes::{BufMut, Bytes, BytesMut};

use aqueduct_wire::compression::{self, DecompressError, Encoding};
use aqueduct_wire::frame::{self, Frame, HEADER_LEN};

use crate::status::Status;

/// Encodes `msg` into one framed message, compressed with `encoding` unless that is
/// `None` or identity. Fails with `RESOURCE_EXHAUSTED` when the encoded message is
/// larger than `limit`.
pub(crate) fn encode<M: prost::Message>(
    msg: &M,
    encoding: Option<Encoding>,
    limit: usize,
) -> Result<Bytes, Status> {
    let mut buf = BytesMut::new();
    encode_into(msg, encoding, limit, &mut buf)?;
    Ok(buf.freeze())
}

/// Like [`encode`], but appends the framed message to `dst`, so several messages
/// can share one buffer (and one DATA frame). On error `dst` is left as it was.
pub(crate) fn encode_into<M: prost::Message>(
    msg: &M,
    encoding: Option<Encoding>,
    limit: usize,
    dst: &mut BytesMut,
) -> Result<(), Status> {
    let start = dst.len();
    let len = msg.encoded_len();
    let result = match encoding {
        Some(enc) if enc != Encoding::Identity => {
            let mut plain = BytesMut::with_capacity(len);
            msg.encode(&mut plain)
                .map_err(|e| Status::internal(format!("failed to encode message: {e}")))?;
            dst.reserve(HEADER_LEN + len / 2 + 16);
            dst.put_bytes(0, HEADER_LEN);
            compression::compress(enc, &plain, dst)
                .map_err(|e| Status::internal(format!("failed to compress message: {e}")))
                .map(|()| true)
        }
        _ => {
            dst.reserve(HEADER_LEN + len);
            dst.put_bytes(0, HEADER_LEN);
            // `Message::encode` would compute `encoded_len` a second time to check the
            // capacity we just reserved; write the fields directly instead.
            msg.encode_raw(dst);
            Ok(false)
        }
    };
    let compressed = match result {
        Ok(c) => c,
        Err(e) => {
            dst.truncate(start);
            return Err(e);
        }
    };
    let payload_len = dst.len() - start - HEADER_LEN;
    if payload_len > limit {
        dst.truncate(start);
        return Err(Status::resource_exhausted(format!(
            "grpc: trying to send message larger than max ({payload_len} vs. {limit})"
        )));
    }
    let Some(header) = frame::encode_header(compressed, payload_len) else {
        dst.truncate(start);
        return Err(Status::resource_exhausted(
            "grpc: message does not fit the 4-byte length prefix",
        ));
    };
    if let Some(prefix) = dst.get_mut(start..start + HEADER_LEN) {
        prefix.copy_from_slice(&header);
    }
    Ok(())
}

/// Decodes one received frame: decompresses it if flagged (with the stream's
/// `encoding`), enforces `limit` on the decompressed size, then decodes protobuf.
pub(crate) fn decode<M: prost::Message + Default>(
    frame: Frame,
    encoding: Option<Encoding>,
    limit: usize,
) -> Result<M, Status> {
    let payload = if frame.compressed {
        let enc = match encoding {
            Some(enc) if enc != Encoding::Identity => enc,
            _ => {
                return Err(Status::internal(
                    "grpc: compressed flag set on a message with no grpc-encoding",
                ));
            }
        };
        match compression::decompress(enc, &frame.payload, limit) {
            Ok(v) => Bytes::from(v),
            Err(e @ DecompressError::TooLarge { .. }) => {
                return Err(Status::resource_exhausted(e.to_string()));
            }
            Err(e) => return Err(Status::internal(e.to_string())),
        }
    } else {
        frame.payload
    };
    M::decode(payload)
        .map_err(|e| Status::internal(format!("failed to decode protobuf message: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aqueduct_wire::frame::Decoder;

    #[test]
    fn round_trip_with_and_without_compression() {
        let msg = "hello ".repeat(100);
        for enc in [
            None,
            Some(Encoding::Identity),
            Some(Encoding::Gzip),
            Some(Encoding::Deflate),
        ] {
            let bytes = encode(&msg, enc, 1 << 20).unwrap();
            let mut dec = Decoder::new(1 << 20);
            dec.push(bytes);
            let frame = dec.decode().unwrap().unwrap();
            assert_eq!(
                frame.compressed,
                matches!(enc, Some(Encoding::Gzip | Encoding::Deflate))
            );
            let back: String = decode(frame, enc, 1 << 20).unwrap();
            assert_eq!(back, msg);
        }
    }

    #[test]
    fn limits() {
        let msg = "x".repeat(100);
        let err = encode(&msg, None, 50).unwrap_err();
        assert_eq!(err.code(), crate::Code::ResourceExhausted);
        let bytes = encode(&msg, Some(Encoding::Gzip), 1000).unwrap();
        let mut dec = Decoder::new(1000);
        dec.push(bytes);
        let frame = dec.decode().unwrap().unwrap();
        let err = decode::<String>(frame.clone(), Some(Encoding::Gzip), 50).unwrap_err();
        assert_eq!(err.code(), crate::Code::ResourceExhausted);
        let err = decode::<String>(frame, None, 1000).unwrap_err();
        assert_eq!(err.code(), crate::Code::Internal);
    }
}
