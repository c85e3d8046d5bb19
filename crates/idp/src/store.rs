//! The IdP's durable state in SQLite (through sqlx, migrations embedded in the
//! binary): signing keys, authorization codes, tokens (hashed), connections,
//! pending connection requests. Audit events have their own module.

use crate::config::{ConnectionSeed, ScopeCondition, StepUpRule};
use serde::{Deserialize, Serialize};
use sqlx::{
    Row, SqlSafeStr,
    migrate::{Migration, MigrationType, Migrator},
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
    },
};
use std::{borrow::Cow, path::Path, str::FromStr, time::Duration};

pub type DbResult<T> = Result<T, sqlx::Error>;

fn migrator() -> Migrator {
    let m = |v: i64, d: &'static str, sql: &'static str| {
        Migration::new(
            v,
            Cow::Borrowed(d),
            MigrationType::Simple,
            sql.into_sql_str(),
            false,
        )
    };
    Migrator {
        migrations: Cow::Owned(vec![
            m(1, "initial", include_str!("../migrations/0001_initial.sql")),
            m(2, "admin", include_str!("../migrations/0002_admin.sql")),
            m(
                3,
                "list_indexes",
                include_str!("../migrations/0003_list_indexes.sql"),
            ),
            m(4, "reviews", include_str!("../migrations/0004_reviews.sql")),
            m(
                5,
                "risk_rank",
                include_str!("../migrations/0005_risk_rank.sql"),
            ),
            m(
                6,
                "per_user_reviews",
                include_str!("../migrations/0006_per_user_reviews.sql"),
            ),
            m(
                7,
                "start_probe",
                include_str!("../migrations/0007_start_probe.sql"),
            ),
        ]),
        ..Migrator::DEFAULT
    }
}

/// Opens (creating if needed) the database and applies pending migrations.
pub async fn open(path: &Path) -> DbResult<SqlitePool> {
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // WAL + NORMAL: a commit survives a killed process; fsync happens at checkpoints.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .connect_with(opts)
        .await?;
    migrator()
        .run(&pool)
        .await
        .map_err(|e| sqlx::Error::Migrate(Box::new(e)))?;
    // A committed write: a database opened but not writable (a read-only
    // directory, file or `-wal` left by a crash) fails here, at start.
    sqlx::query("INSERT INTO start_probe (id, started_at_ms) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET started_at_ms = excluded.started_at_ms")
        .bind(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
        )
        .execute(&pool)
        .await?;
    Ok(pool)
}

pub use admin_api::ConnectionStatus;

/// An approved client → resource app relationship.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connection {
    pub id: String,
    pub client_id: String,
    pub resource_app: String,
    pub scopes: ScopeCondition,
    pub allowed_groups: Vec<String>,
    /// Users whose access through this connection an access review removed.
    pub excluded_users: Vec<String>,
    pub allowed_resources: Vec<String>,
    pub step_up: Vec<StepUpRule>,
    pub id_jag_lifetime: Option<u64>,
    pub expires_at: Option<i64>,
    pub status: ConnectionStatus,
    pub approved_by: Vec<String>,
    pub version: i64,
}

/// A stored status the code does not know is a decode error, never a silent
/// default (an unknown connection status once read as `expired`).
pub fn known_status<T>(parsed: Option<T>, stored: &str, what: &str) -> DbResult<T> {
    parsed.ok_or_else(|| {
        sqlx::Error::Decode(format!("unknown {what} status `{stored}` in the database").into())
    })
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("serializes")
}

fn from_json<T: for<'de> Deserialize<'de>>(s: &str) -> DbResult<T> {
    serde_json::from_str(s).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A newly issued authorization code's data.
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub username: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
    pub expires_at: i64,
    pub family: String,
}

/// A live IdP access token as stored.
#[derive(Debug, Clone)]
pub struct AccessTokenRow {
    pub client_id: String,
    pub username: String,
    pub scope: String,
    pub acr: Option<String>,
    pub auth_time: Option<i64>,
}

/// What a redeemed code or refresh token says about the sign-in.
#[derive(Debug, Clone)]
pub struct Grant {
    pub family: String,
    pub client_id: String,
    pub username: String,
    pub scope: String,
    pub auth_time: i64,
    pub acr: String,
    pub amr: Vec<String>,
}

