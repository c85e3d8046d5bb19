//! `/authorize`: the OpenID Connect authorization endpoint with its login page.
//! Authorization code flow only, PKCE S256 required. The page asks for a password
//! and, when the user has one enrolled or `acr_values` asks for it, a TOTP code.
//! There is no single-sign-on session: every authorization authenticates afresh,
//! which satisfies `prompt=login` and any `max_age` by construction.
//!
//! The form is bound to the browser that loaded it (a random token in a
//! `SameSite=Strict` cookie and in the form, compared on POST, plus an `Origin`
//! check), so another site cannot start a sign-in. Password checks run in a
//! bounded pool (`cost`), and failed sign-ins back off (`throttle`).
//!
//! With `[[upstream]]` providers configured the page also offers "Continue with
//! …" (`upstream`), and both ways end in [`issue_code`].

use crate::{
    audit::{AuditEvent, AuditOutcome},
    config::Client,
    state::SharedIdp,
    store::AuthCode,
};
use axum::{
    extract::{ConnectInfo, Query, State},
    http::{Extensions, HeaderMap, StatusCode, header},
    response::{Html, IntoResponse, Redirect, Response},
};
use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, SocketAddr},
};
use xaa::{ACR_MFA, ACR_PASSWORD, util};

/// The authorization request parameters the page carries through the login form
/// (and an upstream sign-in keeps while the browser is away).
pub const CARRIED: [&str; 11] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "acr_values",
    "max_age",
    "prompt",
];

/// Whether `presented` matches a registered redirect URI: exactly, or for loopback
/// IP redirects on any port (RFC 8252 §7.3). A redirect URI never carries a
/// fragment (RFC 6749 §3.1.2), so one with `#` is refused whatever is registered.
pub fn redirect_allowed(client: &Client, presented: &str) -> bool {
    if presented.contains('#') {
        return false;
    }
    client.redirect_uris.iter().any(|r| {
        if r == presented {
            return true;
        }
        let (Ok(reg), Ok(got)) = (url::Url::parse(r), url::Url::parse(presented)) else {
            return false;
        };
        let loopback = |u: &url::Url| {
            u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1") | Some("[::1]"))
        };
        loopback(&reg)
            && loopback(&got)
            && reg.host_str() == got.host_str()
            && reg.path() == got.path()
            && reg.query() == got.query()
            && got.username().is_empty()
            && got.password().is_none()
    })
}

pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    (
        status,
        Html(page(
            "Sign-in error",
            &format!("<p class=\"err\">{}</p>", esc(message)),
        )),
    )
        .into_response()
}

pub(crate) fn redirect_error(
    redirect_uri: &str,
    error: &str,
    desc: &str,
    state: Option<&str>,
    iss: &str,
) -> Response {
    let Ok(mut u) = url::Url::parse(redirect_uri) else {
        return error_page(StatusCode::BAD_REQUEST, "The redirect URI is not valid.");
    };
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("error", error)
            .append_pair("error_description", desc)
            .append_pair("iss", iss);
        if let Some(s) = state {
            q.append_pair("state", s);
        }
    }
    Redirect::to(u.as_str()).into_response()
}

/// Checks the parameters; an error before the redirect URI is trusted is a page,
/// after it a redirect back to the client.
pub(crate) fn validate(
    idp: &SharedIdp,
    p: &HashMap<String, String>,
) -> Result<std::sync::Arc<Client>, Box<Response>> {
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client) = get("client_id").and_then(|c| idp.catalog().client(c)) else {
        return Err(Box::new(error_page(
            StatusCode::BAD_REQUEST,
            "Unknown client.",
        )));
    };
    let Some(redirect) = get("redirect_uri").filter(|r| redirect_allowed(&client, r)) else {
        return Err(Box::new(error_page(
            StatusCode::BAD_REQUEST,
            "The redirect URI is not registered for this client.",
        )));
    };
    let back = |e: &str, d: &str| redirect_error(redirect, e, d, get("state"), idp.issuer());
    if get("response_type") != Some("code") {
        return Err(Box::new(back(
            "unsupported_response_type",
            "only the authorization code flow is supported",
        )));
    }
    if !get("scope").unwrap_or("").split(' ').any(|s| s == "openid") {
        return Err(Box::new(back(
            "invalid_scope",
            "the openid scope is required",
        )));
    }
    if !client.admin
        && get("scope")
            .unwrap_or("")
            .split(' ')
            .any(|s| s == admin_api::ADMIN_SCOPE)
    {
        return Err(Box::new(back(
            "invalid_scope",
            "only an admin client (the Gatehouse console) may ask for the admin scope",
        )));
    }
    if get("code_challenge").is_none() || get("code_challenge_method") != Some("S256") {
        return Err(Box::new(back(
            "invalid_request",
            "PKCE with code_challenge_method=S256 is required",
        )));
    }
    Ok(client)
}

