//! Every migration, applied in order to an in-memory SQLite (D1 is SQLite), and the schema
//! it leaves behind.

use std::path::PathBuf;

use rusqlite::{params, Connection};

fn migrations() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("migrations/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let sql = std::fs::read_to_string(&p).expect("read migration");
            (name, sql)
        })
        .collect()
}

fn migrated() -> Connection {
    let conn = Connection::open_in_memory().expect("sqlite");
    conn.execute_batch("PRAGMA foreign_keys = ON;").expect("pragma");
    for (name, sql) in migrations() {
        conn.execute_batch(&format!("BEGIN; {sql}\nCOMMIT;")).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    conn
}

fn columns(conn: &Connection, table: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})")).expect("table_info");
    stmt.query_map([], |row| row.get::<_, String>(1)).expect("query").filter_map(Result::ok).collect()
}

#[test]
fn migrations_are_numbered_in_order_without_gaps_and_named_descriptively() {
    let list = migrations();
    assert!(!list.is_empty());
    for (i, (name, _)) in list.iter().enumerate() {
        let (number, rest) = name.split_once('_').unwrap_or_else(|| panic!("{name}: NNNN_description.sql"));
        assert_eq!(number, format!("{:04}", i + 1), "{name} is out of sequence");
        let stem = rest.trim_end_matches(".sql");
        assert!(
            !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{name}: lowercase description"
        );
    }
}

#[test]
fn every_migration_applies_in_order_to_an_empty_database() {
    let conn = migrated();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .filter_map(Result::ok)
        .collect();
    for expected in [
        "audit_log",
        "dead_letters",
        "dev_outbox",
        "event_log",
        "magic_links",
        "memberships",
        "refresh_tokens",
        "sessions",
        "users",
        "workspaces",
    ] {
        assert!(tables.iter().any(|t| t == expected), "{expected} missing from {tables:?}");
    }
}

#[test]
fn the_event_log_has_the_envelope_columns_and_its_indexes() {
    let conn = migrated();
    assert_eq!(
        columns(&conn, "event_log"),
        ["id", "event", "occurred_at", "received_at", "workspace_id", "ticket_id", "device_id", "payload"]
    );
    let indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'event_log' AND name NOT LIKE 'sqlite_%'")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .filter_map(Result::ok)
        .collect();
    assert_eq!(indexes.len(), 3, "{indexes:?}");
}

#[test]
fn a_redelivered_event_is_logged_once() {
    let conn = migrated();
    let insert = "INSERT INTO event_log (id, event, occurred_at, received_at, payload)
                  VALUES (?1, 'ticket.created', '2026-11-21T10:00:00Z', '2026-11-21T10:00:01Z', ?2)
                  ON CONFLICT (id) DO NOTHING";
    assert_eq!(conn.execute(insert, params!["e1", "{\"a\":1}"]).expect("first"), 1);
    assert_eq!(conn.execute(insert, params!["e1", "{\"a\":2}"]).expect("again"), 0);
    let payload: String =
        conn.query_row("SELECT payload FROM event_log WHERE id = 'e1'", [], |r| r.get(0)).expect("row");
    assert_eq!(payload, "{\"a\":1}", "the first delivery wins");
}

#[test]
fn the_event_log_refuses_a_payload_that_is_not_json_and_a_value_of_the_wrong_type() {
    let conn = migrated();
    let bad_json = conn.execute(
        "INSERT INTO event_log (id, event, occurred_at, received_at, payload) VALUES ('e2', 'x.y', 't', 't', 'not json')",
        [],
    );
    assert!(bad_json.is_err(), "CHECK (json_valid(payload))");
    let wrong_type = conn.execute(
        "INSERT INTO event_log (id, event, occurred_at, received_at, payload) VALUES ('e3', x'00ff', 't', 't', '{}')",
        [],
    );
    assert!(wrong_type.is_err(), "STRICT tables refuse a blob where text belongs");
    let missing = conn.execute(
        "INSERT INTO event_log (id, event, occurred_at, received_at, payload) VALUES ('e4', NULL, 't', 't', '{}')",
        [],
    );
    assert!(missing.is_err(), "an event has a name");
}

