//! `/api/v1/tasks…`: the human tasks of workflow runs — "my tasks" (staff: those assigned
//! to them, or to their role or one below it), one task with its form and what the run
//! knew, and the decision (approve or reject, a comment, the form's fields), taken once,
//! audited (`workflow.task_decided`), and handed to the run.

use noizylab_core::auth::{Role, Scope};
use noizylab_core::contracts::AuditEntry;
use noizylab_core::services::MAIN;
use noizylab_core::workflows::Field;
use noizylab_kit::caller::Caller;
use noizylab_kit::db::{int, opt};
use noizylab_kit::{http, time, ApiError, ApiResult, Call};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use worker::{Method, Request, Response};

use crate::runs::object::{self, Decision};

/// Who may decide a task: the person it names, or a member whose role is the task's or
/// above (owner ≥ admin ≥ technician). `?1` workspace, `?2` the person, `?3` their rank.
const MINE: &str = "t.workspace_id = ?1 AND (t.assignee_user = ?2 OR
     (CASE t.assignee_role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'technician' THEN 1 ELSE 9 END) <= ?3)";

fn rank(role: Option<Role>) -> i64 {
    match role {
        Some(Role::Owner) => 3,
        Some(Role::Admin) => 2,
        Some(Role::Technician) => 1,
        _ => 0,
    }
}

#[derive(Serialize, Deserialize)]
struct TaskRow {
    id: String,
    run_id: String,
    step_id: String,
    workflow_id: String,
    workflow: String,
    title: String,
    assignee_role: Option<String>,
    assignee_user: Option<String>,
    form: String,
    context: String,
    status: String,
    due_at: String,
    escalated_at: Option<String>,
    reminded_at: Option<String>,
    decided_by: Option<String>,
    decided_at: Option<String>,
    comment: Option<String>,
    answers: Option<String>,
    created_at: String,
}

const COLUMNS: &str = "t.id, t.run_id, t.step_id, r.workflow_id, w.name AS workflow, t.title, t.assignee_role,
     t.assignee_user, t.form, t.context, t.status, t.due_at, t.escalated_at, t.reminded_at, t.decided_by,
     t.decided_at, t.comment, t.answers, t.created_at";

const FROM: &str = "workflow_tasks t JOIN workflow_runs r ON r.id = t.run_id JOIN workflows w ON w.id = r.workflow_id";

fn view(t: &TaskRow) -> Value {
    let parse = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::Null);
    let mut v = serde_json::to_value(t).unwrap_or_default();
    v["form"] = parse(&t.form);
    v["context"] = parse(&t.context);
    v["answers"] = t.answers.as_deref().map(parse).unwrap_or(Value::Null);
    v["assignee"] = match (&t.assignee_user, &t.assignee_role) {
        (Some(u), _) => json!({ "type": "user", "user_id": u }),
        (None, Some(r)) => json!({ "type": "role", "role": r }),
        (None, None) => Value::Null,
    };
    if let Some(obj) = v.as_object_mut() {
        obj.remove("assignee_user");
        obj.remove("assignee_role");
    }
    v
}

async fn staff(call: &Call, scope: Scope) -> ApiResult<Caller> {
    Caller::staff_with(call, scope).await
}

/// `GET /api/v1/tasks[?status=open|approved|rejected|all][&limit=1..200]`: the caller's
/// tasks, open ones by default, the oldest due first.
pub async fn list(req: &Request, call: &Call) -> ApiResult<Response> {
    let who = staff(call, Scope::TicketsRead).await?;
    let url = req.url().map_err(|e| ApiError::internal(e.to_string()))?;
    let (mut status, mut limit) = (Some("open".to_owned()), 50i64);
    for (k, v) in url.query_pairs() {
        match (k.as_ref(), v.as_ref()) {
            ("status", "all") => status = None,
            ("status", s @ ("open" | "approved" | "rejected")) => status = Some(s.to_owned()),
            ("status", _) => return Err(ApiError::invalid_field("status", "open, approved, rejected or all")),
            ("limit", n) => {
                limit = n
                    .parse()
                    .ok()
                    .filter(|n| (1..=200).contains(n))
                    .ok_or_else(|| ApiError::invalid_field("limit", "limit is 1 to 200"))?
            }
            _ => {}
        }
    }
    let rows: Vec<TaskRow> = call
        .sql()?
        .all(
            &format!(
                "SELECT {COLUMNS} FROM {FROM} WHERE {MINE} AND (?4 IS NULL OR t.status = ?4)
                 ORDER BY t.status = 'open' DESC, t.due_at, t.id LIMIT {limit}"
            ),
            &[who.workspace.as_str().into(), who.id.as_str().into(), int(rank(who.role)), opt(status.as_deref())],
        )
        .await?;
    http::ok(&json!({ "tasks": rows.iter().map(view).collect::<Vec<_>>() }))
}

