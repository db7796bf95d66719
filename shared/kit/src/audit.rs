//! Appending to the audit chain: straight to `main`'s `AuditLog` object for a worker bound
//! to it (`main` itself, `notifications`), else through `POST /internal/audit` on `main`.

use noizylab_core::bindings;
use noizylab_core::contracts::AuditAppend;

use crate::{ApiError, ApiResult, Call, OrInternal};

/// The one object that appends to the chain.
pub const CHAIN: &str = "chain";

/// Appends `entry` through the `AUDIT_LOG` binding; it waits its turn there, so concurrent
/// audits never fail each other.
pub async fn append(call: &Call, entry: &AuditAppend) -> ApiResult<()> {
    let body = serde_json::to_string(entry).or_internal("audit entry")?;
    let stub =
        call.object(bindings::AUDIT_LOG)?.id_from_name(CHAIN).and_then(|id| id.get_stub()).or_internal("audit log")?;
    let headers = worker::Headers::new();
    headers.set("content-type", "application/json").or_internal("header")?;
    let mut init = worker::RequestInit::new();
    init.with_method(worker::Method::Post).with_headers(headers).with_body(Some(body.into()));
    let req = worker::Request::new_with_init("https://audit/append", &init).or_internal("audit request")?;
    let resp = stub.fetch_with_request(req).await.or_internal("audit log")?;
    if resp.status_code() != 204 {
        return Err(ApiError::internal(format!("audit log answered {}", resp.status_code())));
    }
    Ok(())
}

/// Whether this worker holds the `AUDIT_LOG` binding.
pub fn bound(call: &Call) -> bool {
    call.object(bindings::AUDIT_LOG).is_ok()
}
