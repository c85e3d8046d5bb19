//! SCIM 2.0 provisioning over loopback against the demo IdP: discovery, the
//! token checks (only a provisioner API token passes; every other token the
//! IdP issues is refused), the config's people listed for a connector to take
//! over, the PATCH shapes Entra ID and Okta send, ETags, and what the gate does
//! with it: a group change takes effect on the next exchange, a deactivation
//! refuses every exchange and queues revocation events, all audited with the
//! connector as the actor.

use admin_api::{AdminClient, CreateApiToken, Role};
use gatehouse_tests::{admin_session, exchange, expect_oauth, sign_in, start_demo};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use xaa::ErrorCode;

struct Scim {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Scim {
    /// The demo's SCIM endpoint with its provisioning token.
    fn of(i: &demo::DemoInfo) -> Scim {
        Scim {
            http: reqwest::Client::new(),
            base: i.scim_url.clone(),
            token: i.scim_token.clone(),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value, Option<String>) {
        self.call_with(method, path, body, &[]).await
    }

    async fn call_with(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value, Option<String>) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let etag = r
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_owned());
        if status != StatusCode::NO_CONTENT {
            assert_eq!(
                r.headers().get("content-type").unwrap(),
                "application/scim+json",
                "{path}"
            );
        }
        let text = r.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, v, etag)
    }

    fn with_token(&self, token: &str) -> Scim {
        Scim {
            http: self.http.clone(),
            base: self.base.clone(),
            token: token.into(),
        }
    }
}

fn patch(ops: Value) -> Value {
    json!({ "schemas": [scim::PATCH_OP], "Operations": ops })
}

async fn user_id(s: &Scim, username: &str) -> String {
    let (st, list, _) = s
        .call(
            Method::GET,
            &format!("/Users?filter=userName%20eq%20%22{username}%22"),
            None,
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list["totalResults"], 1, "{list}");
    list["Resources"][0]["id"].as_str().unwrap().to_owned()
}