/// Outcome of presenting an authorization code.
pub enum CodeRedemption {
    Ok(Box<AuthCode>),
    Unknown,
    /// Used before: every token issued from it has now been revoked.
    Reused,
}

/// Outcome of presenting a refresh token.
pub enum RefreshOutcome {
    Ok(Grant),
    Unknown,
    /// A rotated token was replayed: the whole family has been revoked.
    ReuseDetected,
}

#[derive(Clone)]
pub struct Store {
    pub pool: SqlitePool,
}

impl Store {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    // ---- signing keys ----

    /// The active signing key's (kid, alg, pkcs8), if any.
    pub async fn active_signing_key(&self) -> DbResult<Option<(String, String, Vec<u8>)>> {
        let row = sqlx::query(
            "SELECT kid, alg, pkcs8 FROM signing_keys WHERE active = 1 ORDER BY created_at DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.get("kid"), r.get("alg"), r.get("pkcs8"))))
    }

    pub async fn insert_signing_key(
        &self,
        kid: &str,
        alg: &str,
        pkcs8: &[u8],
        now: i64,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, pkcs8, created_at, active) VALUES (?, ?, ?, ?, 1)",
        )
        .bind(kid)
        .bind(alg)
        .bind(pkcs8)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    // ---- authorization codes ----

    pub async fn insert_code(&self, code_hash: &str, c: &AuthCode) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO auth_codes (code_hash, client_id, redirect_uri, code_challenge, username, scope, nonce, auth_time, acr, amr, expires_at, family)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(code_hash)
        .bind(&c.client_id)
        .bind(&c.redirect_uri)
        .bind(&c.code_challenge)
        .bind(&c.username)
        .bind(&c.scope)
        .bind(&c.nonce)
        .bind(c.auth_time)
        .bind(&c.acr)
        .bind(json(&c.amr))
        .bind(c.expires_at)
        .bind(&c.family)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks the code used, atomically; a second use revokes its token family.
    pub async fn redeem_code(&self, code_hash: &str, now: i64) -> DbResult<CodeRedemption> {
        let mut tx = self.pool.begin().await?;
        let Some(r) = sqlx::query("SELECT * FROM auth_codes WHERE code_hash = ?")
            .bind(code_hash)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(CodeRedemption::Unknown);
        };
        let family: String = r.get("family");
        if r.get::<Option<i64>, _>("used_at").is_some() {
            revoke_family(&mut tx, &family).await?;
            tx.commit().await?;
            return Ok(CodeRedemption::Reused);
        }
        sqlx::query("UPDATE auth_codes SET used_at = ? WHERE code_hash = ?")
            .bind(now)
            .bind(code_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(CodeRedemption::Ok(Box::new(AuthCode {
            client_id: r.get("client_id"),
            redirect_uri: r.get("redirect_uri"),
            code_challenge: r.get("code_challenge"),
            username: r.get("username"),
            scope: r.get("scope"),
            nonce: r.get("nonce"),
            auth_time: r.get("auth_time"),
            acr: r.get("acr"),
            amr: from_json(&r.get::<String, _>("amr"))?,
            expires_at: r.get("expires_at"),
            family,
        })))
    }

    // ---- access and refresh tokens ----

