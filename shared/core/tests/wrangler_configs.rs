//! The deploy configuration agrees with the service catalogue the code routes by: every
//! `workers/<dir>/wrangler.toml`, the deploy order in `deploy.sh`, and the local launcher.

use std::collections::BTreeSet;
use std::path::PathBuf;

use noizylab_core::services::{deploy_order, BindingKind, SERVICES};
use toml::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn config(dir: &str) -> Value {
    let path = repo().join("workers").join(dir).join("wrangler.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.parse().unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn names(cfg: &Value, table: &[&str], key: &str) -> BTreeSet<String> {
    let mut v = Some(cfg);
    for t in table {
        v = v.and_then(|x| x.get(*t));
    }
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|e| e.get(key).and_then(Value::as_str).map(str::to_owned)).collect())
        .unwrap_or_default()
}

fn declared(dir: &str, kind: BindingKind) -> BTreeSet<String> {
    let spec = SERVICES.iter().find(|s| s.dir == dir).expect("spec");
    spec.bindings.iter().filter(|b| b.kind == kind).map(|b| b.name.to_owned()).collect()
}

#[test]
fn every_worker_folder_is_in_the_catalogue_and_back() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(repo().join("workers"))
        .expect("workers/")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("wrangler.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let catalogue: BTreeSet<String> = SERVICES.iter().map(|s| s.dir.to_owned()).collect();
    assert_eq!(on_disk, catalogue);
}

