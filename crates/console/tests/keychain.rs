//! The real OS keychain (on Linux: gnome-keyring over the Secret Service API).
//! Ignored by plain `cargo test`: `scripts/keychain-tests.sh` runs it inside a
//! private `dbus-run-session` with an unlocked keyring, as CI does.

use console::{KeychainStore, SecretKind, SecretStore};

#[test]
#[ignore = "needs an unlocked Secret Service; run scripts/keychain-tests.sh"]
fn store_restore_and_delete_through_the_real_keychain() {
    let service = format!("dev.gatehouse.console.test.{}", std::process::id());
    let store = KeychainStore::new(&service);
    let profile = "profile-under-test";
    assert_eq!(store.get(profile, SecretKind::RefreshToken).unwrap(), None);
    store
        .set(profile, SecretKind::RefreshToken, "rt-first")
        .unwrap();
    store
        .set(profile, SecretKind::RefreshToken, "rt-rotated")
        .unwrap();
    store
        .set(profile, SecretKind::ApiToken, "gh_adm_example")
        .unwrap();

    // A second store instance (as after a restart) reads what the first wrote.
    let again = KeychainStore::new(&service);
    assert_eq!(
        again
            .get(profile, SecretKind::RefreshToken)
            .unwrap()
            .as_deref(),
        Some("rt-rotated")
    );
    assert_eq!(
        again.get(profile, SecretKind::ApiToken).unwrap().as_deref(),
        Some("gh_adm_example")
    );

    // It is really in the Secret Service, visible to another process.
    let out = std::process::Command::new("secret-tool")
        .args([
            "lookup",
            "service",
            &service,
            "username",
            &format!("{profile}/refresh-token"),
        ])
        .output()
        .expect("secret-tool is installed by the keychain script");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "rt-rotated",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    again.delete(profile, SecretKind::RefreshToken).unwrap();
    again.delete(profile, SecretKind::ApiToken).unwrap();
    assert_eq!(store.get(profile, SecretKind::RefreshToken).unwrap(), None);
    assert_eq!(store.get(profile, SecretKind::ApiToken).unwrap(), None);
    // Deleting what is not there is not an error.
    store.delete(profile, SecretKind::ApiToken).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs an unlocked Secret Service; run scripts/keychain-tests.sh"]
async fn the_keychain_works_from_async_code() {
    // The console calls the store from async commands; the Secret Service client
    // must not block a runtime thread (it would panic).
    let store = KeychainStore::new(format!(
        "dev.gatehouse.console.async.{}",
        std::process::id()
    ));
    store.set("p", SecretKind::RefreshToken, "rt").unwrap();
    assert_eq!(
        store.get("p", SecretKind::RefreshToken).unwrap().as_deref(),
        Some("rt")
    );
    store.delete("p", SecretKind::RefreshToken).unwrap();
}
