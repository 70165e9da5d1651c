//! What a connection the front cannot route gets: an HTTP/2 `UNAVAILABLE`
//! answer for plaintext, a fatal alert record for TLS.

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
/// GOAWAY.
pub(super) fn unavailable_response(stream_id: u32, message: &str) -> Vec<u8> {
    const SETTINGS: u8 = 0x4;
    const HEADERS: u8 = 0x1;
    const GOAWAY: u8 = 0x7;
    const ACK: u8 = 0x1;
    const END_STREAM_AND_HEADERS: u8 = 0x1 | 0x4;
    let message = percent_encode(message);
    let block = loona_hpack::Encoder::new().encode([
        (&b":status"[..], &b"200"[..]),
        (b"content-type", b"application/grpc"),
        (b"grpc-status", b"14"),
        (b"grpc-message", message.as_bytes()),
    ]);
    let mut goaway = stream_id.to_be_bytes().to_vec();
    goaway.extend_from_slice(&0u32.to_be_bytes()); // NO_ERROR
    let mut out = Vec::new();
    for (kind, flags, id, payload) in [
        (SETTINGS, ACK, 0, &[][..]),
        (HEADERS, END_STREAM_AND_HEADERS, stream_id, &block[..]),
        (GOAWAY, 0, 0, &goaway[..]),
    ] {
        // Payloads here are far under the 16 KiB default frame size (the
        // message is at most ~250 characters, percent-encoded).
        let len = payload.len() as u32;
        out.extend_from_slice(&len.to_be_bytes()[1..]);
        out.extend_from_slice(&[kind, flags]);
        out.extend_from_slice(&(id & 0x7fff_ffff).to_be_bytes());
        out.extend_from_slice(payload);
    }
    out
}

/// `grpc-message` encoding: printable ASCII but `%` as is, the rest `%XX`.
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for b in message.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
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

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(percent_encode("no backend: 100%"), "no backend: 100%25");
        assert_eq!(percent_encode("é\n"), "%C3%A9%0A");
    }
}
