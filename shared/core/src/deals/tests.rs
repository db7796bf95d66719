//! Deal judgement on real eBay answers (`tests/data/ebay/`, see its README): three NVIDIA
//! T4 listings and three RTX A5000 listings as eBay's Browse API returned them.

use super::*;

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/ebay/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn watch() -> WatchInput {
    WatchInput {
        part_id: "part_t4".into(),
        query: "NVIDIA T4".into(),
        category_id: Some("27386".into()),
        condition: Condition::New,
        max_total_cents: 220_000,
        currency: "USD".into(),
        target_margin_bps: 3_000,
        min_score: 65,
    }
}

fn yardstick() -> Yardstick {
    Yardstick {
        stock_cost_cents: 240_000,
        currency: "USD".into(),
        parts_markup_bps: 3_000,
        tax_bps: 1_300,
        country: "CA".into(),
    }
}

#[test]
fn a_real_search_answer_reads_into_complete_listings() {
    let page = read_search(&data("search_nvidia_t4.json")).unwrap_or_default();
    assert_eq!(page.total, 83);
    assert!(page.skipped.is_empty(), "{:?}", page.skipped);
    let ids: Vec<&str> = page.listings.iter().map(|l| l.listing_id.as_str()).collect();
    assert_eq!(ids, ["v1|265708278354|0", "v1|314845741432|0", "v1|266484131909|0"]);
    let canadian = &page.listings[2];
    assert_eq!((canadian.price_cents, canadian.shipping_cents), (180_000, 1_200));
    assert_eq!(canadian.currency, "USD");
    assert_eq!(canadian.seller, "jedeh-telecom");
    assert_eq!((canadian.seller_feedback_permille, canadian.seller_feedback_score), (Some(1000), Some(654)));
    assert_eq!(canadian.country.as_deref(), Some("CA"));
    assert_eq!(canadian.condition, Some(Condition::New));
    assert!(canadian.url.as_deref().is_some_and(|u| u.starts_with("https://www.ebay.com/itm/")));
    assert_eq!(page.listings[0].seller_feedback_permille, Some(980));
    assert_eq!(page.listings[1].condition, Some(Condition::Refurbished), "conditionId 2000");

    let other = read_search(&data("search_rtx_a5000.json")).unwrap_or_default();
    assert_eq!(other.listings.len(), 3, "{:?}", other.skipped);
    assert_eq!(other.listings[1].shipping_cents, 19_800, "CALCULATED shipping is a cost too");
    assert_eq!(other.listings[0].condition, Some(Condition::Used));
}

#[test]
fn the_real_listings_are_ranked_by_landed_cost_margin_seller_and_place() {
    let page = read_search(&data("search_nvidia_t4.json")).unwrap_or_default();
    let (w, y) = (watch(), yardstick());
    let v: Vec<Verdict> = page.listings.iter().map(|l| judge(l, &w, &y)).collect();
    // 1,900.00 free shipping, 13 % tax estimate: 2,147.00 landed against a selling price of
    // 3,120.00 (2,400.00 + 30 %): 31.1 % margin; 98.0 % of 2,298 ratings; new; from the US.
    assert_eq!((v[0].tax_cents, v[0].landed_cents, v[0].sell_cents), (24_700, 214_700, 312_000));
    assert_eq!(v[0].margin_bps, 3118);
    assert_eq!(v[0].saving_cents, 25_300);
    assert_eq!(v[0].score, 31 + 20 + 10, "{:?}", v[0].reasons);
    assert!(v[0].rejected.is_none());
    // Certified refurbished is not the new part the watch asks for.
    assert!(v[1].rejected.as_deref().is_some_and(|r| r.contains("not the new")), "{:?}", v[1].rejected);
    assert_eq!(v[1].score, 0);
    // 1,800.00 + 12.00 shipping from Canada, where the shop is: the best of the three.
    assert_eq!(v[2].landed_cents, 181_200 + 23_556);
    assert_eq!(v[2].score, 34 + 23 + 10 + 5, "{:?}", v[2].reasons);
    assert!(v[2].score >= w.min_score && v[0].score < w.min_score);
    assert!(v[2].reasons.iter().any(|r| r.contains("jedeh-telecom: 100.0 % positive, 654 ratings")));
}

