//! The reference AI app: it signs a user in at the IdP the way a browser would
//! (authorization code + PKCE, following the login form), exchanges the ID token
//! for an ID-JAG (RFC 8693), redeems that at the resource authorization server
//! (RFC 7523) and calls an MCP tool with the access token through `rmcp`'s client.
//! Each step is a function so tests, the demo fleet and the load generator reuse it.

pub mod demo_line;
pub mod discover;

use rmcp::{
    ServiceExt,
    model::CallToolRequestParams,
    transport::{
        StreamableHttpClientTransport, streamable_http_client::StreamableHttpClientTransportConfig,
    },
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use xaa::{OAuthError, util};

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The server answered with an OAuth error.
    #[error("{0}")]
    OAuth(OAuthError),
    #[error("HTTP: {0}")]
    Http(#[from] reqwest::Error),
    #[error("sign-in failed: {0}")]
    SignIn(String),
    #[error("MCP: {0}")]
    Mcp(String),
    /// The MCP server answered `403 insufficient_scope` (the MCP scope
    /// challenge): the token is valid but not for this call; `scope` is what
    /// the server says to ask for.
    #[error("insufficient_scope: the MCP server asks for the scope `{scope}`")]
    InsufficientScope { scope: String },
    #[error("unexpected response: {0}")]
    Protocol(String),
}

impl AgentError {
    pub fn oauth(&self) -> Option<&OAuthError> {
        match self {
            AgentError::OAuth(e) => Some(e),
            _ => None,
        }
    }
}

/// A client's credentials at one server.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientCreds {
    pub client_id: String,
    pub client_secret: String,
}

/// Who signs in.
#[derive(Clone, Serialize, Deserialize)]
pub struct UserCreds {
    pub username: String,
    pub password: String,
    pub totp_secret: Option<String>,
}

impl std::fmt::Debug for UserCreds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCreds")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The tokens of a sign-in. `Debug` shows none of them.
#[derive(Clone, Deserialize)]
pub struct SignedIn {
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignedIn { <tokens redacted> }")
    }
}

/// A successful token exchange (RFC 8693 §2.2.1 as the ID-JAG draft profiles
/// it). `expires_in` is RECOMMENDED, not required, and `scope` is OPTIONAL: a
/// response without them is accepted. What the specifications forbid is
/// refused by [`IdJagResponse::checked`]: an issued token that is not an ID-JAG,
/// or a `token_type` other than `N_A` (the ID-JAG is not an access token).
#[derive(Clone, Deserialize)]
pub struct IdJagResponse {
    pub access_token: String,
    pub issued_token_type: String,
    pub token_type: String,
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub scope: Option<String>,
}

impl IdJagResponse {
    pub fn checked(self) -> Result<Self, AgentError> {
        if self.issued_token_type != xaa::TOKEN_TYPE_ID_JAG {
            return Err(AgentError::Protocol(format!(
                "the IdP issued a `{}`, not an ID-JAG ({})",
                self.issued_token_type,
                xaa::TOKEN_TYPE_ID_JAG
            )));
        }
        // RFC 8693 §2.2.1: token_type is case-insensitive; the ID-JAG draft says `N_A`.
        if !self.token_type.eq_ignore_ascii_case("N_A") {
            return Err(AgentError::Protocol(format!(
                "an ID-JAG response must say token_type N_A, not `{}`",
                self.token_type
            )));
        }
        if self.access_token.is_empty() {
            return Err(AgentError::Protocol("the ID-JAG is empty".into()));
        }
        Ok(self)
    }
}

/// A resource access token (RFC 6749 §5.1): `expires_in` RECOMMENDED, `scope`
/// OPTIONAL (the requested scope then), `refresh_token` OPTIONAL. Only a
/// `Bearer` token is usable by this agent ([`AccessToken::checked`]).
#[derive(Clone, Deserialize)]
pub struct AccessToken {
    pub access_token: String,
    pub token_type: String,
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
}

