//! `/api/v1/training/simulations…`: simulations built from the shop's finished repairs
//! (anonymised), answered by staff: scored, the real outcome revealed, XP once.

use noizylab_core::auth::Scope;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::int;
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call};
use serde::Deserialize;
use serde_json::{json, Value};
use worker::{Request, Response};

use crate::domain::{anonymise, module_of, shuffled, XP_CORRECT, XP_TRIED};
use crate::{progress, store};

#[derive(Deserialize)]
struct Candidate {
    id: String,
    title: String,
    description: String,
    device_type: String,
    part_id: Option<String>,
    qc_attempts: i64,
    hours_to_ready: Option<f64>,
}

#[derive(Deserialize)]
struct Part {
    description: String,
    category: Option<String>,
}

#[derive(Deserialize)]
struct Text {
    body: Option<String>,
    description: Option<String>,
}

/// `POST /api/v1/training/simulations/build` (managers): every finished repair that used a
/// catalogue part becomes a simulation (once): its symptoms and the technicians' findings,
/// anonymised; the part it needed among others from the catalogue. 200 with what was made.
pub async fn build(call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::Admin).await?;
    let ws = who.workspace.as_str();
    let db = call.sql()?;
    let found: Vec<Candidate> = db.all(store::CANDIDATES, &[ws.into()]).await?;
    let (mut made, mut skipped) = (Vec::new(), 0);
    let now = time::now_rfc3339();
    for c in found {
        let Some(part_id) = c.part_id.as_deref() else { continue };
        let Some(part) = db.first::<Part>(store::PART, &[part_id.into()]).await? else { continue };
        let others: Vec<Text> = db
            .all(
                store::DISTRACTORS,
                &[ws.into(), part_id.into(), part.description.as_str().into(), opt(part.category.as_deref())],
            )
            .await?;
        if others.is_empty() {
            // One choice is no question: the catalogue needs a second part first.
            skipped += 1;
            continue;
        }
        let notes: Vec<Text> = db.all(store::FINDINGS, &[c.id.as_str().into()]).await?;
        let findings: Vec<String> = notes.into_iter().filter_map(|n| n.body).map(|b| anonymise(&b, 400)).collect();
        let id = format!("sim_{}", random::id()?);
        let mut choices: Vec<String> = others.into_iter().filter_map(|o| o.description).collect();
        choices.push(part.description.clone());
        let choices = shuffled(&id, choices);
        let symptoms = anonymise(&format!("{}. {}", c.title.trim_end_matches('.'), c.description), 600);
        let outcome = json!({
            "part": part.description,
            "qc_inspections": c.qc_attempts,
            "passed_qc_first_time": c.qc_attempts <= 1,
            "hours_to_ready": c.hours_to_ready.map(|h| (h * 10.0).round() / 10.0),
        });
        let module = module_of(&c.device_type);
        db.run(
            store::SIMULATION_INSERT,
            &[
                id.as_str().into(),
                ws.into(),
                c.id.as_str().into(),
                module.as_str().into(),
                c.device_type.as_str().into(),
                "Which part did this repair need?".into(),
                symptoms.as_str().into(),
                json!(findings).to_string().into(),
                json!(choices).to_string().into(),
                part.description.as_str().into(),
                outcome.to_string().into(),
                now.as_str().into(),
            ],
        )
        .await?;
        made.push(json!({ "id": id, "module": module }));
    }
    http::ok(&json!({ "created": made, "skipped": skipped }))
}

fn opt(v: Option<&str>) -> worker::wasm_bindgen::JsValue {
    noizylab_kit::db::opt(v)
}

#[derive(Deserialize)]
struct Row {
    id: String,
    module: String,
    device_type: String,
    question: String,
    symptoms: String,
    findings: String,
    choices: String,
    answer: String,
    outcome: String,
    created_at: String,
}

#[derive(Deserialize)]
struct First {
    choice: String,
    correct: i64,
    score: i64,
    at: String,
}

