//! Where the console keeps its secrets: the OS keychain (`keyring` with the native
//! store of each platform: Secret Service on Linux, Keychain on macOS, Credential
//! Manager on Windows). `MemoryStore` is a fake for tests that must not touch the
//! real keychain; it is named a fake and never used in a build.

use crate::error::{ConsoleError, ErrorCode};
use std::{collections::HashMap, sync::Mutex};

/// Which secret of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    RefreshToken,
    ApiToken,
}

impl SecretKind {
    fn as_str(self) -> &'static str {
        match self {
            SecretKind::RefreshToken => "refresh-token",
            SecretKind::ApiToken => "api-token",
        }
    }
}

/// A small keychain interface, so tests can swap the store.
pub trait SecretStore: Send + Sync {
    fn get(&self, profile: &str, kind: SecretKind) -> Result<Option<String>, ConsoleError>;
    fn set(&self, profile: &str, kind: SecretKind, secret: &str) -> Result<(), ConsoleError>;
    fn delete(&self, profile: &str, kind: SecretKind) -> Result<(), ConsoleError>;
}

/// The OS keychain.
pub struct KeychainStore {
    service: String,
}

impl KeychainStore {
    pub fn new(service: impl Into<String>) -> Self {
        Self {
            service: service.into(),
        }
    }

    fn entry(&self, profile: &str, kind: SecretKind) -> Result<keyring::Entry, ConsoleError> {
        let (service, user) = (self.service.clone(), format!("{profile}/{}", kind.as_str()));
        off_runtime(move || keyring::Entry::new(&service, &user).map_err(map_err))
    }
}

impl Default for KeychainStore {
    fn default() -> Self {
        Self::new("dev.gatehouse.console")
    }
}

/// What a person reads when no keychain can be used: what is missing, how to
/// fix it, and the way on without it (the window offers that sign-in).
pub const KEYCHAIN_UNAVAILABLE: &str = "The system keychain is not available: no Secret Service answered, or it is locked. Unlock it (on Linux, GNOME Keyring or KeePassXC's Secret Service; install gnome-keyring if there is none) and start Gatehouse again — or sign in without saving, and the session lasts until Gatehouse closes.";

/// Keychain errors as sentences a person can act on. Never includes the secret.
fn map_err(e: keyring::Error) -> ConsoleError {
    let msg = match &e {
        keyring::Error::NoStorageAccess(_) | keyring::Error::PlatformFailure(_) => {
            KEYCHAIN_UNAVAILABLE
        }
        keyring::Error::NoEntry => "No saved credential for this profile.",
        keyring::Error::BadEncoding(_) => {
            "The saved credential is damaged; sign in again to replace it."
        }
        keyring::Error::TooLong(..) | keyring::Error::Invalid(..) => {
            "The credential could not be stored in the keychain."
        }
        keyring::Error::Ambiguous(_) => {
            "The keychain holds several credentials for this profile; remove the extra ones and sign in again."
        }
        _ => "The system keychain reported an error.",
    };
    tracing::warn!(kind = ?std::mem::discriminant(&e), "keychain error");
    ConsoleError::new(ErrorCode::KeychainUnavailable, msg)
}

/// Runs a keychain call on a plain thread: the Secret Service client blocks on its
/// own executor, which must not happen on a thread that drives async tasks.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().expect("keychain thread"))
}

impl SecretStore for KeychainStore {
    fn get(&self, profile: &str, kind: SecretKind) -> Result<Option<String>, ConsoleError> {
        let entry = self.entry(profile, kind)?;
        off_runtime(|| match entry.get_password() {
            Ok(s) => Ok(Some(s)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_err(e)),
        })
    }

    fn set(&self, profile: &str, kind: SecretKind, secret: &str) -> Result<(), ConsoleError> {
        let entry = self.entry(profile, kind)?;
        off_runtime(|| entry.set_password(secret).map_err(map_err))
    }

    fn delete(&self, profile: &str, kind: SecretKind) -> Result<(), ConsoleError> {
        let entry = self.entry(profile, kind)?;
        off_runtime(|| match entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_err(e)),
        })
    }
}

/// Secrets held in this process only: the demo's throw-away session, a
/// sign-in without saving while the keychain is unavailable — and, as a named
/// fake of the keychain, the tests' store (`fail` makes it act unavailable).
#[derive(Default)]
pub struct MemoryStore {
    items: Mutex<HashMap<(String, SecretKind), String>>,
    /// When set, every call fails as an unavailable keychain would.
    pub fail: std::sync::atomic::AtomicBool,
}

impl MemoryStore {
    fn check(&self) -> Result<(), ConsoleError> {
        if self.fail.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(ConsoleError::new(
                ErrorCode::KeychainUnavailable,
                KEYCHAIN_UNAVAILABLE,
            ));
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.items.lock().expect("lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl SecretStore for MemoryStore {
    fn get(&self, profile: &str, kind: SecretKind) -> Result<Option<String>, ConsoleError> {
        self.check()?;
        Ok(self
            .items
            .lock()
            .expect("lock")
            .get(&(profile.to_owned(), kind))
            .cloned())
    }
    fn set(&self, profile: &str, kind: SecretKind, secret: &str) -> Result<(), ConsoleError> {
        self.check()?;
        self.items
            .lock()
            .expect("lock")
            .insert((profile.to_owned(), kind), secret.to_owned());
        Ok(())
    }
    fn delete(&self, profile: &str, kind: SecretKind) -> Result<(), ConsoleError> {
        self.check()?;
        self.items
            .lock()
            .expect("lock")
            .remove(&(profile.to_owned(), kind));
        Ok(())
    }
}
