//! PATCH (RFC 7644 §3.5.2) applied to a stored resource: `add`, `remove` and
//! `replace`, with or without a `path`, value filters (`emails[type eq
//! "work"].value`), extension URNs, and the shapes provisioning connectors
//! send: Entra ID's capitalised `op`s, `"False"` strings and filtered
//! `Add`/`Replace` that create the element they name; Okta's path-less
//! `replace` with an object; `remove` of `members` with a value list. The
//! result is normalised by the schema before it is stored.

use crate::{
    AttrPath, Filter, ResourceKind, ScimError, ScimType,
    schema::{Mutability, is_core},
};
use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOp {
    Add,
    Remove,
    Replace,
}

impl<'de> Deserialize<'de> for PatchOp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.to_ascii_lowercase().as_str() {
            "add" => Ok(PatchOp::Add),
            "remove" => Ok(PatchOp::Remove),
            "replace" => Ok(PatchOp::Replace),
            _ => Err(serde::de::Error::custom(format!(
                "`{s}` is not a PATCH op (add, remove, replace)"
            ))),
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Operation {
    pub op: PatchOp,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub value: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub struct PatchRequest {
    #[serde(default)]
    pub schemas: Vec<String>,
    #[serde(rename = "Operations", alias = "operations")]
    pub operations: Vec<Operation>,
}

impl PatchRequest {
    pub fn parse(body: &Value) -> Result<Self, ScimError> {
        let p: PatchRequest = serde_json::from_value(body.clone()).map_err(|e| {
            ScimError::bad(ScimType::InvalidSyntax, format!("not a PATCH request: {e}"))
        })?;
        if !p.schemas.iter().any(|s| s == crate::PATCH_OP) {
            return Err(ScimError::bad(
                ScimType::InvalidSyntax,
                format!("a PATCH request names the schema {}", crate::PATCH_OP),
            ));
        }
        if p.operations.len() > crate::MAX_OPERATIONS {
            return Err(ScimError::bad(
                ScimType::TooMany,
                format!("at most {} operations per PATCH", crate::MAX_OPERATIONS),
            ));
        }
        Ok(p)
    }
}

/// A parsed PATCH path: `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`.
struct Target {
    uri: Option<String>,
    attr: String,
    filter: Option<Filter>,
    sub: Option<String>,
}

fn parse_target(path: &str) -> Result<Target, ScimError> {
    let bad = |d: String| ScimError::bad(ScimType::InvalidPath, d);
    let path = path.trim();
    if let Some(open) = path.find('[') {
        let close = path
            .rfind(']')
            .filter(|c| *c > open)
            .ok_or_else(|| bad(format!("`{path}`: `[` is not closed")))?;
        let head = AttrPath::parse(&path[..open])?;
        if head.sub.is_some() {
            return Err(bad(format!(
                "`{path}`: a filter follows an attribute, not a sub-attribute"
            )));
        }
        let filter = Filter::parse(&path[open + 1..close])?;
        let tail = &path[close + 1..];
        let sub = match tail.strip_prefix('.') {
            Some(s) if !s.is_empty() => Some(s.to_owned()),
            None if tail.is_empty() => None,
            _ => return Err(bad(format!("`{path}`: unexpected `{tail}`"))),
        };
        return Ok(Target {
            uri: head.uri,
            attr: head.attr,
            filter: Some(filter),
            sub,
        });
    }
    let p = AttrPath::parse(path)?;
    Ok(Target {
        uri: p.uri,
        attr: p.attr,
        filter: None,
        sub: p.sub,
    })
}

/// Applies `ops` to `resource` (as stored) and returns the normalised result.
/// An operation on a read-only or immutable attribute, a path not declared by
/// the schema, or a `remove` without a path is refused with the RFC's error;
/// nothing is applied unless every operation applies.
pub fn apply_patch(
    kind: ResourceKind,
    resource: &Value,
    req: &PatchRequest,
) -> Result<Value, ScimError> {
    let mut r = resource.clone();
    if !r.is_object() {
        r = Value::Object(Map::new());
    }
    for op in &req.operations {
        apply_one(kind, &mut r, op)?;
    }
    kind.normalise(&r)
}

fn apply_one(kind: ResourceKind, r: &mut Value, op: &Operation) -> Result<(), ScimError> {
    let Some(path) = op.path.as_deref().filter(|p| !p.trim().is_empty()) else {
        // No path: the value is an object of attributes (Okta, Entra for `active`).
        if op.op == PatchOp::Remove {
            return Err(ScimError::bad(ScimType::NoTarget, "remove needs a path"));
        }
        let Some(Value::Object(fields)) = &op.value else {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                "without a path, the value is an object of attributes",
            ));
        };
        for (k, v) in fields {
            if let (Some(ext), Value::Object(ext_fields)) = (split_ext(kind, k), v) {
                // `{"urn:…:enterprise:2.0:User": {"department": "x"}}`
                for (ek, ev) in ext_fields {
                    apply_one(
                        kind,
                        r,
                        &Operation {
                            op: op.op,
                            path: Some(format!("{ext}:{ek}")),
                            value: Some(ev.clone()),
                        },
                    )?;
                }
                continue;
            }
            if is_envelope(k) {
                continue;
            }
            apply_one(
                kind,
                r,
                &Operation {
                    op: op.op,
                    path: Some(k.clone()),
                    value: Some(v.clone()),
                },
            )?;
        }
        return Ok(());
    };
    // A path that is the extension's URN itself: its attributes as an object.
    if let Some(ext) = split_ext(kind, path) {
        let value = op.value.clone().unwrap_or(Value::Null);
        if op.op == PatchOp::Remove {
            remove_key(r, &ext);
            return Ok(());
        }
        let Value::Object(fields) = value else {
            return Err(ScimError::bad(
                ScimType::InvalidValue,
                format!("`{ext}` takes an object"),
            ));
        };
        for (k, v) in fields.into_iter().filter(|(k, _)| !is_envelope(k)) {
            apply_one(
                kind,
                r,
                &Operation {
                    op: op.op,
                    path: Some(format!("{ext}:{k}")),
                    value: Some(v),
                },
            )?;
        }
        return Ok(());
    }
    let t = parse_target(path)?;
    let ext_uri = t.uri.as_deref().filter(|u| !is_core(u));
    let attr = kind.attr(t.uri.as_deref(), &t.attr).ok_or_else(|| {
        ScimError::bad(
            ScimType::InvalidPath,
            format!("`{}` is not an attribute of a {}", t.attr, kind.name()),
        )
    })?;
    if attr.mutability == Mutability::ReadOnly {
        return Err(ScimError::bad(
            ScimType::Mutability,
            format!("`{}` is read-only", attr.name),
        ));
    }
    if let Some(sub) = &t.sub
        && !attr.sub.iter().any(|a| a.name.eq_ignore_ascii_case(sub))
    {
        return Err(ScimError::bad(
            ScimType::InvalidPath,
            format!("`{sub}` is not a sub-attribute of `{}`", attr.name),
        ));
    }
    let container = container_mut(r, ext_uri);
    let key = attr.name.to_owned();
    let existing_key = container
        .keys()
        .find(|k| k.eq_ignore_ascii_case(&key))
        .cloned();
    if let Some(k) = &existing_key
        && k != &key
    {
        // Keep one spelling of the attribute.
        if let Some(v) = container.remove(k) {
            container.insert(key.clone(), v);
        }
    }
    let value = op.value.clone();
    match (&t.filter, &t.sub) {
        (None, None) => match op.op {
            PatchOp::Remove => {
                match (attr.multi, value) {
                    // `members` remove with a list: drop those values only.
                    (true, Some(v)) if !v.is_null() => {
                        let drop: Vec<Value> = as_list(v)
                            .into_iter()
                            .filter_map(|i| crate::get_ci(&i, "value").cloned().or(Some(i)))
                            .collect();
                        if let Some(Value::Array(items)) = container.get_mut(&key) {
                            items.retain(|i| {
                                let v = crate::get_ci(i, "value").unwrap_or(i);
                                !drop.iter().any(|d| same(d, v))
                            });
                        }
                    }
                    _ => {
                        container.remove(&key);
                    }
                }
            }
            PatchOp::Add if attr.multi => {
                let v = value.ok_or_else(no_value)?;
                let entry = container.entry(key).or_insert_with(|| Value::Array(vec![]));
                if !entry.is_array() {
                    *entry = Value::Array(vec![entry.clone()]);
                }
                let items = entry.as_array_mut().expect("made an array above");
                for new in as_list(v) {
                    // Adding a value already there changes nothing (RFC 7644 §3.5.2.1).
                    let nv = crate::get_ci(&new, "value").cloned();
                    let dup = items.iter().any(|i| match &nv {
                        Some(nv) => crate::get_ci(i, "value").is_some_and(|x| same(x, nv)),
                        None => i == &new,
                    });
                    if !dup {
                        items.push(new);
                    }
                }
            }
            PatchOp::Add if attr.sub.is_empty() => {
                container.insert(key, value.ok_or_else(no_value)?);
            }
            PatchOp::Add => {
                // A single complex attribute: merge the given sub-attributes.
                let v = value.ok_or_else(no_value)?;
                match (container.get_mut(&key), v) {
                    (Some(Value::Object(have)), Value::Object(new)) => {
                        for (k, v) in new {
                            have.insert(k, v);
                        }
                    }
                    (_, v) => {
                        container.insert(key, v);
                    }
                }
            }
            PatchOp::Replace => {
                container.insert(key, value.ok_or_else(no_value)?);
            }
        },
        (None, Some(sub)) => {
            let sub = canonical_sub(attr, sub);
            match op.op {
                PatchOp::Remove => match container.get_mut(&key) {
                    Some(Value::Object(o)) => {
                        remove_key_map(o, &sub);
                    }
                    Some(Value::Array(items)) => {
                        for i in items.iter_mut().filter_map(Value::as_object_mut) {
                            remove_key_map(i, &sub);
                        }
                    }
                    _ => {}
                },
                PatchOp::Add | PatchOp::Replace => {
                    let v = value.ok_or_else(no_value)?;
                    match container
                        .entry(key)
                        .or_insert_with(|| Value::Object(Map::new()))
                    {
                        Value::Object(o) => {
                            remove_key_map(o, &sub);
                            o.insert(sub, v);
                        }
                        Value::Array(items) => {
                            for i in items.iter_mut().filter_map(Value::as_object_mut) {
                                remove_key_map(i, &sub);
                                i.insert(sub.clone(), v.clone());
                            }
                        }
                        other => *other = Value::Object(Map::from_iter([(sub, v)])),
                    }
                }
            }
        }
        (Some(filter), sub) => {
            let sub = sub.as_ref().map(|s| canonical_sub(attr, s));
            let entry = container.entry(key).or_insert_with(|| Value::Array(vec![]));
            if !entry.is_array() {
                *entry = Value::Array(vec![entry.clone()]);
            }
            let items = entry.as_array_mut().expect("made an array above");
            let matched: Vec<usize> = items
                .iter()
                .enumerate()
                .filter(|(_, i)| filter.matches(i))
                .map(|(n, _)| n)
                .collect();
            match op.op {
                PatchOp::Remove => {
                    if let Some(sub) = &sub {
                        for n in matched {
                            if let Some(o) = items[n].as_object_mut() {
                                remove_key_map(o, sub);
                            }
                        }
                    } else {
                        let mut n = 0;
                        items.retain(|_| {
                            let keep = !matched.contains(&n);
                            n += 1;
                            keep
                        });
                    }
                }
                PatchOp::Add | PatchOp::Replace => {
                    let v = value.ok_or_else(no_value)?;
                    if matched.is_empty() {
                        // Entra: `emails[type eq "work"].value` on a person with
                        // no work email creates it from the filter's equalities.
                        let mut new = equalities(filter);
                        match &sub {
                            Some(sub) => {
                                new.insert(sub.clone(), v.clone());
                            }
                            None => match &v {
                                Value::Object(o) => new.extend(o.clone()),
                                _ => {
                                    return Err(ScimError::bad(
                                        ScimType::InvalidValue,
                                        "a filtered path without a sub-attribute takes an object",
                                    ));
                                }
                            },
                        }
                        items.push(Value::Object(new));
                    }
                    for n in matched {
                        match (&sub, &v) {
                            (Some(sub), v) => {
                                if let Some(o) = items[n].as_object_mut() {
                                    remove_key_map(o, sub);
                                    o.insert(sub.clone(), v.clone());
                                }
                            }
                            (None, Value::Object(fields)) => {
                                if let Some(o) = items[n].as_object_mut() {
                                    if op.op == PatchOp::Replace {
                                        o.clear();
                                    }
                                    o.extend(fields.clone());
                                }
                            }
                            (None, _) => {
                                return Err(ScimError::bad(
                                    ScimType::InvalidValue,
                                    "a filtered path without a sub-attribute takes an object",
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// `schemas`, `id` and `meta`: carried in a value object, never patched.
fn is_envelope(k: &str) -> bool {
    ["schemas", "id", "meta"]
        .iter()
        .any(|e| k.eq_ignore_ascii_case(e))
}

fn no_value() -> ScimError {
    ScimError::bad(ScimType::InvalidValue, "add and replace need a value")
}

/// `[{"value":"a"}]`, `{"value":"a"}` and `"a"` alike as a list.
fn as_list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        v => vec![v],
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x == y,
        _ => a == b,
    }
}

/// The sub-attribute's declared spelling.
fn canonical_sub(attr: &crate::Attr, sub: &str) -> String {
    attr.sub
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(sub))
        .map(|a| a.name.to_owned())
        .unwrap_or_else(|| sub.to_owned())
}

/// `type eq "work" and primary eq true` → `{"type":"work","primary":true}`.
fn equalities(f: &Filter) -> Map<String, Value> {
    let mut out = Map::new();
    match f {
        Filter::Compare {
            path,
            op: crate::CompareOp::Eq,
            value,
        } if path.sub.is_none() => {
            out.insert(path.attr.clone(), value.clone());
        }
        Filter::And(a, b) => {
            out.extend(equalities(a));
            out.extend(equalities(b));
        }
        _ => {}
    }
    out
}

/// The extension URN `path` names, when it names one of `kind`'s extensions whole.
fn split_ext(kind: ResourceKind, path: &str) -> Option<String> {
    kind.extensions()
        .iter()
        .find(|e| e.id.eq_ignore_ascii_case(path.trim()))
        .map(|e| e.id.to_owned())
}

fn container_mut<'a>(r: &'a mut Value, ext: Option<&str>) -> &'a mut Map<String, Value> {
    let root = r.as_object_mut().expect("the resource is an object");
    let Some(uri) = ext else {
        return root;
    };
    let key = root
        .keys()
        .find(|k| k.eq_ignore_ascii_case(uri))
        .cloned()
        .unwrap_or_else(|| uri.to_owned());
    let slot = root.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut().expect("made an object above")
}

fn remove_key(r: &mut Value, key: &str) {
    if let Some(o) = r.as_object_mut() {
        remove_key_map(o, key);
    }
}

fn remove_key_map(o: &mut Map<String, Value>, key: &str) {
    let found: Vec<String> = o
        .keys()
        .filter(|k| k.eq_ignore_ascii_case(key))
        .cloned()
        .collect();
    for k in found {
        o.remove(&k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ENTERPRISE_USER, USER_SCHEMA};
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [USER_SCHEMA], "userName": "alice", "active": true,
            "emails": [{"value": "alice@work.example", "type": "work", "primary": true}],
            "name": {"givenName": "Alice"},
        })
    }

    fn patch(r: &Value, ops: Value) -> Result<Value, ScimError> {
        let req = PatchRequest::parse(&json!({"schemas": [crate::PATCH_OP], "Operations": ops}))?;
        apply_patch(
            if r.get("displayName").is_some() && r.get("userName").is_none() {
                ResourceKind::Group
            } else {
                ResourceKind::User
            },
            r,
            &req,
        )
    }

    #[test]
    fn entra_deactivates_with_a_capitalised_op_and_a_string() {
        let r = patch(
            &user(),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .unwrap();
        assert_eq!(r["active"], json!(false));
        let r = patch(
            &user(),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .unwrap();
        assert_eq!(r["active"], json!(false), "Okta's path-less replace");
    }

    #[test]
    fn entra_filtered_email_paths_update_or_create_the_element() {
        let r = patch(
            &user(),
            json!([{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@work.example"}]),
        )
        .unwrap();
        assert_eq!(
            r["emails"],
            json!([{"value": "new@work.example", "type": "work", "primary": true}])
        );
        let r = patch(
            &user(),
            json!([{"op": "Add", "path": "emails[type eq \"home\"].value", "value": "a@home.example"}]),
        )
        .unwrap();
        assert_eq!(r["emails"].as_array().unwrap().len(), 2);
        assert_eq!(
            r["emails"][1],
            json!({"type": "home", "value": "a@home.example"})
        );
        let r = patch(
            &r,
            json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
        )
        .unwrap();
        assert_eq!(r["emails"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn sub_attributes_and_extensions() {
        let r = patch(
            &user(),
            json!([
                {"op": "replace", "path": "name.familyName", "value": "Liddell"},
                {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "bob-id"}},
                {"op": "add", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCenter": "42"}}},
            ]),
        )
        .unwrap();
        assert_eq!(
            r["name"],
            json!({"givenName": "Alice", "familyName": "Liddell"})
        );
        assert_eq!(
            r[ENTERPRISE_USER],
            json!({"department": "R&D", "manager": {"value": "bob-id"}, "costCenter": "42"})
        );
        assert_eq!(r["schemas"], json!([USER_SCHEMA, ENTERPRISE_USER]));
        let r = patch(&r, json!([{"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}])).unwrap();
        assert_eq!(r["name"], json!({"familyName": "Liddell"}));
        assert!(r[ENTERPRISE_USER].get("manager").is_none());
    }

    #[test]
    fn group_members_add_and_remove_in_every_shape_connectors_send() {
        let g = json!({"schemas": [crate::GROUP_SCHEMA], "displayName": "eng", "members": [{"value": "a"}]});
        let g = patch(
            &g,
            json!([{"op": "add", "path": "members", "value": [{"value": "b"}, {"value": "a"}]}]),
        )
        .unwrap();
        assert_eq!(
            g["members"],
            json!([{"value": "a"}, {"value": "b"}]),
            "adding a member twice keeps one"
        );
        let g = patch(
            &g,
            json!([{"op": "remove", "path": "members[value eq \"a\"]"}]),
        )
        .unwrap();
        assert_eq!(g["members"], json!([{"value": "b"}]));
        let g = patch(&g, json!([{"op": "Add", "path": "members", "value": [{"value": "c"}]}, {"op": "Remove", "path": "members", "value": [{"value": "b"}]}])).unwrap();
        assert_eq!(
            g["members"],
            json!([{"value": "c"}]),
            "Entra's remove with a value list"
        );
        let g = patch(
            &g,
            json!([{"op": "replace", "value": {"id": "ignored", "displayName": "engineering"}}]),
        )
        .unwrap();
        assert_eq!(g["displayName"], "engineering");
        let g = patch(
            &g,
            json!([{"op": "replace", "path": "members", "value": []}]),
        )
        .unwrap();
        assert!(
            g.get("members").is_none(),
            "replace with nothing empties the group"
        );
        let g = patch(&g, json!([{"op": "add", "path": "members", "value": [{"value": "d"}]}, {"op": "remove", "path": "members"}])).unwrap();
        assert!(
            g.get("members").is_none(),
            "remove without a value removes all"
        );
    }

    #[test]
    fn refusals_name_the_rfc_error_and_apply_nothing() {
        let cases = [
            (json!([{"op": "remove"}]), ScimType::NoTarget),
            (
                json!([{"op": "replace", "path": "groups", "value": []}]),
                ScimType::Mutability,
            ),
            (
                json!([{"op": "replace", "path": "shoeSize", "value": 1}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "replace", "path": "name.shoeSize", "value": 1}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"op": "replace", "path": "emails[type eq]", "value": 1}]),
                ScimType::InvalidFilter,
            ),
            (
                json!([{"op": "replace", "path": "active", "value": "perhaps"}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "replace", "path": "userName"}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "replace", "value": "x"}]),
                ScimType::InvalidValue,
            ),
            (
                json!([{"op": "replace", "path": "active", "value": false}, {"op": "replace", "path": "userName", "value": null}]),
                ScimType::InvalidValue,
            ),
        ];
        for (ops, want) in cases {
            let e = patch(&user(), ops.clone()).unwrap_err();
            assert_eq!(e.scim_type, Some(want), "{ops}: {}", e.detail);
        }
        let e = PatchRequest::parse(
            &json!({"schemas": [crate::PATCH_OP], "Operations": [{"op": "move"}]}),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let e = PatchRequest::parse(&json!({"Operations": []})).unwrap_err();
        assert!(e.detail.contains("PatchOp"));
    }
}
