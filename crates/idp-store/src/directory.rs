//! `people`, `directory_groups`, `group_members`: who the policy gate knows and
//! which groups they are in. Written by SCIM provisioning, upstream sign-in and
//! the first-start seed from the configuration file; read by the gate on every
//! exchange ([`Db::directory_entry`]) and by the SCIM and admin APIs.
//!
//! Usernames and group names are unique case-insensitively (`username_key`,
//! `name_key`: lower-cased). Every write bumps `version` (the SCIM ETag).

use crate::{Backend, Conn, Db, DbResult, from_json, json, sql, sql::sql_owned};
use serde_json::Value;
use sqlx::{Row, any::AnyRow};

/// Where a person or group came from (the admin API's enum, stored as text).
pub use admin_api::DirectorySource as Source;

fn source_str(s: Source) -> &'static str {
    match s {
        Source::Config => "config",
        Source::Scim => "scim",
        Source::Upstream => "upstream",
    }
}

fn parse_source(s: &str) -> DbResult<Source> {
    Ok(match s {
        "config" => Source::Config,
        "scim" => Source::Scim,
        "upstream" => Source::Upstream,
        other => {
            return Err(sqlx::Error::Decode(
                format!("unknown directory source `{other}`").into(),
            ));
        }
    })
}

/// The case-insensitive key of a username or group name.
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

#[derive(Debug, Clone, PartialEq)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: String,
    pub username: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub source: Source,
    /// The SCIM resource as last written (no id, meta or groups).
    pub resource: Value,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub groups: Vec<GroupRef>,
}

impl Person {
    /// The primary (else first) email of the stored resource.
    pub fn email(&self) -> Option<String> {
        resource_email(&self.resource)
    }

    /// The name to show: `displayName`, else `name.formatted`.
    pub fn display_name(&self) -> Option<String> {
        resource_display_name(&self.resource)
    }
}

fn resource_email(resource: &Value) -> Option<String> {
    let items = resource.get("emails")?.as_array()?;
    items
        .iter()
        .find(|i| i.get("primary") == Some(&Value::Bool(true)))
        .or(items.first())?
        .get("value")?
        .as_str()
        .map(str::to_owned)
}

fn resource_display_name(resource: &Value) -> Option<String> {
    resource
        .get("displayName")
        .or_else(|| resource.get("name").and_then(|n| n.get("formatted")))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[derive(Debug, Clone, PartialEq)]
pub struct MemberRef {
    pub id: String,
    pub username: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub source: Source,
    /// The SCIM resource as last written (no id, meta or members).
    pub resource: Value,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Empty when the caller asked not to load them.
    pub members: Vec<MemberRef>,
}

/// What the policy gate needs about the person behind a subject token.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectoryEntry {
    pub username: String,
    pub active: bool,
    pub groups: Vec<String>,
    pub email: Option<String>,
    pub name: Option<String>,
}

impl DirectoryEntry {
    /// The entry of a person whose stored SCIM resource is `resource`.
    pub fn from_resource(
        username: String,
        active: bool,
        resource: &Value,
        groups: Vec<String>,
    ) -> DirectoryEntry {
        DirectoryEntry {
            email: resource_email(resource),
            name: resource_display_name(resource),
            username,
            active,
            groups,
        }
    }
}

/// A person as written.
pub struct PersonWrite<'a> {
    pub username: &'a str,
    pub external_id: Option<&'a str>,
    pub active: bool,
    pub source: Source,
    pub resource: &'a Value,
}

/// A group as written.
pub struct GroupWrite<'a> {
    pub display_name: &'a str,
    pub external_id: Option<&'a str>,
    pub source: Source,
    pub resource: &'a Value,
}

/// How a list is narrowed: by an indexed attribute, or not at all.
#[derive(Debug, Clone)]
pub enum Lookup {
    All,
    Id(String),
    /// A username or group name, compared case-insensitively.
    Name(String),
    ExternalId(String),
}

