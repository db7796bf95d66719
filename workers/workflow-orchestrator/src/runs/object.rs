//! `WorkflowRun`: one Durable Object per run. Its storage holds the run — the definition
//! of the version it started with, the triggering event, every step's output and the
//! history — and its alarm is the run's only clock: the next step, a retry's back-off, a
//! delay, a scan still running, a task's timeout. Every step is saved before the next
//! begins, so a restart or an eviction resumes where the run was.
//!
//! Routes (from this worker only): `POST /start` (idempotent), `GET /state`,
//! `POST /decide` (a human task's decision), `POST /resume` (a failed run, replayed),
//! `POST /wake` (run the alarm now; development), and the health probe.

use noizylab_core::auth::Role;
use noizylab_core::contracts::Email;
use noizylab_core::identity::{Identity, PrincipalKind};
use noizylab_core::services::{self, NOTIFICATIONS};
use noizylab_core::workflows::{self, Assignee, Kind, OnFailure, Step};
use noizylab_kit::db::opt;
use noizylab_kit::{time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use worker::{durable_object, DurableObject, Env, Method, Request, Response, State};

use super::actions::{self, Done, Poll};
use super::Start;

/// Tries of one action before its failure is final (back-off 2, 4, 8, 16 s between).
const ATTEMPTS: u32 = 5;
/// Steps taken per wake before the object yields (and wakes itself again at once).
const STEPS_PER_WAKE: usize = 20;
/// How often a started action (a diagnostic scan) is asked whether it has finished, and
/// for how long.
const POLL_MS: u64 = 2_000;
const POLL_LIMIT: u32 = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Running,
    Waiting,
    Succeeded,
    Failed,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Waiting => "waiting",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
        }
    }
}

/// What the run's alarm is set for.
#[derive(Clone, Serialize, Deserialize)]
#[serde(tag = "for", rename_all = "snake_case")]
enum Wake {
    /// The current step (first try, a retry, or a poll).
    Step,
    /// A delay step ends.
    Delay { until_ms: u64 },
}

/// One entry of a run's history.
#[derive(Clone, Serialize, Deserialize)]
pub struct Record {
    pub step: String,
    pub kind: String,
    pub attempt: u32,
    pub started_at: String,
    pub ms: u64,
    pub input: Value,
    pub output: Value,
    /// `ok`, `retry`, `failed`, `skipped`, `waiting`, `approved`, `rejected`, `escalated`,
    /// `reminded`, `polled`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An open human task of the run: a step's own, or one asking what to do about a failure.
#[derive(Clone, Serialize, Deserialize)]
struct OpenTask {
    id: String,
    /// For a failure: approving retries the step, rejecting fails the run.
    fix: bool,
    due_ms: u64,
    timeout_hours: u32,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Run {
    #[serde(flatten)]
    pub start: Start,
    pub status: Status,
    pub current: Option<String>,
    pub steps: Map<String, Value>,
    attempt: u32,
    polls: u32,
    poll: Option<Poll>,
    wake: Option<Wake>,
    task: Option<OpenTask>,
    asks: u32,
    pub error: Option<String>,
    pub history: Vec<Record>,
    pub started_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
}

/// A decision on one of the run's tasks (from `POST /api/v1/tasks/:id/decision`).
#[derive(Serialize, Deserialize)]
pub struct Decision {
    pub task_id: String,
    pub approved: bool,
    pub by: String,
    #[serde(default)]
    pub comment: Option<String>,
    #[serde(default)]
    pub answers: Value,
}

/// Asks run `id`'s object: (status, body text).
pub async fn ask(env: &Env, id: &str, method: Method, path: &str, body: Option<String>) -> ApiResult<(u16, String)> {
    let stub = env
        .durable_object(noizylab_core::bindings::WORKFLOW_RUN)
        .or_internal("WORKFLOW_RUN")?
        .id_from_name(id)
        .and_then(|i| i.get_stub())
        .or_internal("run object")?;
    let mut init = worker::RequestInit::new();
    init.with_method(method);
    if let Some(b) = body {
        let headers = worker::Headers::new();
        headers.set("content-type", "application/json").or_internal("header")?;
        init.with_headers(headers).with_body(Some(b.into()));
    }
    let req = Request::new_with_init(&format!("https://run{path}"), &init).or_internal("run request")?;
    let mut resp = stub.fetch_with_request(req).await.or_internal("run object")?;
    let text = resp.text().await.unwrap_or_default();
    Ok((resp.status_code(), text))
}

fn now_ms() -> u64 {
    time::now_millis()
}

fn reply(status: u16, body: &Value) -> worker::Result<Response> {
    Ok(Response::from_json(body)?.with_status(status))
}

#[durable_object]
pub struct WorkflowRun {
    state: State,
    env: Env,
}

impl DurableObject for WorkflowRun {
    fn new(state: State, env: Env) -> Self {
        WorkflowRun { state, env }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let path = req.path();
        if path == noizylab_kit::health::OBJECT_HEALTH_PATH {
            return noizylab_kit::health::object_ok("WorkflowRun");
        }
        let result = match (req.method(), path.as_str()) {
            (Method::Post, "/start") => match req.json::<Start>().await {
                Ok(start) => self.start(start).await,
                Err(e) => Err(ApiError::internal(format!("start: {e}"))),
            },
            (Method::Get, "/state") => match self.load().await {
                Ok(Some(run)) => Ok((200, serde_json::to_value(run).unwrap_or_default())),
                Ok(None) => Ok((404, json!({ "error": "no such run" }))),
                Err(e) => Err(e),
            },
            (Method::Post, "/decide") => match req.json::<Decision>().await {
                Ok(d) => self.decide(d).await,
                Err(e) => Err(ApiError::internal(format!("decide: {e}"))),
            },
            (Method::Post, "/resume") => self.resume().await,
            (Method::Post, "/wake") => self.advance().await.map(|_| (200, json!({ "woken": true }))),
            _ => Ok((404, json!({ "error": "no such route" }))),
        };
        match result {
            Ok((status, body)) => reply(status, &body),
            Err(e) => {
                worker::console_error!("workflow-orchestrator: run object: {e}");
                reply(500, &json!({ "error": e.to_string() }))
            }
        }
    }

