//! The token endpoint's form bodies: RFC 8693 token exchange, RFC 7523 jwt-bearer,
//! client credentials in the body (incl. `private_key_jwt` assertions) and the
//! Basic authorization header; never a panic, repeated parameters refused.
#![no_main]
use libfuzzer_sys::fuzz_target;
use xaa::{ClientCredentials, JwtBearerRequest, TokenExchangeRequest, request::Form};

fuzz_target!(|data: &[u8]| {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(data).into_owned().collect();
    let mut names: Vec<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
    names.sort_unstable();
    let repeated = names.windows(2).any(|w| w[0] == w[1]);
    match Form::from_pairs(pairs.clone()) {
        Ok(form) => {
            assert!(!repeated, "a repeated parameter was accepted");
            let _ = form.grant_type();
            let _ = ClientCredentials::from_form(&form);
            let _ = TokenExchangeRequest::from_form(&form);
            let _ = JwtBearerRequest::from_form(&form);
        }
        Err(_) => {}
    }
    if let Ok(h) = std::str::from_utf8(data) {
        let _ = xaa::request::basic_credentials(Some(h));
    }
});
