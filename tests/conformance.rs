//! The conformance suite: every behaviour that does not need a raw HTTP/2 peer,
//! written once and run over every carrier (`tcp::`, `unix::`, `mem::`,
//! `direct::`, `handoff::` test names). Tests that need to forge frames live with the runtime's own tests
//! (`crates/aqueduct/tests/server_behaviour.rs`) and run over TCP.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use aqueduct::health::{
    self, HealthCheckRequest, HealthCheckResponse, HealthReporter, ServingStatus,
};
use aqueduct::interceptor::{BearerAuth, BearerToken, DeadlinePolicy, Trace};
use aqueduct::reflection::{
    self, MessageRequest, MessageResponse, ServerReflectionRequest, ServerReflectionResponse,
};
use aqueduct::{CallOptions, ServerBuilder};
use aqueduct::{Code, Request};
use aqueduct_conformance::{
    Carrier, DEADLINE, EARLY, EARLY_BIDI, EARLY_MESSAGE, HANG, OK_ERROR, PANIC, RELAY,
    RELAY_DETACHED, RELAY_DETACHED_DEADLINE, RELAY_SPAWN, Relay, SIZED, SLOW, Served, wait_for,
};
use aqueduct_conformance::{
    ClientRecorder, CountMessages, InterceptLog, Recorder, SCOPED_ONE, SCOPED_TWO, Scoped,
    ScopedServer, Shout, Tag, capture_spans,
};
use interop::pb::test_service_client::TestServiceClient;
use interop::pb::{EchoStatus, ResponseParameters, SimpleRequest, StreamingOutputCallRequest};
use prost::Message as _;
use prost_types::FileDescriptorProto;

/// Instantiates each case once per carrier, as `<carrier>::<case>`.
macro_rules! conformance_suite {
    ($($case:ident),* $(,)?) => {
        carrier_tests!(tcp, Tcp, $($case),*);
        carrier_tests!(unix, Unix, $($case),*);
        carrier_tests!(mem, Memory, $($case),*);
        carrier_tests!(direct, Direct, $($case),*);
        carrier_tests!(handoff, Handoff, $($case),*);
        carrier_tests!(tls_tcp, TlsTcp, $($case),*);
        carrier_tests!(tls_unix, TlsUnix, $($case),*);
        carrier_tests!(tls_handoff, TlsHandoff, $($case),*);
    };
}

/// The module of one carrier's tests.
macro_rules! carrier_tests {
    ($module:ident, $carrier:ident, $($case:ident),*) => {
        mod $module {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() { super::$case(aqueduct_conformance::Carrier::$carrier).await })*
        }
    };
}

conformance_suite!(
    interop_cases,
    unknown_methods_and_services_are_unimplemented,
    the_handler_sees_the_deadline,
    an_expired_deadline_stops_the_handler,
    a_cancelled_client_call_stops_the_handler,
    message_limits_are_resource_exhausted_both_ways,
    a_thousand_concurrent_calls_on_one_channel,
    a_handler_panic_is_internal_and_the_server_survives,
    graceful_shutdown_finishes_calls_in_flight,
    calls_in_flight_past_the_drain_deadline_are_cancelled,
    deadlines_shrink_along_a_chain_of_calls,
    a_client_deadline_reaches_the_end_of_a_chain,
    a_client_cancel_reaches_the_end_of_a_chain,
    work_spawned_in_the_call_context_ends_with_the_call,
    a_detached_call_neither_inherits_nor_dies_with_the_call,
    interceptors_run_outermost_first_and_see_the_end_innermost_first,
    a_method_interceptor_does_not_run_for_a_sibling_method,
    a_rejecting_interceptor_stops_the_call_before_the_handler,
    interceptors_hand_typed_values_and_response_metadata_to_the_call,
    interceptors_see_calls_end_by_deadline_and_by_cancel,
    a_stream_interceptor_counts_messages_both_ways,
    message_hooks_change_and_refuse_messages,
    client_interceptors_run_in_order_and_see_the_end,
    a_refusing_client_interceptor_sends_nothing,
    bearer_auth_admits_refuses_and_identifies,
    a_deadline_policy_refuses_and_gives_defaults,
    trace_spans_carry_the_request_id_along_a_chain,
    tower_layers_see_and_refuse_calls,
    tower_layers_hold_calls_for_their_whole_length,
    health_check_and_watch_follow_the_reporter,
    health_turns_not_serving_when_shutdown_starts,
    reflection_describes_exactly_the_mounted_services,
    reflection_streams_end_when_shutdown_starts,
    a_send_on_a_call_an_interceptor_refused_returns_its_status,
    a_send_over_the_servers_limit_returns_resource_exhausted,
    a_send_after_the_server_finished_returns_the_final_status,
    a_refused_send_and_a_waiting_reader_in_two_tasks_both_finish,
    dropped_responses_of_a_call_still_sending_release_the_connection,
    a_unary_handler_error_with_code_ok_is_internal,
);

/// All of gRPC's interop cases: the four call kinds, metadata echoed in headers
/// and trailers, requested status codes and messages, compressed requests and
/// responses, unimplemented methods and services, cancellation and timeouts.
async fn interop_cases(carrier: Carrier) {
    let served = carrier.serve(|b| b).await;
    let mut failed = Vec::new();
    for case in interop::client::ALL {
        if let Err(e) = interop::client::run(case, &served.channel).await {
            failed.push(format!("{case}: {e}"));
        }
    }
    assert!(
        failed.is_empty(),
        "interop cases failed over {carrier:?}: {failed:#?}"
    );
}

async fn unknown_methods_and_services_are_unimplemented(carrier: Carrier) {
    let served = carrier.serve(|b| b).await;
    let unknown_method = served
        .probe("/test.v1.Probe/NoSuchMethod", Request::new(String::new()))
        .await
        .unwrap_err();
    assert_eq!(
        unknown_method.code(),
        Code::Unimplemented,
        "{unknown_method}"
    );
    assert!(
        unknown_method.message().contains("NoSuchMethod"),
        "{unknown_method}"
    );
    let unknown_service = served
        .probe("/nope.v1.Nothing/Call", Request::new(String::new()))
        .await
        .unwrap_err();
    assert_eq!(
        unknown_service.code(),
        Code::Unimplemented,
        "{unknown_service}"
    );
    assert!(
        unknown_service.message().contains("nope.v1.Nothing"),
        "{unknown_service}"
    );
}

