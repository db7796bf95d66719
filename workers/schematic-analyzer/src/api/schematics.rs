//! `/api/v1/schematics…`: importing a KiCad netlist (the file to R2, its parse to D1, all
//! or nothing), listing, showing, the original file, deleting (admin).

use std::collections::BTreeMap;

use noizylab_core::auth::Scope;
use noizylab_core::names::content_disposition;
use noizylab_core::schematic::netlist::{self, Kind};
use noizylab_kit::caller::Caller;
use noizylab_kit::db::{int, opt};
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Headers, Request, Response};

use crate::store::{self, Schematic};

/// The largest netlist accepted (a dense eight-layer board's is a few MB).
pub const MAX_BYTES: usize = 8 * 1024 * 1024;
/// D1 statements written per batch while importing.
const BATCH: usize = 100;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportQuery {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    board_model: Option<String>,
    #[serde(default)]
    device_type: Option<String>,
}

fn bounded(field: &str, v: Option<String>, max: usize) -> ApiResult<Option<String>> {
    match v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > max => {
            Err(ApiError::invalid_field(field, format!("{field} is at most {max} characters")))
        }
        other => Ok(other),
    }
}

/// `POST /api/v1/schematics?name=&board_model=&device_type=` with the `.net` file as the
/// body (staff, `ai:diagnose`): 201 with the summary. A file that does not parse is 422
/// naming the line; nothing of it is kept.
pub async fn import(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::AiDiagnose).await?;
    let q: ImportQuery = http::query(&req)?;
    let board_model = bounded("board_model", q.board_model, 120)?;
    let device_type = bounded("device_type", q.device_type, 40)?;
    let bytes = req.bytes().await.map_err(|_| ApiError::bad_request("the upload could not be read"))?;
    if bytes.len() > MAX_BYTES {
        return Err(ApiError::PayloadTooLarge { limit: MAX_BYTES as u64 });
    }
    if bytes.is_empty() {
        return Err(ApiError::bad_request("send the netlist file (.net) as the request body"));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        ApiError::UnsupportedMediaType(
            "a KiCad netlist is text: export it from the schematic editor (File → Export → Netlist)".into(),
        )
    })?;
    let parsed = netlist::read(text).map_err(|e| ApiError::Unprocessable(format!("the netlist does not read: {e}")))?;
    let name = bounded("name", q.name, 120)?
        .or_else(|| parsed.source.as_deref().map(|s| s.rsplit(['/', '\\']).next().unwrap_or(s).to_owned()))
        .unwrap_or_else(|| "netlist".into());
    let id = format!("sch_{}", random::id()?);
    let r2_key = format!("schematics/{}/{id}.net", who.workspace);
    let sha256 = noizylab_core::auth::sha256_hex(&bytes);
    let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    call.uploads()?.put(&r2_key, bytes).execute().await.or_internal("r2 put")?;
    let now = time::now_rfc3339();
    let db = call.sql()?;
    let unconnected = serde_json::to_string(&parsed.unconnected).or_internal("unconnected")?;
    db.run(
        "INSERT INTO schematics (id, workspace_id, name, board_model, device_type, format_version, tool, source,
             component_count, net_count, unconnected, r2_key, size, sha256, status, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 'importing', ?15, ?16)",
        &[
            id.as_str().into(),
            who.workspace.as_str().into(),
            name.as_str().into(),
            opt(board_model.as_deref()),
            opt(device_type.as_deref()),
            parsed.version.as_str().into(),
            opt(parsed.tool.as_deref()),
            opt(parsed.source.as_deref()),
            int(parsed.components.len() as i64),
            int(parsed.nets.len() as i64),
            unconnected.as_str().into(),
            r2_key.as_str().into(),
            int(size),
            sha256.as_str().into(),
            who.id.as_str().into(),
            now.as_str().into(),
        ],
    )
    .await?;
    let written = write_parse(call, &id, &parsed).await;
    if let Err(e) = written {
        discard(call, &id, &r2_key).await;
        return Err(e);
    }
    db.run("UPDATE schematics SET status = 'ready' WHERE id = ?1", &[id.as_str().into()]).await?;
    let s = store::schematic(call, &who, &id).await?;
    http::created(&summary(&s, &parsed))
}

