//! `/token`: authorization code (PKCE S256 required), refresh token with rotation,
//! and the XAA token exchange that mints ID-JAGs behind the policy gate.

use crate::{
    audit::{AuditEvent, AuditOutcome},
    client_auth::{Authenticated, authenticate},
    connection_cache::{Source, Want},
    http_error::{OAuthResponse, db_error, token_json},
    policy::{self, Subject, Verdict},
    refusals::Seen,
    state::{Idp, SharedIdp},
    store::{CodeRedemption, Grant, RefreshOutcome, RequestSighting},
};
use axum::{
    extract::State,
    http::HeaderMap,
    response::{IntoResponse, Response},
};
use serde_json::json;
use xaa::{
    IdJagClaims, IdTokenClaims, OAuthError, ScopeSet, SubjectTokenType, TokenExchangeRequest,
    idjag, request::Form, util,
};

pub async fn token(
    State(idp): State<SharedIdp>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match dispatch(&idp, &headers, &body).await {
        Ok(r) => r,
        Err(e) => OAuthResponse(e).into_response(),
    }
}

fn parse_form(body: &[u8]) -> Result<Form, OAuthError> {
    Form::parse(body)
}

async fn dispatch(
    idp: &SharedIdp,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthError> {
    let form = parse_form(body)?;
    match form.grant_type()? {
        "authorization_code" => authorization_code(idp, headers, &form).await,
        "refresh_token" => refresh(idp, headers, &form).await,
        xaa::GRANT_TOKEN_EXCHANGE => exchange(idp, headers, &form).await,
        _ => Err(OAuthError::new(
            xaa::ErrorCode::UnsupportedGrantType,
            "this grant type is not supported",
        )),
    }
}

async fn authorization_code(
    idp: &Idp,
    headers: &HeaderMap,
    form: &Form,
) -> Result<Response, OAuthError> {
    let auth = authenticate(idp, headers, form).await?;
    let code = form.require("code")?;
    let verifier = form
        .get("code_verifier")
        .ok_or_else(|| OAuthError::invalid_grant("code_verifier is required (PKCE)"))?;
    let now = idp.now();
    let c = match idp
        .store
        .redeem_code(&util::sha256_hex(code.as_bytes()), now)
        .await
        .map_err(db_error)?
    {
        CodeRedemption::Ok(c) => c,
        CodeRedemption::Unknown => {
            return Err(OAuthError::invalid_grant(
                "the authorization code is not valid",
            ));
        }
        CodeRedemption::Reused => {
            return Err(OAuthError::invalid_grant(
                "the authorization code was already used; tokens issued from it are revoked",
            ));
        }
    };
    if c.client_id != auth.client.client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if c.expires_at <= now {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    if form.get("redirect_uri") != Some(c.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    if !util::constant_time_eq(
        util::pkce_s256(verifier).as_bytes(),
        c.code_challenge.as_bytes(),
    ) {
        return Err(OAuthError::invalid_grant(
            "the PKCE code_verifier does not match",
        ));
    }
    let grant = Grant {
        family: c.family,
        client_id: c.client_id,
        username: c.username,
        scope: c.scope,
        auth_time: c.auth_time,
        acr: c.acr,
        amr: c.amr,
    };
    issue_tokens(idp, &auth, &grant, c.nonce).await
}

async fn refresh(idp: &Idp, headers: &HeaderMap, form: &Form) -> Result<Response, OAuthError> {
    let auth = authenticate(idp, headers, form).await?;
    let rt = form.require("refresh_token")?;
    let now = idp.now();
    let hash = util::sha256_hex(rt.as_bytes());
    match idp
        .store
        .use_refresh_token(&hash, &auth.client.client_id, now, true)
        .await
        .map_err(db_error)?
    {
        RefreshOutcome::Ok(grant) => {
            if let Some(s) = form.get("scope") {
                let asked = ScopeSet::parse(s)
                    .ok_or_else(|| OAuthError::invalid_scope("malformed scope"))?;
                if !asked.is_subset(&ScopeSet::parse(&grant.scope).unwrap_or_default()) {
                    return Err(OAuthError::invalid_scope(
                        "a refresh cannot widen the scope",
                    ));
                }
            }
            issue_tokens(idp, &auth, &grant, None).await
        }
        RefreshOutcome::Unknown => Err(OAuthError::invalid_grant("the refresh token is not valid")),
        RefreshOutcome::ReuseDetected => {
            let mut e = AuditEvent::new("refresh_token.reuse", AuditOutcome::Refused);
            e.client_id = Some(auth.client.client_id.clone());
            e.reason = Some("a rotated refresh token was presented; its family is revoked".into());
            let _ = idp.audit.record(e, idp.now_ms()).await;
            Err(OAuthError::invalid_grant(
                "the refresh token was already used; the session is revoked",
            ))
        }
    }
}

/// The person behind a grant or subject token, from the directory: refused
/// when they were deleted or deactivated since the token was issued.
async fn active_person(
    idp: &Idp,
    username: &str,
) -> Result<idp_store::directory::DirectoryEntry, OAuthError> {
    usable_person(idp.person(username).await.map_err(db_error)?)
}

/// The person as read, refused when deleted or deactivated.
fn usable_person(
    person: Option<idp_store::directory::DirectoryEntry>,
) -> Result<idp_store::directory::DirectoryEntry, OAuthError> {
    match person {
        Some(p) if p.active => Ok(p),
        Some(_) => Err(OAuthError::invalid_grant(
            "the subject's account is deactivated",
        )),
        None => Err(OAuthError::invalid_grant(
            "the subject's account no longer exists",
        )),
    }
}

/// Issues an access token, a refresh token and an ID token for a sign-in.
async fn issue_tokens(
    idp: &Idp,
    auth: &Authenticated,
    g: &Grant,
    nonce: Option<String>,
) -> Result<Response, OAuthError> {
    let now = idp.now();
    let lt = &idp.config.tokens;
    let user = active_person(idp, &g.username).await?;
    let access = util::random_token(32);
    let refresh = util::random_token(32);
    idp.store
        .insert_access_token(
            &util::sha256_hex(access.as_bytes()),
            g,
            now + lt.access_token as i64,
        )
        .await
        .map_err(db_error)?;
    idp.store
        .insert_refresh_token(
            &util::sha256_hex(refresh.as_bytes()),
            g,
            now + lt.refresh_token as i64,
            now,
        )
        .await
        .map_err(db_error)?;
    let id_token = idp.key.sign(
        "JWT",
        &IdTokenClaims {
            iss: idp.issuer().to_owned(),
            sub: user.username.clone(),
            aud: xaa::Audience::One(auth.client.client_id.clone()),
            exp: (now + lt.id_token as i64) as u64,
            iat: now as u64,
            auth_time: Some(g.auth_time as u64),
            nonce,
            acr: Some(g.acr.clone()),
            amr: Some(g.amr.clone()),
            azp: Some(auth.client.client_id.clone()),
            email: user.email.clone(),
            name: user.name.clone(),
            groups: Some(user.groups.clone()),
            sid: Some(g.family.clone()),
        },
    );
    Ok(token_json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": lt.access_token,
        "refresh_token": refresh,
        "id_token": id_token,
        "scope": g.scope,
    })))
}

