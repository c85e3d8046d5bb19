//! Federated sign-in: `/authorize` signs the person in at one of the company's
//! OpenID Providers (`[[upstream]]`) and issues Gatehouse's own tokens.
//!
//! `start` keeps the client's authorization request in the store under a random
//! `state` (with the `nonce`, the PKCE verifier and a hash of a cookie that binds
//! it to this browser), then sends the browser to the upstream, passing a step-up
//! through (`acr_values`, `prompt=login`, `max_age`). `callback` takes that row
//! exactly once (a replayed `state` finds nothing), checks the browser, the
//! response's `iss` (RFC 9207), redeems the code with the verifier, validates the
//! ID token (issuer, audience, algorithm, times, nonce, `auth_time`), maps its
//! claims to the directory's person, and ends like a password sign-in. The acr
//! is Gatehouse's MFA only when the upstream proved a second factor; otherwise a
//! step-up rule refuses the exchange with the RFC 9470 error. Every refusal is a
//! page that says why, audited, with nothing created.

use crate::{
    audit::{AuditEvent, AuditOutcome},
    authorize::{self, Authentication, CARRIED, error_page, redirect_error},
    config::Upstream,
    services::directory::{UpstreamRefusal, upstream_person},
    state::SharedIdp,
};
use axum::{
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use idp_store::upstream_logins::UpstreamLogin;
use oidc_rp::{IdTokenRules, JwksCache, ProviderMetadata, id_token, login};
use std::collections::{BTreeMap, HashMap};
use tokio::sync::OnceCell;
use xaa::{ACR_MFA, ACR_PASSWORD, jws::JwsError, util};

/// How long a sign-in may stay at the upstream.
const LOGIN_TTL: i64 = 600;
/// The cookie binding a sign-in in flight to the browser that started it.
const BROWSER_COOKIE: &str = "gh_upstream";
const COOKIE_PATH: &str = "/authorize/upstream; SameSite=Lax";
/// Where every upstream sends the browser back (register it there).
pub const CALLBACK_PATH: &str = "/authorize/upstream/callback";

/// One upstream at run time: its configuration, its client secret, and (once
/// discovered) its metadata and keys.
pub struct Federated {
    pub config: Upstream,
    secret: String,
    algorithms: Vec<xaa::Alg>,
    provider: OnceCell<Provider>,
}

struct Provider {
    meta: ProviderMetadata,
    keys: JwksCache,
}

/// Every configured upstream.
#[derive(Default)]
pub struct Upstreams {
    list: Vec<Federated>,
    http: reqwest::Client,
}

/// The path that starts a sign-in at upstream `id` for the authorization
/// request `p`.
pub fn start_path(id: &str, p: &HashMap<String, String>) -> String {
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            CARRIED
                .iter()
                .filter_map(|k| p.get(*k).map(|v| (*k, v.as_str()))),
        )
        .finish();
    format!("/authorize/upstream/{id}?{query}")
}

impl Upstreams {
    /// Reads each upstream's client secret (from its file or environment
    /// variable); a missing or empty one is an error naming where it looked.
    pub fn load(config: &[Upstream]) -> Result<Self, String> {
        let mut list = Vec::new();
        for u in config {
            let secret = match (&u.client_secret_file, &u.client_secret_env) {
                (Some(f), _) => std::fs::read_to_string(f).map_err(|e| {
                    format!(
                        "upstream `{}`: cannot read client_secret_file {f}: {e}",
                        u.id
                    )
                })?,
                (None, Some(v)) => std::env::var(v).map_err(|_| {
                    format!(
                        "upstream `{}`: the environment variable {v} is not set",
                        u.id
                    )
                })?,
                (None, None) => String::new(),
            };
            let secret = secret.trim().to_owned();
            if secret.is_empty() {
                return Err(format!("upstream `{}`: its client secret is empty", u.id));
            }
            list.push(Federated {
                algorithms: u.algs(),
                config: u.clone(),
                secret,
                provider: OnceCell::new(),
            });
        }
        Ok(Self {
            list,
            http: reqwest::Client::new(),
        })
    }

    pub fn get(&self, id: &str) -> Option<&Federated> {
        self.list.iter().find(|f| f.config.id == id)
    }

