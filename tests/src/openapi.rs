//! The API description as the tests hold it: `docs/openapi/*.json` assembled by
//! `scripts/openapi.mjs` (the same script the build runs), and a check of any exchange
//! with the platform against it. [`crate::request`] runs [`check`] on every answer it
//! receives, so each end-to-end test also proves the description right about what it saw:
//! a route it reached is described, the answer's status is one the operation declares, its
//! JSON body matches the schema, and a request that succeeded matches its request schema.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::{Map, Value};

/// One operation: its method, its path template split in segments, and its object.
pub struct Operation {
    pub method: String,
    pub path: String,
    segments: Vec<Option<String>>,
    pub op: Value,
}

impl Operation {
    fn matches(&self, method: &str, segments: &[&str]) -> bool {
        self.method.eq_ignore_ascii_case(method)
            && self.segments.len() == segments.len()
            && self.segments.iter().zip(segments).all(|(want, got)| want.as_deref().is_none_or(|w| w == *got))
    }

    /// How many segments are literal: `/users/me` wins over `/users/{id}`.
    fn literal_count(&self) -> usize {
        self.segments.iter().filter(|s| s.is_some()).count()
    }
}

pub struct Spec {
    pub doc: Value,
    pub operations: Vec<Operation>,
    validators: Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>,
}

/// Paths no description covers: the development-only probes (`…/dev/…`, answered 404 in production,
/// described in docs/api.md) and the internal routes the gateway never forwards.
pub fn undescribed(path: &str) -> bool {
    path.split('/').any(|s| s == "dev") || path.starts_with("/internal/")
}

/// Paths the description speaks for: what the gateway serves.
fn described_area(path: &str) -> bool {
    ["/api/", "/.well-known/", "/portal", "/docs", "/health"].iter().any(|p| path.starts_with(p)) || path == "/"
}

/// Splits a path template (`/api/v1/tickets/{id}`) into literal and `{param}` segments.
pub fn template_segments(path: &str) -> Vec<Option<String>> {
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| if s.starts_with('{') && s.ends_with('}') { None } else { Some(s.to_owned()) })
        .collect()
}

/// The assembled document, built once per test process.
pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let root = crate::repo();
        let out = std::env::temp_dir().join(format!("noizylab-openapi-{}.json", std::process::id()));
        let status = Command::new("node")
            .arg(root.join("scripts/openapi.mjs"))
            .arg(&out)
            .current_dir(&root)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run node scripts/openapi.mjs");
        assert!(status.success(), "docs/openapi/*.json do not assemble (node scripts/openapi.mjs)");
        let doc: Value = serde_json::from_slice(&std::fs::read(&out).expect("read assembled document"))
            .expect("assembled document is JSON");
        let _ = std::fs::remove_file(&out);
        Spec::new(doc)
    })
}

