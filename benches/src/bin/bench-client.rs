//! `bench-client --impl aqueduct|tonic --target http://HOST:PORT [--connections K]
//! [--concurrency C] [--seconds S] [--calls N]`: unary SayHello calls through each
//! stack's *generated client*, to compare the client side against one server.
//! Prints one JSON line: calls, seconds, calls per second, and heap allocations per
//! call (measured over the timed part only).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aqueduct_benches::{CountingAlloc, RuntimeKind, allocations, flag};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn main() -> std::process::ExitCode {
    aqueduct_benches::exit("bench-client", run())
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = flag(&args, "impl").unwrap_or_else(|| "aqueduct".into());
    let target = flag(&args, "target").unwrap_or_else(|| "http://127.0.0.1:50051".into());
    let connections: usize = flag(&args, "connections").map_or(Ok(1), |v| v.parse())?;
    let concurrency: usize = flag(&args, "concurrency").map_or(Ok(10), |v| v.parse())?;
    let seconds: f64 = flag(&args, "seconds").map_or(Ok(3.0), |v| v.parse())?;
    let calls: Option<u64> = flag(&args, "calls").map(|v| v.parse()).transpose()?;
    let runtime = RuntimeKind::parse(
        &flag(&args, "runtime").unwrap_or_else(|| "current".into()),
        1,
    )?;
    runtime.build()?.block_on(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let limit = calls.unwrap_or(u64::MAX);
        let mut tasks = tokio::task::JoinSet::new();
        // Warm up every connection first; measure from here.
        macro_rules! spawn_workers {
            ($clients:expr, $call:expr) => {{
                let clients = $clients;
                for c in &clients {
                    let mut c = c.clone();
                    $call(&mut c).await?;
                }
                let start_allocs = allocations();
                let start = Instant::now();
                for i in 0..concurrency {
                    let mut client = clients[i % clients.len()].clone();
                    let stop = stop.clone();
                    let done = done.clone();
                    tasks.spawn(async move {
                        while !stop.load(Ordering::Relaxed) && done.fetch_add(1, Ordering::Relaxed) < limit {
                            $call(&mut client).await?;
                        }
                        anyhow::Ok(())
                    });
                }
                (start, start_allocs)
            }};
        }
        let (start, start_allocs) = match which.as_str() {
            "aqueduct" => {
                use helloworld::pb::{SayHelloRequest, greeter_service_client::GreeterServiceClient};
                let clients = (0..connections)
                    .map(|_| Ok(GreeterServiceClient::new(aqueduct::Channel::from_uri(&target)?)))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                spawn_workers!(clients, |c: &mut GreeterServiceClient| {
                    let c = c.clone();
                    async move {
                        c.say_hello(SayHelloRequest { name: "x".repeat(16) }).await?;
                        anyhow::Ok(())
                    }
                })
            }
            "tonic" => {
                use aqueduct_benches::tonic_pb::{SayHelloRequest, greeter_service_client::GreeterServiceClient};
                let mut clients = Vec::new();
                for _ in 0..connections {
                    let channel = tonic::transport::Endpoint::from_shared(target.clone())?
                        .tcp_nodelay(true)
                        .connect()
                        .await?;
                    clients.push(GreeterServiceClient::new(channel));
                }
                spawn_workers!(clients, |c: &mut GreeterServiceClient<tonic::transport::Channel>| {
                    let mut c = c.clone();
                    async move {
                        c.say_hello(SayHelloRequest { name: "x".repeat(16) }).await?;
                        anyhow::Ok(())
                    }
                })
            }
            other => anyhow::bail!("--impl must be aqueduct or tonic, not {other:?}"),
        };
        if calls.is_none() {
            let stop = stop.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
                stop.store(true, Ordering::Relaxed);
            });
        }
        while let Some(r) = tasks.join_next().await {
            r??;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let n = done.load(Ordering::Relaxed).min(limit).saturating_sub(concurrency as u64 * u64::from(calls.is_none()));
        let allocs = allocations() - start_allocs;
        println!(
            "{{\"impl\":\"{which}\",\"calls\":{n},\"seconds\":{elapsed:.3},\"rps\":{:.1},\"allocations_per_call\":{:.2}}}",
            n as f64 / elapsed,
            allocs as f64 / n.max(1) as f64
        );
        Ok(())
    })
}
