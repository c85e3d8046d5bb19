//! Ninety days of history for the demo world, so every screen has something
//! to show on the first start: a few hundred people in departments, a couple
//! of dozen AI clients (one orphaned: its only owner is gone) with sponsors
//! and successors, a dozen resource apps, connections approved over the
//! quarter — some idle, some granted more than they use, some with sensitive
//! scopes and no step-up — the ID-JAGs they were issued (the usage, findings
//! and charts read the audit log), decisions over the last two weeks, a
//! pending queue of every age, and an access review due in two days with
//! nothing decided.
//!
//! [`plan`] is a pure function of a seed (offsets from "now", no clock, no
//! randomness of the system's): the same seed gives the same world. [`seed`]
//! writes it straight into the demo IdP's database in a few transactions —
//! the way a tenant's database looks after months, as `scale` does — and the
//! audit events go through the hash chain like any other.

use crate::{Demo, world};
use idp::{
    audit::{AuditEvent, AuditOutcome},
    config::{Client, ClientAuth, ResourceApp, Risk, ScopeDef},
    store::{
        directory::SeedPerson,
        registry::{self, EntryWrite, Kind, Origin},
        scale::{BulkConnection, BulkRequest},
    },
};
use serde_json::json;

const DAY: i64 = 86_400;

/// SplitMix64: a small, well-mixed generator, so the plan depends on the seed alone.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const FIRST: &[&str] = &[
    "amara", "ben", "chloe", "diego", "elena", "farid", "gita", "hugo", "ines", "jonas", "kemi",
    "liam", "maya", "nikos", "olga", "pablo", "quinn", "rosa", "sami", "tara", "umar", "vera",
    "wei", "ximena", "yusuf", "zoe",
];
const LAST: &[&str] = &[
    "abara",
    "berg",
    "costa",
    "dubois",
    "evans",
    "fischer",
    "garcia",
    "haddad",
    "ito",
    "jensen",
    "kowalski",
    "lindqvist",
    "moreau",
    "nakamura",
    "oduya",
];
const DEPARTMENTS: &[&str] = &[
    "engineering",
    "sales",
    "support",
    "finance",
    "marketing",
    "legal",
    "hr",
    "data",
];

/// (id, name, department that owns it, scopes: name, risk, sensitive)
type AppPlan = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, Risk, bool)],
);

const APPS: &[AppPlan] = &[
    (
        "hr-portal",
        "HR Portal",
        "hr",
        &[
            ("hr.profiles.read", Risk::Read, false),
            ("hr.profiles.write", Risk::Write, false),
            ("hr.compensation.read", Risk::Read, true),
        ],
    ),
    (
        "payroll",
        "Payroll",
        "finance",
        &[
            ("payroll.read", Risk::Read, true),
            ("payroll.run", Risk::Admin, true),
        ],
    ),
    (
        "wiki",
        "Company Wiki",
        "engineering",
        &[
            ("wiki.read", Risk::Read, false),
            ("wiki.edit", Risk::Write, false),
            ("wiki.delete", Risk::Destructive, false),
        ],
    ),
    (
        "analytics",
        "Analytics Warehouse",
        "data",
        &[
            ("warehouse.query", Risk::Read, false),
            ("warehouse.export", Risk::Read, true),
            ("warehouse.admin", Risk::Admin, true),
        ],
    ),
    (
        "calendar",
        "Calendar",
        "engineering",
        &[
            ("calendar.read", Risk::Read, false),
            ("calendar.write", Risk::Write, false),
        ],
    ),
    (
        "code",
        "Source Code",
        "engineering",
        &[
            ("repo.read", Risk::Read, false),
            ("repo.write", Risk::Write, false),
            ("repo.admin", Risk::Admin, true),
        ],
    ),
    (
        "cloud",
        "Cloud Console",
        "engineering",
        &[
            ("cloud.read", Risk::Read, false),
            ("cloud.deploy", Risk::Write, false),
            ("cloud.delete", Risk::Destructive, true),
        ],
    ),
    (
        "contracts",
        "Contract Vault",
        "legal",
        &[
            ("contracts.read", Risk::Read, false),
            ("contracts.sign", Risk::Admin, true),
        ],
    ),
];