#[test]
fn dead_letters_are_kept_once_per_message() {
    let conn = migrated();
    assert_eq!(columns(&conn, "dead_letters"), ["message_id", "queue", "body", "reason", "received_at", "replayed_at"]);
    let insert = "INSERT INTO dead_letters (message_id, queue, body, reason, received_at)
                  VALUES ('m1', 'noizylab-events', '{}', 'exhausted its retries', 't') ON CONFLICT DO NOTHING";
    assert_eq!(conn.execute(insert, []).expect("first"), 1);
    assert_eq!(conn.execute(insert, []).expect("again"), 0);
}

#[test]
fn a_membership_role_must_be_one_of_the_five() {
    let conn = migrated();
    conn.execute("INSERT INTO users (id, email, created_at) VALUES ('u1', 'a@b.co', 't')", []).expect("user");
    let bad = conn.execute(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ('ws-default', 'u1', 'root', 't')",
        [],
    );
    assert!(bad.is_err(), "role CHECK");
    let good = conn.execute(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ('ws-default', 'u1', 'technician', 't')",
        [],
    );
    assert_eq!(good.expect("technician"), 1);
    let orphan = conn.execute(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ('ws-nope', 'u1', 'guest', 't')",
        [],
    );
    assert!(orphan.is_err(), "foreign key to workspaces");
}

#[test]
fn an_email_has_one_account_and_a_magic_link_token_one_row() {
    let conn = migrated();
    conn.execute("INSERT INTO users (id, email, created_at) VALUES ('u1', 'a@b.co', 't')", []).expect("first");
    assert!(conn.execute("INSERT INTO users (id, email, created_at) VALUES ('u2', 'a@b.co', 't')", []).is_err());
    let link = "INSERT INTO magic_links (id, email, workspace_id, token_hash, code_hash, created_at, expires_at)
                VALUES (?1, 'a@b.co', 'ws-default', 'h', 'c', 0, 600)";
    conn.execute(link, params!["m1"]).expect("link");
    assert!(conn.execute(link, params!["m2"]).is_err(), "token hashes are unique");
}

#[test]
fn every_user_starts_with_empty_preferences() {
    let conn = migrated();
    conn.execute("INSERT INTO users (id, email, created_at) VALUES ('u1', 'a@b.co', 't')", []).expect("user");
    let prefs: String = conn.query_row("SELECT preferences FROM users WHERE id = 'u1'", [], |r| r.get(0)).expect("row");
    assert_eq!(prefs, "{}");
}

/// A user, a ticket of theirs, in ws-default.
fn with_ticket(conn: &Connection) {
    conn.execute_batch(
        "INSERT INTO users (id, email, created_at) VALUES ('u1', 'u1@x.test', 't'), ('u2', 'u2@x.test', 't');
         INSERT INTO tickets (id, workspace_id, number, customer_id, title, status, created_by, created_at, updated_at)
         VALUES ('t1', 'ws-default', 1, 'u1', 'Screen', 'INTAKE', 'u1', 't', 't');",
    )
    .expect("seed");
}

#[test]
fn a_technician_has_at_most_one_running_timer_per_ticket() {
    let conn = migrated();
    with_ticket(&conn);
    let start = "INSERT INTO ticket_timers (ticket_id, technician_id, started_at) VALUES ('t1', ?1, ?2)";
    conn.execute(start, params!["u2", 100]).expect("first timer");
    assert!(conn.execute(start, params!["u2", 200]).is_err(), "a second running timer");
    conn.execute("UPDATE ticket_timers SET stopped_at = 150 WHERE technician_id = 'u2'", []).expect("stop");
    conn.execute(start, params!["u2", 200]).expect("a new span after stopping");
    conn.execute(start, params!["u1", 200]).expect("another technician");
}

#[test]
fn ticket_numbers_are_unique_per_workspace_and_statuses_are_the_lifecycle_s() {
    let conn = migrated();
    with_ticket(&conn);
    let dup = conn.execute(
        "INSERT INTO tickets (id, workspace_id, number, customer_id, title, status, created_by, created_at, updated_at)
         VALUES ('t2', 'ws-default', 1, 'u1', 'Other', 'INTAKE', 'u1', 't', 't')",
        [],
    );
    assert!(dup.is_err(), "UNIQUE (workspace_id, number)");
    let bad = conn.execute("UPDATE tickets SET status = 'FIXED' WHERE id = 't1'", []);
    assert!(bad.is_err(), "CHECK on status");
    conn.execute("UPDATE tickets SET status = 'AWAITING_APPROVAL' WHERE id = 't1'", []).expect("a lifecycle status");
}