impl Spec {
    pub fn new(doc: Value) -> Spec {
        let mut operations = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                if !["get", "put", "post", "delete", "patch", "head", "options"].contains(&method.as_str()) {
                    continue;
                }
                operations.push(Operation {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    segments: template_segments(path),
                    op: op.clone(),
                });
            }
        }
        Spec { doc, operations, validators: Mutex::new(HashMap::new()) }
    }

    /// The operation answering `method path`, the most literal first.
    pub fn find(&self, method: &str, path: &str) -> Option<&Operation> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        self.operations.iter().filter(|o| o.matches(method, &segments)).max_by_key(|o| o.literal_count())
    }

    /// Whether any operation has this path (whatever its method).
    pub fn has_path(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        self.operations.iter().any(|o| {
            o.segments.len() == segments.len()
                && o.segments.iter().zip(&segments).all(|(w, g)| w.as_deref().is_none_or(|w| w == *g))
        })
    }

    /// Follows a local `$ref` (`#/components/...`) once.
    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => self.doc.pointer(pointer).unwrap_or(value),
            None => value,
        }
    }

    /// Validates `instance` against `schema` (which may `$ref` the document's components).
    pub fn validate(&self, key: &str, schema: &Value, instance: &Value) -> Result<(), String> {
        let validator = {
            let mut cache = self.validators.lock().unwrap_or_else(|e| e.into_inner());
            match cache.get(key) {
                Some(v) => v.clone(),
                None => {
                    // The schema as a root beside the document's components, so that its
                    // `#/components/schemas/…` references resolve.
                    let mut root = match schema {
                        Value::Object(m) => m.clone(),
                        _ => Map::new(),
                    };
                    root.insert("components".into(), self.doc["components"].clone());
                    let v = jsonschema::draft202012::new(&Value::Object(root))
                        .map_err(|e| format!("the schema at {key} does not compile: {e}"))?;
                    let v = std::sync::Arc::new(v);
                    cache.insert(key.to_owned(), v.clone());
                    v
                }
            }
        };
        let errors: Vec<String> =
            validator.iter_errors(instance).take(5).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

static CHECKING: AtomicBool = AtomicBool::new(true);

/// Turns the check off for this process: the benchmark's client measures the platform,
/// not the validator.
pub fn stop_checking() {
    CHECKING.store(false, Ordering::Relaxed);
}

/// What was sent, and what came back.
pub struct Exchange<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub request_type: Option<&'a str>,
    pub request_body: Option<&'a [u8]>,
    pub status: u16,
    pub response_type: Option<&'a str>,
    pub response_body: &'a [u8],
}

fn path_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    path.split(['?', '#']).next().unwrap_or("/")
}

fn media(content_type: Option<&str>) -> Option<String> {
    content_type.map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}

/// Holds one exchange to the description. `Ok` when the path is not the platform's to
/// describe (a stand-in's, a development probe's).
pub fn check(x: &Exchange<'_>) -> Result<(), String> {
    if !CHECKING.load(Ordering::Relaxed) {
        return Ok(());
    }
    let path = path_of(x.url);
    // CORS preflights are the gateway's for every path (docs/api.md), not operations.
    if x.method.eq_ignore_ascii_case("OPTIONS") || !described_area(path) || undescribed(path) {
        return Ok(());
    }
    let spec = spec();
    let Some(op) = spec.find(x.method, path) else {
        // An undescribed route must not exist: the platform has to say so.
        return match x.status {
            404 | 405 | 401 | 429 | 413 => Ok(()),
            s => Err(format!("{} {path} answered {s} but no operation describes it", x.method)),
        };
    };
    let key = format!("{} {}", op.method, op.path);
    let responses = &op.op["responses"];
    let status = x.status.to_string();
    let response = match responses.get(&status) {
        Some(r) => spec.resolve(r),
        None if x.status >= 400 => match responses.get("default") {
            Some(r) => spec.resolve(r),
            None => return Err(format!("{key}: answered {status}, which it does not declare")),
        },
        None => return Err(format!("{key}: answered {status}, which it does not declare")),
    };
    let content = response.get("content").and_then(Value::as_object);
    let got = media(x.response_type);
    match (content, got.as_deref()) {
        (None, _) if x.response_body.is_empty() => {}
        (None, _) => return Err(format!("{key} {status}: declares no body, got {} bytes", x.response_body.len())),
        (Some(_), _) if x.method == "HEAD" => {}
        (Some(content), Some(got)) => {
            let declared = content.get(got).or_else(|| content.get("*/*"));
            let Some(declared) = declared else {
                let names: Vec<&String> = content.keys().collect();
                return Err(format!("{key} {status}: answered {got}, declares {names:?}"));
            };
            if got.contains("json") {
                let body: Value = serde_json::from_slice(x.response_body)
                    .map_err(|e| format!("{key} {status}: the body is not JSON ({e})"))?;
                if let Some(schema) = declared.get("schema") {
                    spec.validate(&format!("{key} {status} {got}"), schema, &body)
                        .map_err(|e| format!("{key} {status}: the answer does not match its schema: {e}"))?;
                }
            }
        }
        (Some(_), None) if x.response_body.is_empty() => {
            return Err(format!("{key} {status}: declares a body, got none"));
        }
        (Some(_), None) => return Err(format!("{key} {status}: a body without a content type")),
    }
    // A request the platform accepted must be one the description accepts.
    if (200..300).contains(&x.status) {
        if let (Some(body), Some(kind)) = (x.request_body, media(x.request_type)) {
            if kind.contains("json") && !body.is_empty() {
                let schema = op.op.pointer("/requestBody/content/application~1json/schema").map(|s| spec.resolve(s));
                let Some(schema) = schema else {
                    return Err(format!("{key}: accepted a JSON body it does not describe"));
                };
                let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                spec.validate(&format!("{key} request"), schema, &body)
                    .map_err(|e| format!("{key}: accepted a request its schema refuses: {e}"))?;
            }
        }
    }
    Ok(())
}

