//! One SQL text for both databases: queries are written with `?` (or `?N`)
//! placeholders, which SQLite reads as they are and which become `$n` for
//! PostgreSQL. Static texts are rewritten once and kept.

use crate::Backend;
use std::{
    collections::HashMap,
    sync::{LazyLock, RwLock},
};

static REWRITTEN: LazyLock<RwLock<HashMap<&'static str, &'static str>>> =
    LazyLock::new(Default::default);

/// `text` for `backend`: unchanged for SQLite, placeholders numbered for PostgreSQL.
pub fn sql(backend: Backend, text: &'static str) -> &'static str {
    if backend == Backend::Sqlite {
        return text;
    }
    if let Some(done) = REWRITTEN.read().ok().and_then(|m| m.get(text).copied()) {
        return done;
    }
    // Each distinct static text is leaked once: a bounded set, the program's own SQL.
    let done: &'static str = Box::leak(numbered(text).into_boxed_str());
    if let Ok(mut m) = REWRITTEN.write() {
        m.insert(text, done);
    }
    done
}

/// A built (dynamic) text for `backend`.
pub fn sql_owned(backend: Backend, text: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(match backend {
        Backend::Sqlite => text,
        Backend::Postgres => numbered(&text),
    })
}

/// `?` → `$1, $2, …` in order, `?N` → `$N`; quoted literals are left alone.
fn numbered(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut next = 1;
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                out.push('$');
                if digits.is_empty() {
                    out.push_str(&next.to_string());
                    next += 1;
                } else {
                    out.push_str(&digits);
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(
            numbered("SELECT a FROM t WHERE b = ? AND c LIKE ? ESCAPE '\\' AND d = '?'"),
            "SELECT a FROM t WHERE b = $1 AND c LIKE $2 ESCAPE '\\' AND d = '?'"
        );
        assert_eq!(
            numbered("(?1 = '' OR s = ?1) AND (?2 IS NULL OR c = ?2)"),
            "($1 = '' OR s = $1) AND ($2 IS NULL OR c = $2)"
        );
        assert_eq!(sql(Backend::Sqlite, "x = ?"), "x = ?");
        assert_eq!(
            sql(Backend::Postgres, "x = ? AND y = ?"),
            "x = $1 AND y = $2"
        );
    }
}
