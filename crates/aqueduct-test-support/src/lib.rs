//! Test support for Aqueduct's own tests; not published.
//!
//! Tests that play a hostile or unusual HTTP/2 peer need to write frames no
//! well-behaved client sends, and read back exactly what the server answers.
//! This crate is the one place those frames are built and read, and the one
//! definition of the probe service the runtime's and the conformance suite's
//! tests serve.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use aqueduct_test_support::frames::{END_HEADERS, END_STREAM, Frames, kind};
//! use aqueduct_test_support::{FrameReader, grpc};
//!
//! let request = Frames::new()
//!     .preface()
//!     .settings(&[])
//!     .headers(1, grpc::request("/test.v1.Probe/Echo"), END_HEADERS)
//!     .data(1, grpc::message(&"hi".to_owned()), END_STREAM);
//! // A test writes `request` to a server and reads its frames back; here
//! // the reader reads the request itself, after the preface.
//! let bytes = request.into_bytes();
//! let mut reader = FrameReader::new(&bytes[..]);
//! reader.preface().await.unwrap();
//! assert_eq!(reader.next().await.unwrap().kind, kind::SETTINGS);
//! let headers = reader.next().await.unwrap();
//! assert!(headers.has(END_HEADERS) && headers.stream == 1);
//! # }
//! ```
//!
//! # Layout
//!
//! - [`frames`]: [`Frames`], a builder of HTTP/2 frames as bytes (every frame
//!   type, unknown ones, lying lengths), and the protocol's constants.
//! - [`hpack`]: [`HeaderBlock`], a tiny HPACK encoder (literals, no Huffman,
//!   no dynamic table of its own) that also takes raw bytes.
//! - [`grpc`]: a gRPC request head ([`grpc::request`]) and length-prefixed
//!   messages for DATA frames.
//! - [`read`]: [`FrameReader`], which splits a socket's bytes into frames with a
//!   bounded buffer and a time limit on every wait, answers PINGs, and reads a
//!   connection to its close ([`read::Seen`]).
//! - [`probe`]: the `test.v1.Probe` service and its [`probe::ProbeState`].
//! - [`wait_for`]: waiting for a condition a [`Notify`] announces, bounded.
//!
//! # What it does not do
//!
//! It does not speak HTTP/2: no flow control, no HPACK dynamic table, no
//! stream states. A test says every frame itself, so it can say the wrong
//! ones. Nothing here sleeps; every wait has a limit and fails the test
//! (with an error or a panic naming what it waited for) when it passes.

use std::time::Duration;

use tokio::sync::Notify;

pub mod frames;
pub mod grpc;
pub mod hpack;
pub mod probe;
pub mod read;

#[doc(inline)]
pub use frames::Frames;
#[doc(inline)]
pub use hpack::HeaderBlock;
#[doc(inline)]
pub use read::{Frame, FrameReader};

/// How long [`wait_for`] waits before it fails the test.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// Waits until `cond` holds, re-checking each time `notify` fires.
///
/// # Panics
///
/// If `cond` does not hold within [`WAIT_LIMIT`]: a test that would hang
/// fails instead.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
///
/// use aqueduct_test_support::wait_for;
///
/// let (count, changed) = (AtomicUsize::new(0), tokio::sync::Notify::new());
/// let bump = async {
///     count.fetch_add(1, SeqCst);
///     changed.notify_waiters();
/// };
/// tokio::join!(wait_for(&changed, || count.load(SeqCst) == 1), bump);
/// # }
/// ```
pub async fn wait_for(notify: &Notify, cond: impl Fn() -> bool) {
    tokio::time::timeout(WAIT_LIMIT, async {
        loop {
            let notified = notify.notified();
            if cond() {
                return;
            }
            notified.await;
        }
    })
    .await
    .expect("condition not reached within 10 s");
}