const CLIENTS: &[(&str, &str)] = &[
    ("meeting-summarizer", "Meeting Summarizer"),
    ("contract-reviewer", "Contract Reviewer"),
    ("release-bot", "Release Bot"),
    ("onboarding-buddy", "Onboarding Buddy"),
    ("pipeline-forecaster", "Pipeline Forecaster"),
    ("ticket-triage", "Ticket Triage"),
    ("expense-auditor", "Expense Auditor"),
    ("campaign-writer", "Campaign Writer"),
    ("query-copilot", "Query Copilot"),
    ("incident-scribe", "Incident Scribe"),
    ("policy-checker", "Policy Checker"),
    ("interview-scheduler", "Interview Scheduler"),
    ("docs-translator", "Docs Translator"),
    ("vendor-screener", "Vendor Screener"),
    ("infra-assistant", "Infra Assistant"),
    ("kb-answerer", "Knowledge Base Answerer"),
    ("deal-desk", "Deal Desk Agent"),
    ("payroll-checker", "Payroll Checker"),
    ("churn-analyst", "Churn Analyst"),
];

/// The orphaned client: its only owner left the company (not in the directory).
pub const ORPHANED: &str = "legacy-notebook";

/// A planned person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedPerson {
    pub username: String,
    pub department: &'static str,
}

/// A planned AI client and who answers for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedClient {
    pub client_id: String,
    pub name: String,
    pub owners: Vec<String>,
    pub sponsor: Option<String>,
    pub successors: Vec<String>,
}

/// An app's scopes: name, risk, sensitive.
type Scopes = Vec<(String, Risk, bool)>;

/// A planned connection and its usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedConnection {
    pub id: String,
    pub client_id: String,
    pub app: String,
    pub scopes: Vec<String>,
    /// The scopes its ID-JAGs carry (a prefix of `scopes`: over-granted when shorter).
    pub used: Vec<String>,
    pub group: String,
    pub age_days: i64,
    /// Days since its last ID-JAG; none ever when `None`.
    pub idle_days: Option<i64>,
}

/// The whole history, as offsets from "now".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub people: Vec<PlannedPerson>,
    pub clients: Vec<PlannedClient>,
    pub connections: Vec<PlannedConnection>,
    /// (connection index, username, seconds ago, scopes)
    pub exchanges: Vec<(usize, String, i64, String)>,
    /// (seconds ago, approved)
    pub decisions: Vec<(i64, bool)>,
    /// (client, app, scope, username, seconds ago)
    pub pending: Vec<(String, String, String, String, i64)>,
}