fn person(r: &AnyRow) -> DbResult<Person> {
    Ok(Person {
        id: r.get("id"),
        username: r.get("username"),
        external_id: r.get("external_id"),
        active: r.get::<i64, _>("active") != 0,
        source: parse_source(&r.get::<String, _>("source"))?,
        resource: from_json(&r.get::<String, _>("resource"))?,
        version: r.get("version"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        groups: vec![],
    })
}

fn group(r: &AnyRow) -> DbResult<Group> {
    Ok(Group {
        id: r.get("id"),
        display_name: r.get("display_name"),
        external_id: r.get("external_id"),
        source: parse_source(&r.get::<String, _>("source"))?,
        resource: from_json(&r.get::<String, _>("resource"))?,
        version: r.get("version"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
        members: vec![],
    })
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Fills each person's groups (one query for the page).
async fn with_groups(c: &mut Conn, mut people: Vec<Person>) -> DbResult<Vec<Person>> {
    if people.is_empty() {
        return Ok(people);
    }
    let q = format!(
        "SELECT gm.person_id, g.id, g.display_name FROM group_members gm JOIN directory_groups g ON g.id = gm.group_id WHERE gm.person_id IN ({}) ORDER BY g.display_name",
        placeholders(people.len())
    );
    let mut query = sqlx::query(sql_owned(Backend::of(c), q));
    for p in &people {
        query = query.bind(p.id.clone());
    }
    let rows = query.fetch_all(&mut *c).await?;
    for r in rows {
        let pid: String = r.get(0);
        if let Some(p) = people.iter_mut().find(|p| p.id == pid) {
            p.groups.push(GroupRef {
                id: r.get(1),
                name: r.get(2),
            });
        }
    }
    Ok(people)
}

/// The two directory tables a [`Lookup`] narrows.
#[derive(Debug, Clone, Copy)]
enum Table {
    People,
    Groups,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::People => "people",
            Table::Groups => "directory_groups",
        }
    }
    /// The lower-cased name column (the unique, ordered one).
    fn key(self) -> &'static str {
        match self {
            Table::People => "username_key",
            Table::Groups => "name_key",
        }
    }
    /// The column of `group_members` that points at this table's rows.
    fn member_column(self) -> &'static str {
        match self {
            Table::People => "person_id",
            Table::Groups => "group_id",
        }
    }
}

fn lookup_clause(l: &Lookup, t: Table) -> (String, Option<String>) {
    match l {
        Lookup::All => (String::new(), None),
        Lookup::Id(v) => (" WHERE id = ?".into(), Some(v.clone())),
        Lookup::Name(v) => (format!(" WHERE {} = ?", t.key()), Some(name_key(v))),
        Lookup::ExternalId(v) => (" WHERE external_id = ?".into(), Some(v.clone())),
    }
}

/// How many rows of `t` match.
async fn count_matching(c: &mut Conn, t: Table, lookup: &Lookup) -> DbResult<usize> {
    let (clause, bind) = lookup_clause(lookup, t);
    let mut count = sqlx::query_scalar::<_, i64>(sql_owned(
        Backend::of(c),
        format!("SELECT COUNT(*) FROM {}{clause}", t.name()),
    ));
    if let Some(v) = bind {
        count = count.bind(v);
    }
    Ok(count.fetch_one(&mut *c).await? as usize)
}

/// A page of `t`'s matching rows, in name order.
async fn select_rows(
    c: &mut Conn,
    t: Table,
    lookup: &Lookup,
    offset: usize,
    limit: usize,
) -> DbResult<Vec<AnyRow>> {
    let (clause, bind) = lookup_clause(lookup, t);
    let mut query = sqlx::query(sql_owned(
        Backend::of(c),
        format!(
            "SELECT * FROM {}{clause} ORDER BY {} LIMIT ? OFFSET ?",
            t.name(),
            t.key()
        ),
    ));
    if let Some(v) = bind {
        query = query.bind(v);
    }
    query
        .bind(limit as i64)
        .bind(offset as i64)
        .fetch_all(&mut *c)
        .await
}