    async fn alarm(&self) -> worker::Result<Response> {
        if let Err(e) = self.advance().await {
            // Thrown, so the platform retries the alarm with its own back-off.
            worker::console_error!("workflow-orchestrator: run alarm: {e}");
            return Err(worker::Error::RustError(e.to_string()));
        }
        Response::ok("")
    }
}

/// What a step leads to.
enum Next {
    /// On to this step (or the end).
    Go(Option<String>),
    /// Wake at this time and look again.
    Sleep(u64),
    /// Nothing until someone acts (a decision, a replay).
    Stop,
}

impl WorkflowRun {
    async fn load(&self) -> ApiResult<Option<Run>> {
        self.state.storage().get::<Run>("run").await.or_internal("run storage")
    }

    async fn save(&self, run: &mut Run) -> ApiResult<()> {
        run.updated_at = time::now_rfc3339();
        self.state.storage().put("run", &*run).await.or_internal("run storage")?;
        let db = self.call_as_service(run)?.sql()?;
        db.run(
            "UPDATE workflow_runs SET status = ?2, current_step = ?3, error = ?4, updated_at = ?5, finished_at = ?6
             WHERE id = ?1",
            &[
                run.start.run_id.as_str().into(),
                run.status.as_str().into(),
                opt(run.current.as_deref()),
                opt(run.error.as_deref()),
                run.updated_at.as_str().into(),
                opt(run.finished_at.as_deref()),
            ],
        )
        .await?;
        Ok(())
    }

    async fn wake_at(&self, ms: u64) -> ApiResult<()> {
        // An offset from now: the one way workers-rs takes a time without chrono.
        let offset = i64::try_from(ms.saturating_sub(now_ms())).unwrap_or(i64::MAX);
        self.state.storage().set_alarm(offset).await.or_internal("run alarm")
    }

    fn call_as_service(&self, run: &Run) -> ApiResult<Call> {
        let spec = services::spec(crate::DIR).ok_or_else(|| ApiError::internal("no service spec"))?;
        let secret = noizylab_kit::call::internal_secret(&self.env)?;
        let me = Identity::service(&spec.worker_name());
        Ok(Call::new(spec, self.env.clone(), run.start.run_id.clone(), me, secret))
    }

