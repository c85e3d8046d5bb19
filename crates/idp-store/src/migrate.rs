//! The schema of each database, embedded in the binary. Version N means the same
//! schema on both: a change is one migration per directory, with one number.
//! (Descriptions stay those of the first SQLite databases, which record them.)

use crate::Backend;
use sqlx::{
    SqlSafeStr,
    migrate::{Migration, MigrationType, Migrator},
};
use std::borrow::Cow;

macro_rules! migrations {
    ($dir:literal: $($v:literal $file:literal $name:literal),* $(,)?) => {
        vec![$(
            Migration::new(
                $v,
                Cow::Borrowed($name),
                MigrationType::Simple,
                include_str!(concat!("../migrations/", $dir, "/", $file, ".sql")).into_sql_str(),
                false,
            )
        ),*]
    };
}

pub fn migrator(backend: Backend) -> Migrator {
    let migrations = match backend {
        Backend::Sqlite => migrations!("sqlite":
            1 "0001_initial" "initial", 2 "0002_admin" "admin", 3 "0003_list_indexes" "list_indexes",
            4 "0004_reviews" "reviews", 5 "0005_risk_rank" "risk_rank",
            6 "0006_per_user_reviews" "per_user_reviews", 7 "0007_start_probe" "start_probe",
            8 "0008_spent_jtis" "spent_jtis", 9 "0009_key_rotation" "key_rotation",
            10 "0010_directory" "directory", 11 "0011_upstream_logins" "upstream_logins",
            12 "0012_registry" "registry", 13 "0013_reapproval" "reapproval",
            14 "0014_lifecycle" "lifecycle", 15 "0015_notifications" "notifications",
            16 "0016_audit_streams" "audit_streams", 17 "0017_approval_lifetimes" "approval_lifetimes",
            18 "0018_kills" "kills", 19 "0019_agent_reviews" "agent_reviews",
            20 "0020_findings" "findings", 21 "0021_gate_epoch" "gate_epoch",
        ),
        Backend::Postgres => migrations!("postgres":
            1 "0001_initial" "initial", 2 "0002_admin" "admin", 3 "0003_list_indexes" "list_indexes",
            4 "0004_reviews" "reviews", 5 "0005_risk_rank" "risk_rank",
            6 "0006_per_user_reviews" "per_user_reviews", 7 "0007_start_probe" "start_probe",
            8 "0008_spent_jtis" "spent_jtis", 9 "0009_key_rotation" "key_rotation",
            10 "0010_directory" "directory", 11 "0011_upstream_logins" "upstream_logins",
            12 "0012_registry" "registry", 13 "0013_reapproval" "reapproval",
            14 "0014_lifecycle" "lifecycle", 15 "0015_notifications" "notifications",
            16 "0016_audit_streams" "audit_streams", 17 "0017_approval_lifetimes" "approval_lifetimes",
            18 "0018_kills" "kills", 19 "0019_agent_reviews" "agent_reviews",
            20 "0020_findings" "findings", 21 "0021_gate_epoch" "gate_epoch",
        ),
    };
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}