async fn task(call: &Call, who: &Caller, id: &str) -> ApiResult<TaskRow> {
    if id.is_empty() || id.len() > 120 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)) {
        return Err(ApiError::not_found(format!("task {id}")));
    }
    call.sql()?
        .first(
            &format!("SELECT {COLUMNS} FROM {FROM} WHERE t.id = ?4 AND {MINE}"),
            &[who.workspace.as_str().into(), who.id.as_str().into(), int(rank(who.role)), id.into()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task {id}")))
}

/// `GET /api/v1/tasks/:id`: one of the caller's tasks.
pub async fn show(call: &Call, id: &str) -> ApiResult<Response> {
    let who = staff(call, Scope::TicketsRead).await?;
    http::ok(&view(&task(call, &who, id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Decide {
    decision: String,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    answers: Map<String, Value>,
}

/// The answers as the form asks: each required field given, each of its kind, no others.
fn checked_answers(form: &[Field], answers: &Map<String, Value>) -> ApiResult<()> {
    for (name, value) in answers {
        let Some(f) = form.iter().find(|f| &f.name == name) else {
            return Err(ApiError::invalid_field(&format!("answers.{name}"), "the task's form has no such field"));
        };
        let fits = match f.kind.as_str() {
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => value.as_str().is_some_and(|s| s.chars().count() <= 2000),
        };
        if !fits {
            return Err(ApiError::invalid_field(&format!("answers.{name}"), format!("{} is a {}", f.label, f.kind)));
        }
    }
    if let Some(f) = form.iter().find(|f| f.required && !answers.contains_key(&f.name)) {
        return Err(ApiError::invalid_field(&format!("answers.{}", f.name), format!("{} is required", f.label)));
    }
    Ok(())
}

/// `POST /api/v1/tasks/:id/decision {decision: approve|reject, comment?, answers?}`: the
/// first decision counts (a second is 409 naming who decided); the run goes on at once.
pub async fn decide(mut req: Request, call: &Call, id: &str) -> ApiResult<Response> {
    let who = staff(call, Scope::TicketsWrite).await?;
    let body: Decide = http::read_json(&mut req).await?;
    let approved = match body.decision.as_str() {
        "approve" | "approved" => true,
        "reject" | "rejected" => false,
        _ => return Err(ApiError::invalid_field("decision", "decision is approve or reject")),
    };
    let comment = body.comment.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
    if comment.as_ref().is_some_and(|c| c.chars().count() > 2000) {
        return Err(ApiError::invalid_field("comment", "a comment is at most 2,000 characters"));
    }
    let t = task(call, &who, id).await?;
    let form: Vec<Field> = serde_json::from_str(&t.form).unwrap_or_default();
    if approved {
        checked_answers(&form, &body.answers)?;
    }
    let answers = Value::Object(body.answers);
    let now = time::now_rfc3339();
    let taken = call
        .sql()?
        .run(
            "UPDATE workflow_tasks SET status = ?2, decided_by = ?3, decided_at = ?4, comment = ?5, answers = ?6
             WHERE id = ?1 AND status = 'open'",
            &[
                t.id.as_str().into(),
                if approved { "approved" } else { "rejected" }.into(),
                who.id.as_str().into(),
                now.as_str().into(),
                opt(comment.as_deref()),
                answers.to_string().into(),
            ],
        )
        .await?;
    if taken != 1 {
        let by = t.decided_by.unwrap_or_default();
        return Err(ApiError::Conflict(format!("this task was already {} by {by}", t.status)));
    }
    audit(call, &who, &t, approved, comment.as_deref()).await;
    // The run hears of it now; if it cannot, its task alarm finds the decision in D1.
    let d = Decision { task_id: t.id.clone(), approved, by: who.id.clone(), comment, answers };
    let text = serde_json::to_string(&d).map_err(|e| ApiError::internal(e.to_string()))?;
    match object::ask(&call.env, &t.run_id, Method::Post, "/decide", Some(text)).await {
        Ok((200, _)) => {}
        Ok((s, why)) => call.log_warn(&format!("task {}: the run answered {s}: {why}", t.id)),
        Err(e) => call.log_warn(&format!("task {}: the run was not reached: {e}", t.id)),
    }
    let t = task(call, &who, id).await?;
    http::ok(&view(&t))
}

async fn audit(call: &Call, who: &Caller, t: &TaskRow, approved: bool, comment: Option<&str>) {
    let entry = AuditEntry {
        action: "workflow.task_decided".into(),
        ip: None,
        actor_id: Some(who.id.clone()),
        workspace_id: Some(who.workspace.clone()),
        detail: json!({ "task": t.id, "run": t.run_id, "workflow": t.workflow_id, "title": t.title,
                        "decision": if approved { "approved" } else { "rejected" }, "comment": comment }),
    };
    let Ok(body) = serde_json::to_string(&entry) else { return };
    match call.as_service(MAIN, Method::Post, "/internal/audit", Some(body)).await {
        Ok(r) if r.status_code() == 204 => {}
        Ok(r) => call.log_warn(&format!("audit of task {} answered {}", t.id, r.status_code())),
        Err(e) => call.log_warn(&format!("audit of task {} failed: {e}", t.id)),
    }
}