async fn the_handler_sees_the_deadline(carrier: Carrier) {
    let served = carrier.serve(|b| b).await;
    let none = served
        .probe(DEADLINE, Request::new(String::new()))
        .await
        .unwrap();
    assert_eq!(
        none, "none",
        "a call without a deadline has none on the server"
    );
    let request = Request::new(String::new()).with_timeout(Duration::from_secs(30));
    let seen = served.probe(DEADLINE, request).await.unwrap();
    let remaining: u64 = seen
        .parse()
        .unwrap_or_else(|_| panic!("server saw {seen:?}"));
    assert!(
        remaining > 0 && remaining <= 30_000,
        "server saw {remaining} ms left of a 30 s deadline"
    );
}

async fn an_expired_deadline_stops_the_handler(carrier: Carrier) {
    let served = carrier.serve(|b| b).await;
    let request = Request::new(String::new()).with_timeout(Duration::from_millis(50));
    let status = served.probe(HANG, request).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    let probe = &served.probe;
    wait_for(&probe.dropped_notify, || probe.dropped.load(SeqCst) == 1).await;
}

async fn a_cancelled_client_call_stops_the_handler(carrier: Carrier) {
    let served = carrier.serve(|b| b).await;
    let channel = served.channel.clone();
    let call = tokio::spawn(async move {
        channel
            .unary::<String, String>(HANG, Request::new(String::new()))
            .await
    });
    let probe = &served.probe;
    wait_for(&probe.started_notify, || probe.started.load(SeqCst) == 1).await;
    call.abort();
    wait_for(&probe.dropped_notify, || probe.dropped.load(SeqCst) == 1).await;
    // The channel is still good for other calls.
    let echoed = served
        .probe(SIZED, Request::new("3".to_owned()))
        .await
        .unwrap();
    assert_eq!(echoed, "xxx");
}

