//! What the handlers share: parts with their codes and models, and stock from the ledger.

use noizylab_core::inventory::PartInput;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::{int, opt};
use noizylab_kit::{random, time, ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[derive(Deserialize, Serialize)]
pub struct Part {
    pub id: String,
    pub sku: String,
    pub mpn: Option<String>,
    pub description: String,
    pub category: String,
    pub cost_cents: i64,
    pub currency: String,
    pub reorder_point: i64,
    pub reorder_quantity: i64,
    pub created_at: String,
    pub updated_at: String,
}

pub const PART_COLUMNS: &str =
    "id, sku, mpn, description, category, cost_cents, currency, reorder_point, reorder_quantity, created_at, updated_at";

/// Part `id` of the caller's workspace (else 404).
pub async fn part(call: &Call, who: &Caller, id: &str) -> ApiResult<Part> {
    part_in(call, &who.workspace, id).await
}

/// Part `id` of `workspace` (else 404).
pub async fn part_in(call: &Call, workspace: &str, id: &str) -> ApiResult<Part> {
    call.sql()?
        .first(
            &format!("SELECT {PART_COLUMNS} FROM parts WHERE id = ?1 AND workspace_id = ?2"),
            &[id.into(), workspace.into()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("part {id}")))
}

#[derive(Deserialize, Serialize)]
pub struct Stock {
    pub location: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

/// A part's stock per location, from the ledger.
pub async fn stock(call: &Call, part: &str) -> ApiResult<Vec<Stock>> {
    call.sql()?
        .all(
            "SELECT location, SUM(quantity) AS on_hand, SUM(reserved) AS reserved, SUM(quantity) - SUM(reserved) AS available
             FROM stock_ledger WHERE part_id = ?1 GROUP BY location ORDER BY location",
            &[part.into()],
        )
        .await
}

#[derive(Deserialize)]
struct Text {
    value: String,
}

/// The part as the API shows it: its fields, codes, models and stock.
pub async fn view(call: &Call, p: &Part) -> ApiResult<Value> {
    let db = call.sql()?;
    let codes: Vec<Text> = db
        .all("SELECT code AS value FROM part_codes WHERE part_id = ?1 ORDER BY code", &[p.id.as_str().into()])
        .await?;
    let models: Vec<Text> = db
        .all(
            "SELECT device_model AS value FROM part_models WHERE part_id = ?1 ORDER BY device_model",
            &[p.id.as_str().into()],
        )
        .await?;
    let stock = stock(call, &p.id).await?;
    let available: i64 = stock.iter().map(|s| s.available).sum();
    let mut v = serde_json::to_value(p).unwrap_or_else(|_| json!({}));
    v["barcodes"] = codes.into_iter().map(|c| c.value).collect::<Vec<_>>().into();
    v["models"] = models.into_iter().map(|m| m.value).collect::<Vec<_>>().into();
    v["stock"] = serde_json::to_value(&stock).unwrap_or_default();
    v["available"] = available.into();
    v["low"] = (available <= p.reorder_point && p.reorder_point > 0).into();
    Ok(v)
}

/// Writes `input` as part `id` (new, or replacing its fields, codes and models) in one
/// batch: all of it lands or none. A barcode that already names another part fails it.
pub async fn write(call: &Call, who: &Caller, id: Option<&str>, input: &PartInput) -> ApiResult<String> {
    let db = call.sql()?;
    let now = time::now_rfc3339();
    let id = match id {
        Some(id) => id.to_owned(),
        None => format!("part_{}", random::id()?),
    };
    let mut statements = vec![
        db.statement(
            "INSERT INTO parts (id, workspace_id, sku, mpn, description, category, cost_cents, currency, reorder_point,
                 reorder_quantity, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
             ON CONFLICT (id) DO UPDATE SET sku = excluded.sku, mpn = excluded.mpn, description = excluded.description,
                 category = excluded.category, cost_cents = excluded.cost_cents, currency = excluded.currency,
                 reorder_point = excluded.reorder_point, reorder_quantity = excluded.reorder_quantity,
                 updated_at = excluded.updated_at",
            &[
                id.as_str().into(),
                who.workspace.as_str().into(),
                input.sku.as_str().into(),
                opt(input.mpn.as_deref()),
                input.description.as_str().into(),
                input.category.as_str().into(),
                int(input.cost_cents),
                input.currency.as_str().into(),
                int(input.reorder_point),
                int(input.reorder_quantity),
                now.as_str().into(),
            ],
        )?,
        db.statement("DELETE FROM part_codes WHERE part_id = ?1", &[id.as_str().into()])?,
        db.statement("DELETE FROM part_models WHERE part_id = ?1", &[id.as_str().into()])?,
    ];
    for code in &input.barcodes {
        statements.push(db.statement(
            "INSERT INTO part_codes (workspace_id, code, part_id) VALUES (?1, ?2, ?3)",
            &[who.workspace.as_str().into(), code.as_str().into(), id.as_str().into()],
        )?);
    }
    for model in &input.models {
        statements.push(db.statement(
            "INSERT INTO part_models (part_id, workspace_id, device_model) VALUES (?1, ?2, ?3)",
            &[id.as_str().into(), who.workspace.as_str().into(), model.as_str().into()],
        )?);
    }
    db.batch(statements).await?;
    Ok(id)
}

#[derive(Deserialize)]
struct Owner {
    part_id: String,
}

/// Why `input` cannot be written as part `id`: its SKU or a barcode taken by another part.
pub async fn taken(call: &Call, who: &Caller, id: Option<&str>, input: &PartInput) -> ApiResult<Option<String>> {
    let db = call.sql()?;
    let sku: Option<Owner> = db
        .first(
            "SELECT id AS part_id FROM parts WHERE workspace_id = ?1 AND sku = ?2",
            &[who.workspace.as_str().into(), input.sku.as_str().into()],
        )
        .await?;
    if sku.is_some_and(|o| Some(o.part_id.as_str()) != id) {
        return Ok(Some(format!("SKU {} is another part's", input.sku)));
    }
    for code in &input.barcodes {
        let owner: Option<Owner> = db
            .first(
                "SELECT part_id FROM part_codes WHERE workspace_id = ?1 AND code = ?2",
                &[who.workspace.as_str().into(), code.as_str().into()],
            )
            .await?;
        if owner.is_some_and(|o| Some(o.part_id.as_str()) != id) {
            return Ok(Some(format!("barcode {code} already names another part")));
        }
    }
    Ok(None)
}

/// The conditional insert: the movement lands only if, with it, the location's available
/// stock stays at or above zero and, for a ticket, the ticket's reservation does too.
pub const LEDGER_INSERT: &str = "INSERT INTO stock_ledger (workspace_id, part_id, location, bin, kind, quantity, reserved, ticket_id,
        reason, actor_id, at)
    SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11
    WHERE (SELECT COALESCE(SUM(quantity) - SUM(reserved), 0) FROM stock_ledger WHERE part_id = ?2 AND location = ?3)
          + ?6 - ?7 >= 0
      AND (?8 IS NULL OR ?5 = 'reserve'
           OR (SELECT COALESCE(SUM(reserved), 0) FROM stock_ledger WHERE part_id = ?2 AND location = ?3 AND ticket_id = ?8)
              + ?7 >= 0)";
