//! `GET /health`: the service, its version, and a live check of every binding it holds.
//!
//! | kind | live check |
//! |---|---|
//! | D1 | counts applied migrations (fails if the schema was never migrated) |
//! | KV | reads a probe key |
//! | R2 | heads a probe key |
//! | Durable Object | fetches `/__health` from a probe instance |
//! | service | fetches the worker's `/health/ping`, signed (skipped with `?scope=local`) |
//! | queue producer | present (a queue has no side-effect-free probe: `bound`) |
//!
//! The gateway's aggregate asks every worker with `scope=local`: it probes each worker
//! itself, so following service links again would only multiply invocations (a request
//! may invoke at most 32 workers).

use futures_util::future::join_all;
use noizylab_core::error::ApiError;
use noizylab_core::health::{Check, CheckStatus, Report};
use noizylab_core::services::{Binding, BindingKind};
use noizylab_core::VERSION;
use serde::Deserialize;
use worker::{Method, Request, Response};

use crate::{http, ApiResult, Call};

/// The path a Durable Object answers its health probe on.
pub const OBJECT_HEALTH_PATH: &str = "/__health";

#[derive(Deserialize)]
struct Count {
    n: u64,
}

fn elapsed_ms(start: u64) -> u64 {
    crate::time::now_millis().saturating_sub(start)
}

async fn check(call: &Call, binding: Binding, deep: bool) -> Check {
    let start = crate::time::now_millis();
    let outcome: Result<(CheckStatus, Option<String>), String> = match binding.kind {
        BindingKind::D1 => match call.env.d1(binding.name) {
            Ok(db) => db
                .prepare("SELECT COUNT(*) AS n FROM d1_migrations")
                .first::<Count>(None)
                .await
                .map(|c| (CheckStatus::Ok, Some(format!("{} migrations applied", c.map(|c| c.n).unwrap_or(0)))))
                .map_err(|e| format!("query failed (is the schema migrated?): {e}")),
            Err(e) => Err(e.to_string()),
        },
        BindingKind::Kv => match call.env.kv(binding.name) {
            Ok(kv) => kv.get("health:probe").text().await.map(|_| (CheckStatus::Ok, None)).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        BindingKind::R2 => match call.env.bucket(binding.name) {
            Ok(bucket) => bucket.head("health/probe").await.map(|_| (CheckStatus::Ok, None)).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        BindingKind::Queue => {
            call.env.queue(binding.name).map(|_| (CheckStatus::Bound, None)).map_err(|e| e.to_string())
        }
        BindingKind::DurableObject => probe_object(call, binding.name).await,
        BindingKind::Assets => {
            call.env.assets(binding.name).map(|_| (CheckStatus::Bound, None)).map_err(|e| e.to_string())
        }
        BindingKind::Service if !deep => Ok((CheckStatus::Skipped, Some("probed directly by the caller".into()))),
        BindingKind::Service => match call.internal(binding.name, Method::Get, "/health/ping", None).await {
            Ok(resp) if resp.status_code() == 200 => Ok((CheckStatus::Ok, None)),
            Ok(resp) => Err(format!("answered {}", resp.status_code())),
            Err(e) => Err(e.to_string()),
        },
    };
    let (status, detail) = outcome.unwrap_or_else(|e| (CheckStatus::Failed, Some(e)));
    Check {
        binding: binding.name.to_owned(),
        kind: binding.kind.as_str().to_owned(),
        status,
        latency_ms: elapsed_ms(start),
        detail,
    }
}

async fn probe_object(call: &Call, name: &str) -> Result<(CheckStatus, Option<String>), String> {
    let ns = call.env.durable_object(name).map_err(|e| e.to_string())?;
    let stub = ns.id_from_name("health-probe").and_then(|id| id.get_stub()).map_err(|e| e.to_string())?;
    let resp = stub.fetch_with_str(&format!("https://object{OBJECT_HEALTH_PATH}")).await.map_err(|e| e.to_string())?;
    match resp.status_code() {
        200 => Ok((CheckStatus::Ok, None)),
        other => Err(format!("answered {other}")),
    }
}

pub async fn report(call: &Call, deep: bool) -> Report {
    let checks = join_all(call.spec.bindings.iter().map(|b| check(call, *b, deep))).await;
    Report::new(call.service(), VERSION, checks)
}

/// `GET /health[?scope=local]`: 200 when healthy, 503 with the same body when not.
pub async fn handle(req: &Request, call: &Call) -> ApiResult<Response> {
    let local = req.url().map(|u| u.query_pairs().any(|(k, v)| k == "scope" && v == "local")).unwrap_or(false);
    let report = report(call, !local).await;
    http::json(if report.is_ok() { 200 } else { 503 }, &report)
}

/// `GET /health/ping`: answered without touching any binding, for service-link checks.
pub fn ping(call: &Call) -> ApiResult<Response> {
    http::ok(&serde_json::json!({ "service": call.service(), "version": VERSION }))
}

/// A Durable Object's answer to [`OBJECT_HEALTH_PATH`].
pub fn object_ok(class: &str) -> worker::Result<Response> {
    http::ok(&serde_json::json!({ "object": class, "status": "ok" }))
        .map_err(|e: ApiError| worker::Error::RustError(e.to_string()))
}
