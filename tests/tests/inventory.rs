//! Parts and stock end to end (issue 16) against the real `inventory` worker in workerd
//! with real D1: the catalogue and its CSV, the stock ledger's movements and its sums,
//! the last unit taken by two technicians at once, and low stock on the bus.

use std::sync::OnceLock;
use std::time::Duration;

use noizylab_tests::*;
use serde_json::{json, Value};

fn platform() -> &'static Platform {
    static SHARED: OnceLock<Platform> = OnceLock::new();
    SHARED.get_or_init(|| Platform::fresh("inventory"))
}

fn part(p: &Platform, tech: &str, sku: &str, extra: Value) -> Value {
    let mut body =
        json!({ "sku": sku, "description": format!("{sku} part"), "category": "battery", "cost_cents": 5490 });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let r = authed(p, "POST", "/api/v1/parts", tech, Some(&body));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn movement(p: &Platform, tech: &str, body: Value) -> Reply {
    authed(p, "POST", "/api/v1/inventory/movements", tech, Some(&body))
}

fn stock_at(part: &Value, location: &str) -> (i64, i64, i64) {
    let s = part["stock"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["location"] == location))
        .cloned()
        .unwrap_or_default();
    (s["on_hand"].as_i64().unwrap_or(0), s["reserved"].as_i64().unwrap_or(0), s["available"].as_i64().unwrap_or(0))
}

fn ticket(p: &Platform) -> String {
    let customer = access(&sign_in(p, &unique_email("parts-customer")));
    let t = authed(p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "Battery swells" })));
    t.json()["id"].as_str().expect("ticket").to_owned()
}

