//! Schema-driven fuzzing: Schemathesis (PyPI, pinned in `tests/requirements.txt`) reads the
//! platform's own `/api/v1/openapi.json` and sends generated requests to every operation,
//! valid and invalid, as an owner, a technician and a customer, with a fixed seed. Every
//! answer must be a non-5xx that conforms to its operation: a declared status, the declared
//! content type and headers, a body matching the schema. Every request is counted from the
//! run's HAR log, and the counts are printed.
//!
//! Left out, with reason:
//! - `POST /api/v1/auth/logout` and `DELETE /api/v1/users/me` end the very session the run
//!   signs its requests with (the rest of the run would be 401s); both are driven by the
//!   identity and privacy end-to-end tests.
//! - The checks `negative_data_rejection` and `positive_data_acceptance`: they judge the
//!   schemas' strictness against the server's (a 400 for a value the schema allows), not
//!   the server's safety or its answers' shapes, which the checks run here do.

use std::path::Path;
use std::process::Command;

use noizylab_tests::openapi;
use noizylab_tests::*;
use serde_json::{json, Value};

/// Operations the run leaves out (see above).
const LEFT_OUT: [(&str, &str); 2] = [("POST", "/api/v1/auth/logout"), ("DELETE", "/api/v1/users/me")];

/// What every answer is held to.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,response_headers_conformance";

const SEED: &str = "20261124";
/// Generated cases per operation and role: with ~130 operations, three roles and the
/// coverage phase's own cases, well over 5,000 requests.
const EXAMPLES: &str = "15";

struct Run {
    requests: usize,
    server_errors: Vec<String>,
    statuses: std::collections::BTreeMap<u16, usize>,
}

/// The served document with bearer tokens as the only credential: offered an `X-API-Key`
/// scheme, Schemathesis would send a made-up key beside the token, and the gateway rightly
/// refuses an invalid key whatever else comes with it (every answer a 401).
fn bearer_only(p: &Platform, out: &Path) -> std::path::PathBuf {
    let mut doc = get(&p.url("/api/v1/openapi.json")).json();
    for item in doc["paths"].as_object_mut().expect("paths").values_mut() {
        for op in item.as_object_mut().expect("path item").values_mut() {
            if let Some(alternatives) = op.get_mut("security").and_then(Value::as_array_mut) {
                alternatives.retain(|a| a.get("apiKey").is_none());
            }
        }
    }
    let file = out.join("openapi-bearer.json");
    std::fs::write(&file, serde_json::to_vec(&doc).expect("json")).expect("write");
    file
}

/// Runs Schemathesis as `who` (an access token) and reads back its HAR log.
fn schemathesis(p: &Platform, schema: &Path, who: &str, token: &str, out: &Path) -> (bool, String, Run) {
    let tool = repo().join(".venv/bin/schemathesis");
    assert!(tool.exists(), "{} is missing: run ./deploy.sh setup", tool.display());
    let har = out.join(format!("{who}.har"));
    let mut skip = Vec::new();
    for (method, path) in LEFT_OUT {
        let op = openapi::spec().find(method, path).unwrap_or_else(|| panic!("{method} {path} is not described"));
        let id = op.op["operationId"].as_str().expect("operationId");
        skip.extend(["--exclude-operation-id".to_owned(), id.to_owned()]);
    }
    let output = Command::new(&tool)
        .args(["--no-color", "run"])
        .arg(schema)
        .args(["--url", &p.url("")])
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", EXAMPLES, "--seed", SEED, "--workers", "2"])
        .args(&skip)
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--request-timeout", "30", "--suppress-health-check", "all"])
        .args(["--report", "har", "--report-har-path"])
        .arg(&har)
        .env("SCHEMATHESIS_HOOKS", "")
        // Its cache of found crashes goes with the run's artifacts.
        .current_dir(out)
        .output()
        .expect("run schemathesis");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let log: Value = std::fs::read(&har).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
    let mut run = Run { requests: 0, server_errors: Vec::new(), statuses: Default::default() };
    for entry in log["log"]["entries"].as_array().into_iter().flatten() {
        run.requests += 1;
        let status = entry["response"]["status"].as_u64().unwrap_or(0) as u16;
        *run.statuses.entry(status).or_default() += 1;
        if status >= 500 || status == 0 {
            let req = &entry["request"];
            run.server_errors.push(format!("{} {} → {status}", req["method"], req["url"]));
        }
    }
    (output.status.success(), text, run)
}

