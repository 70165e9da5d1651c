//! Errors found while reading frames: RFC 9113 §5.4 connection and stream errors.

use std::fmt;

use crate::ErrorCode;

/// Whether an error ends the connection or only one stream (RFC 9113 §5.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorScope {
    /// A connection error: send GOAWAY with the code and close (§5.4.1).
    Connection,
    /// A stream error on this stream: send RST_STREAM with the code and go on
    /// reading the connection (§5.4.2).
    Stream(u32),
}

/// A frame that breaks a rule of RFC 9113: the error code to send, whether
/// it is a connection or a stream error, and a short fixed reason for logs
/// and GOAWAY debug data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameError {
    scope: ErrorScope,
    code: ErrorCode,
    reason: &'static str,
}

impl FrameError {
    /// A connection error.
    #[must_use]
    pub fn connection(code: ErrorCode, reason: &'static str) -> Self {
        Self {
            scope: ErrorScope::Connection,
            code,
            reason,
        }
    }

    /// A stream error on `stream_id`.
    #[must_use]
    pub fn stream(stream_id: u32, code: ErrorCode, reason: &'static str) -> Self {
        Self {
            scope: ErrorScope::Stream(stream_id),
            code,
            reason,
        }
    }

    /// The error code to put in GOAWAY or RST_STREAM.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// Whether this ends the connection or one stream.
    #[must_use]
    pub fn scope(&self) -> ErrorScope {
        self.scope
    }

    /// Whether this is a connection error.
    #[must_use]
    pub fn is_connection_error(&self) -> bool {
        self.scope == ErrorScope::Connection
    }

    /// The stream to reset, for a stream error.
    #[must_use]
    pub fn stream_id(&self) -> Option<u32> {
        match self.scope {
            ErrorScope::Connection => None,
            ErrorScope::Stream(id) => Some(id),
        }
    }

    /// A short fixed description, fit for GOAWAY debug data.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scope {
            ErrorScope::Connection => write!(f, "connection error {}: {}", self.code, self.reason),
            ErrorScope::Stream(id) => {
                write!(f, "stream {id} error {}: {}", self.code, self.reason)
            }
        }
    }
}

impl std::error::Error for FrameError {}
