//! The interop test cases, run against any `grpc.testing.TestService` server.

use std::time::Duration;

use aqueduct::{BidiCall, CallOptions, Channel, Code, Encoding, Request, Status};

use crate::pb::test_service_client::TestServiceClient;
use crate::pb::unimplemented_service_client::UnimplementedServiceClient;
use crate::pb::*;

/// Every test case, in the order `--test_case all` runs them.
pub const ALL: &[&str] = &[
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "timeout_on_sleeping_server",
    "cancel_after_begin",
    "cancel_after_first_response",
    "status_code_and_message",
    "special_status_message",
    "custom_metadata",
    "unimplemented_method",
    "unimplemented_service",
    "client_compressed_unary",
    "server_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_streaming",
];

/// A failed check, with what was expected.
pub type CaseResult = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!($($fmt)+));
        }
    };
}

fn call_err(what: &str) -> impl FnOnce(Status) -> String + '_ {
    move |s| format!("{what} failed: {s}")
}

/// A short description of a call outcome for failure messages (never the whole
/// response: payloads are hundreds of kilobytes).
fn outcome<T>(r: &Result<T, Status>) -> String {
    match r {
        Ok(_) => "OK".to_owned(),
        Err(s) => s.to_string(),
    }
}

/// The compression feature probe: an uncompressed message that claims to be
/// compressed. A server that checks the flag refuses it with INVALID_ARGUMENT; the
/// spec makes `expect_compressed` nullable for servers that cannot see the flag
/// (Python grpcio among them), so acceptance is reported, not failed.
fn probe_result<T>(r: &Result<T, Status>, case: &str) -> CaseResult {
    match r {
        Err(s) if s.code() == Code::InvalidArgument => Ok(()),
        Ok(_) => {
            eprintln!(
                "note: {case}: the server accepted the probe, so it cannot verify compression flags"
            );
            Ok(())
        }
        Err(s) => Err(format!("probe: expected INVALID_ARGUMENT or OK, got {s}")),
    }
}

fn payload(size: usize) -> Option<Payload> {
    Some(Payload {
        r#type: PayloadType::Compressable as i32,
        body: vec![0; size],
    })
}

fn body_len(p: &Option<Payload>) -> usize {
    p.as_ref().map_or(0, |p| p.body.len())
}

fn params(size: i32) -> ResponseParameters {
    ResponseParameters {
        size,
        ..ResponseParameters::default()
    }
}

