//! The store's tables against a temporary database of each kind: a SQLite file,
//! and, when `GATEHOUSE_POSTGRES` names a PostgreSQL server, a fresh database
//! on it (the test command starts one). Each test runs its body on both.

use admin_api::{ChangeKind, ConnectionStatus, RequestStatus, ScopeCondition};
use idp_store::{
    CodeRedemption, Db, RefreshOutcome, RequestSighting,
    connections::{self, NewConnection},
    sessions::{AuthCode, Grant},
};
use std::collections::BTreeSet;

/// A fresh database of each kind available here.
async fn databases() -> Vec<(Db, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Db::open(&idp_store::sqlite_url(&dir.path().join("t.sqlite")))
        .await
        .unwrap();
    let mut out = vec![(sqlite, Some(dir))];
    if let Some(url) = fresh_postgres().await {
        out.push((Db::open(&url).await.unwrap(), None));
    }
    out
}

/// A fresh database on the PostgreSQL server `GATEHOUSE_POSTGRES` names, if it names one.
async fn fresh_postgres() -> Option<String> {
    let server = std::env::var("GATEHOUSE_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())?;
    Some(
        idp_store::create_postgres_database(&server, "gh_test")
            .await
            .unwrap(),
    )
}

fn connection<'a>(client: &'a str, app: &'a str, scopes: &'a ScopeCondition) -> NewConnection<'a> {
    NewConnection::new(client, app, scopes)
}

#[tokio::test]
async fn a_code_is_redeemed_once_and_a_second_use_revokes_its_family() {
    for (db, _keep) in databases().await {
        let code = AuthCode {
            client_id: "c".into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            code_challenge: "x".into(),
            username: "alice".into(),
            scope: "openid".into(),
            nonce: None,
            auth_time: 1,
            acr: "pwd".into(),
            amr: vec!["pwd".into()],
            expires_at: 100,
            family: "fam".into(),
        };
        db.insert_code("h", &code).await.unwrap();
        let grant = Grant {
            family: "fam".into(),
            client_id: "c".into(),
            username: "alice".into(),
            scope: "openid".into(),
            auth_time: 1,
            acr: "pwd".into(),
            amr: vec!["pwd".into()],
        };
        assert!(matches!(
            db.redeem_code("h", 2).await.unwrap(),
            CodeRedemption::Ok(_)
        ));
        db.insert_access_token("at", &grant, 1000).await.unwrap();
        db.insert_refresh_token("rt", &grant, 1000, 2)
            .await
            .unwrap();
        assert!(db.access_token("at", 3).await.unwrap().is_some());
        assert!(matches!(
            db.redeem_code("h", 3).await.unwrap(),
            CodeRedemption::Reused
        ));
        assert!(
            db.access_token("at", 3).await.unwrap().is_none(),
            "family revoked"
        );
        assert!(matches!(
            db.use_refresh_token("rt", "c", 3, true).await.unwrap(),
            RefreshOutcome::Unknown
        ));
        assert!(matches!(
            db.redeem_code("nope", 3).await.unwrap(),
            CodeRedemption::Unknown
        ));
    }
}

