//! Interceptors and rich error details in one process; see
//! `helloworld::intercepted`.

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    for line in helloworld::intercepted::run().await? {
        println!("{line}");
    }
    Ok(())
}