impl AccessToken {
    pub fn checked(self) -> Result<Self, AgentError> {
        if !self.token_type.eq_ignore_ascii_case("Bearer") {
            return Err(AgentError::Protocol(format!(
                "the authorization server issued a `{}` token; this agent sends Bearer tokens only",
                self.token_type
            )));
        }
        if self.access_token.is_empty() {
            return Err(AgentError::Protocol("the access token is empty".into()));
        }
        Ok(self)
    }
}

/// An HTTP client that does not follow redirects (the agent reads `Location` itself).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .expect("reqwest client")
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

async fn oauth_json<T: for<'de> Deserialize<'de>>(
    resp: reqwest::Response,
) -> Result<T, AgentError> {
    let status = resp.status();
    let body = resp.bytes().await?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| AgentError::Protocol(e.to_string()));
    }
    match serde_json::from_slice::<OAuthError>(&body) {
        Ok(e) => Err(AgentError::OAuth(e)),
        Err(_) => Err(AgentError::Protocol(format!("HTTP {status}"))),
    }
}

/// Reads `<input type="hidden" name=… value=…>` fields from the login page.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, name: &str| {
        let key = format!("{name}=\"");
        let start = tag.find(&key)? + key.len();
        let end = tag[start..].find('"')? + start;
        Some(unescape(&tag[start..end]))
    };
    html.split("<input")
        .skip(1)
        .filter_map(|t| t.split('>').next())
        .filter(|t| t.contains("type=\"hidden\""))
        .filter_map(|t| Some((attr(t, "name")?, attr(t, "value")?)))
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Options for a sign-in.
#[derive(Debug, Clone, Default)]
pub struct SignInOptions {
    /// Ask for `urn:gatehouse:acr:mfa` (the agent then enters a TOTP code).
    pub require_mfa: bool,
    /// Enter a TOTP code whenever the user has a secret, even if not required.
    pub use_totp: bool,
    pub extra_scope: Option<String>,
}

/// Signs `user` in at `idp` through the login form and redeems the code with PKCE.
pub async fn sign_in(
    http: &reqwest::Client,
    idp: &str,
    client: &ClientCreds,
    redirect_uri: &str,
    user: &UserCreds,
    opts: &SignInOptions,
) -> Result<SignedIn, AgentError> {
    let verifier = util::random_token(32);
    let state = util::random_token(16);
    let nonce = util::random_token(16);
    let scope = match &opts.extra_scope {
        Some(s) => format!("openid email groups {s}"),
        None => "openid email groups".into(),
    };
    let mut q: Vec<(&str, String)> = vec![
        ("response_type", "code".into()),
        ("client_id", client.client_id.clone()),
        ("redirect_uri", redirect_uri.into()),
        ("scope", scope),
        ("state", state.clone()),
        ("nonce", nonce),
        ("code_challenge", util::pkce_s256(&verifier)),
        ("code_challenge_method", "S256".into()),
    ];
    if opts.require_mfa {
        q.push(("acr_values", xaa::ACR_MFA.into()));
    }
    let authorize = url::Url::parse_with_params(&format!("{idp}/authorize"), &q)
        .map_err(|e| AgentError::SignIn(e.to_string()))?;
    let location = submit_login(
        http,
        authorize.as_str(),
        user,
        opts.require_mfa || opts.use_totp,
    )
    .await?;
    let url = url::Url::parse(&location).map_err(|e| AgentError::SignIn(e.to_string()))?;
    let params: HashMap<String, String> = url.query_pairs().into_owned().collect();
    if let Some(err) = params.get("error") {
        return Err(AgentError::SignIn(format!(
            "{err}: {}",
            params.get("error_description").cloned().unwrap_or_default()
        )));
    }
    if params.get("state") != Some(&state) {
        return Err(AgentError::SignIn(
            "the state parameter does not match".into(),
        ));
    }
    if params.get("iss").map(String::as_str) != Some(idp) {
        return Err(AgentError::SignIn(
            "the iss parameter does not name the IdP (mix-up defence)".into(),
        ));
    }
    let code = params
        .get("code")
        .ok_or_else(|| AgentError::SignIn("no code in the redirect".into()))?;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier.as_str()),
    ];
    let mut req = http.post(format!("{idp}/token"));
    if client.client_secret.is_empty() {
        // A public client (the console): PKCE only, client_id in the body.
        form.push(("client_id", client.client_id.as_str()));
    } else {
        req = req.basic_auth(&client.client_id, Some(&client.client_secret));
    }
    let resp = req.form(&form).send().await?;
    oauth_json(resp).await
}

