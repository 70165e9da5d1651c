//! The interop test server: `grpc.testing.TestService` as the interop descriptions
//! specify it (echoed metadata, requested statuses, payload sizes, compression).

use std::time::Duration;

use aqueduct::{Code, Encoding, Request, Response, ServerBuilder, ServerSink, Status, Streaming};

use crate::pb::test_service_server::{TestService, TestServiceServer};
use crate::pb::*;

const ECHO_INITIAL: &str = "x-grpc-test-echo-initial";
const ECHO_TRAILING: &str = "x-grpc-test-echo-trailing-bin";
/// Largest payload a request may ask for; keeps a hostile request from making the
/// server allocate without bound.
const MAX_PAYLOAD: i32 = 8 * 1024 * 1024;

/// A server builder with the test service mounted.
pub fn builder() -> ServerBuilder {
    aqueduct::Server::builder().add_service(TestServiceServer::new(Interop))
}

/// The test service implementation.
#[derive(Debug, Default, Clone, Copy)]
pub struct Interop;

fn payload(size: i32) -> Result<Payload, Status> {
    if !(0..=MAX_PAYLOAD).contains(&size) {
        return Err(Status::invalid_argument(format!(
            "payload size {size} out of range"
        )));
    }
    Ok(Payload {
        r#type: PayloadType::Compressable as i32,
        body: vec![0; size as usize],
    })
}

fn requested_status(status: Option<&EchoStatus>) -> Result<(), Status> {
    match status {
        Some(s) if s.code != 0 => Err(Status::new(Code::from_i32(s.code), s.message.clone())),
        _ => Ok(()),
    }
}

fn check_compressed(expect: Option<&BoolValue>, compressed: bool) -> Result<(), Status> {
    match expect {
        Some(BoolValue { value: true }) if !compressed => Err(Status::invalid_argument(
            "expected a compressed message, got an uncompressed one",
        )),
        Some(BoolValue { value: false }) if compressed => Err(Status::invalid_argument(
            "expected an uncompressed message, got a compressed one",
        )),
        _ => Ok(()),
    }
}

/// Copies the echo metadata from the request to the response headers and trailers.
fn echo<T>(
    request: &Request<T>,
    headers: &mut aqueduct::MetadataMap,
    trailers: &mut aqueduct::MetadataMap,
) {
    if let Some(v) = request.metadata().get(ECHO_INITIAL) {
        let _ = headers.insert(ECHO_INITIAL, v);
    }
    if let Some(v) = request.metadata().get_bin(ECHO_TRAILING) {
        let _ = trailers.insert_bin(ECHO_TRAILING, &v);
    }
}

fn echo_sink<T, R>(request: &Request<T>, sink: &mut ServerSink<R>) {
    let mut trailers = aqueduct::MetadataMap::new();
    sink.with_headers(|h| echo(request, h, &mut trailers));
    *sink.trailers_mut() = trailers;
}

async fn stream_responses(
    params: &[ResponseParameters],
    sink: &mut ServerSink<StreamingOutputCallResponse>,
) -> Result<(), Status> {
    if params
        .iter()
        .any(|p| p.compressed.as_ref().is_some_and(|c| c.value))
    {
        sink.set_compression(Encoding::Gzip);
    }
    for p in params {
        if p.interval_us > 0 {
            tokio::time::sleep(Duration::from_micros(p.interval_us as u64)).await;
        }
        let compress = p.compressed.as_ref().is_some_and(|c| c.value);
        sink.send_with(
            StreamingOutputCallResponse {
                payload: Some(payload(p.size)?),
            },
            compress,
        )
        .await?;
    }
    Ok(())
}

impl TestService for Interop {
    async fn empty_call(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        Ok(Response::new(Empty {}))
    }

    async fn unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        check_compressed(
            request.get_ref().expect_compressed.as_ref(),
            request.message_compressed(),
        )?;
        let mut headers = aqueduct::MetadataMap::new();
        let mut trailers = aqueduct::MetadataMap::new();
        echo(&request, &mut headers, &mut trailers);
        let req = request.get_ref();
        if let Err(mut status) = requested_status(req.response_status.as_ref()) {
            *status.metadata_mut() = trailers;
            return Err(status);
        }
        let mut response = Response::new(SimpleResponse {
            payload: Some(payload(req.response_size)?),
            ..SimpleResponse::default()
        });
        if req.response_compressed.as_ref().is_some_and(|c| c.value) {
            response = response.with_compression(Encoding::Gzip);
        }
        *response.metadata_mut() = headers;
        *response.trailers_mut() = trailers;
        Ok(response)
    }

    async fn cacheable_unary_call(
        &self,
        request: Request<SimpleRequest>,
    ) -> Result<Response<SimpleResponse>, Status> {
        self.unary_call(request).await
    }

    async fn streaming_output_call(
        &self,
        request: Request<StreamingOutputCallRequest>,
        responses: &mut ServerSink<StreamingOutputCallResponse>,
    ) -> Result<(), Status> {
        echo_sink(&request, responses);
        let req = request.into_inner();
        stream_responses(&req.response_parameters, responses).await?;
        requested_status(req.response_status.as_ref())
    }

    async fn streaming_input_call(
        &self,
        request: Request<Streaming<StreamingInputCallRequest>>,
    ) -> Result<Response<StreamingInputCallResponse>, Status> {
        let mut stream = request.into_inner();
        let mut total: i64 = 0;
        while let Some(msg) = stream.message().await? {
            check_compressed(
                msg.expect_compressed.as_ref(),
                stream.last_message_compressed(),
            )?;
            total += msg.payload.map_or(0, |p| p.body.len() as i64);
        }
        Ok(Response::new(StreamingInputCallResponse {
            aggregated_payload_size: i32::try_from(total).unwrap_or(i32::MAX),
        }))
    }

    async fn full_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
        responses: &mut ServerSink<StreamingOutputCallResponse>,
    ) -> Result<(), Status> {
        echo_sink(&request, responses);
        let mut stream = request.into_inner();
        while let Some(req) = stream.message().await? {
            requested_status(req.response_status.as_ref())?;
            stream_responses(&req.response_parameters, responses).await?;
        }
        Ok(())
    }

    async fn half_duplex_call(
        &self,
        request: Request<Streaming<StreamingOutputCallRequest>>,
        responses: &mut ServerSink<StreamingOutputCallResponse>,
    ) -> Result<(), Status> {
        echo_sink(&request, responses);
        let mut stream = request.into_inner();
        let mut all = Vec::new();
        // Bounded: each message is at most the receive limit, and we cap the count.
        while let Some(req) = stream.message().await? {
            if all.len() >= 1000 {
                return Err(Status::resource_exhausted(
                    "too many requests in one half-duplex call",
                ));
            }
            all.push(req);
        }
        for req in all {
            requested_status(req.response_status.as_ref())?;
            stream_responses(&req.response_parameters, responses).await?;
        }
        Ok(())
    }

    async fn unimplemented_call(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<Empty>, Status> {
        Err(Status::unimplemented(
            "UnimplementedCall is not implemented, on purpose",
        ))
    }
}