#[test]
fn the_catalogue_knows_what_fits_what_and_reads_and_writes_its_csv() {
    let p = platform();
    let tech = access(&technician(p));
    let sku = format!("BAT-{}", now());
    let made = part(
        p,
        &tech,
        &sku,
        json!({ "mpn": "SB10K97643", "barcodes": ["5901234123457"],
        "models": ["ThinkPad X1 Carbon G7", "ThinkPad X1 Carbon G8"] }),
    );
    assert_eq!(made["models"], json!(["ThinkPad X1 Carbon G7", "ThinkPad X1 Carbon G8"]));
    let fits = authed(p, "GET", "/api/v1/parts?model=ThinkPad%20X1%20Carbon%20G8", &tech, None).json();
    assert!(fits["parts"].as_array().is_some_and(|ps| ps.iter().any(|x| x["sku"] == sku.as_str())), "{fits}");
    assert_eq!(
        authed(
            p,
            "POST",
            "/api/v1/parts",
            &tech,
            Some(&json!({ "sku": sku, "description": "again", "cost_cents": 1 }))
        )
        .status,
        409
    );
    let taken =
        json!({ "sku": format!("{sku}-B"), "description": "x", "cost_cents": 1, "barcodes": ["5901234123457"] });
    assert_eq!(authed(p, "POST", "/api/v1/parts", &tech, Some(&taken)).status, 409);
    let r =
        authed(p, "POST", "/api/v1/parts", &tech, Some(&json!({ "sku": "X Y", "description": "x", "cost_cents": 1 })));
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("sku")));

    // Scanning: the code a barcode reader gives names the part; an unknown code says what was read.
    let scanned = authed(p, "POST", "/api/v1/inventory/scan", &tech, Some(&json!({ "code": "5901234123457" })));
    assert_eq!(scanned.json()["sku"], sku.as_str());
    let unknown = authed(p, "POST", "/api/v1/inventory/scan", &tech, Some(&json!({ "code": "4006381333931" })));
    assert_eq!(unknown.status, 404);
    assert!(unknown.text().contains("4006381333931"));
    // A phone photo of a book's EAN-13 (ZXing's test images; shared/core/tests/data/barcodes)
    // is read in the worker.
    let book = part(p, &tech, &format!("BOOK-{}", now()), json!({ "barcodes": ["9780393058673"] }));
    let photo = |name: &str| std::fs::read(repo().join("shared/core/tests/data/barcodes").join(name)).expect("photo");
    let auth = format!("Bearer {tech}");
    let scan = |body: &[u8], kind: &str| {
        request(
            "POST",
            &p.url("/api/v1/inventory/scan"),
            &[("authorization", &auth), ("content-type", kind)],
            Some(body),
        )
    };
    let found = scan(&photo("ean13-book.png"), "image/png");
    assert_eq!(found.status, 200, "{}", found.text());
    assert_eq!(
        (found.json()["id"].as_str(), found.json()["read"][0]["format"].as_str()),
        (book["id"].as_str(), Some("EAN_13"))
    );
    let qr = scan(&photo("qr-phone.png"), "image/png");
    assert_eq!(qr.status, 404, "a QR code no part has: {}", qr.text());
    assert!(qr.text().contains("MEBKM:URL:"), "the 404 says what was read: {}", qr.text());
    let blurred = scan(&photo("ean13-blurred.png"), "image/png");
    assert_eq!(blurred.status, 422, "{}", blurred.text());
    assert_eq!(scan(b"a label", "text/plain").status, 415);

    // CSV: good rows land, bad ones are named by line; the export reads back the same.
    let stamp = now();
    let csv = format!(
        "sku,mpn,description,category,cost,currency,barcodes,models,reorder_point,reorder_quantity\n\
         FAN-{stamp},,\"CPU fan, 5 V\",cooling,12.50,CAD,,ThinkPad T14,1,3\n\
         SCR-{stamp},,13.3in panel,display,not-a-price,CAD,,,0,0\n\
         KEY-{stamp},,Keyboard,input,30,CAD,5901234123457,,0,0\n\
         LCD-{stamp},,Panel,display,99.99,CAD,,iPhone 12,0,0\n"
    );
    let auth = format!("Bearer {tech}");
    let r = request(
        "POST",
        &p.url("/api/v1/parts/import"),
        &[("authorization", &auth), ("content-type", "text/csv")],
        Some(csv.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let report = r.json();
    assert_eq!((report["created"].as_i64(), report["updated"].as_i64()), (Some(2), Some(0)), "{report}");
    let lines: Vec<i64> =
        report["rejected"].as_array().into_iter().flatten().filter_map(|r| r["line"].as_i64()).collect();
    assert_eq!(lines, [3, 4], "{report}");
    assert!(report["rejected"][1]["reason"].as_str().is_some_and(|r| r.contains("another part")), "{report}");
    let export = authed(p, "GET", "/api/v1/parts/export", &tech, None);
    assert_eq!(export.header("content-type"), Some("text/csv; charset=utf-8"));
    let text = export.text();
    assert!(text.contains(&format!("FAN-{stamp},,\"CPU fan, 5 V\",cooling,12.50,CAD,,ThinkPad T14,1,3")), "{text}");
    let again = request(
        "POST",
        &p.url("/api/v1/parts/import"),
        &[("authorization", &auth), ("content-type", "text/csv")],
        Some(text.as_bytes()),
    );
    assert_eq!(again.json()["created"], 0, "re-importing the export changes nothing but updates");
    let bad = request(
        "POST",
        &p.url("/api/v1/parts/import"),
        &[("authorization", &auth), ("content-type", "text/csv")],
        Some(b"name,price\nx,1\n"),
    );
    assert_eq!(bad.status, 400);
}

#[test]
fn the_ledger_keeps_on_hand_reserved_and_available_and_never_goes_negative() {
    let p = platform();
    let tech = access(&technician(p));
    let sku = format!("CAP-{}", now());
    let id = part(p, &tech, &sku, json!({ "reorder_point": 2, "reorder_quantity": 10 }))["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let t = ticket(p);
    let m = |kind: &str, quantity: i64, extra: Value| {
        let mut body = json!({ "part_id": id, "kind": kind, "quantity": quantity, "location": "main" });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        movement(p, &tech, body)
    };
    assert_eq!(stock_at(&m("receive", 5, json!({ "bin": "A3" })).json(), "main"), (5, 0, 5));
    assert_eq!(stock_at(&m("reserve", 2, json!({ "ticket_id": t })).json(), "main"), (5, 2, 3));
    assert_eq!(stock_at(&m("consume", 1, json!({ "ticket_id": t })).json(), "main"), (4, 1, 3));
    assert_eq!(stock_at(&m("release", 1, json!({ "ticket_id": t })).json(), "main"), (4, 0, 4));
    let r = m("consume", 1, json!({ "ticket_id": t }));
    assert_eq!(r.status, 409, "nothing reserved any more: {}", r.text());
    assert!(r.text().contains("reserve first"));
    assert_eq!(m("adjust", -1, json!({})).status, 400, "an adjustment says why");
    assert_eq!(stock_at(&m("adjust", -1, json!({ "reason": "cracked case" })).json(), "main"), (3, 0, 3));
    let moved = m("transfer", 2, json!({ "to_location": "van" })).json();
    assert_eq!((stock_at(&moved, "main"), stock_at(&moved, "van")), ((1, 0, 1), (2, 0, 2)));
    assert_eq!(m("reserve", 5, json!({ "ticket_id": t })).status, 409, "more than is available");
    for (bad, field) in [
        (json!({ "part_id": id, "kind": "receive", "quantity": -2, "location": "main" }), "quantity"),
        (json!({ "part_id": id, "kind": "reserve", "quantity": 1, "location": "main" }), "ticket_id"),
        (json!({ "part_id": "part_nope", "kind": "receive", "quantity": 1, "location": "main" }), "part_id"),
    ] {
        let r = movement(p, &tech, bad);
        assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some(field)), "{}", r.text());
    }
    // The ledger is the truth: its sums are the stock.
    let ledger = authed(p, "GET", &format!("/api/v1/inventory/ledger?part_id={id}"), &tech, None).json();
    let entries = ledger["entries"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 7, "{ledger}");
    let on_hand: i64 = entries.iter().filter_map(|e| e["quantity"].as_i64()).sum();
    assert_eq!(on_hand, 3);
    // Available fell to the reorder point (2 → main 1 + van 2 = 3, then … ): the bus heard it once it crossed.
    assert_eq!(stock_at(&m("reserve", 1, json!({ "ticket_id": t })).json(), "main"), (1, 1, 0));
    let low = authed(p, "GET", "/api/v1/inventory/low-stock", &tech, None).json();
    let mine = low["parts"].as_array().and_then(|ps| ps.iter().find(|x| x["id"] == id.as_str())).cloned();
    assert_eq!(mine.map(|x| x["suggested_order"].clone()), Some(json!(10)), "{low}");
    eventually(Duration::from_secs(20), "inventory.low_stock on the bus", || {
        let sql =
            format!("SELECT payload FROM event_log WHERE event = 'inventory.low_stock' AND payload LIKE '%{id}%'");
        (!d1_query(&p.state, &sql).is_empty()).then_some(())
    });
}

