//! The seeded world of the demo: people in groups, AI clients, MCP resource apps
//! with scope catalogues of mixed risk, some approved connections and some pending
//! requests. Passwords, client secrets and TOTP secrets are fresh on every start.

use idp::config::{Risk, ScopeCondition, ScopeDef, StepUpRule};

pub struct UserSeed {
    pub username: &'static str,
    pub name: &'static str,
    pub groups: &'static [&'static str],
    pub totp: bool,
}

pub const USERS: &[UserSeed] = &[
    UserSeed {
        username: "alice",
        name: "Alice Chen",
        groups: &["engineering", "employees"],
        totp: false,
    },
    UserSeed {
        username: "bob",
        name: "Bob Okafor",
        groups: &["sales", "employees"],
        totp: false,
    },
    UserSeed {
        username: "carol",
        name: "Carol Diaz",
        groups: &["iam-approvers", "security", "employees"],
        totp: true,
    },
    UserSeed {
        username: "dave",
        name: "Dave Müller",
        groups: &["it-helpdesk", "employees"],
        totp: true,
    },
    UserSeed {
        username: "erin",
        name: "Erin Park",
        groups: &["finance", "employees"],
        totp: true,
    },
    UserSeed {
        username: "frank",
        name: "Frank Osei",
        groups: &["engineering", "contractors"],
        totp: false,
    },
    UserSeed {
        username: "grace",
        name: "Grace Liu",
        groups: &["support", "employees"],
        totp: false,
    },
    UserSeed {
        username: "heidi",
        name: "Heidi Novak",
        groups: &["internal-audit", "employees"],
        totp: false,
    },
    UserSeed {
        username: "ivan",
        name: "Ivan Petrov",
        groups: &["access-reviewers", "employees"],
        totp: false,
    },
    UserSeed {
        username: "judy",
        name: "Judy Adeyemi",
        groups: &["iam-admins", "security", "employees"],
        totp: true,
    },
    UserSeed {
        username: "oscar",
        name: "Oscar Lind",
        groups: &["iam-approvers", "employees"],
        totp: true,
    },
];

/// Admin roles by group.
pub const ROLES: &[(admin_api::Role, &[&str])] = &[
    (admin_api::Role::Approver, &["iam-approvers"]),
    (admin_api::Role::Helpdesk, &["it-helpdesk"]),
    (admin_api::Role::Reviewer, &["access-reviewers"]),
    (admin_api::Role::Auditor, &["internal-audit"]),
    (admin_api::Role::Admin, &["iam-admins"]),
];

/// The console's client id: a public client (PKCE, loopback redirect on any port).
pub const CONSOLE_CLIENT_ID: &str = "gatehouse-console";

pub struct ClientSeed {
    pub client_id: &'static str,
    pub name: &'static str,
    pub owners: &'static [&'static str],
    pub description: &'static str,
}

pub const CLIENTS: &[ClientSeed] = &[
    ClientSeed {
        client_id: "code-agent",
        name: "Code Assistant",
        owners: &["alice"],
        description: "IDE agent that reads and edits design docs",
    },
    ClientSeed {
        client_id: "research-assistant",
        name: "Research Assistant",
        owners: &["heidi"],
        description: "Desktop chat assistant with MCP connectors",
    },
    ClientSeed {
        client_id: "support-copilot",
        name: "Support Copilot",
        owners: &["grace", "oscar"],
        description: "Drafts replies to customer tickets",
    },
    ClientSeed {
        client_id: "sales-notetaker",
        name: "Sales Notetaker",
        owners: &["bob"],
        description: "Summarises calls into the CRM",
    },
    ClientSeed {
        client_id: "finance-analyst",
        name: "Finance Analyst",
        owners: &["erin"],
        description: "Reconciles invoices and prepares payments",
    },
];

pub struct AppSeed {
    pub id: &'static str,
    pub name: &'static str,
    pub scopes: &'static [(&'static str, &'static str, Risk, bool)],
    /// (read, write, delete) scopes of the MCP tools.
    pub tools: (&'static str, &'static str, &'static str),
    /// Whether clients have their own client ids at this AS (exercises the mapping).
    pub mapped_ids: bool,
    pub records: &'static [&'static str],
    pub owners: &'static [&'static str],
}

