//! The revocation outbox survives a `kill -9` of the IdP between the committed
//! revoke and its delivery: after a restart on the same database, the Security
//! Event Token reaches the resource app's receiver. Runs the real `gatehouse-idp`
//! binary (built by `cargo build --bins`, as `scripts/test.sh` does first).

use axum::{Router, body::Bytes, http::StatusCode, routing::post};
use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

fn binary(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let p = deps.parent().unwrap().parent().unwrap().join(name);
    assert!(
        p.exists(),
        "{} is missing: run `cargo build --bins` first",
        p.display()
    );
    p
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Idp(Child);

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_idp(config: &std::path::Path, issuer: &str) -> Idp {
    let idp = Idp(Command::new(binary("gatehouse-idp"))
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http.get(format!("{issuer}/jwks")).send().await.is_ok() {
            return idp;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the IdP did not start");
}

#[tokio::test]
async fn a_revocation_committed_before_a_kill_9_is_delivered_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let idp_port = free_port();
    let receiver_port = free_port(); // nothing listens here until after the crash
    let issuer = format!("http://127.0.0.1:{idp_port}");
    let password = "correct horse battery staple";
    let config = format!(
        r#"
issuer = "{issuer}"
listen = "127.0.0.1:{idp_port}"
database = "{db}"

[roles]
helpdesk = ["it-helpdesk"]

[[users]]
username = "dave"
password_hash = "{hash}"
groups = ["it-helpdesk"]

[[clients]]
client_id = "gatehouse-console"
name = "Console"
redirect_uris = ["http://127.0.0.1/callback"]
auth = {{ method = "none" }}
admin = true

[[clients]]
client_id = "agent"
name = "Agent"
auth = {{ method = "client_secret", secret_sha256 = "{secret}" }}

[[resource_apps]]
id = "docs"
name = "Docs"
issuer = "http://127.0.0.1:{receiver_port}"
mcp_servers = ["http://127.0.0.1:{receiver_port}/mcp"]
receivers = ["http://127.0.0.1:{receiver_port}/revocation-events"]
scopes = [{{ name = "docs.read", description = "Read", risk = "read" }}]

[[connections]]
client_id = "agent"
resource_app = "docs"
scopes = {{ kind = "all" }}
"#,
        db = dir.path().join("idp.sqlite").display(),
        hash = idp::authorize::hash_password(password),
        secret = xaa::util::sha256_hex(b"agent-secret"),
    );
    let config_path = dir.path().join("idp.toml");
    std::fs::write(&config_path, config).unwrap();

    let mut idp = start_idp(&config_path, &issuer).await;
    let console = agent::ClientCreds {
        client_id: "gatehouse-console".into(),
        client_secret: String::new(),
    };
    let user = agent::UserCreds {
        username: "dave".into(),
        password: password.into(),
        totp_secret: None,
    };
    let s = agent::sign_in(
        &agent::http_client(),
        &issuer,
        &console,
        "http://127.0.0.1:4000/callback",
        &user,
        &agent::SignInOptions {
            extra_scope: Some(admin_api::ADMIN_SCOPE.into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let admin = admin_api::AdminClient::new(&issuer, s.access_token);
    let conn = admin.list_connections(&[]).await.unwrap().items.remove(0);
    let etag = admin.get_connection(&conn.id).await.unwrap().etag;
    let revoked = admin
        .connection_action(
            &conn.id,
            "revoke",
            "compromised",
            &admin_api::client::Mutation {
                if_match: Some(&etag),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(revoked.status, admin_api::ConnectionStatus::Revoked);
    assert_eq!(
        revoked.receipts[0].status,
        admin_api::ReceiptStatus::Pending
    );

    // kill -9: no graceful shutdown, nothing flushed beyond what was committed.
    Command::new("kill")
        .args(["-9", &idp.0.id().to_string()])
        .status()
        .unwrap();
    let _ = idp.0.wait();

    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = received.clone();
    let app = Router::new().route(
        "/revocation-events",
        post(move |b: Bytes| {
            let sink = sink.clone();
            async move {
                sink.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&b).into_owned());
                StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", receiver_port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let _idp = start_idp(&config_path, &issuer).await;
    let mut delivered = None;
    for _ in 0..200 {
        if let Some(set) = received.lock().unwrap().first().cloned() {
            delivered = Some(set);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let set = delivered.expect("the SET was delivered after the restart");
    let claims = xaa::jws::insecure_peek_payload(&set).unwrap();
    assert_eq!(claims["iss"], issuer.as_str());
    let event = &claims["events"][xaa::EVENT_CONNECTION_REVOKED];
    assert_eq!(event["subject"]["fields"]["client"]["id"], "agent");
    assert_eq!(event["connection_id"], conn.id.as_str());
    let header: serde_json::Value =
        serde_json::from_slice(&xaa::util::b64_decode(set.split('.').next().unwrap()).unwrap())
            .unwrap();
    assert_eq!(header["typ"], xaa::TYP_SET);
    // The receipt turns delivered, with a latency that includes the downtime.
    let mut receipt = None;
    for _ in 0..100 {
        let c = admin.get_connection(&conn.id).await.unwrap().value;
        if c.receipts[0].status == admin_api::ReceiptStatus::Delivered {
            receipt = Some(c.receipts[0].clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let receipt = receipt.expect("receipt delivered");
    // Whether the dead receiver was tried before the kill or not, delivery came
    // from the restarted process reading the durable outbox.
    assert!(
        receipt.attempts >= 1 && receipt.last_error.is_none(),
        "{receipt:?}"
    );
    assert_eq!(received.lock().unwrap().len(), 1, "delivered once");
}

/// Undoes `read_only` when dropped, so a failed assertion leaves no immutable files.
struct ReadOnly(Vec<PathBuf>);

impl ReadOnly {
    /// Makes `dir` and everything in it unwritable: `chattr +i` as root (who
    /// ignores permission bits), `chmod a-w` otherwise.
    fn apply(dir: &std::path::Path) -> Self {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        paths.push(dir.to_owned());
        for p in &paths {
            let ok = if is_root() {
                Command::new("chattr")
                    .arg("+i")
                    .arg(p)
                    .status()
                    .unwrap()
                    .success()
            } else {
                Command::new("chmod")
                    .arg("a-w")
                    .arg(p)
                    .status()
                    .unwrap()
                    .success()
            };
            assert!(ok, "cannot make {} read-only", p.display());
        }
        ReadOnly(paths)
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = if is_root() {
                Command::new("chattr").arg("-i").arg(p).status()
            } else {
                Command::new("chmod").arg("u+w").arg(p).status()
            };
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs `gatehouse-idp serve` expecting it to refuse: (exit code, stderr).
async fn refused_start(config: &std::path::Path) -> (Option<i32>, String) {
    let child = Command::new(binary("gatehouse-idp"))
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await
    .expect("the IdP exits instead of serving")
    .unwrap()
    .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_database_left_read_only_after_a_crash_refuses_the_start_and_says_where_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let db = data.join("idp.sqlite");
    let config_path = dir.path().join("idp.toml");
    std::fs::write(
        &config_path,
        format!(
            "issuer = \"{issuer}\"\nlisten = \"127.0.0.1:{port}\"\ndatabase = \"{}\"\n",
            db.display()
        ),
    )
    .unwrap();
    let idp = start_idp(&config_path, &issuer).await;
    Command::new("kill")
        .args(["-9", &idp.0.id().to_string()])
        .status()
        .unwrap();
    drop(idp);
    {
        let _ro = ReadOnly::apply(&data);
        let (code, stderr) = refused_start(&config_path).await;
        assert_ne!(code, Some(0), "{stderr}");
        assert!(
            stderr.contains(&db.display().to_string()),
            "names the path: {stderr}"
        );
        assert!(stderr.contains("writable"), "says what to do: {stderr}");
    }
    // Writable again, it starts on the same data.
    let _idp = start_idp(&config_path, &issuer).await;

    // A config that does not parse names its path too.
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "issuer = [").unwrap();
    let (code, stderr) = refused_start(&broken).await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains(&broken.display().to_string()), "{stderr}");
}