    /// A call acting for the run's actor, with their role as it is now: someone no longer
    /// staff of the workspace cannot act through a workflow.
    async fn call_as_actor(&self, run: &Run) -> Result<Call, String> {
        let base = self.call_as_service(run).map_err(|e| e.to_string())?;
        #[derive(Deserialize)]
        struct Member {
            role: String,
        }
        let found: Option<Member> = base
            .sql()
            .map_err(|e| e.to_string())?
            .first(
                "SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id
                 WHERE m.user_id = ?1 AND m.workspace_id = ?2 AND u.disabled_at IS NULL",
                &[run.start.actor.as_str().into(), run.start.workspace_id.as_str().into()],
            )
            .await
            .map_err(|e| e.to_string())?;
        let role = found
            .and_then(|m| Role::parse(&m.role))
            .filter(|r| r.is_staff())
            .ok_or_else(|| format!("the run acts for {}, who is no longer staff of the workspace", run.start.actor))?;
        let who = Identity {
            kind: PrincipalKind::User,
            sub: Some(run.start.actor.clone()),
            workspace: Some(run.start.workspace_id.clone()),
            role: Some(role.as_str().into()),
            scopes: role.default_scope_names(),
            session: None,
        };
        let secret = noizylab_kit::call::internal_secret(&self.env).map_err(|e| e.to_string())?;
        Ok(Call::new(base.spec, self.env.clone(), run.start.run_id.clone(), who, secret))
    }

    async fn start(&self, start: Start) -> ApiResult<(u16, Value)> {
        if let Some(run) = self.load().await? {
            return Ok((200, json!({ "id": run.start.run_id, "status": run.status })));
        }
        let now = time::now_rfc3339();
        let mut run = Run {
            current: Some(start.definition.start.clone()),
            start,
            status: Status::Running,
            steps: Map::new(),
            attempt: 0,
            polls: 0,
            poll: None,
            wake: Some(Wake::Step),
            task: None,
            asks: 0,
            error: None,
            history: Vec::new(),
            started_at: now.clone(),
            updated_at: now,
            finished_at: None,
        };
        self.save(&mut run).await?;
        self.wake_at(now_ms()).await?;
        Ok((201, json!({ "id": run.start.run_id, "status": run.status })))
    }

    async fn resume(&self) -> ApiResult<(u16, Value)> {
        let Some(mut run) = self.load().await? else { return Ok((404, json!({ "error": "no such run" }))) };
        if run.status != Status::Failed {
            return Ok((409, json!({ "error": format!("the run is {}, not failed", run.status.as_str()) })));
        }
        run.status = Status::Running;
        run.error = None;
        run.finished_at = None;
        run.attempt = 0;
        run.polls = 0;
        run.wake = Some(Wake::Step);
        self.save(&mut run).await?;
        self.wake_at(now_ms()).await?;
        Ok((200, json!({ "id": run.start.run_id, "status": run.status })))
    }

    async fn decide(&self, d: Decision) -> ApiResult<(u16, Value)> {
        let Some(mut run) = self.load().await? else { return Ok((404, json!({ "error": "no such run" }))) };
        let open = run.task.as_ref().is_some_and(|t| t.id == d.task_id);
        if !open {
            let decided = run.history.iter().any(|r| r.output["task_id"] == d.task_id.as_str());
            return Ok(if decided { (200, json!({ "already": true })) } else { (409, json!({ "error": "not open" })) });
        }
        self.apply(&mut run, d).await?;
        self.wake_at(now_ms()).await?;
        Ok((200, json!({ "id": run.start.run_id, "status": run.status })))
    }

    /// A decision moves the run on its task's branch; later actions act for the decider.
    async fn apply(&self, run: &mut Run, d: Decision) -> ApiResult<()> {
        let Some(task) = run.task.take() else { return Ok(()) };
        let Some(step) = run.current.clone().and_then(|id| step_of(run, &id)) else { return Ok(()) };
        let output = json!({ "task_id": task.id, "decision": if d.approved { "approved" } else { "rejected" },
                             "decided_by": d.by, "comment": d.comment, "answers": d.answers });
        let outcome = if d.approved { "approved" } else { "rejected" };
        record(run, &step, Value::Null, output.clone(), outcome, None, now_ms());
        run.start.actor = d.by;
        run.status = Status::Running;
        run.wake = Some(Wake::Step);
        if task.fix {
            run.attempt = 0;
            if !d.approved {
                self.fail(run, &format!("step {} failed and was not retried", step.id)).await?;
            }
        } else {
            run.steps.insert(step.id.clone(), output);
            run.current = match &step.kind {
                Kind::HumanTask { approved, rejected, .. } => {
                    if d.approved {
                        Some(approved.clone())
                    } else {
                        rejected.clone()
                    }
                }
                _ => step.next.clone(),
            };
        }
        self.save(run).await
    }

