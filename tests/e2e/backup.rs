//! Backup and restore of a single-node IdP on SQLite, with the real binary:
//! `gatehouse-idp backup` copies the database while the IdP serves and checks
//! the copy; after the database is lost, the copy put in its place brings back
//! the same signing key (a token issued before the backup still verifies and
//! can still be exchanged) and an audit chain that goes on intact from where
//! the backup left it. The procedure is docs/deployment.md's.

use gatehouse_tests::{binary, idp_process::SmallIdp};
use std::{path::Path, process::Command};

/// `gatehouse-idp ARGS`: (exit code, stdout, stderr).
fn idp_cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary("gatehouse-idp"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The audit event count a `backup` / `verify-backup` line reports.
fn events_in(line: &str) -> u64 {
    line.split(" audit events")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no event count in {line}"))
}

/// Runs a PostgreSQL tool; fails the test with its stderr unless it succeeds.
fn succeeds(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn jwks(issuer: &str) -> serde_json::Value {
    reqwest::get(format!("{issuer}/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn remove_database(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", db.display());
        let _ = std::fs::remove_file(p);
    }
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_the_keys_and_an_intact_chain() {
    let dir = tempfile::tempdir().unwrap();
    let idp = SmallIdp::write(dir.path());
    let config = idp.config.to_str().unwrap();
    let log = dir.path().join("idp.log");
    let mut child = idp.spawn(&[], &[], &log);
    idp.wait_ready().await;

    let before = idp.sign_in().await;
    idp.exchange(&before.id_token)
        .await
        .expect("the exchange is granted");
    let keys = jwks(&idp.issuer).await;

    // While the IdP serves.
    let backup = dir.path().join("backup.sqlite");
    let backup_s = backup.to_str().unwrap();
    let (code, out, err) = idp_cli(&["backup", "--config", config, "--to", backup_s]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("chain intact") && out.contains("schema current"),
        "{out}"
    );
    let backed_up = events_in(&out);
    assert!(backed_up >= 2, "sign-in and exchange are audited: {out}");

    // A backup never overwrites a file.
    let (code, _, err) = idp_cli(&["backup", "--config", config, "--to", backup_s]);
    assert_eq!(code, 1);
    assert!(err.contains("never overwrites"), "{err}");

    // The live database moves on, then is lost.
    idp.exchange(&before.id_token).await.unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    remove_database(&idp.database);

    let (code, out, err) = idp_cli(&["verify-backup", backup_s]);
    assert_eq!((code, events_in(&out)), (0, backed_up), "{out}{err}");

    // Restore: the copy in the database's place, the same config.
    std::fs::copy(&backup, &idp.database).unwrap();
    let mut child = idp.spawn(&[], &[], &log);
    idp.wait_ready().await;
    assert_eq!(
        jwks(&idp.issuer).await,
        keys,
        "the signing key came back with the database"
    );
    let jag = idp
        .exchange(&before.id_token)
        .await
        .expect("an ID token issued before the backup is still honoured");
    let claims = gatehouse_tests::claims(&jag.access_token);
    assert_eq!(claims["iss"], idp.issuer.as_str());
    child.kill().unwrap();
    child.wait().unwrap();

    // The restored chain went on from the backup's head, intact.
    let (code, out, err) = idp_cli(&["verify-backup", idp.database.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(events_in(&out) > backed_up, "{out}");

    // An edited row in a backup is found, by its number.
    let tampered = dir.path().join("tampered.sqlite");
    std::fs::copy(&backup, &tampered).unwrap();
    let db = idp::store::Db::open(&idp::store::sqlite_url(&tampered))
        .await
        .unwrap();
    sqlx::query("UPDATE audit_events SET subject = 'mallory' WHERE seq = 1")
        .execute(db.pool())
        .await
        .unwrap();
    let (code, out, _) = idp_cli(&["verify-backup", tampered.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(out.contains("broken at event 1"), "{out}");

    // A missing database is an error, and nothing is created.
    let nowhere = dir.path().join("nowhere.sqlite");
    let (code, _, err) = idp_cli(&["verify-backup", nowhere.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("no SQLite database"), "{err}");
    assert!(!nowhere.exists());
}

/// The PostgreSQL procedure of docs/deployment.md: `pg_dump --format=custom`
/// while the IdP serves, `pg_restore` into an empty database, the IdP started on
/// it — same JWKS, an ID token from before the dump still exchanged, the chain
/// intact and going on. Runs when `GATEHOUSE_POSTGRES` names a server (the test
/// command starts one); without it the test says so and passes.
#[tokio::test]
async fn a_pg_dump_taken_while_serving_restores_into_an_empty_database() {
    let Some(server) = std::env::var("GATEHOUSE_POSTGRES")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        eprintln!("GATEHOUSE_POSTGRES is not set: no PostgreSQL to dump and restore");
        return;
    };
    let live = idp::store::create_postgres_database(&server, "gh_dump")
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let idp = SmallIdp::write(dir.path());
    let log = dir.path().join("idp.log");
    let mut child = idp.spawn(&[], &[("GATEHOUSE_DATABASE_URL", &live)], &log);
    idp.wait_ready().await;
    let before = idp.sign_in().await;
    idp.exchange(&before.id_token).await.unwrap();
    let keys = jwks(&idp.issuer).await;

    let dump = dir.path().join("gatehouse.dump");
    succeeds(
        Command::new("pg_dump")
            .args(["--format=custom", "--file"])
            .arg(&dump)
            .arg(&live),
    );
    let dumped_events = idp::store::Db::open(&live)
        .await
        .unwrap()
        .verify_audit()
        .await
        .unwrap()
        .events;
    child.kill().unwrap();
    child.wait().unwrap();

    let restored = idp::store::create_postgres_database(&server, "gh_restore")
        .await
        .unwrap();
    succeeds(
        Command::new("pg_restore")
            .args(["--no-owner", "--exit-on-error", "--dbname"])
            .arg(&restored)
            .arg(&dump),
    );
    let mut child = idp.spawn(&[], &[("GATEHOUSE_DATABASE_URL", &restored)], &log);
    idp.wait_ready().await;
    assert_eq!(jwks(&idp.issuer).await, keys);
    idp.exchange(&before.id_token)
        .await
        .expect("an ID token from before the dump is still honoured");
    child.kill().unwrap();
    child.wait().unwrap();
    let chain = idp::store::Db::open(&restored)
        .await
        .unwrap()
        .verify_audit()
        .await
        .unwrap();
    assert!(chain.ok(), "{chain:?}");
    assert!(
        chain.events > dumped_events,
        "{chain:?} after {dumped_events}"
    );
}
