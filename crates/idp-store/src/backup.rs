//! Online backups of the SQLite database: `VACUUM INTO` writes one consistent
//! snapshot (it reads inside a single read transaction) to a new file, mode 0600,
//! while the IdP keeps serving, and the copy is opened read-only to check its schema and
//! walk its audit chain before anyone relies on it. PostgreSQL is backed up with
//! its own tools (`pg_dump` also reads one snapshot); this module says so rather
//! than pretend.

use crate::{Backend, Db, DbResult, Error, SchemaState, audit::ChainReport, unsupported_url};
use sqlx::any::AnyPoolOptions;
use std::path::Path;

/// What a backup holds, read back from the copy itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub schema: SchemaState,
    pub chain: ChainReport,
    pub bytes: u64,
}

impl Db {
    /// Opens an existing SQLite database read-only, without migrating it (a
    /// backup taken before an upgrade must not be the upgrade) and without the
    /// start-up write probe. Nothing is created when the file is missing.
    pub async fn open_read_only(url: &str) -> DbResult<Db> {
        sqlx::any::install_default_drivers();
        match Backend::of_url(url) {
            Some(Backend::Sqlite) => {}
            Some(Backend::Postgres) => return Err(postgres_has_its_own_tools()),
            None => return Err(unsupported_url(url)),
        }
        let path = crate::sqlite_path(url).unwrap_or_default();
        if !path.is_file() {
            return Err(Error::Configuration(
                format!("there is no SQLite database at {}", path.display()).into(),
            ));
        }
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&format!("{}?mode=ro", url.split('?').next().unwrap_or(url)))
            .await?;
        Ok(Db {
            pool,
            backend: Backend::Sqlite,
            url: url.to_owned(),
            _checkpointer: None,
            held: Default::default(),
        })
    }

    /// Writes a consistent snapshot of this SQLite database to `dest`, which
    /// must not exist yet (a backup never overwrites a file).
    pub async fn snapshot_to(&self, dest: &Path) -> DbResult<()> {
        if self.backend == Backend::Postgres {
            return Err(postgres_has_its_own_tools());
        }
        // Created here, empty, readable by this user only (the copy holds the
        // signing keys and password hashes), and never over an existing file;
        // `VACUUM INTO` fills an empty file.
        let mut new = std::fs::OpenOptions::new();
        new.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut new, 0o600);
        match new.open(dest) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::Configuration(
                    format!(
                        "{} exists: a backup never overwrites a file",
                        dest.display()
                    )
                    .into(),
                ));
            }
            Err(e) => return Err(Error::Io(e)),
        }
        let Some(dest) = dest.to_str() else {
            return Err(Error::Configuration(
                "the backup's path is not valid UTF-8".into(),
            ));
        };
        sqlx::query("VACUUM INTO ?")
            .bind(dest)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Takes a snapshot of the SQLite database at `url` into `dest`, then opens the
/// copy read-only and reports its schema and audit chain (every hash recomputed).
pub async fn backup_sqlite(url: &str, dest: &Path) -> DbResult<BackupReport> {
    let db = Db::open_read_only(url).await?;
    db.snapshot_to(dest).await?;
    db.pool.close().await;
    verify_copy(dest).await
}

/// Opens a backup file read-only: its schema against this binary's, its audit
/// chain walked, its size.
pub async fn verify_copy(path: &Path) -> DbResult<BackupReport> {
    let copy = Db::open_read_only(&crate::sqlite_url(path)).await?;
    let schema = copy.schema().await?;
    let chain = copy.verify_audit().await?;
    copy.pool.close().await;
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    Ok(BackupReport {
        schema,
        chain,
        bytes,
    })
}

fn postgres_has_its_own_tools() -> Error {
    Error::Configuration(
        "a PostgreSQL database is backed up with pg_dump and restored with pg_restore (docs/deployment.md)"
            .into(),
    )
}
