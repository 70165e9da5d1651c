//! The chat example: chat rooms over the broadcast hub. `Join` is a
//! server-streaming call that subscribes to a room; `Send` is a unary call
//! that publishes to it. With a NATS server, several replicas of the chat
//! server share their rooms: a message sent to any replica reaches the room's
//! members on all of them.
//!
//! `README.md` (next to this crate's `Cargo.toml`) has the commands that run
//! two replicas and talk across them.

use aqueduct::{Request, Response, ServerSink, Status};
use aqueduct_broadcast::{Delivery, Hub, LagPolicy, SubscribeOptions, async_nats};

/// Generated messages, server and client for `chat.v1`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod pb {
    aqueduct::include_proto!("chat.v1");
}

use pb::chat_service_server::{ChatService, ChatServiceServer};
use pb::join_response::Event;
use pb::*;

/// Longest room name, in bytes.
pub const MAX_ROOM: usize = 64;
/// Longest user name, in bytes.
pub const MAX_USER: usize = 32;
/// Longest message text, in bytes.
pub const MAX_TEXT: usize = 4096;
/// Messages a member's queue holds before the oldest are dropped (the member
/// is told how many it missed).
pub const MEMBER_QUEUE: usize = 256;
/// The NATS subjects the replicas share: `chat.rooms.k.<room>`.
pub const NATS_PREFIX: &str = "chat.rooms";

/// The chat service: one per server replica.
#[derive(Debug)]
pub struct ChatRooms {
    hub: Hub<String, ChatMessage>,
    replica: String,
}

impl ChatRooms {
    /// Rooms in this process only.
    #[must_use]
    pub fn local(replica: impl Into<String>) -> Self {
        Self {
            hub: Hub::new(),
            replica: replica.into(),
        }
    }

    /// Rooms shared with every replica connected to the NATS server at `url`.
    ///
    /// # Errors
    ///
    /// `UNAVAILABLE` when the NATS server cannot be reached.
    pub async fn joined(url: &str, replica: impl Into<String>) -> Result<Self, Status> {
        let client = async_nats::connect(url)
            .await
            .map_err(|error| Status::unavailable(format!("cannot reach NATS at {url}: {error}")))?;
        Ok(Self {
            hub: Hub::with_nats(client, NATS_PREFIX).await?,
            replica: replica.into(),
        })
    }

    /// The hub behind the rooms (to shut it down, or read its counts).
    #[must_use]
    pub fn hub(&self) -> &Hub<String, ChatMessage> {
        &self.hub
    }

    /// The service to mount: `Server::builder().add_service(rooms.service())`.
    #[must_use]
    pub fn service(self) -> ChatServiceServer<ChatRooms> {
        ChatServiceServer::new(self)
    }
}

/// `INVALID_ARGUMENT` unless `value` is 1 to `max` bytes.
fn check(what: &str, value: &str, max: usize) -> Result<(), Status> {
    if value.is_empty() || value.len() > max {
        return Err(Status::invalid_argument(format!(
            "{what} must be 1 to {max} bytes, not {}",
            value.len()
        )));
    }
    Ok(())
}

impl ChatService for ChatRooms {
    async fn join(
        &self,
        request: Request<JoinRequest>,
        responses: &mut ServerSink<JoinResponse>,
    ) -> Result<(), Status> {
        let room = request.into_inner().room;
        check("room", &room, MAX_ROOM)?;
        let options = SubscribeOptions {
            capacity: MEMBER_QUEUE,
            policy: LagPolicy::DropOldest,
        };
        let mut member = self.hub.subscribe(room.clone(), options).await?;
        let joined = Joined {
            room,
            replica: self.replica.clone(),
        };
        responses.send(event(Event::Joined(joined))).await?;
        // Until the client goes away (this future is dropped, and with it the
        // subscription) or the hub shuts down (its status ends the call).
        loop {
            let next = match member.recv().await? {
                Delivery::Message(message) => Event::Message(message),
                Delivery::Missed(n) => Event::Missed(n),
            };
            if responses.send(event(next)).await.is_err() {
                return Ok(());
            }
        }
    }

    async fn send(&self, request: Request<SendRequest>) -> Result<Response<SendResponse>, Status> {
        let SendRequest { room, user, text } = request.into_inner();
        check("room", &room, MAX_ROOM)?;
        check("user", &user, MAX_USER)?;
        check("text", &text, MAX_TEXT)?;
        let message = ChatMessage {
            room: room.clone(),
            user,
            text,
            replica: self.replica.clone(),
        };
        self.hub.publish(room, message).await?;
        Ok(Response::new(SendResponse {}))
    }
}

fn event(event: Event) -> JoinResponse {
    JoinResponse { event: Some(event) }
}

/// One line of a joined room, as `chat-client` prints it.
#[must_use]
pub fn describe(response: &JoinResponse) -> String {
    match &response.event {
        Some(Event::Joined(joined)) => {
            format!("joined {} on replica {}", joined.room, joined.replica)
        }
        Some(Event::Message(m)) => {
            format!("[{}] {}: {} (via {})", m.room, m.user, m.text, m.replica)
        }
        Some(Event::Missed(n)) => format!("(missed {n} messages)"),
        None => "(an event this client does not know)".to_owned(),
    }
}
