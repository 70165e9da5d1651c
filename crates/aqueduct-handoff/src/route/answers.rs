//! What a connection the front cannot route gets: an HTTP/2 `UNAVAILABLE`
//! answer for plaintext, a fatal alert record for TLS.

use aqueduct_wire::headers;
use aqueduct_wire::response::StatusFields;
use aqueduct_wire::status::Code;

use crate::client_hello::ClientHelloError;

// TLS alert descriptions (RFC 8446 6).
pub(super) const DECODE_ERROR: u8 = 50;
pub(super) const ILLEGAL_PARAMETER: u8 = 47;
pub(super) const INTERNAL_ERROR: u8 = 80;
pub(super) const MISSING_EXTENSION: u8 = 109;
pub(super) const UNRECOGNIZED_NAME: u8 = 112;
pub(super) const NO_APPLICATION_PROTOCOL: u8 = 120;

/// The alert for a ClientHello that does not parse.
pub(super) fn parse_alert(e: &ClientHelloError) -> u8 {
    match e {
        ClientHelloError::BadServerName(_) | ClientHelloError::DuplicateExtension(_) => {
            ILLEGAL_PARAMETER
        }
        _ => DECODE_ERROR,
    }
}

/// A fatal TLS alert record, in plaintext as before any handshake
/// (RFC 8446 5.1, 6).
pub(super) fn alert_record(description: u8) -> [u8; 7] {
    const ALERT: u8 = 0x15;
    const FATAL: u8 = 2;
    [ALERT, 3, 3, 0, 2, FATAL, description]
}

/// The rest of the server's side (after
/// [`SERVER_PREFACE`](crate::peek::SERVER_PREFACE)) of an HTTP/2
/// connection that answers one request with gRPC status 14 and goes away: the
/// ACK of the client's SETTINGS, a trailers-only response on `stream_id`,
/// then, unless the client has already `ended` its side of the stream,
/// `RST_STREAM(NO_ERROR)`, then GOAWAY.
///
/// The reset is how a server that has sent a whole response asks the client
/// to stop sending its request (RFC 9113 8.1); clients keep the response.
/// Without it, a client whose request is still open when the front closes
/// its side of the connection may fail the call instead: `h2` marks every
/// stream not yet closed at end of file as broken, its received END_STREAM
/// forgotten, so our client reads on for trailers and reports "stream closed
/// because of a broken pipe". A reset keeps the END_STREAM (`h2` records
/// it as an error after end of stream), and the call ends with the answer.
pub(super) fn unavailable_response(stream_id: u32, message: &str, ended: bool) -> Vec<u8> {
    use aqueduct_http2::ErrorCode;
    use aqueduct_http2::frame::{self, DEFAULT_MAX_FRAME_SIZE};
    use aqueduct_http2::hpack::{Encoder, Field};
    let status = StatusFields::new(Code::Unavailable, message, &[]);
    let head = [
        (headers::STATUS, headers::STATUS_OK),
        (headers::CONTENT_TYPE, aqueduct_wire::CONTENT_TYPE),
    ];
    let fields = head.into_iter().chain(status.fields());
    let mut block = Vec::new();
    Encoder::new().encode(
        fields.map(|(name, value)| Field::new(name.as_bytes(), value.as_bytes())),
        &mut block,
    );
    let mut out = Vec::new();
    frame::write_settings_ack(&mut out);
    // The message is at most ~250 characters, percent-encoded: one frame.
    frame::write_headers(&mut out, stream_id, &block, true, DEFAULT_MAX_FRAME_SIZE);
    // A closed stream gets no more frames (RFC 9113 5.1).
    if !ended {
        frame::write_rst_stream(&mut out, stream_id, ErrorCode::NoError);
    }
    frame::write_goaway(&mut out, stream_id, ErrorCode::NoError, &[]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_are_fatal_plaintext_records() {
        assert_eq!(alert_record(UNRECOGNIZED_NAME), [0x15, 3, 3, 0, 2, 2, 112]);
        assert_eq!(parse_alert(&ClientHelloError::Malformed("x")), DECODE_ERROR);
        assert_eq!(parse_alert(&ClientHelloError::TooLarge), DECODE_ERROR);
        assert_eq!(parse_alert(&ClientHelloError::NotTls), DECODE_ERROR);
        assert_eq!(
            parse_alert(&ClientHelloError::BadServerName("x")),
            ILLEGAL_PARAMETER
        );
    }

    /// Frame types and stream ids, in order.
    fn frames(mut bytes: &[u8]) -> Vec<(u8, u32)> {
        let mut out = Vec::new();
        while let [l0, l1, l2, kind, _, i0, i1, i2, i3, rest @ ..] = bytes {
            let len = usize::from(*l0) << 16 | usize::from(*l1) << 8 | usize::from(*l2);
            out.push((*kind, u32::from_be_bytes([*i0, *i1, *i2, *i3])));
            bytes = &rest[len..];
        }
        out
    }

    #[test]
    fn an_open_request_is_reset_after_its_answer() {
        let open = unavailable_response(3, "no", false);
        assert_eq!(frames(&open), [(0x4, 0), (0x1, 3), (0x3, 3), (0x7, 0)]);
        let reset = [0, 0, 4, 0x3, 0, 0, 0, 0, 3, 0, 0, 0, 0]; // NO_ERROR
        let goaway = [0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0];
        assert!(open.ends_with(&[&reset[..], &goaway[..]].concat()));
        let ended = unavailable_response(3, "no", true);
        assert_eq!(frames(&ended), [(0x4, 0), (0x1, 3), (0x7, 0)]);
    }

    /// The fields of the answer's HEADERS frame.
    fn answer_fields(message: &str) -> Vec<(String, String)> {
        let answer = unavailable_response(1, message, true);
        let frame = answer.get(9..).unwrap(); // after the SETTINGS ACK
        let [l0, l1, l2, 0x1, ..] = *frame else {
            panic!("no HEADERS frame: {answer:?}");
        };
        let len = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
        let block = frame.get(9..9 + len).unwrap();
        let mut fields = Vec::new();
        aqueduct_http2::hpack::Decoder::new(4096)
            .decode(block, 1 << 20, |name, value, _| {
                let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
                fields.push((text(name), text(value)));
            })
            .unwrap();
        fields
    }

    #[test]
    fn the_answer_is_a_trailers_only_unavailable() {
        let fields = answer_fields("no backend serves x.Y");
        let fields: Vec<_> = fields.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        assert_eq!(
            fields,
            [
                (":status", "200"),
                ("content-type", "application/grpc"),
                ("grpc-status", "14"),
                ("grpc-message", "no backend serves x.Y"),
            ]
        );
    }

    #[test]
    fn messages_are_percent_encoded() {
        let message = |m: &str| answer_fields(m).pop().unwrap();
        let field = |v: &str| ("grpc-message".to_owned(), v.to_owned());
        assert_eq!(message("no backend: 100%"), field("no backend: 100%25"));
        assert_eq!(message("é\n"), field("%C3%A9%0A"));
    }
}