/// The cookie and form field that bind a login form to the browser that loaded it.
const FORM_COOKIE: &str = "gh_login";
const FORM_FIELD: &str = "form_token";

pub async fn get_authorize(
    State(idp): State<SharedIdp>,
    Query(p): Query<HashMap<String, String>>,
) -> Response {
    let client = match validate(&idp, &p) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if let ([only], false) = (
        idp.config.upstreams.as_slice(),
        idp.config.sign_in.local_passwords,
    ) {
        return Redirect::to(&crate::upstream::start_path(&only.id, &p)).into_response();
    }
    let token = util::random_token(24);
    let mut r = login_form(&idp, &client, &p, &token, None, StatusCode::OK);
    set_cookie(
        &mut r,
        &idp,
        FORM_COOKIE,
        &token,
        "/authorize; SameSite=Strict",
        900,
    );
    r
}

/// The form token, when the POST comes from a form this IdP served to this
/// browser: the cookie and the field match, and `Origin` (when sent) is ours.
fn form_token<'a>(
    idp: &SharedIdp,
    headers: &'a HeaderMap,
    p: &HashMap<String, String>,
) -> Option<&'a str> {
    // Browsers send `Origin: null` with this form's POST (the page's referrer
    // policy is `no-referrer`); then the SameSite=Strict cookie is the binding.
    if let Some(origin) = headers
        .get(header::ORIGIN)
        .filter(|o| o.as_bytes() != b"null")
    {
        let ours = url::Url::parse(idp.issuer())
            .ok()?
            .origin()
            .ascii_serialization();
        if origin.to_str().ok()? != ours {
            return None;
        }
    }
    let cookie = cookie(headers, FORM_COOKIE)?;
    let field = p.get(FORM_FIELD)?;
    (!cookie.is_empty() && util::constant_time_eq(cookie.as_bytes(), field.as_bytes()))
        .then_some(cookie)
}

/// Sets an HttpOnly cookie (`Secure` when the issuer is https); `path` may
/// carry further attributes (`SameSite`).
pub(crate) fn set_cookie(
    r: &mut Response,
    idp: &SharedIdp,
    name: &str,
    value: &str,
    path: &str,
    max_age: i64,
) {
    let secure = if idp.issuer().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    if let Ok(v) = header::HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; HttpOnly; Max-Age={max_age}{secure}"
    )) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The value of cookie `name` the browser sent.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(name)?.strip_prefix('='))
        .next()
}

