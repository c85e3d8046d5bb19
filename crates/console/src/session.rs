//! The signed-in session: which profile, the access token (in memory only), and
//! the refresh token or API token (in the keychain only). Restores on restart
//! without a prompt, refreshes before expiry (rotating the refresh token), locks
//! after an idle timeout by dropping every in-memory token, and signs out by
//! revoking at the IdP and deleting the keychain entry.
//!
//! Where no keychain can be used — demo mode (a throw-away IdP), or a person who
//! chose to sign in without saving because the keychain is locked or absent —
//! the long-lived secret is held in this process only and the view says so.

use crate::{
    discovery::{Discovery, discover},
    error::{ConsoleError, ErrorCode},
    profiles::{Profile, ProfileStore},
    secrets::{SecretKind, SecretStore},
    signin::{self, Tokens},
};
use admin_api::{AdminClient, Role};
use serde::{Deserialize, Serialize};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::Mutex;

/// What the UI may know about the session: no tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SessionView {
    pub profile_id: String,
    pub profile_name: String,
    pub issuer: String,
    pub subject: String,
    pub roles: Vec<Role>,
    /// `session` (browser sign-in) or `api_token`.
    pub kind: String,
    /// Signed in with a second factor.
    pub mfa: bool,
    /// Where the session's long-lived secret is kept.
    pub storage: SecretStorage,
}

/// Where the refresh token or API token of the session lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecretStorage {
    /// The OS keychain: the session survives a restart.
    Keychain,
    /// This process only: the session ends when the console closes.
    Memory,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Browser,
    ApiToken,
}

struct Active {
    profile: Profile,
    discovery: Discovery,
    access_token: String,
    expires_at: Option<Instant>,
    kind: Kind,
    view: SessionView,
}

struct State {
    active: Option<Active>,
    locked: bool,
    last_activity: Instant,
}

/// Opens a URL in the system browser (the Tauri shell uses the opener plugin).
pub type OpenUrl = Arc<dyn Fn(String) -> Result<(), ConsoleError> + Send + Sync>;

pub struct Console {
    http: reqwest::Client,
    pub profiles: ProfileStore,
    /// The secret store in use, and which kind it is (the keychain given at
    /// construction, or memory once `keep_secrets_in_memory` was called).
    vault: std::sync::RwLock<(Arc<dyn SecretStore>, SecretStorage)>,
    idle_timeout: Duration,
    sign_in_timeout: Duration,
    state: Mutex<State>,
    transient: Mutex<Vec<Profile>>,
}

fn not_signed_in() -> ConsoleError {
    ConsoleError::new(ErrorCode::NotSignedIn, "Sign in to an IdP first.")
}

