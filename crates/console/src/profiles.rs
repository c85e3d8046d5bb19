//! IdP profiles: a name and an issuer URL, saved as JSON in the console's config
//! directory. No secret is ever written here.

use crate::error::{ConsoleError, ErrorCode};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Profile {
    pub id: String,
    pub name: String,
    pub issuer: String,
    /// The console's client id at that IdP (public client).
    pub client_id: String,
    /// Where the console looks for its own updates (an `https` feed the
    /// organisation publishes); none: no checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_feed: Option<String>,
}

/// The saved profiles, one JSON file.
pub struct ProfileStore {
    path: PathBuf,
}

impl ProfileStore {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn list(&self) -> Result<Vec<Profile>, ConsoleError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                ConsoleError::new(
                    ErrorCode::Internal,
                    format!("The profiles file is damaged: {e}"),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(vec![]),
            Err(e) => Err(ConsoleError::new(
                ErrorCode::Internal,
                format!("Cannot read the profiles file: {e}"),
            )),
        }
    }

    /// Adds or replaces a profile (by id); written atomically.
    pub fn save(&self, p: &Profile) -> Result<(), ConsoleError> {
        let mut all = self.list()?;
        all.retain(|x| x.id != p.id);
        all.push(p.clone());
        self.write(&all)
    }

    pub fn remove(&self, id: &str) -> Result<(), ConsoleError> {
        let mut all = self.list()?;
        all.retain(|x| x.id != id);
        self.write(&all)
    }

    fn write(&self, all: &[Profile]) -> Result<(), ConsoleError> {
        let io = |e: std::io::Error| {
            ConsoleError::new(ErrorCode::Internal, format!("Cannot save profiles: {e}"))
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = self.path.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(all).expect("profiles serialize"),
        )
        .map_err(io)?;
        std::fs::rename(&tmp, &self.path).map_err(io)
    }
}
