//! Serving the direct carrier: each client connection is a queue of calls, each
//! call run by the same code as an HTTP/2 stream's.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::call::{self, CallLimits};
use super::conn::{Phase, Shared};
use super::{Running, RunningGuard};
use crate::body::{RecvBody, Respond};
use crate::request::Peer;
use crate::status::Status;
use crate::transport::direct::{CallStopper, DirectCall, DirectConnection, DirectListener};

/// Takes connections from `listener` until `signal`, then shuts down as the
/// HTTP/2 server does: no new calls, calls in flight finish up to the drain
/// deadline, the rest are stopped.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    mut listener: DirectListener,
    signal: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let (phase_tx, phase_rx) = watch::channel(Phase::Serving);
    let mut connections = JoinSet::new();
    let mut signal = std::pin::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Some(conn) => {
                    connections.spawn(serve_connection(conn, shared.clone(), phase_rx.clone()));
                }
                None => break,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut signal => break,
        }
    }
    drop(listener);
    super::shutdown(&phase_tx, &mut connections, &shared).await;
    Ok(())
}

async fn serve_connection(
    conn: DirectConnection,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
) {
    let config = &shared.config;
    let limits = CallLimits {
        max_recv: config.max_recv_message_size,
        max_send: config.max_send_message_size,
    };
    let max_running = config.max_concurrent_streams as usize;
    let running = Arc::new(Running::default());
    let mut stoppers: Vec<CallStopper> = Vec::new();
    let mut calls = conn.calls;
    while *phase.borrow() == Phase::Serving {
        // At the cap, leave calls in the queue (bounded) until a handler ends.
        let at_cap = running.count() >= max_running;
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            call = calls.recv(), if !at_cap => match call {
                Some(call) => {
                    let Some(guard) = RunningGuard::try_new(&running, max_running) else {
                        refuse(call, "too many calls in flight");
                        continue;
                    };
                    if stoppers.len() >= 2 * max_running.max(16) {
                        stoppers.retain(|s| !s.is_done());
                    }
                    stoppers.push(call.stopper());
                    let DirectCall { head, requests, responses } = call;
                    let request = head.map(|()| RecvBody::Direct(requests));
                    let respond = Respond::Direct(responses);
                    if let Some(run) =
                        call::start_call(request, respond, &shared.router, limits, Peer::default(), guard)
                    {
                        tokio::spawn(run);
                    }
                }
                // The client's channel is gone: finish what runs.
                None => break,
            },
            () = running.ended(), if at_cap => {}
        }
    }
    // No new calls from here: refuse what is queued, as GOAWAY refuses streams
    // the server never started.
    calls.close();
    while let Ok(call) = calls.try_recv() {
        refuse(call, "the server is shutting down");
    }
    while running.count() > 0 {
        tokio::select! {
            () = running.ended() => {}
            _ = phase.wait_for(|p| *p == Phase::Stopped) => {
                for stopper in &stoppers {
                    stopper.stop();
                }
                return;
            }
        }
    }
}

/// Answers a call the server will not run with `UNAVAILABLE`.
fn refuse(call: DirectCall, why: &str) {
    let mut response = http::Response::new(());
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(aqueduct_wire::CONTENT_TYPE),
    );
    Status::unavailable(why).write_trailers(headers);
    let _ = Respond::Direct(call.responses).send_response(response, true);
}
