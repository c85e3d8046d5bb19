//! Several real `gatehouse-idp serve` processes on one PostgreSQL, the way a
//! company runs two or three nodes behind a load balancer: one config file, one
//! issuer (the balancer's URL; here the first node's address stands in for it),
//! each node with its own `--listen`. Runs when `GATEHOUSE_POSTGRES` names a
//! PostgreSQL server (the test command starts one); without it each test says
//! so and passes, as there is nothing to run on.

use admin_api::{AdminClient, ConnectionStatus, ConnectionView, client::Mutation};
use gatehouse_tests::{binary, free_port};
use idp::config::*;
use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

const PASSWORD: &str = "correct horse battery staple";
const AGENT_SECRET: &str = "agent-secret";

fn postgres() -> Option<String> {
    match std::env::var("GATEHOUSE_POSTGRES") {
        Ok(s) if !s.is_empty() => Some(s),
        _ => {
            eprintln!("GATEHOUSE_POSTGRES is not set: no PostgreSQL to run several nodes on");
            None
        }
    }
}

struct Node {
    child: Child,
    url: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn kill_9(&mut self) {
        Command::new("kill")
            .args(["-9", &self.child.id().to_string()])
            .status()
            .unwrap();
        let _ = self.child.wait();
    }
}

/// Starts a node on `port` with the shared config and database; waits until
/// it answers `/readyz`.
async fn start_node(config: &Path, database: &str, port: u16) -> Node {
    let child = Command::new(binary("gatehouse-idp"))
        .args(["serve", "--config"])
        .arg(config)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            database,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let node = Node {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(r) = http.get(format!("{}/readyz", node.url)).send().await
            && r.status() == 200
        {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the node on port {port} did not become ready");
}

/// The world: an approver (carol), a user (alice), the console, an agent with
/// a secret, `clients` more agents, and one resource app whose receiver is
/// `receiver` and which every agent is connected to.
fn world(issuer: &str, receiver: &str, clients: usize) -> Config {
    let hash = idp::authorize::hash_password(PASSWORD);
    let user = |name: &str, groups: &[&str]| User {
        username: name.into(),
        password_hash: hash.clone(),
        totp_secret: None,
        groups: groups.iter().map(|g| (*g).into()).collect(),
        email: None,
        name: None,
    };
    let agent = |id: String| Client {
        client_id: id,
        name: "Agent".into(),
        auth: ClientAuth::ClientSecret {
            secret_sha256: xaa::util::sha256_hex(AGENT_SECRET.as_bytes()),
            previous: None,
        },
        redirect_uris: vec![gatehouse_tests_redirect()],
        owners: vec![],
        description: None,
        sponsor: None,
        successors: vec![],
        admin: false,
    };
    let mut clients_cfg = vec![
        Client {
            client_id: "gatehouse-console".into(),
            name: "Console".into(),
            auth: ClientAuth::None,
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            owners: vec![],
            description: None,
            sponsor: None,
            successors: vec![],
            admin: true,
        },
        agent("agent".into()),
    ];
    clients_cfg.extend((0..clients).map(|i| agent(format!("agent-{i:03}"))));
    let connections = clients_cfg
        .iter()
        .filter(|c| !c.admin)
        .map(|c| ConnectionSeed {
            client_id: c.client_id.clone(),
            resource_app: "docs".into(),
            scopes: ScopeCondition::All,
            allowed_groups: vec![],
            allowed_resources: vec![],
            step_up: vec![],
            id_jag_lifetime: None,
            approved_by: vec![],
        })
        .collect();
    Config {
        issuer: issuer.into(),
        listen: "127.0.0.1:0".into(),
        metrics_listen: None,
        database: Database::Path("unused: every node gets --database-url".into()),
        tokens: TokenLifetimes::default(),
        server: Default::default(),
        users: vec![user("carol", &["iam-approvers"]), user("alice", &["eng"])],
        clients: clients_cfg,
        resource_apps: vec![ResourceApp {
            id: "docs".into(),
            name: "Docs".into(),
            issuer: "https://docs.example".into(),
            mcp_servers: vec!["https://docs.example/mcp".into()],
            client_ids: Default::default(),
            scopes: vec![ScopeDef {
                name: "docs.read".into(),
                description: "read".into(),
                risk: Risk::Read,
                sensitive: false,
            }],
            receivers: vec![format!("{receiver}/revocation-events")],
            owners: vec![],
        }],
        connections,
        roles: [(Role::Approver, vec!["iam-approvers".into()])].into(),
        scim: Default::default(),
        trusted_issuers: vec![],
        upstreams: vec![],
        sign_in: Default::default(),
        audit_streams: vec![],
    }
}

fn gatehouse_tests_redirect() -> String {
    "http://127.0.0.1:4000/callback".into()
}

struct Cluster {
    nodes: Vec<Node>,
    /// The nodes' database.
    database: String,
    _dir: tempfile::TempDir,
}

/// `n` nodes started at the same moment on a fresh, empty database.
async fn cluster(server: &str, n: usize, receiver: &str, clients: usize) -> Cluster {
    let database = idp::store::create_postgres_database(server, "gh_cluster")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..n).map(|_| free_port()).collect();
    let issuer = format!("http://127.0.0.1:{}", ports[0]);
    let config = dir.path().join("idp.toml");
    std::fs::write(
        &config,
        toml::to_string(&world(&issuer, receiver, clients)).unwrap(),
    )
    .unwrap();
    // Started together: every node's start (migrations, key) races the others'.
    let nodes =
        futures_util::future::join_all(ports.iter().map(|p| start_node(&config, &database, *p)))
            .await;
    Cluster {
        nodes,
        database,
        _dir: dir,
    }
}

impl Cluster {
    fn url(&self, i: usize) -> &str {
        &self.nodes[i].url
    }

    /// An approver's admin API client at `node`; the sign-in is at the issuer
    /// (the balancer), and its token works at every node.
    async fn admin(&self, node: usize) -> AdminClient {
        let token = agent::sign_in(
            &agent::http_client(),
            self.url(0),
            &agent::ClientCreds {
                client_id: "gatehouse-console".into(),
                client_secret: String::new(),
            },
            "http://127.0.0.1:4000/callback",
            &agent::UserCreds {
                username: "carol".into(),
                password: PASSWORD.into(),
                totp_secret: None,
            },
            &agent::SignInOptions {
                extra_scope: Some(admin_api::ADMIN_SCOPE.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .access_token;
        AdminClient::new(self.url(node), token)
    }

    async fn alice_id_token(&self) -> String {
        agent::sign_in(
            &agent::http_client(),
            self.url(0),
            &agent_creds("agent"),
            &gatehouse_tests_redirect(),
            &agent::UserCreds {
                username: "alice".into(),
                password: PASSWORD.into(),
                totp_secret: None,
            },
            &Default::default(),
        )
        .await
        .unwrap()
        .id_token
    }
}

/// `action` on connection `id` at the version `version`; the connection after it.
async fn act(c: &AdminClient, id: &str, action: &str, version: i64) -> ConnectionView {
    let etag = format!("\"v{version}\"");
    c.connection_action(
        id,
        admin_api::ConnectionAction::parse(action).expect("suspend, resume or revoke"),
        "cluster test",
        &Mutation {
            if_match: Some(&etag),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

fn agent_creds(id: &str) -> agent::ClientCreds {
    agent::ClientCreds {
        client_id: id.into(),
        client_secret: AGENT_SECRET.into(),
    }
}

async fn exchange(
    http: &reqwest::Client,
    node: &str,
    id_token: &str,
) -> Result<(), xaa::ErrorCode> {
    agent::exchange(
        http,
        node,
        &agent_creds("agent"),
        id_token,
        &agent::ExchangeRequest {
            audience: "https://docs.example",
            resource: None,
            scope: Some("docs.read"),
        },
    )
    .await
    .map(|_| ())
    .map_err(|e| match e {
        agent::AgentError::OAuth(e) => e.error,
        other => panic!("the exchange failed outside OAuth: {other}"),
    })
}

#[tokio::test]
async fn nodes_started_together_on_an_empty_database_agree_on_one_key_set() {
    let Some(server) = postgres() else { return };
    let c = cluster(&server, 3, "http://127.0.0.1:9", 0).await;
    let http = reqwest::Client::new();
    let mut sets = vec![];
    for i in 0..3 {
        let jwks: serde_json::Value = http
            .get(format!("{}/jwks", c.url(i)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        sets.push(jwks);
    }
    assert_eq!(sets[0]["keys"].as_array().unwrap().len(), 1);
    assert!(sets.iter().all(|s| *s == sets[0]), "{sets:?}");
    // A token minted on one node verifies with every node's keys.
    let id_token = c.alice_id_token().await;
    for i in 1..3 {
        assert_eq!(exchange(&http, c.url(i), &id_token).await, Ok(()));
    }
}

#[tokio::test]
async fn a_suspend_acknowledged_on_one_node_is_refused_by_the_next_exchange_on_another() {
    let Some(server) = postgres() else { return };
    let c = cluster(&server, 2, "http://127.0.0.1:9", 0).await;
    let http = reqwest::Client::new();
    let admin = c.admin(0).await;
    let id_token = c.alice_id_token().await;
    let conn = admin
        .list_connections(&gatehouse_tests::query(&[("client_id", "agent".into())]))
        .await
        .unwrap()
        .items
        .remove(0);
    let mut version = conn.version;
    let rounds = 1000;
    let (mut granted_after_suspend, mut refused_after_resume) = (0, 0);
    for _ in 0..rounds {
        let v = act(&admin, &conn.id, "suspend", version).await;
        assert_eq!(v.status, ConnectionStatus::Suspended);
        if exchange(&http, c.url(1), &id_token).await.is_ok() {
            granted_after_suspend += 1;
        }
        version = act(&admin, &conn.id, "resume", v.version).await.version;
        if exchange(&http, c.url(1), &id_token).await.is_err() {
            refused_after_resume += 1;
        }
    }
    assert_eq!(
        (granted_after_suspend, refused_after_resume),
        (0, 0),
        "of {rounds} suspend → exchange pairs on the other node, none may succeed (and every resume must take effect)"
    );
}

/// One node on a fresh database, a handle of the test's own to that database
/// (to commit writes as another node would), a client, and alice's ID token.
async fn one_node_and_its_database(
    server: &str,
) -> (Cluster, idp::store::Db, reqwest::Client, String) {
    let c = cluster(server, 1, "http://127.0.0.1:9", 0).await;
    let db = idp::store::Db::open(&c.database).await.unwrap();
    let id_token = c.alice_id_token().await;
    (c, db, reqwest::Client::new(), id_token)
}

/// A user the help desk blocks (a write to the nodes' database, as another
/// node commits it) is refused by the next exchange on a node that remembers
/// the gate's view of them from the exchange just before: the audit commit
/// finds the gate epoch moved. Unblocked, they are let through at once again.
#[tokio::test]
async fn a_block_committed_elsewhere_is_refused_by_the_next_exchange_on_a_node_that_remembers() {
    use idp::store::blocks;
    let Some(server) = postgres() else { return };
    let (c, db, http, id_token) = one_node_and_its_database(&server).await;
    let rounds = 200;
    let (mut granted_while_blocked, mut refused_after_unblock) = (0, 0);
    for at in 0..rounds {
        assert_eq!(exchange(&http, c.url(0), &id_token).await, Ok(()));
        let mut tx = db.begin_write().await.unwrap();
        blocks::block(&mut tx, "alice", "lost laptop", "helpdesk", at)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        if exchange(&http, c.url(0), &id_token).await != Err(xaa::ErrorCode::AccessDenied) {
            granted_while_blocked += 1;
        }
        let mut tx = db.begin_write().await.unwrap();
        assert!(blocks::unblock(&mut tx, "alice", at).await.unwrap());
        tx.commit().await.unwrap();
        if exchange(&http, c.url(0), &id_token).await.is_err() {
            refused_after_unblock += 1;
        }
    }
    assert_eq!(
        (granted_while_blocked, refused_after_unblock),
        (0, 0),
        "of {rounds} block → exchange pairs, none may succeed (and every unblock must take effect)"
    );
}

/// A connection revoked and approved again elsewhere (writes to the nodes'
/// database, as another node commits them) takes effect at the next exchange
/// on a node that remembers the gate's view, both ways. A refusal for want of
/// a connection may repeat without an audit commit, so it checks its view's
/// epoch by a read made after it began; to reach that path the test lets the
/// node's rest after a stale view (`connection_cache::CHURN`, 1 s) pass.
#[tokio::test]
async fn a_connection_revoked_and_approved_elsewhere_takes_effect_at_the_next_exchange() {
    use idp::store::connections;
    let Some(server) = postgres() else { return };
    let (c, db, http, id_token) = one_node_and_its_database(&server).await;
    let approval =
        connections::NewConnection::new("agent", "docs", &admin_api::ScopeCondition::All);
    let rounds = 10;
    let (mut granted_after_revoke, mut refused_after_approval) = (0, 0);
    for at in 0..rounds {
        assert_eq!(exchange(&http, c.url(0), &id_token).await, Ok(()));
        let live = db.live_connection("agent", "docs").await.unwrap().unwrap();
        let mut tx = db.begin_write().await.unwrap();
        connections::set_status(&mut tx, &live.id, ConnectionStatus::Revoked, "t", at)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // The remembered grant is found stale at its commit: refused, on a
        // fresh read, which the node remembers.
        if exchange(&http, c.url(0), &id_token).await != Err(xaa::ErrorCode::AccessDenied) {
            granted_after_revoke += 1;
        }
        // Not a wait for readiness: the node's rest after a stale view.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        // From memory, its epoch checked and still current: refused.
        if exchange(&http, c.url(0), &id_token).await != Err(xaa::ErrorCode::AccessDenied) {
            granted_after_revoke += 1;
        }
        // From memory (no connection), its epoch checked and moved: read
        // again, granted.
        db.seed_connection(&approval, at).await.unwrap();
        if exchange(&http, c.url(0), &id_token).await.is_err() {
            refused_after_approval += 1;
        }
    }
    assert_eq!(
        (granted_after_revoke, refused_after_approval),
        (0, 0),
        "of {rounds} revoke → exchange → approve → exchange rounds, none may go the old way"
    );
}

#[tokio::test]
async fn two_writers_with_one_etag_on_two_nodes_one_wins_and_the_other_gets_412() {
    let Some(server) = postgres() else { return };
    let c = cluster(&server, 2, "http://127.0.0.1:9", 0).await;
    let (a, b) = (c.admin(0).await, c.admin(1).await);
    for _ in 0..10 {
        let conn = a
            .list_connections(&gatehouse_tests::query(&[
                ("client_id", "agent".into()),
                ("status", "active".into()),
            ]))
            .await
            .unwrap()
            .items
            .remove(0);
        let etag = a.get_connection(&conn.id).await.unwrap().etag;
        let m = Mutation {
            if_match: Some(&etag),
            ..Default::default()
        };
        let (ra, rb) = tokio::join!(
            a.connection_action(&conn.id, admin_api::ConnectionAction::Suspend, "race", &m),
            b.connection_action(&conn.id, admin_api::ConnectionAction::Suspend, "race", &m)
        );
        let statuses: Vec<Option<u16>> = [&ra, &rb]
            .iter()
            .map(|r| r.as_ref().err().and_then(|e| e.status()))
            .collect();
        assert_eq!(
            statuses.iter().filter(|s| s.is_none()).count(),
            1,
            "exactly one writer wins: {statuses:?}"
        );
        assert!(
            statuses.contains(&Some(412)),
            "the loser is told its ETag is stale: {statuses:?}"
        );
        let v = if let Ok(v) = ra { v } else { rb.unwrap() };
        act(&a, &conn.id, "resume", v.version).await;
    }
}

#[tokio::test]
async fn the_change_stream_of_any_node_carries_every_node_and_resumes_on_another() {
    let Some(server) = postgres() else { return };
    let c = cluster(&server, 2, "http://127.0.0.1:9", 0).await;
    let (a, b) = (c.admin(0).await, c.admin(1).await);
    let conn = a
        .list_connections(&gatehouse_tests::query(&[("client_id", "agent".into())]))
        .await
        .unwrap()
        .items
        .remove(0);
    // Changes made on both nodes, alternately.
    let mut version = conn.version;
    for (i, action) in ["suspend", "resume", "suspend", "resume"]
        .iter()
        .enumerate()
    {
        let node = if i % 2 == 0 { &a } else { &b };
        version = act(node, &conn.id, action, version).await.version;
    }
    // Read the whole stream from node B, resuming from its start.
    let all = read_events(&b, 0, 4).await;
    assert_eq!(all.len(), 4, "every node's changes: {all:?}");
    assert!(
        all.windows(2).all(|w| w[0].id < w[1].id),
        "totally ordered: {all:?}"
    );
    // Resume on node A from the second event: exactly the rest, no gap, no repeat.
    let rest = read_events(&a, all[1].id, 2).await;
    assert_eq!(rest, all[2..].to_vec());
}

async fn read_events(c: &AdminClient, last_id: i64, want: usize) -> Vec<admin_api::ChangeEvent> {
    use admin_api::sse::Frame;
    let mut stream = c.events(Some(last_id)).await.unwrap();
    let mut got = vec![];
    while got.len() < want {
        match tokio::time::timeout(Duration::from_secs(10), stream.next()).await {
            Ok(Ok(Some(Frame::Change(e)))) => got.push(e),
            Ok(Ok(Some(_))) => {}
            _ => break,
        }
    }
    got
}

#[tokio::test]
async fn one_audit_chain_verifies_on_every_node_after_concurrent_writes_on_all() {
    let Some(server) = postgres() else { return };
    let c = cluster(&server, 2, "http://127.0.0.1:9", 0).await;
    let http = reqwest::Client::new();
    let id_token = c.alice_id_token().await;
    let mut runs = vec![];
    for w in 0..8 {
        let (http, token, node) = (http.clone(), id_token.clone(), c.url(w % 2).to_owned());
        runs.push(tokio::spawn(async move {
            for _ in 0..25 {
                exchange(&http, &node, &token).await.unwrap();
            }
        }));
    }
    for r in runs {
        r.await.unwrap();
    }
    let (a, b) = (c.admin(0).await, c.admin(1).await);
    let (ra, rb) = (
        a.audit_verify().await.unwrap(),
        b.audit_verify().await.unwrap(),
    );
    assert!(ra.ok, "{ra:?}");
    assert_eq!((ra.events, ra.head.clone()), (rb.events, rb.head.clone()));
    assert!(ra.events >= 200);
}

#[tokio::test]
async fn three_nodes_push_each_revocation_event_once_and_the_others_finish_a_killed_nodes_work() {
    let Some(server) = postgres() else { return };
    // A receiver counting what arrives, by SET id.
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/revocation-events",
        axum::routing::post(move |b: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let jti = xaa::jws::insecure_peek_payload(&String::from_utf8_lossy(&b))
                    .and_then(|p| p["jti"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                sink.lock().unwrap().push(jti);
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let clients = 40;
    let mut c = cluster(&server, 3, &receiver, clients).await;
    let admin = c.admin(0).await;
    let list = admin
        .list_connections(&gatehouse_tests::query(&[
            ("status", "active".into()),
            ("limit", "500".into()),
        ]))
        .await
        .unwrap();
    assert_eq!(list.items.len(), clients + 1);
    for (i, conn) in list.items.iter().enumerate() {
        if i == list.items.len() / 2 {
            // Mid-way, node 1 dies without a word; nodes 0 and 2 carry on.
            c.nodes[1].kill_9();
        }
        act(&admin, &conn.id, "revoke", conn.version).await;
    }
    let expected = clients + 1;
    for _ in 0..1200 {
        if received.lock().unwrap().len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Settle: anything delivered twice would arrive now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = received.lock().unwrap().clone();
    let distinct: std::collections::BTreeSet<&String> = got.iter().collect();
    assert_eq!(
        distinct.len(),
        expected,
        "every SET arrived: {} of {expected}",
        distinct.len()
    );
    // A SET the killed node had in flight may arrive once more; nothing else twice.
    assert!(
        got.len() <= expected + 1,
        "{} deliveries of {expected} SETs",
        got.len()
    );
}

#[tokio::test]
async fn a_client_assertion_spent_on_one_node_is_refused_on_another() {
    let Some(server) = postgres() else { return };
    let database = idp::store::create_postgres_database(&server, "gh_cluster")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = xaa::SigningKey::generate(xaa::Alg::ES256).unwrap();
    let ports = [free_port(), free_port()];
    let issuer = format!("http://127.0.0.1:{}", ports[0]);
    let mut config = world(&issuer, "http://127.0.0.1:9", 0);
    config.clients.push(Client {
        client_id: "pkjwt-agent".into(),
        name: "Key Agent".into(),
        auth: ClientAuth::PrivateKeyJwt {
            jwks: xaa::JwkSet {
                keys: vec![key.public_jwk()],
            },
            jwks_uri: None,
        },
        redirect_uris: vec![],
        owners: vec![],
        description: None,
        sponsor: None,
        successors: vec![],
        admin: false,
    });
    let path = dir.path().join("idp.toml");
    std::fs::write(&path, toml::to_string(&config).unwrap()).unwrap();
    let a = start_node(&path, &database, ports[0]).await;
    let b = start_node(&path, &database, ports[1]).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let assertion = key.sign(
        "JWT",
        &serde_json::json!({"iss": "pkjwt-agent", "sub": "pkjwt-agent", "aud": format!("{issuer}/token"), "jti": "once", "exp": now + 60, "iat": now}),
    );
    let http = reqwest::Client::new();
    let post = |node: &str| {
        http.post(format!("{node}/connection-requests"))
            .form(&[
                ("audience", "https://docs.example"),
                ("justification", "needs docs"),
                ("client_assertion_type", xaa::CLIENT_ASSERTION_TYPE_JWT),
                ("client_assertion", assertion.as_str()),
            ])
            .send()
    };
    assert_eq!(post(&a.url).await.unwrap().status(), 201);
    let replay = post(&b.url).await.unwrap();
    assert_eq!(
        replay.status(),
        401,
        "the same assertion at the other node is a replay"
    );
}

/// A PostgreSQL of this test's own (scripts/postgres.sh on its own port and data
/// directory), so stopping it does not touch the other tests' server.
struct OwnPostgres {
    dir: PathBuf,
    port: u16,
}

impl OwnPostgres {
    fn script(&self, action: &str) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/postgres.sh");
        let out = Command::new(script)
            .arg(action)
            .env("GATEHOUSE_PG_DIR", &self.dir)
            .env("GATEHOUSE_PG_PORT", self.port.to_string())
            .stderr(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "postgres.sh {action} failed");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        self.script("stop");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn readyz(http: &reqwest::Client, node: &str) -> Option<u16> {
    http.get(format!("{node}/readyz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()
        .map(|r| r.status().as_u16())
}

/// Polls `/readyz` until it answers `want`; how long that took.
async fn until_readyz(http: &reqwest::Client, node: &str, want: u16, within: Duration) -> Duration {
    let start = std::time::Instant::now();
    while start.elapsed() < within {
        if readyz(http, node).await == Some(want) {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("/readyz did not answer {want} within {within:?}");
}

#[tokio::test]
async fn readyz_follows_the_database_down_and_back_and_the_first_exchange_after_it_works() {
    let Some(_) = postgres() else { return };
    let pg = OwnPostgres {
        dir: std::env::temp_dir().join(format!("gatehouse-pg-restart-{}", std::process::id())),
        port: free_port(),
    };
    let server = pg.script("fresh");
    let database = idp::store::create_postgres_database(&server, "gh_restart")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let config = dir.path().join("idp.toml");
    std::fs::write(
        &config,
        toml::to_string(&world(&issuer, "http://127.0.0.1:9", 0)).unwrap(),
    )
    .unwrap();
    let node = start_node(&config, &database, port).await;
    let http = reqwest::Client::new();
    let c = Cluster {
        nodes: vec![node],
        database,
        _dir: dir,
    };
    let id_token = c.alice_id_token().await;
    assert_eq!(exchange(&http, c.url(0), &id_token).await, Ok(()));
    pg.script("stop");
    let down = until_readyz(&http, c.url(0), 503, Duration::from_secs(15)).await;
    assert!(
        exchange(&http, c.url(0), &id_token).await.is_err(),
        "no exchange without the audit log's database"
    );
    pg.script("start");
    let up = until_readyz(&http, c.url(0), 200, Duration::from_secs(60)).await;
    assert_eq!(
        exchange(&http, c.url(0), &id_token).await,
        Ok(()),
        "the first exchange after the database is back succeeds"
    );
    eprintln!("readyz: 503 {down:?} after the stop, 200 {up:?} after the start");
}
