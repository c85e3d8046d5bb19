//! The fuzz corpus's signed seeds (tests/fuzz/corpus) verify with the fuzz key,
//! so the fuzzer starts from tokens that get past the signature check and
//! explores the claim checks behind it; the forged ones are refused.

use std::path::Path;

fn corpus(target: &str, name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fuzz/corpus")
        .join(target)
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn keys() -> Vec<xaa::VerifyingKey> {
    let hex = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fuzz/key.hex"),
    )
    .unwrap();
    let hex = hex.trim();
    let der: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let key = xaa::SigningKey::from_pkcs8(xaa::Alg::ES256, "fuzz".into(), &der).unwrap();
    xaa::jws::keys_from_jwks(&xaa::JwkSet {
        keys: vec![key.public_jwk()],
    })
}

#[test]
fn the_signed_seeds_verify_and_the_forged_ones_do_not() {
    let keys = keys();
    let policy = xaa::IdJagPolicy::new("https://idp.example", "https://as.example");
    let c = xaa::idjag::check(
        &corpus("idjag_check", "valid"),
        &keys,
        &policy,
        "agent",
        1_800_000_000,
    )
    .expect("the valid ID-JAG seed passes every check");
    assert_eq!(c.connection_version, Some(2));
    for bad in ["aud_array", "wrong_typ", "jku"] {
        assert!(
            xaa::idjag::check(
                &corpus("idjag_check", bad),
                &keys,
                &policy,
                "agent",
                1_800_000_000
            )
            .is_err(),
            "{bad}"
        );
    }
    for ok in ["idjag", "id_token", "set"] {
        assert!(
            xaa::jws::verify_compact(&corpus("jws_verify", ok), &keys, None, 16 * 1024).is_ok(),
            "{ok}"
        );
    }
    for bad in ["alg_none", "hs256"] {
        assert!(
            xaa::jws::verify_compact(&corpus("jws_verify", bad), &keys, None, 16 * 1024).is_err(),
            "{bad}"
        );
    }
}
