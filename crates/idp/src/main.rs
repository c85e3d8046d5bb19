//! `gatehouse-idp`: run the reference IdP from a TOML config, check such a
//! config without starting anything, or hash a password for it.

use clap::{Parser, Subcommand};
use std::{io::Read, path::PathBuf, process::ExitCode};

#[derive(Parser)]
#[command(
    name = "gatehouse-idp",
    version,
    about = "The Gatehouse reference IdP (OIDC + XAA token exchange)"
)]
struct Cli {
    /// `text` for a terminal, `json` for a log pipeline: one JSON object per
    /// line, with the request's id in its span.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the IdP.
    Serve {
        #[arg(long)]
        config: PathBuf,
        /// Overrides `listen` from the config.
        #[arg(long)]
        listen: Option<String>,
        /// Overrides `metrics_listen` from the config: where `/metrics` is served.
        #[arg(long)]
        metrics_listen: Option<String>,
        /// Overrides `database` from the config: `sqlite://PATH` or
        /// `postgres://USER@HOST:PORT/DB` (nodes sharing one PostgreSQL share
        /// its state and signing keys).
        #[arg(long, env = "GATEHOUSE_DATABASE_URL")]
        database_url: Option<String>,
    },
    /// Read a password on stdin and print its argon2id hash for the config file.
    HashPassword,
    /// Check a config file without starting anything: every problem as
    /// `FILE:LINE: message`; exit status 1 when there is one.
    CheckConfig {
        #[arg(long)]
        config: PathBuf,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    match cli.command {
        Command::CheckConfig { config } => {
            let text = match std::fs::read_to_string(&config) {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("{}: cannot read: {e}", config.display());
                    return ExitCode::from(2);
                }
            };
            let problems = idp::config::check(&text);
            for p in &problems {
                println!("{}:{}: {}", config.display(), p.line, p.message);
            }
            if problems.is_empty() {
                println!("{}: no problems", config.display());
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Command::HashPassword => {
            let mut pw = String::new();
            if std::io::stdin().read_to_string(&mut pw).is_err() {
                eprintln!("could not read the password from stdin");
                return ExitCode::FAILURE;
            }
            println!(
                "{}",
                idp::authorize::hash_password(pw.trim_end_matches(['\n', '\r']))
            );
            ExitCode::SUCCESS
        }
        Command::Serve {
            config,
            listen,
            metrics_listen,
            database_url,
        } => {
            let mut cfg = match idp::Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("gatehouse-idp: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Some(l) = listen {
                cfg.listen = l;
            }
            if metrics_listen.is_some() {
                cfg.metrics_listen = metrics_listen;
            }
            if let Some(url) = database_url {
                cfg.database = idp::config::Database::Url { url };
            }
            let listener = match idp::server::bind(&cfg.listen).await {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("gatehouse-idp: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let metrics_listener = match &cfg.metrics_listen {
                None => None,
                Some(addr) => match idp::server::bind(addr).await {
                    Ok(l) => Some(l),
                    Err(e) => {
                        eprintln!("gatehouse-idp: metrics: {e}");
                        return ExitCode::FAILURE;
                    }
                },
            };
            let issuer = cfg.issuer.clone();
            let state = match idp::server::build(cfg).await {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("gatehouse-idp: {e}");
                    return ExitCode::FAILURE;
                }
            };
            tracing::info!(%issuer, addr = %listener.local_addr().map(|a| a.to_string()).unwrap_or_default(), "serving");
            if let Some(l) = metrics_listener {
                let addr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
                tracing::info!(%addr, "serving /metrics");
                tokio::spawn(idp::server::serve_metrics(state.clone(), l));
            }
            if let Err(e) = idp::server::serve(state, listener).await {
                eprintln!("gatehouse-idp: {e}");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
    }
}
