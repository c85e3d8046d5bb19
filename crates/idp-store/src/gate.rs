//! What the token exchange's policy gate reads about one exchange — the person
//! (with groups), whether the help desk blocked them, and the live connection
//! of (client, app) — in one statement, with the gate epoch it was read at. On
//! PostgreSQL another node may have revoked a moment ago: every write to these
//! tables moves the epoch (migration 21's triggers), and a view the IdP keeps
//! in memory stands only while the epoch has not moved — the exchange's audit
//! event commits on that condition (`AuditAppender::append_at_epoch`), and an
//! exchange whose view went stale is decided again on a fresh read. The read
//! runs on a connection held out of the pool (see `held`). On SQLite the IdP's
//! in-process cache answers instead and this is not used.
use crate::{
    Backend, Db, DbResult,
    connections::{Connection, ConnectionRow},
    directory::DirectoryEntry,
    from_json,
};
use sqlx::Row;

/// The gate epoch as a scalar subquery, in every statement that reads or
/// checks it (a macro, so that the literal statements can `concat!` it).
macro_rules! epoch_now {
    () => {
        "(SELECT epoch FROM gate_epoch)"
    };
}
pub(crate) use epoch_now;

/// The gate epoch alone.
const READ_EPOCH: &str = concat!("SELECT ", epoch_now!());

/// The one statement, around the backend's way to aggregate the person's
/// group names into one JSON array (NULL or `[]` when they have none).
macro_rules! gate_statement {
    ($groups:literal) => {
        concat!(
            "SELECT c.*, ",
            "p.username AS gate_username, p.active AS gate_active, p.resource AS gate_resource, ",
            "(SELECT ",
            $groups,
            " FROM group_members gm JOIN directory_groups g ON g.id = gm.group_id",
            " WHERE gm.person_id = p.id) AS gate_groups, ",
            "(SELECT COUNT(*) FROM user_blocks b WHERE b.username = p.username) AS gate_blocked, ",
            epoch_now!(),
            " AS gate_epoch ",
            "FROM (SELECT 1 AS one) one ",
            "LEFT JOIN people p ON p.username_key = ? ",
            "LEFT JOIN connections c ON c.client_id = ? AND c.resource_app = ? ",
            "AND c.status IN ('active', 'suspended')"
        )
    };
}

/// The gate's view of one exchange, read in one snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct GateView {
    /// The person holding the username (any case), if any.
    pub person: Option<DirectoryEntry>,
    /// Whether that person is blocked (false when there is no person).
    pub blocked: bool,
    /// The live (active or suspended) connection of (client, app), if any.
    pub connection: Option<Connection>,
    /// The gate epoch this view was read at: on PostgreSQL every write to
    /// what the gate reads moves it (migration 21's triggers), so a view kept
    /// in memory is still the truth exactly while the epoch has not moved (see
    /// [`crate::audit_writer::AuditAppender::append_at_epoch`]). Nothing moves
    /// it on SQLite, where this process is the only writer.
    pub epoch: i64,
}

impl Db {
    /// [`GateView`] of `username` and, when the audience named a known app,
    /// the (client, app) connection.
    pub async fn gate_view(
        &self,
        username: &str,
        client_id: &str,
        resource_app: Option<&str>,
    ) -> DbResult<GateView> {
        let statement = match self.backend() {
            Backend::Postgres => {
                gate_statement!("json_agg(g.display_name ORDER BY g.display_name)::text")
            }
            Backend::Sqlite => {
                gate_statement!("json_group_array(g.display_name ORDER BY g.display_name)")
            }
        };
        let key = crate::directory::name_key(username);
        let query = || {
            sqlx::query(crate::sql(self.backend(), statement))
                .bind(key.clone())
                .bind(client_id)
                .bind(resource_app.unwrap_or(""))
        };
        let r = self.fetch_one_held(query).await?;
        let person = match r.get::<Option<String>, _>("gate_username") {
            None => None,
            Some(username) => {
                let groups = r.get::<Option<String>, _>("gate_groups");
                Some(DirectoryEntry::from_resource(
                    username,
                    r.get::<i64, _>("gate_active") != 0,
                    &from_json(&r.get::<String, _>("gate_resource"))?,
                    match groups {
                        Some(g) => from_json(&g)?,
                        None => vec![],
                    },
                ))
            }
        };
        let connection = match r.get::<Option<String>, _>("id") {
            Some(_) => Some(ConnectionRow::decode(&r)?.connection),
            None => None,
        };
        Ok(GateView {
            blocked: person.is_some() && r.get::<i64, _>("gate_blocked") > 0,
            person,
            connection,
            epoch: r.get("gate_epoch"),
        })
    }

    /// The gate epoch now (see [`GateView::epoch`]), read on a held connection.
    pub async fn gate_epoch(&self) -> DbResult<i64> {
        let r = self.fetch_one_held(|| sqlx::query(READ_EPOCH)).await?;
        r.try_get(0)
    }
}

/// The gate epoch as `c` sees it.
pub(crate) async fn read_epoch(c: &mut crate::Conn) -> DbResult<i64> {
    sqlx::query_scalar(READ_EPOCH).fetch_one(&mut *c).await
}