fn login_form(
    idp: &SharedIdp,
    client: &Client,
    p: &HashMap<String, String>,
    form_token: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let hidden: String = CARRIED
        .iter()
        .filter_map(|k| {
            p.get(*k)
                .map(|v| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", esc(v)))
        })
        .chain(std::iter::once(format!(
            "<input type=\"hidden\" name=\"{FORM_FIELD}\" value=\"{}\">",
            esc(form_token)
        )))
        .collect();
    let wants_mfa = p
        .get("acr_values")
        .is_some_and(|a| a.split(' ').any(|x| x == ACR_MFA));
    let err = error
        .map(|e| format!("<p class=\"err\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    let mfa_note = if wants_mfa {
        "<p class=\"note\">This sign-in requires your authenticator code.</p>"
    } else {
        ""
    };
    let upstreams: String = idp
        .config
        .upstreams
        .iter()
        .map(|u| {
            format!(
                "<p><a class=\"upstream\" href=\"{}\">Continue with {}</a></p>",
                esc(&crate::upstream::start_path(&u.id, p)),
                esc(&u.name)
            )
        })
        .collect();
    let password_form = if idp.config.sign_in.local_passwords {
        format!(
            "<form method=\"post\" action=\"/authorize\">{hidden}
<label>Username <input name=\"username\" autocomplete=\"username\" autofocus required></label>
<label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>
<label>Authenticator code <input name=\"totp\" inputmode=\"numeric\" autocomplete=\"one-time-code\" placeholder=\"if enrolled\"></label>
<button type=\"submit\">Sign in</button></form>"
        )
    } else {
        String::new()
    };
    let or = if !upstreams.is_empty() && !password_form.is_empty() {
        "<p class=\"note\">or with a Gatehouse password:</p>"
    } else {
        ""
    };
    let body = format!(
        "<p><b>{}</b> wants you to sign in.</p>{err}{mfa_note}{upstreams}{or}{password_form}",
        esc(&client.name)
    );
    let mut r = (status, Html(page("Sign in to Gatehouse", &body))).into_response();
    // Browsers apply `form-action` to the redirect after the POST too, so the
    // policy names the (already validated) redirect URI's origin beside 'self'.
    let back = p
        .get("redirect_uri")
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
        .unwrap_or_default();
    if let Ok(v) = header::HeaderValue::from_str(&crate::server::content_security_policy(&back)) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r.headers_mut()
        .insert("x-frame-options", header::HeaderValue::from_static("DENY"));
    r
}

/// A page with `Retry-After`: the sign-in was not tried (throttled or busy).
fn retry_page(status: StatusCode, retry_after: u64, message: &str) -> Response {
    let mut r = error_page(status, message);
    r.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
    r
}

pub async fn post_authorize(
    State(idp): State<SharedIdp>,
    headers: HeaderMap,
    extensions: Extensions,
    body: axum::body::Bytes,
) -> Response {
    let p: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let client = match validate(&idp, &p) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    if !idp.config.sign_in.local_passwords {
        return error_page(
            StatusCode::FORBIDDEN,
            "Password sign-in is turned off here. Start the sign-in again from the app and continue with your company's sign-in.",
        );
    }
    let Some(token) = form_token(&idp, &headers, &p) else {
        return error_page(
            StatusCode::FORBIDDEN,
            "This sign-in form expired or was not opened in this browser. Start the sign-in again from the app.",
        );
    };
    let source = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let username = get("username").trim().to_owned();
    let wants_mfa = get("acr_values").split(' ').any(|x| x == ACR_MFA);
    let fail = |msg: &str| {
        login_form(
            &idp,
            &client,
            &p,
            token,
            Some(msg),
            StatusCode::UNAUTHORIZED,
        )
    };
    let audit_login = |outcome: AuditOutcome, reason: &str| {
        let mut e = AuditEvent::new("login", outcome);
        e.subject = Some(username.clone());
        e.client_id = Some(client.client_id.clone());
        e.reason = Some(reason.to_owned());
        e
    };
    if let Err(t) = idp.login_throttle.check(&username, source, idp.now_ms()) {
        let mut e = audit_login(AuditOutcome::Throttled, "too many failed sign-ins");
        e.detail = serde_json::json!({ "scope": t.by.as_str(), "retry_after": t.retry_after });
        let _ = idp.audit.record(e, idp.now_ms()).await;
        return retry_page(
            StatusCode::TOO_MANY_REQUESTS,
            t.retry_after,
            &format!(
                "Too many failed sign-ins. Wait {} seconds, then try again.",
                t.retry_after
            ),
        );
    }
    let user = idp.config.user(&username).cloned();
    let password = get("password").to_owned();
    // Verify even for unknown users so timing does not reveal which usernames exist.
    let hash = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.into());
    let pw_ok = match idp
        .password_gate
        .run_blocking(move || verify_password(&hash, &password))
        .await
    {
        Ok(ok) => ok,
        Err(busy) => {
            return retry_page(
                StatusCode::SERVICE_UNAVAILABLE,
                busy.retry_after,
                "The IdP is busy checking other sign-ins. Try again in a moment.",
            );
        }
    };
    let now = idp.now();
    // The directory decides whether the account may sign in (SCIM may have
    // deactivated or deleted it); the configuration holds only its password.
    let in_directory = match &user {
        Some(u) => match idp.person(&u.username).await {
            Ok(p) => p.is_some_and(|p| p.active),
            Err(_) => {
                return error_page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The IdP cannot reach its storage.",
                );
            }
        },
        None => false,
    };
    let (Some(user), true, true) = (user, pw_ok, in_directory) else {
        idp.login_throttle.failure(&username, source, idp.now_ms());
        let _ = idp
            .audit
            .record(
                audit_login(AuditOutcome::Refused, "bad username or password"),
                idp.now_ms(),
            )
            .await;
        return fail("The username or password is wrong.");
    };
    let code = get("totp").trim();
    let mut acr = ACR_PASSWORD;
    let mut amr = vec!["pwd".to_string()];
    match (&user.totp_secret, code.is_empty()) {
        (Some(secret), false) => {
            let Some(step) = xaa::totp::verify(secret, code, now as u64) else {
                idp.login_throttle.failure(&username, source, idp.now_ms());
                let _ = idp
                    .audit
                    .record(
                        audit_login(AuditOutcome::Refused, "bad TOTP code"),
                        idp.now_ms(),
                    )
                    .await;
                return fail("The authenticator code is wrong.");
            };
            match idp.store.consume_totp_step(&user.username, step).await {
                Ok(true) => {}
                Ok(false) => {
                    return fail(
                        "That authenticator code was already used; wait for the next one.",
                    );
                }
                Err(_) => {
                    return error_page(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "The IdP cannot reach its storage.",
                    );
                }
            }
            acr = ACR_MFA;
            amr.push("otp".into());
        }
        (Some(_), true) if wants_mfa => return fail("Enter the code from your authenticator app."),
        (None, _) if wants_mfa => {
            return fail(
                "This sign-in requires a second factor, and none is enrolled for this user.",
            );
        }
        _ => {}
    }
    idp.login_throttle.success(&username, source);
    issue_code(
        &idp,
        &client,
        &p,
        Authentication {
            username: user.username.clone(),
            acr: acr.to_owned(),
            amr,
            auth_time: now,
            detail: serde_json::json!({}),
        },
    )
    .await
}

