//! OAuth scope strings as ordered sets: parsing, narrowing and rendering.

use std::collections::BTreeSet;

/// A set of scope tokens (RFC 6749 §3.3), kept sorted so renderings are stable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<String>);

impl ScopeSet {
    /// Parses a space-delimited scope string; returns `None` for characters RFC 6749 forbids.
    pub fn parse(s: &str) -> Option<Self> {
        let mut set = BTreeSet::new();
        for tok in s.split(' ').filter(|t| !t.is_empty()) {
            let ok = tok
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !ok {
                return None;
            }
            set.insert(tok.to_owned());
        }
        Some(Self(set))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, s: &str) -> bool {
        self.0.contains(s)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The scopes present in both sets.
    pub fn intersect(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0.intersection(&other.0).cloned().collect())
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.is_subset(&other.0)
    }

    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet(self.0.union(&other.0).cloned().collect())
    }

    pub fn to_vec(&self) -> Vec<String> {
        self.0.iter().cloned().collect()
    }
}

impl<S: Into<String>> FromIterator<S> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = S>>(items: I) -> Self {
        Self(items.into_iter().map(Into::into).collect())
    }
}

impl std::fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v: Vec<&str> = self.iter().collect();
        f.write_str(&v.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dedups_and_renders_sorted() {
        let s = ScopeSet::parse("b a  b").unwrap();
        assert_eq!(s.to_string(), "a b");
    }

    #[test]
    fn rejects_forbidden_characters() {
        assert!(ScopeSet::parse("a\"b").is_none());
        assert!(ScopeSet::parse("a\\b").is_none());
        assert!(ScopeSet::parse("é").is_none());
    }

    #[test]
    fn intersect_narrows() {
        let a = ScopeSet::parse("read write admin").unwrap();
        let b = ScopeSet::parse("read admin other").unwrap();
        assert_eq!(a.intersect(&b).to_string(), "admin read");
    }
}
