//! The API description cannot drift from the code: every route in a worker's route table
//! is described, every described route is answered, the document is valid OpenAPI 3.1,
//! and the gateway serves it (with a docs page rendering it). The answers of every other
//! end-to-end test are held to it by the harness (`noizylab_tests::openapi::check`).

use std::collections::BTreeSet;
use std::process::Command;

use noizylab_tests::openapi::{spec, template_segments, undescribed};
use noizylab_tests::*;
use serde_json::{json, Value};

/// One arm of a route table: `(Method::Get | Method::Head, ["api", "v1", "tickets", id])`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Route {
    method: String,
    /// Literal segments, `None` for a bound or ignored one.
    segments: Vec<Option<String>>,
    worker: String,
}

impl Route {
    fn path(&self) -> String {
        let parts: Vec<&str> = self.segments.iter().map(|s| s.as_deref().unwrap_or("{}")).collect();
        format!("/{}", parts.join("/"))
    }
}

/// Splits `a, "b" | "c", d` at the top-level commas.
fn split_top(s: &str) -> Vec<String> {
    let (mut parts, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        parts.push(cur);
    }
    parts.into_iter().map(|p| p.trim().to_owned()).collect()
}

/// `Method::Get` or (under `use Method::*`) `Get`, as an upper-case method name.
fn method_name(token: &str) -> Option<String> {
    let name = token.trim().trim_start_matches("Method::");
    ["Get", "Post", "Put", "Patch", "Delete", "Head"].contains(&name).then(|| name.to_uppercase())
}

/// The body of `fn <name>(` in `source`, from its opening brace to the matching one.
fn function_body<'a>(source: &'a str, name: &str) -> Option<&'a str> {
    let at = source.find(&format!("fn {name}("))?;
    let open = at + source[at..].find('{')?;
    let mut depth = 0;
    for (i, c) in source[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&source[open..open + i + 1]);
                }
            }
            _ => {}
        }
    }
    None
}

/// The routes a route table names: arms that name their method(s) and slices of segments.
/// `"a" | "b"` alternatives expand to one route each. An arm ending in `rest @ ..` that
/// hands `rest` to `module::function(…)` (or `lazily(module::function(…))`) is followed
/// into that module's table, under the arm's prefix; any other `..` arm (the gateway's
/// forwarding by area) is not a route.
fn routes_of(worker: &str, src: &std::path::Path, source: &str, prefix: &[Option<String>]) -> Vec<Route> {
    let flat: String = source.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut routes = Vec::new();
    let mut rest = flat.as_str();
    while let Some(at) = rest.find('(') {
        rest = &rest[at + 1..];
        let Some(comma) = rest.find(", [") else { break };
        let head = &rest[..comma];
        let methods: Option<Vec<String>> =
            if head.trim() == "_" { Some(Vec::new()) } else { head.split('|').map(method_name).collect() };
        let Some(methods) = methods else { continue };
        // One slice pattern or several joined by `|`, then `) =>`.
        let mut slices = Vec::new();
        let mut after = &rest[comma + 2..];
        let complete = loop {
            let Some(open) = after.strip_prefix('[') else { break false };
            let Some(end) = open.find(']') else { break false };
            slices.push(&open[..end]);
            after = open[end + 1..].trim_start();
            if let Some(more) = after.strip_prefix('|') {
                after = more.trim_start();
                continue;
            }
            break after.starts_with(") =>");
        };
        if !complete {
            continue;
        }
        if let [only] = slices.as_slice() {
            if let Some(stem) = only.strip_suffix("rest @ ..") {
                // `=> module::function(req, &call, rest)`: that module's table, under `stem`.
                let target = after.trim_start_matches(") =>").trim_start();
                // A handler called through a pointer: `lazily(module::function(…)).await`.
                let target = target.strip_prefix("lazily(").unwrap_or(target);
                let Some((module, function)) = target.split_once('(').and_then(|(path, _)| path.split_once("::"))
                else {
                    continue;
                };
                let file = [
                    format!("{module}.rs"),
                    format!("{module}/mod.rs"),
                    format!("api/{module}.rs"),
                    format!("api/{module}/mod.rs"),
                ]
                .into_iter()
                .map(|f| src.join(f))
                .find(|f| f.exists());
                let (Some(file), true) = (file, !function.contains("::")) else { continue };
                let text = std::fs::read_to_string(&file).unwrap_or_default();
                let Some(body) = function_body(&text, function) else { continue };
                let mut under = prefix.to_vec();
                under.extend(expand(stem).into_iter().next().unwrap_or_default());
                routes.extend(routes_of(worker, src, body, &under));
                continue;
            }
        }
        if methods.is_empty() || slices.iter().any(|s| s.contains("..")) {
            continue;
        }
        for inner in slices {
            for segments in expand(inner) {
                for method in &methods {
                    let mut full = prefix.to_vec();
                    full.extend(segments.iter().cloned());
                    routes.push(Route { method: method.clone(), segments: full, worker: worker.to_owned() });
                }
            }
        }
    }
    routes
}