/// How a person proved who they are, for the authorization code and the audit.
pub struct Authentication {
    /// The directory's username.
    pub username: String,
    pub acr: String,
    pub amr: Vec<String>,
    pub auth_time: i64,
    /// Added to the `login` audit event's detail (e.g. the upstream).
    pub detail: serde_json::Value,
}

/// Ends a successful sign-in: stores the authorization code, audits the
/// sign-in, and sends the browser back to the client with the code.
pub(crate) async fn issue_code(
    idp: &SharedIdp,
    client: &Client,
    p: &HashMap<String, String>,
    a: Authentication,
) -> Response {
    let get = |k: &str| p.get(k).map(String::as_str).unwrap_or("");
    let now = idp.now();
    let raw_code = util::random_token(32);
    let record = AuthCode {
        client_id: client.client_id.clone(),
        redirect_uri: get("redirect_uri").to_owned(),
        code_challenge: get("code_challenge").to_owned(),
        username: a.username.clone(),
        scope: get("scope").to_owned(),
        nonce: p.get("nonce").cloned().filter(|n| !n.is_empty()),
        auth_time: a.auth_time,
        acr: a.acr.clone(),
        amr: a.amr,
        expires_at: now + idp.config.tokens.authorization_code as i64,
        family: format!("fam_{}", util::random_token(12)),
    };
    if let Err(e) = idp
        .store
        .insert_code(&util::sha256_hex(raw_code.as_bytes()), &record)
        .await
    {
        tracing::error!(error = %e, "storage error: the authorization code was not stored");
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The IdP cannot reach its storage.",
        );
    }
    let mut ev = AuditEvent::new("login", AuditOutcome::Success);
    ev.subject = Some(a.username);
    ev.client_id = Some(client.client_id.clone());
    ev.reason = Some(a.acr.clone());
    ev.detail = a.detail;
    ev.detail["acr"] = serde_json::json!(a.acr);
    if let Err(e) = idp.audit.record(ev, idp.now_ms()).await {
        tracing::error!(error = %e, "the sign-in could not be audited");
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "The IdP cannot record the sign-in.",
        );
    }
    let Ok(mut u) = url::Url::parse(&record.redirect_uri) else {
        return error_page(StatusCode::BAD_REQUEST, "The redirect URI is not valid.");
    };
    {
        let mut q = u.query_pairs_mut();
        q.append_pair("code", &raw_code)
            .append_pair("iss", idp.issuer());
        if let Some(s) = p.get("state").filter(|s| !s.is_empty()) {
            q.append_pair("state", s);
        }
    }
    Redirect::to(u.as_str()).into_response()
}