/// A simulation as the caller may see it: the answer and the outcome only once they have
/// answered.
fn view(r: &Row, first: Option<&First>) -> Value {
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    let mut v = json!({
        "id": r.id, "module": r.module, "device_type": r.device_type, "question": r.question,
        "symptoms": r.symptoms, "findings": parse(&r.findings), "choices": parse(&r.choices),
        "created_at": r.created_at, "attempt": Value::Null,
    });
    if let Some(f) = first {
        v["attempt"] = json!({ "choice": f.choice, "correct": f.correct == 1, "score": f.score, "at": f.at });
        v["answer"] = json!(r.answer);
        v["outcome"] = parse(&r.outcome);
    }
    v
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    module: Option<String>,
}

/// `GET /api/v1/training/simulations[?module=]` (staff): newest first, at most 100.
pub async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsRead).await?;
    let q: ListQuery = http::query(req)?;
    let db = call.sql()?;
    let rows: Vec<Row> = db
        .all(
            &format!(
                "SELECT {} FROM training_simulations WHERE workspace_id = ?1 AND (?2 IS NULL OR module = ?2)
                 ORDER BY created_at DESC, id LIMIT 100",
                store::SIMULATION_COLUMNS
            ),
            &[who.workspace.as_str().into(), opt(q.module.as_deref())],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let first: Option<First> =
            db.first(store::FIRST_ATTEMPT, &[who.id.as_str().into(), r.id.as_str().into()]).await?;
        out.push(view(r, first.as_ref()));
    }
    http::ok(&json!({ "simulations": out }))
}

async fn row(call: &Call, who: &Caller, id: &str) -> ApiResult<Row> {
    call.sql()?
        .first(
            &format!(
                "SELECT {} FROM training_simulations WHERE id = ?1 AND workspace_id = ?2",
                store::SIMULATION_COLUMNS
            ),
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("simulation {id}")))
}

/// `GET /api/v1/training/simulations/:id` (staff).
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsRead).await?;
    let r = row(call, &who, id).await?;
    let first: Option<First> =
        call.sql()?.first(store::FIRST_ATTEMPT, &[who.id.as_str().into(), r.id.as_str().into()]).await?;
    http::ok(&view(&r, first.as_ref()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    choice: String,
}

/// `POST /api/v1/training/simulations/:id/attempts` `{choice}` (staff, a person): scored
/// 100 or 0 with the real outcome revealed. The first attempt counts — for XP (once,
/// however many answers race in) and for certifications; later ones are practice.
pub async fn attempt(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::TicketsRead).await?;
    who.person(call).await?;
    let a: Answer = http::read_json(&mut req).await?;
    let r = row(call, &who, id).await?;
    let choices: Vec<String> = serde_json::from_str(&r.choices).unwrap_or_default();
    if !choices.contains(&a.choice) {
        return Err(ApiError::invalid_field("choice", format!("choice must be one of: {}", choices.join(" | "))));
    }
    let correct = a.choice == r.answer;
    let score = if correct { 100 } else { 0 };
    let xp = if correct { XP_CORRECT } else { XP_TRIED };
    let ws = who.workspace.as_str();
    let now = time::now_rfc3339();
    let db = call.sql()?;
    let reason = format!("simulation {} ({})", r.id, if correct { "right" } else { "tried" });
    let changes = db
        .batch_changes(vec![
            db.statement(
                store::ATTEMPT_INSERT,
                &[
                    ws.into(),
                    who.id.as_str().into(),
                    r.id.as_str().into(),
                    a.choice.as_str().into(),
                    int(i64::from(correct)),
                    int(score),
                    now.as_str().into(),
                ],
            )?,
            db.statement(
                store::XP_INSERT,
                &[
                    ws.into(),
                    who.id.as_str().into(),
                    format!("sim:{}", r.id).into(),
                    int(xp),
                    reason.as_str().into(),
                    now.as_str().into(),
                ],
            )?,
        ])
        .await?;
    let first = changes.get(1).copied().unwrap_or(0) == 1;
    let earned = progress::certify(call, &who).await?;
    let level = progress::level(call, &who).await?;
    let mut out = view(&r, Some(&First { choice: a.choice.clone(), correct: i64::from(correct), score, at: now }));
    out["first_attempt"] = json!(first);
    out["xp_awarded"] = json!(if first { xp } else { 0 });
    out["level"] = json!(level);
    out["certificates_earned"] = json!(earned);
    http::created(&out)
}