    /// The upstream's metadata and keys, discovered on first use (a failure is
    /// retried on the next sign-in).
    async fn provider<'a>(&self, f: &'a Federated) -> Result<&'a Provider, String> {
        f.provider
            .get_or_try_init(|| async {
                let meta = oidc_rp::fetch_metadata(&self.http, &f.config.issuer)
                    .await
                    .map_err(|e| e.to_string())?;
                let keys = JwksCache::new(meta.jwks_uri.clone(), self.http.clone());
                Ok(Provider { meta, keys })
            })
            .await
    }
}

fn callback_url(idp: &SharedIdp) -> String {
    idp.endpoint(CALLBACK_PATH)
}

fn unreachable_page(name: &str) -> Response {
    error_page(
        StatusCode::BAD_GATEWAY,
        &format!(
            "{name} cannot be reached right now, so the sign-in cannot go on. Try again in a moment; nothing was changed."
        ),
    )
}

/// `GET /authorize/upstream/{id}`: sends the browser to the upstream.
pub async fn start(
    State(idp): State<SharedIdp>,
    Path(id): Path<String>,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = authorize::validate(&idp, &p) {
        return *r;
    }
    let Some(up) = idp.upstreams.get(&id) else {
        return error_page(StatusCode::NOT_FOUND, "There is no such sign-in provider.");
    };
    let provider = match idp.upstreams.provider(up).await {
        Ok(pr) => pr,
        Err(e) => {
            tracing::warn!(upstream = %id, error = %e, "upstream discovery failed");
            return unreachable_page(&up.config.name);
        }
    };
    let state = util::random_token(24);
    let nonce = util::random_token(24);
    let verifier = util::random_token(32);
    let browser = util::random_token(24);
    let wants_mfa = p
        .get("acr_values")
        .is_some_and(|a| a.split(' ').any(|x| x == ACR_MFA));
    let max_age = p.get("max_age").and_then(|m| m.parse::<i64>().ok());
    let carried: BTreeMap<&str, &str> = CARRIED
        .iter()
        .filter_map(|k| p.get(*k).map(|v| (*k, v.as_str())))
        .collect();
    let row = UpstreamLogin {
        upstream: id.clone(),
        browser_hash: util::sha256_hex(browser.as_bytes()),
        nonce: nonce.clone(),
        code_verifier: verifier.clone(),
        request: serde_json::to_string(&carried).unwrap_or_default(),
        expires_at: idp.now() + LOGIN_TTL,
    };
    if let Err(e) = idp
        .store
        .insert_upstream_login(&util::sha256_hex(state.as_bytes()), &row)
        .await
    {
        tracing::error!(error = %e, "storage error: the upstream sign-in was not stored");
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The IdP cannot reach its storage.",
        );
    }
    let acr_values = (wants_mfa && !up.config.mfa.acr_values.is_empty())
        .then(|| up.config.mfa.acr_values.join(" "));
    let prompt_login = wants_mfa
        || p.get("prompt")
            .is_some_and(|v| v.split(' ').any(|x| x == "login"));
    let url = login::authorization_url(
        &provider.meta,
        &login::AuthorizationRequest {
            client_id: &up.config.client_id,
            redirect_uri: &callback_url(&idp),
            scopes: &up.config.scopes,
            state: &state,
            nonce: &nonce,
            code_challenge: &util::pkce_s256(&verifier),
            acr_values,
            prompt_login,
            max_age,
        },
    );
    let Ok(url) = url else {
        return unreachable_page(&up.config.name);
    };
    let mut r = Redirect::to(&url).into_response();
    // Lax, not Strict: the way back is a top-level navigation from the upstream.
    authorize::set_cookie(
        &mut r,
        &idp,
        BROWSER_COOKIE,
        &browser,
        COOKIE_PATH,
        LOGIN_TTL,
    );
    r
}

/// Audits a refused upstream sign-in.
async fn audit_refusal(idp: &SharedIdp, upstream: &str, client_id: Option<&str>, reason: &str) {
    let mut e = AuditEvent::new("login", AuditOutcome::Refused);
    e.client_id = client_id.map(str::to_owned);
    e.reason = Some(reason.chars().take(500).collect());
    e.detail = serde_json::json!({ "upstream": upstream });
    if let Err(err) = idp.audit.record(e, idp.now_ms()).await {
        tracing::error!(error = %err, "a refused upstream sign-in could not be audited");
    }
}