/// A valid argon2 hash of a random password, verified when the user is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Yv3Ga9/n0Hw6MrhZzM3xw0+YlN0pLp6vo0bvrB4uA+g";

/// Checks `password` against an argon2 PHC string. The argon2 memory (19 MiB
/// with the default parameters) is kept per thread and reused: the password
/// pool's few threads hold a few blocks for good instead of allocating one per
/// sign-in (which left the allocator holding hundreds of MiB after a storm).
pub fn verify_password(phc: &str, password: &str) -> bool {
    use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
    thread_local! {
        static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let Ok(h) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (h.salt, h.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&h) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(h.algorithm) else {
        return false;
    };
    let version = match h.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    let argon = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let hashed = BLOCKS.with(|b| {
        let mut b = b.borrow_mut();
        b.resize(blocks, Block::default());
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut b[..blocks])
            .is_ok()
    });
    hashed && util::constant_time_eq(&out, expected.as_bytes())
}

/// Hashes a password into an argon2id PHC string.
// A 16-byte salt and argon2's default parameters cannot fail.
#[allow(clippy::expect_used)]
pub fn hash_password(password: &str) -> String {
    use argon2::{PasswordHasher, password_hash::SaltString};
    let salt = SaltString::encode_b64(&util::sha256(util::random_token(16).as_bytes())[..16])
        .expect("salt");
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2")
        .to_string()
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>
<meta name=\"viewport\" content=\"width=device-width\">
<style>body{{font:15px system-ui,sans-serif;background:#f4f5f7;display:grid;place-items:center;min-height:100vh;margin:0}}
main{{background:#fff;padding:2rem;border-radius:10px;box-shadow:0 2px 12px #0002;width:22rem}}
h1{{font-size:1.2rem}}label{{display:block;margin:.8rem 0}}input{{display:block;width:100%;padding:.5rem;box-sizing:border-box}}
button{{padding:.6rem 1.2rem;background:#1f4fd1;color:#fff;border:0;border-radius:6px}}.err{{color:#b00020}}.note{{color:#555}}
a.upstream{{display:block;text-align:center;padding:.6rem;border:1px solid #1f4fd1;border-radius:6px;color:#1f4fd1;text-decoration:none;font-weight:600}}</style>
</head><body><main><h1>{title}</h1>{body}</main></body></html>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientAuth;

    fn client(uris: &[&str]) -> Client {
        Client {
            client_id: "c".into(),
            name: "C".into(),
            auth: ClientAuth::None,
            redirect_uris: uris.iter().map(|s| s.to_string()).collect(),
            owners: vec![],
            description: None,
            sponsor: None,
            successors: vec![],
            admin: false,
        }
    }

    #[test]
    fn loopback_redirects_match_on_any_port_only_for_loopback_ip() {
        let c = client(&["http://127.0.0.1/callback", "https://app.example/cb"]);
        assert!(redirect_allowed(&c, "http://127.0.0.1:51234/callback"));
        assert!(!redirect_allowed(&c, "http://127.0.0.1:51234/other"));
        assert!(!redirect_allowed(&c, "http://localhost:51234/callback"));
        assert!(redirect_allowed(&c, "https://app.example/cb"));
        assert!(!redirect_allowed(&c, "https://app.example:444/cb"));
        assert!(!redirect_allowed(&c, "https://app.example/cb?x=1"));
    }

    #[test]
    fn a_fragment_or_userinfo_is_never_a_match() {
        let c = client(&[
            "http://127.0.0.1/callback",
            "https://app.example/cb",
            "https://app.example/cb#frag",
        ]);
        assert!(!redirect_allowed(&c, "https://app.example/cb#frag"));
        assert!(!redirect_allowed(&c, "https://app.example/cb#"));
        assert!(!redirect_allowed(&c, "http://127.0.0.1:5000/callback#x"));
        assert!(!redirect_allowed(&c, "http://127.0.0.1:5000/callback#"));
        assert!(!redirect_allowed(&c, "http://u:p@127.0.0.1:5000/callback"));
        assert!(redirect_allowed(&c, "http://127.0.0.1:5000/callback"));
    }

    #[test]
    fn password_hashes_verify_and_the_dummy_is_valid_phc() {
        let h = hash_password("correct horse");
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "wrong"));
        assert!(argon2::PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn escaping_covers_attribute_breakers() {
        assert_eq!(esc("\"><script>"), "&quot;&gt;&lt;script&gt;");
    }
}
