//! A JSON GET with a deadline and a size cap: another party's documents
//! (metadata, key sets, token responses) never cost unbounded time or memory.

use std::time::Duration;

/// The deadline of one fetch.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest document read (a key set with many RSA keys stays far below).
pub const MAX_BYTES: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Http(String),
    #[error("the answer was HTTP {0}")]
    Status(u16),
    #[error("the answer is larger than {MAX_BYTES} bytes")]
    TooLarge,
    #[error("the answer is not the JSON expected: {0}")]
    Json(String),
}

/// Reads at most [`MAX_BYTES`] of `resp`'s body and parses it as `T`.
pub async fn read_json<T: serde::de::DeserializeOwned>(
    mut resp: reqwest::Response,
) -> Result<T, FetchError> {
    if resp.content_length().is_some_and(|n| n > MAX_BYTES as u64) {
        return Err(FetchError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| FetchError::Http(e.to_string()))?
    {
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(FetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| FetchError::Json(e.to_string()))
}

/// GETs `url` as JSON within [`TIMEOUT`] and [`MAX_BYTES`].
pub async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
) -> Result<T, FetchError> {
    let resp = http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(TIMEOUT)
        .send()
        .await
        .map_err(|e| FetchError::Http(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(FetchError::Status(resp.status().as_u16()));
    }
    tokio::time::timeout(TIMEOUT, read_json(resp))
        .await
        .map_err(|_| FetchError::Http("timed out reading the answer".into()))?
}