#[tokio::test]
async fn a_rotated_refresh_token_presented_again_revokes_the_family() {
    for (db, _keep) in databases().await {
        let grant = Grant {
            family: "f".into(),
            client_id: "c".into(),
            username: "bob".into(),
            scope: "openid".into(),
            auth_time: 1,
            acr: "pwd".into(),
            amr: vec![],
        };
        db.insert_refresh_token("r1", &grant, 1000, 1)
            .await
            .unwrap();
        db.insert_access_token("a1", &grant, 1000).await.unwrap();
        assert!(matches!(
            db.use_refresh_token("r1", "other", 2, true).await.unwrap(),
            RefreshOutcome::Unknown
        ));
        assert!(matches!(
            db.use_refresh_token("r1", "c", 2, true).await.unwrap(),
            RefreshOutcome::Ok(_)
        ));
        assert!(matches!(
            db.use_refresh_token("r1", "c", 3, true).await.unwrap(),
            RefreshOutcome::ReuseDetected
        ));
        assert!(db.access_token("a1", 3).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn a_totp_step_is_spent_once() {
    for (db, _keep) in databases().await {
        assert!(db.consume_totp_step("alice", 10).await.unwrap());
        assert!(!db.consume_totp_step("alice", 10).await.unwrap());
        assert!(!db.consume_totp_step("alice", 9).await.unwrap());
        assert!(db.consume_totp_step("alice", 11).await.unwrap());
    }
}

#[tokio::test]
async fn nodes_opening_one_database_agree_on_one_signing_key() {
    for (db, _keep) in databases().await {
        let mint = |kid: &'static str| {
            move || {
                Ok::<_, ()>(idp_store::keys::StoredKey {
                    kid: kid.into(),
                    alg: "ES256".into(),
                    pkcs8: vec![1, 2, 3],
                })
            }
        };
        let (a, b) = tokio::join!(
            db.active_or_new_signing_key(1, mint("a")),
            db.active_or_new_signing_key(1, mint("b"))
        );
        assert_eq!(a.unwrap().unwrap(), b.unwrap().unwrap());
        assert_eq!(
            db.active_signing_key().await.unwrap().unwrap().pkcs8,
            vec![1, 2, 3]
        );
    }
}

#[tokio::test]
async fn the_risk_catalogue_is_recomputed_only_when_it_changed() {
    for (db, _keep) in databases().await {
        let catalogue =
            |rank| BTreeSet::from([("docs".to_string(), "docs.write".to_string(), rank)]);
        assert!(db.sync_scope_catalogue(&catalogue(2)).await.unwrap());
        db.seed_connection(&connection("agent", "docs", &ScopeCondition::All), 0)
            .await
            .unwrap();
        let rank = || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT risk_rank FROM connections WHERE client_id = 'agent'",
            )
            .fetch_one(db.pool())
            .await
            .unwrap()
        };
        assert_eq!(rank().await, 2, "the insert trigger ranked it");
        assert!(
            !db.sync_scope_catalogue(&catalogue(2)).await.unwrap(),
            "unchanged"
        );
        assert!(db.sync_scope_catalogue(&catalogue(3)).await.unwrap());
        assert_eq!(rank().await, 3, "re-ranked from the new catalogue");
        // A scope outside the catalogue counts as admin.
        let mut tx = db.begin_write().await.unwrap();
        let id = connections::live_id(&mut tx, "agent", "docs")
            .await
            .unwrap()
            .unwrap();
        connections::set_scopes(
            &mut tx,
            &id,
            &ScopeCondition::IncludeOnly(vec!["docs.other".into()]),
            1,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(rank().await, 4);
    }
}

#[tokio::test]
async fn a_refused_pair_keeps_one_pending_request_and_changes_follow_commit_order() {
    for (db, _keep) in databases().await {
        let scopes = vec!["docs.read".to_string()];
        let groups = vec!["eng".to_string()];
        let sighting = RequestSighting {
            client_id: "agent",
            resource_app: "docs",
            scopes: &scopes,
            resource: None,
            user: Some(("alice", &groups)),
            justification: None,
            refused: true,
        };
        let (id, created) = db.upsert_request(&sighting, 10).await.unwrap();
        let created = created.expect("a new request is a change");
        assert_eq!(created.kind, ChangeKind::RequestCreated);
        let (again, change) = db.upsert_request(&sighting, 11).await.unwrap();
        assert_eq!(again, id);
        assert!(
            change.is_none(),
            "a repeat changes nothing an approver decides on"
        );
        let r = db.request(&id).await.unwrap().unwrap();
        assert_eq!(
            (r.status, r.refused_count, r.version),
            (RequestStatus::Pending, 2, 1)
        );
        assert_eq!(r.users[0].groups, groups);
        assert_eq!(
            db.request_ids(RequestStatus::Pending).await.unwrap(),
            vec![id.clone()]
        );
        let changes = db.changes_after(0, 10).await.unwrap();
        assert_eq!(changes, vec![created.clone()]);
        assert_eq!(db.last_change_id().await.unwrap(), created.id);
    }
}

#[tokio::test]
async fn an_unknown_stored_status_is_a_decode_error_not_a_default() {
    for (db, _keep) in databases().await {
        db.seed_connection(&connection("agent", "docs", &ScopeCondition::All), 0)
            .await
            .unwrap();
        sqlx::query("ALTER TABLE connections DROP CONSTRAINT IF EXISTS connections_status_check")
            .execute(db.pool())
            .await
            .ok();
        let mut c = db.acquire().await.unwrap();
        let id = connections::live_id(&mut c, "agent", "docs")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            connections::get(&mut c, &id)
                .await
                .unwrap()
                .unwrap()
                .connection
                .status,
            ConnectionStatus::Active
        );
        drop(c);
        // SQLite's CHECK cannot be dropped: write around it the way a newer
        // version's row would look, where the backend allows it.
        if db.backend() == idp_store::Backend::Postgres {
            sqlx::query("UPDATE connections SET status = 'paused'")
                .execute(db.pool())
                .await
                .unwrap();
            let mut c = db.acquire().await.unwrap();
            let e = connections::get(&mut c, &id).await.unwrap_err();
            assert!(
                e.to_string().contains("unknown connection status `paused`"),
                "{e}"
            );
        }
    }
}

#[tokio::test]
async fn the_audit_chain_verifies_and_names_an_edited_row() {
    use idp_store::audit::{AuditEvent, AuditFilter, AuditOutcome, Order};
    for (db, _keep) in databases().await {
        let mut e = AuditEvent::new("id_jag.exchange", AuditOutcome::Success);
        e.client_id = Some("agent".into());
        e.detail = serde_json::json!({ "n": 1 });
        let events: Vec<(&AuditEvent, i64)> = (0..5).map(|i| (&e, 1000 + i)).collect();
        assert_eq!(db.append_audit(&events).await.unwrap().0, 5);
        assert_eq!(db.append_audit(&events[..1]).await.unwrap().0, 6);
        let report = db.verify_audit().await.unwrap();
        assert!(report.ok() && report.events == 6, "{report:?}");
        let f = AuditFilter {
            client_id: Some("agent".into()),
            since_ms: Some(1002),
            ..Default::default()
        };
        let (page, total) = db.audit_page(&f, Order::Newest, 0, 2).await.unwrap();
        assert_eq!((total, page.len(), page[0].seq), (3, 2, 5));
        assert_eq!(db.audit_after(&f, 3, 10).await.unwrap().len(), 2);
        sqlx::query("UPDATE audit_events SET subject = 'mallory' WHERE seq = 3")
            .execute(db.pool())
            .await
            .unwrap();
        assert_eq!(db.verify_audit().await.unwrap().first_broken, Some(3));
        // SQLite keeps a blob as a blob even in a TEXT column: bytes where the walk reads
        // text is an edit too, and breaks the chain at its row, not the walk.
        if db.backend() == idp_store::Backend::Sqlite {
            sqlx::query("UPDATE audit_events SET detail = X'3432' WHERE seq = 2")
                .execute(db.pool())
                .await
                .unwrap();
            assert_eq!(db.verify_audit().await.unwrap().first_broken, Some(2));
        }
    }
}