/// Plays the person at the browser: opens an authorization URL, fills in the IdP's
/// login form (with a TOTP code when `totp` and the user has a secret) and returns
/// the `Location` the IdP redirects to. Used by the agent and by tests of the
/// console's system-browser sign-in.
pub async fn submit_login(
    http: &reqwest::Client,
    authorize_url: &str,
    user: &UserCreds,
    totp: bool,
) -> Result<String, AgentError> {
    let page = http.get(authorize_url).send().await?;
    if !page.status().is_success() {
        return Err(AgentError::SignIn(format!(
            "the login page answered HTTP {}",
            page.status()
        )));
    }
    let mut action =
        url::Url::parse(authorize_url).map_err(|e| AgentError::SignIn(e.to_string()))?;
    action.set_query(None);
    // The form is bound to the cookie the page set, as a browser would send it.
    let cookies: Vec<String> = page
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect();
    let html = page.text().await?;
    let mut form = hidden_fields(&html);
    form.push(("username".into(), user.username.clone()));
    form.push(("password".into(), user.password.clone()));
    if let Some(secret) = user.totp_secret.as_deref().filter(|_| totp) {
        let code = xaa::totp::code(secret, now())
            .ok_or_else(|| AgentError::SignIn("bad TOTP secret".into()))?;
        form.push(("totp".into(), code));
    }
    let mut post = http.post(action).form(&form);
    if !cookies.is_empty() {
        post = post.header(reqwest::header::COOKIE, cookies.join("; "));
    }
    let resp = post.send().await?;
    if let Some(l) = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
    {
        return Ok(l.to_owned());
    }
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    let msg = body
        .split("role=\"alert\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or("the login form was refused")
        .to_owned();
    Err(AgentError::SignIn(format!("HTTP {status}: {msg}")))
}

/// What to exchange for an ID-JAG.
#[derive(Debug, Clone)]
pub struct ExchangeRequest<'a> {
    pub audience: &'a str,
    pub resource: Option<&'a str>,
    pub scope: Option<&'a str>,
}

/// RFC 8693: ID token → ID-JAG, authenticating with `client_secret_post` as the
/// MCP SDKs do.
pub async fn exchange(
    http: &reqwest::Client,
    idp: &str,
    client: &ClientCreds,
    id_token: &str,
    req: &ExchangeRequest<'_>,
) -> Result<IdJagResponse, AgentError> {
    let mut form = vec![
        ("grant_type", xaa::GRANT_TOKEN_EXCHANGE),
        ("requested_token_type", xaa::TOKEN_TYPE_ID_JAG),
        ("subject_token_type", xaa::TOKEN_TYPE_ID_TOKEN),
        ("subject_token", id_token),
        ("audience", req.audience),
        ("client_id", &client.client_id),
        ("client_secret", &client.client_secret),
    ];
    if let Some(r) = req.resource {
        form.push(("resource", r));
    }
    if let Some(s) = req.scope {
        form.push(("scope", s));
    }
    oauth_json::<IdJagResponse>(http.post(format!("{idp}/token")).form(&form).send().await?)
        .await?
        .checked()
}

/// RFC 7523: ID-JAG → access token at the resource authorization server whose
/// issuer is `resource_as` (its token endpoint at `/token`).
pub async fn redeem(
    http: &reqwest::Client,
    resource_as: &str,
    client: &ClientCreds,
    id_jag: &str,
    scope: Option<&str>,
) -> Result<AccessToken, AgentError> {
    let endpoint = format!("{resource_as}/token");
    redeem_at(http, &endpoint, client, id_jag, scope).await
}

