//! What every report reads and answers alike: its window from the query string, and CSV.

use noizylab_kit::{time, ApiError, ApiResult, OrInternal};
use serde::Deserialize;
use worker::{Headers, Response};

use crate::domain::{csv, Window};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowQuery {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub to: Option<String>,
}

/// The window a query names, or the last 30 days; 400 naming the bad bound.
pub fn window(from: Option<&str>, to: Option<&str>) -> ApiResult<Window> {
    let now = time::now_rfc3339();
    Window::parse(from, to, now.get(..10).unwrap_or_default()).map_err(|m| {
        let field = if m.starts_with("to") { "to" } else { "from" };
        ApiError::invalid_field(field, m)
    })
}

/// A CSV attachment named `filename`.
pub fn csv_response(header: &[&str], rows: &[Vec<String>], filename: &str) -> ApiResult<Response> {
    let text = csv(header, rows).map_err(ApiError::internal)?;
    let headers = Headers::new();
    headers.set("content-type", "text/csv; charset=utf-8").or_internal("header")?;
    headers.set("content-disposition", &format!("attachment; filename=\"{filename}\"")).or_internal("header")?;
    Ok(Response::ok(text).or_internal("response")?.with_headers(headers))
}