/// Readiness needs the schema this binary runs: a database missing one of its
/// migrations is behind, one a newer node migrated further is ahead.
#[tokio::test]
async fn the_schema_state_tells_current_behind_and_ahead_apart() {
    use idp_store::SchemaState;
    for (db, _keep) in databases().await {
        assert_eq!(db.schema().await.unwrap(), SchemaState::Current);
        let want: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(db.pool())
            .await
            .unwrap();
        sqlx::query(idp_store::sql(
            db.backend(),
            "UPDATE _sqlx_migrations SET version = 9999 WHERE version = ?",
        ))
        .bind(want)
        .execute(db.pool())
        .await
        .unwrap();
        assert_eq!(
            db.schema().await.unwrap(),
            SchemaState::Ahead { have: 9999, want }
        );
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 9999")
            .execute(db.pool())
            .await
            .unwrap();
        assert_eq!(
            db.schema().await.unwrap(),
            SchemaState::Behind {
                have: want - 1,
                want
            }
        );
    }
}

/// A backup is a consistent copy taken while the database stays open for
/// writes: the copy's chain verifies with the events committed before it, a
/// later write does not reach it, it never overwrites a file, a missing source
/// is an error that creates nothing, and PostgreSQL is sent to pg_dump.
#[tokio::test]
async fn a_backup_is_a_verified_snapshot_that_never_overwrites_or_creates() {
    use idp_store::audit::{AuditEvent, AuditOutcome};
    use idp_store::backup::{backup_sqlite, verify_copy};
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("idp.sqlite");
    let url = idp_store::sqlite_url(&live);
    let db = Db::open(&url).await.unwrap();
    let e = AuditEvent::new("id_jag.exchange", AuditOutcome::Success);
    let events: Vec<(&AuditEvent, i64)> = (0..7).map(|i| (&e, 1000 + i)).collect();
    let (_, head) = db.append_audit(&events).await.unwrap();

    let copy = dir.path().join("backup.sqlite");
    let report = backup_sqlite(&url, &copy).await.unwrap();
    assert_eq!(report.schema, idp_store::SchemaState::Current);
    assert!(report.chain.ok(), "{report:?}");
    assert_eq!((report.chain.events, &report.chain.head), (7, &head));
    assert!(report.bytes > 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the copy holds the signing keys: owner only");
    }

    // The live database goes on; the copy does not move with it.
    db.append_audit(&events[..2]).await.unwrap();
    assert_eq!(verify_copy(&copy).await.unwrap().chain.events, 7);
    assert_eq!(db.verify_audit().await.unwrap().events, 9);

    let again = backup_sqlite(&url, &copy).await.unwrap_err().to_string();
    assert!(again.contains("never overwrites"), "{again}");
    assert_eq!(verify_copy(&copy).await.unwrap().chain.events, 7);

    let missing = dir.path().join("nothing.sqlite");
    let err = backup_sqlite(
        &idp_store::sqlite_url(&missing),
        &dir.path().join("b2.sqlite"),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("no SQLite database"), "{err}");
    assert!(!missing.exists() && !dir.path().join("b2.sqlite").exists());

    let pg = backup_sqlite(
        "postgres://gatehouse:pw@127.0.0.1:1/gatehouse",
        &dir.path().join("b3"),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(pg.contains("pg_dump") && !pg.contains("pw"), "{pg}");

    // A copy whose chain was edited says where.
    sqlx::query("UPDATE audit_events SET subject = 'mallory' WHERE seq = 4")
        .execute(
            Db::open(&idp_store::sqlite_url(&copy))
                .await
                .unwrap()
                .pool(),
        )
        .await
        .unwrap();
    assert_eq!(
        verify_copy(&copy).await.unwrap().chain.first_broken,
        Some(4)
    );
}

/// The signing-key rotation: next (published, not signing) → active while the
/// old one stays published as previous → retired (unpublished, private key
/// erased); each step refused when out of order.
#[tokio::test]
async fn a_signing_key_rotates_through_next_active_previous_retired() {
    use idp_store::keys::{KeyStatus, StoredKey};
    for (db, _keep) in databases().await {
        let key = |kid: &str| StoredKey {
            kid: kid.into(),
            alg: "ES256".into(),
            pkcs8: vec![7; 8],
        };
        db.active_or_new_signing_key(1, || Ok::<_, ()>(key("a")))
            .await
            .unwrap()
            .unwrap();
        let statuses = |rows: Vec<idp_store::keys::KeyRow>| {
            rows.into_iter()
                .map(|k| (k.kid, k.status))
                .collect::<BTreeSet<_>>()
        };
        let err = db
            .activate_signing_key("cli:root", 2_000)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("no next key"), "{err}");

        db.prepare_signing_key(&key("b"), "cli:root", 2_000)
            .await
            .unwrap();
        let err = db
            .prepare_signing_key(&key("c"), "cli:root", 3_000)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("already published"), "{err}");
        assert_eq!(db.active_signing_key().await.unwrap().unwrap().kid, "a");
        assert_eq!(db.published_signing_keys().await.unwrap().len(), 2);

        assert_eq!(
            db.activate_signing_key("cli:root", 4_000).await.unwrap(),
            "b"
        );
        assert_eq!(db.active_signing_key().await.unwrap().unwrap().kid, "b");
        assert_eq!(
            statuses(db.signing_keys().await.unwrap()),
            BTreeSet::from([
                ("a".to_string(), KeyStatus::Previous),
                ("b".to_string(), KeyStatus::Active)
            ])
        );
        assert_eq!(db.published_signing_keys().await.unwrap().len(), 2);

        assert_eq!(db.retire_signing_keys("cli:root", 5_000).await.unwrap(), 1);
        let published = db.published_signing_keys().await.unwrap();
        assert_eq!(
            published.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
        let erased: Vec<u8> = sqlx::query_scalar("SELECT pkcs8 FROM signing_keys WHERE kid = 'a'")
            .fetch_one(db.pool())
            .await
            .unwrap();
        assert!(erased.is_empty(), "a retired key's private part is erased");
        assert_eq!(db.retire_signing_keys("cli:root", 6_000).await.unwrap(), 0);
        // Each step taken is in the audit chain, with who took it and which key.
        let steps: Vec<(String, Option<String>, Option<String>)> = db
            .audit_events(None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.event.kind, e.event.actor, e.event.target))
            .collect();
        for (kind, kid) in [
            ("signing_key.prepared", "b"),
            ("signing_key.activated", "b"),
            ("signing_key.retired", "a"),
        ] {
            assert!(
                steps.contains(&(kind.into(), Some("cli:root".into()), Some(kid.into()))),
                "{kind} {kid}: {steps:?}"
            );
        }
        assert_eq!(steps.len(), 3, "refused steps are not audited as taken");
        assert!(db.verify_audit().await.unwrap().ok());
        // A node of the previous version reads `active = 1`: still the one key.
        let active: Vec<String> =
            sqlx::query_scalar("SELECT kid FROM signing_keys WHERE active = 1")
                .fetch_all(db.pool())
                .await
                .unwrap();
        assert_eq!(active, ["b"]);
    }
}

