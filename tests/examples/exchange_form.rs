//! Prints what `../shared/bench-peer/run.sh` needs to load Gatehouse's token
//! exchange: a running demo's client credentials, an ID token of a person with
//! an approved connection, and the exchange's form body (its subject token as
//! `__SUBJECT_TOKEN__`), as one JSON object. Used by `scripts/exchange-bench.sh`.
//!
//! `exchange_form DEMO_JSON_FILE [refused]`: with `refused`, the form names an
//! app the client has no connection to (the refusal path).

use gatehouse_tests::{DemoInfo, load::exchange_target};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("the demo's JSON line file");
    let refused = args.next().as_deref() == Some("refused");
    let info: DemoInfo =
        serde_json::from_str(std::fs::read_to_string(&path).expect("read").trim()).expect("json");
    let target = exchange_target(&info, "tickets.read tickets.comment").await;
    let mut subject_token = String::new();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let (mut client_id, mut client_secret) = (String::new(), String::new());
    for (k, v) in target.form {
        match k.as_str() {
            "client_id" => client_id = v,
            "client_secret" => client_secret = v,
            "subject_token" => {
                subject_token = v;
                pairs.push((k, "__SUBJECT_TOKEN__".into()));
            }
            "audience" if refused => pairs.push((k, info.app("ledger").issuer.clone())),
            "resource" if refused => pairs.push((k, info.app("ledger").mcp.clone())),
            "scope" if refused => pairs.push((k, "ledger.read".into())),
            _ => pairs.push((k, v)),
        }
    }
    // The placeholder is URL-safe, so it survives encoding as it is.
    let form_body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    println!(
        "{}",
        serde_json::json!({
            "client_id": client_id,
            "client_secret": client_secret,
            "subject_token": subject_token,
            "form_body": form_body,
        })
    );
}