/// The repository's `docs/openapi` folder.
pub fn fragments_dir() -> PathBuf {
    crate::repo().join("docs/openapi")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange<'a>(method: &'a str, url: &'a str, status: u16, body: &'a [u8]) -> Exchange<'a> {
        Exchange {
            method,
            url,
            request_type: None,
            request_body: None,
            status,
            response_type: Some("application/json; charset=utf-8"),
            response_body: body,
        }
    }

    const ME: &str = "http://127.0.0.1:1/api/v1/auth/me";

    #[test]
    fn an_answer_that_matches_its_schema_passes() {
        let body = br#"{"id":"u1","email":"a@b.c","name":null,"workspace_id":"ws","role":"owner","scopes":["admin"]}"#;
        assert_eq!(check(&exchange("GET", ME, 200, body)), Ok(()));
        let error = br#"{"error":{"code":"unauthenticated","message":"sign in","request_id":"r"}}"#;
        assert_eq!(check(&exchange("GET", ME, 401, error)), Ok(()));
    }

    #[test]
    fn a_missing_field_a_wrong_type_or_an_undeclared_status_fails() {
        let missing = br#"{"id":"u1","email":"a@b.c","name":null,"workspace_id":"ws","role":"owner"}"#;
        assert!(check(&exchange("GET", ME, 200, missing)).is_err());
        let wrong = br#"{"id":1,"email":"a@b.c","name":null,"workspace_id":"ws","role":"owner","scopes":[]}"#;
        assert!(check(&exchange("GET", ME, 200, wrong)).is_err());
        assert!(check(&exchange("GET", ME, 201, b"{}")).is_err());
        let bad_error = br#"{"error":{"code":"nope","message":"m","request_id":"r"}}"#;
        assert!(check(&exchange("GET", ME, 404, bad_error)).is_err());
    }

    #[test]
    fn an_undescribed_route_that_answers_fails_and_a_missing_one_passes() {
        assert!(check(&exchange("GET", "http://127.0.0.1:1/api/v1/nowhere", 200, b"{}")).is_err());
        assert_eq!(check(&exchange("GET", "http://127.0.0.1:1/api/v1/nowhere", 404, b"{}")), Ok(()));
        // Development probes and stand-ins are not the description's to judge.
        assert_eq!(check(&exchange("GET", "http://127.0.0.1:1/api/v1/dev/kv/x", 200, b"{}")), Ok(()));
        assert_eq!(check(&exchange("POST", "http://127.0.0.1:1/v3/mail/send", 202, b"{}")), Ok(()));
    }

    #[test]
    fn an_accepted_request_must_match_its_request_schema() {
        let mut x = exchange("POST", "http://127.0.0.1:1/api/v1/tickets/t1/notes", 201, b"");
        let answer = br#"{"ticket_id":"t1","kind":"note","body":"b","at":"now","visibility":"internal"}"#;
        x.response_body = answer;
        x.request_type = Some("application/json");
        x.request_body = Some(br#"{"body":"fan worn"}"#);
        assert_eq!(check(&x), Ok(()));
        x.request_body = Some(br#"{"body":"fan worn","extra":1}"#);
        assert!(check(&x).is_err(), "an unknown field the server refuses must not be described as accepted");
    }
}
