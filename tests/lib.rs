//! Shared helpers for the end-to-end tests: start the demo stack on loopback and
//! drive the reference agent through it.

use agent::{
    AgentError, ClientCreds, ExchangeRequest, IdJagResponse, SignInOptions, SignedIn, UserCreds,
};
pub use demo::{Demo, DemoInfo};

/// A binary of this workspace (`gatehouse-idp`...), built beside the test.
pub fn binary(name: &str) -> std::path::PathBuf {
    let deps = std::env::current_exe().unwrap();
    let p = deps.parent().unwrap().parent().unwrap().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --bins` first",
        p.display()
    );
    p
}

/// A loopback port free right now (the caller binds it soon after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A typed list query from readable `(name, value)` pairs, parsed the way the
/// server parses a query string (a value outside a closed set fails the test:
/// hostile values go through `AdminClient::get_json` instead).
pub fn query<Q: serde::de::DeserializeOwned>(pairs: &[(&str, String)]) -> Q {
    let s = serde_urlencoded::to_string(pairs).expect("pairs encode");
    serde_urlencoded::from_str(&s).unwrap_or_else(|e| panic!("query `{s}`: {e}"))
}

pub async fn start_demo() -> Demo {
    demo::start(demo::DemoOptions::default())
        .await
        .expect("demo stack starts")
}

pub fn client(info: &DemoInfo, id: &str) -> ClientCreds {
    let c = info.client(id);
    ClientCreds {
        client_id: c.client_id.clone(),
        client_secret: c.client_secret.clone(),
    }
}

pub fn resource_client(info: &DemoInfo, client_id: &str, app: &str) -> ClientCreds {
    let c = info.credential(client_id, app);
    ClientCreds {
        client_id: c.client_id.clone(),
        client_secret: c.client_secret.clone(),
    }
}

pub fn user(info: &DemoInfo, name: &str) -> UserCreds {
    let u = info.user(name);
    UserCreds {
        username: u.username.clone(),
        password: u.password.clone(),
        totp_secret: u.totp_secret.clone(),
    }
}

pub async fn sign_in(info: &DemoInfo, username: &str, client_id: &str, mfa: bool) -> SignedIn {
    let opts = SignInOptions {
        require_mfa: mfa,
        use_totp: mfa,
        extra_scope: None,
    };
    agent::sign_in(
        &agent::http_client(),
        &info.idp,
        &client(info, client_id),
        demo::REDIRECT_URI,
        &user(info, username),
        &opts,
    )
    .await
    .expect("sign-in succeeds")
}

pub async fn exchange(
    info: &DemoInfo,
    client_id: &str,
    id_token: &str,
    app: &str,
    scope: Option<&str>,
) -> Result<IdJagResponse, AgentError> {
    let a = info.app(app);
    agent::exchange(
        &agent::http_client(),
        &info.idp,
        &client(info, client_id),
        id_token,
        &ExchangeRequest {
            audience: &a.issuer,
            resource: Some(&a.mcp),
            scope,
        },
    )
    .await
}

/// The payload of a JWS, unverified (for asserting on what was minted).
pub fn claims(jws: &str) -> serde_json::Value {
    xaa::jws::insecure_peek_payload(jws).expect("a JWS payload")
}

pub fn expect_oauth(r: Result<impl Sized, AgentError>, code: xaa::ErrorCode) -> xaa::OAuthError {
    match r {
        Err(AgentError::OAuth(e)) if e.error == code => e,
        Err(e) => panic!("expected {code:?}, got error {e}"),
        Ok(_) => panic!("expected {code:?}, got success"),
    }
}

/// Signs `username` in through the console's public client and returns an admin
/// API client carrying that session's access token.
pub async fn admin_session(info: &DemoInfo, username: &str, mfa: bool) -> admin_api::AdminClient {
    admin_api::AdminClient::new(&info.idp, admin_token(info, username, mfa).await)
}

/// The access token of a console sign-in (admin client, admin scope) of `username`.
pub async fn admin_token(info: &DemoInfo, username: &str, mfa: bool) -> String {
    let opts = SignInOptions {
        require_mfa: mfa,
        use_totp: mfa,
        extra_scope: Some(admin_api::ADMIN_SCOPE.into()),
    };
    let console = ClientCreds {
        client_id: info.console_client_id.clone(),
        client_secret: String::new(),
    };
    let s = agent::sign_in(
        &agent::http_client(),
        &info.idp,
        &console,
        "http://127.0.0.1:53123/callback",
        &user(info, username),
        &opts,
    )
    .await
    .expect("console sign-in");
    s.access_token
}

/// The login form's anti-forgery binding as the IdP set it: (cookie, form token).
pub async fn login_form_binding(
    http: &reqwest::Client,
    idp: &str,
    params: &[(&str, &str)],
) -> (String, String) {
    let page = http
        .get(format!("{idp}/authorize"))
        .query(params)
        .send()
        .await
        .unwrap();
    let cookie = page
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .expect("the login page sets its form cookie")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let token = html
        .split("name=\"form_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the form carries its token")
        .to_owned();
    (cookie, token)
}

/// Posts the login form as the browser that loaded it would: `fields` are the
/// authorization parameters plus `username`, `password` and maybe `totp`.
pub async fn post_login_form(
    http: &reqwest::Client,
    idp: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let params: Vec<(&str, &str)> = fields
        .iter()
        .copied()
        .filter(|(k, _)| !matches!(*k, "username" | "password" | "totp"))
        .collect();
    let (cookie, token) = login_form_binding(http, idp, &params).await;
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("form_token", &token));
    http.post(format!("{idp}/authorize"))
        .header(reqwest::header::COOKIE, cookie)
        .form(&form)
        .send()
        .await
        .unwrap()
}
/// Load generation for the benchmarks: one request, a closed loop of workers, an
/// open loop at a fixed arrival rate, and percentiles.
pub mod load {
    use std::{
        sync::{
            Arc,
            atomic::{AtomicBool, AtomicU64, Ordering},
        },
        time::{Duration, Instant},
    };

    /// The benchmarks' token exchange: grace signed in at `support-copilot`,
    /// asking for `scope` at the tickets app, ready to send to the demo's IdP.
    pub async fn exchange_target(info: &crate::DemoInfo, scope: &str) -> Target {
        let c = info.client("support-copilot");
        let signed = crate::sign_in(info, "grace", "support-copilot", false).await;
        let app = info.app("tickets");
        Target {
            url: format!("{}/token", info.idp),
            form: vec![
                ("grant_type".into(), xaa::GRANT_TOKEN_EXCHANGE.into()),
                ("requested_token_type".into(), xaa::TOKEN_TYPE_ID_JAG.into()),
                ("subject_token_type".into(), xaa::TOKEN_TYPE_ID_TOKEN.into()),
                ("subject_token".into(), signed.id_token),
                ("audience".into(), app.issuer.clone()),
                ("resource".into(), app.mcp.clone()),
                ("scope".into(), scope.into()),
                ("client_id".into(), c.client_id.clone()),
                ("client_secret".into(), c.client_secret.clone()),
            ],
        }
    }

    /// A form POST to send again and again.
    pub struct Target {
        pub url: String,
        pub form: Vec<(String, String)>,
    }

    pub async fn one(http: &reqwest::Client, t: &Target) -> bool {
        match http.post(&t.url).form(&t.form).send().await {
            Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
            Err(_) => false,
        }
    }

    /// Successful requests per second from `workers` looping for `window`, and the failures.
    pub async fn closed_loop(
        t: Arc<Target>,
        http: reqwest::Client,
        workers: usize,
        window: Duration,
    ) -> (f64, u64) {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..workers {
            let (t, http, stop, ok, failed) = (
                t.clone(),
                http.clone(),
                stop.clone(),
                ok.clone(),
                failed.clone(),
            );
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if one(&http, &t).await {
                        ok.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        tokio::time::sleep(window).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = t.await;
        }
        (
            ok.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64(),
            failed.load(Ordering::Relaxed),
        )
    }

    /// Latencies (sorted) of requests sent at `rate` per second for `window`, and the failures.
    pub async fn open_loop(
        t: Arc<Target>,
        http: reqwest::Client,
        rate: f64,
        window: Duration,
    ) -> (Vec<Duration>, u64) {
        let interval = Duration::from_secs_f64(1.0 / rate);
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let start = Instant::now();
        let mut tasks = Vec::new();
        while start.elapsed() < window {
            ticker.tick().await;
            let (t, http) = (t.clone(), http.clone());
            tasks.push(tokio::spawn(async move {
                let s = Instant::now();
                let ok = one(&http, &t).await;
                (s.elapsed(), ok)
            }));
        }
        let mut lat = Vec::with_capacity(tasks.len());
        let mut failed = 0;
        for t in tasks {
            let (d, ok) = t.await.unwrap();
            if ok {
                lat.push(d);
            } else {
                failed += 1;
            }
        }
        lat.sort();
        (lat, failed)
    }

    /// The `p` percentile of `sorted`, in milliseconds.
    pub fn pct(sorted: &[Duration], p: f64) -> f64 {
        if sorted.is_empty() {
            return f64::NAN;
        }
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[i].as_secs_f64() * 1000.0
    }
}

/// The real `gatehouse-idp serve` on a small world of its own (alice, the
/// `agent` client, the `docs` app, one connection) in a temporary directory:
/// for the tests of the binary itself (logs, backup and restore).
pub mod upstream_oidc;

pub mod idp_process {
    use std::{
        path::{Path, PathBuf},
        process::{Child, Command, Stdio},
        time::Duration,
    };

    pub const PASSWORD: &str = "correct horse battery staple";
    pub const SECRET: &str = "agent-secret-7d1f";
    pub const REDIRECT: &str = "http://127.0.0.1:4000/callback";
    pub const AUDIENCE: &str = "http://127.0.0.1:9";
    pub const RESOURCE: &str = "http://127.0.0.1:9/mcp";

    pub struct SmallIdp {
        pub issuer: String,
        pub config: PathBuf,
        pub database: PathBuf,
    }

    impl SmallIdp {
        /// Writes the config (database `idp.sqlite`) into `dir`.
        pub fn write(dir: &Path) -> SmallIdp {
            let port = crate::free_port();
            let issuer = format!("http://127.0.0.1:{port}");
            let database = dir.join("idp.sqlite");
            let text = format!(
                r#"
issuer = "{issuer}"
listen = "127.0.0.1:{port}"
database = "{db}"

[[users]]
username = "alice"
password_hash = "{hash}"

[[clients]]
client_id = "agent"
name = "Agent"
redirect_uris = ["{REDIRECT}"]
auth = {{ method = "client_secret", secret_sha256 = "{sha}" }}

[[resource_apps]]
id = "docs"
name = "Docs"
issuer = "{AUDIENCE}"
mcp_servers = ["{RESOURCE}"]
scopes = [{{ name = "docs.read", description = "Read", risk = "read" }}]

[[connections]]
client_id = "agent"
resource_app = "docs"
scopes = {{ kind = "all" }}
"#,
                db = database.display(),
                hash = idp::authorize::hash_password(PASSWORD),
                sha = xaa::util::sha256_hex(SECRET.as_bytes()),
            );
            let config = dir.join("idp.toml");
            std::fs::write(&config, text).unwrap();
            SmallIdp {
                issuer,
                config,
                database,
            }
        }

        /// `gatehouse-idp [global args] serve --config …` with `env` added,
        /// stderr to `log`.
        pub fn spawn(&self, global: &[&str], env: &[(&str, &str)], log: &Path) -> Child {
            Command::new(crate::binary("gatehouse-idp"))
                .args(global)
                .args(["serve", "--config"])
                .arg(&self.config)
                .envs(env.iter().copied())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(log).unwrap())
                .spawn()
                .unwrap()
        }

        /// Waits until `/readyz` answers 200 (panics after 10 s).
        pub async fn wait_ready(&self) {
            let http = reqwest::Client::new();
            for _ in 0..400 {
                if let Ok(r) = http.get(format!("{}/readyz", self.issuer)).send().await
                    && r.status() == 200
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("the IdP at {} did not become ready", self.issuer);
        }

        pub fn creds(&self) -> agent::ClientCreds {
            agent::ClientCreds {
                client_id: "agent".into(),
                client_secret: SECRET.into(),
            }
        }

        pub fn alice(&self) -> agent::UserCreds {
            agent::UserCreds {
                username: "alice".into(),
                password: PASSWORD.into(),
                totp_secret: None,
            }
        }

        /// alice signs in at `agent` through the login form.
        pub async fn sign_in(&self) -> agent::SignedIn {
            agent::sign_in(
                &agent::http_client(),
                &self.issuer,
                &self.creds(),
                REDIRECT,
                &self.alice(),
                &Default::default(),
            )
            .await
            .expect("alice signs in")
        }

        /// The token exchange of `id_token` for an ID-JAG to the docs app.
        pub async fn exchange(
            &self,
            id_token: &str,
        ) -> Result<agent::IdJagResponse, agent::AgentError> {
            agent::exchange(
                &agent::http_client(),
                &self.issuer,
                &self.creds(),
                id_token,
                &agent::ExchangeRequest {
                    audience: AUDIENCE,
                    resource: Some(RESOURCE),
                    scope: Some("docs.read"),
                },
            )
            .await
        }
    }
}