/// Runs one named case against `channel`.
pub async fn run(case: &str, channel: &Channel) -> CaseResult {
    let client = TestServiceClient::new(channel.clone());
    match case {
        "empty_unary" => {
            client
                .empty_call(Empty {})
                .await
                .map_err(call_err("EmptyCall"))?;
            Ok(())
        }
        "large_unary" => large_unary(&client, None).await,
        "client_streaming" => {
            let mut call = client
                .streaming_input_call(CallOptions::new())
                .await
                .map_err(call_err("StreamingInputCall"))?;
            for size in [27182, 8, 1828, 45904] {
                call.send(StreamingInputCallRequest {
                    payload: payload(size),
                    ..Default::default()
                })
                .await
                .map_err(call_err("send"))?;
            }
            let resp = call
                .finish()
                .await
                .map_err(call_err("StreamingInputCall"))?
                .into_inner();
            ensure!(
                resp.aggregated_payload_size == 74922,
                "aggregated size {} != 74922",
                resp.aggregated_payload_size
            );
            Ok(())
        }
        "server_streaming" => {
            let sizes = [31415, 9, 2653, 58979];
            let req = StreamingOutputCallRequest {
                response_parameters: sizes.iter().map(|&s| params(s)).collect(),
                ..Default::default()
            };
            let mut stream = client
                .streaming_output_call(req)
                .await
                .map_err(call_err("StreamingOutputCall"))?;
            let mut got = Vec::new();
            while let Some(msg) = stream
                .message()
                .await
                .map_err(call_err("StreamingOutputCall"))?
            {
                got.push(body_len(&msg.payload) as i32);
            }
            ensure!(got == sizes, "response sizes {got:?} != {sizes:?}");
            Ok(())
        }
        "ping_pong" => {
            let BidiCall {
                mut requests,
                mut responses,
                ..
            } = client
                .full_duplex_call(CallOptions::new())
                .await
                .map_err(call_err("FullDuplexCall"))?;
            for (resp_size, req_size) in [(31415, 27182), (9, 8), (2653, 1828), (58979, 45904)] {
                requests
                    .send(StreamingOutputCallRequest {
                        response_parameters: vec![params(resp_size)],
                        payload: payload(req_size),
                        ..Default::default()
                    })
                    .await
                    .map_err(call_err("send"))?;
                let msg = responses
                    .message()
                    .await
                    .map_err(call_err("receive"))?
                    .ok_or("stream ended early")?;
                ensure!(
                    body_len(&msg.payload) == resp_size as usize,
                    "response size {} != {resp_size}",
                    body_len(&msg.payload)
                );
            }
            requests.close();
            ensure!(
                responses
                    .message()
                    .await
                    .map_err(call_err("end"))?
                    .is_none(),
                "extra response"
            );
            Ok(())
        }
        "empty_stream" => {
            let BidiCall {
                mut requests,
                mut responses,
                ..
            } = client
                .full_duplex_call(CallOptions::new())
                .await
                .map_err(call_err("FullDuplexCall"))?;
            requests.close();
            ensure!(
                responses
                    .message()
                    .await
                    .map_err(call_err("FullDuplexCall"))?
                    .is_none(),
                "expected no responses"
            );
            Ok(())
        }
        "timeout_on_sleeping_server" => {
            let opts = CallOptions::new().with_timeout(Duration::from_millis(1));
            let result = async {
                let BidiCall {
                    mut requests,
                    mut responses,
                    ..
                } = client.full_duplex_call(opts).await?;
                requests
                    .send(StreamingOutputCallRequest {
                        payload: payload(27182),
                        ..Default::default()
                    })
                    .await?;
                responses.message().await
            }
            .await;
            match result {
                Err(s) if s.code() == Code::DeadlineExceeded => Ok(()),
                other => Err(format!(
                    "expected DEADLINE_EXCEEDED, got {}",
                    outcome(&other)
                )),
            }
        }
        "cancel_after_begin" => {
            let mut call = client
                .streaming_input_call(CallOptions::new())
                .await
                .map_err(call_err("StreamingInputCall"))?;
            call.cancel();
            match call.finish().await {
                Err(s) if s.code() == Code::Cancelled => Ok(()),
                other => Err(format!("expected CANCELLED, got {}", outcome(&other))),
            }
        }
        "cancel_after_first_response" => {
            let BidiCall {
                mut requests,
                mut responses,
                ..
            } = client
                .full_duplex_call(CallOptions::new())
                .await
                .map_err(call_err("FullDuplexCall"))?;
            requests
                .send(StreamingOutputCallRequest {
                    response_parameters: vec![params(31415)],
                    payload: payload(27182),
                    ..Default::default()
                })
                .await
                .map_err(call_err("send"))?;
            responses
                .message()
                .await
                .map_err(call_err("receive"))?
                .ok_or("no first response")?;
            requests.cancel();
            match responses.message().await {
                Err(s) if s.code() == Code::Cancelled => Ok(()),
                other => Err(format!("expected CANCELLED, got {}", outcome(&other))),
            }
        }
        "status_code_and_message" => status_case(&client, "test status message").await,
        "special_status_message" => {
            status_case(
                &client,
                "\t\ntest with whitespace\r\nand Unicode BMP \u{263a} and non-BMP \u{1f608}\t\n",
            )
            .await
        }
        "custom_metadata" => custom_metadata(&client).await,
        "unimplemented_method" => match client.unimplemented_call(Empty {}).await {
            Err(s) if s.code() == Code::Unimplemented => Ok(()),
            other => Err(format!("expected UNIMPLEMENTED, got {}", outcome(&other))),
        },
        "unimplemented_service" => {
            let other = UnimplementedServiceClient::new(channel.clone());
            match other.unimplemented_call(Empty {}).await {
                Err(s) if s.code() == Code::Unimplemented => Ok(()),
                other => Err(format!("expected UNIMPLEMENTED, got {}", outcome(&other))),
            }
        }
        "client_compressed_unary" => {
            // Probe: an uncompressed message that claims to be compressed must be
            // refused, which shows the server checks the flag.
            let probe = SimpleRequest {
                expect_compressed: Some(BoolValue { value: true }),
                response_size: 314159,
                payload: payload(271828),
                ..Default::default()
            };
            probe_result(&client.unary_call(probe.clone()).await, case)?;
            large_unary(&client, Some((probe.clone(), true))).await?;
            let plain = SimpleRequest {
                expect_compressed: Some(BoolValue { value: false }),
                ..probe
            };
            large_unary(&client, Some((plain, false))).await
        }
        "server_compressed_unary" => {
            for compressed in [true, false] {
                let req = SimpleRequest {
                    response_compressed: Some(BoolValue { value: compressed }),
                    response_size: 314159,
                    payload: payload(271828),
                    ..Default::default()
                };
                let resp = client
                    .unary_call(req)
                    .await
                    .map_err(call_err("UnaryCall"))?;
                ensure!(
                    resp.message_compressed() == compressed,
                    "response compressed = {}, wanted {compressed}",
                    resp.message_compressed()
                );
                ensure!(
                    body_len(&resp.get_ref().payload) == 314159,
                    "wrong response size"
                );
            }
            Ok(())
        }
        "client_compressed_streaming" => {
            let mut probe = client
                .streaming_input_call(CallOptions::new())
                .await
                .map_err(call_err("StreamingInputCall"))?;
            let _ = probe
                .send(StreamingInputCallRequest {
                    payload: payload(27182),
                    expect_compressed: Some(BoolValue { value: true }),
                })
                .await;
            probe_result(&probe.finish().await, case)?;
            let opts = CallOptions::new().with_compression(Encoding::Gzip);
            let mut call = client
                .streaming_input_call(opts)
                .await
                .map_err(call_err("StreamingInputCall"))?;
            call.send_with(
                StreamingInputCallRequest {
                    payload: payload(27182),
                    expect_compressed: Some(BoolValue { value: true }),
                },
                true,
            )
            .await
            .map_err(call_err("send"))?;
            call.send_with(
                StreamingInputCallRequest {
                    payload: payload(45904),
                    expect_compressed: Some(BoolValue { value: false }),
                },
                false,
            )
            .await
            .map_err(call_err("send"))?;
            let resp = call
                .finish()
                .await
                .map_err(call_err("StreamingInputCall"))?
                .into_inner();
            ensure!(
                resp.aggregated_payload_size == 73086,
                "aggregated size {} != 73086",
                resp.aggregated_payload_size
            );
            Ok(())
        }
        "server_compressed_streaming" => {
            let req = StreamingOutputCallRequest {
                response_parameters: vec![
                    ResponseParameters {
                        size: 31415,
                        compressed: Some(BoolValue { value: true }),
                        ..Default::default()
                    },
                    ResponseParameters {
                        size: 92653,
                        compressed: Some(BoolValue { value: false }),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            };
            let mut stream = client
                .streaming_output_call(req)
                .await
                .map_err(call_err("StreamingOutputCall"))?;
            let mut got = Vec::new();
            while let Some(msg) = stream
                .message()
                .await
                .map_err(call_err("StreamingOutputCall"))?
            {
                got.push((body_len(&msg.payload), stream.last_message_compressed()));
            }
            ensure!(
                got == [(31415, true), (92653, false)],
                "responses (size, compressed) {got:?}"
            );
            Ok(())
        }
        other => Err(format!("unknown test case {other:?}")),
    }
}

async fn large_unary(
    client: &TestServiceClient,
    custom: Option<(SimpleRequest, bool)>,
) -> CaseResult {
    let (req, compress) = custom.unwrap_or_else(|| {
        (
            SimpleRequest {
                response_size: 314159,
                payload: payload(271828),
                ..Default::default()
            },
            false,
        )
    });
    let mut request = Request::new(req);
    if compress {
        request = request.with_compression(Encoding::Gzip);
    }
    let resp = client
        .unary_call(request)
        .await
        .map_err(call_err("UnaryCall"))?;
    ensure!(
        body_len(&resp.get_ref().payload) == 314159,
        "response size {} != 314159",
        body_len(&resp.get_ref().payload)
    );
    Ok(())
}

async fn status_case(client: &TestServiceClient, message: &str) -> CaseResult {
    let status = EchoStatus {
        code: 2,
        message: message.to_owned(),
    };
    let req = SimpleRequest {
        response_status: Some(status.clone()),
        ..Default::default()
    };
    match client.unary_call(req).await {
        Err(s) if s.code() == Code::Unknown && s.message() == message => {}
        other => {
            return Err(format!(
                "UnaryCall: expected UNKNOWN {message:?}, got {}",
                outcome(&other)
            ));
        }
    }
    let BidiCall {
        mut requests,
        mut responses,
        ..
    } = client
        .full_duplex_call(CallOptions::new())
        .await
        .map_err(call_err("FullDuplexCall"))?;
    requests
        .send(StreamingOutputCallRequest {
            response_status: Some(status),
            ..Default::default()
        })
        .await
        .map_err(call_err("send"))?;
    requests.close();
    match responses.message().await {
        Err(s) if s.code() == Code::Unknown && s.message() == message => Ok(()),
        other => Err(format!(
            "FullDuplexCall: expected UNKNOWN {message:?}, got {}",
            outcome(&other)
        )),
    }
}

async fn custom_metadata(client: &TestServiceClient) -> CaseResult {
    const INITIAL: &str = "test_initial_metadata_value";
    const TRAILING: &[u8] = b"\xab\xab\xab";
    let mut opts = CallOptions::new();
    opts.metadata_mut()
        .insert("x-grpc-test-echo-initial", INITIAL)
        .map_err(|e| e.to_string())?;
    opts.metadata_mut()
        .insert_bin("x-grpc-test-echo-trailing-bin", TRAILING)
        .map_err(|e| e.to_string())?;

    let req = SimpleRequest {
        response_size: 314159,
        payload: payload(271828),
        ..Default::default()
    };
    let resp = client
        .unary_call(Request::with_options(req, opts.clone()))
        .await
        .map_err(call_err("UnaryCall"))?;
    ensure!(
        resp.metadata().get("x-grpc-test-echo-initial") == Some(INITIAL),
        "UnaryCall: initial metadata {:?}",
        resp.metadata()
    );
    ensure!(
        resp.trailers()
            .get_bin("x-grpc-test-echo-trailing-bin")
            .as_deref()
            == Some(TRAILING),
        "UnaryCall: trailing metadata {:?}",
        resp.trailers()
    );

    let BidiCall {
        mut requests,
        mut responses,
        ..
    } = client
        .full_duplex_call(opts)
        .await
        .map_err(call_err("FullDuplexCall"))?;
    requests
        .send(StreamingOutputCallRequest {
            response_parameters: vec![params(314159)],
            payload: payload(271828),
            ..Default::default()
        })
        .await
        .map_err(call_err("send"))?;
    requests.close();
    let headers = responses
        .headers()
        .await
        .map_err(call_err("headers"))?
        .clone();
    ensure!(
        headers.get("x-grpc-test-echo-initial") == Some(INITIAL),
        "FullDuplexCall: initial metadata {headers:?}"
    );
    while responses
        .message()
        .await
        .map_err(call_err("FullDuplexCall"))?
        .is_some()
    {}
    let trailers = responses.trailers().cloned().unwrap_or_default();
    ensure!(
        trailers.get_bin("x-grpc-test-echo-trailing-bin").as_deref() == Some(TRAILING),
        "FullDuplexCall: trailing metadata {trailers:?}"
    );
    Ok(())
}