#[test]
fn each_wrangler_config_declares_exactly_the_catalogued_bindings() {
    for spec in SERVICES.iter() {
        let cfg = config(spec.dir);
        let dir = spec.dir;
        assert_eq!(cfg.get("name").and_then(Value::as_str), Some(spec.worker_name().as_str()), "{dir}: name");
        assert_eq!(cfg.get("main").and_then(Value::as_str), Some("build/index.js"), "{dir}: main");
        assert_eq!(names(&cfg, &["d1_databases"], "binding"), declared(dir, BindingKind::D1), "{dir}: D1");
        assert_eq!(names(&cfg, &["kv_namespaces"], "binding"), declared(dir, BindingKind::Kv), "{dir}: KV");
        assert_eq!(names(&cfg, &["r2_buckets"], "binding"), declared(dir, BindingKind::R2), "{dir}: R2");
        assert_eq!(
            names(&cfg, &["queues", "producers"], "binding"),
            declared(dir, BindingKind::Queue),
            "{dir}: queues"
        );
        assert_eq!(
            names(&cfg, &["durable_objects", "bindings"], "name"),
            declared(dir, BindingKind::DurableObject),
            "{dir}: durable objects"
        );
        assert_eq!(names(&cfg, &["services"], "binding"), declared(dir, BindingKind::Service), "{dir}: services");
        let assets: BTreeSet<String> = cfg
            .get("assets")
            .and_then(|a| a.get("binding"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .into_iter()
            .collect();
        assert_eq!(assets, declared(dir, BindingKind::Assets), "{dir}: static assets");
        let consumers = names(&cfg, &["queues", "consumers"], "queue");
        let expected: BTreeSet<String> = spec.consumes.iter().map(|q| (*q).to_owned()).collect();
        assert_eq!(consumers, expected, "{dir}: queue consumers");
        // Classes this worker defines: its DO bindings without a `script_name`.
        let classes: BTreeSet<String> = cfg
            .get("durable_objects")
            .and_then(|d| d.get("bindings"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|b| b.get("script_name").is_none())
            .filter_map(|b| b.get("class_name").and_then(Value::as_str).map(str::to_owned))
            .collect();
        let expected: BTreeSet<String> = spec.classes.iter().map(|c| (*c).to_owned()).collect();
        assert_eq!(classes, expected, "{dir}: durable object classes");
    }
}

#[test]
fn every_durable_object_class_has_a_sqlite_migration() {
    for spec in SERVICES.iter().filter(|s| !s.classes.is_empty()) {
        let cfg = config(spec.dir);
        let migrated: BTreeSet<String> = cfg
            .get("migrations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.get("new_sqlite_classes").and_then(Value::as_array))
            .flatten()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect();
        let expected: BTreeSet<String> = spec.classes.iter().map(|c| (*c).to_owned()).collect();
        assert_eq!(migrated, expected, "{}: new_sqlite_classes", spec.dir);
    }
}

#[test]
fn every_queue_consumer_has_retries_and_a_dead_letter_queue() {
    for spec in SERVICES.iter() {
        let cfg = config(spec.dir);
        let consumers = cfg.get("queues").and_then(|q| q.get("consumers")).and_then(Value::as_array);
        for c in consumers.into_iter().flatten() {
            let queue = c.get("queue").and_then(Value::as_str).unwrap_or_default();
            assert!(c.get("max_retries").and_then(Value::as_integer).is_some_and(|n| n >= 1), "{queue}: max_retries");
            if !queue.ends_with("-dlq") {
                let dlq = c.get("dead_letter_queue").and_then(Value::as_str);
                assert_eq!(dlq.map(str::to_owned), Some(format!("{queue}-dlq")), "{queue}: dead_letter_queue");
            }
        }
    }
}

#[test]
fn only_the_gateway_is_public() {
    for spec in SERVICES.iter() {
        let cfg = config(spec.dir);
        let workers_dev = cfg.get("workers_dev").and_then(Value::as_bool);
        if spec.dir == "api-gateway" {
            assert_ne!(workers_dev, Some(false), "the gateway must be reachable");
        } else {
            assert_eq!(workers_dev, Some(false), "{} must have workers_dev = false", spec.dir);
            assert!(cfg.get("routes").is_none() && cfg.get("route").is_none(), "{} must have no route", spec.dir);
        }
    }
}

#[test]
fn deploy_sh_deploys_in_dependency_order() {
    let script = std::fs::read_to_string(repo().join("deploy.sh")).expect("deploy.sh");
    let start = script.find("WORKERS=(").expect("WORKERS=( in deploy.sh") + "WORKERS=(".len();
    let end = start + script[start..].find(')').expect("closing )");
    let listed: Vec<&str> = script[start..end].split_whitespace().collect();
    let expected: Vec<&str> = deploy_order().iter().map(|s| s.dir).collect();
    assert_eq!(listed, expected, "update WORKERS in deploy.sh");
}

#[test]
fn the_local_launcher_runs_all_seventeen_with_the_gateway_first() {
    let script = std::fs::read_to_string(repo().join("scripts/platform.mjs")).expect("platform.mjs");
    let start = script.find("export const WORKERS = [").expect("WORKERS list") + "export const WORKERS = [".len();
    let end = start + script[start..].find(']').expect("closing ]");
    let listed: Vec<String> = script[start..end]
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(listed.first().map(String::as_str), Some("api-gateway"));
    let mut sorted = listed.clone();
    sorted.sort();
    let mut expected: Vec<String> = SERVICES.iter().map(|s| s.dir.to_owned()).collect();
    expected.sort();
    assert_eq!(sorted, expected);
}

#[test]
fn every_config_is_production_by_default_and_points_nowhere_local() {
    for spec in SERVICES.iter() {
        let dir = spec.dir;
        let vars = config(dir).get("vars").cloned().unwrap_or(Value::Table(Default::default()));
        assert_eq!(vars.get("ENVIRONMENT").and_then(Value::as_str), Some("production"), "{dir}: ENVIRONMENT");
        let Some(table) = vars.as_table() else { continue };
        for (name, value) in table {
            let text = value.as_str().unwrap_or_default();
            assert!(
                !text.contains("localhost") && !text.contains("127.0.0.1"),
                "{dir}: {name} = {text:?} would point a deployment at this machine"
            );
        }
    }
    // Development is the launcher's explicit override, not a config's default.
    let launcher = std::fs::read_to_string(repo().join("scripts/platform.mjs")).expect("scripts/platform.mjs");
    assert!(launcher.contains(r#"ENVIRONMENT: process.env.NOIZYLAB_ENVIRONMENT ?? "development""#));
}

#[test]
fn each_config_declares_exactly_the_vars_its_worker_reads() {
    use noizylab_core::config::{settings_of, Kind};
    for spec in SERVICES.iter() {
        let dir = spec.dir;
        let vars = config(dir).get("vars").and_then(Value::as_table).cloned().unwrap_or_default();
        let declared: BTreeSet<String> = vars.keys().cloned().collect();
        let settings = settings_of(dir);
        let required: BTreeSet<String> = std::iter::once("ENVIRONMENT".to_owned())
            .chain(settings.iter().filter(|(_, k)| *k == Kind::Var).map(|(n, _)| (*n).to_owned()))
            .collect();
        let secrets: BTreeSet<String> =
            settings.iter().filter(|(_, k)| *k == Kind::Secret).map(|(n, _)| (*n).to_owned()).collect();
        assert!(declared.is_superset(&required), "{dir}: missing vars {:?}", required.difference(&declared));
        for name in &declared {
            assert!(noizylab_core::config::reads(dir, name), "{dir}: [vars] {name} is read by no code");
            assert!(!secrets.contains(name), "{dir}: {name} is a secret and must not be in a config file");
        }
    }
}

#[test]
fn every_secret_a_worker_reads_has_a_way_in() {
    use noizylab_core::config::{settings_of, Kind};
    let launcher = std::fs::read_to_string(repo().join("scripts/platform.mjs")).expect("scripts/platform.mjs");
    for spec in SERVICES.iter() {
        for (name, kind) in settings_of(spec.dir) {
            if *kind != Kind::Var {
                assert!(launcher.contains(name), "{}: {name} cannot be set on a local platform", spec.dir);
            }
        }
    }
}
