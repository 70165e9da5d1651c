//! Interceptors and rich error details in one process; see
//! `helloworld::intercepted`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match helloworld::intercepted::run().await {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("interceptors example: {error}");
            ExitCode::FAILURE
        }
    }
}