#[test]
fn every_route_survives_schema_driven_fuzzing_as_each_role() {
    // Every provider configured (Stripe and eBay answered by stand-ins), as in production: an
    // unconfigured one answers 503 by design, which is not what the run looks for.
    let stripe = StandIn::start(|_| {
        (200, json!({ "id": "cs_test_fuzz", "url": "https://checkout.stripe.test/c/pay/cs_test_fuzz" }).to_string())
    });
    let stripe_url = stripe.url();
    // ElevenLabs answered with a real MP3 (shared/core/tests/data/voice, see its README).
    let elevenlabs = StandIn::start_raw(|_| {
        let mp3 = std::fs::read(repo().join("shared/core/tests/data/voice/gsutil-test.mp3")).unwrap_or_default();
        (200, "audio/mpeg", mp3)
    });
    let elevenlabs_url = elevenlabs.url();
    // eBay answered by its stand-in (a real captured search answer).
    let ebay_stand_in = StandIn::start(ebay::reply);
    let ebay_env = ebay::env(&ebay_stand_in);
    let mut env: Vec<(&str, &str)> = ebay_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.extend([
        ("NOIZYLAB_USER_RATE_LIMIT", "1000000"),
        ("NOIZYLAB_SIGNIN_LINKS_PER_EMAIL", "100000"),
        ("NOIZYLAB_STRIPE_BASE_URL", stripe_url.as_str()),
        ("NOIZYLAB_STRIPE_SECRET_KEY", "sk_test_fuzz"),
        ("NOIZYLAB_STRIPE_WEBHOOK_SECRET", "whsec_fuzz"),
        // Any 32 bytes below the P-256 order make a key.
        ("NOIZYLAB_VAPID_PRIVATE_KEY", "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA"),
        ("NOIZYLAB_VAPID_SUBJECT", "mailto:ops@noizylab.test"),
        ("NOIZYLAB_INBOUND_EMAIL_KEY", "inbound-fuzz-key"),
        ("NOIZYLAB_MAILGUN_WEBHOOK_SIGNING_KEY", "mailgun-fuzz-key"),
        ("NOIZYLAB_ELEVENLABS_BASE_URL", elevenlabs_url.as_str()),
        ("NOIZYLAB_ELEVENLABS_API_KEY", "xi-fuzz-key"),
    ]);
    let p = Platform::fresh_with("fuzz", &env);
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    let tech = access(&technician(&p));
    let customer = access(&sign_in(&p, &unique_email("fuzzed-customer")));
    // Something for the generated requests to find: a device and its ticket.
    let device = authed(
        &p,
        "POST",
        "/api/v1/devices/register",
        &customer,
        Some(&json!({ "name": "Work laptop", "type": "laptop", "make": "Lenovo", "model": "T14" })),
    );
    assert_eq!(device.status, 201, "{}", device.text());
    let ticket = json!({ "title": "Fans roar, then it shuts down", "device_id": device.json()["id"] });
    let ticket = authed(&p, "POST", "/api/v1/tickets", &customer, Some(&ticket));
    assert_eq!(ticket.status, 201, "{}", ticket.text());
    let out = repo().join("tests/artifacts/fuzz");
    std::fs::create_dir_all(&out).expect("artifacts folder");

    let schema = bearer_only(&p, &out);
    let mut total = 0;
    let mut failures = Vec::new();
    for (who, token) in [("owner", &owner), ("technician", &tech), ("customer", &customer)] {
        let (passed, text, run) = schemathesis(&p, &schema, who, token, &out);
        println!("fuzzing as {who}: {} requests, statuses {:?}", run.requests, run.statuses);
        total += run.requests;
        if !run.server_errors.is_empty() {
            failures.push(format!("as {who}, 5xx or transport errors:\n{}", run.server_errors.join("\n")));
        }
        if !passed {
            let tail: Vec<&str> = text.lines().rev().take(200).collect::<Vec<_>>().into_iter().rev().collect();
            failures.push(format!("as {who}, Schemathesis failed:\n{}", tail.join("\n")));
        }
    }
    println!("fuzzing: {total} requests in all, seed {SEED}");
    p.stop();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(total >= 5000, "only {total} requests were sent; the run must send at least 5,000");
}
