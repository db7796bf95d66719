//! `Idempotency-Key` for creating requests: a retried request (same caller, same key,
//! same method, path and body) gets the first answer again and creates nothing twice.
//!
//! The key is kept in the same D1 batch as the write it answers for, with that answer
//! ([`Claim::keep`], [`Claim::keep_from`]): one transaction holds the write, the key and
//! the answer, or none of them. A second attempt with the key (a retry, or a concurrent
//! twin) finds its batch refused by the key the first one kept, and is answered with the
//! first answer; with another body, 422. A request that fails before its write keeps no
//! key, so a corrected retry may use it. Keys are kept 24 hours.

use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

use noizylab_core::auth::sha256_hex;
use noizylab_kit::call::now_secs;
use noizylab_kit::db::{int, Db};
use noizylab_kit::{ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::{D1PreparedStatement, Headers, Request, Response};

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

/// The key a request comes with, for its work to keep with its write.
pub struct Claim {
    actor: String,
    key: String,
    fingerprint: String,
    /// Set once the work has made the statements that keep the key.
    kept: Rc<Cell<bool>>,
}

impl Claim {
    /// The statements that keep the key with the answer `status` and `body` (known before
    /// the write): to run in the write's own batch.
    pub fn keep(&self, db: &Db, status: u16, body: &str) -> ApiResult<Vec<D1PreparedStatement>> {
        self.keep_from(db, status, "?5", &[body.into()])
    }

    /// The statements that keep the key with the answer `status` and the body `body_sql`
    /// computes (an expression of one JSON text, its arguments `args` as `?5`, `?6`, …):
    /// for an answer the write itself makes (a number it counts, say). To run in the
    /// write's batch, after it.
    pub fn keep_from(
        &self,
        db: &Db,
        status: u16,
        body_sql: &str,
        args: &[JsValue],
    ) -> ApiResult<Vec<D1PreparedStatement>> {
        let now = now_secs();
        let mut all =
            vec![self.actor.as_str().into(), self.key.as_str().into(), self.fingerprint.as_str().into(), int(now)];
        all.extend_from_slice(args);
        // Not `ON CONFLICT … DO NOTHING`: a key already kept must refuse the whole batch.
        let statements = vec![
            db.statement(
                "DELETE FROM idempotency_keys WHERE actor = ?1 AND created_at < ?2",
                &[self.actor.as_str().into(), int(now - KEEP_SECS)],
            )?,
            db.statement(
                &format!(
                    "INSERT INTO idempotency_keys (actor, key, fingerprint, created_at, status, body)
                     VALUES (?1, ?2, ?3, ?4, {status}, ({body_sql}))"
                ),
                &all,
            )?,
        ];
        self.kept.set(true);
        Ok(statements)
    }
}

/// Runs `work` once per (`actor`, `key`); without a key it just runs it (with no
/// [`Claim`]). A work handed a [`Claim`] keeps it in its write's batch.
pub async fn once<F, Fut>(
    call: &Call,
    key: Option<String>,
    actor: &str,
    fingerprint_parts: &[&[u8]],
    work: F,
) -> ApiResult<Response>
where
    F: FnOnce(Option<Claim>) -> Fut,
    Fut: Future<Output = ApiResult<Response>>,
{
    let Some(key) = key else {
        return work(None).await;
    };
    let fingerprint = sha256_hex(&fingerprint_parts.join(&0u8));
    let kept = Rc::new(Cell::new(false));
    let claim =
        Claim { actor: actor.to_owned(), key: key.clone(), fingerprint: fingerprint.clone(), kept: kept.clone() };
    match work(Some(claim)).await {
        Ok(resp) if kept.get() => Ok(resp),
        Ok(_) => Err(ApiError::internal("a keyed write did not keep its Idempotency-Key")),
        // Its write's batch made, then refused or failed: if by a key already kept, the
        // answer kept with it.
        Err(e) if kept.get() => match kept_answer(call, actor, &key).await? {
            Some(s) if s.fingerprint != fingerprint => Err(ApiError::Unprocessable(
                "this Idempotency-Key was used for a different request; use a new key".into(),
            )),
            Some(Stored { status: Some(status), body: Some(body), .. }) => replay(status as u16, body),
            // A key claimed by the earlier design, whose request never answered.
            Some(_) => {
                Err(ApiError::Conflict("a request with this Idempotency-Key is still running; retry shortly".into()))
            }
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

async fn kept_answer(call: &Call, actor: &str, key: &str) -> ApiResult<Option<Stored>> {
    call.sql()?
        .first(
            "SELECT fingerprint, status, body FROM idempotency_keys WHERE actor = ?1 AND key = ?2 AND created_at >= ?3",
            &[actor.into(), key.into(), int(now_secs() - KEEP_SECS)],
        )
        .await
}