/// The paths a slice pattern's inside matches: literals, and `None` for a binding.
fn expand(inner: &str) -> Vec<Vec<Option<String>>> {
    let mut paths: Vec<Vec<Option<String>>> = vec![Vec::new()];
    for seg in split_top(inner) {
        let options: Vec<Option<String>> = if seg.starts_with('"') {
            seg.split('|').map(|alt| Some(alt.trim().trim_matches('"').to_owned())).collect()
        } else {
            vec![None]
        };
        paths = paths
            .into_iter()
            .flat_map(|p| {
                options.iter().map(move |o| {
                    let mut q = p.clone();
                    q.push(o.clone());
                    q
                })
            })
            .collect();
    }
    paths
}

fn all_routes() -> Vec<Route> {
    let mut routes = Vec::new();
    for entry in std::fs::read_dir(repo().join("workers")).expect("workers/") {
        let dir = entry.expect("entry").path();
        let worker = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let Ok(source) = std::fs::read_to_string(dir.join("src/lib.rs")) else { continue };
        routes.extend(routes_of(&worker, &dir.join("src"), &source, &[]));
    }
    routes.sort();
    routes.dedup();
    routes
}

/// Public routes: everything but the internal ones, the development probes and the
/// health probes every internal worker answers for the gateway (`serve` does, not a table).
fn public(route: &Route) -> bool {
    let path = route.path();
    let internal_health = route.worker != "api-gateway" && path.starts_with("/health");
    !undescribed(&path) && !internal_health
}

#[test]
fn the_route_table_reader_understands_every_arm_shape() {
    let source = r#"
        match (req.method(), http::segments(&path).as_slice()) {
            (Method::Get, [".well-known", "jwks.json"]) => auth::jwks(&call),
            (Method::Get | Method::Head, []) => redirect("/portal/"),
            (Method::Get, ["portal"] | ["portal", "sign-in"]) => pages::sign_in(),
            (Method::Post, ["api", "v1", "tickets", id, "timer", "start" | "stop"]) =>
                api::tickets::timer(&call, id).await,
            (_, ["api", "v1", "tickets", _]) => Err(ApiError::MethodNotAllowed { allowed: vec!["GET"] }),
            (_, ["api", "v1", "auth", rest @ ..]) => auth::route(req, &call, rest).await,
            if let (Method::Post, "devices", [device, "scan"]) = (req.method(), *area, rest) {}
        }"#;
    let got: Vec<String> = routes_of("w", std::path::Path::new("/nowhere"), source, &[])
        .iter()
        .map(|r| format!("{} {}", r.method, r.path()))
        .collect();
    assert_eq!(
        got,
        [
            "GET /.well-known/jwks.json",
            "GET /",
            "HEAD /",
            "GET /portal",
            "GET /portal/sign-in",
            "POST /api/v1/tickets/{}/timer/start",
            "POST /api/v1/tickets/{}/timer/stop",
        ]
    );
}

#[test]
fn every_route_in_a_route_table_is_described_and_nothing_else_is() {
    let spec = spec();
    let routes: Vec<Route> = all_routes().into_iter().filter(public).collect();
    assert!(routes.len() > 60, "the route tables were not read: {routes:?}");
    let missing: Vec<String> = routes
        .iter()
        .filter(|r| {
            spec.find(&r.method, &r.path().replace("{}", "x"))
                .is_none_or(|op| template_segments(&op.path) != r.segments)
        })
        .map(|r| format!("{} {} ({})", r.method, r.path(), r.worker))
        .collect();
    assert!(missing.is_empty(), "routes without a description in docs/openapi/*.json:\n{}", missing.join("\n"));
    let in_code: BTreeSet<(String, Vec<Option<String>>)> =
        routes.iter().map(|r| (r.method.clone(), r.segments.clone())).collect();
    let extra: Vec<String> = spec
        .operations
        .iter()
        .filter(|op| !in_code.contains(&(op.method.clone(), template_segments(&op.path))))
        .map(|op| format!("{} {}", op.method, op.path))
        .collect();
    assert!(extra.is_empty(), "described operations no route table has:\n{}", extra.join("\n"));
}