#[test]
fn two_technicians_taking_the_last_unit_at_once_one_gets_it() {
    let p = platform();
    let tech = access(&technician(p));
    let other = access(&technician(p));
    let sku = format!("FLEX-{}", now());
    let id = part(p, &tech, &sku, json!({}))["id"].as_str().expect("id").to_owned();
    assert_eq!(
        movement(p, &tech, json!({ "part_id": id, "kind": "receive", "quantity": 1, "location": "main" })).status,
        201
    );
    let (a, b) = (ticket(p), ticket(p));
    for round in 0..3 {
        let statuses: Vec<u16> = std::thread::scope(|s| {
            let take = |token: String, t: String| {
                let id = id.clone();
                s.spawn(move || {
                    movement(
                        p,
                        &token,
                        json!({ "part_id": id, "kind": "reserve", "quantity": 1, "location": "main", "ticket_id": t }),
                    )
                    .status
                })
            };
            let x = take(tech.clone(), a.clone());
            let y = take(other.clone(), b.clone());
            let mut v = vec![x.join().expect("thread"), y.join().expect("thread")];
            v.sort();
            v
        });
        assert_eq!(statuses, [201, 409], "round {round}");
        // Give it back for the next round.
        let holder = d1_query(&p.state, &format!("SELECT ticket_id FROM stock_ledger WHERE part_id = '{id}' AND kind = 'reserve' ORDER BY seq DESC LIMIT 1"));
        let t = holder[0]["ticket_id"].as_str().expect("holder").to_owned();
        assert_eq!(
            movement(
                p,
                &tech,
                json!({ "part_id": id, "kind": "release", "quantity": 1, "location": "main", "ticket_id": t })
            )
            .status,
            201
        );
    }
    let part = authed(p, "GET", &format!("/api/v1/parts/{id}"), &tech, None).json();
    assert_eq!(stock_at(&part, "main"), (1, 0, 1));
}