/// The history a seed makes.
pub fn plan(seed: u64) -> Plan {
    let mut r = Rng(seed);
    let mut people = Vec::new();
    for (i, last) in LAST.iter().enumerate() {
        for (j, first) in FIRST.iter().enumerate() {
            if (i + j) % 2 == 1 {
                continue; // 195 people: every other pair
            }
            let department = DEPARTMENTS[r.below(DEPARTMENTS.len() as u64) as usize];
            people.push(PlannedPerson {
                username: format!("{first}.{last}"),
                department,
            });
        }
    }
    let in_dept = |d: &str| -> Vec<String> {
        people
            .iter()
            .filter(|p| p.department == d)
            .map(|p| p.username.clone())
            .collect()
    };
    let mut clients = Vec::new();
    for (id, name) in CLIENTS {
        let dept = DEPARTMENTS[r.below(DEPARTMENTS.len() as u64) as usize];
        let staff = in_dept(dept);
        let pick = |r: &mut Rng| staff[r.below(staff.len() as u64) as usize].clone();
        let owner = pick(&mut r);
        let mut sponsor = pick(&mut r);
        if sponsor == owner {
            sponsor = staff
                .iter()
                .find(|s| **s != owner)
                .cloned()
                .unwrap_or(sponsor);
        }
        let successors: Vec<String> = staff
            .iter()
            .filter(|s| **s != owner && **s != sponsor)
            .take(r.below(3) as usize)
            .cloned()
            .collect();
        clients.push(PlannedClient {
            client_id: id.to_string(),
            name: name.to_string(),
            owners: vec![owner],
            sponsor: Some(sponsor),
            successors,
        });
    }
    clients.push(PlannedClient {
        client_id: ORPHANED.into(),
        name: "Legacy Notebook Agent".into(),
        owners: vec!["lena.brandt".into()],
        sponsor: None,
        successors: vec![],
    });
    let all_apps: Vec<(String, Scopes)> = world::APPS
        .iter()
        .map(|a| {
            (
                a.id.to_string(),
                a.scopes
                    .iter()
                    .map(|s| (s.0.to_string(), s.2, s.3))
                    .collect(),
            )
        })
        .chain(APPS.iter().map(|a| {
            (
                a.0.to_string(),
                a.3.iter().map(|s| (s.0.to_string(), s.1, s.2)).collect(),
            )
        }))
        .collect();
    let mut connections = Vec::new();
    for (ci, PlannedClient { client_id, .. }) in clients.iter().enumerate() {
        let n = 2 + r.below(3) as usize;
        let first = r.below(all_apps.len() as u64) as usize;
        for k in 0..n {
            let (app, scopes) = &all_apps[(first + k * 3) % all_apps.len()];
            let granted = 1 + r.below(scopes.len() as u64) as usize;
            let names: Vec<String> = scopes[..granted].iter().map(|s| s.0.clone()).collect();
            // A third use fewer scopes than granted.
            let used = if granted > 1 && r.chance(35) {
                names[..1 + r.below(granted as u64 - 1) as usize].to_vec()
            } else {
                names.clone()
            };
            let age_days = 5 + r.below(86) as i64;
            let idle_days = if client_id == ORPHANED || r.chance(20) {
                (r.chance(50)).then(|| age_days.min(40 + r.below(30) as i64))
            } else {
                Some(r.below(3) as i64)
            };
            connections.push(PlannedConnection {
                id: format!("conn_hist{ci:02}{k}"),
                client_id: client_id.clone(),
                app: app.clone(),
                scopes: names,
                used,
                group: DEPARTMENTS[r.below(DEPARTMENTS.len() as u64) as usize].into(),
                age_days,
                idle_days,
            });
        }
    }
    let mut exchanges = Vec::new();
    for (i, c) in connections.iter().enumerate() {
        let Some(idle) = c.idle_days else { continue };
        if idle > c.age_days {
            continue;
        }
        let staff = in_dept(&c.group);
        let days = (c.age_days - idle).min(90);
        for d in 0..days {
            if !r.chance(40) {
                continue;
            }
            for _ in 0..1 + r.below(3) {
                let who = staff[r.below(staff.len() as u64) as usize].clone();
                let scope = c.used[..1 + r.below(c.used.len() as u64) as usize].join(" ");
                let ago = (idle + d) * DAY + r.below(DAY as u64) as i64;
                exchanges.push((i, who, ago, scope));
            }
        }
    }
    let decisions = (0..38)
        .map(|_| (r.below(13 * DAY as u64) as i64, r.chance(80)))
        .collect();
    let pending = (0..14)
        .map(|_| {
            let client_id = &clients[r.below(clients.len() as u64) as usize].client_id;
            let (app, scopes) = &all_apps[r.below(all_apps.len() as u64) as usize];
            let scope = scopes[r.below(scopes.len() as u64) as usize].0.clone();
            let who = people[r.below(people.len() as u64) as usize]
                .username
                .clone();
            // From minutes to three weeks old.
            let ago =
                [600, 5_000, 30_000, 200_000, 900_000][r.below(5) as usize] + r.below(3_600) as i64;
            (client_id.clone(), app.clone(), scope, who, ago)
        })
        .collect();
    Plan {
        people,
        clients,
        connections,
        exchanges,
        decisions,
        pending,
    }
}