/// A refused upstream sign-in: audited, then a page saying why.
async fn refuse(
    idp: &SharedIdp,
    upstream: &str,
    client_id: Option<&str>,
    reason: &str,
    status: StatusCode,
    page: &str,
) -> Response {
    audit_refusal(idp, upstream, client_id, reason).await;
    error_page(status, page)
}

/// `GET /authorize/upstream/callback`: the upstream's answer.
pub async fn callback(
    State(idp): State<SharedIdp>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(state) = q.get("state").filter(|s| !s.is_empty()) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The sign-in response has no state.",
        );
    };
    let taken = idp
        .store
        .take_upstream_login(&util::sha256_hex(state.as_bytes()), idp.now())
        .await;
    let login = match taken {
        Ok(Some(l)) => l,
        Ok(None) => {
            return refuse(
                &idp,
                "",
                None,
                "an upstream sign-in response with an unknown, used or expired state",
                StatusCode::BAD_REQUEST,
                "This sign-in response was already used or has expired. Start the sign-in again from the app.",
            )
            .await;
        }
        Err(e) => {
            tracing::error!(error = %e, "storage error: the upstream sign-in could not be read");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "The IdP cannot reach its storage.",
            );
        }
    };
    let same_browser = authorize::cookie(&headers, BROWSER_COOKIE).is_some_and(|c| {
        util::constant_time_eq(
            util::sha256_hex(c.as_bytes()).as_bytes(),
            login.browser_hash.as_bytes(),
        )
    });
    if !same_browser {
        return refuse(
            &idp,
            &login.upstream,
            None,
            "the upstream sign-in came back to another browser than the one that started it",
            StatusCode::FORBIDDEN,
            "This sign-in was started in another browser. Start it again from the app.",
        )
        .await;
    }
    let Some(up) = idp.upstreams.get(&login.upstream) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "That sign-in provider is no longer configured.",
        );
    };
    let p: HashMap<String, String> = serde_json::from_str(&login.request).unwrap_or_default();
    let client = match authorize::validate(&idp, &p) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let name = up.config.name.as_str();
    let client_id = Some(client.client_id.as_str());
    let provider = match idp.upstreams.provider(up).await {
        Ok(pr) => pr,
        Err(_) => return unreachable_page(name),
    };
    if let Err(e) = login::check_iss(q.get("iss").map(String::as_str), &provider.meta) {
        return refuse(
            &idp,
            &up.config.id,
            client_id,
            &e.to_string(),
            StatusCode::BAD_REQUEST,
            &format!("The sign-in response did not come from {name}. Start the sign-in again."),
        )
        .await;
    }
    if let Some(err) = q.get("error") {
        let why: String = q
            .get("error_description")
            .unwrap_or(err)
            .chars()
            .take(200)
            .collect();
        let reason = format!("{name} refused the sign-in: {why}");
        audit_refusal(&idp, &up.config.id, client_id, &reason).await;
        return redirect_error(
            p.get("redirect_uri").map(String::as_str).unwrap_or(""),
            "access_denied",
            &reason,
            p.get("state").map(String::as_str).filter(|s| !s.is_empty()),
            idp.issuer(),
        );
    }
    let Some(code) = q.get("code").filter(|c| !c.is_empty()) else {
        return error_page(StatusCode::BAD_REQUEST, "The sign-in response has no code.");
    };
    let id_token = match login::redeem_code(
        &idp.upstreams.http,
        &provider.meta,
        &up.config.client_id,
        &up.secret,
        code,
        &callback_url(&idp),
        &login.code_verifier,
    )
    .await
    {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(upstream = %up.config.id, error = %e, "upstream code redemption failed");
            let unreachable = matches!(e, login::RedeemError::Unreachable(_));
            return refuse(
                &idp,
                &up.config.id,
                client_id,
                &e.to_string(),
                StatusCode::BAD_GATEWAY,
                &if unreachable {
                    format!("{name} cannot be reached right now, so the sign-in cannot finish. Try again in a moment; nothing was changed.")
                } else {
                    format!("{name} did not complete the sign-in ({e}). Start it again from the app.")
                },
            )
            .await;
        }
    };
    let max_age = p.get("max_age").and_then(|m| m.parse::<i64>().ok());
    let valid = match verify_id_token(&idp, up, provider, &id_token, &login.nonce, max_age).await {
        Ok(v) => v,
        Err(why) => {
            return refuse(
                &idp,
                &up.config.id,
                client_id,
                &format!("the upstream's ID token is not valid: {why}"),
                StatusCode::BAD_GATEWAY,
                &format!("{name}'s answer could not be trusted ({why}). Nothing was changed; start the sign-in again."),
            )
            .await;
        }
    };
    let person = match up.config.claims.map(&valid.claims, &up.config.mfa) {
        Ok(person) => person,
        Err(e) => {
            return refuse(
                &idp,
                &up.config.id,
                client_id,
                &e.to_string(),
                StatusCode::FORBIDDEN,
                &format!("{name} did not say who you are ({e})."),
            )
            .await;
        }
    };
    let username = match upstream_person(&idp, &up.config, &person).await {
        Ok(u) => u,
        Err(r) => {
            let (status, page) = match r {
                UpstreamRefusal::Deactivated => (
                    StatusCode::FORBIDDEN,
                    "Your account is deactivated in Gatehouse's directory.",
                ),
                UpstreamRefusal::NotProvisioned => (
                    StatusCode::FORBIDDEN,
                    "Your account has not been provisioned to Gatehouse yet. Ask your IT team.",
                ),
                UpstreamRefusal::Storage => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The IdP cannot reach its storage.",
                ),
            };
            return refuse(&idp, &up.config.id, client_id, page, status, page).await;
        }
    };
    let acr = if person.mfa { ACR_MFA } else { ACR_PASSWORD };
    let mut r = authorize::issue_code(
        &idp,
        &client,
        &p,
        Authentication {
            username,
            acr: acr.to_owned(),
            amr: person.amr.clone(),
            auth_time: valid.auth_time.unwrap_or_else(|| idp.now()),
            detail: serde_json::json!({
                "upstream": up.config.id,
                "upstream_acr": person.acr,
                "upstream_amr": person.amr,
            }),
        },
    )
    .await;
    authorize::set_cookie(&mut r, &idp, BROWSER_COOKIE, "", COOKIE_PATH, 0);
    r
}

