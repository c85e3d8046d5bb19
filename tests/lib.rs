//! Shared helpers for the end-to-end tests: start the demo stack on loopback and
//! drive the reference agent through it.

use agent::{
    AgentError, ClientCreds, ExchangeRequest, IdJagResponse, SignInOptions, SignedIn, UserCreds,
};
pub use demo::{Demo, DemoInfo};

pub async fn start_demo() -> Demo {
    demo::start(demo::DemoOptions::default())
        .await
        .expect("demo stack starts")
}

pub fn client(info: &DemoInfo, id: &str) -> ClientCreds {
    let c = info.client(id);
    ClientCreds {
        client_id: c.client_id.clone(),
        client_secret: c.client_secret.clone(),
    }
}

pub fn resource_client(info: &DemoInfo, client_id: &str, app: &str) -> ClientCreds {
    let c = info.credential(client_id, app);
    ClientCreds {
        client_id: c.client_id.clone(),
        client_secret: c.client_secret.clone(),
    }
}

pub fn user(info: &DemoInfo, name: &str) -> UserCreds {
    let u = info.user(name);
    UserCreds {
        username: u.username.clone(),
        password: u.password.clone(),
        totp_secret: u.totp_secret.clone(),
    }
}

pub async fn sign_in(info: &DemoInfo, username: &str, client_id: &str, mfa: bool) -> SignedIn {
    let opts = SignInOptions {
        require_mfa: mfa,
        use_totp: mfa,
        extra_scope: None,
    };
    agent::sign_in(
        &agent::http_client(),
        &info.idp,
        &client(info, client_id),
        demo::REDIRECT_URI,
        &user(info, username),
        &opts,
    )
    .await
    .expect("sign-in succeeds")
}

pub async fn exchange(
    info: &DemoInfo,
    client_id: &str,
    id_token: &str,
    app: &str,
    scope: Option<&str>,
) -> Result<IdJagResponse, AgentError> {
    let a = info.app(app);
    agent::exchange(
        &agent::http_client(),
        &info.idp,
        &client(info, client_id),
        id_token,
        &ExchangeRequest {
            audience: &a.issuer,
            resource: Some(&a.mcp),
            scope,
        },
    )
    .await
}

/// The payload of a JWS, unverified (for asserting on what was minted).
pub fn claims(jws: &str) -> serde_json::Value {
    xaa::jws::insecure_peek_payload(jws).expect("a JWS payload")
}

pub fn expect_oauth(r: Result<impl Sized, AgentError>, code: xaa::ErrorCode) -> xaa::OAuthError {
    match r {
        Err(AgentError::OAuth(e)) if e.error == code => e,
        Err(e) => panic!("expected {code:?}, got error {e}"),
        Ok(_) => panic!("expected {code:?}, got success"),
    }
}

/// Signs `username` in through the console's public client and returns an admin
/// API client carrying that session's access token.
pub async fn admin_session(info: &DemoInfo, username: &str, mfa: bool) -> admin_api::AdminClient {
    admin_api::AdminClient::new(&info.idp, admin_token(info, username, mfa).await)
}

/// The access token of a console sign-in (admin client, admin scope) of `username`.
pub async fn admin_token(info: &DemoInfo, username: &str, mfa: bool) -> String {
    let opts = SignInOptions {
        require_mfa: mfa,
        use_totp: mfa,
        extra_scope: Some(admin_api::ADMIN_SCOPE.into()),
    };
    let console = ClientCreds {
        client_id: info.console_client_id.clone(),
        client_secret: String::new(),
    };
    let s = agent::sign_in(
        &agent::http_client(),
        &info.idp,
        &console,
        "http://127.0.0.1:53123/callback",
        &user(info, username),
        &opts,
    )
    .await
    .expect("console sign-in");
    s.access_token
}

/// The login form's anti-forgery binding as the IdP set it: (cookie, form token).
pub async fn login_form_binding(
    http: &reqwest::Client,
    idp: &str,
    params: &[(&str, &str)],
) -> (String, String) {
    let page = http
        .get(format!("{idp}/authorize"))
        .query(params)
        .send()
        .await
        .unwrap();
    let cookie = page
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .expect("the login page sets its form cookie")
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    let token = html
        .split("name=\"form_token\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the form carries its token")
        .to_owned();
    (cookie, token)
}

/// Posts the login form as the browser that loaded it would: `fields` are the
/// authorization parameters plus `username`, `password` and maybe `totp`.
pub async fn post_login_form(
    http: &reqwest::Client,
    idp: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let params: Vec<(&str, &str)> = fields
        .iter()
        .copied()
        .filter(|(k, _)| !matches!(*k, "username" | "password" | "totp"))
        .collect();
    let (cookie, token) = login_form_binding(http, idp, &params).await;
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("form_token", &token));
    http.post(format!("{idp}/authorize"))
        .header(reqwest::header::COOKIE, cookie)
        .form(&form)
        .send()
        .await
        .unwrap()
}
