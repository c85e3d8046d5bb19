//! The domain services below the admin API, called directly (no HTTP) against a
//! temporary SQLite file and, when `GATEHOUSE_POSTGRES` names a PostgreSQL
//! server, a fresh database on it (the test command starts one). Each test runs
//! its body on both: a decision's outcome, its audit event, its change rows, and
//! that a refused decision (stale version, wrong state, separation of duties,
//! step-up) commits nothing.

use admin_api::{
    ApproveRequest, BulkRevoke, ChangeKind, ConnectionStatus, ModifyConnection, RequestStatus, Role,
};
use idp::{
    config::Config,
    server,
    services::{
        Principal, PrincipalKind, ServiceError,
        connections::{self as conn_service, Action},
        requests::{Decision, DecisionOutcome, decide},
    },
    state::SharedIdp,
};
use idp_store::RequestSighting;

const CONFIG: &str = r#"
issuer = "http://127.0.0.1:9"
database = "unused.db"

[[users]]
username = "alice"
password_hash = "unused"
groups = ["engineering"]

[[users]]
username = "carol"
password_hash = "unused"
groups = ["approvers"]

[[users]]
username = "dave"
password_hash = "unused"
groups = ["approvers"]

[[users]]
username = "olga"
password_hash = "unused"
groups = ["approvers"]

[[clients]]
client_id = "agent"
name = "Agent"
owners = ["olga"]
auth = { method = "none" }

[[resource_apps]]
id = "crm"
name = "CRM"
issuer = "http://127.0.0.1:9/crm"
mcp_servers = ["http://127.0.0.1:9/crm/mcp"]
receivers = ["http://127.0.0.1:9/crm/events"]
scopes = [
  { name = "crm.read", description = "read", risk = "read" },
  { name = "crm.write", description = "write", risk = "write" },
  { name = "crm.export", description = "export", risk = "destructive", sensitive = true },
]

[roles]
approver = ["approvers"]
"#;

/// One IdP per database kind, each on a database of its own.
async fn idps() -> Vec<(SharedIdp, &'static str, Option<tempfile::TempDir>)> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let sqlite = idp_store::sqlite_url(&dir.path().join("idp.db"));
    out.push((build(&sqlite).await, "sqlite", Some(dir)));
    if let Some(url) = fresh_postgres().await {
        out.push((build(&url).await, "postgres", None));
    }
    out
}

