//! A simulated agent fleet for demo mode: employees' AI apps signing in and
//! trading ID tokens for ID-JAGs against the demo IdP over HTTP, exactly as real
//! agents do. Granted exchanges are the traffic the console's usage columns
//! show; refused ones file and grow pending requests, so the queue stays alive.

use crate::DemoInfo;
use std::{
    collections::HashMap,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

/// The people whose agents run (approvers and admins keep their hands off).
const WORKERS: &[&str] = &["alice", "bob", "frank", "grace", "erin"];

/// Counts of what the fleet did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FleetStats {
    pub granted: u64,
    pub refused: u64,
    pub errors: u64,
}

/// A small xorshift generator: the fleet needs variety, not cryptography.
struct Dice(u64);
impl Dice {
    fn pick(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// Runs `steps` exchanges (forever with `None`), one every `every`.
pub async fn run(info: DemoInfo, every: Duration, steps: Option<u64>) -> FleetStats {
    let http = agent::http_client();
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7)
        | 1;
    let mut dice = Dice(seed);
    let mut id_tokens: HashMap<String, (String, Instant)> = HashMap::new();
    let mut stats = FleetStats::default();
    let clients: Vec<_> = info
        .clients
        .iter()
        .filter(|c| c.client_id != info.console_client_id)
        .collect();
    let mut n = 0;
    while steps.is_none_or(|s| n < s) {
        n += 1;
        tokio::time::sleep(every).await;
        let who = WORKERS[dice.pick(WORKERS.len())];
        // Every other step uses an approved connection (usage, mostly granted);
        // the rest explore client × app pairs (refusals: new and growing requests).
        let known = (n % 2 == 0)
            .then(|| &info.connections[dice.pick(info.connections.len())])
            .and_then(|c| {
                let client = clients.iter().find(|x| x.client_id == c.client_id)?;
                let app = info.resource_apps.iter().find(|a| a.issuer == c.audience)?;
                Some((*client, app, c.scopes.first()?.clone()))
            });
        let (client, app, first_scope) = match known {
            Some((c, a, s)) => (c, a, Some(s)),
            None => (
                clients[dice.pick(clients.len())],
                &info.resource_apps[dice.pick(info.resource_apps.len())],
                None,
            ),
        };
        let creds = agent::ClientCreds {
            client_id: client.client_id.clone(),
            client_secret: client.client_secret.clone(),
        };
        // An ID token is for the client it was issued to: one per (user, client).
        let key = format!("{who} {}", client.client_id);
        let fresh = id_tokens
            .get(&key)
            .is_some_and(|(_, at)| at.elapsed() < Duration::from_secs(240));
        if !fresh {
            let u = info.user(who);
            let user = agent::UserCreds {
                username: u.username.clone(),
                password: u.password.clone(),
                totp_secret: u.totp_secret.clone(),
            };
            match agent::sign_in(
                &http,
                &info.idp,
                &creds,
                &client.redirect_uri,
                &user,
                &agent::SignInOptions::default(),
            )
            .await
            {
                Ok(s) => {
                    id_tokens.insert(key.clone(), (s.id_token, Instant::now()));
                }
                Err(e) => {
                    stats.errors += 1;
                    tracing::debug!(user = who, error = %e, "fleet sign-in failed");
                    continue;
                }
            }
        }
        let id_token = &id_tokens[&key].0;
        // One or two of the app's scopes: agents ask for what a task needs.
        let mut scopes =
            vec![first_scope.unwrap_or_else(|| app.scopes[dice.pick(app.scopes.len())].clone())];
        if n % 2 == 1 && dice.pick(3) == 0 {
            let extra = app.scopes[dice.pick(app.scopes.len())].clone();
            if !scopes.contains(&extra) {
                scopes.push(extra);
            }
        }
        let scope = scopes.join(" ");
        let outcome = agent::exchange(
            &http,
            &info.idp,
            &creds,
            id_token,
            &agent::ExchangeRequest {
                audience: &app.issuer,
                resource: Some(&app.mcp),
                scope: Some(&scope),
            },
        )
        .await;
        match outcome {
            Ok(_) => stats.granted += 1,
            Err(e) if e.oauth().is_some() => stats.refused += 1,
            Err(e) => {
                stats.errors += 1;
                tracing::debug!(error = %e, "fleet exchange failed");
            }
        }
        if n.is_multiple_of(50) {
            tracing::info!(?stats, "demo fleet");
        }
    }
    stats
}