/// RFC 7523 at a token endpoint found by discovery ([`discover::discover`]).
pub async fn redeem_at(
    http: &reqwest::Client,
    token_endpoint: &str,
    client: &ClientCreds,
    id_jag: &str,
    scope: Option<&str>,
) -> Result<AccessToken, AgentError> {
    let mut form = vec![("grant_type", xaa::GRANT_JWT_BEARER), ("assertion", id_jag)];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    let resp = http
        .post(token_endpoint)
        .basic_auth(&client.client_id, Some(&client.client_secret))
        .form(&form)
        .send()
        .await?;
    oauth_json::<AccessToken>(resp).await?.checked()
}

/// A tool call's outcome: the text content and whether the tool reported an error.
#[derive(Debug, Clone, Serialize)]
pub struct ToolOutcome {
    pub text: String,
    pub is_error: bool,
}

/// Connects to the MCP server with `access_token` and calls `tool`.
pub async fn call_tool(
    mcp_url: &str,
    access_token: &str,
    tool: &str,
    args: serde_json::Map<String, serde_json::Value>,
) -> Result<ToolOutcome, AgentError> {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(mcp_url.to_owned())
            .auth_header(access_token.to_owned()),
    );
    let client = ().serve(transport).await.map_err(|e| AgentError::Mcp(e.to_string()))?;
    let mut params = CallToolRequestParams::new(tool.to_owned());
    if !args.is_empty() {
        params = params.with_arguments(args);
    }
    let result = client.call_tool(params).await;
    let _ = client.cancel().await;
    let result = result.map_err(|e| {
        let insufficient = e.auth_challenge().filter(|c| {
            discover::challenge_param(c, "error").as_deref() == Some("insufficient_scope")
        });
        match insufficient {
            Some(c) => AgentError::InsufficientScope {
                scope: discover::challenge_param(c, "scope").unwrap_or_default(),
            },
            None => AgentError::Mcp(e.to_string()),
        }
    })?;
    let v = serde_json::to_value(&result).map_err(|e| AgentError::Mcp(e.to_string()))?;
    let text = v["content"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    Ok(ToolOutcome {
        text,
        is_error: v["isError"].as_bool().unwrap_or(false),
    })
}

/// Files a connection request with a justification (`POST /connection-requests`).
pub async fn file_request(
    http: &reqwest::Client,
    idp: &str,
    client: &ClientCreds,
    audience: &str,
    scope: Option<&str>,
    justification: &str,
    id_token: Option<&str>,
) -> Result<serde_json::Value, AgentError> {
    let mut form = vec![
        ("audience", audience),
        ("justification", justification),
        ("client_id", client.client_id.as_str()),
        ("client_secret", client.client_secret.as_str()),
    ];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    if let Some(t) = id_token {
        form.push(("subject_token", t));
    }
    oauth_json(
        http.post(format!("{idp}/connection-requests"))
            .form(&form)
            .send()
            .await?,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_hidden_fields_and_unescapes_values() {
        let html = r#"<form><input type="hidden" name="state" value="a&amp;b"><input name="username"><input type="hidden" name="scope" value="openid email"></form>"#;
        assert_eq!(
            hidden_fields(html),
            vec![
                ("state".into(), "a&b".into()),
                ("scope".into(), "openid email".into())
            ]
        );
    }

    #[test]
    fn debug_output_hides_tokens_and_passwords() {
        let s = SignedIn {
            id_token: "idtok".into(),
            access_token: "at".into(),
            refresh_token: Some("rt".into()),
        };
        assert!(!format!("{s:?}").contains("idtok"));
        let u = UserCreds {
            username: "alice".into(),
            password: "hunter2".into(),
            totp_secret: None,
        };
        assert!(!format!("{u:?}").contains("hunter2"));
    }
}
