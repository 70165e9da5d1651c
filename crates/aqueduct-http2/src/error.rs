//! HTTP/2 error codes (RFC 9113 §7), as RST_STREAM and GOAWAY carry them.

use std::fmt;

/// An HTTP/2 error code. Codes this crate does not know are kept as they
/// came ([`ErrorCode::Other`]): RFC 9113 §7 says they must not trigger
/// special behaviour, and may be treated as `INTERNAL_ERROR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// `NO_ERROR` (0x0): not an error; a graceful GOAWAY.
    NoError,
    /// `PROTOCOL_ERROR` (0x1).
    ProtocolError,
    /// `INTERNAL_ERROR` (0x2).
    InternalError,
    /// `FLOW_CONTROL_ERROR` (0x3).
    FlowControlError,
    /// `SETTINGS_TIMEOUT` (0x4).
    SettingsTimeout,
    /// `STREAM_CLOSED` (0x5).
    StreamClosed,
    /// `FRAME_SIZE_ERROR` (0x6).
    FrameSizeError,
    /// `REFUSED_STREAM` (0x7): the stream was not processed; safe to retry.
    RefusedStream,
    /// `CANCEL` (0x8).
    Cancel,
    /// `COMPRESSION_ERROR` (0x9): the HPACK state is lost; a connection error.
    CompressionError,
    /// `CONNECT_ERROR` (0xa).
    ConnectError,
    /// `ENHANCE_YOUR_CALM` (0xb).
    EnhanceYourCalm,
    /// `INADEQUATE_SECURITY` (0xc).
    InadequateSecurity,
    /// `HTTP_1_1_REQUIRED` (0xd).
    Http11Required,
    /// A code RFC 9113 does not define.
    Other(u32),
}

impl ErrorCode {
    /// The code as it goes on the wire.
    #[must_use]
    pub fn to_u32(self) -> u32 {
        match self {
            ErrorCode::NoError => 0x0,
            ErrorCode::ProtocolError => 0x1,
            ErrorCode::InternalError => 0x2,
            ErrorCode::FlowControlError => 0x3,
            ErrorCode::SettingsTimeout => 0x4,
            ErrorCode::StreamClosed => 0x5,
            ErrorCode::FrameSizeError => 0x6,
            ErrorCode::RefusedStream => 0x7,
            ErrorCode::Cancel => 0x8,
            ErrorCode::CompressionError => 0x9,
            ErrorCode::ConnectError => 0xa,
            ErrorCode::EnhanceYourCalm => 0xb,
            ErrorCode::InadequateSecurity => 0xc,
            ErrorCode::Http11Required => 0xd,
            ErrorCode::Other(code) => code,
        }
    }

    /// The code a peer sent.
    #[must_use]
    pub fn from_u32(code: u32) -> Self {
        match code {
            0x0 => ErrorCode::NoError,
            0x1 => ErrorCode::ProtocolError,
            0x2 => ErrorCode::InternalError,
            0x3 => ErrorCode::FlowControlError,
            0x4 => ErrorCode::SettingsTimeout,
            0x5 => ErrorCode::StreamClosed,
            0x6 => ErrorCode::FrameSizeError,
            0x7 => ErrorCode::RefusedStream,
            0x8 => ErrorCode::Cancel,
            0x9 => ErrorCode::CompressionError,
            0xa => ErrorCode::ConnectError,
            0xb => ErrorCode::EnhanceYourCalm,
            0xc => ErrorCode::InadequateSecurity,
            0xd => ErrorCode::Http11Required,
            other => ErrorCode::Other(other),
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ErrorCode::NoError => "NO_ERROR",
            ErrorCode::ProtocolError => "PROTOCOL_ERROR",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::FlowControlError => "FLOW_CONTROL_ERROR",
            ErrorCode::SettingsTimeout => "SETTINGS_TIMEOUT",
            ErrorCode::StreamClosed => "STREAM_CLOSED",
            ErrorCode::FrameSizeError => "FRAME_SIZE_ERROR",
            ErrorCode::RefusedStream => "REFUSED_STREAM",
            ErrorCode::Cancel => "CANCEL",
            ErrorCode::CompressionError => "COMPRESSION_ERROR",
            ErrorCode::ConnectError => "CONNECT_ERROR",
            ErrorCode::EnhanceYourCalm => "ENHANCE_YOUR_CALM",
            ErrorCode::InadequateSecurity => "INADEQUATE_SECURITY",
            ErrorCode::Http11Required => "HTTP_1_1_REQUIRED",
            ErrorCode::Other(code) => return write!(f, "unknown error code {code:#x}"),
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_ones_are_kept() {
        for code in 0..=0x20u32 {
            assert_eq!(ErrorCode::from_u32(code).to_u32(), code);
        }
        assert_eq!(ErrorCode::from_u32(0xb), ErrorCode::EnhanceYourCalm);
        assert_eq!(ErrorCode::from_u32(0xff), ErrorCode::Other(0xff));
        assert_eq!(ErrorCode::Cancel.to_string(), "CANCEL");
        assert!(ErrorCode::Other(0xff).to_string().contains("0xff"));
    }
}
