//! SCIM 2.0 as data, for the IdP's provisioning endpoint: the schemas Gatehouse
//! serves (declared once, rendered for `/Schemas` and used to normalise every
//! resource written), the filter language (RFC 7644 §3.4.2.2), attribute paths
//! and PATCH (§3.5.2, including the shapes Entra ID and Okta send), and the
//! error and list bodies. Nothing here does I/O: the IdP stores resources as the
//! JSON this crate produces and answers HTTP with the bodies it renders.

mod error;
mod filter;
mod patch;
mod schema;

pub use error::{ScimError, ScimType};
pub use filter::{AttrPath, CompareOp, Filter};
pub use patch::{PatchOp, PatchRequest, apply_patch};
pub use schema::{
    Attr, AttrType, ENTERPRISE_USER, GROUP, GROUP_SCHEMA, Mutability, ResourceKind, Schema, USER,
    USER_SCHEMA, discovery,
};

use serde_json::{Value, json};

pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// The media type of every SCIM body (RFC 7644 §3.1).
pub const CONTENT_TYPE: &str = "application/scim+json";
/// The most resources one list page holds (`count` is capped to it).
pub const MAX_PAGE: usize = 200;
/// The largest request body accepted, in bytes.
pub const MAX_BODY: usize = 256 * 1024;
/// The most operations one PATCH may carry.
pub const MAX_OPERATIONS: usize = 100;

/// A list response page (RFC 7644 §3.4.2): `start_index` is 1-based.
pub fn list_response(resources: Vec<Value>, total: usize, start_index: usize) -> Value {
    json!({
        "schemas": [LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    })
}

/// `startIndex` and `count` as given (RFC 7644 §3.4.2.4): a start below 1 is 1,
/// a negative count is 0, a count above [`MAX_PAGE`] (or none) is [`MAX_PAGE`].
pub fn page_bounds(start_index: Option<i64>, count: Option<i64>) -> (usize, usize) {
    let start = start_index.unwrap_or(1).max(1) as usize;
    let count = count.unwrap_or(MAX_PAGE as i64).clamp(0, MAX_PAGE as i64) as usize;
    (start, count)
}

/// The attribute of `resource` named `name`, case-insensitively (SCIM attribute
/// names are case-insensitive, RFC 7643 §2.1).
pub fn get_ci<'a>(resource: &'a Value, name: &str) -> Option<&'a Value> {
    resource
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_bounds_follow_rfc_7644() {
        assert_eq!(page_bounds(None, None), (1, MAX_PAGE));
        assert_eq!(page_bounds(Some(0), Some(-5)), (1, 0));
        assert_eq!(page_bounds(Some(11), Some(10_000)), (11, MAX_PAGE));
    }
}

/// Unix seconds as an RFC 3339 UTC timestamp (`meta.created`, `lastModified`).
pub fn rfc3339(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The weak ETag of a resource version (`W/"3"`), and the version an
/// `If-Match` value names (`*` matches any: `None`).
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The version `If-Match` requires: `Ok(None)` for `*`, an error for a value
/// that is not one of ours (it can never match).
pub fn if_match_version(value: &str) -> Result<Option<i64>, ScimError> {
    let v = value.trim();
    if v == "*" {
        return Ok(None);
    }
    v.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .map(Some)
        .map_err(|_| ScimError::stale())
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn rfc3339_dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(super::rfc3339(1_796_601_599), "2026-12-06T23:59:59Z");
        assert_eq!(super::if_match_version("W/\"7\"").unwrap(), Some(7));
        assert_eq!(super::if_match_version("*").unwrap(), None);
        assert_eq!(super::if_match_version("\"x\"").unwrap_err().status, 412);
    }
}