#[test]
fn a_purchase_order_is_received_line_by_line_into_the_ledger_and_never_beyond_what_was_ordered() {
    let p = platform();
    let tech = access(&technician(p));
    let stamp = now();
    let battery = part(p, &tech, &format!("PO-BAT-{stamp}"), json!({ "reorder_point": 3, "reorder_quantity": 5 }));
    let fan = part(p, &tech, &format!("PO-FAN-{stamp}"), json!({ "cost_cents": 1200 }));
    let (bat, fan) = (battery["id"].as_str().expect("id").to_owned(), fan["id"].as_str().expect("id").to_owned());
    let s = authed(
        p,
        "POST",
        "/api/v1/suppliers",
        &tech,
        Some(&json!({ "name": format!("Parts Co {stamp}"), "lead_time_days": 5 })),
    );
    assert_eq!(s.status, 201, "{}", s.text());
    let supplier = s.json()["id"].as_str().expect("supplier").to_owned();
    let again = authed(p, "POST", "/api/v1/suppliers", &tech, Some(&json!({ "name": format!("Parts Co {stamp}") })));
    assert_eq!(again.status, 409);
    let priced = authed(
        p,
        "PUT",
        &format!("/api/v1/suppliers/{supplier}/parts/{bat}"),
        &tech,
        Some(&json!({ "cost_cents": 4100 })),
    );
    assert_eq!(priced.json()["prices"][0]["cost_cents"], 4100);

    // The parts at their reorder point, grouped by the supplier that sells them cheapest.
    let sug = authed(p, "GET", "/api/v1/purchase-orders/suggestions", &tech, None).json();
    let group =
        sug["suggestions"].as_array().and_then(|g| g.iter().find(|g| g["supplier_id"] == supplier.as_str())).cloned();
    let group = group.unwrap_or_else(|| panic!("a group for the supplier: {sug}"));
    assert_eq!(
        (group["lines"][0]["part_id"].as_str(), group["lines"][0]["quantity"].as_i64()),
        (Some(bat.as_str()), Some(8))
    );

    let body = json!({ "supplier_id": supplier, "location": "main", "lines": [
        { "part_id": bat, "quantity": 5 }, { "part_id": fan, "quantity": 2 } ] });
    let d = authed(p, "POST", "/api/v1/purchase-orders", &tech, Some(&body));
    assert_eq!(d.status, 201, "{}", d.text());
    let d = d.json();
    let po = d["id"].as_str().expect("po").to_owned();
    assert_eq!(
        (d["status"].as_str(), d["lines"][0]["cost_cents"].as_i64(), d["lines"][1]["cost_cents"].as_i64()),
        (Some("draft"), Some(4100), Some(1200))
    );
    assert_eq!(d["total_cents"], 5 * 4100 + 2 * 1200);
    let receive = |lines: Value| {
        authed(p, "POST", &format!("/api/v1/purchase-orders/{po}/receive"), &tech, Some(&json!({ "lines": lines })))
    };
    assert_eq!(receive(json!([{ "line": 1, "quantity": 1 }])).status, 409, "a draft is not received");
    assert_eq!(
        authed(p, "POST", &format!("/api/v1/purchase-orders/{po}/order"), &tech, None).json()["status"],
        "ordered"
    );

    let part_stock = |id: &str| stock_at(&authed(p, "GET", &format!("/api/v1/parts/{id}"), &tech, None).json(), "main");
    let r = receive(json!([{ "line": 1, "quantity": 2 }]));
    assert_eq!(r.json()["status"], "partially_received", "{}", r.text());
    assert_eq!(part_stock(&bat), (2, 0, 2));
    // Four more of line 1 is one too many: nothing of this receipt is written.
    let r = receive(json!([{ "line": 2, "quantity": 2 }, { "line": 1, "quantity": 4 }]));
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("too many"), "{}", r.text());
    assert_eq!((part_stock(&bat), part_stock(&fan)), ((2, 0, 2), (0, 0, 0)));
    let r = receive(json!([{ "line": 2, "quantity": 2 }, { "line": 1, "quantity": 3 }]));
    assert_eq!(r.json()["status"], "received", "{}", r.text());
    assert_eq!((part_stock(&bat), part_stock(&fan)), ((5, 0, 5), (2, 0, 2)));
    assert_eq!(
        authed(p, "POST", &format!("/api/v1/purchase-orders/{po}/cancel"), &tech, None).status,
        409,
        "it arrived"
    );
    assert_eq!(
        authed(p, "POST", &format!("/api/v1/purchase-orders/{po}/close"), &tech, None).json()["status"],
        "closed"
    );
    let ledger = authed(p, "GET", &format!("/api/v1/inventory/ledger?part_id={bat}"), &tech, None).json();
    let received: i64 = ledger["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["kind"] == "receive")
        .filter_map(|e| e["quantity"].as_i64())
        .sum();
    assert_eq!(received, 5, "the ledger and the order agree");
}

