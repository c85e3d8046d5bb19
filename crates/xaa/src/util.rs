//! Small helpers every party needs: random tokens, SHA-256, PKCE, base64url.

use aws_lc_rs::{digest, rand::SecureRandom};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

/// A random URL-safe token carrying `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut buf)
        .expect("the system random generator failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Lower-case hex of SHA-256 of `data`: how high-entropy secrets are stored.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&sha256(data))
}

/// Lower-case hex encoding.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let [hi, lo] = hex_byte(*b);
        s.push(hi as char);
        s.push(lo as char);
    }
    s
}

/// The two lower-case hex digits of `b` (a table lookup: `format!` per byte
/// showed in the audit writer's profile).
pub fn hex_byte(b: u8) -> [u8; 2] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    [DIGITS[(b >> 4) as usize], DIGITS[(b & 15) as usize]]
}

/// Compares two byte strings in constant time.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// The PKCE S256 code challenge of `verifier` (RFC 7636 §4.2).
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(verifier.as_bytes()))
}

/// base64url without padding.
pub fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Strict base64url decoding: no padding, no non-canonical trailing bits.
pub fn b64_decode(data: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(data).ok()
}

/// A short, non-reversible fingerprint of a token for logs and audit: never the token itself.
pub fn fingerprint(token: &str) -> String {
    hex(&sha256(token.as_bytes())[..6])
}

/// Token-shaped strings: JWS (ID tokens, ID-JAGs), admin API tokens, and any
/// 43-character base64url run of mixed case (32 random bytes: access and
/// refresh tokens) that is not a hex SHA-256 digest.
/// Used by leak checks (IPC responses, logs, files).
pub fn token_shaped(json: &str) -> Vec<String> {
    let mut found = Vec::new();
    for word in
        json.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
    {
        let jws = word.starts_with("eyJ") && word.matches('.').count() == 2;
        let api = word.starts_with("gh_adm_");
        // Random base64url has both cases (all one case: < 1e-9 for 43 chars);
        // identifiers such as SQLite's `sqlite_autoindex_…` names do not.
        let random = word.len() >= 43
            && word
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && word.chars().any(|c| c.is_ascii_uppercase())
            && word.chars().any(|c| c.is_ascii_lowercase());
        // SHA-256 digests (the audit chain's hashes) are lowercase hex, never a token.
        let digest = word.len() == 64 && word.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
        if jws || api || (random && !digest) {
            found.push(word.to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
    }

    #[test]
    fn pkce_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn random_tokens_differ_and_carry_entropy() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32));
    }

    #[test]
    fn fingerprint_does_not_contain_the_token() {
        let t = random_token(32);
        let f = fingerprint(&t);
        assert_eq!(f.len(), 12);
        assert!(!t.contains(&f));
    }
}
