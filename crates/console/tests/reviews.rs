//! Review reminders against the real IdP: the signed-in reviewer is reminded of
//! open items in campaigns due soon, and only those.

mod common;
use admin_api::ReportFormat;
use common::{browser, world};
use std::time::Duration;

#[tokio::test]
async fn a_reviewer_is_reminded_of_open_items_due_soon() {
    let w = world(Duration::from_secs(600)).await;
    let i = &w.demo.info;
    let judy = i.user("judy");
    let signed = agent::sign_in(
        &agent::http_client(),
        &i.idp,
        &agent::ClientCreds {
            client_id: i.console_client_id.clone(),
            client_secret: String::new(),
        },
        "http://127.0.0.1:53123/callback",
        &agent::UserCreds {
            username: judy.username.clone(),
            password: judy.password.clone(),
            totp_secret: judy.totp_secret.clone(),
        },
        &agent::SignInOptions {
            require_mfa: true,
            use_totp: true,
            extra_scope: Some(admin_api::ADMIN_SCOPE.into()),
        },
    )
    .await
    .unwrap();
    let admin = admin_api::AdminClient::new(&i.idp, signed.access_token);
    let now = w.demo.idp.now();
    admin
        .create_campaign(&admin_api::CreateCampaign {
            name: "Soon".into(),
            scope: Default::default(),
            reviewers: vec!["ivan".into()],
            fallback_reviewer: "ivan".into(),
            starts_at: None,
            due_at: now + 2 * 86_400,
            default_action: admin_api::ReviewDefault::Keep,
            per_user: false,
            kind: admin_api::CampaignKind::Access,
        })
        .await
        .unwrap();
    w.console
        .sign_in_browser(&w.profile, false, browser(i, "ivan", false))
        .await
        .unwrap();
    let soon = console::commands::review_reminders(&w.console, now, 3 * 86_400)
        .await
        .unwrap();
    assert_eq!(soon, vec![("Soon".to_string(), 4, now + 2 * 86_400)]);
    let not_yet = console::commands::review_reminders(&w.console, now, 86_400)
        .await
        .unwrap();
    assert!(not_yet.is_empty());

    // The report through the console: written whole to the chosen path.
    let campaign = console::commands::campaigns(&w.console).await.unwrap()[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("report.pdf");
    let n = console::commands::export_report(&w.console, &campaign.id, ReportFormat::Pdf, &pdf)
        .await
        .unwrap();
    let bytes = std::fs::read(&pdf).unwrap();
    assert_eq!(bytes.len(), n);
    assert!(bytes.starts_with(b"%PDF-1.4"));
    let e = console::commands::export_report(
        &w.console,
        &campaign.id,
        ReportFormat::Csv,
        &dir.path().join("no-such-dir").join("r.csv"),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code, console::ErrorCode::Invalid);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}
