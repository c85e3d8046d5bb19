//! A typed async client of the admin API. Tokens are held here and never printed.

use crate::{BASE, types::*};
use reqwest::{Method, StatusCode, header};
use serde::{Serialize, de::DeserializeOwned};

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The API answered with problem details.
    #[error("{} ({}): {}", .0.title, .0.code, .0.detail.as_deref().unwrap_or(""))]
    Problem(Box<Problem>, Option<StepUp>),
    #[error("the IdP could not be reached: {0}")]
    Unreachable(String),
    #[error("unexpected response from the IdP: {0}")]
    Protocol(String),
}

/// An RFC 9470 step-up challenge read from `WWW-Authenticate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepUp {
    pub acr_values: Option<String>,
    pub max_age: Option<u64>,
}

impl ClientError {
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ClientError::Problem(p, _) => Some(p),
            _ => None,
        }
    }
    pub fn code(&self) -> Option<&str> {
        self.problem().map(|p| p.code.as_str())
    }
    pub fn status(&self) -> Option<u16> {
        self.problem().map(|p| p.status)
    }
    pub fn step_up(&self) -> Option<&StepUp> {
        match self {
            ClientError::Problem(_, s) => s.as_ref(),
            _ => None,
        }
    }
}

/// A resource with the ETag to send back in `If-Match`.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub etag: String,
}

/// Optional headers of a mutation.
#[derive(Debug, Clone, Default)]
pub struct Mutation<'a> {
    pub if_match: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
}

#[derive(Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("base", &self.base)
            .field("token", &"<redacted>")
            .finish()
    }
}

fn parse_step_up(www: &str) -> Option<StepUp> {
    if !www.contains("insufficient_user_authentication") {
        return None;
    }
    let param = |name: &str| {
        let key = format!("{name}=");
        let start = www.find(&key)? + key.len();
        let rest = &www[start..];
        let v = if let Some(r) = rest.strip_prefix('"') {
            r.split('"').next()?
        } else {
            rest.split([',', ' ']).next()?
        };
        Some(v.to_owned())
    };
    Some(StepUp {
        acr_values: param("acr_values"),
        max_age: param("max_age").and_then(|m| m.parse().ok()),
    })
}

impl AdminClient {
    /// `issuer` is the IdP's issuer URL; `token` an admin access token or API token.
    pub fn new(issuer: &str, token: impl Into<String>) -> Self {
        Self::with_http(reqwest::Client::new(), issuer, token)
    }

    pub fn with_http(http: reqwest::Client, issuer: &str, token: impl Into<String>) -> Self {
        Self {
            http,
            base: format!("{}{BASE}", issuer.trim_end_matches('/')),
            token: token.into(),
        }
    }