#[test]
fn reorder_points_are_forecast_from_what_repairs_consumed_and_the_supplier_s_lead_time() {
    let p = platform();
    let tech = access(&technician(p));
    let made = part(p, &tech, &format!("FANR-{}", now()), json!({ "reorder_point": 1, "reorder_quantity": 1 }));
    let id = made["id"].as_str().expect("part id").to_owned();
    assert_eq!(
        movement(p, &tech, json!({ "part_id": id, "kind": "receive", "quantity": 12, "location": "main" })).status,
        201
    );
    // Half a year of repairs, as imported from the shop's old system: one fan every six
    // days, three every twelfth (intermittent demand); the ledger rows are dated then.
    let mut daily = vec![0i64; noizylab_core::reorder::HISTORY_DAYS];
    for k in 0..daily.len() {
        let days_ago = daily.len() - 1 - k;
        if k % 6 == 5 {
            let used = if k % 12 == 5 { 3 } else { 1 };
            daily[k] = used;
            d1_execute(
                p,
                &format!(
                    "INSERT INTO stock_ledger (workspace_id, part_id, location, kind, quantity, reserved, actor_id, at)
                     VALUES ('ws-default', '{id}', 'main', 'consume', -{used}, 0, 'import',
                             strftime('%Y-%m-%dT12:00:00Z', 'now', '-{days_ago} days'))"
                ),
            );
        }
    }
    // A receive to balance what the import took out, so the stock stays 12.
    d1_execute(
        p,
        &format!(
            "INSERT INTO stock_ledger (workspace_id, part_id, location, kind, quantity, reserved, actor_id, at)
             VALUES ('ws-default', '{id}', 'main', 'receive', {}, 0, 'import', strftime('%Y-%m-%dT00:00:00Z', 'now', '-200 days'))",
            daily.iter().sum::<i64>()
        ),
    );
    // The cheapest supplier delivers in 12 days.
    let s = |name: &str, lead: i64, cost: i64| {
        let made =
            authed(p, "POST", "/api/v1/suppliers", &tech, Some(&json!({ "name": name, "lead_time_days": lead })));
        assert_eq!(made.status, 201, "{}", made.text());
        let sid = made.json()["id"].as_str().expect("supplier").to_owned();
        let price = authed(
            p,
            "PUT",
            &format!("/api/v1/suppliers/{sid}/parts/{id}"),
            &tech,
            Some(&json!({ "cost_cents": cost })),
        );
        assert_eq!(price.status, 200, "{}", price.text());
    };
    s(&format!("Fans Direct {}", now()), 12, 1800);
    s(&format!("Fans Express {}", now()), 2, 2600);

    let shown = authed(p, "GET", &format!("/api/v1/parts/{id}/reorder-plan"), &tech, None);
    assert_eq!(shown.status, 200, "{}", shown.text());
    let v = shown.json();
    let expected = noizylab_core::reorder::plan(&daily, 12);
    assert_eq!(v["plan"]["lead_time_days"], 12, "{v}");
    assert_eq!((v["plan"]["demand_days"].as_u64(), v["plan"]["consumed"].as_i64()), (Some(30), Some(60)), "{v}");
    assert_eq!(v["plan"]["reorder_point"], expected.reorder_point, "{v}");
    assert_eq!(v["plan"]["reorder_quantity"], expected.reorder_quantity, "{v}");
    assert!(v["plan"]["method"].as_str().is_some_and(|m| m.starts_with("SBA")));
    assert!(v["lead_time_from"].as_str().is_some_and(|s| s.starts_with("Fans Direct")));
    assert_eq!(v["current"], json!({ "reorder_point": 1, "reorder_quantity": 1 }));
    assert!(expected.reorder_point > 1 && expected.reorder_point <= 12, "{expected:?}");

    // Applied: the part takes the plan's numbers.
    let applied = authed(p, "POST", &format!("/api/v1/parts/{id}/reorder-plan"), &tech, None);
    assert_eq!(applied.status, 200, "{}", applied.text());
    let part = authed(p, "GET", &format!("/api/v1/parts/{id}"), &tech, None).json();
    assert_eq!(
        (part["reorder_point"].as_i64(), part["reorder_quantity"].as_i64()),
        (Some(expected.reorder_point), Some(expected.reorder_quantity))
    );
}

