//! Properties of the policy gate over random connections, requests and sign-ins:
//! what it grants is within what was asked, what was approved and the app's
//! catalogue; a scope outside the catalogue is never granted; and a granted
//! scope whose step-up rule (or sensitivity) the sign-in does not meet is never
//! granted — the gate refuses with `insufficient_user_authentication` instead.

use idp::{
    config::{ResourceApp, Risk, ScopeCondition, ScopeDef, StepUpRule},
    policy::{self, Subject, Verdict},
    store::{Connection, ConnectionStatus},
};
use proptest::prelude::*;
use xaa::{ACR_MFA, ACR_PASSWORD, ErrorCode, ScopeSet};

const NOW: i64 = 1_800_000_000;
/// (name, sensitive): the app's catalogue.
const CATALOGUE: [(&str, bool); 5] = [
    ("a.read", false),
    ("a.write", false),
    ("a.delete", false),
    ("a.admin", true),
    ("a.export", true),
];
/// Names a client may send that are not in the catalogue.
const STRANGERS: [&str; 2] = ["x.other", "a.readx"];

fn app() -> ResourceApp {
    ResourceApp {
        id: "a".into(),
        name: "A".into(),
        issuer: "https://a-as".into(),
        mcp_servers: vec!["https://a/mcp".into()],
        client_ids: Default::default(),
        scopes: CATALOGUE
            .iter()
            .map(|(n, sensitive)| ScopeDef {
                name: (*n).into(),
                description: (*n).into(),
                risk: Risk::Read,
                sensitive: *sensitive,
            })
            .collect(),
        receivers: vec![],
        owners: vec![],
    }
}

fn all_names() -> Vec<&'static str> {
    CATALOGUE.iter().map(|c| c.0).chain(STRANGERS).collect()
}

fn subset() -> impl Strategy<Value = Vec<String>> {
    proptest::sample::subsequence(all_names(), 0..=all_names().len())
        .prop_map(|v| v.into_iter().map(str::to_owned).collect())
}

fn rules() -> impl Strategy<Value = Vec<StepUpRule>> {
    proptest::collection::vec(
        (
            proptest::sample::select(all_names()),
            prop_oneof![Just(None), Just(Some(ACR_MFA)), Just(Some(ACR_PASSWORD))],
            prop_oneof![Just(None), (0u64..7200).prop_map(Some)],
        )
            .prop_map(|(s, acr, max_age)| StepUpRule {
                scope: s.into(),
                acr: acr.map(str::to_owned),
                max_age,
            }),
        0..4,
    )
}

#[derive(Debug, Clone)]
struct Case {
    condition: Option<Vec<String>>,
    requested: Option<Vec<String>>,
    step_up: Vec<StepUpRule>,
    acr: Option<&'static str>,
    auth_age: Option<u64>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::option::of(subset()),
        proptest::option::of(subset()),
        rules(),
        prop_oneof![Just(None), Just(Some(ACR_MFA)), Just(Some(ACR_PASSWORD))],
        proptest::option::of(0u64..10_000),
    )
        .prop_map(|(condition, requested, step_up, acr, auth_age)| Case {
            condition,
            requested,
            step_up,
            acr,
            auth_age,
        })
}

fn connection(c: &Case) -> Connection {
    Connection {
        id: "c1".into(),
        client_id: "agent".into(),
        resource_app: "a".into(),
        scopes: c
            .condition
            .clone()
            .map_or(ScopeCondition::All, ScopeCondition::IncludeOnly),
        allowed_groups: vec![],
        excluded_users: vec![],
        allowed_resources: vec![],
        step_up: c.step_up.clone(),
        id_jag_lifetime: None,
        expires_at: None,
        status: ConnectionStatus::Active,
        approved_by: vec![],
        version: 1,
    }
}