#[test]
fn a_listing_over_the_ceiling_in_another_currency_or_under_the_margin_is_no_deal() {
    let page = read_search(&data("search_nvidia_t4.json")).unwrap_or_default();
    let l = &page.listings[2];
    let y = yardstick();
    let low = WatchInput { max_total_cents: 200_000, ..watch() };
    assert!(judge(l, &low, &y).rejected.as_deref().is_some_and(|r| r.contains("over the watch's 2000.00")));
    let cad = WatchInput { currency: "CAD".into(), ..watch() };
    assert!(judge(l, &cad, &y).rejected.as_deref().is_some_and(|r| r.contains("priced in USD")));
    let greedy = WatchInput { target_margin_bps: 4_000, ..watch() };
    let v = judge(l, &greedy, &y);
    assert!(v.rejected.as_deref().is_some_and(|r| r.contains("under the target 40.0 %")), "{:?}", v.rejected);
    assert_eq!(v.score, 0);
}

#[test]
fn items_missing_what_a_deal_needs_are_skipped_with_the_reason() {
    let body = r#"{"total": 4, "itemSummaries": [
        {"itemId": "v1|1|0", "title": "no price", "seller": {"username": "a"}, "shippingOptions": []},
        {"itemId": "v1|2|0", "price": {"value": "10.00", "currency": "USD"}, "seller": {"username": "b"}},
        {"itemId": "v1|3|0", "price": {"value": "10.00", "currency": "USD"},
         "shippingOptions": [{"shippingCostType": "FIXED", "shippingCost": {"value": "0.00", "currency": "USD"}}]},
        {"itemId": "v1|4|0", "price": {"value": "ten", "currency": "USD"}, "seller": {"username": "d"},
         "shippingOptions": [{"shippingCostType": "FIXED", "shippingCost": {"value": "0.00", "currency": "USD"}}]}
    ]}"#;
    let page = read_search(body).unwrap_or_default();
    assert!(page.listings.is_empty());
    assert_eq!(
        page.skipped,
        [
            "v1|1|0: no price",
            "v1|2|0: no shipping cost in the listing's currency",
            "v1|3|0: no seller",
            "v1|4|0: no readable price"
        ]
    );
    // No results: eBay leaves `itemSummaries` out.
    assert_eq!(read_search(r#"{"href": "x", "total": 0, "limit": 50, "offset": 0}"#), Ok(Page::default()));
    assert!(read_search("<html>busy</html>").is_err());
    assert_eq!(error_text(&data("error_invalid_token.json")), "1001 Invalid access token");
}

#[test]
fn a_watch_asks_ebay_in_its_own_filter_syntax() {
    let q = search_query(&watch());
    let get = |k: &str| q.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("q"), Some("NVIDIA T4"));
    assert_eq!(get("category_ids"), Some("27386"));
    assert_eq!(
        get("filter"),
        Some("price:[..2200.00],priceCurrency:USD,buyingOptions:{FIXED_PRICE},conditionIds:{1000|1500}")
    );
    assert_eq!(Condition::of_ebay_id("7000"), Some(Condition::ForParts));
}

#[test]
fn a_watch_refuses_what_ebay_or_a_buyer_could_not_use() {
    let bad = |w: WatchInput| w.checked().err().map(|e| e.field);
    assert_eq!(bad(WatchInput { max_total_cents: 0, ..watch() }).as_deref(), Some("max_total_cents"));
    assert_eq!(bad(WatchInput { query: "   ".into(), ..watch() }).as_deref(), Some("query"));
    assert_eq!(bad(WatchInput { category_id: Some("phones".into()), ..watch() }).as_deref(), Some("category_id"));
    assert_eq!(bad(WatchInput { min_score: 101, ..watch() }).as_deref(), Some("min_score"));
    assert_eq!(bad(WatchInput { currency: "dollars".into(), ..watch() }).as_deref(), Some("currency"));
    let ok = WatchInput { query: "  NVIDIA   T4 ".into(), currency: "usd".into(), ..watch() }.checked();
    assert_eq!(ok.map(|w| (w.query, w.currency)).ok(), Some(("NVIDIA T4".into(), "USD".into())));
    let token: Token =
        serde_json::from_str(&data("token.json")).unwrap_or(Token { access_token: String::new(), expires_in: 0 });
    assert_eq!(token_ttl(&token), 6_900);
}