#[tokio::test]
async fn the_directory_seeds_once_looks_up_case_insensitively_and_tracks_memberships() {
    use idp_store::directory::{self, GroupWrite, Lookup, PersonWrite, SeedPerson, Source};
    use serde_json::json;
    for (db, _keep) in databases().await {
        let mut n = 0;
        let mut new_id = || {
            n += 1;
            format!("id{n}")
        };
        let groups = vec!["engineering".to_string(), "Approvers".to_string()];
        let seed = [SeedPerson {
            username: "Alice",
            groups: &groups,
            resource: json!({"userName": "Alice", "emails": [{"value": "a@x", "primary": true}], "displayName": "Alice L"}),
        }];
        let mut tx = db.begin_write().await.unwrap();
        assert_eq!(
            directory::seed(&mut tx, &seed, &mut new_id, 10)
                .await
                .unwrap(),
            1
        );
        tx.commit().await.unwrap();
        // A second start adds nothing and changes nothing already there.
        let mut tx = db.begin_write().await.unwrap();
        assert_eq!(
            directory::seed(&mut tx, &seed, &mut new_id, 20)
                .await
                .unwrap(),
            0
        );
        tx.commit().await.unwrap();

        let e = db
            .directory_entry("alice")
            .await
            .unwrap()
            .expect("found in any case");
        assert_eq!(e.username, "Alice");
        assert!(e.active);
        assert_eq!(e.groups, vec!["Approvers", "engineering"]);
        assert_eq!(e.email.as_deref(), Some("a@x"));
        assert_eq!(e.name.as_deref(), Some("Alice L"));
        assert_eq!(db.directory_entry("nobody").await.unwrap(), None);

        let mut c = db.acquire().await.unwrap();
        let alice = directory::person_by_username(&mut c, "ALICE")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((alice.version, alice.source), (1, Source::Config));
        let (found, total) =
            directory::find_groups(&mut c, &Lookup::Name("ENGINEERING".into()), 0, 10, true)
                .await
                .unwrap();
        assert_eq!(total, 1);
        let eng = &found[0];
        assert_eq!(
            eng.members
                .iter()
                .map(|m| m.username.as_str())
                .collect::<Vec<_>>(),
            ["Alice"]
        );
        drop(c);

        // Deactivate, add Bob, move Alice out of engineering.
        let mut tx = db.begin_write().await.unwrap();
        let r = json!({"userName": "bob"});
        directory::insert_person(
            &mut tx,
            "bob-id",
            &PersonWrite {
                username: "bob",
                external_id: Some("E-2"),
                active: true,
                source: Source::Scim,
                resource: &r,
            },
            30,
        )
        .await
        .unwrap();
        let ar = json!({"userName": "Alice"});
        assert!(
            directory::update_person(
                &mut tx,
                &alice.id,
                &PersonWrite {
                    username: "Alice",
                    external_id: None,
                    active: false,
                    source: Source::Scim,
                    resource: &ar
                },
                31
            )
            .await
            .unwrap()
        );
        let (added, removed) =
            directory::set_members(&mut tx, &eng.id, &["bob-id".into(), "bob-id".into()])
                .await
                .unwrap();
        assert_eq!(
            (added, removed),
            (vec!["bob-id".to_string()], vec![alice.id.clone()])
        );
        let er = json!({"displayName": "Engineering"});
        assert!(
            directory::update_group(
                &mut tx,
                &eng.id,
                &GroupWrite {
                    display_name: "Engineering",
                    external_id: Some("G-1"),
                    source: Source::Scim,
                    resource: &er
                },
                32
            )
            .await
            .unwrap()
        );
        assert_eq!(
            directory::existing_people(&mut tx, &["bob-id".into(), "ghost".into()])
                .await
                .unwrap(),
            vec!["bob-id"]
        );
        tx.commit().await.unwrap();

        let e = db.directory_entry("alice").await.unwrap().unwrap();
        assert!(!e.active);
        assert_eq!(e.groups, vec!["Approvers"]);
        assert_eq!(
            db.directory_entry("bob").await.unwrap().unwrap().groups,
            vec!["Engineering"]
        );
        let mut c = db.acquire().await.unwrap();
        let (by_ext, _) = directory::find_people(&mut c, &Lookup::ExternalId("E-2".into()), 0, 10)
            .await
            .unwrap();
        assert_eq!(by_ext[0].username, "bob");
        let (none, _) = directory::find_people(&mut c, &Lookup::ExternalId("e-2".into()), 0, 10)
            .await
            .unwrap();
        assert!(none.is_empty(), "externalId is case-exact");
        let (page, total) = directory::find_people(&mut c, &Lookup::All, 1, 1)
            .await
            .unwrap();
        assert_eq!(
            (page.len(), total, page[0].username.as_str()),
            (1, 2, "bob")
        );
        let alice = directory::get_person(&mut c, &alice.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(alice.version, 2);
        drop(c);

        // Deleting a person drops their memberships with them.
        let mut tx = db.begin_write().await.unwrap();
        assert!(directory::delete_person(&mut tx, "bob-id").await.unwrap());
        assert!(!directory::delete_person(&mut tx, "bob-id").await.unwrap());
        tx.commit().await.unwrap();
        let groups = db.all_groups().await.unwrap();
        assert!(
            groups
                .iter()
                .all(|g| g.members.iter().all(|m| m.id != "bob-id"))
        );
        assert_eq!(db.all_people().await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn an_upstream_sign_in_is_taken_once_and_never_after_it_expires() {
    use idp_store::upstream_logins::UpstreamLogin;
    for (db, _dir) in databases().await {
        let login = |expires_at| UpstreamLogin {
            upstream: "corp".into(),
            browser_hash: "b".into(),
            nonce: "n".into(),
            code_verifier: "v".into(),
            request: "{}".into(),
            expires_at,
        };
        db.insert_upstream_login("s1", &login(1_000)).await.unwrap();
        db.insert_upstream_login("s2", &login(1_000)).await.unwrap();
        assert_eq!(
            db.take_upstream_login("s1", 999).await.unwrap(),
            Some(login(1_000))
        );
        assert_eq!(
            db.take_upstream_login("s1", 999).await.unwrap(),
            None,
            "a replayed state"
        );
        assert_eq!(
            db.take_upstream_login("s2", 1_000).await.unwrap(),
            None,
            "expired"
        );
        assert_eq!(
            db.take_upstream_login("s2", 1).await.unwrap(),
            None,
            "gone once looked at"
        );
        db.insert_upstream_login("s3", &login(10)).await.unwrap();
        assert_eq!(db.purge_expired(11).await.unwrap(), 1);
        assert_eq!(
            db.take_upstream_login("s3", 5).await.unwrap(),
            None,
            "purged"
        );
    }
}

#[tokio::test]
async fn the_gate_reads_in_one_statement_what_the_separate_reads_return() {
    use idp_store::{
        blocks,
        directory::{self, SeedPerson},
        gate::GateView,
    };
    use serde_json::json;
    for (db, _keep) in databases().await {
        let mut n = 0;
        let mut new_id = || {
            n += 1;
            format!("id{n}")
        };
        let groups = vec!["engineering".to_string(), "Approvers".to_string()];
        let seed = [
            SeedPerson {
                username: "Alice",
                groups: &groups,
                resource: json!({"userName": "Alice", "emails": [{"value": "a@x", "primary": true}], "displayName": "Alice L"}),
            },
            SeedPerson {
                username: "loner",
                groups: &[],
                resource: json!({"userName": "loner"}),
            },
        ];
        let mut tx = db.begin_write().await.unwrap();
        directory::seed(&mut tx, &seed, &mut new_id, 10)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        db.seed_connection(&connection("agent", "docs", &ScopeCondition::All), 0)
            .await
            .unwrap();
        let separately = async |who: &str, app: Option<&str>| {
            let person = db.directory_entry(who).await.unwrap();
            let blocked = match &person {
                Some(p) => db.is_blocked(&p.username).await.unwrap(),
                None => false,
            };
            let connection = match app {
                Some(app) => db.live_connection("agent", app).await.unwrap(),
                None => None,
            };
            GateView {
                person,
                blocked,
                connection,
                epoch: db.gate_epoch().await.unwrap(),
            }
        };

        let v = db.gate_view("ALICE", "agent", Some("docs")).await.unwrap();
        assert_eq!(v, separately("ALICE", Some("docs")).await);
        let p = v.person.as_ref().expect("found in any case");
        assert_eq!(p.groups, ["Approvers", "engineering"]);
        assert_eq!(
            (p.email.as_deref(), p.name.as_deref()),
            (Some("a@x"), Some("Alice L"))
        );
        assert!(!v.blocked);
        assert_eq!(
            v.connection.as_ref().map(|c| c.client_id.as_str()),
            Some("agent")
        );

        // Someone in no group; an app with no connection; no app at all.
        let v = db.gate_view("loner", "agent", Some("mail")).await.unwrap();
        assert_eq!(v, separately("loner", Some("mail")).await);
        assert_eq!(v.person.as_ref().map(|p| p.groups.len()), Some(0));
        assert_eq!(v.connection, None);
        let v = db.gate_view("alice", "agent", None).await.unwrap();
        assert_eq!(v, separately("alice", None).await);
        assert_eq!(v.connection, None);

        // No such person: the connection is still read.
        let v = db.gate_view("nobody", "agent", Some("docs")).await.unwrap();
        assert_eq!(v, separately("nobody", Some("docs")).await);
        assert!(v.person.is_none() && !v.blocked && v.connection.is_some());

        // Blocked by the help desk (the block names the stored spelling).
        let mut tx = db.begin_write().await.unwrap();
        blocks::block(&mut tx, "Alice", "lost laptop", "helpdesk", 20)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let v = db.gate_view("alice", "agent", Some("docs")).await.unwrap();
        assert_eq!(v, separately("alice", Some("docs")).await);
        assert!(v.blocked);
        let v = db.gate_view("loner", "agent", Some("docs")).await.unwrap();
        assert!(!v.blocked, "one person's block is not another's");
    }
}

/// The gate's read runs on a connection held out of the pool (no ping before
/// and after it). A held connection whose server process was ended meanwhile
/// (a restart, an administrator) must not fail the exchange: the read is
/// retried through the pool. And a write committed elsewhere is seen by the
/// next read on the held connection (nothing is cached with it).
#[tokio::test]
async fn a_gate_read_whose_held_connection_was_ended_is_answered_through_the_pool() {
    let Some(url) = fresh_postgres().await else {
        eprintln!("GATEHOUSE_POSTGRES is not set: no held connections to end");
        return;
    };
    let db = Db::open(&url).await.unwrap();
    db.seed_connection(&connection("agent", "docs", &ScopeCondition::All), 0)
        .await
        .unwrap();
    let live = db
        .live_connection("agent", "docs")
        .await
        .unwrap()
        .unwrap()
        .id;
    let read = async || db.gate_view("alice", "agent", Some("docs")).await;
    assert!(read().await.unwrap().connection.is_some());
    // The backend that ran the gate's statement is the held one.
    let held: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid() AND state = 'idle' \
         AND query LIKE 'SELECT c.*, p.username AS gate_username%'",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(
        held.len(),
        1,
        "one connection held after one read: {held:?}"
    );
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1, 5000)")
        .bind(held[0])
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(ended);
    let v = read().await.expect("retried through the pool");
    assert_eq!(v.connection.map(|c| c.id), Some(live.clone()));

    // Revoked through another connection: the very next read sees it.
    let mut tx = db.begin_write().await.unwrap();
    connections::set_status(&mut tx, &live, ConnectionStatus::Revoked, "test", 2)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(read().await.unwrap().connection, None);
}

/// Sign-ins at once: each redemption reads its code and then marks it used.
/// On SQLite a transaction that read a snapshot could not then write once
/// another connection had committed (SQLITE_BUSY_SNAPSHOT, not retried by
/// any busy handler): under load a console sign-in failed with "the IdP could
/// not reach its storage". Every one of them must succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_redeemed_at_once_while_others_commit_all_succeed() {
    for (db, _keep) in databases().await {
        let db = std::sync::Arc::new(db);
        let code = |n: usize| AuthCode {
            client_id: "c".into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            code_challenge: "x".into(),
            username: "alice".into(),
            scope: "openid".into(),
            nonce: None,
            auth_time: 1,
            acr: "pwd".into(),
            amr: vec!["pwd".into()],
            expires_at: 100,
            family: format!("fam{n}"),
        };
        const N: usize = 200;
        for n in 0..N {
            db.insert_code(&format!("h{n}"), &code(n)).await.unwrap();
        }
        // Another writer commits all along (as the audit writer and the jobs do).
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (db, done) = (db.clone(), done.clone());
            tokio::spawn(async move {
                let mut n = N;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    db.insert_code(&format!("h{n}"), &code(n)).await.unwrap();
                    n += 1;
                }
            })
        };
        let redeemed = futures_util::future::join_all((0..N).map(|n| {
            let db = db.clone();
            async move { db.redeem_code(&format!("h{n}"), 2).await }
        }))
        .await;
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.await.unwrap();
        for (n, r) in redeemed.into_iter().enumerate() {
            match r {
                Ok(CodeRedemption::Ok(_)) => {}
                Ok(_) => panic!("code {n} was not redeemed"),
                Err(e) => panic!("code {n}: {e}"),
            }
        }
    }
}

