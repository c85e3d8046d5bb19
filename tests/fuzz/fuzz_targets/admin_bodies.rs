//! The admin API's JSON request bodies (decisions, connection changes, the kill
//! switch, API tokens, campaigns, review decisions); never a panic, and what
//! parses serialises and parses back to the same value.
#![no_main]
use libfuzzer_sys::fuzz_target;

fn round_trip<T>(data: &[u8])
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    if let Ok(v) = serde_json::from_slice::<T>(data) {
        let back: T = serde_json::from_slice(&serde_json::to_vec(&v).expect("serialises"))
            .expect("parses back");
        assert_eq!(v, back);
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<admin_api::ApproveRequest>(data);
    round_trip::<admin_api::DenyRequest>(data);
    round_trip::<admin_api::ModifyConnection>(data);
    round_trip::<admin_api::ReasonBody>(data);
    round_trip::<admin_api::BulkRevoke>(data);
    round_trip::<admin_api::CreateApiToken>(data);
    round_trip::<admin_api::CreateCampaign>(data);
    round_trip::<admin_api::ReviewDecisions>(data);
    round_trip::<admin_api::Reassign>(data);
});
