//! Access tokens this AS has issued: opaque random strings, stored by hash with the
//! grant they carry. In memory, because a restart of the reference AS should end
//! every session it granted.

use std::{collections::HashMap, sync::RwLock};
use xaa::util;

/// What an access token lets its bearer do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessGrant {
    pub sub: String,
    pub client_id: String,
    pub scopes: xaa::ScopeSet,
    /// The one MCP server this token is for.
    pub resource: String,
    pub exp: u64,
    /// Which IdP asserted the user, and the ID-JAG it came from.
    pub idp_issuer: String,
    pub id_jag_jti: String,
    /// The ID-JAG's connection claims and `iat`, so a revocation event kills
    /// exactly the tokens of what it revokes.
    pub connection: Option<(String, i64)>,
    pub id_jag_iat: u64,
}

impl AccessGrant {
    pub fn issued(&self) -> crate::receiver::Issued<'_> {
        crate::receiver::Issued {
            client_id: &self.client_id,
            sub: &self.sub,
            connection: self.connection.as_ref().map(|(id, v)| (id.as_str(), *v)),
            iat: self.id_jag_iat,
        }
    }
}

#[derive(Default)]
pub struct TokenStore {
    live: RwLock<HashMap<String, AccessGrant>>,
}

impl TokenStore {
    /// Stores a grant and returns the new token.
    pub fn issue(&self, grant: AccessGrant, now: u64) -> String {
        let token = util::random_token(32);
        let mut live = self.live.write().expect("token store lock");
        if live.len() > 10_000 {
            live.retain(|_, g| g.exp > now);
        }
        live.insert(util::sha256_hex(token.as_bytes()), grant);
        token
    }

    /// The grant of a live token.
    pub fn lookup(&self, token: &str, now: u64) -> Option<AccessGrant> {
        let live = self.live.read().expect("token store lock");
        live.get(&util::sha256_hex(token.as_bytes()))
            .filter(|g| g.exp > now)
            .cloned()
    }

    /// Drops every token matching `pred`; returns how many.
    pub fn revoke_where(&self, pred: impl Fn(&AccessGrant) -> bool) -> usize {
        let mut live = self.live.write().expect("token store lock");
        let before = live.len();
        live.retain(|_, g| !pred(g));
        before - live.len()
    }
}