/// Deletes a row of `t` and the memberships pointing at it.
async fn delete_with_memberships(tx: &mut Conn, t: Table, id: &str) -> DbResult<bool> {
    let b = Backend::of(tx);
    sqlx::query(sql_owned(
        b,
        format!("DELETE FROM group_members WHERE {} = ?", t.member_column()),
    ))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let n = sqlx::query(sql_owned(
        b,
        format!("DELETE FROM {} WHERE id = ?", t.name()),
    ))
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// One page of people (ordered by username) and how many match in all.
pub async fn find_people(
    c: &mut Conn,
    lookup: &Lookup,
    offset: usize,
    limit: usize,
) -> DbResult<(Vec<Person>, usize)> {
    let total = count_matching(c, Table::People, lookup).await?;
    Ok((select_people(c, lookup, offset, limit).await?, total))
}

/// People matching `lookup`, with their groups, without counting them.
async fn select_people(
    c: &mut Conn,
    lookup: &Lookup,
    offset: usize,
    limit: usize,
) -> DbResult<Vec<Person>> {
    let rows = select_rows(c, Table::People, lookup, offset, limit).await?;
    let people = rows.iter().map(person).collect::<DbResult<Vec<_>>>()?;
    with_groups(c, people).await
}

pub async fn get_person(c: &mut Conn, id: &str) -> DbResult<Option<Person>> {
    Ok(select_people(c, &Lookup::Id(id.to_owned()), 0, 1)
        .await?
        .pop())
}

pub async fn person_by_username(c: &mut Conn, username: &str) -> DbResult<Option<Person>> {
    Ok(select_people(c, &Lookup::Name(username.to_owned()), 0, 1)
        .await?
        .pop())
}

/// The id of the person holding `username` (any case), if any.
pub async fn person_id_by_username(c: &mut Conn, username: &str) -> DbResult<Option<String>> {
    sqlx::query_scalar(sql(
        Backend::of(c),
        "SELECT id FROM people WHERE username_key = ?",
    ))
    .bind(name_key(username))
    .fetch_optional(&mut *c)
    .await
}

pub async fn insert_person(tx: &mut Conn, id: &str, p: &PersonWrite<'_>, now: i64) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO people (id, username, username_key, external_id, active, source, resource, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
    ))
    .bind(id)
    .bind(p.username)
    .bind(name_key(p.username))
    .bind(p.external_id)
    .bind(p.active as i64)
    .bind(source_str(p.source))
    .bind(json(p.resource))
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Rewrites a person (the source stays where it was); false when there is none.
pub async fn update_person(
    tx: &mut Conn,
    id: &str,
    p: &PersonWrite<'_>,
    now: i64,
) -> DbResult<bool> {
    let n = sqlx::query(sql(
        Backend::of(tx),
        "UPDATE people SET username = ?, username_key = ?, external_id = ?, active = ?, resource = ?, version = version + 1, updated_at = ? WHERE id = ?",
    ))
    .bind(p.username)
    .bind(name_key(p.username))
    .bind(p.external_id)
    .bind(p.active as i64)
    .bind(json(p.resource))
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Deletes a person and their memberships; false when there is none.
pub async fn delete_person(tx: &mut Conn, id: &str) -> DbResult<bool> {
    delete_with_memberships(tx, Table::People, id).await
}

/// Fills each group's members (one query per group).
async fn with_members(c: &mut Conn, mut groups: Vec<Group>) -> DbResult<Vec<Group>> {
    let b = Backend::of(c);
    for g in &mut groups {
        g.members = sqlx::query(sql(
            b,
            "SELECT p.id, p.username FROM group_members gm JOIN people p ON p.id = gm.person_id WHERE gm.group_id = ? ORDER BY p.username_key",
        ))
        .bind(&g.id)
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(|r| MemberRef {
            id: r.get(0),
            username: r.get(1),
        })
        .collect();
    }
    Ok(groups)
}

/// One page of groups (ordered by name), with their members when asked.
pub async fn find_groups(
    c: &mut Conn,
    lookup: &Lookup,
    offset: usize,
    limit: usize,
    members: bool,
) -> DbResult<(Vec<Group>, usize)> {
    let total = count_matching(c, Table::Groups, lookup).await?;
    let rows = select_rows(c, Table::Groups, lookup, offset, limit).await?;
    let groups = rows.iter().map(group).collect::<DbResult<Vec<_>>>()?;
    let groups = if members {
        with_members(c, groups).await?
    } else {
        groups
    };
    Ok((groups, total))
}

pub async fn get_group(c: &mut Conn, id: &str) -> DbResult<Option<Group>> {
    let (mut found, _) = find_groups(c, &Lookup::Id(id.to_owned()), 0, 1, true).await?;
    Ok(found.pop())
}

pub async fn group_id_by_name(c: &mut Conn, name: &str) -> DbResult<Option<String>> {
    sqlx::query_scalar(sql(
        Backend::of(c),
        "SELECT id FROM directory_groups WHERE name_key = ?",
    ))
    .bind(name_key(name))
    .fetch_optional(&mut *c)
    .await
}

pub async fn insert_group(tx: &mut Conn, id: &str, g: &GroupWrite<'_>, now: i64) -> DbResult<()> {
    sqlx::query(sql(
        Backend::of(tx),
        "INSERT INTO directory_groups (id, display_name, name_key, external_id, source, resource, version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
    ))
    .bind(id)
    .bind(g.display_name)
    .bind(name_key(g.display_name))
    .bind(g.external_id)
    .bind(source_str(g.source))
    .bind(json(g.resource))
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub async fn update_group(tx: &mut Conn, id: &str, g: &GroupWrite<'_>, now: i64) -> DbResult<bool> {
    let n = sqlx::query(sql(
        Backend::of(tx),
        "UPDATE directory_groups SET display_name = ?, name_key = ?, external_id = ?, resource = ?, version = version + 1, updated_at = ? WHERE id = ?",
    ))
    .bind(g.display_name)
    .bind(name_key(g.display_name))
    .bind(g.external_id)
    .bind(json(g.resource))
    .bind(now)
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

pub async fn delete_group(tx: &mut Conn, id: &str) -> DbResult<bool> {
    delete_with_memberships(tx, Table::Groups, id).await
}

/// Which of `ids` are people (for validating a member list).
pub async fn existing_people(tx: &mut Conn, ids: &[String]) -> DbResult<Vec<String>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let mut query = sqlx::query_scalar(sql_owned(
        Backend::of(tx),
        format!(
            "SELECT id FROM people WHERE id IN ({})",
            placeholders(ids.len())
        ),
    ));
    for id in ids {
        query = query.bind(id.clone());
    }
    query.fetch_all(&mut *tx).await
}

/// Makes `members` the group's members; returns (added, removed) person ids.
pub async fn set_members(
    tx: &mut Conn,
    group_id: &str,
    members: &[String],
) -> DbResult<(Vec<String>, Vec<String>)> {
    let b = Backend::of(tx);
    let have: Vec<String> = sqlx::query_scalar(sql(
        b,
        "SELECT person_id FROM group_members WHERE group_id = ?",
    ))
    .bind(group_id)
    .fetch_all(&mut *tx)
    .await?;
    let added: Vec<String> = members
        .iter()
        .filter(|m| !have.contains(m))
        .cloned()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let removed: Vec<String> = have
        .iter()
        .filter(|h| !members.contains(h))
        .cloned()
        .collect();
    for p in &added {
        sqlx::query(sql(
            b,
            "INSERT INTO group_members (group_id, person_id) VALUES (?, ?)",
        ))
        .bind(group_id)
        .bind(p)
        .execute(&mut *tx)
        .await?;
    }
    for p in &removed {
        sqlx::query(sql(
            b,
            "DELETE FROM group_members WHERE group_id = ? AND person_id = ?",
        ))
        .bind(group_id)
        .bind(p)
        .execute(&mut *tx)
        .await?;
    }
    Ok((added, removed))
}

/// Puts person `person_id` in group `group_id` (`true`) or takes them out.
/// Returns whether anything changed.
pub async fn set_membership(
    tx: &mut Conn,
    group_id: &str,
    person_id: &str,
    member: bool,
) -> DbResult<bool> {
    let text = if member {
        "INSERT INTO group_members (group_id, person_id) VALUES (?, ?) ON CONFLICT DO NOTHING"
    } else {
        "DELETE FROM group_members WHERE group_id = ? AND person_id = ?"
    };
    Ok(sqlx::query(sql(Backend::of(tx), text))
        .bind(group_id)
        .bind(person_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1)
}

/// A person the configuration file names, for the first-start seed.
pub struct SeedPerson<'a> {
    pub username: &'a str,
    pub groups: &'a [String],
    pub resource: Value,
}

/// Inserts the people (and their groups) the configuration names that the
/// directory does not hold yet; never changes one it holds (after the first
/// start the database is the truth). Returns how many people it added.
pub async fn seed(
    tx: &mut Conn,
    people: &[SeedPerson<'_>],
    new_id: &mut (dyn FnMut() -> String + Send),
    now: i64,
) -> DbResult<usize> {
    let mut added = 0;
    for p in people {
        if person_id_by_username(tx, p.username).await?.is_some() {
            continue;
        }
        let id = new_id();
        insert_person(
            tx,
            &id,
            &PersonWrite {
                username: p.username,
                external_id: None,
                active: true,
                source: Source::Config,
                resource: &p.resource,
            },
            now,
        )
        .await?;
        added += 1;
        for g in p.groups {
            let gid = match group_id_by_name(tx, g).await? {
                Some(gid) => gid,
                None => {
                    let gid = new_id();
                    let resource = serde_json::json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": g,
                    });
                    insert_group(
                        tx,
                        &gid,
                        &GroupWrite {
                            display_name: g,
                            external_id: None,
                            source: Source::Config,
                            resource: &resource,
                        },
                        now,
                    )
                    .await?;
                    gid
                }
            };
            sqlx::query(sql(
                Backend::of(tx),
                "INSERT INTO group_members (group_id, person_id) VALUES (?, ?)",
            ))
            .bind(&gid)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(added)
}

impl Db {
    /// The person behind `username` as the gate sees them: active or not, their
    /// groups, email and name. `None`: no such person.
    pub async fn directory_entry(&self, username: &str) -> DbResult<Option<DirectoryEntry>> {
        let mut c = self.acquire().await?;
        let Some(p) = person_by_username(&mut c, username).await? else {
            return Ok(None);
        };
        Ok(Some(DirectoryEntry::from_resource(
            p.username,
            p.active,
            &p.resource,
            p.groups.into_iter().map(|g| g.name).collect(),
        )))
    }

    /// Everyone, with their groups (the admin API's `/users`).
    pub async fn all_people(&self) -> DbResult<Vec<Person>> {
        let mut c = self.acquire().await?;
        select_people(&mut c, &Lookup::All, 0, i64::MAX as usize / 2).await
    }

    /// Every group, with its members (the admin API's `/groups`).
    pub async fn all_groups(&self) -> DbResult<Vec<Group>> {
        let mut c = self.acquire().await?;
        Ok(
            find_groups(&mut c, &Lookup::All, 0, i64::MAX as usize / 2, true)
                .await?
                .0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn person(resource: Value) -> Person {
        Person {
            id: "1".into(),
            username: "a".into(),
            external_id: None,
            active: true,
            source: Source::Scim,
            resource,
            version: 1,
            created_at: 0,
            updated_at: 0,
            groups: vec![],
        }
    }

    #[test]
    fn the_primary_email_wins_over_the_first_and_display_name_over_formatted() {
        let p = person(json!({
            "emails": [{"value": "a@x"}, {"value": "b@x", "primary": true}],
            "name": {"formatted": "A B"},
        }));
        assert_eq!(p.email().as_deref(), Some("b@x"));
        assert_eq!(p.display_name().as_deref(), Some("A B"));
        let p = person(json!({"emails": [{"value": "a@x"}], "displayName": "Ann"}));
        assert_eq!(p.email().as_deref(), Some("a@x"));
        assert_eq!(p.display_name().as_deref(), Some("Ann"));
        assert_eq!(person(json!({})).email(), None);
    }
}
