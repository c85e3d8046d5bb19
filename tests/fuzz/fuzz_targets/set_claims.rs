//! The claims of a Security Event Token at the resource AS's revocation
//! receiver; never a panic, and a revocation always names a client or a user.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = xaa::set::parse(
        data,
        "https://idp.example",
        "https://as.example",
        1_800_000_000,
    ) {
        if let Some(r) = e.revocation {
            assert!(r.client_id.is_some() || r.sub.is_some());
            assert!(r.revoked_at >= e.iat);
        }
    }
});
