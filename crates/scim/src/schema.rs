//! The schemas Gatehouse serves, declared once: `/Schemas` and `/ResourceTypes`
//! render them, and every resource written is normalised by them (attribute
//! names to their declared case, Entra's `"True"`/`"False"` strings to booleans,
//! read-only and undeclared attributes dropped), so what is stored is bounded
//! and what is read back is what was declared.

use serde_json::{Map, Value, json};

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Complex,
    Reference,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadWrite,
    ReadOnly,
    Immutable,
}

/// One attribute of a schema (RFC 7643 §7).
#[derive(Debug)]
pub struct Attr {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    /// `"server"` uniqueness (only `userName` and a group's `displayName`).
    pub unique: bool,
    pub sub: &'static [Attr],
    pub description: &'static str,
    /// What a `reference` points at (`User`, `Group`, `uri`, `external`).
    pub reference_types: &'static [&'static str],
}

const fn s(name: &'static str, description: &'static str) -> Attr {
    Attr {
        name,
        ty: AttrType::String,
        multi: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        unique: false,
        sub: &[],
        description,
        reference_types: &[],
    }
}

const fn reference(
    name: &'static str,
    to: &'static [&'static str],
    description: &'static str,
) -> Attr {
    Attr {
        ty: AttrType::Reference,
        reference_types: to,
        ..s(name, description)
    }
}

/// `externalId`, the common attribute every resource may carry (RFC 7643 §3.1):
/// not part of a schema document, but a valid PATCH path.
static EXTERNAL_ID: Attr = Attr {
    case_exact: true,
    ..s(
        "externalId",
        "The provisioning client's id for the resource.",
    )
};

const fn boolean(name: &'static str, description: &'static str) -> Attr {
    Attr {
        ty: AttrType::Boolean,
        ..s(name, description)
    }
}

const fn complex(name: &'static str, sub: &'static [Attr], description: &'static str) -> Attr {
    Attr {
        ty: AttrType::Complex,
        sub,
        ..s(name, description)
    }
}

const fn multi(a: Attr) -> Attr {
    Attr { multi: true, ..a }
}

const fn read_only(a: Attr) -> Attr {
    Attr {
        mutability: Mutability::ReadOnly,
        ..a
    }
}

const TYPED_VALUE: [Attr; 4] = [
    s("value", "The value."),
    s("display", "A human-readable name."),
    s("type", "A label: work, home, other."),
    boolean("primary", "The preferred value."),
];

const USER_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        unique: true,
        ..s(
            "userName",
            "The person's unique sign-in name; their Gatehouse username.",
        )
    },
    complex(
        "name",
        &[
            s("formatted", "The full name."),
            s("familyName", "The family name."),
            s("givenName", "The given name."),
            s("middleName", "The middle name."),
            s("honorificPrefix", "e.g. Ms."),
            s("honorificSuffix", "e.g. III."),
        ],
        "The components of the person's name.",
    ),
    s("displayName", "The name to show."),
    s("nickName", "A casual name."),
    s("title", "The job title."),
    s("userType", "e.g. Employee, Contractor."),
    s("preferredLanguage", "e.g. en-US."),
    s("locale", "e.g. en-US."),
    s("timezone", "e.g. Europe/Paris."),
    boolean(
        "active",
        "Whether the person may sign in; false refuses every exchange.",
    ),
    multi(complex("emails", &TYPED_VALUE, "Email addresses.")),
    multi(complex("phoneNumbers", &TYPED_VALUE, "Phone numbers.")),
    read_only(multi(complex(
        "groups",
        &[
            s("value", "The group's id."),
            reference("$ref", &["Group"], "The group's URI."),
            s("display", "The group's name."),
        ],
        "The groups the person belongs to (managed through Groups).",
    ))),
];

const ENTERPRISE_ATTRS: &[Attr] = &[
    s("employeeNumber", "The employee number."),
    s("costCenter", "The cost center."),
    s("organization", "The organization."),
    s("division", "The division."),
    s("department", "The department."),
    complex(
        "manager",
        &[
            s("value", "The manager's id."),
            reference("$ref", &["User"], "The manager's URI."),
            read_only(s("displayName", "The manager's name.")),
        ],
        "The person's manager.",
    ),
];