async fn write_parse(call: &Call, id: &str, parsed: &netlist::Netlist) -> ApiResult<()> {
    let db = call.sql()?;
    let mut statements = Vec::with_capacity(parsed.components.len() + parsed.nets.len());
    for c in &parsed.components {
        let kind = serde_json::to_value(c.kind).or_internal("kind")?;
        statements.push(db.statement(
            "INSERT INTO schematic_components (schematic_id, reference, value, footprint, part_number, kind, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            &[
                id.into(),
                c.reference.as_str().into(),
                c.value.as_str().into(),
                opt(c.footprint.as_deref()),
                opt(c.part_number()),
                kind.as_str().unwrap_or("other").into(),
                serde_json::to_string(c).or_internal("component")?.as_str().into(),
            ],
        )?);
    }
    for n in &parsed.nets {
        statements.push(db.statement(
            "INSERT INTO schematic_nets (schematic_id, code, name, nodes) VALUES (?1, ?2, ?3, ?4)",
            &[
                id.into(),
                n.code.as_str().into(),
                n.name.as_str().into(),
                serde_json::to_string(&n.nodes).or_internal("nodes")?.as_str().into(),
            ],
        )?);
    }
    let mut rest = statements;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(BATCH));
        db.batch(rest).await?;
        rest = tail;
    }
    Ok(())
}

/// Removes what an import wrote (logged if that fails too).
async fn discard(call: &Call, id: &str, r2_key: &str) {
    let undo = async {
        store::delete(call, id).await?;
        call.uploads()?.delete(r2_key).await.or_internal("r2 delete")
    };
    if let Err(e) = undo.await {
        call.log_warn(&format!("discarding the failed import {id}: {e:?}"));
    }
}

/// The summary: the row, and how many parts of each kind.
fn summary(s: &Schematic, parsed: &netlist::Netlist) -> Value {
    let mut kinds: BTreeMap<Kind, usize> = BTreeMap::new();
    for c in &parsed.components {
        *kinds.entry(c.kind).or_default() += 1;
    }
    let mut v = serde_json::to_value(s).unwrap_or_else(|_| json!({}));
    v["kinds"] = serde_json::to_value(kinds).unwrap_or_else(|_| json!({}));
    v["unconnected_pins"] = parsed.unconnected.len().into();
    v
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    board_model: Option<String>,
}

/// `GET /api/v1/schematics[?board_model=]` (staff): newest first, at most 100.
pub async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::AiDiagnose).await?;
    let q: ListQuery = http::query(req)?;
    let rows: Vec<Schematic> = call
        .sql()?
        .all(
            &format!(
                "SELECT {} FROM schematics WHERE workspace_id = ?1 AND status = 'ready' AND (?2 IS NULL OR board_model = ?2)
                 ORDER BY created_at DESC, id LIMIT 100",
                store::COLUMNS
            ),
            &[who.workspace.as_str().into(), opt(q.board_model.as_deref())],
        )
        .await?;
    http::ok(&json!({ "schematics": rows }))
}

/// `GET /api/v1/schematics/:id` (staff).
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let (s, parsed) = store::open(call, id).await?;
    http::ok(&summary(&s, &parsed))
}

/// `GET /api/v1/schematics/:id/file` (staff): the netlist as it was uploaded.
pub async fn file(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::AiDiagnose).await?;
    let s = store::schematic(call, &who, id).await?;
    let object = call.uploads()?.get(&s.r2_key).execute().await.or_internal("r2 get")?;
    let object = object.ok_or_else(|| ApiError::internal(format!("{} is missing from R2", s.r2_key)))?;
    let bytes = match object.body() {
        Some(b) => b.bytes().await.or_internal("r2 body")?,
        None => Vec::new(),
    };
    let headers = Headers::new();
    headers.set("content-type", "text/plain; charset=utf-8").or_internal("header")?;
    headers.set("x-content-type-options", "nosniff").or_internal("header")?;
    let name = if s.name.ends_with(".net") { s.name.clone() } else { format!("{}.net", s.name) };
    headers.set("content-disposition", &content_disposition("attachment", &name)).or_internal("header")?;
    Ok(Response::from_bytes(bytes).or_internal("response")?.with_headers(headers))
}

/// `DELETE /api/v1/schematics/:id` (admin): 204.
pub async fn remove(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::person_with(call, Scope::Admin).await?;
    let s = store::schematic(call, &who, id).await?;
    store::delete(call, id).await?;
    call.uploads()?.delete(&s.r2_key).await.or_internal("r2 delete")?;
    Ok(Response::empty().or_internal("response")?.with_status(204))
}