/// A fresh database on the PostgreSQL server `GATEHOUSE_POSTGRES` names, if it names one.
async fn fresh_postgres() -> Option<String> {
    let server = std::env::var("GATEHOUSE_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())?;
    Some(
        idp_store::create_postgres_database(&server, "gh_svc")
            .await
            .unwrap(),
    )
}

async fn build(url: &str) -> SharedIdp {
    let mut config: Config = toml::from_str(CONFIG).unwrap();
    config.validate().unwrap();
    config.database = idp::config::Database::Url { url: url.into() };
    server::build(config).await.unwrap()
}

/// An approver signed in `mfa_age` seconds ago with MFA (or with a password
/// only when `None`).
fn approver(idp: &SharedIdp, name: &str, mfa_age: Option<i64>) -> Principal {
    Principal {
        subject: name.into(),
        roles: [Role::Approver].into(),
        acr: Some(
            if mfa_age.is_some() {
                xaa::ACR_MFA
            } else {
                xaa::ACR_PASSWORD
            }
            .into(),
        ),
        auth_time: Some(idp.now() - mfa_age.unwrap_or(0)),
        kind: PrincipalKind::Session,
        request_id: format!("test-{name}"),
    }
}

/// A refused exchange by alice for the agent at the CRM: the pending request.
async fn pending_request(idp: &SharedIdp, scopes: &[&str]) -> (String, i64) {
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    let groups = vec!["engineering".to_string()];
    let (id, _) = idp
        .store
        .upsert_request(
            &RequestSighting {
                client_id: "agent",
                resource_app: "crm",
                scopes: &scopes,
                resource: None,
                user: Some(("alice", &groups)),
                justification: None,
                refused: true,
            },
            idp.now(),
        )
        .await
        .unwrap();
    (id.clone(), version_of(idp, &id).await)
}

async fn version_of(idp: &SharedIdp, id: &str) -> i64 {
    let mut db = idp.store.acquire().await.unwrap();
    idp::views::request_view(idp, &mut db, id)
        .await
        .unwrap()
        .unwrap()
        .version
}

/// Audit events of `kind`, and the newest change id.
async fn audited(idp: &SharedIdp, kind: &str) -> usize {
    let f = idp_store::audit::AuditFilter {
        kind: Some(kind.into()),
        ..Default::default()
    };
    idp.store
        .audit_page(&f, idp_store::audit::Order::Oldest, 0, 500)
        .await
        .unwrap()
        .1 as usize
}

fn grant(scopes: &[&str]) -> Decision {
    Decision::Approve(ApproveRequest {
        scopes: Some(scopes.iter().map(|s| s.to_string()).collect()),
        ..Default::default()
    })
}

#[tokio::test]
async fn a_denial_commits_once_with_its_audit_event_and_change_and_a_stale_one_nothing() {
    for (idp, kind, _dir) in idps().await {
        let (id, version) = pending_request(&idp, &["crm.read"]).await;
        let carol = approver(&idp, "carol", None);
        let deny = Decision::Deny {
            reason: "not needed".into(),
        };
        // A version the caller never read: refused, the current state attached.
        let stale = decide(&idp, &carol, &id, version + 7, &deny).await;
        assert!(matches!(stale, Err(ServiceError::Stale(_))), "{kind}");
        assert_eq!(audited(&idp, "connection_request.deny").await, 0, "{kind}");
        let done = decide(&idp, &carol, &id, version, &deny).await.unwrap();
        assert_eq!(done.value.outcome, DecisionOutcome::Denied, "{kind}");
        assert_eq!(done.value.result.request.status, RequestStatus::Denied);
        assert_eq!(done.changes.len(), 1);
        assert_eq!(done.changes[0].kind, ChangeKind::RequestDecided);
        assert!(!done.connections_changed);
        let after = done.announce(&idp);
        assert_eq!(audited(&idp, "connection_request.deny").await, 1, "{kind}");
        // Deciding it again: it is no longer pending.
        let again = decide(&idp, &carol, &id, after.result.request.version, &deny).await;
        assert!(matches!(again, Err(ServiceError::Conflict(_))), "{kind}");
        // An empty reason is refused before anything is read.
        let (id2, v2) = pending_request(&idp, &["crm.write"]).await;
        assert_ne!(id2, id);
        let blank = Decision::Deny {
            reason: "  ".into(),
        };
        assert!(matches!(
            decide(&idp, &carol, &id2, v2, &blank).await,
            Err(ServiceError::Invalid(_))
        ));
        assert_eq!(audited(&idp, "connection_request.deny").await, 1, "{kind}");
    }
}

#[tokio::test]
async fn requesters_and_owners_cannot_decide_and_a_grant_can_only_narrow() {
    for (idp, kind, _dir) in idps().await {
        let (id, version) = pending_request(&idp, &["crm.read", "crm.write"]).await;
        for who in ["alice", "olga"] {
            let (p, g) = (approver(&idp, who, None), grant(&["crm.read"]));
            let r = decide(&idp, &p, &id, version, &g).await;
            assert!(
                matches!(r, Err(ServiceError::SeparationOfDuties(_))),
                "{kind}: {who} decided"
            );
        }
        let carol = approver(&idp, "carol", None);
        let wider = decide(
            &idp,
            &carol,
            &id,
            version,
            &grant(&["crm.read", "crm.export"]),
        )
        .await;
        assert!(matches!(wider, Err(ServiceError::Invalid(_))), "{kind}");
        let done = decide(&idp, &carol, &id, version, &grant(&["crm.read"]))
            .await
            .unwrap();
        assert_eq!(done.value.outcome, DecisionOutcome::Approved, "{kind}");
        assert!(done.connections_changed);
        let kinds: Vec<ChangeKind> = done.changes.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [ChangeKind::RequestDecided, ChangeKind::ConnectionUpdated]
        );
        let conn = done.value.result.connection.clone().unwrap();
        assert_eq!(conn.status, ConnectionStatus::Active);
        let granted: Vec<&str> = conn
            .granted_scopes
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(granted, ["crm.read"], "{kind}");
        done.announce(&idp);
    }
}