/// The audit writer commits a batch right where its task runs only when the
/// SQLite write lock is free; a batch that finds it taken waits for it on the
/// writer's own thread. Here the lock's holder is a task on the same
/// one-thread runtime: a writer that waited for the lock on that thread would
/// keep the holder from ever committing (until the busy timeout failed the
/// append). The append must wait, the runtime must go on, and once the lock
/// is free the event must land in the chain after the one before it.
#[tokio::test(flavor = "current_thread")]
async fn an_audit_append_that_finds_the_write_lock_taken_waits_off_the_runtime() {
    use idp_store::audit::{AuditEvent, AuditOutcome};
    use idp_store::audit_writer::AuditAppender;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&idp_store::sqlite_url(&dir.path().join("t.sqlite")))
        .await
        .unwrap();
    let writer = AuditAppender::start(&db).await.unwrap();
    let event = |n: i64| {
        let mut e = AuditEvent::new("id_jag.exchange", AuditOutcome::Success);
        e.detail = serde_json::json!({ "n": n });
        e
    };
    assert_eq!(writer.append(event(1), 1).await.unwrap(), 1);

    // BEGIN IMMEDIATE: the write lock, held until this task commits.
    let holder = db.begin_write().await.unwrap();
    let append = tokio::spawn({
        let writer = writer.clone();
        async move { writer.append(event(2), 2).await }
    });
    // On this one thread every ready task runs at each yield: the append is
    // queued, gathered and tried against the lock well within these. A
    // writer that waited for the lock here would hold the thread for its busy
    // timeout (5 s and more) before these yields came back.
    let tried = std::time::Instant::now();
    for _ in 0..64 {
        tokio::task::yield_now().await;
    }
    assert!(
        tried.elapsed() < std::time::Duration::from_secs(3),
        "the writer held the runtime's thread for {:?} while the lock was taken",
        tried.elapsed()
    );
    assert!(
        !append.is_finished(),
        "the append finished while another connection held the write lock"
    );
    holder.commit().await.unwrap();
    let seq = tokio::time::timeout(std::time::Duration::from_secs(30), append)
        .await
        .expect("the append still waits after the lock was released")
        .unwrap()
        .expect("the append failed instead of waiting for the lock");
    assert_eq!(seq, 2);
    let report = db.verify_audit().await.unwrap();
    assert!(report.ok() && report.events == 2, "{report:?}");
}