const GROUP_ATTRS: &[Attr] = &[
    Attr {
        required: true,
        unique: true,
        ..s(
            "displayName",
            "The group's name, as the policy gate and roles name it.",
        )
    },
    multi(complex(
        "members",
        &[
            Attr {
                case_exact: true,
                mutability: Mutability::Immutable,
                ..s("value", "The member's id.")
            },
            Attr {
                mutability: Mutability::Immutable,
                ..reference(
                    "$ref",
                    &["User"],
                    "The member's URI (people only: no nested groups).",
                )
            },
        ],
        "The people in the group.",
    )),
];

/// One schema: its URN, name and attributes.
#[derive(Debug)]
pub struct Schema {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [Attr],
}

pub static USER: Schema = Schema {
    id: USER_SCHEMA,
    name: "User",
    description: "A person Gatehouse's policy gate knows.",
    attributes: USER_ATTRS,
};
pub static ENTERPRISE: Schema = Schema {
    id: ENTERPRISE_USER,
    name: "EnterpriseUser",
    description: "Enterprise attributes of a person.",
    attributes: ENTERPRISE_ATTRS,
};
pub static GROUP: Schema = Schema {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "A group; connections may be restricted to groups, and roles are granted by them.",
    attributes: GROUP_ATTRS,
};

/// The two resource types served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }
    /// The collection's path segment.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
        }
    }
    pub fn schema(self) -> &'static Schema {
        match self {
            ResourceKind::User => &USER,
            ResourceKind::Group => &GROUP,
        }
    }
    /// Schema extensions this kind carries.
    pub fn extensions(self) -> &'static [&'static Schema] {
        static USER_EXTENSIONS: [&Schema; 1] = [&ENTERPRISE];
        match self {
            ResourceKind::User => &USER_EXTENSIONS,
            ResourceKind::Group => &[],
        }
    }

    /// The attribute declared at `uri` (or the core schema) and `name`.
    pub fn attr(self, uri: Option<&str>, name: &str) -> Option<&'static Attr> {
        if name.eq_ignore_ascii_case("externalId")
            && uri.is_none_or(|u| u.eq_ignore_ascii_case(self.schema().id))
        {
            return Some(&EXTERNAL_ID);
        }
        let schema = match uri {
            None => self.schema(),
            Some(u) if u.eq_ignore_ascii_case(self.schema().id) => self.schema(),
            Some(u) => self
                .extensions()
                .iter()
                .find(|e| e.id.eq_ignore_ascii_case(u))?,
        };
        find(schema.attributes, name)
    }

    /// Normalises a resource as written by a client (POST, PUT, after PATCH):
    /// declared attributes only, in their declared case; booleans made
    /// booleans; read-only attributes, `id`, `meta` and empty values dropped.
    /// `externalId` (a common attribute) is kept. Errors name the attribute.
    pub fn normalise(self, input: &Value) -> Result<Value, crate::ScimError> {
        let Some(obj) = input.as_object() else {
            return Err(crate::ScimError::bad(
                crate::ScimType::InvalidSyntax,
                "the resource must be a JSON object",
            ));
        };
        let mut out = Map::new();
        let mut schemas = vec![json!(self.schema().id)];
        for (k, v) in obj {
            if k.eq_ignore_ascii_case("externalId") {
                match v {
                    Value::String(s) if !s.is_empty() => {
                        out.insert("externalId".into(), v.clone());
                    }
                    Value::Null => {}
                    Value::String(_) => {}
                    _ => return Err(invalid_value("externalId", "a string")),
                }
            } else if let Some(ext) = self
                .extensions()
                .iter()
                .find(|e| e.id.eq_ignore_ascii_case(k))
            {
                let mut ext_out = Map::new();
                if let Some(fields) = v.as_object() {
                    normalise_attrs(ext.attributes, fields, &mut ext_out)?;
                } else if !v.is_null() {
                    return Err(invalid_value(ext.id, "an object"));
                }
                if !ext_out.is_empty() {
                    out.insert(ext.id.into(), Value::Object(ext_out));
                    schemas.push(json!(ext.id));
                }
            } else if let Some(a) = find(self.schema().attributes, k) {
                normalise_one(a, v, &mut out)?;
            }
        }
        out.insert("schemas".into(), Value::Array(schemas));
        for a in self.schema().attributes.iter().filter(|a| a.required) {
            if !out.contains_key(a.name) {
                return Err(invalid_value(a.name, "present (it is required)"));
            }
        }
        Ok(Value::Object(out))
    }
}

