//! `gatehouse-demo`: the IdP, resource authorization servers and MCP servers in one
//! process with a seeded world. Prints one JSON line on stdout when ready (the
//! contract scripts and the console rely on); logs go to stderr.

use clap::Parser;
use std::{io::Write, path::PathBuf, process::ExitCode};

/// mimalloc, as in `gatehouse-idp` (see there).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "gatehouse-demo",
    version,
    about = "Gatehouse demo stack: IdP + resource AS + MCP servers"
)]
struct Cli {
    /// The IdP's listen address; `127.0.0.1:0` picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Keep the SQLite database in this directory (else a temporary one).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The IdP's database instead of a SQLite file: `sqlite://PATH` or
    /// `postgres://USER@HOST:PORT/DB` (seeded if empty).
    #[arg(long)]
    database_url: Option<String>,
    /// Write the IdP's configuration here once the world is seeded, so more
    /// `gatehouse-idp serve` nodes can join it on the same database
    /// (`scripts/cluster.sh`).
    #[arg(long, value_name = "FILE")]
    idp_config_out: Option<PathBuf>,
    /// Run a simulated agent fleet: one exchange every this many milliseconds
    /// (granted ones are usage, refused ones grow the pending queue).
    #[arg(long, value_name = "MS")]
    fleet: Option<u64>,
    /// Seed 90 days of history (hundreds of people, two dozen AI clients, a
    /// dozen apps, usage, decisions, a pending queue of every age), the same
    /// for the same seed.
    #[arg(long, value_name = "SEED", num_args = 0..=1, default_missing_value = "1")]
    history: Option<u64>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let demo = match demo::start(demo::DemoOptions {
        listen: cli.listen,
        data_dir: cli.data,
        database_url: cli.database_url,
        ..Default::default()
    })
    .await
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("gatehouse-demo: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(seed) = cli.history {
        let started = std::time::Instant::now();
        match demo::history::seed(&demo, seed).await {
            Ok(h) => tracing::info!(
                people = h.people,
                clients = h.clients,
                connections = h.connections,
                exchanges = h.exchanges,
                took_ms = started.elapsed().as_millis() as u64,
                "90 days of history seeded"
            ),
            Err(e) => {
                eprintln!("gatehouse-demo: seeding the history failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(path) = &cli.idp_config_out {
        let written = toml::to_string(&demo.idp.config)
            .map_err(|e| e.to_string())
            .and_then(|t| std::fs::write(path, t).map_err(|e| e.to_string()));
        if let Err(e) = written {
            eprintln!(
                "gatehouse-demo: cannot write the IdP config to {}: {e}",
                path.display()
            );
            return ExitCode::FAILURE;
        }
    }
    let line = serde_json::to_string(&demo.info).expect("demo info serializes");
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    tracing::info!(idp = %demo.info.idp, data = %demo.data_dir.display(), "demo stack ready; Ctrl-C to stop");
    if let Some(ms) = cli.fleet {
        tokio::spawn(demo::fleet::run(
            demo.info.clone(),
            std::time::Duration::from_millis(ms.max(10)),
            None,
        ));
    }
    idp::server::stop_requested().await;
    idp::server::stopping(&demo.idp).await;
    ExitCode::SUCCESS
}