#[tokio::test]
async fn a_sensitive_grant_needs_recent_mfa_and_two_different_approvers() {
    for (idp, kind, _dir) in idps().await {
        let (id, version) = pending_request(&idp, &["crm.read", "crm.export"]).await;
        let both = grant(&["crm.read", "crm.export"]);
        let no_mfa = decide(&idp, &approver(&idp, "carol", None), &id, version, &both).await;
        assert!(
            matches!(no_mfa, Err(ServiceError::StepUpRequired { .. })),
            "{kind}"
        );
        let old_mfa = approver(&idp, "carol", Some(3600));
        assert!(matches!(
            decide(&idp, &old_mfa, &id, version, &both).await,
            Err(ServiceError::StepUpRequired { .. })
        ));
        let carol = approver(&idp, "carol", Some(5));
        let first = decide(&idp, &carol, &id, version, &both).await.unwrap();
        assert_eq!(
            first.value.outcome,
            DecisionOutcome::AwaitingSecondApproval,
            "{kind}"
        );
        assert!(first.value.result.connection.is_none());
        assert!(!first.connections_changed);
        let v = first.announce(&idp).result.request.version;
        assert_eq!(audited(&idp, "connection_request.first_approval").await, 1);
        // The same approver cannot confirm their own approval.
        assert!(matches!(
            decide(&idp, &carol, &id, v, &both).await,
            Err(ServiceError::SeparationOfDuties(_))
        ));
        let dave = approver(&idp, "dave", Some(5));
        let done = decide(&idp, &dave, &id, v, &grant(&["crm.export"]))
            .await
            .unwrap();
        assert_eq!(done.value.outcome, DecisionOutcome::Approved, "{kind}");
        let conn = done.announce(&idp).result.connection.unwrap();
        assert_eq!(conn.approved_by, ["carol", "dave"], "{kind}");
        let granted: Vec<&str> = conn
            .granted_scopes
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(
            granted,
            ["crm.export"],
            "{kind}: the second approver narrowed"
        );
    }
}

/// An approved connection of the agent at the CRM, and its version.
async fn approved_connection(idp: &SharedIdp) -> (String, i64) {
    let (id, version) = pending_request(idp, &["crm.read", "crm.write"]).await;
    let conn = decide(
        idp,
        &approver(idp, "carol", None),
        &id,
        version,
        &grant(&["crm.read", "crm.write"]),
    )
    .await
    .unwrap()
    .announce(idp)
    .result
    .connection
    .unwrap();
    (conn.id, conn.version)
}

#[tokio::test]
async fn status_changes_follow_the_lifecycle_and_queue_revocations_with_the_change() {
    for (idp, kind, _dir) in idps().await {
        let (id, v0) = approved_connection(&idp).await;
        let carol = approver(&idp, "carol", None);
        let change = |action, version| {
            let (idp, carol, id) = (idp.clone(), carol.clone(), id.clone());
            async move {
                conn_service::change_status(&idp, &carol, &id, version, action, "ticket 42").await
            }
        };
        assert!(matches!(
            change(Action::Resume, v0).await,
            Err(ServiceError::Conflict(_))
        ));
        assert!(matches!(
            change(Action::Suspend, v0 - 1).await,
            Err(ServiceError::Stale(_))
        ));
        assert!(matches!(
            conn_service::change_status(&idp, &carol, &id, v0, Action::Suspend, " ").await,
            Err(ServiceError::Invalid(_))
        ));
        let queued = idp_store::outbox::receipts(&mut idp.store.acquire().await.unwrap(), &id)
            .await
            .unwrap()
            .len();
        assert_eq!(queued, 0, "{kind}: nothing was queued by the refusals");
        let suspended = change(Action::Suspend, v0).await.unwrap();
        assert!(suspended.connections_changed);
        assert_eq!(suspended.changes[0].kind, ChangeKind::ConnectionUpdated);
        let s = suspended.announce(&idp);
        assert_eq!(s.status, ConnectionStatus::Suspended, "{kind}");
        assert_eq!(s.version, v0 + 1);
        assert_eq!(s.receipts.len(), 1, "{kind}: one SET per receiver");
        let resumed = change(Action::Resume, s.version)
            .await
            .unwrap()
            .announce(&idp);
        assert_eq!(resumed.status, ConnectionStatus::Active);
        assert_eq!(resumed.receipts.len(), 1, "{kind}: resuming queues nothing");
        let revoked = change(Action::Revoke, resumed.version).await.unwrap();
        assert_eq!(revoked.changes[0].kind, ChangeKind::ConnectionRevoked);
        let r = revoked.announce(&idp);
        assert_eq!(r.status, ConnectionStatus::Revoked, "{kind}");
        assert_eq!(r.receipts.len(), 2);
        assert!(matches!(
            change(Action::Revoke, r.version).await,
            Err(ServiceError::Conflict(_))
        ));
        for k in [
            "connection.suspend",
            "connection.resume",
            "connection.revoke",
        ] {
            assert_eq!(audited(&idp, k).await, 1, "{kind}: {k}");
        }
    }
}