/// The user behind a subject token, as the gate needs it.
struct SubjectInfo {
    username: String,
    acr: Option<String>,
    auth_time: Option<u64>,
}

/// Validates the subject token: an ID token this IdP issued to *this* client, an
/// ID token of a trusted issuer whose audience maps to this client, or a
/// refresh token of this client.
async fn subject(
    idp: &Idp,
    client_id: &str,
    req: &TokenExchangeRequest,
) -> Result<SubjectInfo, OAuthError> {
    let now = idp.now();
    match req.subject_token_type {
        SubjectTokenType::IdToken => {
            // The unverified `iss` only picks whose keys verify the token.
            let claimed = (!idp.trusted.is_empty())
                .then(|| xaa::jws::insecure_peek_payload(&req.subject_token))
                .flatten();
            if let Some(iss) = claimed.as_ref().and_then(|c| c["iss"].as_str())
                && iss != idp.issuer()
            {
                let t = idp.trusted.find(iss).ok_or_else(|| {
                    OAuthError::invalid_grant(
                        "the subject token was not issued by this IdP or a trusted issuer",
                    )
                })?;
                let s =
                    crate::external_subject::subject(idp, t, client_id, &req.subject_token).await?;
                return Ok(SubjectInfo {
                    username: s.username,
                    acr: s.acr,
                    auth_time: s.auth_time,
                });
            }
            let c = idp.verified_id_token(&req.subject_token).await?;
            if c.iss != idp.issuer() {
                return Err(OAuthError::invalid_grant(
                    "the subject token was not issued by this IdP",
                ));
            }
            let single = c.aud.single();
            let for_client = single == Some(client_id)
                || (single.is_none()
                    && c.aud.contains(client_id)
                    && c.azp.as_deref() == Some(client_id));
            if !for_client {
                return Err(OAuthError::invalid_grant(
                    "the subject token was issued to a different client",
                ));
            }
            if (c.exp as i64) <= now {
                return Err(OAuthError::invalid_grant("the subject token has expired"));
            }
            if (c.iat as i64) > now + 30 {
                return Err(OAuthError::invalid_grant(
                    "the subject token was issued in the future",
                ));
            }
            Ok(SubjectInfo {
                username: c.sub,
                acr: c.acr,
                auth_time: c.auth_time,
            })
        }
        SubjectTokenType::RefreshToken => {
            let hash = util::sha256_hex(req.subject_token.as_bytes());
            match idp
                .store
                .use_refresh_token(&hash, client_id, now, false)
                .await
                .map_err(db_error)?
            {
                RefreshOutcome::Ok(g) => Ok(SubjectInfo {
                    username: g.username,
                    acr: Some(g.acr),
                    auth_time: Some(g.auth_time as u64),
                }),
                _ => Err(OAuthError::invalid_grant(
                    "the subject refresh token is not valid",
                )),
            }
        }
    }
}