#[test]
fn one_invoice_per_quote_and_one_loyalty_award_per_invoice() {
    let conn = migrated();
    with_ticket(&conn);
    conn.execute_batch(
        "INSERT INTO quotes (id, workspace_id, ticket_id, customer_id, status, currency, total_cents, breakdown,
                             explanation, inputs, estimated_time_minutes, guarantee_days, created_by, created_at,
                             expires_at, expires_at_secs)
         VALUES ('q1', 'ws-default', 't1', 'u1', 'approved', 'CAD', 12900, '{}', '[]', '{}', 45, 90, 'u2', 't', 't', 1);
         INSERT INTO invoices (id, workspace_id, customer_id, ticket_id, quote_id, currency, amount_cents, status, created_at)
         VALUES ('i1', 'ws-default', 'u1', 't1', 'q1', 'CAD', 12900, 'open', 't');",
    )
    .expect("seed");
    let again = conn.execute(
        "INSERT INTO invoices (id, workspace_id, customer_id, ticket_id, quote_id, currency, amount_cents, status, created_at)
         VALUES ('i2', 'ws-default', 'u1', 't1', 'q1', 'CAD', 12900, 'open', 't')",
        [],
    );
    assert!(again.is_err(), "UNIQUE quote_id");
    let award = "INSERT INTO loyalty_ledger (workspace_id, user_id, points, reason, invoice_id, at)
                 VALUES ('ws-default', 'u1', 129, 'paid', 'i1', 't')";
    conn.execute(award, []).expect("first award");
    assert!(conn.execute(award, []).is_err(), "UNIQUE invoice_id");
}

#[test]
fn api_keys_keep_only_a_hash_and_scopes_as_json() {
    let conn = migrated();
    with_ticket(&conn);
    let insert = "INSERT INTO api_keys (id, workspace_id, name, key_hash, scopes, rate_limit, created_by, created_at)
                  VALUES (?1, 'ws-default', 'k', ?2, ?3, 100, 'u1', 't')";
    conn.execute(insert, params!["k1", "h1", "[\"tickets:read\"]"]).expect("a key");
    assert!(conn.execute(insert, params!["k2", "h2", "tickets:read"]).is_err(), "scopes must be JSON");
    assert!(conn.execute(insert, params!["k3", "h1", "[]"]).is_err(), "hashes are unique");
    assert_eq!(
        columns(&conn, "api_keys").iter().filter(|c| c.contains("key") || c.contains("secret")).collect::<Vec<_>>(),
        ["key_hash"],
        "no column for the key itself"
    );
}

#[test]
fn deliveries_take_the_in_app_channel_and_refuse_unknown_ones() {
    let conn = migrated();
    let insert = |channel: &str| {
        conn.execute(
            "INSERT INTO deliveries (event_id, recipient, channel, event, status, updated_at)
             VALUES ('e1', 'u1', ?1, 'ticket.created', 'sent', 't')",
            [channel],
        )
    };
    assert!(insert("in_app").is_ok());
    assert!(insert("carrier_pigeon").is_err());
    let index: i64 = conn
        .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'deliveries_by_ticket'", [], |r| r.get(0))
        .expect("index");
    assert_eq!(index, 1, "the rebuilt table keeps its index");
}

