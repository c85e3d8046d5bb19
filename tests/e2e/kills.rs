//! The kill switch and its reinstatement over loopback: a kill records what it
//! turned off and its events' deliveries; only an approver with a recent MFA
//! sign-in, a reason and the current version reinstates it, once; exactly what
//! it turned off comes back (each connection to the status it had, a user's
//! block lifted), never more (a connection whose pair was approved afresh since
//! stays off), and the receivers get the matching "reinstated" events.

use admin_api::{client::Mutation, *};
use gatehouse_tests::*;

fn at(etag: &str) -> Mutation<'_> {
    Mutation {
        if_match: Some(etag),
        ..Default::default()
    }
}

fn kill(client_id: Option<&str>, app: Option<&str>, user: Option<&str>) -> BulkRevoke {
    BulkRevoke {
        client_id: client_id.map(str::to_owned),
        resource_app: app.map(str::to_owned),
        username: user.map(str::to_owned),
        reason: "suspected prompt injection".into(),
        ..Default::default()
    }
}

/// The kill once every event it queued so far reached its receiver.
async fn delivered(admin: &AdminClient, id: &str) -> KillView {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let k = admin.kill(id).await.unwrap().value;
        if k.deliveries.queued > 0 && k.deliveries.delivered == k.deliveries.queued {
            return k;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not delivered: {:?}",
            k.deliveries
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn connection(admin: &AdminClient, client: &str, app: &str) -> ConnectionView {
    admin
        .list_connections(&query(&[
            ("client_id", client.into()),
            ("resource_app", app.into()),
        ]))
        .await
        .unwrap()
        .items
        .remove(0)
}

#[tokio::test]
async fn a_reinstatement_turns_back_on_exactly_what_the_kill_turned_off() {
    let d = start_demo().await;
    let i = &d.info;
    let carol = admin_session(i, "carol", true).await;
    let oscar = admin_session(i, "oscar", true).await;
    let dave = admin_session(i, "dave", true).await;

    // code-agent: docs active, tickets (approved now) suspended.
    let pending = carol
        .list_requests(&query(&[("status", "pending".into())]))
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|r| r.client.client_id == "code-agent" && r.resource_app.id == "tickets")
        .unwrap();
    let tickets = oscar
        .approve(
            &pending.id,
            &ApproveRequest::default(),
            &at(&format!("\"v{}\"", pending.version)),
        )
        .await
        .unwrap()
        .connection
        .unwrap();
    let tickets: ConnectionView = carol
        .post_json(
            &format!("/connections/{}/suspend", tickets.id),
            &ReasonBody {
                reason: "paused for the incident review".into(),
            },
            &at(&format!("\"v{}\"", tickets.version)),
        )
        .await
        .unwrap();
    let docs = connection(&carol, "code-agent", "docs").await;
    let alice = sign_in(i, "alice", "code-agent", false).await;
    exchange(i, "code-agent", &alice.id_token, "docs", Some("docs.read"))
        .await
        .expect("works before the kill");

    // The help desk pulls the switch on code-agent.
    let r = dave
        .bulk_revoke(&kill(Some("code-agent"), None, None), &Mutation::default())
        .await
        .unwrap();
    assert_eq!(r.connections_revoked, 2);
    let kill_id = r.kill_id.clone().expect("a kill is recorded");
    let k = delivered(&carol, &kill_id).await;
    assert_eq!(
        (k.selector, k.target.as_str()),
        (KillSelector::Client, "code-agent")
    );
    assert_eq!(k.deliveries.queued, r.events_queued);
    let before: std::collections::BTreeMap<_, _> = k
        .connections
        .iter()
        .map(|c| (c.connection_id.clone(), (c.status_before, c.status_now)))
        .collect();
    assert_eq!(
        before,
        [
            (
                docs.id.clone(),
                (ConnectionStatus::Active, ConnectionStatus::Revoked)
            ),
            (
                tickets.id.clone(),
                (ConnectionStatus::Suspended, ConnectionStatus::Revoked)
            ),
        ]
        .into_iter()
        .collect()
    );
    expect_oauth(
        exchange(i, "code-agent", &alice.id_token, "docs", Some("docs.read")).await,
        xaa::ErrorCode::AccessDenied,
    );

    // Who may reinstate, and how.
    let etag = format!("\"v{}\"", k.version);
    let e = dave
        .reinstate_kill(&kill_id, "false alarm", &at(&etag))
        .await
        .unwrap_err();
    assert_eq!(
        e.status(),
        Some(403),
        "the help desk kills, it does not reinstate"
    );
    let carol_plain = admin_session(i, "carol", false).await;
    let e = carol_plain
        .reinstate_kill(&kill_id, "false alarm", &at(&etag))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401), "a recent MFA sign-in is required");
    let e = carol
        .reinstate_kill(&kill_id, " ", &at(&etag))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(422), "a reason is required");
    let e = carol
        .reinstate_kill(&kill_id, "false alarm", &at("\"v9\""))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(412));

    let k = carol
        .reinstate_kill(
            &kill_id,
            "false alarm: the injection was in a test doc",
            &at(&etag),
        )
        .await
        .unwrap();
    assert_eq!(k.reinstated_by.as_deref(), Some("carol"));
    assert!(k.connections.iter().all(|c| c.reinstated));
    let now = |id: &str| {
        let carol = &carol;
        let id = id.to_owned();
        async move { carol.get_connection(&id).await.unwrap().value.status }
    };
    assert_eq!(now(&docs.id).await, ConnectionStatus::Active);
    assert_eq!(
        now(&tickets.id).await,
        ConnectionStatus::Suspended,
        "back to what it was, not more"
    );
    exchange(i, "code-agent", &alice.id_token, "docs", Some("docs.read"))
        .await
        .expect("works again");
    // The receivers heard of it: the reinstatement's events are delivered too.
    let k = delivered(&carol, &kill_id).await;
    assert_eq!(k.deliveries.queued, 2 * r.events_queued);
    let e = carol
        .reinstate_kill(&kill_id, "again", &at(&format!("\"v{}\"", k.version)))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409), "once");
    let audit = carol
        .audit(&query(&[("kind", "kill.reinstate".into())]))
        .await
        .unwrap()
        .items;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor.as_deref(), Some("carol"));
}