/// How an exchange's outcome enters the audit log.
struct Audited {
    /// Its own event, committed before the answer...
    event: AuditEvent,
    /// ...unless it repeats a refusal recorded in full this window: then it is
    /// counted, and written with the window's count (see [`crate::refusals`]).
    repeat: bool,
    /// Whether the gate may answer from this node's memory.
    want: Want,
    /// The gate epoch the outcome stands on, when the gate answered from
    /// memory: the event commits (and the answer goes out) only at that epoch.
    epoch: Option<i64>,
}

/// The token exchange: every outcome after parsing is audited, success or
/// refusal (a repeated refusal within its count).
async fn exchange(idp: &Idp, headers: &HeaderMap, form: &Form) -> Result<Response, OAuthError> {
    let mut want = Want::Remembered;
    let (result, recorded) = loop {
        let mut ev = AuditEvent::new("id_jag.exchange", AuditOutcome::Refused);
        ev.client_id = form.get("client_id").map(str::to_owned);
        ev.target = form.get("audience").map(str::to_owned);
        let mut audited = Audited {
            event: ev,
            repeat: false,
            want,
            epoch: None,
        };
        let result = exchange_inner(idp, headers, form, &mut audited).await;
        if audited.repeat {
            idp.metrics
                .exchanges
                .inc(["refused", xaa::ErrorCode::AccessDenied.as_str()]);
            return result;
        }
        let mut ev = audited.event;
        match &result {
            Ok(_) => ev.outcome = AuditOutcome::Success.as_str().into(),
            Err(e) => {
                ev.reason = Some(e.to_string());
                if let Some(id) = &e.connection_request_id {
                    ev.detail["connection_request_id"] = json!(id);
                }
            }
        }
        let appending = std::time::Instant::now();
        let recorded = match audited.epoch {
            None => idp.audit.record(ev, idp.now_ms()).await,
            Some(epoch) => match idp.audit.record_at_epoch(ev, idp.now_ms(), epoch).await {
                Ok(Some(seq)) => Ok(seq),
                // What the gate remembered has changed since: the answer
                // (an ID-JAG, perhaps) is dropped unseen, and the exchange is
                // decided again on what is true now.
                Ok(None) => {
                    idp.metrics.gate_views.inc(["stale"]);
                    idp.connections.forget_views_before(epoch + 1);
                    want = Want::Now;
                    continue;
                }
                Err(e) => Err(e),
            },
        };
        idp.metrics
            .audit_append
            .observe([], appending.elapsed().as_secs_f64());
        break (result, recorded);
    };
    let counted = match (&recorded, &result) {
        (Err(_), _) => ("error", "server_error"),
        (Ok(_), Ok(_)) => ("success", ""),
        (Ok(_), Err(e)) if e.error == xaa::ErrorCode::ServerError => ("error", e.error.as_str()),
        (Ok(_), Err(e)) => ("refused", e.error.as_str()),
    };
    idp.metrics.exchanges.inc([counted.0, counted.1]);
    recorded.map_err(|e| OAuthError::server_error(format!("{e}; no ID-JAG was issued")))?;
    result
}

