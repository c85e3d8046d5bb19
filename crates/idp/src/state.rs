//! The running IdP: configuration, store, audit log, signing key and clock,
//! shared by every request handler.

use crate::{audit::AuditLog, config::Config, verified_cache::VerifiedTokens};
use idp_store::Db;
use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};
use xaa::{IdTokenClaims, JwkSet, OAuthError, SigningKey, VerifyingKey};

pub struct Idp {
    pub config: Config,
    /// Roles allowed per admin route (from the admin API contract).
    pub admin_routes: crate::admin::auth::RouteRoles,
    /// Live subscribers of the admin change feed.
    pub changes: tokio::sync::broadcast::Sender<admin_api::ChangeEvent>,
    /// Wakes the revocation pusher after a revoke commits.
    pub outbox_wake: tokio::sync::Notify,
    /// Wakes the change feed after a commit with changes.
    pub feed_wake: tokio::sync::Notify,
    pub connections: crate::connection_cache::ConnectionCache,
    pub store: Db,
    pub audit: AuditLog,
    pub key: SigningKey,
    pub verifying: Vec<VerifyingKey>,
    pub jwks: JwkSet,
    /// Bounds password hashing (argon2) in concurrency, queue and wait.
    pub password_gate: crate::cost::CostGate,
    /// Bounds signature checks of tokens not verified before.
    pub signature_gate: crate::cost::CostGate,
    /// Back-off after failed sign-ins, per account, source and both.
    pub login_throttle: crate::throttle::LoginThrottle,
    /// What `/metrics` reports (counted where the work happens).
    pub metrics: crate::metrics::IdpMetrics,
    clock_offset: AtomicI64,
    /// When each connection's `last_used_at` was last written, to write it at most
    /// once a minute instead of on every exchange.
    last_touch: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    /// This IdP's ID tokens whose signature already verified.
    verified_id_tokens: VerifiedTokens<IdTokenClaims>,
    /// The other IdPs whose ID tokens are honoured as subject tokens.
    pub trusted: crate::external_subject::TrustedIssuers,
    /// The company's OpenID Providers people may sign in at.
    pub upstreams: crate::upstream::Upstreams,
    /// The AI clients and resource apps (the store's, as a snapshot).
    pub registry: crate::registry::Registry,
    /// Keys `private_key_jwt` clients publish at their JWKS URLs.
    pub client_keys: crate::client_auth::ClientKeys,
    /// Repeats of refused exchanges, counted and written once a window.
    pub refusals: crate::refusals::RepeatedRefusals,
}

impl Idp {
    /// The person behind `username` (any case) from the directory, as the
    /// gate sees them (cached on SQLite, read through on PostgreSQL).
    pub async fn person(
        &self,
        username: &str,
    ) -> Result<Option<idp_store::directory::DirectoryEntry>, sqlx::Error> {
        self.connections.person(&self.store, username).await
    }
}

pub type SharedIdp = Arc<Idp>;

impl Idp {
    /// `published` are the other keys of the JWKS (a rotation's next or
    /// previous key): tokens they signed verify, nothing is signed with them.
    pub fn new(
        config: Config,
        store: Db,
        audit: AuditLog,
        key: SigningKey,
        published: &[SigningKey],
        upstreams: crate::upstream::Upstreams,
        registry: crate::registry::Registry,
    ) -> Self {
        let jwks = JwkSet {
            keys: std::iter::once(&key)
                .chain(published.iter().filter(|k| k.kid() != key.kid()))
                .map(SigningKey::public_jwk)
                .collect(),
        };
        let verifying = xaa::jws::keys_from_jwks(&jwks);
        let trusted = crate::external_subject::TrustedIssuers::new(&config.trusted_issuers);
        Self {
            admin_routes: crate::admin::auth::RouteRoles::from_contract(),
            changes: tokio::sync::broadcast::channel(1024).0,
            outbox_wake: tokio::sync::Notify::new(),
            feed_wake: tokio::sync::Notify::new(),
            config,
            connections: Default::default(),
            store,
            audit,
            key,
            verifying,
            jwks,
            password_gate: crate::cost::CostGate::for_password_hashing(),
            signature_gate: crate::cost::CostGate::for_signatures(),
            login_throttle: Default::default(),
            metrics: Default::default(),
            clock_offset: AtomicI64::new(0),
            last_touch: Default::default(),
            verified_id_tokens: Default::default(),
            trusted,
            upstreams,
            registry,
            client_keys: Default::default(),
            refusals: Default::default(),
        }
    }

    /// The clients and apps as of now.
    pub fn catalog(&self) -> std::sync::Arc<crate::registry::Catalog> {
        self.registry.get()
    }

    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.config.issuer, path)
    }

    /// Seconds since the epoch, shifted by the test clock offset.
    pub fn now(&self) -> i64 {
        self.now_ms() / 1000
    }

    pub fn now_ms(&self) -> i64 {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        real + self.clock_offset.load(Ordering::Relaxed) * 1000
    }

    /// The claims of an ID token signed by this IdP (signature checked once per
    /// token, in the bounded signature pool, then cached until it expires); the
    /// caller checks the claims.
    pub async fn verified_id_token(&self, token: &str) -> Result<IdTokenClaims, OAuthError> {
        let key = VerifiedTokens::<IdTokenClaims>::key(token);
        if let Some(c) = self.verified_id_tokens.get(&key) {
            return Ok(c);
        }
        if token.len() > 16 * 1024 {
            return Err(OAuthError::invalid_grant(
                "the subject token is larger than 16 KiB",
            ));
        }
        let keys = self.verifying.clone();
        let owned = token.to_owned();
        let v = self
            .signature_gate
            .run_blocking(move || xaa::jws::verify_compact(&owned, &keys, None, 16 * 1024))
            .await
            .map_err(crate::cost::Overloaded::into_oauth)?
            .map_err(|e| {
                OAuthError::invalid_grant(format!("the subject token is not valid: {e}"))
            })?;
        let c: IdTokenClaims = serde_json::from_slice(&v.payload)
            .map_err(|_| OAuthError::invalid_grant("the subject token is not an ID token"))?;
        self.verified_id_tokens
            .insert(key, c.clone(), c.exp as i64, self.now());
        Ok(c)
    }

    /// Whether `last_used_at` of `connection_id` is due a write (once a minute).
    pub fn touch_due(&self, connection_id: &str, now: i64) -> bool {
        let mut m = self
            .last_touch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match m.get(connection_id) {
            Some(t) if now - *t < 60 => false,
            _ => {
                m.insert(connection_id.to_owned(), now);
                true
            }
        }
    }

    /// Moves this IdP's clock (tests of expiry and step-up freshness).
    pub fn advance_clock(&self, seconds: i64) {
        self.clock_offset.fetch_add(seconds, Ordering::Relaxed);
    }
}
