//! Rotating the IdP's signing key with the real binary, the way
//! docs/deployment.md describes it: `signing-key prepare` publishes a new key
//! that does not sign yet; `activate` signs with it while the old one stays
//! published, so an ID token it signed is still honoured; `retire` drops the old
//! one, and that ID token is refused. Each step takes effect at the next start.

use gatehouse_tests::{binary, idp_process::SmallIdp};
use std::{collections::BTreeSet, process::Child};

/// The `kid` in a JWS's header.
fn kid(jws: &str) -> String {
    use base64::Engine;
    let header = jws.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["kid"].as_str().unwrap().to_owned()
}

async fn published(issuer: &str) -> BTreeSet<String> {
    let set: serde_json::Value = reqwest::get(format!("{issuer}/jwks"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

fn step(idp: &SmallIdp, step: &str) -> String {
    let out = std::process::Command::new(binary("gatehouse-idp"))
        .args(["signing-key", step, "--config"])
        .arg(&idp.config)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "signing-key {step}: {text}");
    text
}

async fn restart(idp: &SmallIdp, child: &mut Child, log: &std::path::Path) {
    child.kill().unwrap();
    child.wait().unwrap();
    *child = idp.spawn(&[], &[], log);
    idp.wait_ready().await;
}

#[tokio::test]
async fn a_rotated_key_is_published_first_signs_next_and_retires_last() {
    let dir = tempfile::tempdir().unwrap();
    let idp = SmallIdp::write(dir.path());
    let log = dir.path().join("idp.log");
    let mut child = idp.spawn(&[], &[], &log);
    idp.wait_ready().await;

    let old_token = idp.sign_in().await.id_token;
    let old = kid(&old_token);
    assert_eq!(published(&idp.issuer).await, BTreeSet::from([old.clone()]));

    // Prepare: published, not signing.
    let out = step(&idp, "prepare");
    assert!(out.contains("\tnext\t"), "{out}");
    restart(&idp, &mut child, &log).await;
    let keys = published(&idp.issuer).await;
    assert_eq!(keys.len(), 2);
    let new = keys.iter().find(|k| **k != old).unwrap().clone();
    assert_eq!(kid(&idp.sign_in().await.id_token), old, "not signing yet");
    let refused = std::process::Command::new(binary("gatehouse-idp"))
        .args(["signing-key", "prepare", "--config"])
        .arg(&idp.config)
        .output()
        .unwrap();
    assert!(!refused.status.success(), "a second next key is refused");

    // Activate: the new key signs; the old one still verifies.
    let out = step(&idp, "activate");
    assert!(out.contains(&format!("{new}\tES256\tactive")), "{out}");
    assert!(out.contains(&format!("{old}\tES256\tprevious")), "{out}");
    restart(&idp, &mut child, &log).await;
    let new_token = idp.sign_in().await.id_token;
    assert_eq!(kid(&new_token), new);
    let jag = idp
        .exchange(&old_token)
        .await
        .expect("an ID token of the previous key is still honoured");
    assert_eq!(
        kid(&jag.access_token),
        new,
        "ID-JAGs are signed by the new key"
    );
    assert_eq!(published(&idp.issuer).await.len(), 2);

    // Retire: the old key is gone, and what it signed with it.
    let out = step(&idp, "retire");
    assert!(out.contains(&format!("{old}\tES256\tretired")), "{out}");
    restart(&idp, &mut child, &log).await;
    assert_eq!(published(&idp.issuer).await, BTreeSet::from([new.clone()]));
    gatehouse_tests::expect_oauth(idp.exchange(&old_token).await, xaa::ErrorCode::InvalidGrant);
    idp.exchange(&new_token)
        .await
        .expect("the new key's ID token is honoured");
    child.kill().unwrap();
    child.wait().unwrap();

    // The three steps are in the audit chain, which the running IdP's own
    // appends continued without a break.
    let db = idp::store::Db::open(&idp::store::sqlite_url(&idp.database))
        .await
        .unwrap();
    let kinds: Vec<String> = db
        .audit_events(None, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event.kind.starts_with("signing_key."))
        .map(|e| e.event.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "signing_key.prepared",
            "signing_key.activated",
            "signing_key.retired"
        ]
    );
    assert!(db.verify_audit().await.unwrap().ok());
}
