//! Shared pieces of the benchmark binaries: the tonic and connect-rust Greeters,
//! the bare h2 server,
//! the counting allocator, and runtime construction.

use std::sync::atomic::{AtomicU64, Ordering};

pub mod bare;
pub mod connect_greeter;
pub mod harness;
pub mod tonic_greeter;

/// tonic's generated code for `helloworld.v1`.
#[allow(clippy::all, missing_docs)]
pub mod tonic_pb {
    tonic::include_proto!("helloworld.v1");
}

/// connect-rust's generated code for `helloworld.v1` (buffa messages and
/// views, connectrpc service trait), from build.rs's `OUT_DIR/connect`.
#[allow(clippy::all, missing_docs)]
pub mod connect_pb {
    include!(concat!(env!("OUT_DIR"), "/connect/mod.rs"));
}

/// Ends a binary: exit 0, or print `{program}: {error:#}` (the error and
/// its causes as one sentence, never a `Debug` dump) and exit 1.
pub fn exit(program: &str, result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{program}: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Counts heap allocations, for allocations-per-call figures.
pub struct CountingAlloc;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// Allocations so far in this process.
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

// SAFETY: delegates every call to the system allocator unchanged; only counts.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { std::alloc::System.realloc(ptr, layout, new_size) }
    }
}

/// Which tokio runtime a benchmark process runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeKind {
    /// One current-thread runtime: the thread-per-core model, one core.
    Current,
    /// The work-stealing runtime with `threads` workers.
    Multi(usize),
}

impl RuntimeKind {
    /// Parses `current` or `multi` (with `threads` workers).
    pub fn parse(s: &str, threads: usize) -> anyhow::Result<Self> {
        match s {
            "current" => Ok(Self::Current),
            "multi" => Ok(Self::Multi(threads.max(1))),
            other => anyhow::bail!("--runtime must be current or multi, not {other:?}"),
        }
    }

    /// Builds the runtime.
    pub fn build(self) -> std::io::Result<tokio::runtime::Runtime> {
        match self {
            Self::Current => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
            Self::Multi(n) => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(n)
                .enable_all()
                .build(),
        }
    }
}

/// Reads `--name value` flags.
pub fn flag(args: &[String], name: &str) -> Option<String> {
    let key = format!("--{name}");
    let prefix = format!("--{name}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if *a == key {
            args.get(i + 1).cloned()
        } else {
            a.strip_prefix(&prefix).map(str::to_owned)
        }
    })
}

/// `--rounds N` from the command line, or `default`.
pub fn rounds(default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    flag(&args, "rounds")
        .and_then(|r| r.parse().ok())
        .unwrap_or(default)
}

/// The median of `values` (the upper one of the middle two for an even count).
pub fn median<T: Ord + Copy>(mut values: Vec<T>) -> T {
    values.sort_unstable();
    values[values.len() / 2]
}
