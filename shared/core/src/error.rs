//! The one error body of the platform:
//! `{"error":{"code":"not_found","message":"…","request_id":"…"}}`.
//!
//! Domain code returns [`ApiError`]; each variant documents its HTTP status. Internal
//! failures carry no detail outward: the adapter logs them and answers a generic message.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// 400: the input is malformed; `field` names what to fix when one field is at fault.
    BadRequest { message: String, field: Option<String> },
    /// 401: no valid credentials.
    Unauthenticated(String),
    /// 403: authenticated, but not allowed.
    Forbidden(String),
    /// 404: nothing here (also answers for things the caller may not know exist).
    NotFound(String),
    /// 405: the path exists, the method does not.
    MethodNotAllowed { allowed: Vec<&'static str> },
    /// 409: the request conflicts with the current state.
    Conflict(String),
    /// 409: a state machine refused a move; `allowed` lists the moves it would take.
    InvalidTransition { message: String, allowed: Vec<String> },
    /// 413: the body is larger than `limit` bytes.
    PayloadTooLarge { limit: u64 },
    /// 415: the body's media type is not accepted.
    UnsupportedMediaType(String),
    /// 422: well-formed, but cannot be done as asked (e.g. a reused idempotency key).
    Unprocessable(String),
    /// 429: over a rate limit; retry after `retry_after` seconds.
    RateLimited { retry_after: u64 },
    /// 502: a worker this one depends on failed.
    BadGateway(String),
    /// 503: a dependency is not configured or not reachable.
    Unavailable(String),
    /// 500: anything else. The message is for the log only, never for the client.
    Internal(String),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest { message: message.into(), field: None }
    }

    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        ApiError::BadRequest { message: message.into(), field: Some(field.to_owned()) }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound(what.into())
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError::Internal(detail.into())
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest { .. } => 400,
            ApiError::Unauthenticated(_) => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::Conflict(_) | ApiError::InvalidTransition { .. } => 409,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::Unprocessable(_) => 422,
            ApiError::RateLimited { .. } => 429,
            ApiError::BadGateway(_) => 502,
            ApiError::Unavailable(_) => 503,
            ApiError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::Unauthenticated(_) => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::InvalidTransition { .. } => "invalid_transition",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::BadGateway(_) => "bad_gateway",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// What the client is told. Internal and gateway failures say nothing of their cause.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::BadRequest { message, .. }
            | ApiError::Unauthenticated(message)
            | ApiError::Forbidden(message)
            | ApiError::Conflict(message)
            | ApiError::InvalidTransition { message, .. }
            | ApiError::UnsupportedMediaType(message)
            | ApiError::Unprocessable(message)
            | ApiError::Unavailable(message) => message.clone(),
            ApiError::NotFound(what) => format!("{what} not found"),
            ApiError::MethodNotAllowed { allowed } => {
                format!("method not allowed here; use {}", allowed.join(", "))
            }
            ApiError::PayloadTooLarge { limit } => {
                format!("request body is larger than the {limit}-byte limit")
            }
            ApiError::RateLimited { retry_after } => {
                format!("too many requests; retry in {retry_after} s")
            }
            ApiError::BadGateway(_) => "an upstream service failed; try again".to_owned(),
            ApiError::Internal(_) => "internal error; it has been logged".to_owned(),
        }
    }

    /// Whether the failure is ours (to be logged as an error) rather than the caller's.
    pub fn is_server_error(&self) -> bool {
        self.status() >= 500
    }

    pub fn body(&self, request_id: &str) -> ErrorBody {
        let field = match self {
            ApiError::BadRequest { field, .. } => field.clone(),
            _ => None,
        };
        let allowed = match self {
            ApiError::InvalidTransition { allowed, .. } => Some(allowed.clone()),
            _ => None,
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message: self.public_message(),
                field,
                allowed,
                request_id: request_id.to_owned(),
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Internal(detail) | ApiError::BadGateway(detail) => {
                write!(f, "{}: {detail}", self.code())
            }
            other => write!(f, "{}: {}", other.code(), other.public_message()),
        }
    }
}

impl std::error::Error for ApiError {}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
    /// With `invalid_transition`: the moves that are allowed from here.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub allowed: Option<Vec<String>>,
    pub request_id: String,
}

/// A pure check's refusal, naming the field at fault: what a worker turns into a 400
/// (`ApiError::invalid_field(&e.field, e.message)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid { field: field.into(), message: message.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_never_reach_the_client() {
        let err = ApiError::internal("D1_ERROR: no such table: users");
        let body = serde_json::to_string(&err.body("r1")).unwrap_or_default();
        assert!(!body.contains("D1_ERROR"));
        assert!(body.contains(r#""code":"internal""#));
        assert_eq!(err.status(), 500);
        assert!(err.to_string().contains("no such table"), "the log keeps the detail");
    }

    #[test]
    fn a_bad_field_is_named_in_the_body() {
        let body = ApiError::invalid_field("email", "email is not an address").body("r2");
        let json = serde_json::to_value(&body).unwrap_or_default();
        assert_eq!(json["error"]["field"], "email");
        assert_eq!(json["error"]["request_id"], "r2");
        assert_eq!(json["error"]["code"], "bad_request");
    }

    #[test]
    fn statuses_match_their_codes() {
        assert_eq!(ApiError::PayloadTooLarge { limit: 10 }.status(), 413);
        assert_eq!(ApiError::not_found("route").status(), 404);
        assert_eq!(ApiError::RateLimited { retry_after: 3 }.status(), 429);
        assert_eq!(ApiError::MethodNotAllowed { allowed: vec!["GET"] }.status(), 405);
    }
}