#[tokio::test]
async fn a_pair_approved_afresh_after_the_kill_is_left_alone_and_a_user_block_is_lifted() {
    let d = start_demo().await;
    let i = &d.info;
    let carol = admin_session(i, "carol", true).await;
    let dave = admin_session(i, "dave", true).await;

    // Kill every connection to the CRM; sales-notetaker's pair is approved afresh.
    let r = dave
        .bulk_revoke(&kill(None, Some("crm"), None), &Mutation::default())
        .await
        .unwrap();
    let kill_id = r.kill_id.unwrap();
    let bob = sign_in(i, "bob", "sales-notetaker", false).await;
    let refused = exchange(
        i,
        "sales-notetaker",
        &bob.id_token,
        "crm",
        Some("crm.contacts.read"),
    )
    .await;
    let request_id = expect_oauth(refused, xaa::ErrorCode::AccessDenied)
        .connection_request_id
        .unwrap();
    let request = carol.get_request(&request_id).await.unwrap();
    let fresh = carol
        .approve(&request_id, &ApproveRequest::default(), &at(&request.etag))
        .await
        .unwrap()
        .connection
        .unwrap();
    let k = carol.kill(&kill_id).await.unwrap();
    let old = &k.value.connections[0];
    assert!(
        old.left_off
            .as_deref()
            .unwrap()
            .contains("newer connection"),
        "{old:?}"
    );
    let k = carol
        .reinstate_kill(&kill_id, "the CRM incident is closed", &at(&k.etag))
        .await
        .unwrap();
    assert!(!k.connections[0].reinstated);
    assert_eq!(
        carol
            .get_connection(&old.connection_id)
            .await
            .unwrap()
            .value
            .status,
        ConnectionStatus::Revoked,
        "never two live connections of one pair"
    );
    assert_eq!(
        carol.get_connection(&fresh.id).await.unwrap().value.status,
        ConnectionStatus::Active
    );

    // A user kill blocks frank everywhere; its reinstatement lifts exactly that block.
    let frank = sign_in(i, "frank", "code-agent", false).await;
    let r = dave
        .bulk_revoke(&kill(None, None, Some("frank")), &Mutation::default())
        .await
        .unwrap();
    let kill_id = r.kill_id.unwrap();
    expect_oauth(
        exchange(i, "code-agent", &frank.id_token, "docs", Some("docs.read")).await,
        xaa::ErrorCode::AccessDenied,
    );
    let k = carol.kill(&kill_id).await.unwrap();
    assert_eq!(k.value.blocked_user.as_deref(), Some("frank"));
    carol
        .reinstate_kill(&kill_id, "frank's laptop was cleaned", &at(&k.etag))
        .await
        .unwrap();
    let frank = sign_in(i, "frank", "code-agent", false).await;
    exchange(i, "code-agent", &frank.id_token, "docs", Some("docs.read"))
        .await
        .expect("unblocked");
    let k = delivered(&carol, &kill_id).await;
    assert_eq!(k.deliveries.failed, 0);
}
