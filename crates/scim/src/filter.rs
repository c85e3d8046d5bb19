//! The SCIM filter language (RFC 7644 §3.4.2.2) and attribute paths: parsed into
//! a tree, evaluated against a JSON resource. Attribute names and operators are
//! case-insensitive; string comparisons are too, except for attributes the
//! schema marks case-exact (`id`, `externalId`, member `value`s).

use crate::{ScimError, ScimType, get_ci};
use serde_json::Value;

/// The longest filter accepted, in bytes, and the deepest nesting.
const MAX_FILTER: usize = 2048;
const MAX_DEPTH: usize = 16;

/// `[uri:]attr[.sub]`, e.g. `userName`, `name.givenName`,
/// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    pub uri: Option<String>,
    pub attr: String,
    pub sub: Option<String>,
}

impl AttrPath {
    /// Parses one attribute path (no value filter).
    pub fn parse(s: &str) -> Result<Self, ScimError> {
        let bad = || {
            ScimError::bad(
                ScimType::InvalidPath,
                format!("`{s}` is not an attribute path"),
            )
        };
        let (uri, rest) = split_uri(s);
        let (attr, sub) = match rest.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (rest, None),
        };
        let valid = |n: &str| {
            !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(attr) || sub.is_some_and(|s| !valid(s)) {
            return Err(bad());
        }
        Ok(Self {
            uri: uri.map(str::to_owned),
            attr: attr.to_owned(),
            sub: sub.map(str::to_owned),
        })
    }

    /// Whether values of this attribute compare case-exactly.
    fn case_exact(&self) -> bool {
        let leaf = self.sub.as_deref().unwrap_or(&self.attr);
        ["id", "externalId"]
            .iter()
            .any(|a| self.sub.is_none() && a.eq_ignore_ascii_case(leaf))
    }

    /// The values this path names in `resource`: one per element when the
    /// attribute is multi-valued.
    pub fn values<'a>(&self, resource: &'a Value) -> Vec<&'a Value> {
        let container = match &self.uri {
            Some(uri) if !crate::schema::is_core(uri) => match get_ci(resource, uri) {
                Some(ext) => ext,
                None => return vec![],
            },
            _ => resource,
        };
        let Some(v) = get_ci(container, &self.attr) else {
            return vec![];
        };
        let items: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            v => vec![v],
        };
        match &self.sub {
            None => items,
            Some(sub) => items.into_iter().filter_map(|i| get_ci(i, sub)).collect(),
        }
    }
}

