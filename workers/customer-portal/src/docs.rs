//! The API reference: the assembled OpenAPI document (`GET /api/v1/openapi.json`) and the
//! page rendering it (`GET /docs`, Redoc from npm). Both files are this worker's static
//! assets (`static/`, written by `./deploy.sh build` from `docs/openapi/*.json` and
//! `node_modules/redoc`), read through the `ASSETS` binding: nothing is loaded from another
//! site, and the document served is the one the tests hold to the route tables.

use noizylab_core::bindings::ASSETS;
use noizylab_kit::{ApiError, ApiResult, Call, OrInternal};
use worker::{Headers, Response};

/// The renderer's needs beyond the portal's own policy: styles it injects, images it
/// inlines and the search worker it starts from a blob.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; \
                   img-src 'self' data:; font-src 'self' data:; worker-src blob:; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

const PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
    <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
    <title>API reference · NoizyLab OS</title><link rel=\"icon\" href=\"data:,\"></head>\
    <body><redoc spec-url=\"/api/v1/openapi.json\" hide-loading=\"false\"></redoc>\
    <script src=\"/docs/redoc.standalone.js\"></script></body></html>";

/// The files the reference is made of, by their public name: (asset path, content type).
fn file(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "openapi.json" => Some(("/openapi.json", "application/json")),
        "redoc.standalone.js" => Some(("/docs/redoc.standalone.js", "text/javascript; charset=utf-8")),
        // The guide viewer's 3D web component (npm `@google/model-viewer`, three.js bundled).
        "model-viewer.min.js" => Some(("/viewer/model-viewer.min.js", "text/javascript; charset=utf-8")),
        // The workflow builder's graph library (npm `cytoscape`).
        "cytoscape.min.js" => Some(("/builder/cytoscape.min.js", "text/javascript; charset=utf-8")),
        // The analytics dashboard's charts (npm `chart.js`).
        "chart.umd.min.js" => Some(("/builder/chart.umd.min.js", "text/javascript; charset=utf-8")),
        _ => None,
    }
}

/// `GET /docs`: the reference page.
pub fn page() -> ApiResult<Response> {
    let headers = Headers::new();
    headers.set("content-type", "text/html; charset=utf-8").or_internal("header")?;
    headers.set("content-security-policy", CSP).or_internal("header")?;
    headers.set("x-content-type-options", "nosniff").or_internal("header")?;
    headers.set("referrer-policy", "no-referrer").or_internal("header")?;
    headers.set("cache-control", "public, max-age=300").or_internal("header")?;
    Ok(Response::ok(PAGE).or_internal("response")?.with_headers(headers))
}

/// `GET /api/v1/openapi.json`, `GET /docs/redoc.standalone.js` and the guide viewer's
/// `GET /portal/viewer/model-viewer.min.js`: one of the files, from the static assets.
pub async fn asset(call: &Call, name: &str) -> ApiResult<Response> {
    let (path, kind) = file(name).ok_or_else(|| ApiError::not_found(format!("docs file {name}")))?;
    let assets = call.env.assets(ASSETS).or_internal("ASSETS binding")?;
    let mut found = assets.fetch(format!("https://assets.invalid{path}"), None).await.or_internal("assets")?;
    if found.status_code() != 200 {
        // The build writes both files; without them the deploy is broken, not the request.
        return Err(ApiError::Unavailable(format!(
            "the portal's static files are not built ({name}): run ./deploy.sh build"
        )));
    }
    let bytes = found.bytes().await.or_internal("asset body")?;
    let headers = Headers::new();
    headers.set("content-type", kind).or_internal("header")?;
    headers.set("cache-control", "public, max-age=300").or_internal("header")?;
    headers.set("x-content-type-options", "nosniff").or_internal("header")?;
    Ok(Response::from_bytes(bytes).or_internal("response")?.with_headers(headers))
}
