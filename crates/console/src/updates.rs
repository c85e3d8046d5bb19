//! Console updates as the person sees them: the feed URL a profile's settings
//! name (checked here before it is saved), and what a check found. The check
//! itself — fetching the feed, downloading the release and verifying its
//! signature against the public key built into the app — is the shell's (the
//! official updater plugin); a release is installed only when the person says so.

use crate::error::{ConsoleError, ErrorCode};
use serde::{Deserialize, Serialize};

/// What the last update check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UpdateStatus {
    /// The active profile names no feed (or nobody is signed in).
    NoFeed,
    /// The feed offers nothing newer than this build.
    UpToDate { current: String },
    /// A newer release, downloaded and its signature verified against the key
    /// built into the app: installed only on `install_update`.
    Offered {
        current: String,
        version: String,
        notes: Option<String>,
        /// RFC 3339, when the feed says.
        date: Option<String>,
    },
    /// The feed offered a release that is not installed: its signature is
    /// missing or does not verify, or the feed is not a valid update feed.
    Refused {
        version: Option<String>,
        message: String,
    },
    /// The feed could not be reached: nothing for the person to dismiss; the
    /// next check tries again.
    Unreachable,
    /// Installed; it runs from the next start.
    Installed { version: String },
}

/// A feed URL fit to be checked: `https`, no credentials, no fragment. A debug
/// build also takes `http` on loopback (the tests' feed); a release build never.
pub fn checked_feed(feed: &str) -> Result<url::Url, ConsoleError> {
    let invalid =
        |why: &str| ConsoleError::new(ErrorCode::Invalid, format!("The update feed URL {why}."));
    let url = url::Url::parse(feed.trim()).map_err(|_| invalid("is not a URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry credentials"));
    }
    if url.fragment().is_some() {
        return Err(invalid("must not have a fragment"));
    }
    let loopback = matches!(
        url.host(),
        Some(url::Host::Ipv4(ip)) if ip.is_loopback()
    ) || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    match url.scheme() {
        "https" => Ok(url),
        "http" if cfg!(debug_assertions) && loopback => Ok(url),
        _ => Err(invalid("must be https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_is_https_without_credentials_or_fragment() {
        assert!(checked_feed("https://updates.example.com/gatehouse/latest.json").is_ok());
        for (bad, why) in [
            ("http://updates.example.com/latest.json", "https"),
            ("ftp://updates.example.com/latest.json", "https"),
            (
                "https://user:pw@updates.example.com/latest.json",
                "credentials",
            ),
            ("https://updates.example.com/latest.json#x", "fragment"),
            ("not a url", "not a URL"),
            ("http://localhost.example.com/latest.json", "https"),
        ] {
            let e = checked_feed(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::Invalid);
            assert!(e.message.contains(why), "{bad}: {}", e.message);
            assert!(!e.message.contains("pw"), "{}", e.message);
        }
        // The tests' loopback feed, in a debug build only.
        assert_eq!(
            checked_feed("http://127.0.0.1:4000/latest.json").is_ok(),
            cfg!(debug_assertions)
        );
    }

    #[test]
    fn the_status_crosses_ipc_tagged_by_state() {
        let v = serde_json::to_value(UpdateStatus::Refused {
            version: Some("9.9.9".into()),
            message: "m".into(),
        })
        .unwrap();
        assert_eq!(v["state"], "refused");
        assert_eq!(
            serde_json::to_value(UpdateStatus::Unreachable).unwrap(),
            serde_json::json!({ "state": "unreachable" })
        );
    }
}