#[test]
fn every_operation_names_its_callers_answers_and_errors() {
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    for op in &spec().operations {
        let name = format!("{} {}", op.method, op.path);
        let o = &op.op;
        match o["operationId"].as_str() {
            Some(id) if ids.insert(id.to_owned()) => {}
            Some(id) => problems.push(format!("{name}: operationId {id} is used twice")),
            None => problems.push(format!("{name}: no operationId")),
        }
        for key in ["summary", "tags", "responses", "security", "x-noizylab-caller"] {
            if o.get(key).is_none() {
                problems.push(format!("{name}: no {key}"));
            }
        }
        if o["responses"].get("default").is_none() {
            problems.push(format!("{name}: no default (error) answer"));
        }
        let success = o["responses"].as_object().is_some_and(|r| r.keys().any(|k| k.starts_with(['1', '2', '3'])));
        if !success {
            problems.push(format!("{name}: no success answer"));
        }
        // Scopes named in the extension and in the security requirement agree.
        let scopes: Vec<&str> =
            o["x-noizylab-scopes"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        for requirement in o["security"].as_array().into_iter().flatten() {
            for (_, needs) in requirement.as_object().into_iter().flatten() {
                let needs: Vec<&str> = needs.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                if !needs.is_empty() && needs != scopes {
                    problems.push(format!("{name}: security names {needs:?}, x-noizylab-scopes {scopes:?}"));
                }
            }
        }
        for scope in &scopes {
            if noizylab_core::auth::Scope::parse(scope).is_none() {
                problems.push(format!("{name}: unknown scope {scope}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The validator the test command installs (`./deploy.sh setup`: a Python venv in `.venv`).
fn python_tool(name: &str) -> std::path::PathBuf {
    let tool = repo().join(".venv/bin").join(name);
    assert!(tool.exists(), "{} is missing: run ./deploy.sh setup", tool.display());
    tool
}

#[test]
fn the_served_document_is_valid_openapi_3_1_and_renders_as_a_docs_page() {
    let p = Platform::fresh("openapi-served");
    let served = get(&p.url("/api/v1/openapi.json"));
    assert_eq!(served.status, 200, "{}", served.text());
    assert!(served.header("content-type").unwrap_or_default().starts_with("application/json"));
    let doc = served.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc, spec().doc, "the gateway serves another document than docs/openapi assembles");

    // A standard validator agrees it is OpenAPI 3.1.
    let file = std::env::temp_dir().join(format!("noizylab-served-openapi-{}.json", std::process::id()));
    std::fs::write(&file, &served.body).expect("write");
    let out = Command::new(python_tool("openapi-spec-validator")).arg(&file).output().expect("run validator");
    let _ = std::fs::remove_file(&file);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));

    // The docs page loads its renderer from this site only.
    let page = get(&p.url("/docs"));
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("/api/v1/openapi.json"), "{html}");
    assert!(!html.contains("http://") && !html.contains("https://"), "the page loads something from elsewhere: {html}");
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let script = get(&p.url("/docs/redoc.standalone.js"));
    assert_eq!(script.status, 200);
    assert!(script.header("content-type").unwrap_or_default().contains("javascript"));
    assert!(script.body.len() > 100_000, "the renderer is missing: {} bytes", script.body.len());
    p.stop();
}

/// A placeholder for each path parameter: the route must answer, whatever it says of it.
fn concrete(template: &str) -> String {
    template.split('/').map(|s| if s.starts_with('{') { "nothing-here" } else { s }).collect::<Vec<_>>().join("/")
}

#[test]
fn every_described_operation_is_answered_by_a_route() {
    let p = Platform::fresh_with("openapi-answered", &[("NOIZYLAB_USER_RATE_LIMIT", "100000")]);
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    // Erasing an account and signing out end a session: done by someone else.
    let passer_by = unique_email("passer-by");
    let mut unanswered = Vec::new();
    for op in &spec().operations {
        let path = concrete(&op.path);
        let token = if op.method == "DELETE" && op.path.ends_with("/me") || op.path.ends_with("/logout") {
            access(&sign_in(&p, &passer_by))
        } else {
            owner.clone()
        };
        let takes_json = op.op.pointer("/requestBody/content/application~1json").is_some();
        let body = takes_json.then(|| json!({}));
        let bytes = body.map(|b| serde_json::to_vec(&b).expect("json"));
        let auth = format!("Bearer {token}");
        let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
        let reply = request(&op.method, &p.url(&path), &headers, bytes.as_deref());
        let said: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        let no_route =
            reply.status == 404 && said["error"]["message"].as_str().is_some_and(|m| m.starts_with("route "));
        if no_route || reply.status == 405 {
            unanswered.push(format!("{} {} → {} {}", op.method, op.path, reply.status, reply.text()));
        }
    }
    assert!(unanswered.is_empty(), "described but not routed:\n{}", unanswered.join("\n"));
    p.stop();
}
