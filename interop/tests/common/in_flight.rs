//! A `FullDuplexCall` kept open across a server's shutdown: the call in
//! flight that graceful shutdown must let finish. Shared by the shutdown tests
//! of `interop-server` and of `aqueduct serve`.

use aqueduct::{BidiCall, CallOptions, Channel, Status};
use interop::pb::test_service_client::TestServiceClient;
use interop::pb::{
    Payload, ResponseParameters, StreamingOutputCallRequest, StreamingOutputCallResponse,
};

/// An open bidi call with at least one exchange done, so the server is
/// running its handler.
pub(crate) struct InFlight(BidiCall<StreamingOutputCallRequest, StreamingOutputCallResponse>);

impl InFlight {
    /// Opens the call and makes one exchange.
    pub(crate) async fn open(channel: &Channel) -> Result<Self, Status> {
        let call = TestServiceClient::new(channel.clone())
            .full_duplex_call(CallOptions::new())
            .await?;
        let mut call = Self(call);
        call.exchange(1).await?;
        Ok(call)
    }

    /// Sends a request for a response of `size` bytes and reads that response.
    pub(crate) async fn exchange(&mut self, size: i32) -> Result<(), Status> {
        self.0
            .requests
            .send(StreamingOutputCallRequest {
                response_parameters: vec![ResponseParameters {
                    size,
                    ..ResponseParameters::default()
                }],
                payload: Some(Payload::default()),
                ..StreamingOutputCallRequest::default()
            })
            .await?;
        let response = self.0.responses.message().await?;
        let got = response.and_then(|r| r.payload).map(|p| p.body.len());
        if got == usize::try_from(size).ok() {
            Ok(())
        } else {
            Err(Status::internal(format!(
                "asked for {size} bytes, got {got:?}"
            )))
        }
    }

    /// Ends the requests and waits for the call's end: `Ok` if the server
    /// finished it with status OK.
    pub(crate) async fn finish(mut self) -> Result<(), Status> {
        self.0.requests.close();
        match self.0.responses.message().await? {
            None => Ok(()),
            Some(_) => Err(Status::internal("a response after the requests ended")),
        }
    }
}