/// Two nodes' audit writers on one database, and decisions that append in
/// their own transactions, all at once: every append lands exactly once, the
/// sequence numbers handed back are exactly 1..=n, and the chain verifies.
/// On PostgreSQL a writer appends its next batch after the head it committed
/// last in one statement; when another writer appended in between, that
/// statement must write nothing and the batch go after the new head.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_writers_on_two_nodes_and_decisions_share_one_unbroken_chain() {
    use idp_store::audit::{AuditEvent, AuditOutcome};
    use idp_store::audit_writer::AuditAppender;
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![idp_store::sqlite_url(&dir.path().join("t.sqlite"))];
    urls.extend(fresh_postgres().await);
    let event = |n: i64| {
        let mut e = AuditEvent::new("id_jag.exchange", AuditOutcome::Success);
        e.detail = serde_json::json!({ "n": n });
        e
    };
    for url in urls {
        let (a, b) = (Db::open(&url).await.unwrap(), Db::open(&url).await.unwrap());
        let (wa, wb) = (
            AuditAppender::start(&a).await.unwrap(),
            AuditAppender::start(&b).await.unwrap(),
        );
        // One at a time: A twice (its second batch goes after its own head),
        // then B, then A again, whose head B has moved.
        assert_eq!(wa.append(event(1), 1).await.unwrap(), 1, "{url}");
        assert_eq!(wa.append(event(2), 2).await.unwrap(), 2, "{url}");
        assert_eq!(wb.append(event(3), 3).await.unwrap(), 3, "{url}");
        assert_eq!(wa.append(event(4), 4).await.unwrap(), 4, "{url}");
        assert_eq!(
            a.append_audit(&[(&event(5), 5)]).await.unwrap().0,
            5,
            "{url}"
        );
        assert_eq!(wa.append(event(6), 6).await.unwrap(), 6, "{url}");

        // A decision on B holds the writer lock from before its head read to
        // its commit. A's next batch, whose head is still current, must wait
        // for it rather than take the number the decision is about to use.
        let mut decision = b.begin_write().await.unwrap();
        let mut batch = tokio::spawn({
            let wa = wa.clone();
            async move { wa.append(event(7), 7).await }
        });
        let early = tokio::time::timeout(std::time::Duration::from_millis(300), &mut batch).await;
        assert!(
            early.is_err(),
            "{url}: A's batch was written while a decision held the writer lock: {early:?}"
        );
        let decided = idp_store::audit::append(&mut decision, &[(&event(8), 8)]).await;
        assert_eq!(decided.unwrap().0, 7, "{url}");
        decision.commit().await.unwrap();
        assert_eq!(batch.await.unwrap().unwrap(), 8, "{url}");

        // All at once.
        let mut tasks = tokio::task::JoinSet::new();
        for n in 9..809i64 {
            let (wa, wb, a) = (wa.clone(), wb.clone(), a.clone());
            tasks.spawn(async move {
                match n % 5 {
                    0 => a
                        .append_audit(&[(&event(n), n)])
                        .await
                        .map(|h| h.0)
                        .map_err(|e| e.to_string()),
                    1 | 3 => wb.append(event(n), n).await,
                    _ => wa.append(event(n), n).await,
                }
            });
        }
        let mut seqs = BTreeSet::new();
        while let Some(done) = tasks.join_next().await {
            let seq = done.unwrap().unwrap_or_else(|e| panic!("{url}: {e}"));
            assert!(
                seqs.insert(seq),
                "{url}: sequence number {seq} handed out twice"
            );
        }
        assert_eq!(seqs, (9..809).collect::<BTreeSet<i64>>(), "{url}");
        let report = a.verify_audit().await.unwrap();
        assert!(report.ok() && report.events == 808, "{url}: {report:?}");
    }
}