/// Splits `urn:…:Schema:attr…` into the schema URI and the rest.
pub(crate) fn split_uri(s: &str) -> (Option<&str>, &str) {
    if !s.to_ascii_lowercase().starts_with("urn:") {
        return (None, s);
    }
    // The attribute follows the last ':' before any '[' or '.'-separated sub
    // (a URN holds dots, e.g. "2.0", so look for ':' only).
    let head = s.split('[').next().unwrap_or(s);
    match head.rfind(':') {
        Some(i) => (Some(&s[..i]), &s[i + 1..]),
        None => (None, s),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "co" => Self::Co,
            "sw" => Self::Sw,
            "ew" => Self::Ew,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: Value,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `emails[type eq "work"]`: some element of `attr` matches `filter`.
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

impl Filter {
    pub fn parse(s: &str) -> Result<Filter, ScimError> {
        if s.len() > MAX_FILTER {
            return Err(ScimError::bad(
                ScimType::InvalidFilter,
                format!("the filter is longer than {MAX_FILTER} bytes"),
            ));
        }
        let tokens = tokenize(s)?;
        let mut p = Parser { tokens, at: 0 };
        let f = p.or(0)?;
        if p.at != p.tokens.len() {
            return Err(invalid(format!("unexpected `{}`", p.tokens[p.at].text())));
        }
        Ok(f)
    }

    /// `attr eq "value"` on a top-level attribute: the one shape an index can
    /// answer (connectors look people up by `userName` or `externalId`).
    pub fn as_equality(&self) -> Option<(&str, &str)> {
        match self {
            Filter::Compare {
                path:
                    AttrPath {
                        uri: _,
                        attr,
                        sub: None,
                    },
                op: CompareOp::Eq,
                value: Value::String(v),
            } => Some((attr, v)),
            _ => None,
        }
    }

    pub fn matches(&self, resource: &Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(resource) && b.matches(resource),
            Filter::Or(a, b) => a.matches(resource) || b.matches(resource),
            Filter::Not(f) => !f.matches(resource),
            Filter::Present(path) => path.values(resource).iter().any(|v| match v {
                Value::Null => false,
                Value::String(s) => !s.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Object(o) => !o.is_empty(),
                _ => true,
            }),
            Filter::ValuePath { attr, filter } => {
                let whole = AttrPath {
                    sub: None,
                    ..attr.clone()
                };
                whole.values(resource).iter().any(|el| filter.matches(el))
            }
            Filter::Compare { path, op, value } => {
                let found = path.values(resource);
                if *op == CompareOp::Ne {
                    return !found
                        .iter()
                        .any(|v| compare(v, CompareOp::Eq, value, path.case_exact()));
                }
                found
                    .iter()
                    .any(|v| compare(v, *op, value, path.case_exact()))
            }
        }
    }
}

fn compare(have: &Value, op: CompareOp, want: &Value, case_exact: bool) -> bool {
    use CompareOp::*;
    // A complex multi-valued element compared without a sub-attribute
    // compares its `value` (RFC 7644 §3.4.2.2, `emails co "@x"`).
    let have = match have {
        Value::Object(_) => match get_ci(have, "value") {
            Some(v) => v,
            None => return false,
        },
        v => v,
    };
    match (have, want) {
        (Value::String(h), Value::String(w)) => {
            let (h, w) = if case_exact {
                (h.clone(), w.clone())
            } else {
                (h.to_lowercase(), w.to_lowercase())
            };
            match op {
                Eq => h == w,
                Ne => h != w,
                Co => h.contains(&w),
                Sw => h.starts_with(&w),
                Ew => h.ends_with(&w),
                Gt => h > w,
                Ge => h >= w,
                Lt => h < w,
                Le => h <= w,
            }
        }
        (Value::Bool(h), Value::Bool(w)) => match op {
            Eq => h == w,
            Ne => h != w,
            _ => false,
        },
        // Entra ID writes booleans as strings ("True"); compare them as booleans.
        (Value::String(h), Value::Bool(w)) | (Value::Bool(w), Value::String(h)) => {
            let h = h.eq_ignore_ascii_case("true");
            match op {
                Eq => h == *w,
                Ne => h != *w,
                _ => false,
            }
        }
        (Value::Number(h), Value::Number(w)) => {
            let (h, w) = (
                h.as_f64().unwrap_or(f64::NAN),
                w.as_f64().unwrap_or(f64::NAN),
            );
            match op {
                Eq => h == w,
                Ne => h != w,
                Gt => h > w,
                Ge => h >= w,
                Lt => h < w,
                Le => h <= w,
                _ => false,
            }
        }
        (Value::Null, Value::Null) => op == Eq,
        _ => false,
    }
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad(ScimType::InvalidFilter, detail)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

impl Token {
    fn text(&self) -> String {
        match self {
            Token::Word(w) => w.clone(),
            Token::Str(s) => format!("\"{s}\""),
            Token::Open => "(".into(),
            Token::Close => ")".into(),
            Token::OpenBracket => "[".into(),
            Token::CloseBracket => "]".into(),
        }
    }
}

fn tokenize(s: &str) -> Result<Vec<Token>, ScimError> {
    let mut out = vec![];
    let mut chars = s.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                out.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                // A JSON string: find its closing quote, honouring escapes.
                chars.next();
                let mut escaped = false;
                let mut end = None;
                for (j, c) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = Some(j);
                        break;
                    }
                }
                let end = end.ok_or_else(|| invalid("a string is not closed"))?;
                let v: String = serde_json::from_str(&s[i..=end])
                    .map_err(|_| invalid("a string holds an invalid escape"))?;
                out.push(Token::Str(v));
            }
            _ => {
                let start = i;
                let mut end = s.len();
                while let Some(&(j, c)) = chars.peek() {
                    if c.is_whitespace() || "()[]\"".contains(c) {
                        end = j;
                        break;
                    }
                    chars.next();
                }
                out.push(Token::Word(s[start..end].to_owned()));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek_word(&self, w: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(x)) if x.eq_ignore_ascii_case(w))
    }

    fn or(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let mut f = self.and(depth)?;
        while self.peek_word("or") {
            self.at += 1;
            f = Filter::Or(Box::new(f), Box::new(self.and(depth)?));
        }
        Ok(f)
    }

    fn and(&mut self, depth: usize) -> Result<Filter, ScimError> {
        let mut f = self.unary(depth)?;
        while self.peek_word("and") {
            self.at += 1;
            f = Filter::And(Box::new(f), Box::new(self.unary(depth)?));
        }
        Ok(f)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, ScimError> {
        if depth > MAX_DEPTH {
            return Err(invalid("the filter nests too deeply"));
        }
        if self.peek_word("not") && self.tokens.get(self.at + 1) == Some(&Token::Open) {
            self.at += 2;
            let f = self.or(depth + 1)?;
            self.expect(Token::Close)?;
            return Ok(Filter::Not(Box::new(f)));
        }
        if self.tokens.get(self.at) == Some(&Token::Open) {
            self.at += 1;
            let f = self.or(depth + 1)?;
            self.expect(Token::Close)?;
            return Ok(f);
        }
        let Some(Token::Word(path)) = self.tokens.get(self.at).cloned() else {
            return Err(invalid("an attribute name was expected"));
        };
        self.at += 1;
        let attr = AttrPath::parse(&path).map_err(|e| invalid(e.detail))?;
        if self.tokens.get(self.at) == Some(&Token::OpenBracket) {
            self.at += 1;
            let inner = self.or(depth + 1)?;
            self.expect(Token::CloseBracket)?;
            return Ok(Filter::ValuePath {
                attr,
                filter: Box::new(inner),
            });
        }
        let Some(Token::Word(op)) = self.tokens.get(self.at).cloned() else {
            return Err(invalid(format!("an operator was expected after `{path}`")));
        };
        self.at += 1;
        if op.eq_ignore_ascii_case("pr") {
            return Ok(Filter::Present(attr));
        }
        let op =
            CompareOp::parse(&op).ok_or_else(|| invalid(format!("`{op}` is not an operator")))?;
        let value = match self.tokens.get(self.at).cloned() {
            Some(Token::Str(s)) => Value::String(s),
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&w)
                    .map(Value::Number)
                    .map_err(|_| invalid(format!("`{w}` is not a value")))?,
            },
            _ => return Err(invalid(format!("a value was expected after `{path}`"))),
        };
        self.at += 1;
        Ok(Filter::Compare {
            path: attr,
            op,
            value,
        })
    }

    fn expect(&mut self, t: Token) -> Result<(), ScimError> {
        if self.tokens.get(self.at) == Some(&t) {
            self.at += 1;
            Ok(())
        } else {
            Err(invalid(format!("`{}` was expected", t.text())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alice() -> Value {
        json!({
            "id": "Ab1", "userName": "Alice@Example.com", "externalId": "X1", "active": true,
            "name": {"givenName": "Alice", "familyName": "Liddell"},
            "emails": [{"value": "alice@example.com", "type": "work", "primary": true},
                       {"value": "a@home.net", "type": "home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D", "manager": {"value": "bob"}},
        })
    }

    fn m(f: &str) -> bool {
        Filter::parse(f).unwrap().matches(&alice())
    }

    #[test]
    fn connector_lookups() {
        assert!(
            m(r#"userName eq "alice@example.com""#),
            "userName is case-insensitive"
        );
        assert!(
            m(r#"USERNAME Eq "ALICE@example.com""#),
            "names and operators too"
        );
        assert!(m(r#"externalId eq "X1""#));
        assert!(!m(r#"externalId eq "x1""#), "externalId is case-exact");
        assert!(!m(r#"id eq "ab1""#), "id is case-exact");
        assert_eq!(
            Filter::parse(r#"userName eq "a""#).unwrap().as_equality(),
            Some(("userName", "a"))
        );
        assert_eq!(
            Filter::parse(r#"name.givenName eq "a""#)
                .unwrap()
                .as_equality(),
            None
        );
    }

    #[test]
    fn operators_logic_and_value_paths() {
        assert!(m(r#"name.familyName sw "lid""#));
        assert!(m(r#"emails co "home.net""#));
        assert!(m(r#"emails[type eq "work" and value ew "example.com"]"#));
        assert!(!m(r#"emails[type eq "work" and value ew "home.net"]"#));
        assert!(m(r#"emails.type eq "home""#));
        assert!(m("active eq true and not (userName eq \"bob\")"));
        assert!(m(
            r#"userName eq "bob" or (externalId pr and active ne false)"#
        ));
        assert!(!m("title pr"));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "bob""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "alice""#
        ));
        assert!(m(r#"userName eq "say \"hi\"" or active eq true"#));
    }

    #[test]
    fn malformed_filters_are_invalid_filter_errors() {
        for f in [
            "",
            "userName",
            "userName eq",
            r#"userName xx "a""#,
            r#"userName eq "a"#,
            r#"(userName eq "a""#,
            r#"userName eq "a")"#,
            r#"emails[type eq "work""#,
            "userName eq bare",
            r#"user;Name eq "a""#,
        ] {
            let e = Filter::parse(f).unwrap_err();
            assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{f}");
            assert_eq!(e.status, 400);
        }
        let deep = format!("{}userName pr{}", "(".repeat(40), ")".repeat(40));
        assert!(Filter::parse(&deep).is_err(), "nesting is bounded");
        assert!(
            Filter::parse(&"a".repeat(3000)).is_err(),
            "length is bounded"
        );
    }
}