    /// Replaces the bearer token (after a refresh or a step-up sign-in).
    pub fn set_token(&mut self, token: impl Into<String>) {
        self.token = token.into();
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&dyn erased::Body>,
        m: &Mutation<'_>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req
                .header(header::CONTENT_TYPE, "application/json")
                .body(b.to_json());
        }
        if let Some(e) = m.if_match {
            req = req.header(header::IF_MATCH, e);
        }
        if let Some(k) = m.idempotency_key {
            req = req.header("Idempotency-Key", k);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ClientError::Unreachable(e.without_url().to_string()))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let step_up = resp
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_step_up);
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        match serde_json::from_slice::<Problem>(&bytes) {
            Ok(p) => Err(ClientError::Problem(Box::new(p), step_up)),
            Err(_) => Err(ClientError::Protocol(format!(
                "HTTP {status} without problem details"
            ))),
        }
    }

    async fn json<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, ClientError> {
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    async fn versioned<T: DeserializeOwned>(
        resp: reqwest::Response,
    ) -> Result<Versioned<T>, ClientError> {
        let etag = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Protocol("no ETag".into()))?;
        Ok(Versioned {
            value: Self::json(resp).await?,
            etag,
        })
    }

    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ClientError> {
        Self::json(
            self.send(Method::GET, path, query, None, &Mutation::default())
                .await?,
        )
        .await
    }

    pub async fn post_json<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        m: &Mutation<'_>,
    ) -> Result<T, ClientError> {
        Self::json(
            self.send(Method::POST, path, &[], Some(&erased::Json(body)), m)
                .await?,
        )
        .await
    }

    pub async fn patch_json<B: Serialize + Sync, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        m: &Mutation<'_>,
    ) -> Result<T, ClientError> {
        Self::json(
            self.send(Method::PATCH, path, &[], Some(&erased::Json(body)), m)
                .await?,
        )
        .await
    }

    /// A GET whose query string is a typed list query.
    async fn get_query<Q: QueryPairs, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<T, ClientError> {
        let pairs = query.pairs();
        self.get_json(path, &borrowed(&pairs)).await
    }

    /// Raw GET (exports): the response body as text.
    pub async fn get_text(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<String, ClientError> {
        let r = self
            .send(Method::GET, path, query, None, &Mutation::default())
            .await?;
        r.text()
            .await
            .map_err(|e| ClientError::Unreachable(e.to_string()))
    }

    pub async fn whoami(&self) -> Result<WhoAmI, ClientError> {
        self.get_json("/whoami", &[]).await
    }

    pub async fn list_requests(
        &self,
        query: &RequestQuery,
    ) -> Result<Page<RequestView>, ClientError> {
        self.get_query("/connection-requests", query).await
    }

    pub async fn get_request(&self, id: &str) -> Result<Versioned<RequestView>, ClientError> {
        Self::versioned(
            self.send(
                Method::GET,
                &format!("/connection-requests/{id}"),
                &[],
                None,
                &Mutation::default(),
            )
            .await?,
        )
        .await
    }

    pub async fn approve(
        &self,
        id: &str,
        body: &ApproveRequest,
        m: &Mutation<'_>,
    ) -> Result<DecisionResult, ClientError> {
        self.post_json(&format!("/connection-requests/{id}/approve"), body, m)
            .await
    }

    pub async fn deny(
        &self,
        id: &str,
        reason: &str,
        m: &Mutation<'_>,
    ) -> Result<DecisionResult, ClientError> {
        self.post_json(
            &format!("/connection-requests/{id}/deny"),
            &DenyRequest {
                reason: reason.into(),
            },
            m,
        )
        .await
    }

    pub async fn list_connections(
        &self,
        query: &ConnectionQuery,
    ) -> Result<Page<ConnectionView>, ClientError> {
        self.get_query("/connections", query).await
    }

    pub async fn get_connection(&self, id: &str) -> Result<Versioned<ConnectionView>, ClientError> {
        Self::versioned(
            self.send(
                Method::GET,
                &format!("/connections/{id}"),
                &[],
                None,
                &Mutation::default(),
            )
            .await?,
        )
        .await
    }

    /// Registers an AI client; the answer carries its secret, once.
    pub async fn register_client(
        &self,
        body: &RegisterClient,
        m: &Mutation<'_>,
    ) -> Result<ClientWithSecret, ClientError> {
        self.post_json("/clients", body, m).await
    }

    /// A new secret for `id` (the previous one works for the overlap), once.
    pub async fn rotate_client_secret(
        &self,
        id: &str,
        body: &RotateClientSecret,
        m: &Mutation<'_>,
    ) -> Result<ClientWithSecret, ClientError> {
        self.post_json(&format!("/clients/{id}/secret"), body, m)
            .await
    }

    /// Changes a client at the version `m` names (`If-Match`).
    pub async fn update_client(
        &self,
        id: &str,
        body: &UpdateClient,
        m: &Mutation<'_>,
    ) -> Result<ClientView, ClientError> {
        self.patch_json(&format!("/clients/{id}"), body, m).await
    }

    pub async fn retire_client(
        &self,
        id: &str,
        body: &Retirement,
        m: &Mutation<'_>,
    ) -> Result<ClientView, ClientError> {
        self.post_json(&format!("/clients/{id}/retire"), body, m)
            .await
    }

    pub async fn register_resource_app(
        &self,
        body: &RegisterResourceApp,
        m: &Mutation<'_>,
    ) -> Result<ResourceAppView, ClientError> {
        self.post_json("/resource-apps", body, m).await
    }

    /// Changes a resource app at the version `m` names (`If-Match`).
    pub async fn update_resource_app(
        &self,
        id: &str,
        body: &UpdateResourceApp,
        m: &Mutation<'_>,
    ) -> Result<ResourceAppView, ClientError> {
        self.patch_json(&format!("/resource-apps/{id}"), body, m)
            .await
    }

    pub async fn retire_resource_app(
        &self,
        id: &str,
        body: &Retirement,
        m: &Mutation<'_>,
    ) -> Result<ResourceAppView, ClientError> {
        self.post_json(&format!("/resource-apps/{id}/retire"), body, m)
            .await
    }

    pub async fn modify_connection(
        &self,
        id: &str,
        body: &ModifyConnection,
        m: &Mutation<'_>,
    ) -> Result<ConnectionView, ClientError> {
        self.patch_json(&format!("/connections/{id}"), body, m)
            .await
    }

    /// An owner's answer: is connection `id`'s approval still needed?
    pub async fn attest(
        &self,
        id: &str,
        body: &AttestBody,
        m: &Mutation<'_>,
    ) -> Result<ConnectionView, ClientError> {
        self.post_json(&format!("/connections/{id}/attest"), body, m)
            .await
    }

    /// An approver renews connection `id`'s approval or lets it lapse.
    pub async fn renew(
        &self,
        id: &str,
        body: &RenewBody,
        m: &Mutation<'_>,
    ) -> Result<ConnectionView, ClientError> {
        self.post_json(&format!("/connections/{id}/renew"), body, m)
            .await
    }

    /// The least-privilege findings (open ones; with `all`, every one).
    pub async fn findings(&self, all: bool) -> Result<Vec<FindingView>, ClientError> {
        self.get_query(
            "/findings",
            &FindingQuery {
                all: all.then_some(true),
            },
        )
        .await
    }

    /// Snoozes, acknowledges, marks a false positive or reopens a finding.
    pub async fn set_finding_state(
        &self,
        id: &str,
        body: &FindingStateBody,
    ) -> Result<FindingView, ClientError> {
        self.post_json(&format!("/findings/{id}/state"), body, &Mutation::default())
            .await
    }

    /// The latest kill switches, newest first.
    pub async fn kills(&self) -> Result<Vec<KillView>, ClientError> {
        self.get_json("/kills", &[]).await
    }

    /// One kill switch, with its ETag.
    pub async fn kill(&self, id: &str) -> Result<Versioned<KillView>, ClientError> {
        Self::versioned(
            self.send(
                Method::GET,
                &format!("/kills/{id}"),
                &[],
                None,
                &Mutation::default(),
            )
            .await?,
        )
        .await
    }

    /// Turns back on what kill `id` turned off (`If-Match` its version).
    pub async fn reinstate_kill(
        &self,
        id: &str,
        reason: &str,
        m: &Mutation<'_>,
    ) -> Result<KillView, ClientError> {
        self.post_json(
            &format!("/kills/{id}/reinstate"),
            &ReasonBody {
                reason: reason.into(),
            },
            m,
        )
        .await
    }

    /// The lifecycle policies in force, with their ETag.
    pub async fn policies(&self) -> Result<Versioned<PoliciesView>, ClientError> {
        Self::versioned(
            self.send(Method::GET, "/policies", &[], None, &Mutation::default())
                .await?,
        )
        .await
    }

    /// Replaces the lifecycle policies at the version `m` names (`If-Match`).
    pub async fn set_policies(
        &self,
        body: &LifecyclePolicies,
        m: &Mutation<'_>,
    ) -> Result<PoliciesView, ClientError> {
        Self::json(
            self.send(Method::PUT, "/policies", &[], Some(&erased::Json(body)), m)
                .await?,
        )
        .await
    }

    /// Evaluates the lifecycle policies now.
    pub async fn run_policies(&self) -> Result<PolicyRunReport, ClientError> {
        Self::json(
            self.send(
                Method::POST,
                "/policies/run",
                &[],
                None,
                &Mutation::default(),
            )
            .await?,
        )
        .await
    }

    /// Where approvers are notified.
    pub async fn notification_channels(&self) -> Result<Vec<ChannelView>, ClientError> {
        self.get_json("/notification-channels", &[]).await
    }

    /// Adds a channel; a webhook's signing secret is in the answer, once.
    pub async fn create_notification_channel(
        &self,
        body: &CreateChannel,
        m: &Mutation<'_>,
    ) -> Result<ChannelCreated, ClientError> {
        self.post_json("/notification-channels", body, m).await
    }

    /// Deletes a channel (its receipts stay).
    pub async fn delete_notification_channel(&self, id: &str) -> Result<(), ClientError> {
        self.send(
            Method::DELETE,
            &format!("/notification-channels/{id}"),
            &[],
            None,
            &Mutation::default(),
        )
        .await
        .map(|_| ())
    }

    /// A channel's newest deliveries with their receipts.
    pub async fn notification_deliveries(
        &self,
        id: &str,
    ) -> Result<Vec<DeliveryView>, ClientError> {
        self.get_json(&format!("/notification-channels/{id}/deliveries"), &[])
            .await
    }

    /// `action` is `suspend`, `resume` or `revoke`.
    pub async fn connection_action(
        &self,
        id: &str,
        action: crate::ConnectionAction,
        reason: &str,
        m: &Mutation<'_>,
    ) -> Result<ConnectionView, ClientError> {
        self.post_json(
            &format!("/connections/{id}/{action}"),
            &ReasonBody {
                reason: reason.into(),
            },
            m,
        )
        .await
    }

    pub async fn bulk_revoke(
        &self,
        body: &BulkRevoke,
        m: &Mutation<'_>,
    ) -> Result<BulkRevokeResult, ClientError> {
        self.post_json("/connections/bulk-revoke", body, m).await
    }

    pub async fn audit(&self, query: &AuditQuery) -> Result<Page<AuditEventView>, ClientError> {
        self.get_query("/audit", query).await
    }

    /// The whole log (or what `query.filter` selects) in `query.format`.
    pub async fn audit_export(&self, query: &ExportQuery) -> Result<String, ClientError> {
        let pairs = query.pairs();
        self.get_text("/audit/export", &borrowed(&pairs)).await
    }

    pub async fn audit_verify(&self) -> Result<ChainReportView, ClientError> {
        self.post_json(
            "/audit/verify",
            &serde_json::json!({}),
            &Mutation::default(),
        )
        .await
    }

    pub async fn create_api_token(
        &self,
        body: &CreateApiToken,
    ) -> Result<ApiTokenCreated, ClientError> {
        self.post_json("/api-tokens", body, &Mutation::default())
            .await
    }

    pub async fn revoke_api_token(&self, id: &str) -> Result<ApiTokenView, ClientError> {
        self.post_json(
            &format!("/api-tokens/{id}/revoke"),
            &serde_json::json!({}),
            &Mutation::default(),
        )
        .await
    }

    pub async fn stats(&self) -> Result<StatsView, ClientError> {
        self.get_json("/stats", &[]).await
    }

    // ---- access reviews ----

    pub async fn create_campaign(
        &self,
        body: &CreateCampaign,
    ) -> Result<CampaignView, ClientError> {
        self.post_json("/reviews", body, &Mutation::default()).await
    }

    pub async fn campaigns(&self) -> Result<Vec<CampaignView>, ClientError> {
        self.get_json("/reviews", &[]).await
    }

    pub async fn campaign(&self, id: &str) -> Result<CampaignView, ClientError> {
        self.get_json(&format!("/reviews/{id}"), &[]).await
    }

    /// Items of a campaign.
    pub async fn review_items(
        &self,
        id: &str,
        query: &ItemQuery,
    ) -> Result<Page<ReviewItemView>, ClientError> {
        self.get_query(&format!("/reviews/{id}/items"), query).await
    }

    pub async fn decide_items(
        &self,
        id: &str,
        body: &ReviewDecisions,
    ) -> Result<Vec<ReviewItemView>, ClientError> {
        self.post_json(
            &format!("/reviews/{id}/decisions"),
            body,
            &Mutation::default(),
        )
        .await
    }

    pub async fn reassign_item(
        &self,
        id: &str,
        item: &str,
        body: &Reassign,
    ) -> Result<ReviewItemView, ClientError> {
        self.post_json(
            &format!("/reviews/{id}/items/{item}/reassign"),
            body,
            &Mutation::default(),
        )
        .await
    }

    pub async fn complete_campaign(&self, id: &str) -> Result<CampaignView, ClientError> {
        self.post_json(
            &format!("/reviews/{id}/complete"),
            &serde_json::json!({}),
            &Mutation::default(),
        )
        .await
    }

    /// The report as bytes.
    pub async fn review_report(
        &self,
        id: &str,
        format: ReportFormat,
    ) -> Result<Vec<u8>, ClientError> {
        let r = self
            .send(
                Method::GET,
                &format!("/reviews/{id}/report"),
                &[("format", format.as_str().into())],
                None,
                &Mutation::default(),
            )
            .await?;
        r.bytes()
            .await
            .map(|b| b.to_vec())
            .map_err(|e| ClientError::Unreachable(e.to_string()))
    }

    /// Opens the change stream, resuming after `last_event_id` when given.
    pub async fn events(
        &self,
        last_event_id: Option<i64>,
    ) -> Result<crate::sse::EventStream, ClientError> {
        let mut req = self
            .http
            .get(format!("{}/events", self.base))
            .bearer_auth(&self.token)
            .header(header::ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = req
            .send()
            .await
            .map_err(|e| ClientError::Unreachable(e.without_url().to_string()))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let bytes = resp.bytes().await.unwrap_or_default();
            return Err(match serde_json::from_slice::<Problem>(&bytes) {
                Ok(p) => ClientError::Problem(Box::new(p), None),
                Err(_) => ClientError::Protocol(format!("HTTP {status} opening the event stream")),
            });
        }
        Ok(crate::sse::EventStream::new(resp))
    }

    /// An arbitrary call, for tests that probe every route (the role matrix).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<StatusCode, ClientError> {
        let b = body.map(erased::Json);
        match self
            .send(
                method,
                path,
                &[],
                b.as_ref().map(|b| b as &dyn erased::Body),
                &Mutation::default(),
            )
            .await
        {
            Ok(r) => Ok(r.status()),
            Err(ClientError::Problem(p, _)) => {
                Ok(StatusCode::from_u16(p.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
            }
            Err(e) => Err(e),
        }
    }
}

mod erased {
    pub trait Body: Sync {
        fn to_json(&self) -> Vec<u8>;
    }
    pub struct Json<T>(pub T);
    impl<T: serde::Serialize + Sync> Body for Json<T> {
        fn to_json(&self) -> Vec<u8> {
            serde_json::to_vec(&self.0).expect("request body serializes")
        }
    }
}

fn borrowed(pairs: &[(String, String)]) -> Vec<(&str, String)> {
    pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_rfc9470_challenge() {
        let s = parse_step_up(r#"Bearer error="insufficient_user_authentication", error_description="x", acr_values="urn:gatehouse:acr:mfa", max_age=600"#).unwrap();
        assert_eq!(s.acr_values.as_deref(), Some("urn:gatehouse:acr:mfa"));
        assert_eq!(s.max_age, Some(600));
        assert!(parse_step_up("Bearer error=\"invalid_token\"").is_none());
    }

    #[test]
    fn debug_never_shows_the_token() {
        let c = AdminClient::new("http://x", "secret-token-value");
        assert!(!format!("{c:?}").contains("secret-token-value"));
    }
}
