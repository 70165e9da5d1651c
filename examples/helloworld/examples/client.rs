//! Calls each Greeter method once against 127.0.0.1:50051 (or the given port).
//!
//! The channel connects before the first call (`connect`, so a server that is
//! not there is reported at once, naming the address) and gives every call a
//! 5 s deadline (`timeout`).

use std::process::ExitCode;
use std::time::Duration;

use aqueduct::Channel;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("helloworld client: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let port = std::env::args().nth(1).unwrap_or_else(|| "50051".into());
    let uri = format!("http://127.0.0.1:{port}");
    let channel = Channel::builder(&uri)
        .map_err(|e| e.to_string())?
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|status| status.message().to_owned())?;
    let lines = helloworld::run_client(channel)
        .await
        .map_err(|status| format!("calling the Greeter at {uri}: {status}"))?;
    for line in lines {
        println!("{line}");
    }
    Ok(())
}