    /// Takes steps until the run waits, sleeps or ends.
    async fn advance(&self) -> ApiResult<()> {
        let Some(mut run) = self.load().await? else { return Ok(()) };
        for _ in 0..STEPS_PER_WAKE {
            if matches!(run.status, Status::Succeeded | Status::Failed) {
                return Ok(());
            }
            let Some(id) = run.current.clone() else {
                run.status = Status::Succeeded;
                run.finished_at = Some(time::now_rfc3339());
                return self.save(&mut run).await;
            };
            let Some(step) = step_of(&run, &id) else {
                return self.fail(&mut run, &format!("the definition has no step {id}")).await;
            };
            match self.take(&mut run, &step).await? {
                Next::Go(to) => {
                    run.current = to;
                    run.attempt = 0;
                    run.polls = 0;
                    run.poll = None;
                    run.wake = Some(Wake::Step);
                    run.status = Status::Running;
                    self.save(&mut run).await?;
                }
                Next::Sleep(at) => {
                    self.save(&mut run).await?;
                    return self.wake_at(at).await;
                }
                Next::Stop => return self.save(&mut run).await,
            }
        }
        self.wake_at(now_ms()).await
    }

    async fn take(&self, run: &mut Run, step: &Step) -> ApiResult<Next> {
        let began = now_ms();
        let steps = Value::Object(run.steps.clone());
        let event = run.start.event.clone();
        match &step.kind {
            Kind::Condition { expression, then, otherwise } => match workflows::evaluate(expression, &event, &steps) {
                Ok(holds) => {
                    let to = if holds { Some(then.clone()) } else { otherwise.clone() };
                    run.steps.insert(step.id.clone(), json!({ "holds": holds }));
                    record(
                        run,
                        step,
                        json!({ "expression": expression }),
                        json!({ "holds": holds }),
                        "ok",
                        None,
                        began,
                    );
                    Ok(Next::Go(to))
                }
                Err(why) => self.failed(run, step, Value::Null, format!("the condition failed: {why}"), began).await,
            },
            Kind::Action { action, input } => {
                if let Some(poll) = run.poll.clone() {
                    return self.polled(run, step, &poll, began).await;
                }
                let input = match workflows::resolve(input, &event, &steps) {
                    Ok(i) => i,
                    Err(why) => return self.failed(run, step, Value::Null, why, began).await,
                };
                let call = match self.call_as_actor(run).await {
                    Ok(c) => c,
                    Err(why) => return self.failed(run, step, input, why, began).await,
                };
                let key = format!("{}.{}", run.start.run_id, step.id);
                match actions::call(&call, &run.start.workspace_id, action, &input, &key).await {
                    Done::Output(out) => {
                        run.steps.insert(step.id.clone(), out.clone());
                        record(run, step, input, out, "ok", None, began);
                        Ok(Next::Go(step.next.clone()))
                    }
                    Done::Started { output, poll } => {
                        run.steps.insert(step.id.clone(), output.clone());
                        record(run, step, input, output, "started", None, began);
                        run.poll = Some(poll);
                        Ok(Next::Sleep(now_ms() + POLL_MS))
                    }
                    Done::Retry(why) => self.retry(run, step, input, why, began).await,
                    Done::Failed(why) => self.failed(run, step, input, why, began).await,
                }
            }
            Kind::HumanTask { .. } => self.human_task(run, step, began).await,
            Kind::Delay { seconds } => match run.wake.clone() {
                Some(Wake::Delay { until_ms }) if now_ms() >= until_ms => {
                    record(run, step, json!({ "seconds": seconds }), Value::Null, "ok", None, began);
                    Ok(Next::Go(step.next.clone()))
                }
                Some(Wake::Delay { until_ms }) => Ok(Next::Sleep(until_ms)),
                _ => {
                    let until_ms = now_ms() + u64::from(*seconds) * 1000;
                    run.wake = Some(Wake::Delay { until_ms });
                    run.status = Status::Waiting;
                    Ok(Next::Sleep(until_ms))
                }
            },
            Kind::Notify { to, subject, text } => {
                let (subject, text) = (render(subject, &event, &steps), render(text, &event, &steps));
                let input = json!({ "to": to, "subject": subject });
                match self.notify(run, to, &subject, &text).await {
                    Ok(sent) => {
                        let out = json!({ "sent": sent });
                        run.steps.insert(step.id.clone(), out.clone());
                        record(run, step, input, out, "ok", None, began);
                        Ok(Next::Go(step.next.clone()))
                    }
                    Err(e) => self.retry(run, step, input, e.to_string(), began).await,
                }
            }
            Kind::Webhook { endpoint_id } => {
                let input = json!({ "endpoint_id": endpoint_id });
                match self.webhook(run, &step.id, endpoint_id).await {
                    Ok(Some(delivery)) => {
                        let out = json!({ "delivery_id": delivery });
                        run.steps.insert(step.id.clone(), out.clone());
                        record(run, step, input, out, "ok", None, began);
                        Ok(Next::Go(step.next.clone()))
                    }
                    Ok(None) => {
                        let why = format!("the workspace has no webhook endpoint {endpoint_id} in use");
                        self.failed(run, step, input, why, began).await
                    }
                    Err(e) => self.retry(run, step, input, e.to_string(), began).await,
                }
            }
        }
    }