fn find(attrs: &'static [Attr], name: &str) -> Option<&'static Attr> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

fn invalid_value(attr: &str, what: &str) -> crate::ScimError {
    crate::ScimError::bad(
        crate::ScimType::InvalidValue,
        format!("`{attr}` must be {what}"),
    )
}

fn normalise_attrs(
    attrs: &'static [Attr],
    fields: &Map<String, Value>,
    out: &mut Map<String, Value>,
) -> Result<(), crate::ScimError> {
    for (k, v) in fields {
        if let Some(a) = find(attrs, k) {
            normalise_one(a, v, out)?;
        }
    }
    Ok(())
}

fn normalise_one(
    a: &'static Attr,
    v: &Value,
    out: &mut Map<String, Value>,
) -> Result<(), crate::ScimError> {
    if a.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    let value = if a.multi {
        let items: Vec<&Value> = match v {
            Value::Array(items) => items.iter().collect(),
            Value::Null => vec![],
            one => vec![one],
        };
        let mut kept = vec![];
        for item in items {
            if let Some(n) = single(a, item)? {
                kept.push(n);
            }
        }
        (!kept.is_empty()).then_some(Value::Array(kept))
    } else {
        single(a, v)?
    };
    if let Some(v) = value {
        out.insert(a.name.into(), v);
    }
    Ok(())
}

/// One value of `a`; `None` when empty (SCIM treats empty as unassigned).
fn single(a: &'static Attr, v: &Value) -> Result<Option<Value>, crate::ScimError> {
    Ok(match (a.ty, v) {
        (_, Value::Null) => None,
        (AttrType::Boolean, Value::Bool(_)) => Some(v.clone()),
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => {
            Some(Value::Bool(true))
        }
        (AttrType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => {
            Some(Value::Bool(false))
        }
        (AttrType::Boolean, _) => return Err(invalid_value(a.name, "true or false")),
        (AttrType::String | AttrType::Reference, Value::String(s)) => {
            (!s.is_empty()).then(|| v.clone())
        }
        (AttrType::String | AttrType::Reference, _) => {
            return Err(invalid_value(a.name, "a string"));
        }
        (AttrType::Complex, Value::Object(fields)) => {
            let mut sub = Map::new();
            normalise_attrs(a.sub, fields, &mut sub)?;
            (!sub.is_empty()).then_some(Value::Object(sub))
        }
        // A multi-valued complex attribute given plain strings: each is a `value`.
        (AttrType::Complex, Value::String(_)) if a.multi && find(a.sub, "value").is_some() => {
            Some(json!({ "value": v }))
        }
        (AttrType::Complex, _) => return Err(invalid_value(a.name, "an object")),
    })
}

/// Whether `uri` is a core schema (its attributes sit at the top level).
pub(crate) fn is_core(uri: &str) -> bool {
    uri.eq_ignore_ascii_case(USER_SCHEMA) || uri.eq_ignore_ascii_case(GROUP_SCHEMA)
}

fn attr_json(a: &Attr) -> Value {
    let mut j = json!({
        "name": a.name,
        "type": match a.ty {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Complex => "complex",
            AttrType::Reference => "reference",
        },
        "multiValued": a.multi,
        "description": a.description,
        "required": a.required,
        "caseExact": a.case_exact,
        "mutability": match a.mutability {
            Mutability::ReadWrite => "readWrite",
            Mutability::ReadOnly => "readOnly",
            Mutability::Immutable => "immutable",
        },
        "returned": "default",
        "uniqueness": if a.unique { "server" } else { "none" },
    });
    if a.ty == AttrType::Complex {
        j["subAttributes"] = a.sub.iter().map(attr_json).collect();
    }
    if a.ty == AttrType::Reference {
        j["referenceTypes"] = if a.reference_types.is_empty() {
            json!(["uri"])
        } else {
            json!(a.reference_types)
        };
    }
    j
}

/// The discovery documents at `base` (e.g. `https://idp/scim/v2`):
/// `ServiceProviderConfig`, the `ResourceTypes` list and the `Schemas` list.
pub mod discovery {
    use super::*;

    pub fn service_provider_config(base: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://github.com/gatehouse/gatehouse/blob/main/docs/scim.md",
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": crate::MAX_PAGE },
            "changePassword": { "supported": false },
            "sort": { "supported": false },
            "etag": { "supported": true },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "A Gatehouse admin API token with the provisioner role (gatehouse-idp api-token create --role provisioner).",
                "primary": true,
            }],
            "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig") },
        })
    }

    pub fn resource_type(base: &str, kind: ResourceKind) -> Value {
        let mut j = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": kind.name(),
            "name": kind.name(),
            "endpoint": format!("/{}", kind.endpoint()),
            "description": kind.schema().description,
            "schema": kind.schema().id,
            "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", kind.name()) },
        });
        let ext: Vec<Value> = kind
            .extensions()
            .iter()
            .map(|e| json!({ "schema": e.id, "required": false }))
            .collect();
        if !ext.is_empty() {
            j["schemaExtensions"] = Value::Array(ext);
        }
        j
    }

    pub fn resource_types(base: &str) -> Vec<Value> {
        [ResourceKind::User, ResourceKind::Group]
            .into_iter()
            .map(|k| resource_type(base, k))
            .collect()
    }

    pub fn schema(base: &str, s: &Schema) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": s.id,
            "name": s.name,
            "description": s.description,
            "attributes": s.attributes.iter().map(attr_json).collect::<Vec<_>>(),
            "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{}", s.id) },
        })
    }

    pub fn schemas(base: &str) -> Vec<Value> {
        [&USER, &ENTERPRISE, &GROUP]
            .into_iter()
            .map(|s| schema(base, s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_keeps_declared_attributes_in_their_case_and_fixes_entra_booleans() {
        let n = ResourceKind::User
            .normalise(&json!({
                "schemas": ["whatever"],
                "id": "client-chosen", "meta": {"version": "W/\"9\""},
                "USERNAME": "alice", "Active": "False", "externalId": "e1",
                "emails": [{"Value": "a@x", "Primary": "True", "junk": 1}, {"value": ""}],
                "groups": [{"value": "g1"}],
                "favouriteColour": "green",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"Department": "R&D"},
                "urn:example:custom": {"x": 1},
            }))
            .unwrap();
        assert_eq!(
            n,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER],
                "userName": "alice", "active": false, "externalId": "e1",
                "emails": [{"value": "a@x", "primary": true}, ],
                ENTERPRISE_USER: {"department": "R&D"},
            })
        );
    }

    #[test]
    fn required_and_typed_attributes_are_enforced() {
        let e = ResourceKind::User
            .normalise(&json!({"active": true}))
            .unwrap_err();
        assert_eq!(e.scim_type, Some(crate::ScimType::InvalidValue));
        assert!(e.detail.contains("userName"), "{}", e.detail);
        let e = ResourceKind::User
            .normalise(&json!({"userName": "a", "active": "maybe"}))
            .unwrap_err();
        assert!(e.detail.contains("active"));
        let e = ResourceKind::Group
            .normalise(&json!({"members": []}))
            .unwrap_err();
        assert!(e.detail.contains("displayName"));
        assert!(ResourceKind::User.normalise(&json!("alice")).is_err());
    }

    #[test]
    fn discovery_documents_describe_the_declared_schemas() {
        let user = discovery::schema("https://i/scim/v2", &USER);
        let names: Vec<&str> = user["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"userName") && names.contains(&"emails"));
        assert_eq!(user["attributes"][0]["uniqueness"], "server");
        let rt = discovery::resource_types("https://i/scim/v2");
        assert_eq!(rt[0]["endpoint"], "/Users");
        assert_eq!(rt[0]["schemaExtensions"][0]["schema"], ENTERPRISE_USER);
        assert_eq!(rt[1]["schema"], GROUP_SCHEMA);
    }
}
