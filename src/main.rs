use clap::Parser;
use coffee_radar::config::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    coffee_radar::ops::logging::init(cli.common.log_format);
    coffee_radar::memory::give_back_large_blocks();
    match coffee_radar::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
