//! `registry_clients` and `registry_apps`: the AI clients and resource apps as
//! documents the IdP reads whole (it keeps a snapshot and reloads it after a
//! change), with the columns uniqueness and concurrency need: the key, an app's
//! audience, the version every write bumps (the ETag), and when it was retired.

use crate::{Backend, Conn, Db, DbResult, from_json, json, sql};
use serde_json::Value;
use sqlx::{Row, any::AnyRow};

/// Which registry table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Client,
    App,
}

/// Where an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Seeded from the config file at a start.
    Config,
    /// Registered through the admin API.
    Admin,
}

impl Origin {
    fn as_str(self) -> &'static str {
        match self {
            Origin::Config => "config",
            Origin::Admin => "admin",
        }
    }
    fn parse(s: &str) -> DbResult<Self> {
        match s {
            "config" => Ok(Origin::Config),
            "admin" => Ok(Origin::Admin),
            other => Err(sqlx::Error::Decode(
                format!("unknown registry origin `{other}`").into(),
            )),
        }
    }
}

/// One stored entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The client id, or the app's id.
    pub key: String,
    pub doc: Value,
    pub origin: Origin,
    pub version: i64,
    pub retired_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An entry as written: its key, an app's audience, the document.
pub struct EntryWrite<'a> {
    pub key: &'a str,
    /// The app's issuer (unique among apps); `None` for clients.
    pub audience: Option<&'a str>,
    pub doc: &'a Value,
}

fn entry(kind: Kind, r: &AnyRow) -> DbResult<Entry> {
    Ok(Entry {
        key: r.get(match kind {
            Kind::Client => "client_id",
            Kind::App => "id",
        }),
        doc: from_json(&r.get::<String, _>("doc"))?,
        origin: Origin::parse(&r.get::<String, _>("source"))?,
        version: r.get("version"),
        retired_at: r.get("retired_at"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    })
}

impl Db {
    /// Every entry of `kind`, retired ones too, in key order.
    pub async fn registry(&self, kind: Kind) -> DbResult<Vec<Entry>> {
        all(&mut *self.acquire().await?, kind).await
    }

    /// Inserts the config's entries that are absent (by key, and for apps by
    /// audience too); an entry already there (edited, retired) is left alone.
    /// Returns how many were inserted.
    pub async fn seed_registry(
        &self,
        kind: Kind,
        entries: &[EntryWrite<'_>],
        now: i64,
    ) -> DbResult<usize> {
        let mut tx = self.begin_write().await?;
        let mut n = 0;
        for e in entries {
            if insert(&mut tx, kind, e, Origin::Config, now).await? {
                n += 1;
            }
        }
        tx.commit().await?;
        Ok(n)
    }
}

/// Every entry of `kind`, retired ones too, in key order, as `c` sees them
/// (inside a write transaction: nothing committed elsewhere is missed).
pub async fn all(c: &mut Conn, kind: Kind) -> DbResult<Vec<Entry>> {
    let text = match kind {
        Kind::Client => "SELECT * FROM registry_clients ORDER BY client_id",
        Kind::App => "SELECT * FROM registry_apps ORDER BY id",
    };
    sqlx::query(sql(Backend::of(c), text))
        .fetch_all(&mut *c)
        .await?
        .iter()
        .map(|r| entry(kind, r))
        .collect()
}

/// One entry by key, retired or not.
pub async fn get(c: &mut Conn, kind: Kind, key: &str) -> DbResult<Option<Entry>> {
    let text = match kind {
        Kind::Client => "SELECT * FROM registry_clients WHERE client_id = ?",
        Kind::App => "SELECT * FROM registry_apps WHERE id = ?",
    };
    sqlx::query(sql(Backend::of(c), text))
        .bind(key)
        .fetch_optional(&mut *c)
        .await?
        .map(|r| entry(kind, &r))
        .transpose()
}

/// Inserts an entry at version 1; false when its key (or an app's audience) is
/// taken.
pub async fn insert(
    tx: &mut Conn,
    kind: Kind,
    e: &EntryWrite<'_>,
    origin: Origin,
    now: i64,
) -> DbResult<bool> {
    let b = Backend::of(tx);
    let q = match kind {
        Kind::Client => sqlx::query(sql(
            b,
            "INSERT INTO registry_clients (client_id, doc, source, version, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING",
        ))
        .bind(e.key),
        Kind::App => sqlx::query(sql(
            b,
            "INSERT INTO registry_apps (id, audience, doc, source, version, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT DO NOTHING",
        ))
        .bind(e.key)
        .bind(e.audience.unwrap_or_default()),
    };
    Ok(q.bind(json(e.doc))
        .bind(origin.as_str())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1)
}

/// Rewrites a live entry at `version` (bumping it); false when it is not at
/// that version, is retired, or (for an app) the new audience is another's.
pub async fn update(
    tx: &mut Conn,
    kind: Kind,
    e: &EntryWrite<'_>,
    version: i64,
    now: i64,
) -> DbResult<bool> {
    let b = Backend::of(tx);
    if let (Kind::App, Some(aud)) = (kind, e.audience) {
        let taken: Option<String> = sqlx::query_scalar(sql(
            b,
            "SELECT id FROM registry_apps WHERE audience = ? AND id <> ?",
        ))
        .bind(aud)
        .bind(e.key)
        .fetch_optional(&mut *tx)
        .await?;
        if taken.is_some() {
            return Ok(false);
        }
    }
    let q = match kind {
        Kind::Client => sqlx::query(sql(
            b,
            "UPDATE registry_clients SET doc = ?, version = version + 1, updated_at = ? WHERE client_id = ? AND version = ? AND retired_at IS NULL",
        ))
        .bind(json(e.doc))
        .bind(now),
        Kind::App => sqlx::query(sql(
            b,
            "UPDATE registry_apps SET doc = ?, audience = ?, version = version + 1, updated_at = ? WHERE id = ? AND version = ? AND retired_at IS NULL",
        ))
        .bind(json(e.doc))
        .bind(e.audience.unwrap_or_default())
        .bind(now),
    };
    Ok(q.bind(e.key)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1)
}

/// Retires a live entry at `version`; false when it is not at that version or
/// already retired.
pub async fn retire(
    tx: &mut Conn,
    kind: Kind,
    key: &str,
    version: i64,
    now: i64,
) -> DbResult<bool> {
    let text = match kind {
        Kind::Client => {
            "UPDATE registry_clients SET retired_at = ?, version = version + 1, updated_at = ? WHERE client_id = ? AND version = ? AND retired_at IS NULL"
        }
        Kind::App => {
            "UPDATE registry_apps SET retired_at = ?, version = version + 1, updated_at = ? WHERE id = ? AND version = ? AND retired_at IS NULL"
        }
    };
    Ok(sqlx::query(sql(Backend::of(tx), text))
        .bind(now)
        .bind(now)
        .bind(key)
        .bind(version)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1)
}
