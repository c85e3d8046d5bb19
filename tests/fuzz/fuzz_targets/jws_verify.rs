//! JWS compact parsing and verification (ID-JAGs, ID tokens, SETs, client
//! assertions all pass through it): never a panic, never a success for bytes
//! not signed by the key.
#![no_main]
mod common;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for typ in [None, Some(xaa::TYP_ID_JAG), Some(xaa::TYP_SET), Some("JWT")] {
        if let Ok(v) = xaa::jws::verify_compact(s, &common::KEYS, typ, 16 * 1024) {
            // Whatever verified must re-verify identically.
            let again = xaa::jws::verify_compact(s, &common::KEYS, typ, 16 * 1024).expect("stable");
            assert_eq!(v.payload, again.payload);
        }
    }
    let _ = xaa::jws::insecure_peek_payload(s);
    let _ = serde_json::from_slice::<xaa::IdTokenClaims>(data);
});