    async fn polled(&self, run: &mut Run, step: &Step, poll: &Poll, began: u64) -> ApiResult<Next> {
        let call = match self.call_as_actor(run).await {
            Ok(c) => c,
            Err(why) => return self.failed(run, step, Value::Null, why, began).await,
        };
        match actions::poll(&call, poll).await {
            Ok(Some(out)) => {
                run.steps.insert(step.id.clone(), out.clone());
                record(run, step, json!({ "poll": poll.path }), out, "ok", None, began);
                Ok(Next::Go(step.next.clone()))
            }
            Ok(None) if run.polls + 1 >= POLL_LIMIT => {
                run.poll = None;
                self.failed(run, step, Value::Null, "it did not finish in time".into(), began).await
            }
            Ok(None) => {
                run.polls += 1;
                Ok(Next::Sleep(now_ms() + POLL_MS))
            }
            Err((true, why)) => self.retry(run, step, json!({ "poll": poll.path }), why, began).await,
            Err((false, why)) => {
                run.poll = None;
                self.failed(run, step, Value::Null, why, began).await
            }
        }
    }

    async fn retry(&self, run: &mut Run, step: &Step, input: Value, why: String, began: u64) -> ApiResult<Next> {
        if run.attempt + 1 >= ATTEMPTS {
            return self.failed(run, step, input, format!("{why} (after {ATTEMPTS} tries)"), began).await;
        }
        record(run, step, input, Value::Null, "retry", Some(why), began);
        run.attempt += 1;
        Ok(Next::Sleep(now_ms() + 1000 * (1u64 << run.attempt.min(10))))
    }

    /// A step's final failure, handled as the step says.
    async fn failed(&self, run: &mut Run, step: &Step, input: Value, why: String, began: u64) -> ApiResult<Next> {
        let on_failure = if matches!(step.kind, Kind::Condition { .. } | Kind::HumanTask { .. }) {
            OnFailure::Fail
        } else {
            step.on_failure
        };
        match on_failure {
            OnFailure::Skip => {
                record(run, step, input, Value::Null, "skipped", Some(why), began);
                run.steps.insert(step.id.clone(), Value::Null);
                Ok(Next::Go(step.next.clone()))
            }
            OnFailure::Ask => {
                record(run, step, input, Value::Null, "failed", Some(why.clone()), began);
                run.asks += 1;
                let id = format!("{}.{}.failed{}", run.start.run_id, step.id, run.asks);
                let title = format!("Step {} of a workflow failed: retry it?", step.id);
                let admins = Assignee::Role { role: "admin".into() };
                self.open_task(run, &id, &title, &admins, &json!([]), json!({ "error": why }), 24, true).await?;
                Ok(Next::Stop)
            }
            OnFailure::Fail => {
                record(run, step, input, Value::Null, "failed", Some(why.clone()), began);
                self.fail(run, &format!("step {}: {why}", step.id)).await?;
                Ok(Next::Stop)
            }
        }
    }

