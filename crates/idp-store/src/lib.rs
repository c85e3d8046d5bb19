//! The IdP's durable state, on SQLite (the embedded default) or PostgreSQL (for
//! several IdP nodes behind one database): the migrations of both, and one module
//! per table family, each owning its row type, the one decoder of that row, its
//! status enums and its queries. No other crate writes SQL.
//!
//! Functions that change state take the caller's transaction (`&mut Conn`), so a
//! decision, its audit event, its revocation events and its change row commit as
//! one. Writers serialise on one lock: SQLite's own (`BEGIN IMMEDIATE`), or one
//! PostgreSQL advisory lock taken by [`Db::begin_write`] and by every append to
//! the audit chain and the change feed, so the chain head and change ids follow
//! commit order on every node.
//!
//! SQL is written once with `?` placeholders; [`sql`] rewrites them to `$n` for
//! PostgreSQL. Dialect differences that remain (JSON arrays, `LIKE` case) are
//! methods of [`Backend`].

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod api_tokens;
pub mod audit;
pub mod audit_writer;
pub mod backup;
pub mod blocks;
pub mod catalogue;
pub mod changes;
mod checkpoint;
pub mod connections;
pub mod directory;
pub mod findings;
pub mod gate;
mod held;
pub mod idempotency;
pub mod keys;
pub mod kills;
pub mod lifecycle;
mod migrate;
pub mod notifications;
pub mod outbox;
pub mod page;
pub mod registry;
pub mod replay;
pub mod requests;
pub mod reviews;
pub mod scale;
pub mod sessions;
mod sql;
pub mod upstream_logins;

pub use connections::{Connection, ConnectionRow, ConnectionStatus};
pub use requests::{RequestRow, RequestSighting};
pub use sessions::{AccessTokenRow, AuthCode, CodeRedemption, Grant, RefreshOutcome};
pub use sql::sql;
pub use sqlx::Error;
use sqlx::{
    Any, AnyConnection,
    any::{AnyPoolOptions, install_default_drivers},
    pool::PoolConnection,
};
use std::time::Duration;

pub type DbResult<T> = Result<T, Error>;
/// A transaction on either database.
pub type Tx = sqlx::Transaction<'static, Any>;
/// A connection (or a transaction, which derefs to one).
pub type Conn = AnyConnection;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The backend a URL names: `sqlite://…` or `postgres://…` (`postgresql://`).
    pub fn of_url(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }

    /// The backend of an open connection.
    pub fn of(c: &Conn) -> Backend {
        if c.backend_name().eq_ignore_ascii_case("postgresql") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// `(SELECT value FROM <the elements of the JSON array expr>)`.
    pub fn json_values(self, expr: &str) -> String {
        match self {
            Backend::Sqlite => format!("(SELECT value FROM json_each({expr}))"),
            Backend::Postgres => {
                format!(
                    "(SELECT value FROM jsonb_array_elements_text(({expr})::jsonb) AS v(value))"
                )
            }
        }
    }

    /// A case-insensitive `LIKE` (SQLite's `LIKE` already ignores ASCII case).
    pub fn ilike(self) -> &'static str {
        match self {
            Backend::Sqlite => "LIKE",
            Backend::Postgres => "ILIKE",
        }
    }
}

/// The one lock PostgreSQL writers take (SQLite has its own single writer).
const WRITER_LOCK: i64 = 0x6761_7465_686f_7573;

/// Within a PostgreSQL transaction, waits for the writer lock (held until the
/// transaction ends; taking it again in the same transaction is free).
pub async fn lock_writer(c: &mut Conn) -> DbResult<()> {
    if Backend::of(c) == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITER_LOCK)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// The URL of a SQLite file (`%`, `?` and `#` escaped, as sqlx decodes them).
pub fn sqlite_url(path: &std::path::Path) -> String {
    let p = path
        .display()
        .to_string()
        .replace('%', "%25")
        .replace('?', "%3F")
        .replace('#', "%23");
    format!("sqlite://{p}")
}

/// The file a `sqlite://` URL names (the inverse of [`sqlite_url`]); `None`
/// for any other URL or an in-memory database.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split(['?', '#']).next().unwrap_or("");
    if path.is_empty() || path.starts_with(':') {
        return None;
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(std::path::PathBuf::from(String::from_utf8(out).ok()?))
}

