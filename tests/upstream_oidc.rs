//! The company IdP of the federation tests: panva's `oidc-provider` from npm
//! (`tests/upstream-oidc/server.mjs`) as its own process on loopback, a demo
//! world federating to it, and a browser (a cookie jar, redirects followed by
//! hand) that signs a person in through it. Used by `e2e/federation.rs` and by
//! the console's sign-in test. The test command installs the provider (`npm ci`
//! in tests/upstream-oidc).

use crate::{Demo, free_port};
use serde_json::Value;
use std::{collections::HashMap, process::Stdio};
use tokio::io::AsyncBufReadExt;

pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/upstream-oidc");
pub const SECRET: &str = "gatehouse-at-corp-0123456789abcdef";

/// The company IdP, a child process killed on drop.
pub struct Corp {
    pub issuer: String,
    pub child: tokio::process::Child,
}

impl Corp {
    /// Starts the provider and waits for the line it prints once it listens
    /// (no fixed sleep). A start that says nothing within 30 s is killed and
    /// tried again (twice at most), with what it wrote to stderr kept for the
    /// failure message: a stuck start of the peer is not what this suite tests.
    pub async fn start(callback: &str) -> Corp {
        assert!(
            std::path::Path::new(DIR)
                .join("node_modules/oidc-provider")
                .exists(),
            "oidc-provider is not installed: run `npm ci` in tests/upstream-oidc (the test command does)"
        );
        let mut failures = Vec::new();
        for _ in 0..3 {
            match Self::try_start(callback).await {
                Ok(corp) => return corp,
                Err(why) => failures.push(why),
            }
        }
        panic!("the provider did not start: {failures:#?}");
    }

    async fn try_start(callback: &str) -> Result<Corp, String> {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = tokio::process::Command::new("node")
            .arg("server.mjs")
            .current_dir(DIR)
            .env("GATEHOUSE_CALLBACK", callback)
            .env("CLIENT_SECRET", SECRET)
            .stdout(Stdio::piped())
            .stderr(log.reopen().unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs");
        let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let first =
            tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line()).await;
        let stderr = || std::fs::read_to_string(log.path()).unwrap_or_default();
        let line = match first {
            Ok(Ok(Some(line))) => line,
            Ok(_) => return Err(format!("it exited: {}", stderr())),
            Err(_) => {
                let _ = child.kill().await;
                return Err(format!("no word within 30 s: {}", stderr()));
            }
        };
        let issuer =
            serde_json::from_str::<Value>(&line).map_err(|e| format!("{e}: {line}"))?["issuer"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        // Keep reading: a closed pipe would end the provider at its next write.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Corp { issuer, child })
    }

    pub async fn misbehave(&self, wrong_nonce: bool) {
        let mode = if wrong_nonce { "wrong" } else { "honest" };
        let r = reqwest::Client::new()
            .post(format!("{}/__test/misbehave?nonce={mode}", self.issuer))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }
}

pub fn upstream(corp_issuer: &str) -> idp::config::Upstream {
    let secret = std::env::temp_dir().join(format!("gh-corp-secret-{}", std::process::id()));
    std::fs::write(&secret, format!("{SECRET}\n")).unwrap();
    toml::from_str(&format!(
        r#"
id = "corp"
name = "Corp SSO"
issuer = "{corp_issuer}"
client_id = "gatehouse"
client_secret_file = "{}"
scopes = ["openid", "profile", "email"]
[mfa]
acr_values = ["urn:corp:mfa"]
"#,
        secret.display()
    ))
    .unwrap()
}

/// Gatehouse's demo world federating to a fresh company IdP.
pub async fn world() -> (Demo, Corp) {
    let port = free_port();
    let corp = Corp::start(&format!(
        "http://127.0.0.1:{port}/authorize/upstream/callback"
    ))
    .await;
    let d = demo::start(demo::DemoOptions {
        listen: format!("127.0.0.1:{port}"),
        upstreams: vec![upstream(&corp.issuer)],
        ..Default::default()
    })
    .await
    .expect("demo stack starts");
    (d, corp)
}

/// A browser: a cookie jar, redirects followed by hand.
pub struct Browser {
    http: reqwest::Client,
}

pub struct Step {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub async fn get(&self, url: &str) -> Step {
        step(self.http.get(url).send().await.unwrap()).await
    }

    /// Follows redirects from `url` until one leaves for `stop_at` (returned as
    /// the final location) or a page is shown.
    pub async fn follow(&self, mut url: String, stop_at: &str) -> Step {
        for _ in 0..20 {
            if url.starts_with(stop_at) {
                return Step {
                    status: 303,
                    location: Some(url),
                    body: String::new(),
                };
            }
            let s = self.get(&url).await;
            match s.location {
                Some(l) => url = absolute(&url, &l),
                None => return s,
            }
        }
        panic!("too many redirects");
    }

    /// Signs in at the company IdP's page shown at `page_url`.
    pub async fn corp_login(&self, page_url: &str, login: &str, otp: Option<&str>) -> Step {
        let action = absolute(
            page_url,
            &format!("{}/login", url::Url::parse(page_url).unwrap().path()),
        );
        let mut form = vec![
            ("login", login.to_string()),
            ("password", format!("pw-{login}")),
        ];
        if let Some(o) = otp {
            form.push(("otp", o.to_string()));
        }
        step(self.http.post(action).form(&form).send().await.unwrap()).await
    }
}

pub async fn step(r: reqwest::Response) -> Step {
    Step {
        status: r.status().as_u16(),
        location: r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: r.text().await.unwrap(),
    }
}

pub fn absolute(base: &str, l: &str) -> String {
    url::Url::parse(base).unwrap().join(l).unwrap().to_string()
}

pub fn url_query(u: &str) -> HashMap<String, String> {
    url::Url::parse(u)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// The "Continue with …" link of Gatehouse's login page.
pub fn upstream_href(page: &str) -> String {
    page.split("class=\"upstream\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the login page offers the upstream")
        .replace("&amp;", "&")
}

impl Browser {
    /// From Gatehouse's login page at `authorize_url` (of the IdP at `idp`) to
    /// the company IdP's login page; returns its URL.
    pub async fn to_corp_login(&self, idp: &str, authorize_url: &str) -> String {
        let page = self.get(authorize_url).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let start = self.get(&absolute(idp, &upstream_href(&page.body))).await;
        assert_eq!(start.status, 303, "{}", start.body);
        let mut url = start.location.unwrap();
        loop {
            let s = self.get(&url).await;
            match s.location {
                Some(l) => url = absolute(&url, &l),
                None => {
                    assert_eq!(s.status, 200, "the company IdP shows its login: {}", s.body);
                    return url;
                }
            }
        }
    }

    /// Signs `who` in at Corp's page `login_page` and follows the redirects
    /// until one leaves for `stop_at` (returned).
    pub async fn corp_answer(
        &self,
        login_page: &str,
        who: &str,
        otp: Option<&str>,
        stop_at: &str,
    ) -> String {
        let s = self.corp_login(login_page, who, otp).await;
        assert_eq!(s.status, 303, "Corp accepted the login: {}", s.body);
        let s = self
            .follow(absolute(login_page, &s.location.unwrap()), stop_at)
            .await;
        s.location.expect("Corp sends the browser back")
    }
}