    /// The run fails: kept with the dead letters, from where an operator replays it.
    async fn fail(&self, run: &mut Run, why: &str) -> ApiResult<()> {
        run.status = Status::Failed;
        run.error = Some(why.chars().take(500).collect());
        run.finished_at = Some(time::now_rfc3339());
        run.wake = None;
        let body = json!({ "run_id": run.start.run_id, "workspace_id": run.start.workspace_id,
                           "workflow_id": run.start.workflow_id })
        .to_string();
        self.call_as_service(run)?
            .sql()?
            .run(
                "INSERT INTO dead_letters (message_id, queue, body, reason, received_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (message_id) DO UPDATE SET reason = excluded.reason,
                     received_at = excluded.received_at, replayed_at = NULL",
                &[
                    run.start.run_id.as_str().into(),
                    services::queues::WORKFLOWS.into(),
                    body.into(),
                    why.into(),
                    time::now_rfc3339().into(),
                ],
            )
            .await?;
        self.save(run).await
    }

    async fn human_task(&self, run: &mut Run, step: &Step, began: u64) -> ApiResult<Next> {
        let Kind::HumanTask { title, assignee, fields, timeout_hours, .. } = &step.kind else { return Ok(Next::Stop) };
        if run.task.is_none() {
            let id = format!("{}.{}", run.start.run_id, step.id);
            let form = serde_json::to_value(fields).unwrap_or_default();
            let context = json!({ "event": run.start.event, "steps": run.steps });
            self.open_task(run, &id, title, assignee, &form, context, *timeout_hours, false).await?;
            record(run, step, json!({ "task_id": id }), Value::Null, "waiting", None, began);
            return Ok(Next::Stop);
        }
        self.task_due(run, step).await
    }

    /// Opens a task (once: its id is the run's and the step's) and sleeps until it is due.
    #[allow(clippy::too_many_arguments)]
    async fn open_task(
        &self,
        run: &mut Run,
        id: &str,
        title: &str,
        assignee: &Assignee,
        form: &Value,
        context: Value,
        timeout_hours: u32,
        fix: bool,
    ) -> ApiResult<()> {
        let due_ms = now_ms() + u64::from(timeout_hours) * 3_600_000;
        let due = rfc3339(due_ms);
        let (role, user) = assignee_columns(assignee);
        let step = run.current.clone().unwrap_or_default();
        self.call_as_service(run)?
            .sql()?
            .run(
                "INSERT INTO workflow_tasks (id, run_id, workspace_id, step_id, title, assignee_role, assignee_user,
                     form, context, status, due_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'open', ?10, ?11) ON CONFLICT (id) DO NOTHING",
                &[
                    id.into(),
                    run.start.run_id.as_str().into(),
                    run.start.workspace_id.as_str().into(),
                    step.as_str().into(),
                    title.into(),
                    opt(role.as_deref()),
                    opt(user.as_deref()),
                    form.to_string().into(),
                    context.to_string().into(),
                    due.as_str().into(),
                    time::now_rfc3339().into(),
                ],
            )
            .await?;
        run.task = Some(OpenTask { id: id.to_owned(), fix, due_ms, timeout_hours });
        run.status = Status::Waiting;
        run.wake = Some(Wake::Step);
        // The alarm is set by the caller's save path: a waiting run sleeps until due.
        self.wake_at(due_ms).await
    }