/// A quote naming `part` (2 of them) issued on a new ticket of `customer`'s and approved
/// by them; the ticket (assigned to the technician) and the quote.
fn approved_quote_with(p: &Platform, customer: &str, tech: &str, tech_id: &str, part: &str) -> (String, Value) {
    let d =
        authed(p, "POST", "/api/v1/devices/register", customer, Some(&json!({ "name": "Laptop", "type": "laptop" })));
    assert_eq!(d.status, 201, "{}", d.text());
    let body = json!({ "title": "Battery swells", "device_id": d.json()["id"] });
    let t = authed(p, "POST", "/api/v1/tickets", customer, Some(&body));
    let ticket = t.json()["id"].as_str().expect("ticket").to_owned();
    let assign =
        authed(p, "PATCH", &format!("/api/v1/tickets/{ticket}"), tech, Some(&json!({ "assignee_id": tech_id })));
    assert_eq!(assign.status, 200, "{}", assign.text());
    move_to(p, tech, &ticket, &["TRIAGE", "DIAGNOSTICS"]);
    let quote = json!({ "ticket_id": ticket, "complexity": "standard", "estimated_minutes": 40,
                        "parts": [{ "part_id": part, "quantity": 2, "cost_cents": 1 }] });
    let q = authed(p, "POST", "/api/v1/pricing/estimate", tech, Some(&quote));
    assert_eq!(q.status, 201, "{}", q.text());
    let approve = format!("/api/v1/pricing/quotes/{}/approve", q.json()["quote_id"].as_str().expect("quote"));
    assert_eq!(authed(p, "POST", &approve, customer, None).status, 200);
    (ticket, q.json())
}