/// A database URL without its password (for messages and logs).
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            let user = user.split(':').next().unwrap_or("");
            format!("{user}:***@{host}")
        }
        _ => authority.to_owned(),
    };
    // A password may also ride in the query (`?password=…`).
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// Creates an empty database on the PostgreSQL server `server_url` names (its
/// own database is only used to connect) and returns the new database's URL.
/// For throw-away worlds: the demo and the tests on PostgreSQL.
pub async fn create_postgres_database(server_url: &str, prefix: &str) -> DbResult<String> {
    use sqlx::Connection;
    install_default_drivers();
    if Backend::of_url(server_url) != Some(Backend::Postgres) {
        return Err(unsupported_url(server_url));
    }
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut c = AnyConnection::connect(server_url).await?;
    // The name is ours (a prefix and hex digits), never input.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut c)
        .await?;
    c.close().await?;
    let (scheme, rest) = server_url
        .split_once("://")
        .unwrap_or(("postgres", server_url));
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let query = tail
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    Ok(format!("{scheme}://{authority}/{name}{query}"))
}

/// The database's schema against the one this binary runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaState {
    Current,
    /// Migrations this binary knows are not applied (up to `want`).
    Behind {
        have: i64,
        want: i64,
    },
    /// A newer binary migrated it past what this one knows.
    Ahead {
        have: i64,
        want: i64,
    },
}

/// The IdP's database.
#[derive(Clone)]
pub struct Db {
    pool: sqlx::AnyPool,
    backend: Backend,
    /// Kept for the change listener's own connection; never shown (it may hold
    /// a password): `Debug` prints [`redacted_url`].
    url: String,
    /// SQLite's WAL checkpoints, while any handle lives.
    _checkpointer: Option<std::sync::Arc<checkpoint::Checkpointer>>,
    /// Connections held out of the pool for the gate's read (PostgreSQL).
    held: std::sync::Arc<held::Held>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.backend)
            .field("url", &redacted_url(&self.url))
            .finish()
    }
}

/// Why a database URL cannot be used.
pub fn unsupported_url(url: &str) -> Error {
    let scheme = url.split(':').next().unwrap_or("");
    Error::Configuration(
        format!(
            "`{scheme}:` is not a database this IdP runs on: use sqlite://PATH or postgres://…"
        )
        .into(),
    )
}

impl Db {
    /// Opens the database a URL names (a SQLite file is created if missing) and
    /// applies pending migrations (on PostgreSQL under sqlx's advisory lock, so
    /// nodes started together run them once).
    pub async fn open(url: &str) -> DbResult<Db> {
        install_default_drivers();
        let backend = Backend::of_url(url).ok_or_else(|| unsupported_url(url))?;
        let pool = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') {
                    url.to_owned()
                } else {
                    format!("{url}?mode=rwc")
                };
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|c, _| {
                        Box::pin(async move {
                            sqlx::raw_sql(checkpoint::PRAGMAS)
                                .execute(c)
                                .await
                                .map(|_| ())
                        })
                    })
                    .connect(&url)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(url)
                    .await?
            }
        };
        migrate::migrator(backend)
            .run(&pool)
            .await
            .map_err(|e| Error::Migrate(Box::new(e)))?;
        let _checkpointer = match sqlite_path(url) {
            Some(path) if backend == Backend::Sqlite => Some(std::sync::Arc::new(
                checkpoint::Checkpointer::start(path).map_err(Error::Io)?,
            )),
            _ => None,
        };
        let db = Db {
            pool,
            backend,
            url: url.to_owned(),
            _checkpointer,
            held: Default::default(),
        };
        db.probe_write().await?;
        Ok(db)
    }

    /// A committed write: a database opened but not writable (a read-only
    /// directory, file or `-wal` left by a crash) fails here, at start.
    async fn probe_write(&self) -> DbResult<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        sqlx::query(sql(
            self.backend,
            "INSERT INTO start_probe (id, started_at_ms) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET started_at_ms = excluded.started_at_ms",
        ))
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite file this database is, if it is one.
    pub fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        match self.backend {
            Backend::Sqlite => sqlite_path(&self.url),
            Backend::Postgres => None,
        }
    }

    /// The pool, for tests that tamper with rows the way an attacker with the
    /// database file would.
    pub fn pool(&self) -> &sqlx::AnyPool {
        &self.pool
    }

    /// A connection for reads.
    pub async fn acquire(&self) -> DbResult<PoolConnection<Any>> {
        self.pool.acquire().await
    }

    /// A transaction that reads and then writes rows its own statements
    /// guard (`UPDATE … WHERE used_at IS NULL`). On SQLite it takes the
    /// writer lock up front: a deferred one that read a snapshot cannot write
    /// once another connection committed meanwhile (SQLITE_BUSY_SNAPSHOT,
    /// which no busy handler retries — a sign-in failed that way under load).
    /// On PostgreSQL a plain transaction: row locks order its writes, and no
    /// node-wide writer lock is needed.
    pub async fn begin_read_write(&self) -> DbResult<Tx> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// A write transaction holding the writer lock from its start, so what it
    /// reads (a version checked against `If-Match`) cannot change before it commits.
    pub async fn begin_write(&self) -> DbResult<Tx> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                lock_writer(&mut tx).await?;
                Ok(tx)
            }
        }
    }

    /// Whether the database's schema is the one this binary runs: every
    /// migration it knows applied, and none it does not know (a newer node
    /// migrated ahead of it).
    pub async fn schema(&self) -> DbResult<SchemaState> {
        let want = migrate::migrator(self.backend)
            .iter()
            .map(|m| m.version)
            .max()
            .unwrap_or(0);
        let have: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success = TRUE")
                .fetch_one(&self.pool)
                .await?;
        let have = have.unwrap_or(0);
        Ok(match have.cmp(&want) {
            std::cmp::Ordering::Equal => SchemaState::Current,
            std::cmp::Ordering::Less => SchemaState::Behind { have, want },
            std::cmp::Ordering::Greater => SchemaState::Ahead { have, want },
        })
    }

    /// A listener for changes committed by any node (PostgreSQL `LISTEN`); `None`
    /// on SQLite, where this process is the only writer.
    pub async fn change_listener(&self) -> DbResult<Option<changes::ChangeListener>> {
        match self.backend {
            Backend::Sqlite => Ok(None),
            Backend::Postgres => changes::ChangeListener::connect(&self.url).await.map(Some),
        }
    }
}

