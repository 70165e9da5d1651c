//! Messages for calling any method without its types: the request is bytes already
//! encoded, and the response is counted and thrown away.

use bytes::{Buf, BufMut, Bytes};
use prost::DecodeError;
use prost::encoding::{DecodeContext, WireType, skip_field};

/// A request whose protobuf encoding is given as bytes.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawMessage(pub(crate) Bytes);

impl prost::Message for RawMessage {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0 = Bytes::new();
    }
}

/// A response that is parsed only far enough to be valid protobuf, then dropped.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Discard;

impl prost::Message for Discard {
    fn encode_raw(&self, _buf: &mut impl BufMut) {}

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        skip_field(wire_type, tag, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        0
    }

    fn clear(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;

    #[test]
    fn raw_round_trips_and_discard_accepts_any_valid_message() {
        let inner = "hello".to_owned().encode_to_vec();
        let raw = RawMessage(Bytes::from(inner.clone()));
        assert_eq!(raw.encode_to_vec(), inner);
        Discard::decode(&inner[..]).unwrap();
        assert!(Discard::decode(&[0x0a, 0x05, b'h'][..]).is_err());
    }
}