impl Console {
    pub fn new(
        profiles: ProfileStore,
        secrets: Arc<dyn SecretStore>,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(15))
                .build()
                .expect("http client"),
            profiles,
            vault: std::sync::RwLock::new((secrets, SecretStorage::Keychain)),
            idle_timeout,
            sign_in_timeout: Duration::from_secs(300),
            state: Mutex::new(State {
                active: None,
                locked: false,
                last_activity: Instant::now(),
            }),
            transient: Mutex::new(Vec::new()),
        }
    }

    /// The store secrets go to now.
    fn secrets(&self) -> Arc<dyn SecretStore> {
        self.vault.read().expect("vault").0.clone()
    }

    /// Where secrets go now.
    pub fn secret_storage(&self) -> SecretStorage {
        self.vault.read().expect("vault").1
    }

    /// From now on, secrets are held in this process only (demo mode, or a
    /// sign-in without saving while the keychain is unavailable). What the
    /// keychain holds is left as it is.
    pub fn keep_secrets_in_memory(&self) {
        let mut v = self.vault.write().expect("vault");
        if v.1 != SecretStorage::Memory {
            *v = (
                Arc::new(crate::secrets::MemoryStore::default()),
                SecretStorage::Memory,
            );
        }
    }

    pub fn with_sign_in_timeout(mut self, t: Duration) -> Self {
        self.sign_in_timeout = t;
        self
    }

    /// Checks an IdP's discovery and saves it as a profile.
    pub async fn add_profile(
        &self,
        name: &str,
        issuer: &str,
        client_id: &str,
    ) -> Result<(Profile, Discovery), ConsoleError> {
        let (p, d) = self.checked_profile(name, issuer, client_id).await?;
        self.profiles.save(&p)?;
        Ok((p, d))
    }

    /// A profile for `issuer` once its discovery document checks out.
    async fn checked_profile(
        &self,
        name: &str,
        issuer: &str,
        client_id: &str,
    ) -> Result<(Profile, Discovery), ConsoleError> {
        let d = discover(&self.http, issuer).await?;
        let p = Profile {
            id: xaa::util::sha256_hex(d.issuer.as_bytes())[..12].to_owned(),
            name: name.trim().to_owned(),
            issuer: d.issuer.clone(),
            client_id: client_id.to_owned(),
            update_feed: None,
        };
        Ok((p, d))
    }

    /// Like [`Console::add_profile`] but kept in memory only (demo mode: the demo
    /// IdP lives as long as the app).
    pub async fn add_profile_unsaved(
        &self,
        name: &str,
        issuer: &str,
        client_id: &str,
    ) -> Result<(Profile, Discovery), ConsoleError> {
        let (p, d) = self.checked_profile(name, issuer, client_id).await?;
        self.transient.lock().await.push(p.clone());
        Ok((p, d))
    }

    /// Saved profiles, then the in-memory ones (demo mode), with whether saved.
    pub async fn all_profiles(&self) -> Result<Vec<(Profile, bool)>, ConsoleError> {
        let mut out: Vec<(Profile, bool)> = self
            .profiles
            .list()?
            .into_iter()
            .map(|p| (p, true))
            .collect();
        out.extend(
            self.transient
                .lock()
                .await
                .iter()
                .map(|p| (p.clone(), false)),
        );
        Ok(out)
    }

    /// Sets (or with `None` clears) a profile's update feed, saved where the
    /// profile is (the profiles file, or memory in demo mode); with whether it
    /// is saved.
    pub async fn set_update_feed(
        &self,
        id: &str,
        feed: Option<String>,
    ) -> Result<(Profile, bool), ConsoleError> {
        {
            let mut t = self.transient.lock().await;
            if let Some(p) = t.iter_mut().find(|p| p.id == id) {
                p.update_feed = feed;
                return Ok((p.clone(), false));
            }
        }
        let mut p = self.profile(id)?;
        p.update_feed = feed;
        self.profiles.save(&p)?;
        Ok((p, true))
    }

    /// The update feed of the profile in use, if it names one.
    pub async fn active_update_feed(&self) -> Option<String> {
        let id = self.view().await?.profile_id;
        self.profile(&id).ok()?.update_feed
    }

    fn profile(&self, id: &str) -> Result<Profile, ConsoleError> {
        if let Ok(t) = self.transient.try_lock()
            && let Some(p) = t.iter().find(|p| p.id == id)
        {
            return Ok(p.clone());
        }
        self.profiles
            .list()?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or_else(|| ConsoleError::new(ErrorCode::NotFound, "No such IdP profile."))
    }

    async fn establish(
        &self,
        profile: Profile,
        d: Discovery,
        access_token: String,
        expires_in: Option<u64>,
        kind: Kind,
    ) -> Result<SessionView, ConsoleError> {
        let who = AdminClient::with_http(self.http.clone(), &profile.issuer, access_token.clone())
            .whoami()
            .await?;
        let view = SessionView {
            profile_id: profile.id.clone(),
            profile_name: profile.name.clone(),
            issuer: profile.issuer.clone(),
            subject: who.subject,
            roles: who.roles,
            kind: who.kind,
            mfa: who.acr.as_deref() == Some(xaa::ACR_MFA),
            storage: self.secret_storage(),
        };
        let mut s = self.state.lock().await;
        s.active = Some(Active {
            profile,
            discovery: d,
            access_token,
            expires_at: expires_in.map(|e| Instant::now() + Duration::from_secs(e)),
            kind,
            view: view.clone(),
        });
        s.locked = false;
        s.last_activity = Instant::now();
        Ok(view)
    }

    /// Signs in through the system browser; `mfa` asks the IdP for a second factor
    /// (used again for the approver step-up).
    pub async fn sign_in_browser(
        &self,
        profile_id: &str,
        mfa: bool,
        open: OpenUrl,
    ) -> Result<SessionView, ConsoleError> {
        let profile = self.profile(profile_id)?;
        let d = discover(&self.http, &profile.issuer).await?;
        let pending = signin::begin(&d, &profile.client_id, mfa).await?;
        open(pending.authorize_url.clone())?;
        let tokens = signin::finish(
            pending,
            &self.http,
            &d,
            &profile.client_id,
            self.sign_in_timeout,
        )
        .await?;
        if let Some(rt) = &tokens.refresh_token {
            self.secrets()
                .set(&profile.id, SecretKind::RefreshToken, rt)?;
        }
        self.secrets().delete(&profile.id, SecretKind::ApiToken)?;
        self.establish(
            profile,
            d,
            tokens.access_token,
            Some(tokens.expires_in),
            Kind::Browser,
        )
        .await
    }

    /// Signs in with an admin API token pasted once; it goes to the keychain.
    pub async fn sign_in_api_token(
        &self,
        profile_id: &str,
        token: &str,
    ) -> Result<SessionView, ConsoleError> {
        let profile = self.profile(profile_id)?;
        let d = discover(&self.http, &profile.issuer).await?;
        let token = token.trim().to_owned();
        let view = self
            .establish(profile.clone(), d, token.clone(), None, Kind::ApiToken)
            .await?;
        self.secrets()
            .set(&profile.id, SecretKind::ApiToken, &token)?;
        self.secrets()
            .delete(&profile.id, SecretKind::RefreshToken)?;
        Ok(view)
    }

    async fn refresh(&self, profile: &Profile, d: &Discovery) -> Result<Tokens, ConsoleError> {
        let rt = self
            .secrets()
            .get(&profile.id, SecretKind::RefreshToken)?
            .ok_or_else(not_signed_in)?;
        let resp = self
            .http
            .post(&d.token_endpoint)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", rt.as_str()),
                ("client_id", profile.client_id.as_str()),
            ])
            .send()
            .await
            .map_err(|_| {
                ConsoleError::new(
                    ErrorCode::IdpUnreachable,
                    "The IdP cannot be reached; your session is kept.",
                )
            })?;
        match signin::token_response(resp).await {
            Ok(t) => {
                if let Some(new) = &t.refresh_token {
                    self.secrets()
                        .set(&profile.id, SecretKind::RefreshToken, new)?;
                }
                Ok(t)
            }
            Err(e) if e.code == ErrorCode::SessionExpired => {
                self.secrets()
                    .delete(&profile.id, SecretKind::RefreshToken)?;
                Err(ConsoleError::new(
                    ErrorCode::SessionExpired,
                    "Your session has ended; sign in again.",
                ))
            }
            Err(e) => Err(e),
        }
    }

    /// Restores the profile's session from the keychain without a prompt (at start
    /// and to unlock). `Ok(None)` when nothing is saved.
    pub async fn restore(&self, profile_id: &str) -> Result<Option<SessionView>, ConsoleError> {
        let profile = self.profile(profile_id)?;
        if let Some(token) = self.secrets().get(&profile.id, SecretKind::ApiToken)? {
            let d = discover(&self.http, &profile.issuer).await?;
            return self
                .establish(profile, d, token, None, Kind::ApiToken)
                .await
                .map(Some);
        }
        if self
            .secrets()
            .get(&profile.id, SecretKind::RefreshToken)?
            .is_none()
        {
            return Ok(None);
        }
        let d = discover(&self.http, &profile.issuer).await?;
        let t = self.refresh(&profile, &d).await?;
        self.establish(
            profile,
            d,
            t.access_token,
            Some(t.expires_in),
            Kind::Browser,
        )
        .await
        .map(Some)
    }

    /// Notes user activity (resets the idle timer).
    pub async fn touch(&self) {
        self.state.lock().await.last_activity = Instant::now();
    }

    /// Drops every in-memory token; the keychain entry stays for unlock.
    pub async fn lock(&self) {
        let mut s = self.state.lock().await;
        if let Some(a) = s.active.as_mut() {
            a.access_token.clear();
        }
        s.locked = true;
    }

    pub async fn view(&self) -> Option<SessionView> {
        self.state
            .lock()
            .await
            .active
            .as_ref()
            .map(|a| a.view.clone())
    }

    pub async fn is_locked(&self) -> bool {
        self.state.lock().await.locked
    }

    /// An admin API client for the current session: locks if idle too long,
    /// refreshes the access token shortly before it expires.
    pub async fn admin(&self) -> Result<AdminClient, ConsoleError> {
        self.admin_client(true).await
    }

    /// The same client for background work (the live event stream): it does not
    /// count as activity, so the idle lock still comes.
    pub async fn admin_background(&self) -> Result<AdminClient, ConsoleError> {
        self.admin_client(false).await
    }

    /// Signs in again with a second factor for the current profile (the approver
    /// step-up the IdP asks for with `insufficient_user_authentication`).
    pub async fn step_up(&self, open: OpenUrl) -> Result<SessionView, ConsoleError> {
        let profile_id = self.view().await.ok_or_else(not_signed_in)?.profile_id;
        self.sign_in_browser(&profile_id, true, open).await
    }

    async fn admin_client(&self, activity: bool) -> Result<AdminClient, ConsoleError> {
        let mut s = self.state.lock().await;
        if s.active.is_some() && !s.locked && s.last_activity.elapsed() > self.idle_timeout {
            if let Some(a) = s.active.as_mut() {
                a.access_token.clear();
            }
            s.locked = true;
        }
        if s.locked {
            return Err(ConsoleError::new(
                ErrorCode::Locked,
                "Gatehouse locked itself after inactivity; unlock to continue.",
            ));
        }
        if activity {
            s.last_activity = Instant::now();
        }
        let a = s.active.as_ref().ok_or_else(not_signed_in)?;
        let due = a.kind == Kind::Browser
            && a.expires_at.is_some_and(|e| {
                e.saturating_duration_since(Instant::now()) < Duration::from_secs(60)
            });
        if due {
            let (profile, d) = (a.profile.clone(), a.discovery.clone());
            let t = self.refresh(&profile, &d).await?;
            let a = s.active.as_mut().expect("active");
            a.access_token = t.access_token;
            a.expires_at = Some(Instant::now() + Duration::from_secs(t.expires_in));
        }
        let a = s.active.as_ref().expect("active");
        Ok(AdminClient::with_http(
            self.http.clone(),
            &a.profile.issuer,
            a.access_token.clone(),
        ))
    }

    /// Removes a saved profile and deletes its keychain entries.
    pub fn forget_profile(&self, id: &str) -> Result<(), ConsoleError> {
        self.secrets().delete(id, SecretKind::RefreshToken)?;
        self.secrets().delete(id, SecretKind::ApiToken)?;
        self.profiles.remove(id)
    }

    /// Signs out: revokes the refresh token at the IdP (best effort), deletes the
    /// keychain entries, forgets the session.
    pub async fn sign_out(&self) -> Result<(), ConsoleError> {
        let active = self.state.lock().await.active.take();
        let Some(a) = active else { return Ok(()) };
        if let (Some(rt), Some(revoke)) = (
            self.secrets()
                .get(&a.profile.id, SecretKind::RefreshToken)?,
            &a.discovery.revocation_endpoint,
        ) {
            let _ = self
                .http
                .post(revoke)
                .form(&[
                    ("token", rt.as_str()),
                    ("client_id", a.profile.client_id.as_str()),
                ])
                .send()
                .await;
        }
        self.secrets()
            .delete(&a.profile.id, SecretKind::RefreshToken)?;
        self.secrets().delete(&a.profile.id, SecretKind::ApiToken)?;
        Ok(())
    }
}