/// A stored status the code does not know is a decode error, never a silent
/// default (an unknown connection status once read as `expired`).
pub fn known_status<T>(parsed: Option<T>, stored: &str, what: &str) -> DbResult<T> {
    parsed.ok_or_else(|| {
        Error::Decode(format!("unknown {what} status `{stored}` in the database").into())
    })
}

/// A value as the JSON text stored in a column.
pub fn json<T: serde::Serialize + ?Sized>(v: &T) -> String {
    // Serialising our own plain data types (strings, numbers, enums) cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// A JSON column decoded; bad JSON is a decode error.
pub fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> DbResult<T> {
    serde_json::from_str(s).map_err(|e| Error::Decode(Box::new(e)))
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

    #[test]
    fn an_unknown_stored_status_is_a_decode_error() {
        use admin_api::ConnectionStatus;
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

    #[test]
    fn a_sqlite_url_names_the_file_it_was_made_from() {
        for p in ["/tmp/a b/idp.db", "/tmp/100%/q?x#y.db", "relative/idp.db"] {
            let url = sqlite_url(std::path::Path::new(p));
            assert_eq!(sqlite_path(&url).unwrap(), std::path::Path::new(p), "{url}");
            assert_eq!(
                sqlite_path(&format!("{url}?mode=rwc")).unwrap(),
                std::path::Path::new(p)
            );
        }
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://h/db"), None);
    }

    #[test]
    fn urls_lose_their_password_when_shown() {
        assert_eq!(
            redacted_url("postgres://gh:s3cret@127.0.0.1:5432/idp"),
            "postgres://gh:***@127.0.0.1:5432/idp"
        );
        assert_eq!(
            redacted_url("postgres://127.0.0.1/idp"),
            "postgres://127.0.0.1/idp"
        );
        assert_eq!(
            redacted_url("postgres://gh@h/idp?sslmode=require&password=s3cret"),
            "postgres://gh@h/idp?sslmode=require&password=***"
        );
        assert_eq!(
            sqlite_url(std::path::Path::new("/tmp/a?b#c%d.db")),
            "sqlite:///tmp/a%3Fb%23c%25d.db"
        );
    }

    #[test]
    fn urls_name_their_backend() {
        assert_eq!(Backend::of_url("sqlite:///tmp/x.db"), Some(Backend::Sqlite));
        assert_eq!(
            Backend::of_url("postgres://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::of_url("postgresql://u@h/db"),
            Some(Backend::Postgres)
        );
        assert_eq!(Backend::of_url("mysql://h/db"), None);
    }
}
