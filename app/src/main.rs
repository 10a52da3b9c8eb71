#[tokio::main]
async fn main() -> std::process::ExitCode {
    cachelens::server::cli::main().await
}