async fn group_id(s: &Scim, name: &str) -> String {
    let (_, list, _) = s
        .call(
            Method::GET,
            &format!("/Groups?filter=displayName%20eq%20%22{name}%22&excludedAttributes=members"),
            None,
        )
        .await;
    assert_eq!(list["totalResults"], 1, "{list}");
    assert!(
        list["Resources"][0].get("members").is_none(),
        "members excluded when asked"
    );
    list["Resources"][0]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn only_a_provisioner_api_token_reaches_scim() {
    let d = start_demo().await;
    let i = &d.info;
    assert_eq!(i.scim_url, format!("{}/scim/v2", i.idp));
    let s = Scim::of(i);
    let (st, spc, _) = s.call(Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    let (_, rts, _) = s.call(Method::GET, "/ResourceTypes", None).await;
    assert_eq!(rts["totalResults"], 2);
    let (_, schemas, _) = s.call(Method::GET, "/Schemas", None).await;
    assert_eq!(schemas["Resources"].as_array().unwrap().len(), 3);
    let (st, user_schema, _) = s
        .call(
            Method::GET,
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            None,
        )
        .await;
    assert_eq!(
        (st, user_schema["name"].as_str()),
        (StatusCode::OK, Some("User"))
    );

    // Every other token this IdP issues, and none, is refused.
    let alice = sign_in(i, "alice", "code-agent", false).await;
    let judy = admin_session(i, "judy", false).await;
    let auditor = judy
        .create_api_token(&CreateApiToken {
            name: "auditor-bot".into(),
            roles: vec![Role::Auditor, Role::Admin],
            expires_in: 3600,
        })
        .await
        .unwrap()
        .token;
    let console_token = gatehouse_tests::admin_token(i, "judy", false).await;
    let jag = exchange(i, "code-agent", &alice.id_token, "docs", Some("docs.read"))
        .await
        .unwrap()
        .access_token;
    let docs = i.app("docs");
    let resource_at = agent::redeem(
        &agent::http_client(),
        &docs.issuer,
        &gatehouse_tests::resource_client(i, "code-agent", "docs"),
        &jag,
        None,
    )
    .await
    .unwrap()
    .access_token;
    // Another issuer: the provisioning token and an ID token of another Gatehouse.
    let other = start_demo().await;
    let other_id = sign_in(&other.info, "alice", "code-agent", false).await;
    for (what, token, want) in [
        ("no token", "", StatusCode::UNAUTHORIZED),
        (
            "a made-up API token",
            "gh_adm_000000",
            StatusCode::UNAUTHORIZED,
        ),
        (
            "an ID token",
            alice.id_token.as_str(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "an access token of an AI client",
            alice.access_token.as_str(),
            StatusCode::UNAUTHORIZED,
        ),
        ("an ID-JAG", jag.as_str(), StatusCode::UNAUTHORIZED),
        (
            "the console's admin session",
            console_token.as_str(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "a resource AS access token",
            resource_at.as_str(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "another IdP's provisioning token",
            other.info.scim_token.as_str(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "another IdP's ID token",
            other_id.id_token.as_str(),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "an API token without the provisioner role",
            auditor.as_str(),
            StatusCode::FORBIDDEN,
        ),
    ] {
        let (st, body, _) = s.with_token(token).call(Method::GET, "/Users", None).await;
        assert_eq!(st, want, "{what}");
        assert_eq!(body["schemas"][0], scim::ERROR, "{what}");
        assert_eq!(body["status"], want.as_u16().to_string(), "{what}");
        // Nor can it write.
        let (st, _, _) = s
            .with_token(token)
            .call(Method::POST, "/Users", Some(json!({"userName": "mallory"})))
            .await;
        assert_eq!(st, want, "{what} writing");
    }
    let (_, none, _) = s
        .call(
            Method::GET,
            "/Users?filter=userName%20eq%20%22mallory%22",
            None,
        )
        .await;
    assert_eq!(none["totalResults"], 0, "no refused write left a person");
    // And the provisioner token is no admin API token.
    let bot = AdminClient::new(&i.idp, i.scim_token.clone());
    assert_eq!(bot.whoami().await.unwrap_err().status(), Some(403));
}

#[tokio::test]
async fn provisioning_changes_what_the_gate_allows_at_the_next_exchange() {
    let d = start_demo().await;
    let i = &d.info;
    let s = Scim::of(i);
    // The configuration's people are there for a connector to take over.
    let (_, all, _) = s
        .call(Method::GET, "/Users?count=2&startIndex=1", None)
        .await;
    assert_eq!(all["itemsPerPage"], 2);
    assert_eq!(
        all["totalResults"].as_u64().unwrap() as usize,
        i.users.len()
    );
    let alice_id = user_id(&s, "ALICE").await;
    let (st, alice, etag) = s
        .call(Method::GET, &format!("/Users/{alice_id}"), None)
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(alice["userName"], "alice");
    assert_eq!(alice["active"], true);
    assert_eq!(etag.as_deref(), alice["meta"]["version"].as_str());
    let groups: Vec<&str> = alice["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["display"].as_str().unwrap())
        .collect();
    assert_eq!(groups, ["employees", "engineering"]);

    // Okta takes her over: externalId set by PUT, with If-Match.
    let mut put = alice.clone();
    put["externalId"] = json!("00u-alice");
    let (st, after, new_etag) = s
        .call_with(
            Method::PUT,
            &format!("/Users/{alice_id}"),
            Some(put.clone()),
            &[("if-match", etag.as_deref().unwrap())],
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{after}");
    assert_ne!(new_etag, etag, "the version moved");
    let (st, stale, _) = s
        .call_with(
            Method::PUT,
            &format!("/Users/{alice_id}"),
            Some(put),
            &[("if-match", etag.as_deref().unwrap())],
        )
        .await;
    assert_eq!(st, StatusCode::PRECONDITION_FAILED, "{stale}");
    let (_, by_ext, _) = s
        .call(
            Method::GET,
            "/Users?filter=externalId%20eq%20%2200u-alice%22",
            None,
        )
        .await;
    assert_eq!(by_ext["Resources"][0]["id"], alice_id.as_str());

    // code-agent → docs is limited to engineering and security.
    let signed_in = sign_in(i, "alice", "code-agent", false).await;
    exchange(
        i,
        "code-agent",
        &signed_in.id_token,
        "docs",
        Some("docs.read"),
    )
    .await
    .expect("alice is in engineering");

    // Entra removes her from engineering: the next exchange is refused.
    let eng = group_id(&s, "engineering").await;
    let (st, g, _) = s
        .call(
            Method::PATCH,
            &format!("/Groups/{eng}"),
            Some(patch(
                json!([{"op": "Remove", "path": format!("members[value eq \"{alice_id}\"]")}]),
            )),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{g}");
    assert!(
        g["members"]
            .as_array()
            .is_none_or(|m| m.iter().all(|m| m["value"] != alice_id.as_str()))
    );
    let e = expect_oauth(
        exchange(
            i,
            "code-agent",
            &signed_in.id_token,
            "docs",
            Some("docs.read"),
        )
        .await,
        ErrorCode::AccessDenied,
    );
    assert!(e.error_description.unwrap().contains("group"));
    // Okta adds her back: allowed again.
    let (st, _, _) = s
        .call(
            Method::PATCH,
            &format!("/Groups/{eng}"),
            Some(patch(
                json!([{"op": "add", "path": "members", "value": [{"value": alice_id}]}]),
            )),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    exchange(
        i,
        "code-agent",
        &signed_in.id_token,
        "docs",
        Some("docs.read"),
    )
    .await
    .expect("back in engineering");

    // A member that is no person is refused, and nothing changes.
    let (st, err, _) = s
        .call(
            Method::PATCH,
            &format!("/Groups/{eng}"),
            Some(patch(
                json!([{"op": "add", "path": "members", "value": [{"value": "ghost"}]}]),
            )),
        )
        .await;
    assert_eq!(
        (st, err["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidValue"))
    );

    // Entra deactivates her: every exchange refused, revocation events queued.
    let user_sets = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM revocation_outbox WHERE connection_id IS NULL",
        )
        .fetch_one(d.idp.store.pool())
        .await
        .unwrap()
    };
    let before = user_sets().await;
    let (st, off, _) = s
        .call(
            Method::PATCH,
            &format!("/Users/{alice_id}"),
            Some(patch(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        )
        .await;
    assert_eq!((st, &off["active"]), (StatusCode::OK, &json!(false)));
    let e = expect_oauth(
        exchange(
            i,
            "code-agent",
            &signed_in.id_token,
            "docs",
            Some("docs.read"),
        )
        .await,
        ErrorCode::InvalidGrant,
    );
    assert!(e.error_description.unwrap().contains("deactivated"));
    let receivers: usize = d
        .idp
        .config
        .resource_apps
        .iter()
        .map(|a| a.receivers.len())
        .sum();
    assert!(receivers > 0);
    assert_eq!(
        user_sets().await - before,
        receivers as i64,
        "one SET per receiver"
    );
    let announced: Vec<String> = sqlx::query_scalar(
        "SELECT target FROM change_events WHERE kind = 'directory.updated' ORDER BY id DESC LIMIT 1",
    )
    .fetch_all(d.idp.store.pool())
    .await
    .unwrap();
    assert_eq!(
        announced,
        ["alice"],
        "the consoles are told through the change feed"
    );
    let judy = admin_session(i, "judy", false).await;
    let users: Vec<admin_api::UserView> = judy.get_json("/users", &[]).await.unwrap();
    let listed = users.iter().find(|u| u.username == "alice").unwrap();
    assert!(!listed.active);
    // alice was code-agent's only owner: it is orphaned now; the console is not.
    let clients: Vec<admin_api::ClientView> = judy.get_json("/clients", &[]).await.unwrap();
    let orphaned = |id: &str| clients.iter().find(|c| c.client_id == id).unwrap().orphaned;
    assert!(orphaned("code-agent"));
    assert!(!orphaned("support-copilot"), "grace and oscar still own it");
    assert!(
        !orphaned("gatehouse-console"),
        "an admin client is nobody's AI client"
    );
    let audit = judy
        .audit(&gatehouse_tests::query(&[(
            "kind",
            "person.deactivated".into(),
        )]))
        .await
        .unwrap();
    assert_eq!(audit.items.len(), 1);
    assert_eq!(
        audit.items[0].actor.as_deref(),
        Some("scim:demo-scim-connector")
    );
    assert_eq!(audit.items[0].target.as_deref(), Some("alice"));
    // She cannot sign in again either.
    assert!(
        agent::sign_in(
            &agent::http_client(),
            &i.idp,
            &gatehouse_tests::client(i, "code-agent"),
            demo::REDIRECT_URI,
            &gatehouse_tests::user(i, "alice"),
            &agent::SignInOptions {
                require_mfa: false,
                use_totp: false,
                extra_scope: None,
            },
        )
        .await
        .is_err(),
        "a deactivated person's password no longer signs in"
    );
}

#[tokio::test]
async fn connector_writes_are_checked_and_deletes_are_final() {
    let d = start_demo().await;
    let i = &d.info;
    let s = Scim::of(i);
    let (st, created, _) = s
        .call(
            Method::POST,
            "/Users",
            Some(json!({
                "schemas": [scim::USER_SCHEMA, scim::ENTERPRISE_USER],
                "userName": "nina@example.com", "externalId": "e-nina", "active": true,
                "name": {"givenName": "Nina", "familyName": "Ito"},
                "emails": [{"value": "nina@example.com", "type": "work", "primary": true}],
                scim::ENTERPRISE_USER: {"department": "R&D"},
                "password": "never-stored",
            })),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{created}");
    assert!(
        created.get("password").is_none(),
        "undeclared attributes are dropped"
    );
    assert_eq!(created[scim::ENTERPRISE_USER]["department"], "R&D");
    let id = created["id"].as_str().unwrap().to_owned();
    let (st, dup, _) = s
        .call(
            Method::POST,
            "/Users",
            Some(json!({"userName": "NINA@example.com"})),
        )
        .await;
    assert_eq!(
        (st, dup["scimType"].as_str()),
        (StatusCode::CONFLICT, Some("uniqueness"))
    );

    // Entra's filtered email path and a path-less Okta replace.
    let (_, u, _) = s
        .call(Method::PATCH, &format!("/Users/{id}"), Some(patch(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "nina.ito@example.com"},
            {"op": "replace", "value": {"displayName": "Nina Ito"}},
        ]))))
        .await;
    assert_eq!(u["emails"][0]["value"], "nina.ito@example.com");
    assert_eq!(u["displayName"], "Nina Ito");

    // Filters: indexed and scanned; malformed ones are named.
    let (_, found, _) = s
        .call(
            Method::GET,
            "/Users?filter=name.familyName%20sw%20%22it%22%20and%20active%20eq%20true",
            None,
        )
        .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    let (st, bad, _) = s
        .call(Method::GET, "/Users?filter=userName%20eq", None)
        .await;
    assert_eq!(
        (st, bad["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalidFilter"))
    );
    let (st, bad, _) = s
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(
                json!([{"op": "replace", "path": "groups", "value": []}]),
            )),
        )
        .await;
    assert_eq!(
        (st, bad["scimType"].as_str()),
        (StatusCode::BAD_REQUEST, Some("mutability"))
    );
    let (st, _, _) = s
        .call(
            Method::POST,
            "/Users",
            Some(json!({"userName": "x".repeat(300 * 1024)})),
        )
        .await;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "bodies are bounded");

    // A connector cannot make anyone an approver: role groups are the config's.
    let approvers = group_id(&s, "iam-approvers").await;
    let (st, refused, _) = s
        .call(
            Method::PATCH,
            &format!("/Groups/{approvers}"),
            Some(patch(
                json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
            )),
        )
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("manage_role_groups")
    );
    let (st, _, _) = s
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "IAM-Approvers-2", "members": [{"value": id}]})),
        )
        .await;
    assert_eq!(
        st,
        StatusCode::CREATED,
        "a group that grants nothing is fine"
    );
    let (_, u, _) = s.call(Method::GET, &format!("/Users/{id}"), None).await;
    let gid2 = u["groups"][0]["value"].as_str().unwrap().to_owned();
    let (st, _, _) = s
        .call(
            Method::PATCH,
            &format!("/Groups/{gid2}"),
            Some(patch(
                json!([{"op": "replace", "path": "displayName", "value": "iam-approvers"}]),
            )),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "the name is taken");
    let (st, _, _) = s
        .call(Method::DELETE, &format!("/Groups/{gid2}"), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let judy = admin_session(i, "judy", false).await;
    let users: Vec<admin_api::UserView> = judy.get_json("/users", &[]).await.unwrap();
    let nina = users
        .iter()
        .find(|u| u.username == "nina@example.com")
        .unwrap();
    assert!(nina.roles.is_empty(), "{:?}", nina.roles);

    // A group of the new person, then delete both.
    let (st, g, _) = s
        .call(
            Method::POST,
            "/Groups",
            Some(json!({"displayName": "ml-research", "members": [{"value": id}]})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{g}");
    let gid = g["id"].as_str().unwrap().to_owned();
    let (_, u, _) = s.call(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(u["groups"][0]["display"], "ml-research");
    let (st, _, _) = s
        .call_with(
            Method::DELETE,
            &format!("/Users/{id}"),
            None,
            &[("if-match", "W/\"1\"")],
        )
        .await;
    assert_eq!(
        st,
        StatusCode::PRECONDITION_FAILED,
        "a stale delete is refused"
    );
    let (st, _, _) = s.call(Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, gone, _) = s.call(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(
        (st, gone["status"].as_str()),
        (StatusCode::NOT_FOUND, Some("404"))
    );
    let (_, g, _) = s.call(Method::GET, &format!("/Groups/{gid}"), None).await;
    assert!(
        g.get("members").is_none(),
        "a deleted person leaves their groups"
    );
    let (st, _, _) = s
        .call(Method::DELETE, &format!("/Groups/{gid}"), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let audit = judy
        .audit(&gatehouse_tests::query(&[(
            "actor",
            "scim:demo-scim-connector".into(),
        )]))
        .await
        .unwrap();
    let kinds: Vec<&str> = audit.items.iter().map(|e| e.kind.as_str()).collect();
    for k in [
        "person.created",
        "person.updated",
        "group.created",
        "person.deleted",
        "group.deleted",
    ] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    assert!(judy.audit_verify().await.unwrap().ok);
}

#[tokio::test]
async fn an_owner_who_leaves_hands_the_client_to_the_next_successor_and_the_last_orphans_it() {
    let d = start_demo().await;
    let i = &d.info;
    let s = Scim::of(i);
    let mut ids = std::collections::HashMap::new();
    for name in ["o-first", "o-second", "o-third", "o-sponsor"] {
        let (st, p, _) = s
            .call(
                Method::POST,
                "/Users",
                Some(json!({"schemas": [scim::USER_SCHEMA], "userName": name, "active": true})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{p}");
        ids.insert(name, p["id"].as_str().unwrap().to_owned());
    }
    let judy = admin_session(i, "judy", true).await;
    let registered = judy
        .register_client(
            &serde_json::from_value(json!({
                "client_id": "handover-bot", "name": "Handover Bot",
                "owners": ["o-first"], "sponsor": "o-sponsor",
                "successors": ["o-second", "o-third"],
                "credential": {"method": "client_secret"},
            }))
            .unwrap(),
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(registered.client.successors, ["o-second", "o-third"]);
    let client = || async {
        let all: Vec<admin_api::ClientView> = judy.get_json("/clients", &[]).await.unwrap();
        all.into_iter()
            .find(|c| c.client_id == "handover-bot")
            .unwrap()
    };
    let successions = || async {
        let page = judy
            .audit(&gatehouse_tests::query(&[
                ("kind", "client.succession".into()),
                ("client_id", "handover-bot".into()),
            ]))
            .await
            .unwrap();
        page.items
    };
    let deactivate = |name: &'static str| {
        let (s, id) = (&s, ids[name].clone());
        async move {
            let (st, off, _) = s
                .call(
                    Method::PATCH,
                    &format!("/Users/{id}"),
                    Some(patch(
                        json!([{"op": "replace", "path": "active", "value": false}]),
                    )),
                )
                .await;
            assert_eq!((st, &off["active"]), (StatusCode::OK, &json!(false)));
        }
    };

    // The owner leaves: the first successor owns it now.
    deactivate("o-first").await;
    let c = client().await;
    assert_eq!(
        (c.owners.clone(), c.successors.clone()),
        (vec!["o-second".to_string()], vec!["o-third".to_string()])
    );
    assert!(!c.orphaned);
    let events = successions().await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.actor.as_deref(), Some("system:succession"));
    assert_eq!(e.subject.as_deref(), Some("o-first"));
    assert_eq!(e.detail["successor"], "o-second");
    assert_eq!(e.detail["roles"], json!(["owner"]));
    assert_eq!(e.detail["orphaned"], false);

    // A successor deleted from the directory comes off the list; the owner stays.
    let (st, _, _) = s
        .call(Method::DELETE, &format!("/Users/{}", ids["o-third"]), None)
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let c = client().await;
    assert_eq!(
        (c.owners.clone(), c.successors.len()),
        (vec!["o-second".to_string()], 0)
    );

    // The sponsor leaves: no sponsor, nothing else changes.
    deactivate("o-sponsor").await;
    let c = client().await;
    assert_eq!(
        (c.sponsor.clone(), c.owners.clone()),
        (None, vec!["o-second".to_string()])
    );

    // The last owner leaves with no successor left: orphaned, and said so.
    deactivate("o-second").await;
    let c = client().await;
    assert!(c.owners.is_empty() && c.orphaned, "{c:?}");
    let events = successions().await;
    assert_eq!(events.len(), 4, "one event per departure that touched it");
    let last = events
        .iter()
        .find(|e| e.subject.as_deref() == Some("o-second"))
        .unwrap();
    assert_eq!(
        (
            last.detail["orphaned"].clone(),
            last.detail["successor"].clone()
        ),
        (json!(true), Value::Null)
    );
    assert!(judy.audit_verify().await.unwrap().ok, "the chain holds");
}

async fn live_connections(admin: &AdminClient, client: &str) -> u64 {
    admin
        .list_connections(&gatehouse_tests::query(&[
            ("client_id", client.into()),
            ("status", "active".into()),
        ]))
        .await
        .unwrap()
        .total
}

#[tokio::test]
async fn an_orphaned_clients_connections_are_suspended_after_the_grace_period_and_not_before() {
    let d = start_demo().await;
    let i = &d.info;
    let s = Scim::of(i);
    let judy = admin_session(i, "judy", true).await;
    let policies: admin_api::LifecyclePolicies =
        serde_json::from_value(json!({"orphan_grace_days": 3})).unwrap();
    judy.set_policies(
        &policies,
        &admin_api::client::Mutation {
            if_match: Some("\"v0\""),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(live_connections(&judy, "sales-notetaker").await, 1);
    let bob = user_id(&s, "bob").await;
    // bob, sales-notetaker's only owner, leaves with no successor: orphaned.
    let (st, _, _) = s
        .call(
            Method::PATCH,
            &format!("/Users/{bob}"),
            Some(patch(
                json!([{"op": "replace", "path": "active", "value": false}]),
            )),
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    let report = judy.run_policies().await.unwrap();
    assert_eq!(report.orphan_suspensions, 0, "within the grace period");
    assert_eq!(live_connections(&judy, "sales-notetaker").await, 1);

    // Four days on: its connection is suspended, nobody else's.
    d.idp.advance_clock(4 * 86_400);
    let judy = admin_session(i, "judy", false).await;
    let others = judy
        .list_connections(&gatehouse_tests::query(&[("status", "active".into())]))
        .await
        .unwrap()
        .total;
    let report = judy.run_policies().await.unwrap();
    assert_eq!(report.orphan_suspensions, 1, "{report:?}");
    let suspended = judy
        .list_connections(&gatehouse_tests::query(&[
            ("client_id", "sales-notetaker".into()),
            ("status", "suspended".into()),
        ]))
        .await
        .unwrap()
        .items;
    assert_eq!(suspended.len(), 1);
    assert!(
        suspended[0]
            .status_reason
            .as_deref()
            .unwrap()
            .contains("no active owner")
    );
    let now_active = judy
        .list_connections(&gatehouse_tests::query(&[("status", "active".into())]))
        .await
        .unwrap()
        .total;
    assert_eq!(now_active, others - 1);
    let events = judy
        .audit(&gatehouse_tests::query(&[
            ("kind", "connection.suspend".into()),
            ("client_id", "sales-notetaker".into()),
        ]))
        .await
        .unwrap()
        .items;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].actor.as_deref(), Some("system:orphan-grace"));
    // Once per orphaned spell: an approver who resumes it is not overruled.
    let carol = admin_session(i, "carol", false).await;
    let resumed: admin_api::ConnectionView = carol
        .post_json(
            &format!("/connections/{}/resume", suspended[0].id),
            &json!({"reason": "the sales team still needs it; an owner is being named"}),
            &admin_api::client::Mutation {
                if_match: Some(&format!("\"v{}\"", suspended[0].version)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(resumed.status, admin_api::ConnectionStatus::Active);
    assert_eq!(judy.run_policies().await.unwrap().orphan_suspensions, 0);
    assert_eq!(live_connections(&judy, "sales-notetaker").await, 1);
}

#[tokio::test]
async fn a_connection_whose_users_left_its_groups_is_a_finding() {
    let d = start_demo().await;
    let i = &d.info;
    let s = Scim::of(i);
    let judy = admin_session(i, "judy", true).await;
    // alice and frank (engineering) use code-agent → docs, limited to engineering and security.
    for who in ["alice", "frank"] {
        let t = sign_in(i, who, "code-agent", false).await;
        exchange(i, "code-agent", &t.id_token, "docs", Some("docs.read"))
            .await
            .unwrap();
    }
    let left = |all: Vec<admin_api::FindingView>| {
        all.into_iter().find(|f| {
            f.kind == admin_api::FindingKind::UsersLeftGroups && f.client.client_id == "code-agent"
        })
    };
    assert!(left(judy.findings(true).await.unwrap()).is_none());
    // Engineering loses both (a reorganisation in the company's IdP).
    let group = group_id(&s, "engineering").await;
    for who in ["alice", "frank"] {
        let id = user_id(&s, who).await;
        let (st, _, _) = s
            .call(
                Method::PATCH,
                &format!("/Groups/{group}"),
                Some(patch(
                    json!([{"op": "Remove", "path": format!("members[value eq \"{id}\"]")}]),
                )),
            )
            .await;
        assert!(st.is_success(), "{st}");
    }
    let f = left(judy.findings(false).await.unwrap()).expect("a finding");
    assert_eq!(f.severity, admin_api::Severity::Medium);
    assert_eq!(
        (f.evidence["users"].clone(), f.evidence["left"].clone()),
        (json!(2), json!(2))
    );
    assert!(f.remediation.is_none(), "a person reviews it");
}
