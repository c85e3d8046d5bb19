//! `gatehouse-agent`: the reference AI app on the command line. Prints each step
//! of the XAA flow with its timing on stderr, the tool's result on stdout.
//!
//! Exit codes: 0 success; 2 denied by policy (a pending request was recorded);
//! 3 step-up needed; 4 no allowed scope; 1 any other error.

use agent::{AgentError, ClientCreds, ExchangeRequest, SignInOptions, UserCreds};
use clap::{Args, Parser, Subcommand};
use std::{process::ExitCode, time::Instant};
use xaa::ErrorCode;

#[derive(Parser)]
#[command(
    name = "gatehouse-agent",
    version,
    about = "The Gatehouse reference AI app (XAA client)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Common {
    /// The IdP's issuer URL.
    #[arg(long)]
    idp: String,
    #[arg(long)]
    client_id: String,
    #[arg(long, env = "GATEHOUSE_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
    #[arg(long, default_value = "http://127.0.0.1/callback")]
    redirect_uri: String,
    #[arg(long)]
    username: String,
    #[arg(long, env = "GATEHOUSE_PASSWORD", hide_env_values = true)]
    password: String,
    /// Base32 TOTP secret; used when MFA is asked for or --mfa is given.
    #[arg(long, env = "GATEHOUSE_TOTP_SECRET", hide_env_values = true)]
    totp_secret: Option<String>,
    /// Sign in with MFA (acr_values=urn:gatehouse:acr:mfa).
    #[arg(long)]
    mfa: bool,
    /// The resource authorization server's issuer (the exchange's audience).
    #[arg(long)]
    audience: String,
    #[arg(long)]
    scope: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in, exchange, redeem and call an MCP tool.
    Run {
        #[command(flatten)]
        common: Common,
        /// The MCP server URL (also sent as `resource`).
        #[arg(long)]
        resource: String,
        #[arg(long)]
        resource_client_id: String,
        #[arg(long, env = "GATEHOUSE_RESOURCE_CLIENT_SECRET", hide_env_values = true)]
        resource_client_secret: String,
        #[arg(long, default_value = "whoami")]
        tool: String,
        /// Tool arguments as a JSON object.
        #[arg(long, default_value = "{}")]
        args: String,
    },
    /// Sign in and file a connection request with a justification.
    Request {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        justification: String,
    },
}

fn step(name: &str, started: Instant) {
    eprintln!(
        "  ✓ {name:<28} {:>8.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
}

fn fail(name: &str, e: &AgentError) -> ExitCode {
    eprintln!("  ✗ {name}: {e}");
    match e.oauth().map(|o| o.error) {
        Some(ErrorCode::AccessDenied) => ExitCode::from(2),
        Some(ErrorCode::InsufficientUserAuthentication) => {
            if let Some(o) = e.oauth() {
                eprintln!(
                    "    step-up needed: acr_values={} max_age={}",
                    o.acr_values.as_deref().unwrap_or("-"),
                    o.max_age
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| "-".into())
                );
            }
            ExitCode::from(3)
        }
        Some(ErrorCode::InvalidScope) => ExitCode::from(4),
        _ => ExitCode::from(1),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let http = agent::http_client();
    let common = match &cli.command {
        Command::Run { common, .. } | Command::Request { common, .. } => common.clone(),
    };
    let client = ClientCreds {
        client_id: common.client_id.clone(),
        client_secret: common.client_secret.clone(),
    };
    let user = UserCreds {
        username: common.username.clone(),
        password: common.password.clone(),
        totp_secret: common.totp_secret.clone(),
    };
    let opts = SignInOptions {
        require_mfa: common.mfa,
        use_totp: common.mfa,
        extra_scope: None,
    };
    let total = Instant::now();
    let t = Instant::now();
    let signed = match agent::sign_in(
        &http,
        &common.idp,
        &client,
        &common.redirect_uri,
        &user,
        &opts,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return fail("sign in", &e),
    };
    step(&format!("sign in as {}", user.username), t);
    match cli.command {
        Command::Request { justification, .. } => {
            let t = Instant::now();
            match agent::file_request(
                &http,
                &common.idp,
                &client,
                &common.audience,
                common.scope.as_deref(),
                &justification,
                Some(&signed.id_token),
            )
            .await
            {
                Ok(v) => {
                    step("file connection request", t);
                    println!("{v}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail("file connection request", &e),
            }
        }
        Command::Run {
            resource,
            resource_client_id,
            resource_client_secret,
            tool,
            args,
            ..
        } => {
            let args: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(&args)
            {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("--args must be a JSON object: {e}");
                    return ExitCode::from(1);
                }
            };
            let t = Instant::now();
            let req = ExchangeRequest {
                audience: &common.audience,
                resource: Some(&resource),
                scope: common.scope.as_deref(),
            };
            let jag =
                match agent::exchange(&http, &common.idp, &client, &signed.id_token, &req).await {
                    Ok(j) => j,
                    Err(e) => return fail("token exchange (ID-JAG)", &e),
                };
            step("token exchange (ID-JAG)", t);
            if let Some(s) = &jag.scope {
                eprintln!("    granted scope: {s}");
            }
            let t = Instant::now();
            let rc = ClientCreds {
                client_id: resource_client_id,
                client_secret: resource_client_secret,
            };
            let at =
                match agent::redeem(&http, &common.audience, &rc, &jag.access_token, None).await {
                    Ok(a) => a,
                    Err(e) => return fail("redeem at resource AS", &e),
                };
            step("redeem at resource AS", t);
            let t = Instant::now();
            match agent::call_tool(&resource, &at.access_token, &tool, args).await {
                Ok(out) if !out.is_error => {
                    step(&format!("MCP tool {tool}"), t);
                    eprintln!("  total {:.1} ms", total.elapsed().as_secs_f64() * 1000.0);
                    println!("{}", out.text);
                    ExitCode::SUCCESS
                }
                Ok(out) => {
                    eprintln!("  ✗ MCP tool {tool}: {}", out.text);
                    ExitCode::from(1)
                }
                Err(e) => fail(&format!("MCP tool {tool}"), &e),
            }
        }
    }
}
