//! HTTP/2 for gRPC, without I/O.
//!
//! Aqueduct's own HTTP/2 (issue 19), in the style of `quinn-proto`: nothing
//! here opens a socket, spawns a task or reads a clock. Bytes go in, frames,
//! events and bytes to write come out, and time is passed in by the driver
//! (the runtime's carrier layer). It is built bottom up, each layer tested on
//! its own before the next uses it:
//!
//! ```text
//!  connection     GOAWAY, PING, limits that know gRPC, the engine (to come)
//!  settings       the SETTINGS exchange (§6.5.3)              [`settings`]
//!  limits         abuse rates that keep honest gRPC clients   [`limits`]
//!  stream, flow   stream states and ids (RFC 9113 §5.1) [`stream`],
//!                 flow-control windows (§5.2, §6.9) [`flow`]
//!  hpack          header block decoding and encoding (RFC 7541) [`hpack`]
//!  frame          the ten frame types, parsed and written (RFC 9113 §4, §6) [`frame`]
//!  error          HTTP/2 error codes (RFC 9113 §7)              [`ErrorCode`]
//! ```
//!
//! # What this crate does not do (yet)
//!
//! The connection state machine, and with it the runtime's use of this
//! crate: today the runtime still runs on the `h2` crate. Until then this
//! crate is tested on its own (RFC 9113 and RFC 7541 rules, RFC 7541's
//! examples, the hpack-test-case vectors, fuzz-style tests).

mod error;
pub mod flow;
pub mod frame;
pub mod hpack;
pub mod limits;
pub mod settings;
pub mod stream;

pub use error::ErrorCode;

#[cfg(test)]
pub(crate) mod test_rng {
    //! A tiny deterministic generator for the never-panics tests, so they need
    //! no extra dependency and replay the same inputs on every run.
    pub(crate) struct Rng(u64);

    /// A long fuzz run's iterations and seed, from `AQUEDUCT_FUZZ_ITERS`
    /// (default 1,000,000) and `AQUEDUCT_FUZZ_SEED`.
    pub(crate) fn long_run_params() -> (u64, u64) {
        let env = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        (
            env("AQUEDUCT_FUZZ_ITERS", 1_000_000),
            env("AQUEDUCT_FUZZ_SEED", 0x2545_f491_4f6c_dd1d),
        )
    }

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

        /// A number below `n` (0 when `n` is 0).
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
    }
}
