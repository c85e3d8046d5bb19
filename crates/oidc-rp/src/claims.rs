//! What another provider's ID token says about a person, read through the
//! deployment's claim mapping (the claim names are configuration: Entra puts the
//! UPN in `preferred_username`, Google has only `email`), and whether it proves a
//! second factor (an `acr` or `amr` value the deployment counts as MFA).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Which claims carry the person's attributes (`[…claims]` in the config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClaimMapping {
    /// The claim matched against the directory's usernames.
    pub username: String,
    pub email: String,
    pub name: String,
    /// The claim listing group names; empty: groups come from the directory only.
    pub groups: String,
    pub acr: String,
    pub amr: String,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            username: "preferred_username".into(),
            email: "email".into(),
            name: "name".into(),
            groups: "groups".into(),
            acr: "acr".into(),
            amr: "amr".into(),
        }
    }
}

/// Which `acr` / `amr` values prove a second factor (`[…mfa]` in the config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MfaEvidence {
    /// `acr` values that mean MFA; the first is what a step-up asks for.
    pub acr_values: Vec<String>,
    /// `amr` values (RFC 8176) of which any one means MFA.
    pub amr_values: Vec<String>,
}

impl Default for MfaEvidence {
    fn default() -> Self {
        Self {
            acr_values: vec![],
            amr_values: ["mfa", "otp", "hwk", "swk", "fido", "sc"]
                .map(String::from)
                .to_vec(),
        }
    }
}

/// The person a token describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedPerson {
    pub username: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    /// Whether the token proves a second factor.
    pub mfa: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the token has no usable `{0}` claim (the username claim of this issuer)")]
pub struct NoUsername(pub String);

impl ClaimMapping {
    /// Reads `claims` into a person; the username claim is required.
    pub fn map(
        &self,
        claims: &Map<String, Value>,
        mfa: &MfaEvidence,
    ) -> Result<MappedPerson, NoUsername> {
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty() && s.len() <= 256)
                .map(str::to_owned)
        };
        let list = |name: &str| -> Vec<String> {
            match claims.get(name) {
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|s| !s.is_empty() && s.len() <= 256)
                    .take(1000)
                    .map(str::to_owned)
                    .collect(),
                Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
                _ => vec![],
            }
        };
        let username = text(&self.username).ok_or_else(|| NoUsername(self.username.clone()))?;
        let acr = text(&self.acr);
        let amr = list(&self.amr);
        let proves = acr.as_ref().is_some_and(|a| mfa.acr_values.contains(a))
            || amr.iter().any(|m| mfa.amr_values.contains(m));
        Ok(MappedPerson {
            username,
            email: text(&self.email),
            name: text(&self.name),
            groups: if self.groups.is_empty() {
                vec![]
            } else {
                list(&self.groups)
            },
            acr,
            amr,
            mfa: proves,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn claims_map_through_the_configured_names() {
        let m = ClaimMapping {
            username: "upn".into(),
            ..Default::default()
        };
        let p = m
            .map(
                &claims(
                    json!({"upn": "alice@corp.example", "email": "a@corp.example",
                    "groups": ["eng", 7, ""], "amr": ["pwd"]}),
                ),
                &MfaEvidence::default(),
            )
            .unwrap();
        assert_eq!(p.username, "alice@corp.example");
        assert_eq!(p.groups, vec!["eng"]);
        assert!(!p.mfa);
        assert_eq!(
            m.map(
                &claims(json!({"preferred_username": "x"})),
                &MfaEvidence::default()
            ),
            Err(NoUsername("upn".into()))
        );
    }

    #[test]
    fn mfa_is_proved_by_a_listed_acr_or_amr_only() {
        let m = ClaimMapping::default();
        let ev = MfaEvidence {
            acr_values: vec!["urn:corp:mfa".into()],
            ..Default::default()
        };
        let with = |extra: Value| {
            let mut c = claims(json!({"preferred_username": "bob"}));
            c.extend(claims(extra));
            m.map(&c, &ev).unwrap().mfa
        };
        assert!(with(json!({"acr": "urn:corp:mfa"})));
        assert!(with(json!({"amr": ["pwd", "otp"]})));
        assert!(!with(json!({"acr": "urn:corp:pwd", "amr": ["pwd"]})));
        assert!(!with(json!({"acr": "urn:corp:mfa-ish"})));
        assert!(!with(json!({})));
    }
}
