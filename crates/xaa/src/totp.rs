//! RFC 6238 time-based one-time passwords (SHA-1, 6 digits, 30 s steps): the
//! second factor the IdP checks and the reference agent computes.

use aws_lc_rs::hmac;

const STEP: u64 = 30;

/// Decodes a base32 (RFC 4648, no padding required) TOTP secret.
pub fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let cleaned: String = secret
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .collect::<String>()
        .to_uppercase();
    data_encoding::BASE32_NOPAD.decode(cleaned.as_bytes()).ok()
}

/// The code for time step `counter`.
pub fn code_at_step(key: &[u8], counter: u64) -> String {
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key),
        &counter.to_be_bytes(),
    );
    let h = tag.as_ref();
    let off = (h[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([h[off] & 0x7f, h[off + 1], h[off + 2], h[off + 3]]);
    format!("{:06}", bin % 1_000_000)
}

/// The current code for a base32 secret.
pub fn code(secret_b32: &str, now: u64) -> Option<String> {
    Some(code_at_step(&decode_secret(secret_b32)?, now / STEP))
}

/// Checks `code` within ±1 step; returns the matching step so the caller can refuse
/// its reuse.
pub fn verify(secret_b32: &str, code: &str, now: u64) -> Option<u64> {
    let key = decode_secret(secret_b32)?;
    let step = now / STEP;
    [step.saturating_sub(1), step, step + 1]
        .into_iter()
        .find(|s| crate::util::constant_time_eq(code_at_step(&key, *s).as_bytes(), code.as_bytes()))
}

/// A fresh random base32 secret of 160 bits.
pub fn generate_secret() -> String {
    let mut buf = [0u8; 20];
    aws_lc_rs::rand::SecureRandom::fill(&aws_lc_rs::rand::SystemRandom::new(), &mut buf)
        .expect("random");
    data_encoding::BASE32_NOPAD.encode(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_rfc6238_sha1_vectors() {
        // RFC 6238 Appendix B, SHA-1, truncated to 6 digits.
        let key = b"12345678901234567890";
        assert_eq!(code_at_step(key, 59 / 30), "287082");
        assert_eq!(code_at_step(key, 1111111109 / 30), "081804");
        assert_eq!(code_at_step(key, 2000000000 / 30), "279037");
    }

    #[test]
    fn verify_accepts_adjacent_steps_only() {
        let s = generate_secret();
        let now = 1_700_000_000;
        let c = code(&s, now).unwrap();
        assert_eq!(verify(&s, &c, now + 30), Some(now / 30));
        assert_eq!(verify(&s, &c, now + 90), None);
        assert_eq!(verify(&s, "000000x", now), None);
    }
}
