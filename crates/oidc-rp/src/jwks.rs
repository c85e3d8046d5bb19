//! An OpenID Provider's signing keys, fetched over HTTP and cached. An unknown
//! `kid` triggers one refetch (key rotation), rate-limited so a stream of forged
//! kids cannot turn the fetcher into a request amplifier against the provider;
//! one fetch runs at a time.

use crate::fetch;
use std::time::{Duration, Instant};
use tokio::sync::RwLock;
use xaa::{JwkSet, VerifyingKey};

const MAX_AGE: Duration = Duration::from_secs(300);
const MIN_REFETCH: Duration = Duration::from_secs(10);

pub struct JwksCache {
    uri: String,
    http: reqwest::Client,
    state: RwLock<(Vec<VerifyingKey>, Option<Instant>)>,
}

#[derive(Debug, thiserror::Error)]
#[error("the signing keys could not be fetched from {uri}: {reason}")]
pub struct JwksError {
    uri: String,
    reason: String,
}

impl JwksCache {
    pub fn new(uri: String, http: reqwest::Client) -> Self {
        Self {
            uri,
            http,
            state: RwLock::new((Vec::new(), None)),
        }
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The cached keys, fetched when missing or stale.
    pub async fn keys(&self) -> Result<Vec<VerifyingKey>, JwksError> {
        {
            let s = self.state.read().await;
            if let (false, Some(at)) = (s.0.is_empty(), s.1)
                && at.elapsed() < MAX_AGE
            {
                return Ok(s.0.clone());
            }
        }
        self.refresh(true).await
    }

    /// Refetches unless the last fetch was very recent; returns the keys either way.
    pub async fn refresh(&self, force_if_stale: bool) -> Result<Vec<VerifyingKey>, JwksError> {
        let mut s = self.state.write().await;
        let recent = s.1.is_some_and(|at| at.elapsed() < MIN_REFETCH);
        if recent && !(force_if_stale && s.0.is_empty()) {
            return Ok(s.0.clone());
        }
        let set: JwkSet = fetch::get_json(&self.http, &self.uri)
            .await
            .map_err(|e| JwksError {
                uri: self.uri.clone(),
                reason: e.to_string(),
            })?;
        *s = (xaa::jws::keys_from_jwks(&set), Some(Instant::now()));
        Ok(s.0.clone())
    }
}
