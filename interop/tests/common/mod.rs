//! What the interop tests share: the Python peer, and server processes that
//! announce their port and end with the test.

use std::path::PathBuf;

pub(crate) mod process;

/// The Python with the grpcio peers, from `AQUEDUCT_PYTHON`; `scripts/test`
/// creates that venv and sets it. Fails loudly when missing: tests never skip.
pub(crate) fn python() -> PathBuf {
    match std::env::var_os("AQUEDUCT_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => panic!(
            "AQUEDUCT_PYTHON is not set. Run scripts/test, which prepares a Python venv with \
             grpcio, grpcio-status and grpcio-health-checking (the interop peers) and sets it."
        ),
    }
}

/// `interop/python`, where the peer scripts live.
pub(crate) fn python_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python")
}