    pub async fn insert_access_token(
        &self,
        hash: &str,
        g: &Grant,
        expires_at: i64,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO access_tokens (token_hash, family, client_id, username, scope, expires_at, acr, auth_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(hash)
        .bind(&g.family)
        .bind(&g.client_id)
        .bind(&g.username)
        .bind(&g.scope)
        .bind(expires_at)
        .bind(&g.acr)
        .bind(g.auth_time)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A live access token.
    pub async fn access_token(&self, hash: &str, now: i64) -> DbResult<Option<AccessTokenRow>> {
        let r = sqlx::query(
            "SELECT client_id, username, scope, acr, auth_time FROM access_tokens WHERE token_hash = ? AND revoked = 0 AND expires_at > ?",
        )
        .bind(hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(r.map(|r| AccessTokenRow {
            client_id: r.get("client_id"),
            username: r.get("username"),
            scope: r.get("scope"),
            acr: r.get("acr"),
            auth_time: r.get("auth_time"),
        }))
    }

    pub async fn insert_refresh_token(
        &self,
        hash: &str,
        g: &Grant,
        expires_at: i64,
        now: i64,
    ) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, family, client_id, username, scope, auth_time, acr, amr, expires_at, status, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?)",
        )
        .bind(hash)
        .bind(&g.family)
        .bind(&g.client_id)
        .bind(&g.username)
        .bind(&g.scope)
        .bind(g.auth_time)
        .bind(&g.acr)
        .bind(json(&g.amr))
        .bind(expires_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Reads a refresh token for `client_id`. With `rotate`, marks it rotated in the
    /// same transaction; presenting a rotated token revokes its whole family.
    pub async fn use_refresh_token(
        &self,
        hash: &str,
        client_id: &str,
        now: i64,
        rotate: bool,
    ) -> DbResult<RefreshOutcome> {
        let mut tx = self.pool.begin().await?;
        let Some(r) =
            sqlx::query("SELECT * FROM refresh_tokens WHERE token_hash = ? AND client_id = ?")
                .bind(hash)
                .bind(client_id)
                .fetch_optional(&mut *tx)
                .await?
        else {
            return Ok(RefreshOutcome::Unknown);
        };
        let family: String = r.get("family");
        match r.get::<String, _>("status").as_str() {
            "active" if r.get::<i64, _>("expires_at") > now => {}
            "rotated" => {
                revoke_family(&mut tx, &family).await?;
                tx.commit().await?;
                return Ok(RefreshOutcome::ReuseDetected);
            }
            _ => return Ok(RefreshOutcome::Unknown),
        }
        if rotate {
            let changed = sqlx::query("UPDATE refresh_tokens SET status = 'rotated' WHERE token_hash = ? AND status = 'active'")
                .bind(hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if changed != 1 {
                return Ok(RefreshOutcome::Unknown);
            }
        }
        tx.commit().await?;
        Ok(RefreshOutcome::Ok(Grant {
            family,
            client_id: r.get("client_id"),
            username: r.get("username"),
            scope: r.get("scope"),
            auth_time: r.get("auth_time"),
            acr: r.get("acr"),
            amr: from_json(&r.get::<String, _>("amr"))?,
        }))
    }

    /// RFC 7009: revokes the token (access or refresh) if it belongs to `client_id`.
    /// Revoking a refresh token revokes its family.
    pub async fn revoke_token(&self, hash: &str, client_id: &str) -> DbResult<bool> {
        let mut tx = self.pool.begin().await?;
        let fam: Option<String> = sqlx::query_scalar(
            "SELECT family FROM refresh_tokens WHERE token_hash = ? AND client_id = ?
             UNION ALL SELECT family FROM access_tokens WHERE token_hash = ? AND client_id = ?",
        )
        .bind(hash)
        .bind(client_id)
        .bind(hash)
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(fam) = fam else { return Ok(false) };
        let is_refresh: bool =
            sqlx::query_scalar("SELECT COUNT(*) > 0 FROM refresh_tokens WHERE token_hash = ?")
                .bind(hash)
                .fetch_one(&mut *tx)
                .await?;
        if is_refresh {
            revoke_family(&mut tx, &fam).await?;
        } else {
            sqlx::query("UPDATE access_tokens SET revoked = 1 WHERE token_hash = ?")
                .bind(hash)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    // ---- TOTP ----

    /// Records the TOTP step used by `username`; false if that step (or a later one)
    /// was already used, so a code cannot be replayed.
    pub async fn consume_totp_step(&self, username: &str, step: u64) -> DbResult<bool> {
        let changed = sqlx::query(
            "INSERT INTO totp_last_step (username, last_step) VALUES (?, ?)
             ON CONFLICT(username) DO UPDATE SET last_step = excluded.last_step WHERE last_step < excluded.last_step",
        )
        .bind(username)
        .bind(step as i64)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    // ---- connections ----

    /// Mirrors the configuration's scope catalogue (with risk ranks) into the
    /// database and, when it changed since the last start, recomputes every
    /// connection's `risk_rank` from it. Returns whether it recomputed.
    pub async fn sync_scope_catalogue(
        &self,
        apps: &[crate::config::ResourceApp],
    ) -> DbResult<bool> {
        let wanted: std::collections::BTreeSet<(String, String, i64)> = apps
            .iter()
            .flat_map(|a| {
                a.scopes
                    .iter()
                    .map(|s| (a.id.clone(), s.name.clone(), risk_rank(s.risk)))
            })
            .collect();
        let mut tx = self.pool.begin().await?;
        let stored: std::collections::BTreeSet<(String, String, i64)> =
            sqlx::query_as("SELECT app, scope, rank FROM scope_catalogue")
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .collect();
        if stored == wanted {
            return Ok(false);
        }
        sqlx::query("DELETE FROM scope_catalogue")
            .execute(&mut *tx)
            .await?;
        for (app, scope, rank) in &wanted {
            sqlx::query("INSERT INTO scope_catalogue (app, scope, rank) VALUES (?, ?, ?)")
                .bind(app)
                .bind(scope)
                .bind(rank)
                .execute(&mut *tx)
                .await?;
        }
        // Rewriting each row's scopes unchanged runs the risk trigger (0005).
        sqlx::query("UPDATE connections SET scope_condition = scope_condition")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Inserts a configured connection unless a live one exists for the pair.
    pub async fn seed_connection(&self, seed: &ConnectionSeed, now: i64) -> DbResult<()> {
        sqlx::query(
            "INSERT INTO connections (id, client_id, resource_app, scope_condition, allowed_groups, allowed_resources, step_up, id_jag_lifetime, status, approved_by, justification, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, 'pre-approved in configuration', ?, ?)
             ON CONFLICT DO NOTHING",
        )
        .bind(format!("conn_{}", uuid::Uuid::new_v4().simple()))
        .bind(&seed.client_id)
        .bind(&seed.resource_app)
        .bind(json(&seed.scopes))
        .bind(json(&seed.allowed_groups))
        .bind(json(&seed.allowed_resources))
        .bind(json(&seed.step_up))
        .bind(seed.id_jag_lifetime.map(|v| v as i64))
        .bind(json(&seed.approved_by))
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The live (active or suspended) connection of a pair, if any.
    pub async fn live_connection(
        &self,
        client_id: &str,
        resource_app: &str,
    ) -> DbResult<Option<Connection>> {
        let r = sqlx::query(
            "SELECT * FROM connections WHERE client_id = ? AND resource_app = ? AND status IN ('active', 'suspended')",
        )
        .bind(client_id)
        .bind(resource_app)
        .fetch_optional(&self.pool)
        .await?;
        r.map(|r| connection_from_row(&r)).transpose()
    }

    pub async fn touch_connection(&self, id: &str, now: i64) -> DbResult<()> {
        sqlx::query("UPDATE connections SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)")
            .bind(now)
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---- connection requests ----

    /// Creates or updates the pending request for (client, app): adds the scopes,
    /// resources and user, bumps counters; returns the request id.
    pub async fn upsert_request(
        &self,
        r: &RequestSighting<'_>,
        now: i64,
    ) -> DbResult<(String, Option<admin_api::ChangeEvent>)> {
        let mut tx = self.pool.begin().await?;
        let new_id = format!("req_{}", uuid::Uuid::new_v4().simple());
        let refused = i64::from(r.refused);
        let id = sqlx::query(
            "INSERT INTO connection_requests (id, client_id, resource_app, refused_count, first_seen, last_seen, justification, status)
             VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')
             ON CONFLICT(client_id, resource_app) WHERE status = 'pending' DO UPDATE SET
                refused_count = refused_count + excluded.refused_count,
                last_seen = excluded.last_seen,
                justification = COALESCE(excluded.justification, justification)
             RETURNING id, (id = ?) AS created",
        )
        .bind(&new_id)
        .bind(r.client_id)
        .bind(r.resource_app)
        .bind(refused)
        .bind(now)
        .bind(now)
        .bind(r.justification)
        .bind(&new_id)
        .fetch_one(&mut *tx)
        .await
        .map(|row: sqlx::sqlite::SqliteRow| (row.get::<String, _>("id"), row.get::<bool, _>("created")))?;
        let (id, created) = id;
        // Only what changes the decision bumps the version (and so the ETag):
        // new scopes, resources, users or a justification; not counters.
        let mut material = r.justification.is_some();
        for s in r.scopes {
            material |= sqlx::query(
                "INSERT OR IGNORE INTO connection_request_scopes (request_id, scope) VALUES (?, ?)",
            )
            .bind(&id)
            .bind(s)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                > 0;
        }
        if let Some(res) = r.resource {
            material |= sqlx::query("INSERT OR IGNORE INTO connection_request_resources (request_id, resource) VALUES (?, ?)")
                .bind(&id)
                .bind(res)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
        }
        if let Some((user, groups)) = r.user {
            let known: bool = sqlx::query_scalar(
                "SELECT COUNT(*) > 0 FROM connection_request_users WHERE request_id = ? AND username = ?",
            )
            .bind(&id)
            .bind(user)
            .fetch_one(&mut *tx)
            .await?;
            material |= !known;
            sqlx::query(
                "INSERT INTO connection_request_users (request_id, username, groups, refused_count, first_seen, last_seen)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT(request_id, username) DO UPDATE SET
                    refused_count = refused_count + excluded.refused_count,
                    groups = excluded.groups, last_seen = excluded.last_seen",
            )
            .bind(&id)
            .bind(user)
            .bind(json(&groups))
            .bind(refused)
            .bind(now)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let change = if created || material {
            if !created {
                sqlx::query("UPDATE connection_requests SET version = version + 1 WHERE id = ?")
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
            }
            let kind = if created {
                "request.created"
            } else {
                "request.updated"
            };
            Some(crate::admin::common::record_change(&mut tx, kind, &id, now * 1000).await?)
        } else {
            None
        };
        tx.commit().await?;
        Ok((id, change))
    }

    /// A request as the IdP sees it (the admin API builds its views from this).
    pub async fn request(&self, id: &str) -> DbResult<Option<PendingRequest>> {
        let Some(r) = sqlx::query("SELECT * FROM connection_requests WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let scopes: Vec<String> = sqlx::query_scalar(
            "SELECT scope FROM connection_request_scopes WHERE request_id = ? ORDER BY scope",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let users = sqlx::query("SELECT username, groups, refused_count FROM connection_request_users WHERE request_id = ? ORDER BY username")
            .bind(id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|u| {
                Ok(RequestUser {
                    username: u.get("username"),
                    groups: from_json(&u.get::<String, _>("groups"))?,
                    refused_count: u.get("refused_count"),
                })
            })
            .collect::<DbResult<Vec<_>>>()?;
        Ok(Some(PendingRequest {
            id: r.get("id"),
            client_id: r.get("client_id"),
            resource_app: r.get("resource_app"),
            scopes,
            users,
            refused_count: r.get("refused_count"),
            first_seen: r.get("first_seen"),
            last_seen: r.get("last_seen"),
            justification: r.get("justification"),
            status: r.get("status"),
        }))
    }

    /// Ids of requests with the given status, oldest first.
    pub async fn request_ids(&self, status: &str) -> DbResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT id FROM connection_requests WHERE status = ? ORDER BY first_seen, id",
        )
        .bind(status)
        .fetch_all(&self.pool)
        .await
    }
}

async fn revoke_family(tx: &mut sqlx::SqliteConnection, family: &str) -> DbResult<()> {
    sqlx::query("UPDATE refresh_tokens SET status = 'revoked' WHERE family = ?")
        .bind(family)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE access_tokens SET revoked = 1 WHERE family = ?")
        .bind(family)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

fn connection_from_row(r: &sqlx::sqlite::SqliteRow) -> DbResult<Connection> {
    Ok(Connection {
        id: r.get("id"),
        client_id: r.get("client_id"),
        resource_app: r.get("resource_app"),
        scopes: from_json(&r.get::<String, _>("scope_condition"))?,
        allowed_groups: from_json(&r.get::<String, _>("allowed_groups"))?,
        excluded_users: from_json(&r.get::<String, _>("excluded_users"))?,
        allowed_resources: from_json(&r.get::<String, _>("allowed_resources"))?,
        step_up: from_json(&r.get::<String, _>("step_up"))?,
        id_jag_lifetime: r.get::<Option<i64>, _>("id_jag_lifetime").map(|v| v as u64),
        expires_at: r.get("expires_at"),
        status: {
            let s: String = r.get("status");
            known_status(ConnectionStatus::parse(&s), &s, "connection")?
        },
        approved_by: from_json(&r.get::<String, _>("approved_by"))?,
        version: r.get("version"),
    })
}

/// One sighting of a client wanting a resource app it has no connection to.
pub struct RequestSighting<'a> {
    pub client_id: &'a str,
    pub resource_app: &'a str,
    pub scopes: &'a [String],
    pub resource: Option<&'a str>,
    pub user: Option<(&'a str, &'a [String])>,
    pub justification: Option<&'a str>,
    /// A refused exchange (true) or an explicitly filed request (false).
    pub refused: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequestUser {
    pub username: String,
    pub groups: Vec<String>,
    pub refused_count: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingRequest {
    pub id: String,
    pub client_id: String,
    pub resource_app: String,
    pub scopes: Vec<String>,
    pub users: Vec<RequestUser>,
    pub refused_count: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub justification: Option<String>,
    pub status: String,
}

/// The rank stored for a risk (`risk_rank` columns): read 1 … admin 4; 0 grants nothing.
pub fn risk_rank(r: admin_api::Risk) -> i64 {
    match r {
        admin_api::Risk::Read => 1,
        admin_api::Risk::Write => 2,
        admin_api::Risk::Destructive => 3,
        admin_api::Risk::Admin => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ResourceApp, ScopeDef};

    fn app(risk: admin_api::Risk) -> ResourceApp {
        ResourceApp {
            id: "docs".into(),
            name: "Docs".into(),
            issuer: "http://docs".into(),
            mcp_servers: vec![],
            client_ids: Default::default(),
            scopes: vec![ScopeDef {
                name: "docs.write".into(),
                description: String::new(),
                risk,
                sensitive: false,
            }],
            receivers: vec![],
            owners: vec![],
        }
    }

    #[tokio::test]
    async fn the_risk_catalogue_is_recomputed_only_when_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(open(&dir.path().join("t.sqlite")).await.unwrap());
        assert!(
            store
                .sync_scope_catalogue(&[app(admin_api::Risk::Write)])
                .await
                .unwrap()
        );
        sqlx::query("INSERT INTO connections (id, client_id, resource_app, scope_condition, allowed_groups, allowed_resources, step_up, status, approved_by, created_at, updated_at) VALUES ('c', 'agent', 'docs', '{\"kind\":\"all\"}', '[]', '[]', '[]', 'active', '[]', 0, 0)")
            .execute(&store.pool)
            .await
            .unwrap();
        let rank = || async {
            sqlx::query_scalar::<_, i64>("SELECT risk_rank FROM connections WHERE id = 'c'")
                .fetch_one(&store.pool)
                .await
                .unwrap()
        };
        assert_eq!(rank().await, 2, "the insert trigger ranked it");
        // The same catalogue at the next start: nothing is rewritten.
        assert!(
            !store
                .sync_scope_catalogue(&[app(admin_api::Risk::Write)])
                .await
                .unwrap()
        );
        // A scope made riskier in the config: every connection is re-ranked.
        assert!(
            store
                .sync_scope_catalogue(&[app(admin_api::Risk::Destructive)])
                .await
                .unwrap()
        );
        assert_eq!(rank().await, 3);
    }
}

#[cfg(test)]
mod known_status_tests {
    use super::*;

    #[test]
    fn an_unknown_stored_status_is_a_decode_error() {
        assert_eq!(
            known_status(ConnectionStatus::parse("active"), "active", "connection").unwrap(),
            ConnectionStatus::Active
        );
        let e =
            known_status(ConnectionStatus::parse("paused"), "paused", "connection").unwrap_err();
        assert!(
            e.to_string().contains("unknown connection status `paused`"),
            "{e}"
        );
    }
}