#[tokio::test]
async fn widening_needs_an_approver_and_the_kill_switch_dry_run_counts_the_real_run() {
    for (idp, kind, _dir) in idps().await {
        let (id, v) = approved_connection(&idp).await;
        let mut helpdesk = approver(&idp, "harry", None);
        helpdesk.roles = [Role::Helpdesk].into();
        let widen = ModifyConnection {
            scopes: Some(vec![
                "crm.read".into(),
                "crm.write".into(),
                "crm.export".into(),
            ]),
            reason: "needs exports".into(),
            ..Default::default()
        };
        assert!(matches!(
            conn_service::modify(&idp, &helpdesk, &id, v, &widen).await,
            Err(ServiceError::StepUpRequired { .. } | ServiceError::Forbidden(_))
        ));
        let narrow = ModifyConnection {
            scopes: Some(vec!["crm.read".into()]),
            reason: "least privilege".into(),
            ..Default::default()
        };
        let n = conn_service::modify(&idp, &helpdesk, &id, v, &narrow)
            .await
            .unwrap()
            .announce(&idp);
        let granted: Vec<&str> = n.granted_scopes.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(granted, ["crm.read"], "{kind}");

        let kill = |dry_run| BulkRevoke {
            client_id: Some("agent".into()),
            reason: "incident 7".into(),
            dry_run,
            ..Default::default()
        };
        let carol = approver(&idp, "carol", Some(5));
        let dry = conn_service::revoke_in_bulk(&idp, &carol, &kill(true))
            .await
            .unwrap();
        assert!(dry.changes.is_empty() && !dry.connections_changed);
        let dry = dry.announce(&idp);
        assert_eq!(dry.connections_revoked, 1, "{kind}");
        let real = conn_service::revoke_in_bulk(&idp, &carol, &kill(false))
            .await
            .unwrap()
            .announce(&idp);
        assert_eq!(real.connection_ids, dry.connection_ids, "{kind}");
        assert_eq!(real.events_queued, dry.events_queued, "{kind}");
        assert_eq!(real.events_queued, 1);
        let again = conn_service::revoke_in_bulk(&idp, &carol, &kill(false))
            .await
            .unwrap()
            .announce(&idp);
        assert_eq!(again.connections_revoked, 0, "{kind}: nothing live is left");
    }
}

