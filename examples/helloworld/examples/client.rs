//! Calls each Greeter method once against 127.0.0.1:50051 (or the given port).

use aqueduct::Channel;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = std::env::args().nth(1).unwrap_or_else(|| "50051".into());
    let channel = Channel::from_uri(&format!("http://127.0.0.1:{port}"))?;
    for line in helloworld::run_client(channel).await? {
        println!("{line}");
    }
    Ok(())
}
