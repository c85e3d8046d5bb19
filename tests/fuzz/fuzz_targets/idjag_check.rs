//! ID-JAG verification as a resource AS runs it: signature, `typ`, single `aud`,
//! `client_id` binding, times, size; never a panic.
#![no_main]
mod common;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let policy = xaa::IdJagPolicy::new("https://idp.example", "https://as.example");
    if let Ok(c) = xaa::idjag::check(s, &common::KEYS, &policy, "agent", common::NOW) {
        assert_eq!(c.aud, "https://as.example");
        assert_eq!(c.iss, "https://idp.example");
        assert_eq!(c.client_id, "agent");
    }
});