#[test]
fn a_quote_costs_catalogue_parts_at_their_real_cost_reserves_them_when_approved_and_the_ticket_uses_or_frees_them() {
    let p = platform();
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let tech_pair = technician(p);
    let (tech, tech_id) = (access(&tech_pair), user_id(&tech_pair));
    let customer = access(&sign_in(p, &unique_email("parts-quote")));
    let made = part(p, &tech, &format!("BATQ-{}", now()), json!({ "cost_cents": 4_100, "reorder_point": 2 }));
    let id = made["id"].as_str().expect("part id").to_owned();
    assert_eq!(
        movement(p, &tech, json!({ "part_id": id, "kind": "receive", "quantity": 5, "location": "main" })).status,
        201
    );

    // The quote takes the part's real cost (4,100, not the 1 typed) with the price list's markup.
    let (ticket, quote) = approved_quote_with(p, &customer, &tech, &tech_id, &id);
    assert_eq!(quote["breakdown"]["parts"], 8_200 + 2_460, "{quote}");
    let bad = json!({ "complexity": "simple", "estimated_minutes": 10, "parts": [{ "part_id": "part_nope", "quantity": 1 }] });
    let r = authed(p, "POST", "/api/v1/pricing/estimate", &tech, Some(&bad));
    assert_eq!((r.status, r.json()["error"]["field"].as_str()), (400, Some("parts[0]")), "{}", r.text());

    // Approved: the two are reserved for the ticket (available 5 → 3).
    let held = |ticket: &str| {
        let l = authed(p, "GET", &format!("/api/v1/inventory/ledger?ticket_id={ticket}"), &tech, None).json();
        let rows = l["entries"].as_array().cloned().unwrap_or_default();
        (
            rows.iter().filter_map(|e| e["reserved"].as_i64()).sum::<i64>(),
            rows.iter().filter_map(|e| e["quantity"].as_i64()).sum::<i64>(),
        )
    };
    eventually(Duration::from_secs(20), "the approved quote's parts reserved", || {
        (held(&ticket) == (2, 0)).then_some(())
    });
    let stock = authed(p, "GET", &format!("/api/v1/parts/{id}"), &tech, None).json();
    assert_eq!(stock_at(&stock, "main"), (5, 2, 3));

    // A second approved quote takes two more: available 1, at the reorder point of 2 → low stock.
    let (voided, _) = approved_quote_with(p, &customer, &tech, &tech_id, &id);
    eventually(Duration::from_secs(20), "the second ticket's reservation", || (held(&voided) == (2, 0)).then_some(()));
    eventually(Duration::from_secs(20), "low stock from a reservation", || {
        let low = d1_query(
            &p.state,
            &format!("SELECT id FROM event_log WHERE event = 'inventory.low_stock' AND payload LIKE '%{id}%'"),
        );
        (!low.is_empty()).then_some(())
    });
    // Voided: its two go back to stock.
    assert_eq!(
        authed(p, "POST", &format!("/api/v1/tickets/{voided}/status"), &tech, Some(&json!({ "to": "VOID" }))).status,
        200
    );
    eventually(Duration::from_secs(20), "the voided ticket's parts released", || {
        (held(&voided) == (0, 0)).then_some(())
    });

    // The first is repaired and passes QC: READY consumes its two (on hand 5 → 3).
    let template = json!({ "checkpoints": [{ "id": "powers_on", "label": "Powers on", "kind": "manual" }] });
    assert_eq!(authed(p, "PUT", "/api/v1/qc/templates/laptop", &owner, Some(&template)).status, 200);
    move_to(p, &tech, &ticket, &["IN_REPAIR", "QC"]);
    let i = authed(p, "POST", "/api/v1/qc/inspections", &tech, Some(&json!({ "ticket_id": ticket })));
    assert_eq!(i.status, 201, "{}", i.text());
    let inspection = i.json()["id"].as_str().expect("inspection").to_owned();
    let passed = authed(
        p,
        "POST",
        &format!("/api/v1/qc/inspections/{inspection}/checkpoints/powers_on"),
        &tech,
        Some(&json!({ "passed": true })),
    );
    assert_eq!(passed.status, 200, "{}", passed.text());
    eventually(Duration::from_secs(20), "the repaired ticket's parts consumed", || {
        (held(&ticket) == (0, -2)).then_some(())
    });
    let stock = authed(p, "GET", &format!("/api/v1/parts/{id}"), &tech, None).json();
    assert_eq!(stock_at(&stock, "main"), (3, 0, 3), "{stock}");
}
