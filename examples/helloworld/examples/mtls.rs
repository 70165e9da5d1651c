//! The Greeter over mutual TLS, with calls authorized by the client's SPIFFE
//! identity; see `helloworld::mtls`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match helloworld::mtls::run().await {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("mtls example: {error}");
            ExitCode::FAILURE
        }
    }
}
