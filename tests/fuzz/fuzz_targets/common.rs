// Shared by the targets: one fixed key pair, so a signature can verify when the
// fuzzer stumbles on (or the corpus holds) a token signed with it.
use std::sync::LazyLock;

pub const PKCS8_HEX: &str = include_str!("../key.hex");

pub static KEY: LazyLock<xaa::SigningKey> = LazyLock::new(|| {
    let der: Vec<u8> = (0..PKCS8_HEX.trim().len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&PKCS8_HEX.trim()[i..i + 2], 16).expect("hex"))
        .collect();
    xaa::SigningKey::from_pkcs8(xaa::Alg::ES256, "fuzz".into(), &der).expect("key")
});

pub static KEYS: LazyLock<Vec<xaa::VerifyingKey>> = LazyLock::new(|| {
    xaa::jws::keys_from_jwks(&xaa::JwkSet {
        keys: vec![KEY.public_jwk()],
    })
});

#[allow(dead_code)] // not every target reads the clock
pub const NOW: u64 = 1_800_000_000;
