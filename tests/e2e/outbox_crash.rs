//! The revocation outbox survives a `kill -9` of the IdP between the committed
//! revoke and its delivery: after a restart on the same database, the Security
//! Event Token reaches the resource app's receiver. Runs the real `gatehouse-idp`
//! binary (built by `cargo build --bins`, as `scripts/test.sh` does first).

use axum::{Router, body::Bytes, http::StatusCode, routing::post};
use gatehouse_tests::{binary, free_port};
use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

/// The tests here start real IdP processes on ports they pick as free, and one
/// leaves a receiver port unbound on purpose until after a crash: run one at a
/// time, so no test's server lands on another's "nothing listens here" port.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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

/// Signs `username` in through the console's admin client; its access token.
async fn console_session(issuer: &str, username: &str, password: &str) -> String {
    agent::sign_in(
        &agent::http_client(),
        issuer,
        &agent::ClientCreds {
            client_id: "gatehouse-console".into(),
            client_secret: String::new(),
        },
        "http://127.0.0.1:4000/callback",
        &agent::UserCreds {
            username: username.into(),
            password: password.into(),
            totp_secret: None,
        },
        &agent::SignInOptions {
            extra_scope: Some(admin_api::ADMIN_SCOPE.into()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .access_token
}

#[tokio::test]
async fn a_revocation_committed_before_a_kill_9_is_delivered_after_restart() {
    let _one = ONE_AT_A_TIME.lock().await;
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
    let token = console_session(&issuer, "dave", password).await;
    let admin = admin_api::AdminClient::new(&issuer, token);
    let conn = admin
        .list_connections(&Default::default())
        .await
        .unwrap()
        .items
        .remove(0);
    let etag = admin.get_connection(&conn.id).await.unwrap().etag;
    let revoked = admin
        .connection_action(
            &conn.id,
            admin_api::ConnectionAction::Revoke,
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
    let _one = ONE_AT_A_TIME.lock().await;
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

/// One acknowledged decision: which connection, the state it acknowledged and
/// the request id its audit event carries.
#[derive(Debug, Clone)]
struct Acked {
    connection: String,
    version: i64,
    status: String,
    request_id: String,
}

#[tokio::test]
async fn every_acknowledged_decision_and_its_audit_event_survive_a_kill_9_under_load() {
    let _one = ONE_AT_A_TIME.lock().await;
    const CLIENTS: usize = 16;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let password = "correct horse battery staple";
    let mut config = format!(
        r#"
issuer = "{issuer}"
listen = "127.0.0.1:{port}"
database = "{db}"

[roles]
approver = ["approvers"]
admin = ["admins"]

[[users]]
username = "judy"
password_hash = "{hash}"
groups = ["approvers", "admins"]

[[clients]]
client_id = "gatehouse-console"
name = "Console"
redirect_uris = ["http://127.0.0.1/callback"]
auth = {{ method = "none" }}
admin = true

[[resource_apps]]
id = "docs"
name = "Docs"
issuer = "http://127.0.0.1:9/docs"
mcp_servers = ["http://127.0.0.1:9/docs/mcp"]
scopes = [{{ name = "docs.read", description = "Read", risk = "read" }}]
"#,
        db = dir.path().join("idp.sqlite").display(),
        hash = idp::authorize::hash_password(password),
    );
    for n in 0..CLIENTS {
        config.push_str(&format!(
            "\n[[clients]]\nclient_id = \"agent{n}\"\nname = \"Agent {n}\"\nauth = {{ method = \"client_secret\", secret_sha256 = \"{}\" }}\n\n[[connections]]\nclient_id = \"agent{n}\"\nresource_app = \"docs\"\nscopes = {{ kind = \"all\" }}\n",
            xaa::util::sha256_hex(b"agent-secret"),
        ));
    }
    let config_path = dir.path().join("idp.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut idp = start_idp(&config_path, &issuer).await;
    let token = console_session(&issuer, "judy", password).await;
    let admin = admin_api::AdminClient::new(&issuer, token.clone());
    let ids: Vec<String> = admin
        .list_connections(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids.len(), CLIENTS);

    // Every connection is suspended and resumed in a loop, all at once, until the
    // IdP dies; each 200 is an acknowledged decision.
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    let mut storm = Vec::new();
    for id in ids.clone() {
        let (acked, issuer, token) = (acked.clone(), issuer.clone(), token.clone());
        storm.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap();
            for round in 0.. {
                let Ok(r) = http
                    .get(format!("{issuer}/admin/v1/connections/{id}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                else {
                    return;
                };
                let Some(etag) = r
                    .headers()
                    .get("etag")
                    .map(|e| e.to_str().unwrap().to_owned())
                else {
                    return;
                };
                let action = if round % 2 == 0 { "suspend" } else { "resume" };
                let Ok(r) = http
                    .post(format!("{issuer}/admin/v1/connections/{id}/{action}"))
                    .bearer_auth(&token)
                    .header("if-match", etag)
                    .json(&serde_json::json!({ "reason": "storm" }))
                    .send()
                    .await
                else {
                    return;
                };
                if r.status() != 200 {
                    return;
                }
                let request_id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
                let Ok(v) = r.json::<admin_api::ConnectionView>().await else {
                    return;
                };
                acked.lock().unwrap().push(Acked {
                    connection: id.clone(),
                    version: v.version,
                    status: serde_json::to_value(v.status)
                        .unwrap()
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    request_id,
                });
            }
        }));
    }
    // kill -9 once the storm is well under way.
    for _ in 0..400 {
        if acked.lock().unwrap().len() >= 60 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Command::new("kill")
        .args(["-9", &idp.0.id().to_string()])
        .status()
        .unwrap();
    let _ = idp.0.wait();
    for t in storm {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 20,
        "the storm ran ({} acknowledged)",
        acked.len()
    );
    eprintln!("kill -9 after {} acknowledged decisions", acked.len());

    let _idp = start_idp(&config_path, &issuer).await;
    let after = admin_api::AdminClient::new(&issuer, token);
    for id in &ids {
        let last = acked
            .iter()
            .filter(|a| &a.connection == id)
            .max_by_key(|a| a.version);
        let Some(last) = last else { continue };
        let now = after.get_connection(id).await.unwrap().value;
        assert!(
            now.version >= last.version,
            "{id}: acknowledged v{} lost (now v{})",
            last.version,
            now.version
        );
        if now.version == last.version {
            let status = serde_json::to_value(now.status).unwrap();
            assert_eq!(status.as_str(), Some(last.status.as_str()), "{id}");
        }
    }
    let audit = after
        .audit_export(&gatehouse_tests::query(&[("format", "jsonl".into())]))
        .await
        .unwrap();
    let audited: std::collections::HashSet<String> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|e| e["detail"]["request_id"].as_str().map(str::to_owned))
        .collect();
    for a in &acked {
        assert!(
            audited.contains(&a.request_id),
            "no audit event for acknowledged {a:?}"
        );
    }
    let chain = after.audit_verify().await.unwrap();
    assert!(chain.ok, "{chain:?}");
}
