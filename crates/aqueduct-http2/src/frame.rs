//! The HTTP/2 frame layer (RFC 9113 §4 and §6): to be written.