/// On PostgreSQL every write to what the token exchange's gate reads moves the
/// gate epoch, in the writer's own transaction (one rolled back moves
/// nothing), and a connection's last use does not: a node that remembers gate
/// views checks at each exchange's audit commit that the epoch has not moved.
/// The trigger on `connections` names every column but `last_used_at`, so a
/// column added later cannot slip past it.
#[tokio::test]
async fn every_write_the_gate_reads_moves_the_gate_epoch_and_a_last_use_does_not() {
    use idp_store::{
        blocks,
        directory::{self, SeedPerson},
    };
    let Some(url) = fresh_postgres().await else {
        eprintln!("GATEHOUSE_POSTGRES is not set: the gate epoch moves on PostgreSQL only");
        return;
    };
    let db = Db::open(&url).await.unwrap();
    let mut last = db.gate_epoch().await.unwrap();
    let mut moved = async |what: &str, expected: bool| {
        let now = db.gate_epoch().await.unwrap();
        assert_eq!(now > last, expected, "{what}: epoch {last} → {now}");
        assert!(now >= last, "{what}: the epoch went back");
        last = now;
    };

    let groups = vec!["engineering".to_string()];
    let mut n = 0;
    let mut new_id = move || {
        n += 1;
        format!("id{n}")
    };
    let seed = [SeedPerson {
        username: "alice",
        groups: &groups,
        resource: serde_json::json!({"userName": "alice"}),
    }];
    let mut tx = db.begin_write().await.unwrap();
    directory::seed(&mut tx, &seed, &mut new_id, 1)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    moved("a person, a group and a membership", true).await;
    let (group, person): (String, String) =
        sqlx::query_as("SELECT group_id, person_id FROM group_members")
            .fetch_one(db.pool())
            .await
            .unwrap();
    let mut tx = db.begin_write().await.unwrap();
    directory::set_membership(&mut tx, &group, &person, false)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    moved("leaving a group", true).await;

    db.seed_connection(&connection("agent", "docs", &ScopeCondition::All), 2)
        .await
        .unwrap();
    moved("a new connection", true).await;
    let live = db.live_connection("agent", "docs").await.unwrap().unwrap();
    db.touch_connection(&live.id, 3).await.unwrap();
    moved("a connection's last use", false).await;
    let mut tx = db.begin_write().await.unwrap();
    connections::set_status(&mut tx, &live.id, ConnectionStatus::Revoked, "t", 4)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    moved("a revoke rolled back", false).await;
    let mut tx = db.begin_write().await.unwrap();
    connections::set_status(&mut tx, &live.id, ConnectionStatus::Revoked, "t", 5)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    moved("a revoke", true).await;

    let mut tx = db.begin_write().await.unwrap();
    blocks::block(&mut tx, "alice", "lost laptop", "helpdesk", 6)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    moved("a block", true).await;
    let mut tx = db.begin_write().await.unwrap();
    assert!(blocks::unblock(&mut tx, "alice", 6).await.unwrap());
    tx.commit().await.unwrap();
    moved("an unblock", true).await;
    let view = db.gate_view("alice", "agent", Some("docs")).await.unwrap();
    assert_eq!(view.epoch, last, "a view says which epoch it was read at");

    let columns: BTreeSet<String> = sqlx::query_scalar(
        "SELECT attname::text FROM pg_attribute WHERE attrelid = 'connections'::regclass \
         AND attnum > 0 AND NOT attisdropped",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
    .into_iter()
    .collect();
    let watched: BTreeSet<String> = sqlx::query_scalar(
        "SELECT a.attname::text FROM pg_trigger t JOIN pg_attribute a \
         ON a.attrelid = t.tgrelid AND a.attnum = ANY(t.tgattr::int2[]) \
         WHERE t.tgname = 'gate_epoch_connection_changes'",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
    .into_iter()
    .collect();
    let unwatched: Vec<&String> = columns.difference(&watched).collect();
    assert_eq!(unwatched, ["last_used_at"], "columns no trigger watches");
}

/// An audit event appended at a gate epoch is written only while that is
/// still the epoch: after a write the gate reads it comes back unwritten (its
/// exchange decides again), whether the batch's one statement found the epoch
/// moved or another event in the batch had seen the newer one; the events
/// beside it are written all the same, and the chain verifies.
#[tokio::test]
async fn an_event_at_a_moved_gate_epoch_is_not_written_and_its_batch_mates_are() {
    use idp_store::audit::{AuditEvent, AuditOutcome};
    use idp_store::audit_writer::AuditAppender;
    let Some(url) = fresh_postgres().await else {
        eprintln!("GATEHOUSE_POSTGRES is not set: the gate epoch moves on PostgreSQL only");
        return;
    };
    let db = Db::open(&url).await.unwrap();
    let writer = AuditAppender::start(&db).await.unwrap();
    let event = |n: i64| {
        let mut e = AuditEvent::new("id_jag.exchange", AuditOutcome::Success);
        e.detail = serde_json::json!({ "n": n });
        e
    };
    let old = db.gate_epoch().await.unwrap();
    assert_eq!(writer.append_at_epoch(event(1), 1, old).await, Ok(Some(1)));
    db.seed_connection(&connection("agent", "docs", &ScopeCondition::All), 2)
        .await
        .unwrap();
    let new = db.gate_epoch().await.unwrap();
    assert!(new > old);
    // Alone: the one statement after the writer's own head writes nothing.
    assert_eq!(writer.append_at_epoch(event(2), 2, old).await, Ok(None));
    // Queued together: the old ones are dropped beside one at the new epoch.
    let (a, b, c, d) = tokio::join!(
        writer.append_at_epoch(event(3), 3, old),
        writer.append(event(4), 4),
        writer.append_at_epoch(event(5), 5, new),
        writer.append_at_epoch(event(6), 6, old),
    );
    assert_eq!((a, b, c, d), (Ok(None), Ok(2), Ok(Some(3)), Ok(None)));
    // Only old ones beside a plain one: the statement fails on the epoch, and
    // the transaction after it writes the plain one alone.
    let (e, f) = tokio::join!(
        writer.append_at_epoch(event(7), 7, old),
        writer.append(event(8), 8)
    );
    assert_eq!((e, f), (Ok(None), Ok(4)));
    let written: Vec<i64> = db
        .audit_events(None, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event.detail["n"].as_i64().unwrap())
        .collect();
    let mut written = written;
    written.sort();
    assert_eq!(written, [1, 4, 5, 8]);
    let report = db.verify_audit().await.unwrap();
    assert!(report.ok() && report.events == 4, "{report:?}");
}
