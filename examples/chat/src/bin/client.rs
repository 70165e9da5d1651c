//! Talks to a chat server.
//!
//! ```text
//! chat-client ADDRESS join ROOM              prints the room until Ctrl-C
//! chat-client ADDRESS send ROOM USER TEXT... posts one message
//! ```
//!
//! ADDRESS is `HOST:PORT` or an `http://` URL.

use aqueduct::Channel;
use chat::pb::chat_service_client::ChatServiceClient;
use chat::pb::{JoinRequest, SendRequest};

const USAGE: &str =
    "usage: chat-client ADDRESS join ROOM | chat-client ADDRESS send ROOM USER TEXT...";

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("chat-client: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let [address, verb, room, rest @ ..] = args else {
        return Err(USAGE.into());
    };
    let uri = if address.contains("://") {
        address.clone()
    } else {
        format!("http://{address}")
    };
    let client = ChatServiceClient::new(Channel::from_uri(&uri)?);
    match (verb.as_str(), rest) {
        ("join", []) => {
            let mut stream = client.join(JoinRequest { room: room.clone() }).await?;
            while let Some(response) = stream.message().await? {
                println!("{}", chat::describe(&response));
            }
        }
        ("send", [user, text @ ..]) if !text.is_empty() => {
            let request = SendRequest {
                room: room.clone(),
                user: user.clone(),
                text: text.join(" "),
            };
            client.send(request).await?;
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}