    /// The task's alarm: a decision D1 holds that the object missed is applied; a task
    /// past due is escalated (once, if the step names someone) or its assignees reminded.
    async fn task_due(&self, run: &mut Run, step: &Step) -> ApiResult<Next> {
        let Some(task) = run.task.clone() else { return Ok(Next::Stop) };
        #[derive(Deserialize)]
        struct Row {
            status: String,
            decided_by: Option<String>,
            comment: Option<String>,
            answers: Option<String>,
            due_at: String,
            escalated_at: Option<String>,
        }
        let db = self.call_as_service(run)?.sql()?;
        let row: Option<Row> = db
            .first(
                "SELECT status, decided_by, comment, answers, due_at, escalated_at FROM workflow_tasks WHERE id = ?1",
                &[task.id.as_str().into()],
            )
            .await?;
        let Some(row) = row else { return Ok(Next::Stop) };
        if row.status != "open" {
            let answers = row.answers.and_then(|a| serde_json::from_str(&a).ok()).unwrap_or(Value::Null);
            let d = Decision {
                task_id: task.id.clone(),
                approved: row.status == "approved",
                by: row.decided_by.unwrap_or_else(|| run.start.actor.clone()),
                comment: row.comment,
                answers,
            };
            self.apply(run, d).await?;
            return Ok(Next::Sleep(now_ms()));
        }
        let now = time::now_rfc3339();
        if row.due_at > now {
            return Ok(Next::Sleep(task.due_ms.max(now_ms() + 1000)));
        }
        let escalate_to = match &step.kind {
            Kind::HumanTask { escalate_to: Some(a), .. } if row.escalated_at.is_none() && !task.fix => Some(a.clone()),
            _ => None,
        };
        let due_ms = now_ms() + u64::from(task.timeout_hours) * 3_600_000;
        let (outcome, to) = match &escalate_to {
            Some(a) => {
                let (role, user) = assignee_columns(a);
                db.run(
                    "UPDATE workflow_tasks SET assignee_role = ?2, assignee_user = ?3, escalated_at = ?4, due_at = ?5
                     WHERE id = ?1 AND status = 'open'",
                    &[
                        task.id.as_str().into(),
                        opt(role.as_deref()),
                        opt(user.as_deref()),
                        now.as_str().into(),
                        rfc3339(due_ms).into(),
                    ],
                )
                .await?;
                ("escalated", a.clone())
            }
            None => {
                db.run(
                    "UPDATE workflow_tasks SET reminded_at = ?2, due_at = ?3 WHERE id = ?1 AND status = 'open'",
                    &[task.id.as_str().into(), now.as_str().into(), rfc3339(due_ms).into()],
                )
                .await?;
                let (role, user): (Option<String>, Option<String>) = db
                    .first::<Value>(
                        "SELECT assignee_role, assignee_user FROM workflow_tasks WHERE id = ?1",
                        &[task.id.as_str().into()],
                    )
                    .await?
                    .map(|v| {
                        (v["assignee_role"].as_str().map(str::to_owned), v["assignee_user"].as_str().map(str::to_owned))
                    })
                    .unwrap_or_default();
                let a = match (role, user) {
                    (_, Some(user_id)) => Assignee::User { user_id },
                    (Some(role), None) => Assignee::Role { role },
                    (None, None) => Assignee::Role { role: "admin".into() },
                };
                ("reminded", a)
            }
        };
        let title: String = db
            .first::<Value>("SELECT title FROM workflow_tasks WHERE id = ?1", &[task.id.as_str().into()])
            .await?
            .and_then(|v| v["title"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let subject = format!("Waiting for your decision: {title}");
        let text = format!(
            "A workflow is waiting for a decision: {title}.\nOpen your tasks in the workbench to approve or reject it."
        );
        let sent = self.email_assignees(run, &to, &subject, &text).await.unwrap_or_default();
        record(run, step, json!({ "task_id": task.id }), json!({ "sent": sent }), outcome, None, now_ms());
        if let Some(t) = run.task.as_mut() {
            t.due_ms = due_ms;
        }
        Ok(Next::Sleep(due_ms))
    }

    /// A signed delivery of the run so far to one of the workspace's endpoints (sent and
    /// retried on its own schedule); its id, or None if there is no such endpoint.
    async fn webhook(&self, run: &Run, step: &str, endpoint: &str) -> ApiResult<Option<String>> {
        let call = self.call_as_service(run)?;
        let found: Option<Value> = call
            .sql()?
            .first(
                "SELECT id FROM webhook_endpoints WHERE id = ?1 AND workspace_id = ?2 AND enabled = 1",
                &[endpoint.into(), run.start.workspace_id.as_str().into()],
            )
            .await?;
        if found.is_none() {
            return Ok(None);
        }
        let source = format!("{}.{step}", run.start.run_id);
        let body = json!({ "id": source, "event": "workflow.step", "timestamp": time::now_rfc3339(),
                           "workspace_id": run.start.workspace_id, "workflow_id": run.start.workflow_id,
                           "run_id": run.start.run_id, "step": step, "data": { "event": run.start.event, "steps": run.steps } })
        .to_string();
        let id =
            crate::webhooks::enqueue(&call, &run.start.workspace_id, endpoint, &source, "workflow.step", &body).await?;
        Ok(Some(id))
    }

    async fn notify(&self, run: &Run, to: &str, subject: &str, text: &str) -> ApiResult<u32> {
        match to {
            "customer" => {
                let ticket = run.start.event["ticket_id"]
                    .as_str()
                    .or_else(|| run.start.event["data"]["ticket_id"].as_str())
                    .map(str::to_owned);
                let Some(ticket) = ticket else { return Ok(0) };
                let call = self.call_as_service(run)?;
                let found: Option<Value> = call
                    .sql()?
                    .first(
                        "SELECT u.email FROM tickets t JOIN users u ON u.id = t.customer_id
                         WHERE t.id = ?1 AND t.workspace_id = ?2 AND u.disabled_at IS NULL",
                        &[ticket.as_str().into(), run.start.workspace_id.as_str().into()],
                    )
                    .await?;
                let Some(email) = found.and_then(|v| v["email"].as_str().map(str::to_owned)) else { return Ok(0) };
                self.email(&call, &email, subject, text).await?;
                Ok(1)
            }
            "managers" => self.email_assignees(run, &Assignee::Role { role: "admin".into() }, subject, text).await,
            _ => self.email_assignees(run, &Assignee::Role { role: "technician".into() }, subject, text).await,
        }
    }

    /// Emails whoever may decide for `who`: one person, or everyone of that role or above.
    async fn email_assignees(&self, run: &Run, who: &Assignee, subject: &str, text: &str) -> ApiResult<u32> {
        let call = self.call_as_service(run)?;
        let (role, user) = assignee_columns(who);
        let rows: Vec<Value> = call
            .sql()?
            .all(
                &format!(
                    "SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
                     WHERE m.workspace_id = ?1 AND u.disabled_at IS NULL AND (m.user_id = ?2 OR {})
                     ORDER BY u.email",
                    ROLE_AT_LEAST
                ),
                &[run.start.workspace_id.as_str().into(), opt(user.as_deref()), opt(role.as_deref())],
            )
            .await?;
        let mut sent = 0;
        for email in rows.iter().filter_map(|r| r["email"].as_str()) {
            self.email(&call, email, subject, text).await?;
            sent += 1;
        }
        Ok(sent)
    }

    async fn email(&self, call: &Call, to: &str, subject: &str, text: &str) -> ApiResult<()> {
        let mail = Email { to: to.into(), subject: subject.into(), text: text.into(), html: None };
        let body = serde_json::to_string(&mail).or_internal("email")?;
        let resp = call.as_service(NOTIFICATIONS, Method::Post, "/internal/email", Some(body)).await?;
        match resp.status_code() {
            200..=299 => Ok(()),
            s => Err(ApiError::internal(format!("notifications answered {s} to an email"))),
        }
    }
}

/// A membership `m` whose role is `?3` or above (owner ≥ admin ≥ technician).
pub const ROLE_AT_LEAST: &str =
    "(CASE m.role WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'technician' THEN 1 ELSE 0 END)
    >= (CASE ?3 WHEN 'owner' THEN 3 WHEN 'admin' THEN 2 WHEN 'technician' THEN 1 ELSE 9 END)";

fn assignee_columns(a: &Assignee) -> (Option<String>, Option<String>) {
    match a {
        Assignee::Role { role } => (Some(role.clone()), None),
        Assignee::User { user_id } => (None, Some(user_id.clone())),
    }
}

fn step_of(run: &Run, id: &str) -> Option<Step> {
    run.start.definition.steps.iter().find(|s| s.id == id).cloned()
}

fn kind_name(step: &Step) -> &'static str {
    match step.kind {
        Kind::Action { .. } => "action",
        Kind::Condition { .. } => "condition",
        Kind::HumanTask { .. } => "human_task",
        Kind::Delay { .. } => "delay",
        Kind::Notify { .. } => "notify",
        Kind::Webhook { .. } => "webhook",
    }
}

fn record(run: &mut Run, step: &Step, input: Value, output: Value, outcome: &str, error: Option<String>, began: u64) {
    run.history.push(Record {
        step: step.id.clone(),
        kind: kind_name(step).into(),
        attempt: run.attempt + 1,
        started_at: rfc3339(began),
        ms: now_ms().saturating_sub(began),
        input,
        output,
        outcome: outcome.into(),
        error,
    });
}

/// A due time as RFC 3339: now plus at most a task's 720 hours, always a date.
fn rfc3339(ms: u64) -> String {
    i64::try_from(ms).ok().and_then(noizylab_core::time::rfc3339_millis).unwrap_or_default()
}

/// `text` with each `{{path}}` replaced by what the run has there (nothing if it lacks it).
fn render(text: &str, event: &Value, steps: &Value) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        match workflows::lookup(after[..close].trim(), event, steps) {
            Some(Value::String(s)) => out.push_str(s),
            Some(Value::Null) | None => {}
            Some(v) => out.push_str(&v.to_string()),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}