/// What [`seed`] added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seeded {
    pub people: usize,
    pub clients: usize,
    pub apps: usize,
    pub connections: usize,
    pub exchanges: usize,
    pub pending: usize,
}

/// Writes the history of `seed` into the demo's IdP.
pub async fn seed(demo: &Demo, seed: u64) -> Result<Seeded, sqlx::Error> {
    let p = plan(seed);
    let idp = &demo.idp;
    let now = idp.now();
    let now_ms = idp.now_ms();
    let store = &idp.store;

    // People, in their departments and everyone in `employees`.
    let groups: Vec<Vec<String>> = p
        .people
        .iter()
        .map(|x| vec![x.department.to_string(), "employees".into()])
        .collect();
    let seeds: Vec<SeedPerson> = p
        .people
        .iter()
        .zip(&groups)
        .map(|(x, g)| {
            let (first, last) = x.username.split_once('.').unwrap_or((&x.username, ""));
            SeedPerson {
                username: &x.username,
                groups: g,
                resource: json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": x.username, "active": true,
                    "displayName": format!("{} {}", capital(first), capital(last)),
                    "emails": [{ "value": format!("{}@example.com", x.username), "primary": true }],
                }),
            }
        })
        .collect();
    let mut tx = store.begin_write().await?;
    let mut n = 0u64;
    let mut new_id = || {
        n += 1;
        format!("hist-{seed}-{n:05}")
    };
    let people = idp::store::directory::seed(&mut tx, &seeds, &mut new_id, now).await?;

    // The other resource apps (catalogue only: no servers of their own) and the AI clients.
    for (id, name, dept, scopes) in APPS {
        let app = ResourceApp {
            id: (*id).into(),
            name: (*name).into(),
            issuer: format!("https://{id}.apps.example.com"),
            mcp_servers: vec![format!("https://{id}.apps.example.com/mcp")],
            client_ids: Default::default(),
            scopes: scopes
                .iter()
                .map(|(s, risk, sensitive)| ScopeDef {
                    name: (*s).into(),
                    description: format!("{} ({})", s.replace('.', " "), risk_word(*risk)),
                    risk: *risk,
                    sensitive: *sensitive,
                })
                .collect(),
            receivers: vec![],
            owners: p
                .people
                .iter()
                .filter(|x| x.department == *dept)
                .take(1)
                .map(|x| x.username.clone())
                .collect(),
        };
        let doc = serde_json::to_value(&app).expect("an app serializes");
        registry::insert(
            &mut tx,
            Kind::App,
            &EntryWrite {
                key: id,
                audience: Some(&app.issuer),
                doc: &doc,
            },
            Origin::Admin,
            now,
        )
        .await?;
    }
    for pc in &p.clients {
        let (client_id, name) = (&pc.client_id, &pc.name);
        let c = Client {
            client_id: client_id.clone(),
            name: name.clone(),
            auth: ClientAuth::ClientSecret {
                secret_sha256: xaa::util::sha256_hex(xaa::util::random_token(24).as_bytes()),
                previous: None,
            },
            redirect_uris: vec![crate::REDIRECT_URI.into()],
            owners: pc.owners.clone(),
            sponsor: pc.sponsor.clone(),
            successors: pc.successors.clone(),
            description: Some(format!("{name}, in use since last quarter")),
            admin: false,
        };
        let doc = serde_json::to_value(&c).expect("a client serializes");
        registry::insert(
            &mut tx,
            Kind::Client,
            &EntryWrite {
                key: client_id,
                audience: None,
                doc: &doc,
            },
            Origin::Admin,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    idp.registry.reload(store).await?;

    // Connections and the pending queue.
    let conns: Vec<BulkConnection> = p
        .connections
        .iter()
        .map(|c| BulkConnection {
            id: c.id.clone(),
            client_id: c.client_id.clone(),
            resource_app: c.app.clone(),
            scopes: c.scopes.clone(),
            allowed_groups: vec![c.group.clone()],
            created_at: now - c.age_days * DAY,
            last_used_at: c
                .idle_days
                .filter(|i| *i <= c.age_days)
                .map(|i| now - i * DAY),
        })
        .collect();
    let requests: Vec<BulkRequest> = p
        .pending
        .iter()
        .enumerate()
        .map(|(i, (client, app, scope, who, ago))| BulkRequest {
            id: format!("req_hist{seed}{i:03}"),
            client_id: client.clone(),
            resource_app: app.clone(),
            scopes: vec![scope.clone()],
            refused_count: 1 + (i as i64 % 5),
            first_seen: now - ago,
            last_seen: now - ago / 2,
            username: who.clone(),
            groups: p
                .people
                .iter()
                .find(|x| &x.username == who)
                .map(|x| vec![x.department.to_string(), "employees".into()])
                .unwrap_or_default(),
        })
        .collect();
    store.bulk_insert(&conns, &requests).await?;

    // The ID-JAGs they were issued and the decisions of the last two weeks,
    // through the audit chain, oldest first.
    let audience = |app: &str| {
        idp.catalog()
            .resource_app(app)
            .map(|a| a.issuer.clone())
            .unwrap_or_default()
    };
    let mut events: Vec<(AuditEvent, i64)> = Vec::new();
    for (i, who, ago, scope) in &p.exchanges {
        let c = &p.connections[*i];
        let mut e = AuditEvent::new("id_jag.exchange", AuditOutcome::Success);
        e.client_id = Some(c.client_id.clone());
        e.subject = Some(who.clone());
        e.target = Some(audience(&c.app));
        e.detail = json!({ "connection_id": c.id, "scope": scope, "history": true });
        events.push((e, now_ms - ago * 1000));
    }
    for (k, (ago, approved)) in p.decisions.iter().enumerate() {
        let kind = if *approved {
            "connection_request.approve"
        } else {
            "connection_request.deny"
        };
        let mut e = AuditEvent::new(kind, AuditOutcome::Success);
        e.actor = Some(["carol", "oscar"][k % 2].into());
        e.target = Some(format!("req_past{k:03}"));
        e.detail = json!({ "history": true });
        events.push((e, now_ms - ago * 1000));
    }
    events.sort_by_key(|(_, at)| *at);
    for chunk in events.chunks(2_000) {
        let mut tx = store.begin_write().await?;
        let rows: Vec<(&AuditEvent, i64)> = chunk.iter().map(|(e, at)| (e, *at)).collect();
        idp::audit::append(&mut tx, &rows).await?;
        tx.commit().await?;
    }
    idp.connections.invalidate();

    // A quarterly access review started 12 days ago and due in two, nothing
    // decided yet: its reviewer has the whole queue ahead (past its due date
    // the IdP would apply the default action on its own).
    let admin = idp::services::Principal {
        subject: "judy".into(),
        roles: [admin_api::Role::Admin].into(),
        acr: Some(xaa::ACR_MFA.into()),
        auth_time: Some(now),
        kind: idp::services::PrincipalKind::Session,
        request_id: "demo-history".into(),
    };
    let review = admin_api::CreateCampaign {
        name: "Q4 access review of AI connections".into(),
        scope: Default::default(),
        reviewers: vec!["ivan".into()],
        fallback_reviewer: "ivan".into(),
        starts_at: Some(now - 12 * DAY),
        due_at: now + 2 * DAY,
        default_action: admin_api::ReviewDefault::Recommendation,
        per_user: false,
        kind: admin_api::CampaignKind::Access,
    };
    idp::services::reviews::start_campaign(idp, &admin, &review)
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("{e:?}")))?
        .announce(idp);
    Ok(Seeded {
        people,
        clients: p.clients.len(),
        apps: APPS.len(),
        connections: conns.len(),
        exchanges: p.exchanges.len(),
        pending: requests.len(),
    })
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn risk_word(r: Risk) -> &'static str {
    match r {
        Risk::Read => "read",
        Risk::Write => "write",
        Risk::Destructive => "destructive",
        Risk::Admin => "admin",
    }
}