#[test]
fn disabling_moves_to_the_membership_and_an_erased_account_alone_stays_disabled_as_a_whole() {
    let conn = Connection::open_in_memory().expect("sqlite");
    conn.execute_batch("PRAGMA foreign_keys = ON;").expect("pragma");
    let (before, after): (Vec<_>, Vec<_>) = migrations().into_iter().partition(|(name, _)| name.as_str() < "0015");
    for (name, sql) in &before {
        conn.execute_batch(&format!("BEGIN; {sql}\nCOMMIT;")).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    conn.execute_batch(
        "INSERT INTO workspaces (id, name, created_at) VALUES ('ws-b', 'B', 't');
         INSERT INTO users (id, email, created_at, disabled_at) VALUES
             ('on', 'on@x.test', 't', NULL), ('off', 'off@x.test', 't', 'd1'),
             ('gone', 'deleted-gone@deleted.invalid', 't', 'd2');
         INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES
             ('ws-default', 'on', 'owner', 't'), ('ws-default', 'off', 'technician', 't'), ('ws-b', 'off', 'customer', 't');",
    )
    .expect("data before 0015");
    for (name, sql) in &after {
        conn.execute_batch(&format!("BEGIN; {sql}\nCOMMIT;")).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(columns(&conn, "memberships").contains(&"disabled_at".to_owned()));
    let memberships: Vec<(String, String, Option<String>)> = conn
        .prepare("SELECT workspace_id, user_id, disabled_at FROM memberships ORDER BY workspace_id, user_id")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .filter_map(Result::ok)
        .collect();
    let d1 = Some("d1".to_owned());
    assert_eq!(
        memberships,
        [
            ("ws-b".into(), "off".into(), d1.clone()),
            ("ws-default".into(), "off".into(), d1),
            ("ws-default".into(), "on".into(), None),
        ],
        "a disabled account stays disabled wherever it was a member"
    );
    let users: Vec<(String, Option<String>)> = conn
        .prepare("SELECT id, disabled_at FROM users ORDER BY id")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .filter_map(Result::ok)
        .collect();
    assert_eq!(users, [("gone".into(), Some("d2".into())), ("off".into(), None), ("on".into(), None)]);
}

#[test]
fn a_purchase_order_line_never_receives_more_than_it_ordered() {
    let conn = migrated();
    conn.execute_batch(
        "INSERT INTO parts (id, workspace_id, sku, description, category, cost_cents, currency, created_at, updated_at)
         VALUES ('p1', 'ws-default', 'BAT-1', 'Battery', 'battery', 4100, 'CAD', 't', 't');
         INSERT INTO suppliers (id, workspace_id, name, created_at) VALUES ('s1', 'ws-default', 'Parts Co', 't');
         INSERT INTO purchase_orders (id, workspace_id, supplier_id, status, location, created_by, created_at, updated_at)
         VALUES ('po1', 'ws-default', 's1', 'ordered', 'main', 'u', 't', 't');
         INSERT INTO purchase_order_lines (po_id, line, part_id, quantity, cost_cents) VALUES ('po1', 1, 'p1', 5, 4100);",
    )
    .expect("seed");
    let receive =
        |n: i64| conn.execute("UPDATE purchase_order_lines SET received = received + ?1 WHERE po_id = 'po1'", [n]);
    receive(3).expect("three of five");
    assert!(receive(3).is_err(), "six of five is refused by the CHECK");
    receive(2).expect("the last two");
    let bad_kind = conn.execute(
        "INSERT INTO stock_ledger (workspace_id, part_id, location, kind, quantity, reserved, actor_id, at)
         VALUES ('ws-default', 'p1', 'main', 'steal', 1, 0, 'u', 't')",
        [],
    );
    assert!(bad_kind.is_err(), "the ledger knows its movement kinds");
}

#[test]
fn a_deal_has_one_open_purchase_request_and_a_request_one_purchase_order() {
    let conn = migrated();
    conn.execute_batch(
        "INSERT INTO parts (id, workspace_id, sku, description, category, cost_cents, currency, created_at, updated_at)
         VALUES ('p1', 'ws-default', 'T4', 'GPU', 'gpu', 240000, 'USD', 't', 't');
         INSERT INTO watches (id, workspace_id, part_id, query, condition, max_total_cents, currency, target_margin_bps,
             min_score, created_by, created_at)
         VALUES ('w1', 'ws-default', 'p1', 'T4', 'new', 220000, 'USD', 3000, 60, 'u', 't');
         INSERT INTO deals (id, workspace_id, watch_id, part_id, listing_id, title, seller, price_cents, shipping_cents,
             tax_cents, landed_cents, currency, stock_cost_cents, margin_bps, score, reasons, found_at, seen_at)
         VALUES ('d1', 'ws-default', 'w1', 'p1', 'v1|1|0', 'T4', 's', 180000, 1200, 23556, 204756, 'USD', 240000, 3437,
             72, '[]', 't', 't');
         INSERT INTO suppliers (id, workspace_id, name, created_at) VALUES ('s1', 'ws-default', 'eBay: s', 't');",
    )
    .expect("seed");
    let ask = |id: &str, status: &str| {
        conn.execute(
            "INSERT INTO purchase_requests (id, workspace_id, deal_id, quantity, location, status, requested_by, requested_at)
             VALUES (?1, 'ws-default', 'd1', 1, 'main', ?2, 'u', 't')",
            [id, status],
        )
    };
    ask("r1", "pending").expect("a first request");
    assert!(ask("r2", "pending").is_err(), "a second open request for the same deal");
    conn.execute("UPDATE purchase_requests SET status = 'rejected' WHERE id = 'r1'", []).expect("reject");
    ask("r3", "pending").expect("asked again after a rejection");
    let order = |id: &str| {
        conn.execute(
            "INSERT INTO purchase_orders (id, workspace_id, supplier_id, status, location, source, created_by, created_at,
                 updated_at)
             VALUES (?1, 'ws-default', 's1', 'ordered', 'main', 'ebay:r3', 'u', 't', 't')",
            [id],
        )
    };
    order("po1").expect("the approval's order");
    assert!(order("po2").is_err(), "a second order for the same approval");
}

#[test]
fn pruning_a_callers_old_idempotency_keys_reads_them_by_age_and_keeps_the_days() {
    let conn = migrated();
    // The statement main's `idempotency` module runs before each idempotent write.
    let prune = "DELETE FROM idempotency_keys WHERE actor = ?1 AND created_at < ?2";
    let plan = plan(&conn, prune);
    assert!(
        plan.iter().any(|step| step.contains("idempotency_keys_by_age") && step.contains("created_at<?")),
        "the prune should search (actor, created_at), not read every key of the caller: {plan:?}"
    );
    for (actor, key, at) in [("usr_a", "old", 500), ("usr_a", "new", 1_500), ("usr_b", "old", 500)] {
        conn.execute(
            "INSERT INTO idempotency_keys (actor, key, fingerprint, created_at) VALUES (?1, ?2, 'f', ?3)",
            params![actor, key, at],
        )
        .expect("insert");
    }
    assert_eq!(conn.execute(prune, params!["usr_a", 1_000]).expect("prune"), 1);
    let left: Vec<(String, String)> = conn
        .prepare("SELECT actor, key FROM idempotency_keys ORDER BY actor, key")
        .expect("select")
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .expect("query")
        .filter_map(Result::ok)
        .collect();
    assert_eq!(left, [("usr_a".into(), "new".into()), ("usr_b".into(), "old".into())]);
}

/// SQLite's plan for a statement, a step per line (its parameters bound to NULL).
fn plan(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap_or_else(|e| panic!("{e}: {sql}"));
    let nulls = vec![rusqlite::types::Null; stmt.parameter_count()];
    stmt.query_map(rusqlite::params_from_iter(nulls), |row| row.get::<_, String>(3))
        .expect("plan")
        .filter_map(Result::ok)
        .collect()
}

#[test]
fn reads_of_tables_that_grow_with_the_shops_history_go_through_an_index() {
    let conn = migrated();
    // Each statement as its worker runs it, and the index it must be answered from.
    let reads = [
        (
            "SELECT technician_id, SUM(COALESCE(stopped_at, ?2) - started_at) AS seconds, SUM(stopped_at IS NULL) AS running
             FROM ticket_timers WHERE ticket_id = ?1 GROUP BY technician_id ORDER BY technician_id",
            "ticket_timers_by_ticket",
        ),
        (
            "SELECT id, workspace_id, key_hash, scopes, rate_limit, expires_at FROM api_keys
             WHERE created_by = ?1 AND revoked_at IS NULL AND (?2 IS NULL OR workspace_id = ?2)",
            "api_keys_by_creator",
        ),
        (
            "SELECT id, emailed_at FROM diagnostic_reports WHERE session_id = ?1 ORDER BY created_at LIMIT 1",
            "diagnostic_reports_by_session",
        ),
        ("SELECT code AS value FROM part_codes WHERE part_id = ?1 ORDER BY code", "part_codes_by_part"),
        ("DELETE FROM part_codes WHERE part_id = ?1", "part_codes_by_part"),
        ("SELECT COUNT(*) AS n FROM vision_analyses WHERE reference_id = ?1", "vision_analyses_by_reference"),
        (
            "SELECT choice, correct, score, at FROM training_attempts WHERE user_id = ?1 AND simulation_id = ?2 ORDER BY id LIMIT 1",
            "training_attempts_by_simulation",
        ),
        (
            "SELECT seq, part_id, location, bin, kind, quantity, reserved, ticket_id, reason, actor_id, at FROM stock_ledger
             WHERE workspace_id = ?1 AND (?2 IS NULL OR part_id = ?2) AND (?3 IS NULL OR ticket_id = ?3)
             ORDER BY seq DESC LIMIT 500",
            "stock_ledger_by_workspace",
        ),
    ];
    for (sql, index) in reads {
        let steps = plan(&conn, sql);
        assert!(
            steps.iter().any(|s| s.contains(index)) && !steps.iter().any(|s| s.starts_with("SCAN")),
            "expected a search through {index}, got {steps:?} for {sql}"
        );
    }
}

#[test]
fn a_persons_export_and_erasure_read_only_their_rows() {
    let conn = migrated();
    // As main's `privacy` module runs them: by person, in every workspace.
    let statements = [
        "SELECT id, workspace_id, name, type, make, model, serial, imei, os, specs, health_score, last_scan_at,
                created_at, deleted_at FROM devices WHERE owner_id = ?1 ORDER BY created_at",
        "SELECT s.id, s.device_id, s.status, s.created_at, s.completed_at FROM device_scans s
         JOIN devices d ON d.id = s.device_id WHERE d.owner_id = ?1 ORDER BY s.created_at",
        "SELECT id, workspace_id, number, device_id, title, description, status, priority, due_at, quote_id,
                created_at, updated_at FROM tickets WHERE customer_id = ?1 ORDER BY created_at",
        "SELECT e.ticket_id, e.at, e.actor_id, e.kind, e.from_status, e.to_status, e.body FROM ticket_timeline e
         JOIN tickets t ON t.id = e.ticket_id WHERE t.customer_id = ?1 AND e.visibility = 'customer' ORDER BY e.seq",
        "SELECT a.id, a.ticket_id, a.filename, a.content_type, a.size, a.created_at FROM ticket_attachments a
         JOIN tickets t ON t.id = a.ticket_id WHERE t.customer_id = ?1 AND a.visibility = 'customer'",
        "SELECT seq, at, action, workspace_id, target, ip, request_id FROM audit_log
         WHERE actor = ?1 OR target = ?1 ORDER BY seq",
        "UPDATE devices SET name = 'deleted', make = NULL, model = NULL, serial = NULL, imei = NULL, os = NULL,
                specs = '{}', deleted_at = COALESCE(deleted_at, ?2) WHERE owner_id = ?1",
        "UPDATE chat_messages SET text = '(deleted)', intent = NULL,
                sender_name = CASE WHEN sender_id = ?1 THEN 'deleted' ELSE sender_name END
          WHERE sender_id = ?1
             OR (role = 'agent' AND conversation_id IN (SELECT id FROM chat_conversations WHERE customer_id = ?1))",
    ];
    for sql in statements {
        let steps = plan(&conn, sql);
        assert!(!steps.iter().any(|s| s.starts_with("SCAN")), "a whole table read for one person: {steps:?} for {sql}");
    }
}

/// Every statement in the workers and the kit writes its `LIMIT` (and `OFFSET`) in as a
/// number: the SQLite in workerd (3.47) compiles a statement whose `LIMIT` is bound again
/// on every run (`noizylab_kit::db`; the SQLite bundled here, 3.46, does not, so the cost
/// itself is measured in docs/benchmarks.md, not here).
#[test]
fn no_statement_binds_its_limit() {
    fn rust_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read dir").filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "build" && n != "target") {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&root.join("workers"), &mut files);
    rust_files(&root.join("shared"), &mut files);
    assert!(files.len() > 50, "found only {} source files", files.len());
    let mut bound = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read source");
        for (n, line) in text.lines().enumerate() {
            let upper = line.to_ascii_uppercase();
            let binds = ["LIMIT ?", "OFFSET ?"].iter().any(|k| upper.contains(k));
            if binds && !line.trim_start().starts_with("//") {
                bound.push(format!("{}:{}", file.display(), n + 1));
            }
        }
    }
    assert!(bound.is_empty(), "statements binding their LIMIT or OFFSET: {bound:?}");
}
