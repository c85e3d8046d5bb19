//! `gatehouse-agent`: the reference AI app on the command line. Prints each step
//! of the XAA flow with its timing on stderr, the tool's result on stdout.
//!
//! Exit codes: 0 success; 2 denied by policy (a pending request was recorded);
//! 3 step-up needed; 4 no allowed scope; 1 any other error.

use agent::{
    AgentError, ClientCreds, ExchangeRequest, SignInOptions, SignedIn, UserCreds,
    demo_line::{DemoClient, DemoLine},
};
use clap::{Args, Parser, Subcommand};
use std::{path::PathBuf, process::ExitCode, time::Instant};
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
    /// The demo stack's JSON line (`./scripts/demo.sh --stack > FILE`): the IdP,
    /// the client's secrets and the user's password are read from it.
    #[arg(long, value_name = "FILE")]
    demo: Option<PathBuf>,
    /// The IdP's issuer URL (from --demo when not given).
    #[arg(long)]
    idp: Option<String>,
    #[arg(long)]
    client_id: String,
    #[arg(long, env = "GATEHOUSE_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,
    #[arg(long)]
    redirect_uri: Option<String>,
    /// The person's ID token from the company's IdP, in a file (the environment
    /// variable GATEHOUSE_ID_TOKEN works too; never a command-line value, which
    /// other users of the machine could read). With one, the agent does not sign in.
    #[arg(long, value_name = "FILE")]
    id_token_file: Option<PathBuf>,
    /// Who signs in through the login form (when no ID token is given).
    #[arg(long)]
    username: Option<String>,
    #[arg(long, env = "GATEHOUSE_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Base32 TOTP secret; used when MFA is asked for or --mfa is given.
    #[arg(long, env = "GATEHOUSE_TOTP_SECRET", hide_env_values = true)]
    totp_secret: Option<String>,
    /// Sign in with MFA (acr_values=urn:gatehouse:acr:mfa).
    #[arg(long)]
    mfa: bool,
    /// The resource authorization server's issuer (the exchange's audience);
    /// discovered from --resource when not given.
    #[arg(long)]
    audience: Option<String>,
    #[arg(long)]
    scope: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in (or take an ID token), exchange, redeem and call an MCP tool.
    Run {
        #[command(flatten)]
        common: Common,
        /// The MCP server URL (also sent as `resource`); its authorization
        /// server is discovered from it (RFC 9728, RFC 8414). With --demo, the
        /// demo's first MCP server when not given.
        #[arg(long)]
        resource: Option<String>,
        #[arg(long)]
        resource_client_id: Option<String>,
        #[arg(long, env = "GATEHOUSE_RESOURCE_CLIENT_SECRET", hide_env_values = true)]
        resource_client_secret: Option<String>,
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

/// A setting from its flag, else from the demo line, else a clear error.
fn need<T>(v: Option<T>, what: &str) -> Result<T, AgentError> {
    v.ok_or_else(|| AgentError::Protocol(format!("{what} is needed (or --demo FILE)")))
}

/// The person's ID token, when the caller already holds one.
fn given_id_token(common: &Common) -> Result<Option<String>, AgentError> {
    if let Some(path) = &common.id_token_file {
        let t = std::fs::read_to_string(path).map_err(|e| {
            AgentError::Protocol(format!(
                "cannot read the ID token file {}: {e}",
                path.display()
            ))
        })?;
        return Ok(Some(t.trim().to_owned()));
    }
    Ok(std::env::var("GATEHOUSE_ID_TOKEN")
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty()))
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
    let demo = match common.demo.as_deref().map(std::fs::read_to_string) {
        None => None,
        Some(Ok(text)) => match DemoLine::parse(&text) {
            Ok(d) => Some(d),
            Err(e) => return fail("read --demo", &e),
        },
        Some(Err(e)) => {
            eprintln!("  ✗ read --demo: {e}");
            return ExitCode::from(1);
        }
    };
    let demo_client = match demo
        .as_ref()
        .map(|d| d.client(&common.client_id))
        .transpose()
    {
        Ok(c) => c,
        Err(e) => return fail("read --demo", &e),
    };
    let idp = match need(
        common.idp.clone().or(demo.as_ref().map(|d| d.idp.clone())),
        "--idp",
    ) {
        Ok(i) => i,
        Err(e) => return fail("settings", &e),
    };
    let client = match need(
        common
            .client_secret
            .clone()
            .or(demo_client.map(|c| c.client_secret.clone())),
        "--client-secret",
    ) {
        Ok(secret) => ClientCreds {
            client_id: common.client_id.clone(),
            client_secret: secret,
        },
        Err(e) => return fail("settings", &e),
    };
    let total = Instant::now();
    let id_token = match given_id_token(&common) {
        Ok(Some(t)) => {
            eprintln!("  ✓ ID token given (no sign-in)");
            t
        }
        Ok(None) => {
            let t = Instant::now();
            let signed =
                match sign_in(&http, &idp, &client, &common, demo.as_ref(), demo_client).await {
                    Ok(s) => s,
                    Err(e) => return fail("sign in", &e),
                };
            step(
                &format!("sign in as {}", common.username.as_deref().unwrap_or("")),
                t,
            );
            signed.id_token
        }
        Err(e) => return fail("ID token", &e),
    };
    match cli.command {
        Command::Request { justification, .. } => {
            let audience = match need(common.audience.clone(), "--audience") {
                Ok(a) => a,
                Err(e) => return fail("settings", &e),
            };
            let t = Instant::now();
            match agent::file_request(
                &http,
                &idp,
                &client,
                &audience,
                common.scope.as_deref(),
                &justification,
                Some(&id_token),
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
            let resource = match need(
                resource.or(demo.as_ref().and_then(|d| d.mcp.clone())),
                "--resource",
            ) {
                Ok(r) => r,
                Err(e) => return fail("settings", &e),
            };
            // The audience and token endpoint: discovered from the MCP URL
            // unless --audience names the authorization server.
            let t = Instant::now();
            let (audience, token_endpoint) = match &common.audience {
                Some(a) => (a.clone(), format!("{a}/token")),
                None => match agent::discover::discover(&http, &resource).await {
                    Ok(d) => {
                        step("discovery (RFC 9728, 8414)", t);
                        eprintln!("    authorization server: {}", d.issuer);
                        (d.issuer, d.token_endpoint)
                    }
                    Err(e) => return fail("discovery", &e),
                },
            };
            let t = Instant::now();
            let req = ExchangeRequest {
                audience: &audience,
                resource: Some(&resource),
                scope: common.scope.as_deref(),
            };
            let jag = match agent::exchange(&http, &idp, &client, &id_token, &req).await {
                Ok(j) => j,
                Err(e) => return fail("token exchange (ID-JAG)", &e),
            };
            step("token exchange (ID-JAG)", t);
            if let Some(s) = &jag.scope {
                eprintln!("    granted scope: {s}");
            }
            let t = Instant::now();
            let at_demo = demo_client.and_then(|c| c.at(&audience));
            let rc = match (
                need(
                    resource_client_id.or(at_demo.map(|c| c.client_id.clone())),
                    "--resource-client-id",
                ),
                need(
                    resource_client_secret.or(at_demo.map(|c| c.client_secret.clone())),
                    "--resource-client-secret",
                ),
            ) {
                (Ok(client_id), Ok(client_secret)) => ClientCreds {
                    client_id,
                    client_secret,
                },
                (Err(e), _) | (_, Err(e)) => return fail("settings", &e),
            };
            let at = match agent::redeem_at(&http, &token_endpoint, &rc, &jag.access_token, None)
                .await
            {
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

/// Signs the user in through the IdP's login form (the demo path: a real AI app
/// holds the person's ID token already and passes it with --id-token-file).
async fn sign_in(
    http: &reqwest::Client,
    idp: &str,
    client: &ClientCreds,
    common: &Common,
    demo: Option<&DemoLine>,
    demo_client: Option<&DemoClient>,
) -> Result<SignedIn, AgentError> {
    let username = need(common.username.clone(), "--username (or an ID token)")?;
    let demo_user = demo.map(|d| d.user(&username)).transpose()?;
    let user = UserCreds {
        username,
        password: need(
            common
                .password
                .clone()
                .or(demo_user.map(|u| u.password.clone())),
            "--password",
        )?,
        totp_secret: common
            .totp_secret
            .clone()
            .or(demo_user.and_then(|u| u.totp_secret.clone())),
    };
    let redirect_uri = common
        .redirect_uri
        .clone()
        .or(demo_client.map(|c| c.redirect_uri.clone()))
        .unwrap_or_else(|| "http://127.0.0.1/callback".into());
    let opts = SignInOptions {
        require_mfa: common.mfa,
        use_totp: common.mfa,
        extra_scope: None,
    };
    agent::sign_in(http, idp, client, &redirect_uri, &user, &opts).await
}