#[tokio::test]
async fn a_review_revokes_through_the_connection_and_the_deadline_defaults_the_rest() {
    use admin_api::{
        CampaignStatus, CreateCampaign, ReviewDecision, ReviewDecisions, ReviewDefault,
    };
    use idp::services::reviews;
    for (idp, kind, _dir) in idps().await {
        let (conn_id, _) = approved_connection(&idp).await;
        let campaign = |name: &str| CreateCampaign {
            name: name.into(),
            scope: Default::default(),
            reviewers: vec!["olga".into(), "dave".into()],
            fallback_reviewer: "carol".into(),
            starts_at: None,
            due_at: idp.now() + 3600,
            default_action: ReviewDefault::Revoke,
            per_user: false,
            kind: admin_api::CampaignKind::Access,
        };
        let admin = approver(&idp, "carol", None);
        let c = reviews::start_campaign(&idp, &admin, &campaign("Q4"))
            .await
            .unwrap()
            .announce(&idp);
        assert_eq!(c.items, 1, "{kind}");
        let mut db = idp.store.acquire().await.unwrap();
        let items = reviews::item_views(
            &idp,
            idp_store::reviews::all_items(&mut db, &c.id).await.unwrap(),
        );
        drop(db);
        // olga owns the agent: the item went to the next reviewer.
        assert_eq!(items[0].reviewer, "dave", "{kind}");
        let decide = |who: &str, decision| {
            // Deciding access review items takes the reviewer role.
            let reviewer = Principal {
                roles: [Role::Reviewer].into(),
                ..approver(&idp, who, None)
            };
            let (idp, who, id) = (idp.clone(), reviewer, c.id.clone());
            let body = ReviewDecisions {
                items: vec![items[0].id.clone()],
                decision,
                scopes: None,
                reason: Some("reviewed".into()),
            };
            async move { reviews::decide_items(&idp, &who, &id, &body).await }
        };
        assert!(matches!(
            decide("carol", ReviewDecision::Revoke).await,
            Err(ServiceError::Forbidden(_))
        ));
        let decided = decide("dave", ReviewDecision::Revoke).await.unwrap();
        assert!(decided.connections_changed);
        let kinds: Vec<ChangeKind> = decided.changes.iter().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [ChangeKind::ConnectionRevoked, ChangeKind::ReviewUpdated]
        );
        let decided = decided.announce(&idp);
        assert_eq!(decided[0].remediation.as_deref(), Some("revoked"), "{kind}");
        let mut db = idp.store.acquire().await.unwrap();
        let conn = idp::views::connection_view(&idp, &mut db, &conn_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(conn.status, ConnectionStatus::Revoked, "{kind}");
        let done = reviews::campaign_view(&mut db, &c.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            done.status,
            CampaignStatus::Completed,
            "{kind}: its last item"
        );
        drop(db);

        // A second campaign nobody decides: at the due date the deadline job
        // applies the default action as `system:review-deadline`.
        let (conn2, _) = approved_connection(&idp).await;
        let c2 = reviews::start_campaign(&idp, &admin, &campaign("Q1"))
            .await
            .unwrap()
            .announce(&idp);
        assert_eq!(reviews::run_due(&idp).await, 0, "{kind}: not due yet");
        idp.advance_clock(3601);
        assert_eq!(reviews::run_due(&idp).await, 1, "{kind}");
        let mut db = idp.store.acquire().await.unwrap();
        let conn = idp::views::connection_view(&idp, &mut db, &conn2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(conn.status, ConnectionStatus::Revoked, "{kind}");
        let item = &idp_store::reviews::all_items(&mut db, &c2.id)
            .await
            .unwrap()[0];
        assert!(item.defaulted);
        assert_eq!(item.decided_by.as_deref(), Some("system:review-deadline"));
        assert_eq!(reviews::run_due(&idp).await, 0, "{kind}: completed once");
    }
}

/// Two nodes on one PostgreSQL derive notifications at once (their own
/// notifiers twice a second, and these calls): each audit event becomes the
/// channel's notification once. And a pass never waits for the writer lock,
/// which every audit append takes — each token exchange's too: a pass that
/// held it for its whole transaction held up every exchange meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_derive_each_notification_once_and_never_wait_for_the_writer_lock() {
    use idp_store::{audit::AuditEvent, notifications};
    let Some(url) = fresh_postgres().await else {
        eprintln!("GATEHOUSE_POSTGRES is not set: no second node to derive beside");
        return;
    };
    let nodes = [build(&url).await, build(&url).await];
    let mut tx = nodes[0].store.begin_write().await.unwrap();
    notifications::insert_channel(
        &mut tx,
        &notifications::Channel {
            id: "ch_1".into(),
            name: "approvers".into(),
            kind: "webhook".into(),
            url: "http://127.0.0.1:9/hook".into(),
            secret: None,
            events: vec![],
            created_by: "olga".into(),
            created_at: 0,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    idp::notify::derive(&nodes[1]).await.unwrap();
    let pending = async |node: &SharedIdp| {
        let mut c = node.store.acquire().await.unwrap();
        let cursor = notifications::cursor(&mut c).await.unwrap().unwrap();
        cursor < notifications::audit_head(&mut c).await.unwrap()
    };
    let created = async |node: &SharedIdp, n: usize| {
        for i in 0..n {
            let mut e = AuditEvent::new(
                "connection_request.created",
                idp_store::audit::AuditOutcome::Success,
            );
            e.target = Some(format!("rq_{i}"));
            e.detail = serde_json::json!({"resource_app": "crm"});
            node.audit.record(e, node.now_ms()).await.unwrap();
        }
    };

    // Appends on both nodes while both derive.
    let deriving = |node: SharedIdp| {
        tokio::spawn(async move {
            for _ in 0..40 {
                idp::notify::derive(&node).await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let (a, b) = (deriving(nodes[0].clone()), deriving(nodes[1].clone()));
    tokio::join!(created(&nodes[0], 60), created(&nodes[1], 60));
    a.await.unwrap();
    b.await.unwrap();

    // With events waiting and the writer lock held, a pass still finishes.
    let lock = loop {
        created(&nodes[0], 3).await;
        let lock = nodes[0].store.begin_write().await.unwrap();
        if pending(&nodes[0]).await {
            break lock;
        }
        // A notifier took them first; try again.
    };
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        idp::notify::derive(&nodes[1]),
    )
    .await
    .expect("a derive pass waited for the writer lock")
    .unwrap();
    drop(lock);

    while pending(&nodes[0]).await {
        idp::notify::derive(&nodes[0]).await.unwrap();
    }
    let mut c = nodes[0].store.acquire().await.unwrap();
    let queued = notifications::receipts(&mut c, "ch_1", 10_000)
        .await
        .unwrap();
    let mut seqs: Vec<i64> = queued.iter().map(|r| r.audit_seq).collect();
    seqs.sort();
    seqs.dedup();
    assert_eq!(seqs.len(), queued.len(), "an event queued twice");
    let created_events = idp_store::audit::AuditFilter {
        kind: Some("connection_request.created".into()),
        ..Default::default()
    };
    let (_, total) = nodes[0]
        .store
        .audit_page(&created_events, idp_store::audit::Order::Oldest, 0, 1)
        .await
        .unwrap();
    assert!(total >= 123, "{total}");
    assert_eq!(queued.len() as i64, total, "every event queued");
}

/// A person leaves: a client registered a moment ago that this node's
/// registry snapshot does not hold yet (another node wrote it, and its change
/// has not reached this one) still passes to its successor, because the
/// departure's transaction reads the clients itself.
#[tokio::test]
async fn a_client_this_node_has_not_reloaded_yet_still_passes_to_its_successor() {
    use idp::services::directory::{Provisioner, create_person, delete_person};
    use idp_store::registry::{self, EntryWrite, Kind, Origin};
    for (idp, kind, _keep) in idps().await {
        let who = Provisioner {
            token_name: "hr".into(),
            request_id: "test".into(),
        };
        let mut ids = Vec::new();
        for name in ["leaver", "heir"] {
            let body = serde_json::json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name, "active": true,
            });
            ids.push(create_person(&idp, &who, &body).await.unwrap().id);
        }
        // Written straight to the store, as another node would: no reload here.
        let doc = serde_json::json!({
            "client_id": "fresh-bot", "name": "Fresh", "auth": {"method": "none"},
            "owners": ["leaver"], "successors": ["heir"],
        });
        let mut tx = idp.store.begin_write().await.unwrap();
        let entry = EntryWrite {
            key: "fresh-bot",
            audience: None,
            doc: &doc,
        };
        assert!(
            registry::insert(&mut tx, Kind::Client, &entry, Origin::Admin, idp.now())
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        assert!(
            idp.catalog().client("fresh-bot").is_none(),
            "{kind}: not reloaded"
        );

        delete_person(&idp, &who, &ids[0], None).await.unwrap();
        let mut c = idp.store.acquire().await.unwrap();
        let stored = registry::get(&mut c, Kind::Client, "fresh-bot")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.doc["owners"], serde_json::json!(["heir"]), "{kind}");
        assert_eq!(audited(&idp, "client.succession").await, 1, "{kind}");
    }
}