/// The upstream's ID token, checked against its keys (refetched once on an
/// unknown `kid`) in the bounded signature pool, then claim by claim.
async fn verify_id_token(
    idp: &SharedIdp,
    up: &Federated,
    provider: &Provider,
    token: &str,
    nonce: &str,
    max_age: Option<i64>,
) -> Result<id_token::ValidIdToken, String> {
    const MAX_LEN: usize = 32 * 1024;
    let verify = |keys: Vec<xaa::VerifyingKey>| {
        let owned = token.to_owned();
        let algs = up.algorithms.clone();
        idp.signature_gate.run_blocking(move || {
            xaa::jws::verify_compact_allowing(&owned, &keys, None, MAX_LEN, &algs)
        })
    };
    let keys = provider.keys.keys().await.map_err(|e| e.to_string())?;
    let mut verified = verify(keys)
        .await
        .map_err(|_| "the IdP is busy".to_owned())?;
    if matches!(verified, Err(JwsError::UnknownKey)) {
        let keys = provider
            .keys
            .refresh(false)
            .await
            .map_err(|e| e.to_string())?;
        verified = verify(keys)
            .await
            .map_err(|_| "the IdP is busy".to_owned())?;
    }
    let payload = verified.map_err(|e| e.to_string())?.payload;
    let claims = serde_json::from_slice(&payload).map_err(|_| "not a JSON object".to_owned())?;
    let audiences = [up.config.client_id.clone()];
    id_token::check_claims(
        claims,
        &IdTokenRules {
            issuer: &up.config.issuer,
            audiences: &audiences,
            algorithms: &up.algorithms,
            max_len: MAX_LEN,
            leeway: up.config.leeway,
            nonce: Some(nonce),
            max_age,
            now: idp.now(),
        },
    )
    .map_err(|e| e.to_string())
}