async fn exchange_inner(
    idp: &Idp,
    headers: &HeaderMap,
    form: &Form,
    audited: &mut Audited,
) -> Result<Response, OAuthError> {
    // 1. The client is authenticated (confidential clients only).
    let auth = authenticate(idp, headers, form).await?;
    audited.event.client_id = Some(auth.client.client_id.clone());
    if !auth.confidential {
        return Err(OAuthError::invalid_client(
            "token exchange requires client authentication",
        ));
    }
    let req = TokenExchangeRequest::from_form(form)?;
    // 2. The subject token is valid and was issued to this client.
    let who = subject(idp, &auth.client.client_id, &req).await?;
    audited.event.subject = Some(who.username.clone());
    let app = idp.catalog().resource_app_by_audience(&req.audience);
    let now = idp.now();
    let mut want = audited.want;
    let (user, app, verdict) = loop {
        // One read of everything the gate needs (one statement on
        // PostgreSQL, or this node's memory); the checks below keep their order.
        let (view, source) = idp
            .connections
            .gate(
                &idp.store,
                &who.username,
                &auth.client.client_id,
                app.as_ref().map(|a| a.id.as_str()),
                want,
            )
            .await
            .map_err(db_error)?;
        idp.metrics.gate_views.inc([source.label()]);
        // Whatever is decided from here stands on this view.
        audited.epoch = match source {
            Source::Remembered { epoch } => Some(epoch),
            Source::Now => None,
        };
        let user = usable_person(view.person)?;
        if view.blocked {
            return Err(OAuthError::access_denied(
                None,
                "the help desk has suspended this user's AI app access",
            ));
        }
        // 3. The audience and resource are known.
        let app = app.clone().ok_or_else(|| {
            OAuthError::invalid_target("the audience is not a known resource authorization server")
        })?;
        if let Some(r) = &req.resource
            && !app.mcp_servers.iter().any(|s| s == r)
        {
            return Err(OAuthError::invalid_target(
                "the resource is not served by that authorization server",
            ));
        }
        // 4–7. Connection, groups, scopes, step-up.
        let verdict = policy::decide(
            &app,
            view.connection.as_ref(),
            req.resource.as_deref(),
            req.scope.as_ref(),
            &Subject {
                username: &user.username,
                groups: &user.groups,
                acr: who.acr.as_deref(),
                auth_time: who.auth_time,
            },
            idp.config.tokens.id_jag,
            now,
        );
        // No connection records a request and may be answered again without
        // an audit commit to check the epoch at: the epoch is checked now
        // (one read shared with the refusals asking meanwhile), and a view
        // that has gone stale is read again.
        if matches!(verdict, Verdict::NoConnection { .. })
            && let Some(epoch) = audited.epoch
        {
            let current = idp.connections.epoch_now(&idp.store).await;
            if current.map_err(db_error)? != epoch {
                want = Want::Now;
                continue;
            }
            // True as of a read after the exchange began.
            audited.epoch = None;
        }
        break (user, app, verdict);
    };
    let ev = &mut audited.event;
    let (scopes, lifetime, connection_id, connection_version) = match verdict {
        Verdict::Allow {
            scopes,
            lifetime,
            connection_id,
            connection_version,
        } => (scopes, lifetime, connection_id, connection_version),
        Verdict::Refuse(e) => return Err(e),
        Verdict::NoConnection { why } => {
            let wanted = req.scope.as_ref().map(ScopeSet::to_vec).unwrap_or_default();
            let key = crate::refusals::RefusalKey {
                client_id: auth.client.client_id.clone(),
                resource_app: app.id.clone(),
                username: user.username.clone(),
                why,
            };
            let resource = req.resource.as_deref();
            let claim = loop {
                match idp.refusals.see(&key, &wanted, resource, idp.now_ms()) {
                    Seen::Repeat(id, description) => {
                        audited.repeat = true;
                        return Err(OAuthError::access_denied(Some(id), description));
                    }
                    Seen::First(claim) => break Some(claim),
                    Seen::Full => break None,
                    Seen::Wait(mut recording) => {
                        // Ends when the recorder finishes or gives up.
                        let _ = recording.changed().await;
                    }
                }
            };
            let (id, change) = idp
                .store
                .upsert_request(
                    &RequestSighting {
                        client_id: &auth.client.client_id,
                        resource_app: &app.id,
                        scopes: &wanted,
                        resource,
                        user: Some((&user.username, &user.groups)),
                        justification: None,
                        refused: true,
                    },
                    now,
                )
                .await
                .map_err(db_error)?;
            if let Some(c) = change {
                if c.kind == admin_api::ChangeKind::RequestCreated {
                    let e = crate::audit::request_created(
                        &auth.client.client_id,
                        Some(&user.username),
                        &id,
                        &app.id,
                        &wanted,
                    );
                    idp.audit
                        .record(e, idp.now_ms())
                        .await
                        .map_err(|e| OAuthError::server_error(e.to_string()))?;
                }
                idp.changes.send(c).ok();
            }
            let description = format!(
                "{why}; pending connection request {id} records this attempt for an approver"
            );
            let refusal = OAuthError::access_denied(Some(id.clone()), description.clone());
            if let Some(claim) = claim {
                idp.refusals.recorded(
                    key,
                    claim,
                    crate::refusals::Recorded {
                        request_id: &id,
                        target: &req.audience,
                        reason: &refusal.to_string(),
                        description: &description,
                        scopes: &wanted,
                        resource,
                    },
                    idp.now_ms(),
                );
            }
            return Err(refusal);
        }
    };
    // 8. Mint.
    let claims = IdJagClaims {
        iss: idp.issuer().to_owned(),
        sub: user.username.clone(),
        aud: app.issuer.clone(),
        client_id: app.client_id_for(&auth.client.client_id).to_owned(),
        jti: util::random_token(16),
        exp: now as u64 + lifetime,
        iat: now as u64,
        nbf: None,
        resource: req.resource.clone(),
        scope: Some(scopes.to_string()),
        auth_time: who.auth_time,
        acr: who.acr.clone(),
        amr: None,
        email: user.email.clone(),
        tenant: None,
        aud_sub: None,
        cnf: None,
        connection_id: Some(connection_id.clone()),
        connection_version: Some(connection_version),
    };
    let jag = idjag::mint(&idp.key, &claims);
    ev.detail = json!({
        "connection_id": connection_id, "scope": claims.scope, "resource": claims.resource,
        "jti": claims.jti, "exp": claims.exp,
    });
    if idp.touch_due(&connection_id, now) {
        idp.store
            .touch_connection(&connection_id, now)
            .await
            .map_err(db_error)?;
    }
    let mut body = json!({
        "access_token": jag,
        "issued_token_type": xaa::TOKEN_TYPE_ID_JAG,
        "token_type": "N_A",
        "expires_in": lifetime,
    });
    if req.scope.as_ref() != Some(&scopes) {
        body["scope"] = json!(scopes.to_string());
    }
    Ok(token_json(body))
}