pub const APPS: &[AppSeed] = &[
    AppSeed {
        id: "docs",
        name: "Docs Workspace",
        scopes: &[
            (
                "docs.read",
                "Read documents and folders you can see",
                Risk::Read,
                false,
            ),
            (
                "docs.write",
                "Create and edit documents",
                Risk::Write,
                false,
            ),
            (
                "docs.share",
                "Share documents with other people",
                Risk::Write,
                false,
            ),
            (
                "docs.delete",
                "Delete documents permanently",
                Risk::Destructive,
                false,
            ),
            (
                "docs.admin",
                "Change workspace settings and permissions",
                Risk::Admin,
                true,
            ),
        ],
        tools: ("docs.read", "docs.write", "docs.delete"),
        mapped_ids: false,
        records: &[
            "Q3 architecture review",
            "Onboarding guide",
            "Incident 4711 postmortem",
        ],
        owners: &["alice"],
    },
    AppSeed {
        id: "crm",
        name: "CRM",
        scopes: &[
            (
                "crm.contacts.read",
                "Read customer contacts",
                Risk::Read,
                false,
            ),
            (
                "crm.contacts.write",
                "Create and edit customer contacts",
                Risk::Write,
                false,
            ),
            (
                "crm.deals.read",
                "Read deals and pipeline",
                Risk::Read,
                false,
            ),
            (
                "crm.deals.write",
                "Update deals and pipeline",
                Risk::Write,
                false,
            ),
            (
                "crm.export",
                "Export the whole customer database",
                Risk::Read,
                true,
            ),
            (
                "crm.delete",
                "Delete contacts and deals",
                Risk::Destructive,
                false,
            ),
        ],
        tools: ("crm.contacts.read", "crm.contacts.write", "crm.delete"),
        mapped_ids: true,
        records: &["Acme Corp renewal", "Globex expansion", "Initech pilot"],
        owners: &["bob"],
    },
    AppSeed {
        id: "tickets",
        name: "Service Desk",
        scopes: &[
            (
                "tickets.read",
                "Read tickets and their history",
                Risk::Read,
                false,
            ),
            ("tickets.comment", "Comment on tickets", Risk::Write, false),
            (
                "tickets.update",
                "Change ticket fields and assignees",
                Risk::Write,
                false,
            ),
            (
                "tickets.close",
                "Close and delete tickets",
                Risk::Destructive,
                false,
            ),
        ],
        tools: ("tickets.read", "tickets.comment", "tickets.close"),
        mapped_ids: false,
        records: &[
            "VPN drops every hour",
            "Laptop refresh request",
            "Printer on floor 3",
        ],
        owners: &["grace"],
    },
    AppSeed {
        id: "ledger",
        name: "Finance Ledger",
        scopes: &[
            ("ledger.read", "Read the general ledger", Risk::Read, false),
            (
                "invoices.create",
                "Create draft invoices",
                Risk::Write,
                false,
            ),
            (
                "payments.create",
                "Prepare outgoing payments",
                Risk::Write,
                true,
            ),
            (
                "payments.approve",
                "Release outgoing payments",
                Risk::Admin,
                true,
            ),
        ],
        tools: ("ledger.read", "invoices.create", "payments.approve"),
        mapped_ids: true,
        records: &["FY26 Q3 close", "Vendor 1042 invoice"],
        owners: &["erin"],
    },
];

pub fn scope_defs(app: &AppSeed) -> Vec<ScopeDef> {
    app.scopes
        .iter()
        .map(|(n, d, r, s)| ScopeDef {
            name: (*n).into(),
            description: (*d).into(),
            risk: *r,
            sensitive: *s,
        })
        .collect()
}

pub struct ConnectionSeedDef {
    pub client_id: &'static str,
    pub app: &'static str,
    pub scopes: Option<&'static [&'static str]>,
    pub groups: &'static [&'static str],
    pub step_up: &'static [(&'static str, u64)],
}

pub const CONNECTIONS: &[ConnectionSeedDef] = &[
    ConnectionSeedDef {
        client_id: "code-agent",
        app: "docs",
        scopes: Some(&["docs.read", "docs.write", "docs.admin"]),
        groups: &["engineering", "security"],
        step_up: &[("docs.admin", 900)],
    },
    ConnectionSeedDef {
        client_id: "support-copilot",
        app: "tickets",
        scopes: None,
        groups: &[],
        step_up: &[],
    },
    ConnectionSeedDef {
        client_id: "sales-notetaker",
        app: "crm",
        scopes: Some(&["crm.contacts.read", "crm.deals.read", "crm.deals.write"]),
        groups: &["sales"],
        step_up: &[],
    },
    ConnectionSeedDef {
        client_id: "research-assistant",
        app: "docs",
        scopes: Some(&["docs.read"]),
        groups: &[],
        step_up: &[],
    },
];

pub fn condition(c: &ConnectionSeedDef) -> ScopeCondition {
    match c.scopes {
        None => ScopeCondition::All,
        Some(list) => ScopeCondition::IncludeOnly(list.iter().map(|s| (*s).into()).collect()),
    }
}

pub fn step_up(c: &ConnectionSeedDef) -> Vec<StepUpRule> {
    c.step_up
        .iter()
        .map(|(s, age)| StepUpRule {
            scope: (*s).into(),
            acr: Some(xaa::ACR_MFA.into()),
            max_age: Some(*age),
        })
        .collect()
}

/// A pending request the demo starts with: (client, app, scopes, users, justification).
pub type PendingSeed = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    Option<&'static str>,
);

pub const PENDING: &[PendingSeed] = &[
    (
        "research-assistant",
        "crm",
        &["crm.contacts.read", "crm.deals.read"],
        &["alice", "bob"],
        None,
    ),
    (
        "code-agent",
        "tickets",
        &["tickets.read", "tickets.comment"],
        &["frank"],
        Some("Link incidents to design docs while coding"),
    ),
    (
        "finance-analyst",
        "ledger",
        &["ledger.read", "payments.create"],
        &["erin"],
        Some("Month-end reconciliation"),
    ),
    (
        "support-copilot",
        "crm",
        &["crm.contacts.read", "crm.export"],
        &["grace"],
        None,
    ),
];