async fn message_limits_are_resource_exhausted_both_ways(carrier: Carrier) {
    let served = carrier
        .serve_with_channel(
            |b| b.max_recv_message_size(1024),
            |c| c.max_recv_message_size(1024),
        )
        .await;
    // A request over the server's limit.
    let big = "7".repeat(2048);
    let status = served.probe(SIZED, Request::new(big)).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
    // A response over the client's limit.
    let status = served
        .probe(SIZED, Request::new("2048".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
    // At the limit both ways is fine.
    let ok = served
        .probe(SIZED, Request::new("1000".to_owned()))
        .await
        .unwrap();
    assert_eq!(ok.len(), 1000);
}

async fn a_thousand_concurrent_calls_on_one_channel(carrier: Carrier) {
    let served = carrier.serve(|b| b).await;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..1000usize {
        let channel = served.channel.clone();
        calls.spawn(async move {
            let n = i % 50;
            let reply = channel
                .unary::<String, String>(SIZED, Request::new(n.to_string()))
                .await
                .map(aqueduct::Response::into_inner);
            (n, reply)
        });
    }
    let mut done = 0;
    while let Some(joined) = calls.join_next().await {
        let (n, reply) = joined.unwrap();
        assert_eq!(reply.unwrap().len(), n);
        done += 1;
    }
    assert_eq!(done, 1000);
}

async fn a_handler_panic_is_internal_and_the_server_survives(carrier: Carrier) {
    let served = carrier.serve(|b| b).await;
    let status = served
        .probe(PANIC, Request::new(String::new()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status}");
    let after = served
        .probe(SIZED, Request::new("2".to_owned()))
        .await
        .unwrap();
    assert_eq!(after, "xx");
}

async fn graceful_shutdown_finishes_calls_in_flight(carrier: Carrier) {
    let mut served = carrier.serve(|b| b).await;
    let channel = served.channel.clone();
    let in_flight = tokio::spawn(async move {
        channel
            .unary::<String, String>(SLOW, Request::new("in flight".to_owned()))
            .await
            .map(aqueduct::Response::into_inner)
    });
    let probe = served.probe.clone();
    wait_for(&probe.started_notify, || probe.started.load(SeqCst) == 1).await;
    let server = served.begin_shutdown();
    probe.release.notify_waiters();
    assert_eq!(in_flight.await.unwrap().unwrap(), "in flight");
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server did not stop once its calls finished")
        .unwrap()
        .unwrap();
    // After shutdown a new call fails cleanly instead of hanging.
    let fresh = served.target.builder().build();
    let status = fresh
        .unary::<String, String>(SIZED, Request::new("1".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
}

async fn calls_in_flight_past_the_drain_deadline_are_cancelled(carrier: Carrier) {
    let mut served = carrier
        .serve(|b| b.drain_timeout(Duration::from_millis(100)))
        .await;
    let channel = served.channel.clone();
    let in_flight = tokio::spawn(async move {
        channel
            .unary::<String, String>(HANG, Request::new(String::new()))
            .await
    });
    let probe = served.probe.clone();
    wait_for(&probe.started_notify, || probe.started.load(SeqCst) == 1).await;
    let server = served.begin_shutdown();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server did not stop at the drain deadline")
        .unwrap()
        .unwrap();
    wait_for(&probe.dropped_notify, || probe.dropped.load(SeqCst) == 1).await;
    let outcome = tokio::time::timeout(Duration::from_secs(10), in_flight)
        .await
        .expect("the client's call hung after the server stopped")
        .unwrap();
    let status = outcome.unwrap_err();
    assert!(
        matches!(status.code(), Code::Unavailable | Code::Cancelled),
        "{status}"
    );
}

/// Three servers, client -> A -> B -> C, each relaying to the next; returns them
/// first to last, with C's relay (whose waiting handlers count drops).
async fn chain(carrier: Carrier) -> (Vec<Served>, std::sync::Arc<Relay>) {
    chain_with(carrier, |b| b).await
}

/// Servers A, B and C, each relaying to the next, each configured by `configure`.
async fn chain_with(
    carrier: Carrier,
    configure: impl Fn(ServerBuilder) -> ServerBuilder,
) -> (Vec<Served>, std::sync::Arc<Relay>) {
    let (relay_c, _) = Relay::new(None);
    let c = carrier
        .serve(|b| configure(b.add_service(relay_c.service())))
        .await;
    let (relay_b, _) = Relay::new(Some(c.channel.clone()));
    let b = carrier
        .serve(|builder| configure(builder.add_service(relay_b.service())))
        .await;
    let (relay_a, _) = Relay::new(Some(b.channel.clone()));
    let a = carrier
        .serve(|builder| configure(builder.add_service(relay_a.service())))
        .await;
    (vec![a, b, c], relay_c)
}

async fn deadlines_shrink_along_a_chain_of_calls(carrier: Carrier) {
    let (servers, _) = chain(carrier).await;
    let a = &servers[0];
    let request = Request::new("2".to_owned()).with_timeout(Duration::from_secs(20));
    let reply = a.probe(RELAY, request).await.unwrap();
    let left: Vec<u64> = reply.split(',').map(|v| v.parse().unwrap()).collect();
    assert_eq!(left.len(), 3, "{reply}");
    assert!(left[0] <= 20_000_000 && left[0] > 0, "{reply}");
    assert!(
        left.windows(2).all(|w| w[1] <= w[0]) && left[2] < left[0],
        "the deadline must shrink from A to C: {reply}"
    );
    // No client deadline: none anywhere along the chain.
    let reply = a.probe(RELAY, Request::new("2".to_owned())).await.unwrap();
    assert_eq!(reply, "none,none,none");
}

async fn a_client_deadline_reaches_the_end_of_a_chain(carrier: Carrier) {
    let (servers, relay_c) = chain(carrier).await;
    let request = Request::new("2:hang".to_owned()).with_timeout(Duration::from_millis(200));
    let status = servers[0].probe(RELAY, request).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    let state = &relay_c.state;
    wait_for(&state.started_notify, || state.started.load(SeqCst) == 1).await;
    wait_for(&state.dropped_notify, || state.dropped.load(SeqCst) == 1).await;
}

async fn a_client_cancel_reaches_the_end_of_a_chain(carrier: Carrier) {
    let (servers, relay_c) = chain(carrier).await;
    let channel = servers[0].channel.clone();
    let call = tokio::spawn(async move {
        channel
            .unary::<String, String>(RELAY, Request::new("2:hang".to_owned()))
            .await
    });
    let state = &relay_c.state;
    wait_for(&state.started_notify, || state.started.load(SeqCst) == 1).await;
    call.abort();
    wait_for(&state.dropped_notify, || state.dropped.load(SeqCst) == 1).await;
}

async fn work_spawned_in_the_call_context_ends_with_the_call(carrier: Carrier) {
    let c = carrier.serve(|b| b).await;
    let (relay_a, _) = Relay::new(Some(c.channel.clone()));
    let a = carrier.serve(|b| b.add_service(relay_a.service())).await;
    let channel = a.channel.clone();
    let call = tokio::spawn(async move {
        channel
            .unary::<String, String>(RELAY_SPAWN, Request::new(String::new()))
            .await
    });
    // The spawned task's call reached C, and A's handler still runs.
    wait_for(&c.probe.started_notify, || {
        c.probe.started.load(SeqCst) == 1
    })
    .await;
    assert_eq!(c.probe.dropped.load(SeqCst), 0);
    // A's call ends: the task it spawned in its context is aborted, and with it
    // the call to C.
    relay_a.state.release.notify_waiters();
    assert_eq!(call.await.unwrap().unwrap().into_inner(), "spawned");
    wait_for(&c.probe.dropped_notify, || {
        c.probe.dropped.load(SeqCst) == 1
    })
    .await;
}

async fn a_detached_call_neither_inherits_nor_dies_with_the_call(carrier: Carrier) {
    let c = carrier.serve(|b| b).await;
    let (relay_a, detached_result) = Relay::new(Some(c.channel.clone()));
    let a = carrier.serve(|b| b.add_service(relay_a.service())).await;
    // A detached call from a handler with a deadline has none of its own.
    let request = Request::new(String::new()).with_timeout(Duration::from_secs(20));
    assert_eq!(
        a.probe(RELAY_DETACHED_DEADLINE, request).await.unwrap(),
        "none"
    );
    // A detached call on its own task outlives the inbound call's expiry.
    let request = Request::new(String::new()).with_timeout(Duration::from_millis(100));
    let status = a.probe(RELAY_DETACHED, request).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    wait_for(&c.probe.started_notify, || {
        c.probe.started.load(SeqCst) == 1
    })
    .await;
    c.probe.release.notify_waiters();
    let outcome = tokio::time::timeout(Duration::from_secs(10), detached_result)
        .await
        .expect("the detached call did not finish")
        .unwrap();
    assert_eq!(outcome.unwrap(), "detached");
}

/// A server with the `Scoped` service and recording interceptors at every scope:
/// `server` (server-wide), `service`, `one` (method One, tags) and `two` (method
/// Two, denies on `x-deny`).
async fn intercepted(carrier: Carrier) -> (Served, std::sync::Arc<InterceptLog>) {
    let log = std::sync::Arc::new(InterceptLog::default());
    let recorder = |name, denies, tags| Recorder {
        name,
        log: log.clone(),
        denies,
        tags,
    };
    let scoped = ScopedServer(std::sync::Arc::new(Scoped(log.clone())));
    let served = carrier
        .serve(|b| {
            b.intercept(recorder("server", false, false))
                .add_service_with(scoped, |s| {
                    s.intercept(recorder("service", false, false))
                        .intercept_method("One", recorder("one", false, true))
                        .intercept_method("Two", recorder("two", true, false))
                })
        })
        .await;
    (served, log)
}

async fn interceptors_run_outermost_first_and_see_the_end_innermost_first(carrier: Carrier) {
    let (served, log) = intercepted(carrier).await;
    served
        .probe(SCOPED_ONE, Request::new(String::new()))
        .await
        .unwrap();
    let entries = log.wait_for_len(6).await;
    assert_eq!(
        entries,
        [
            "server:call:One",
            "service:call:One",
            "one:call:One",
            "one:end:Ok",
            "service:end:Ok",
            "server:end:Ok",
        ]
    );
}

async fn a_method_interceptor_does_not_run_for_a_sibling_method(carrier: Carrier) {
    let (served, log) = intercepted(carrier).await;
    assert_eq!(
        served
            .probe(SCOPED_TWO, Request::new(String::new()))
            .await
            .unwrap(),
        "two"
    );
    let entries = log.wait_for_len(6).await;
    assert!(
        !entries.iter().any(|e| e.starts_with("one:")),
        "{entries:?}"
    );
    assert!(entries.contains(&"two:call:Two".to_owned()), "{entries:?}");
    // Calls to another service see only the server-wide interceptor.
    served
        .probe(SIZED, Request::new("1".to_owned()))
        .await
        .unwrap();
    let entries = log.wait_for_len(8).await;
    assert_eq!(entries[6..], ["server:call:Sized", "server:end:Ok"]);
}

async fn a_rejecting_interceptor_stops_the_call_before_the_handler(carrier: Carrier) {
    let (served, log) = intercepted(carrier).await;
    let mut request = Request::new(String::new());
    request.metadata_mut().insert("x-deny", "1").unwrap();
    let status = served.probe(SCOPED_TWO, request).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status}");
    assert_eq!(status.message(), "denied by interceptor");
    assert_eq!(log.two_ran.load(SeqCst), 0, "the handler ran");
    // Every interceptor that ran, the refusing one too, sees the final status.
    let entries = log.wait_for_len(6).await;
    assert_eq!(
        entries[3..],
        [
            "two:end:PermissionDenied",
            "service:end:PermissionDenied",
            "server:end:PermissionDenied"
        ]
    );
}

async fn interceptors_hand_typed_values_and_response_metadata_to_the_call(carrier: Carrier) {
    let (served, _log) = intercepted(carrier).await;
    let response = served
        .channel
        .unary::<String, String>(SCOPED_ONE, Request::new(String::new()))
        .await
        .unwrap();
    assert_eq!(response.metadata().get("x-intercepted"), Some("yes"));
    assert_eq!(
        response.trailers().get("x-intercepted-trailer"),
        Some("yes")
    );
    assert_eq!(response.into_inner(), "tagged by one");
}

async fn interceptors_see_calls_end_by_deadline_and_by_cancel(carrier: Carrier) {
    let log = std::sync::Arc::new(InterceptLog::default());
    let recorder = Recorder {
        name: "server",
        log: log.clone(),
        denies: false,
        tags: false,
    };
    // The deadline comes from the server (a default the policy gives calls that
    // have none), so the client does not race it with a cancel of its own.
    let policy = DeadlinePolicy::new().default_timeout(Duration::from_millis(50));
    let served = carrier
        .serve(|b| b.intercept(recorder).intercept(policy))
        .await;
    let status = served
        .probe(HANG, Request::new(String::new()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    let entries = log.wait_for_len(2).await;
    assert_eq!(entries, ["server:call:Hang", "server:end:DeadlineExceeded"]);

    let channel = served.channel.clone();
    let call = tokio::spawn(async move {
        channel
            .unary::<String, String>(HANG, Request::new(String::new()))
            .await
    });
    let probe = &served.probe;
    wait_for(&probe.started_notify, || probe.started.load(SeqCst) == 2).await;
    call.abort();
    let entries = log.wait_for_len(4).await;
    assert_eq!(entries[2..], ["server:call:Hang", "server:end:Cancelled"]);
}

fn with_md(mut request: Request<String>, key: &str, value: &str) -> Request<String> {
    request.metadata_mut().insert(key, value).unwrap();
    request
}

fn ping_request(responses: i32) -> StreamingOutputCallRequest {
    StreamingOutputCallRequest {
        response_parameters: (0..responses)
            .map(|_| ResponseParameters {
                size: 8,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

async fn a_stream_interceptor_counts_messages_both_ways(carrier: Carrier) {
    let log = std::sync::Arc::new(InterceptLog::default());
    let count = |name| CountMessages {
        name,
        log: log.clone(),
    };
    let served = carrier
        .serve_with_channel(
            |b| b.intercept(count("server")),
            |c| c.intercept(count("client")),
        )
        .await;
    let client = TestServiceClient::new(served.channel.clone());
    let mut call = client.full_duplex_call(CallOptions::new()).await.unwrap();
    // Three requests, each asking for two responses.
    let mut responses = 0;
    for _ in 0..3 {
        call.requests.send(ping_request(2)).await.unwrap();
        for _ in 0..2 {
            call.responses.message().await.unwrap().unwrap();
            responses += 1;
        }
    }
    call.requests.close();
    assert!(call.responses.message().await.unwrap().is_none());
    assert_eq!(responses, 6);
    drop(call);
    let mut entries = log.wait_for_len(2).await;
    entries.sort();
    assert_eq!(
        entries,
        ["client: received 6, sent 3", "server: received 3, sent 6"]
    );
}

async fn message_hooks_change_and_refuse_messages(carrier: Carrier) {
    let log = std::sync::Arc::new(InterceptLog::default());
    let scoped = std::sync::Arc::new(Scoped(log.clone()));
    let served = carrier
        .serve(|b| b.add_service_with(ScopedServer(scoped), |s| s.intercept(Shout)))
        .await;
    // The response is changed on its way out.
    let reply = served
        .probe(SCOPED_ONE, Request::new(String::new()))
        .await
        .unwrap();
    assert_eq!(reply, "UNTAGGED");
    // A refused request never reaches the handler.
    let status = served
        .probe(SCOPED_TWO, Request::new("refuse".to_owned()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status}");
    assert_eq!(status.message(), "refused by a hook");
    assert_eq!(log.two_ran.load(SeqCst), 0);
    let reply = served
        .probe(SCOPED_TWO, Request::new("fine".to_owned()))
        .await
        .unwrap();
    assert_eq!(reply, "TWO");
    assert_eq!(log.two_ran.load(SeqCst), 1);
}

async fn client_interceptors_run_in_order_and_see_the_end(carrier: Carrier) {
    let log = std::sync::Arc::new(InterceptLog::default());
    let recorder = |name| ClientRecorder {
        name,
        log: log.clone(),
        denies: false,
    };
    let served = carrier
        .serve_with_channel(
            |b| b,
            |c| c.intercept(recorder("first")).intercept(recorder("second")),
        )
        .await;
    let client = TestServiceClient::new(served.channel.clone());
    // The first sets the echoed metadata; the second sees it set and leaves it.
    let response = client.unary_call(SimpleRequest::default()).await.unwrap();
    assert_eq!(
        response.metadata().get("x-grpc-test-echo-initial"),
        Some("first")
    );
    let entries = log.wait_for_len(4).await;
    assert_eq!(
        entries,
        [
            "first:call:UnaryCall",
            "second:call:UnaryCall",
            "second:end:Ok",
            "first:end:Ok"
        ]
    );
    // The end of a call the server fails.
    let failing = SimpleRequest {
        response_status: Some(EchoStatus {
            code: Code::NotFound as i32,
            message: "nothing here".to_owned(),
        }),
        ..Default::default()
    };
    let status = client.unary_call(failing).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let entries = log.wait_for_len(8).await;
    assert_eq!(entries[6..], ["second:end:NotFound", "first:end:NotFound"]);
    // A streaming call ends when its response stream does...
    let mut stream = client.streaming_output_call(ping_request(2)).await.unwrap();
    while stream.message().await.unwrap().is_some() {}
    let entries = log.wait_for_len(12).await;
    assert_eq!(entries[10..], ["second:end:Ok", "first:end:Ok"]);
    // ...or, dropped before its end, as cancelled.
    let mut stream = client.streaming_output_call(ping_request(2)).await.unwrap();
    stream.message().await.unwrap().unwrap();
    drop(stream);
    let entries = log.wait_for_len(16).await;
    assert_eq!(
        entries[14..],
        ["second:end:Cancelled", "first:end:Cancelled"]
    );
}

async fn a_refusing_client_interceptor_sends_nothing(carrier: Carrier) {
    let client_log = std::sync::Arc::new(InterceptLog::default());
    let server_log = std::sync::Arc::new(InterceptLog::default());
    let server_recorder = Recorder {
        name: "server",
        log: server_log.clone(),
        denies: false,
        tags: false,
    };
    let client_recorder = ClientRecorder {
        name: "client",
        log: client_log.clone(),
        denies: true,
    };
    let served = carrier
        .serve_with_channel(
            |b| b.intercept(server_recorder),
            |c| c.intercept(client_recorder),
        )
        .await;
    let status = served
        .probe(
            DEADLINE,
            with_md(Request::new(String::new()), "x-deny", "1"),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status}");
    assert_eq!(status.message(), "denied by a client interceptor");
    assert_eq!(
        client_log.wait_for_len(2).await,
        ["client:call:Deadline", "client:end:PermissionDenied"]
    );
    // The next call is the first the server sees.
    served
        .probe(DEADLINE, Request::new(String::new()))
        .await
        .unwrap();
    assert_eq!(
        server_log.wait_for_len(2).await,
        ["server:call:Deadline", "server:end:Ok"]
    );
}

async fn bearer_auth_admits_refuses_and_identifies(carrier: Carrier) {
    let log = std::sync::Arc::new(InterceptLog::default());
    let scoped = ScopedServer(std::sync::Arc::new(Scoped(log)));
    let auth = BearerAuth::new(|token: &str| (token == "open-sesame").then(|| Tag("ada".into())));
    let served = carrier
        .serve(|b| b.add_service_with(scoped, |s| s.intercept(auth)))
        .await;
    let status = served
        .probe(SCOPED_ONE, Request::new(String::new()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status}");
    let wrong = served.channel.intercept(BearerToken::new("guess").unwrap());
    let status = wrong
        .unary::<String, String>(SCOPED_ONE, Request::new(String::new()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status}");
    let right = served
        .channel
        .intercept(BearerToken::new("open-sesame").unwrap());
    let reply = right
        .unary::<String, String>(SCOPED_ONE, Request::new(String::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply, "ada", "the handler sees who called");
    // Other services on the server are not guarded.
    served
        .probe(DEADLINE, Request::new(String::new()))
        .await
        .unwrap();
}

async fn a_deadline_policy_refuses_and_gives_defaults(carrier: Carrier) {
    let policy = DeadlinePolicy::new()
        .default_timeout(Duration::from_secs(30))
        .max(Duration::from_secs(60));
    let served = carrier.serve(|b| b.intercept(policy)).await;
    // No deadline sent: the handler sees the default.
    let left: u64 = served
        .probe(DEADLINE, Request::new(String::new()))
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(left > 0 && left <= 30_000, "{left} ms left");
    // Within bounds: the client's own.
    let request = Request::new(String::new()).with_timeout(Duration::from_secs(45));
    let left: u64 = served
        .probe(DEADLINE, request)
        .await
        .unwrap()
        .parse()
        .unwrap();
    assert!(left > 30_000 && left <= 45_000, "{left} ms left");
    // Beyond the maximum: refused, and the message says why.
    let request = Request::new(String::new()).with_timeout(Duration::from_secs(120));
    let status = served.probe(DEADLINE, request).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status}");
    assert!(status.message().contains("deadline too far"), "{status}");

    let strict = carrier
        .serve(|b| b.intercept(DeadlinePolicy::new().require()))
        .await;
    let status = strict
        .probe(DEADLINE, Request::new(String::new()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status}");
    assert!(status.message().contains("requires a deadline"), "{status}");
}

async fn trace_spans_carry_the_request_id_along_a_chain(carrier: Carrier) {
    let captured = capture_spans();
    let (servers, _) = chain_with(carrier, |b| b.intercept(Trace::new())).await;
    let id = format!("trace-{carrier:?}-{}", std::process::id());
    let request = with_md(Request::new("2".to_owned()), "x-request-id", &id);
    let response = servers[0]
        .channel
        .unary::<String, String>(RELAY, request)
        .await
        .unwrap();
    assert_eq!(response.metadata().get("x-request-id"), Some(id.as_str()));
    // Each server logs the end of its call after sending the response.
    let ended = || {
        let events = captured.events_in("request_id", &id);
        events
            .iter()
            .filter(|e| e.fields.get("message").map(String::as_str) == Some("call ended"))
            .count()
    };
    wait_for(&captured.changed, || ended() == 3).await;
    drop(servers);
    // One span per server of the chain, each with the id, the method and the
    // final code; B's and C's got the id only by propagation.
    let spans = captured.spans("grpc", "request_id", &id);
    assert_eq!(spans.len(), 3, "{spans:#?}");
    for span in &spans {
        assert_eq!(span.fields.get("rpc.method").unwrap(), RELAY);
        assert_eq!(span.fields.get("grpc.code").map(String::as_str), Some("0"));
        assert!(span.fields.contains_key("duration_us"), "{span:?}");
        assert_eq!(
            span.fields.contains_key("peer"),
            carrier.has_peer_address(),
            "{span:?}"
        );
    }
    // The handlers' own events and the end of each call happen in the spans.
    let events = captured.events_in("request_id", &id);
    let count = |message: &str| {
        events
            .iter()
            .filter(|e| e.fields.get("message").map(String::as_str) == Some(message))
            .count()
    };
    assert_eq!(count("relay hop"), 3, "{events:#?}");
    assert_eq!(count("call ended"), 3, "{events:#?}");
}

async fn tower_layers_see_and_refuse_calls(carrier: Carrier) {
    use aqueduct::tower::CallRequest;
    let log = std::sync::Arc::new(InterceptLog::default());
    let scoped = ScopedServer(std::sync::Arc::new(Scoped(log.clone())));
    let tag = tower::util::MapRequestLayer::new(|mut request: CallRequest| {
        let from = format!("tower saw {}", request.uri().path());
        request.extensions_mut().insert(Tag(from));
        request
    });
    let filter = tower::filter::FilterLayer::new(|request: CallRequest| {
        if request.headers().contains_key("x-deny") {
            Err(aqueduct::Status::permission_denied("filtered by tower"))
        } else {
            Ok(request)
        }
    });
    let served = carrier
        .serve(|b| b.layer(filter).add_service_with(scoped, |s| s.layer(tag)))
        .await;
    // A layer hands a typed value to the handler, through the extensions.
    let reply = served
        .probe(SCOPED_ONE, Request::new(String::new()))
        .await
        .unwrap();
    assert_eq!(reply, format!("tower saw {SCOPED_ONE}"));
    // A layer that fails a call: its Status goes to the client as it is, and
    // the handler does not run.
    let denied = with_md(Request::new(String::new()), "x-deny", "1");
    let status = served.probe(SCOPED_TWO, denied).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status}");
    assert_eq!(status.message(), "filtered by tower");
    assert_eq!(log.two_ran.load(SeqCst), 0);
}

async fn tower_layers_hold_calls_for_their_whole_length(carrier: Carrier) {
    // One call at a time, and no waiting: a second call while one runs is shed.
    let served = carrier
        .serve(|b| {
            b.layer(tower::load_shed::LoadShedLayer::new())
                .layer(tower::limit::ConcurrencyLimitLayer::new(1))
        })
        .await;
    let channel = served.channel.clone();
    let slow = tokio::spawn(async move {
        channel
            .unary::<String, String>(SLOW, Request::new("slow".to_owned()))
            .await
    });
    let probe = &served.probe;
    wait_for(&probe.started_notify, || probe.started.load(SeqCst) == 1).await;
    let status = served
        .probe(DEADLINE, Request::new(String::new()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(status.message().contains("overloaded"), "{status}");
    probe.release.notify_one();
    assert_eq!(slow.await.unwrap().unwrap().into_inner(), "slow");
}

async fn health_check(served: &Served, service: &str) -> Result<ServingStatus, aqueduct::Status> {
    let request = HealthCheckRequest {
        service: service.to_owned(),
    };
    let response = served
        .channel
        .unary::<HealthCheckRequest, HealthCheckResponse>(health::CHECK, Request::new(request))
        .await?;
    Ok(ServingStatus::try_from(response.into_inner().status).unwrap())
}

async fn health_watch(served: &Served, service: &str) -> aqueduct::Streaming<HealthCheckResponse> {
    let request = HealthCheckRequest {
        service: service.to_owned(),
    };
    served
        .channel
        .server_streaming::<HealthCheckRequest, HealthCheckResponse>(
            health::WATCH,
            Request::new(request),
        )
        .await
        .unwrap()
}

async fn next_status(
    watch: &mut aqueduct::Streaming<HealthCheckResponse>,
) -> Option<ServingStatus> {
    let message = watch.message().await.unwrap()?;
    Some(ServingStatus::try_from(message.status).unwrap())
}

async fn health_check_and_watch_follow_the_reporter(carrier: Carrier) {
    let health = HealthReporter::new();
    let served = carrier.serve(|b| b.add_health(health.clone())).await;
    assert_eq!(
        health_check(&served, "").await.unwrap(),
        ServingStatus::Serving
    );
    let unknown = health_check(&served, "nope.v1.Nope").await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown}");

    // Watch reports an unknown service instead of failing, then every change.
    let mut watch = health_watch(&served, "test.v1.Probe").await;
    assert_eq!(
        next_status(&mut watch).await,
        Some(ServingStatus::ServiceUnknown)
    );
    health.set_serving("test.v1.Probe");
    assert_eq!(next_status(&mut watch).await, Some(ServingStatus::Serving));
    assert_eq!(
        health_check(&served, "test.v1.Probe").await.unwrap(),
        ServingStatus::Serving
    );
    health.set_not_serving("test.v1.Probe");
    assert_eq!(
        next_status(&mut watch).await,
        Some(ServingStatus::NotServing)
    );
    health.clear("test.v1.Probe");
    assert_eq!(
        next_status(&mut watch).await,
        Some(ServingStatus::ServiceUnknown)
    );
}

async fn health_turns_not_serving_when_shutdown_starts(carrier: Carrier) {
    let health = HealthReporter::new();
    health.set_serving("test.v1.Probe");
    let mut served = carrier.serve(|b| b.add_health(health.clone())).await;
    let mut overall = health_watch(&served, "").await;
    let mut probe = health_watch(&served, "test.v1.Probe").await;
    assert_eq!(
        next_status(&mut overall).await,
        Some(ServingStatus::Serving)
    );
    assert_eq!(next_status(&mut probe).await, Some(ServingStatus::Serving));
    let server = served.begin_shutdown();
    // Both watchers hear it, and their streams end, so the drain is not held up.
    assert_eq!(
        next_status(&mut overall).await,
        Some(ServingStatus::NotServing)
    );
    assert_eq!(
        next_status(&mut probe).await,
        Some(ServingStatus::NotServing)
    );
    assert_eq!(next_status(&mut overall).await, None);
    assert_eq!(next_status(&mut probe).await, None);
    server.await.unwrap().unwrap();
    assert_eq!(health.status(""), Some(ServingStatus::NotServing));
}

/// A reflection stream, `v1` or `v1alpha`.
struct Reflect(aqueduct::BidiCall<ServerReflectionRequest, ServerReflectionResponse>);

impl Reflect {
    async fn open(served: &Served, path: &'static str) -> Self {
        Self(
            served
                .channel
                .bidi_streaming(path, CallOptions::default())
                .await
                .unwrap(),
        )
    }

    async fn ask(&mut self, request: MessageRequest) -> MessageResponse {
        self.0
            .requests
            .send(ServerReflectionRequest {
                host: String::new(),
                message_request: Some(request),
            })
            .await
            .unwrap();
        let response = self.0.responses.message().await.unwrap();
        response.unwrap().message_response.unwrap()
    }

    async fn services(&mut self) -> Vec<String> {
        match self.ask(MessageRequest::ListServices(String::new())).await {
            MessageResponse::ListServicesResponse(list) => {
                list.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("not a service list: {other:?}"),
        }
    }

    /// The files sent for `symbol`, decoded, or the error code.
    async fn files_for(&mut self, symbol: &str) -> Result<Vec<FileDescriptorProto>, Code> {
        match self
            .ask(MessageRequest::FileContainingSymbol(symbol.into()))
            .await
        {
            MessageResponse::FileDescriptorResponse(files) => Ok(files
                .file_descriptor_proto
                .iter()
                .map(|raw| FileDescriptorProto::decode(raw.as_ref()).unwrap())
                .collect()),
            MessageResponse::ErrorResponse(e) => Err(Code::from_i32(e.error_code)),
            other => panic!("not files: {other:?}"),
        }
    }
}

/// The notes service is added after the reflection line, with no registration:
/// both reflection versions list it and describe its method down to the
/// well-known types its messages import. A server without it knows nothing of it,
/// but describes the `google.rpc` error details.
async fn reflection_describes_exactly_the_mounted_services(carrier: Carrier) {
    let served = carrier
        .serve(|b| b.add_reflection().add_service(notes::NoteStore::service()))
        .await;
    for path in [reflection::V1_INFO, reflection::V1ALPHA_INFO] {
        let mut reflect = Reflect::open(&served, path).await;
        let services = reflect.services().await;
        for want in [
            "notes.v1.Notes",
            "grpc.testing.TestService",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ] {
            assert!(
                services.iter().any(|s| s == want),
                "{want} not in {services:?}"
            );
        }
        let files = reflect
            .files_for("notes.v1.Notes.CreateNote")
            .await
            .unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name()).collect();
        assert_eq!(names[0], "notes/v1/notes.proto", "{names:?}");
        for import in [
            "google/protobuf/timestamp.proto",
            "google/protobuf/empty.proto",
        ] {
            assert!(names.contains(&import), "{import} not sent: {names:?}");
        }
        let method = &files[0].service[0].method[0];
        assert_eq!(
            (method.name(), method.input_type(), method.output_type()),
            (
                "CreateNote",
                ".notes.v1.CreateNoteRequest",
                ".notes.v1.Note"
            )
        );
        // A failed lookup is an answer; the stream goes on.
        assert_eq!(
            reflect.files_for("notes.v1.NoSuchThing").await.unwrap_err(),
            Code::NotFound
        );
        let timestamp = reflect
            .files_for("google.protobuf.Timestamp")
            .await
            .unwrap();
        assert_eq!(timestamp[0].name(), "google/protobuf/timestamp.proto");
    }

    let without = carrier.serve(|b| b.add_reflection()).await;
    let mut reflect = Reflect::open(&without, reflection::V1_INFO).await;
    let services = reflect.services().await;
    assert!(
        !services.iter().any(|s| s == "notes.v1.Notes"),
        "{services:?}"
    );
    assert_eq!(
        reflect.files_for("notes.v1.Notes").await.unwrap_err(),
        Code::NotFound
    );
    // The error details are served whatever is mounted (issue 16, item 5),
    // each file with the well-known type it imports.
    for (symbol, file, import) in [
        (
            "google.rpc.ErrorInfo",
            "google/rpc/error_details.proto",
            "google/protobuf/duration.proto",
        ),
        (
            "google.rpc.Status",
            "google/rpc/status.proto",
            "google/protobuf/any.proto",
        ),
    ] {
        let files = reflect.files_for(symbol).await.unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name()).collect();
        assert_eq!(names, [file, import], "{symbol}");
    }
}

async fn reflection_streams_end_when_shutdown_starts(carrier: Carrier) {
    let mut served = carrier.serve(|b| b.add_reflection()).await;
    let mut reflect = Reflect::open(&served, reflection::V1_INFO).await;
    assert!(!reflect.services().await.is_empty());
    let server = served.begin_shutdown();
    // The open stream ends cleanly, so it does not hold up the drain.
    assert_eq!(reflect.0.responses.message().await.unwrap(), None);
    server.await.unwrap().unwrap();
}

/// A server interceptor that refuses every call as unauthenticated.
struct RefuseAll;

impl aqueduct::interceptor::Interceptor for RefuseAll {
    async fn on_call(
        &self,
        _call: &mut aqueduct::interceptor::CallInfo<'_>,
    ) -> Result<(), aqueduct::Status> {
        Err(aqueduct::Status::unauthenticated("no credentials"))
    }
}

/// Sends `message`, padded to 16 KiB, again and again until a send fails, and
/// returns that failure. Once the server has stopped reading, one does: at the
/// latest when the stream's flow-control window is used up, the send waits for
/// the server's reset and fails. (The timeout only keeps a broken build from
/// hanging the suite. The padding keeps the frames in flight few: h2, on the
/// server, answers thousands of DATA frames on a stream it has reset with
/// GOAWAY ENHANCE_YOUR_CALM, issue 19's business.)
macro_rules! send_until_refused {
    ($sink:expr, $message:expr) => {
        tokio::time::timeout(Duration::from_secs(20), async {
            let message = format!("{:<16384}", $message);
            loop {
                if let Err(status) = $sink.send(message.clone()).await {
                    break status;
                }
            }
        })
        .await
        .expect("every send succeeded for 20 s")
    };
}

async fn open_early(served: &Served) -> aqueduct::ClientStreamingCall<String, String> {
    served
        .channel
        .client_streaming::<String, String>(EARLY, CallOptions::default())
        .await
        .unwrap()
}

async fn open_early_bidi(served: &Served) -> aqueduct::BidiCall<String, String> {
    served
        .channel
        .bidi_streaming::<String, String>(EARLY_BIDI, CallOptions::default())
        .await
        .unwrap()
}

/// Regression test for issue 16 (1): `send` used to fail with `UNAVAILABLE: the
/// peer reset the stream`, which retry logic takes for "try again".
async fn a_send_on_a_call_an_interceptor_refused_returns_its_status(carrier: Carrier) {
    let served = carrier.serve(|b| b.intercept(RefuseAll)).await;
    let mut call = open_early(&served).await;
    let status = send_until_refused!(call, "hello");
    assert_eq!(status.code(), Code::Unauthenticated, "{status}");
    assert_eq!(status.message(), "no credentials");
    let end = call.finish().await.unwrap_err();
    assert_eq!(end.code(), Code::Unauthenticated, "{end}");

    let mut bidi = open_early_bidi(&served).await;
    let status = send_until_refused!(bidi.requests, "hello");
    assert_eq!(status.code(), Code::Unauthenticated, "{status}");
    assert_eq!(status.message(), "no credentials");
    // The response side reports the same status, untouched by the read-ahead.
    let end = bidi.responses.message().await.unwrap_err();
    assert_eq!(end.code(), Code::Unauthenticated, "{end}");
    assert_eq!(end.message(), "no credentials");
}

async fn a_send_over_the_servers_limit_returns_resource_exhausted(carrier: Carrier) {
    let served = carrier.serve(|b| b.max_recv_message_size(1024)).await;
    let big = "x".repeat(32 * 1024);
    let mut call = open_early(&served).await;
    let status = send_until_refused!(call, big.as_str());
    assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
    let end = call.finish().await.unwrap_err();
    assert_eq!(end.code(), Code::ResourceExhausted, "{end}");

    let mut bidi = open_early_bidi(&served).await;
    let status = send_until_refused!(bidi.requests, big.as_str());
    assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
    let end = bidi.responses.message().await.unwrap_err();
    assert_eq!(end.code(), Code::ResourceExhausted, "{end}");
}

async fn a_send_after_the_server_finished_returns_the_final_status(carrier: Carrier) {
    let served = carrier.serve(|b| b).await;

    // Finished with an error status: the sink gets it, and the response side
    // still has the message the server sent before it, then the status.
    let mut bidi = open_early_bidi(&served).await;
    let status = send_until_refused!(bidi.requests, "abort");
    assert_eq!(status.code(), Code::Aborted, "{status}");
    assert_eq!(status.message(), EARLY_MESSAGE);
    assert_eq!(
        bidi.responses.message().await.unwrap().as_deref(),
        Some("abort")
    );
    let end = bidi.responses.message().await.unwrap_err();
    assert_eq!(end.code(), Code::Aborted, "{end}");
    assert_eq!(end.message(), EARLY_MESSAGE);
    // Asked again, the sink answers the same.
    let again = send_until_refused!(bidi.requests, "abort");
    assert_eq!(again.code(), Code::Aborted, "{again}");

    // Finished with OK: the sink says so, and the response is there.
    let mut bidi = open_early_bidi(&served).await;
    let status = send_until_refused!(bidi.requests, "fine");
    assert_eq!(status.code(), Code::Ok, "{status}");
    assert_eq!(
        bidi.responses.message().await.unwrap().as_deref(),
        Some("fine")
    );
    assert_eq!(bidi.responses.message().await.unwrap(), None);
    assert!(bidi.responses.trailers().is_some());

    let mut call = open_early(&served).await;
    let status = send_until_refused!(call, "abort");
    assert_eq!(status.code(), Code::Aborted, "{status}");
    assert_eq!(status.message(), EARLY_MESSAGE);
    let end = call.finish().await.unwrap_err();
    assert_eq!(end.code(), Code::Aborted, "{end}");

    let mut call = open_early(&served).await;
    let status = send_until_refused!(call, "fine");
    assert_eq!(status.code(), Code::Ok, "{status}");
    assert_eq!(call.finish().await.unwrap().into_inner(), "fine");
}

/// The sink and the response stream of one call in two tasks: the reader waits
/// on the response side while the sink's failed send reads ahead on it. Each
/// must be woken (the carrier keeps one waker per stream), and the reader
/// still gets the message and the status.
async fn a_refused_send_and_a_waiting_reader_in_two_tasks_both_finish(carrier: Carrier) {
    let served = carrier.serve(|b| b).await;
    let aqueduct::BidiCall {
        mut requests,
        mut responses,
        ..
    } = open_early_bidi(&served).await;
    let reader = tokio::spawn(async move {
        let first = responses.message().await;
        let end = responses.message().await;
        (first, end)
    });
    let sender = tokio::spawn(async move { send_until_refused!(requests, "abort") });
    let within = Duration::from_secs(20);
    let status = tokio::time::timeout(within, sender).await.unwrap().unwrap();
    assert_eq!(status.code(), Code::Aborted, "{status}");
    let (first, end) = tokio::time::timeout(within, reader).await.unwrap().unwrap();
    assert_eq!(first.unwrap().as_deref(), Some("abort"));
    let end = end.unwrap_err();
    assert_eq!(end.code(), Code::Aborted, "{end}");
}

/// Dropping the response stream of a call whose sink lives on lets go of what
/// the server sends it, as before the two halves were shared: unread
/// responses must not hold the connection's flow-control window, or the next
/// call on the channel starves.
async fn dropped_responses_of_a_call_still_sending_release_the_connection(carrier: Carrier) {
    let served = carrier
        .serve_with_channel(
            |b| b,
            |c| {
                c.initial_connection_window_size(64 * 1024)
                    .initial_stream_window_size(64 * 1024)
            },
        )
        .await;
    let client = TestServiceClient::new(served.channel.clone());
    let aqueduct::BidiCall {
        mut requests,
        mut responses,
        ..
    } = client.full_duplex_call(CallOptions::new()).await.unwrap();
    // One response of 256 KiB: more than the connection's whole window.
    let mut ask = ping_request(1);
    ask.response_parameters[0].size = 256 * 1024;
    requests.send(ask).await.unwrap();
    responses.headers().await.unwrap();
    drop(responses);
    // The sink is still open; a unary call on the same connection gets through.
    let reply = tokio::time::timeout(
        Duration::from_secs(20),
        client.unary_call(SimpleRequest {
            response_size: 1024,
            ..Default::default()
        }),
    )
    .await
    .expect("the next call starved: dropped responses hold the window")
    .unwrap();
    assert_eq!(
        reply.into_inner().payload.unwrap_or_default().body.len(),
        1024
    );
    drop(requests);
}

/// A unary call must end with its response or an error: a handler's `Err`
/// with code `OK` (a `send(..).await?` on a call its server finished OK) is
/// `INTERNAL`, saying so, rather than `OK` with no response.
async fn a_unary_handler_error_with_code_ok_is_internal(carrier: Carrier) {
    let served = carrier.serve(|b| b).await;
    let status = served
        .probe(OK_ERROR, Request::new(String::new()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal, "{status}");
    assert!(status.message().contains("code OK"), "{status}");
    assert!(status.message().contains("finished"), "{status}");
}

/// `intercept_method` takes the method's name as the `.proto` spells it; a
/// name that is not the service's stops the server at startup, naming the
/// methods it has and the one meant.
#[test]
#[should_panic(expected = "did you mean \"Two\"?); its methods: One, Two")]
fn a_method_interceptor_named_the_rust_way_is_refused_with_the_proto_name() {
    let log = std::sync::Arc::new(InterceptLog::default());
    let scoped = ScopedServer(std::sync::Arc::new(Scoped(log)));
    let _ = aqueduct::Server::builder()
        .add_service_with(scoped, |s| s.intercept_method("two", RefuseAll));
}