/// Applies `attributes` / `excludedAttributes` (RFC 7644 §3.9, comma-separated
/// attribute paths) to a rendered resource. `id` and `schemas` always stay.
pub fn project(resource: &mut Value, attributes: Option<&str>, excluded: Option<&str>) {
    let parse = |list: &str| -> Vec<AttrPath> {
        list.split(',')
            .filter_map(|p| AttrPath::parse(p.trim()).ok())
            .collect()
    };
    let always = |k: &str| k.eq_ignore_ascii_case("id") || k.eq_ignore_ascii_case("schemas");
    if let Some(list) = attributes.filter(|l| !l.trim().is_empty()) {
        let orig = resource.clone();
        let mut kept = serde_json::Map::new();
        if let Some(o) = orig.as_object() {
            for (k, v) in o.iter().filter(|(k, _)| always(k)) {
                kept.insert(k.clone(), v.clone());
            }
        }
        for p in parse(list) {
            let ext = p
                .uri
                .as_deref()
                .filter(|u| !schema::is_core(u))
                .and_then(|u| key_ci(&orig, u));
            let container = match &ext {
                Some(e) => &orig[e.as_str()],
                None => &orig,
            };
            let Some(key) = key_ci(container, &p.attr) else {
                continue;
            };
            let value = match (&p.sub, &container[key.as_str()]) {
                (Some(sub), Value::Object(o)) => Value::Object(
                    o.iter()
                        .filter(|(k, _)| k.eq_ignore_ascii_case(sub))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                ),
                (Some(sub), Value::Array(items)) => Value::Array(
                    items
                        .iter()
                        .filter_map(Value::as_object)
                        .map(|i| {
                            Value::Object(
                                i.iter()
                                    .filter(|(k, _)| k.eq_ignore_ascii_case(sub))
                                    .map(|(k, v)| (k.clone(), v.clone()))
                                    .collect(),
                            )
                        })
                        .collect(),
                ),
                (_, v) => v.clone(),
            };
            let target = match ext {
                Some(e) => kept
                    .entry(e)
                    .or_insert_with(|| Value::Object(Default::default()))
                    .as_object_mut(),
                None => Some(&mut kept),
            };
            if let Some(t) = target {
                t.insert(key, value);
            }
        }
        *resource = Value::Object(kept);
    }
    if let Some(list) = excluded.filter(|l| !l.trim().is_empty()) {
        for p in parse(list) {
            if p.uri.is_none() && always(&p.attr) {
                continue;
            }
            let ext = p
                .uri
                .as_deref()
                .filter(|u| !schema::is_core(u))
                .and_then(|u| key_ci(resource, u));
            let container = match ext {
                Some(e) => resource.get_mut(e.as_str()),
                None => Some(&mut *resource),
            };
            let Some(Value::Object(target)) = container else {
                continue;
            };
            let Some(key) = target
                .keys()
                .find(|k| k.eq_ignore_ascii_case(&p.attr))
                .cloned()
            else {
                continue;
            };
            match &p.sub {
                None => {
                    target.remove(&key);
                }
                Some(sub) => match target.get_mut(&key) {
                    Some(Value::Object(o)) => o.retain(|k, _| !k.eq_ignore_ascii_case(sub)),
                    Some(Value::Array(items)) => {
                        for i in items.iter_mut().filter_map(Value::as_object_mut) {
                            i.retain(|k, _| !k.eq_ignore_ascii_case(sub));
                        }
                    }
                    _ => {}
                },
            }
        }
    }
}

/// The spelling of `name` among `v`'s keys, case-insensitively.
fn key_ci(v: &Value, name: &str) -> Option<String> {
    v.as_object()?
        .keys()
        .find(|k| k.eq_ignore_ascii_case(name))
        .cloned()
}

#[cfg(test)]
mod project_tests {
    use super::*;

    #[test]
    fn attributes_and_excluded_attributes() {
        let user = json!({
            "schemas": [USER_SCHEMA, ENTERPRISE_USER], "id": "1", "userName": "a",
            "name": {"givenName": "A", "familyName": "B"}, "emails": [{"value": "a@x", "type": "work"}],
            ENTERPRISE_USER: {"department": "R&D", "costCenter": "7"}, "meta": {"version": "W/\"1\""},
        });
        let mut u = user.clone();
        project(&mut u, Some("userName,name.givenName,emails.value"), None);
        assert_eq!(
            u,
            json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER], "id": "1", "userName": "a",
            "name": {"givenName": "A"}, "emails": [{"value": "a@x"}]})
        );
        let mut u = user.clone();
        project(&mut u, Some(&format!("{ENTERPRISE_USER}:department")), None);
        assert_eq!(u[ENTERPRISE_USER], json!({"department": "R&D"}));
        let mut u = user.clone();
        project(
            &mut u,
            None,
            Some(&format!("name,id,emails.type,{ENTERPRISE_USER}:costCenter")),
        );
        assert!(u.get("name").is_none());
        assert_eq!(u["id"], "1", "id is always returned");
        assert_eq!(u["emails"], json!([{"value": "a@x"}]));
        assert_eq!(u[ENTERPRISE_USER], json!({"department": "R&D"}));
    }
}
