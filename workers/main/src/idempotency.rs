//! `Idempotency-Key` for creating requests: a retried request (same caller, same key,
//! same method, path and body) gets the first answer again and creates nothing twice.
//!
//! The key is claimed before the work runs, so two concurrent attempts cannot both run:
//! the second gets 409 until the first has answered. A request that fails (4xx/5xx)
//! releases its key, so a corrected retry may use it. Keys are kept 24 hours.

use std::future::Future;

use noizylab_core::auth::sha256_hex;
use noizylab_kit::call::now_secs;
use noizylab_kit::db::int;
use noizylab_kit::{ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use worker::{Headers, Request, Response};

const HEADER: &str = "idempotency-key";
const KEEP_SECS: i64 = 24 * 60 * 60;

#[derive(Deserialize)]
struct Stored {
    fingerprint: String,
    status: Option<i64>,
    body: Option<String>,
}

/// The request's `Idempotency-Key`, if any: 1–255 visible ASCII characters.
pub fn key_of(req: &Request) -> ApiResult<Option<String>> {
    let Some(key) = req.headers().get(HEADER).ok().flatten() else {
        return Ok(None);
    };
    let ok = !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(ApiError::invalid_field("Idempotency-Key", "an Idempotency-Key is 1-255 visible ASCII characters"));
    }
    Ok(Some(key))
}

fn replay(status: u16, body: String) -> ApiResult<Response> {
    let headers = Headers::new();
    headers.set("content-type", "application/json; charset=utf-8").or_internal("header")?;
    headers.set("idempotent-replayed", "true").or_internal("header")?;
    Ok(Response::ok(body).or_internal("response")?.with_status(status).with_headers(headers))
}

/// Runs `work` once per (`actor`, `key`); without a key it just runs it.
pub async fn once<F, Fut>(
    call: &Call,
    key: Option<String>,
    actor: &str,
    fingerprint_parts: &[&[u8]],
    work: F,
) -> ApiResult<Response>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ApiResult<Response>>,
{
    let Some(key) = key else {
        return work().await;
    };
    let fingerprint = sha256_hex(&fingerprint_parts.join(&0u8));
    let db = call.sql()?;
    let now = now_secs();
    // The caller's expired keys go and this one is claimed in one round trip.
    let changes = db
        .batch_changes(vec![
            db.statement(
                "DELETE FROM idempotency_keys WHERE actor = ?1 AND created_at < ?2",
                &[actor.into(), int(now - KEEP_SECS)],
            )?,
            db.statement(
                "INSERT INTO idempotency_keys (actor, key, fingerprint, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (actor, key) DO NOTHING",
                &[actor.into(), key.as_str().into(), fingerprint.as_str().into(), int(now)],
            )?,
        ])
        .await?;
    if changes.get(1) != Some(&1) {
        let stored: Option<Stored> = db
            .first(
                "SELECT fingerprint, status, body FROM idempotency_keys WHERE actor = ?1 AND key = ?2",
                &[actor.into(), key.as_str().into()],
            )
            .await?;
        return match stored {
            Some(s) if s.fingerprint != fingerprint => Err(ApiError::Unprocessable(
                "this Idempotency-Key was used for a different request; use a new key".into(),
            )),
            Some(Stored { status: Some(status), body: Some(body), .. }) => replay(status as u16, body),
            _ => Err(ApiError::Conflict("a request with this Idempotency-Key is still running; retry shortly".into())),
        };
    }
    let release = || async {
        db.run("DELETE FROM idempotency_keys WHERE actor = ?1 AND key = ?2", &[actor.into(), key.as_str().into()]).await
    };
    match work().await {
        Ok(mut resp) => {
            let status = resp.status_code();
            let body = resp.text().await.or_internal("response body")?;
            db.run(
                "UPDATE idempotency_keys SET status = ?3, body = ?4 WHERE actor = ?1 AND key = ?2",
                &[actor.into(), key.as_str().into(), int(i64::from(status)), body.as_str().into()],
            )
            .await?;
            let headers = resp.headers().clone();
            Ok(Response::ok(body).or_internal("response")?.with_status(status).with_headers(headers))
        }
        Err(e) => {
            release().await?;
            Err(e)
        }
    }
}
