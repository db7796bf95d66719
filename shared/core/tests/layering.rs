//! Holds every worker to the layout in AGENTS.md, by reading its `use crate::…` lines:
//!
//! - a handler module in `src/api/` never imports another (shared queries go in `store`),
//!   and nothing but `lib.rs` refers to `api`;
//! - `domain.rs` (or `domain/`) is pure: no `worker`, no `noizylab_kit`;
//! - `store` never reaches up into `api`;
//! - the top-level modules of a worker import each other without a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file under `dir`, with its path relative to `dir`.
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                out.push((rel, std::fs::read_to_string(&path).unwrap_or_default()));
            }
        }
    }
    out.sort();
    out
}

/// The code of a file without its comments (doc comments name modules freely).
fn code(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.split("//").next().unwrap_or("").to_owned()))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect()
}

/// The crate's top-level modules a piece of code names: `crate::a::…`, `use crate::{a, b}`.
fn crate_refs(line: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let inner = group.split('}').next().unwrap_or("");
            for item in inner.split(',') {
                let name = item.trim().split("::").next().unwrap_or("").split_whitespace().next().unwrap_or("");
                if !name.is_empty() && name != "self" {
                    out.insert(name.to_owned());
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// The top-level module a file belongs to (`api/tickets/mod.rs` → `api`, `store.rs` →
/// `store`), and for files in `api/` the resource (`tickets`).
fn owner(rel: &str) -> (String, Option<String>) {
    let mut parts = rel.trim_end_matches(".rs").split('/');
    let top = parts.next().unwrap_or("").to_owned();
    let resource = parts.next().map(|r| r.to_owned()).filter(|r| top == "api" && r != "mod");
    (top, resource)
}

fn violations(src: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, text) in sources(src) {
        let (top, resource) = owner(&rel);
        let is_domain = top == "domain";
        for (n, line) in code(&text) {
            let here = format!("{}/{rel}:{n}", src.display());
            let refs = crate_refs(&line);
            if top == "api" {
                let sibling = line.contains("super::") && rel.matches('/').count() == 1 && !rel.ends_with("mod.rs");
                let other = refs.contains("api")
                    && line
                        .split("crate::api::")
                        .skip(1)
                        .any(|r| Some(r.split("::").next().unwrap_or("")) != resource.as_deref());
                if sibling || other {
                    problems.push(format!("{here}: a handler module imports another: {}", line.trim()));
                }
            } else if top != "lib" && (refs.contains("api") || line.contains(" api::")) {
                problems.push(format!("{here}: only lib.rs refers to the handlers (api): {}", line.trim()));
            }
            if is_domain && (line.contains("worker::") || line.contains("noizylab_kit")) {
                problems.push(format!("{here}: the domain is pure, without worker or noizylab_kit: {}", line.trim()));
            }
            if top != "lib" {
                for r in refs {
                    if r != top {
                        graph.entry(top.clone()).or_default().insert(r);
                    }
                }
            }
        }
    }
    // A cycle among top-level modules: depth-first search for a back edge.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|p| p == node) {
            found.push(format!("{} → {node}", path[at..].join(" → ")));
            return;
        }
        if done.contains(node) {
            return;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, path, done, found);
        }
        path.pop();
        done.insert(node.to_owned());
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        let mut found = Vec::new();
        visit(node, &graph, &mut Vec::new(), &mut done, &mut found);
        for cycle in found {
            problems.push(format!("{}: modules import each other in a circle: {cycle}", src.display()));
        }
    }
    problems
}

#[test]
fn every_worker_keeps_its_layers() {
    let mut problems = Vec::new();
    for entry in std::fs::read_dir(repo().join("workers")).expect("workers/").flatten() {
        let src = entry.path().join("src");
        if src.is_dir() {
            problems.extend(violations(&src));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_layering_check_catches_each_kind_of_violation() {
    let dir = std::env::temp_dir().join(format!("noizylab-layering-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("api")).expect("mkdir");
    let write = |rel: &str, text: &str| std::fs::write(dir.join(rel), text).expect("write");
    write("lib.rs", "mod api; mod store; mod domain; mod a; mod b;\nuse api::tickets;\n");
    write("api/mod.rs", "pub mod tickets;\npub mod rooms;\n");
    write("api/tickets.rs", "use crate::store;\n// use crate::api::rooms; (a comment is no import)\n");
    write("api/rooms.rs", "use crate::api::tickets::visible;\n");
    write("store.rs", "use crate::api::tickets;\n");
    write("domain.rs", "use worker::Request;\n");
    write("a.rs", "use crate::b::thing;\n");
    write("b.rs", "use crate::{a, store};\n");
    let found = violations(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let has = |what: &str, file: &str| found.iter().any(|p| p.contains(what) && p.contains(file));
    assert!(has("a handler module imports another", "api/rooms.rs"), "{found:#?}");
    assert!(!found.iter().any(|p| p.contains("api/tickets.rs")), "{found:#?}");
    assert!(has("only lib.rs refers to the handlers", "store.rs"), "{found:#?}");
    assert!(has("the domain is pure", "domain.rs"), "{found:#?}");
    assert!(found.iter().any(|p| p.contains("in a circle") && p.contains("a → b → a")), "{found:#?}");
}