/// Whether the sign-in meets scope `s`'s step-up rule (or its sensitivity).
fn met(c: &Case, s: &str) -> bool {
    let rule = c.step_up.iter().find(|r| r.scope == s);
    let sensitive = CATALOGUE.iter().any(|(n, sens)| *n == s && *sens);
    let acr = rule
        .and_then(|r| r.acr.clone())
        .or_else(|| sensitive.then(|| ACR_MFA.to_string()));
    let max_age = rule
        .and_then(|r| r.max_age)
        .or_else(|| sensitive.then_some(policy::SENSITIVE_MAX_AGE));
    let acr_ok = acr
        .as_deref()
        .is_none_or(|need| policy::acr_satisfies(c.acr, need));
    let age_ok = max_age.is_none_or(|m| c.auth_age.is_some_and(|a| a <= m));
    acr_ok && age_ok
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_gate_grants_only_within_request_approval_catalogue_and_step_up(c in case()) {
        let app = app();
        let conn = connection(&c);
        let requested = c.requested.as_ref().map(|r| ScopeSet::from_iter(r.iter().cloned()));
        let subject = Subject {
            username: "alice",
            groups: &[],
            acr: c.acr,
            auth_time: c.auth_age.map(|a| (NOW as u64) - a),
        };
        let v = policy::decide(&app, Some(&conn), None, requested.as_ref(), &subject, 300, NOW);
        let catalogue = ScopeSet::from_iter(CATALOGUE.iter().map(|c| c.0));
        let approved = match &c.condition {
            None => catalogue.clone(),
            Some(list) => ScopeSet::from_iter(list.iter().cloned()),
        };
        // What the gate could grant at most: requested ∩ approved ∩ catalogue.
        let ceiling = requested
            .clone()
            .map_or(approved.clone(), |r| r.intersect(&approved))
            .intersect(&catalogue);
        match v {
            Verdict::Allow { scopes, lifetime, .. } => {
                prop_assert!(!scopes.is_empty());
                prop_assert!(scopes.is_subset(&ceiling), "granted {scopes} beyond {ceiling}");
                prop_assert!(scopes.is_subset(&catalogue));
                for s in scopes.iter() {
                    prop_assert!(met(&c, s), "granted {s} without its step-up");
                }
                prop_assert!(lifetime <= xaa::MAX_ID_JAG_LIFETIME);
            }
            Verdict::Refuse(e) => match e.error {
                ErrorCode::InvalidScope => prop_assert!(ceiling.is_empty()),
                ErrorCode::InsufficientUserAuthentication => {
                    prop_assert!(ceiling.iter().any(|s| !met(&c, s)));
                }
                other => prop_assert!(false, "unexpected refusal {other:?}"),
            },
            Verdict::NoConnection { .. } => prop_assert!(false, "the connection is active"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Scope narrowing (approval, the gate, the resource AS) is intersection:
    /// the result is within both sides, and a scope string survives a round
    /// trip through its RFC 6749 form whatever its order or repetitions.
    #[test]
    fn scope_narrowing_stays_within_both_sides_and_round_trips(
        a in subset(),
        b in subset(),
        noise in proptest::collection::vec(proptest::sample::select(all_names()), 0..6),
    ) {
        let sa = ScopeSet::from_iter(a.iter().cloned());
        let sb = ScopeSet::from_iter(b.iter().cloned());
        let both = sa.intersect(&sb);
        prop_assert!(both.is_subset(&sa) && both.is_subset(&sb));
        for s in both.iter() {
            prop_assert!(a.iter().any(|x| x == s) && b.iter().any(|x| x == s));
        }
        prop_assert_eq!(ScopeSet::parse(&sa.to_string()), Some(sa.clone()));
        // Repeated and reordered tokens parse to the same set.
        let mut words: Vec<&str> = a.iter().map(String::as_str).collect();
        words.extend(noise.iter().copied().filter(|n| a.iter().any(|x| x == n)));
        words.reverse();
        prop_assert_eq!(ScopeSet::parse(&words.join("  ")), Some(sa));
    }
}
