//! Workflow definitions (issue 17): steps joined as a directed graph — call a worker's
//! action, branch on a condition, wait for a person's decision, wait a while, notify,
//! post a signed webhook — started by an event (with a filter), by hand, or on a schedule.
//!
//! A definition is checked whole before it is saved ([`Definition::checked`]): step ids
//! unique and plain, every edge to a step that exists, no cycle, no step unreachable from
//! the start, every action in the [`ACTIONS`] catalogue with its required inputs, every
//! expression parsed and naming only what a run has (`event.…`, `steps.<an earlier
//! step>.…`). A failure names the step. Conditions are [`evalexpr`] expressions over the
//! run's JSON flattened to dotted names (`event.data.total > 50000 && steps.hunt.found >
//! 0`); [`evaluate`] gives their truth.
//!
//! Pure: the orchestrator stores definitions and runs them.

use std::collections::{BTreeMap, BTreeSet};

use evalexpr::{build_operator_tree, ContextWithMutableVariables, DefaultNumericTypes, HashMapContext, Value as X};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::invalid;
pub use crate::error::Invalid;

/// How a run starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// A catalogued event, when `filter` (an expression over `event.…`) holds.
    Event {
        event: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filter: Option<String>,
    },
    /// A person starts it (`POST …/runs`).
    Manual,
    /// A cron schedule (five fields, UTC).
    Schedule { cron: String },
}

/// Who decides a human task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Assignee {
    /// Anyone of the workspace with this role (owner, admin, technician).
    Role { role: String },
    /// One person.
    User { user_id: String },
}

/// A field of a human task's form, besides approve/reject and the comment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: String,
    pub label: String,
    /// `text`, `number` or `boolean`.
    #[serde(default = "text")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
}

fn text() -> String {
    "text".into()
}

/// What a step does, and where the run goes from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kind {
    /// Calls a catalogued worker action with `input` (values may be `{{event.…}}` or
    /// `{{steps.<id>.…}}` references).
    Action {
        action: String,
        #[serde(default)]
        input: serde_json::Map<String, Value>,
    },
    /// Goes to `then` when `expression` holds, else to `else` (or ends).
    Condition {
        expression: String,
        then: String,
        /// None: the run ends when the expression does not hold.
        #[serde(default, rename = "else", skip_serializing_if = "Option::is_none")]
        otherwise: Option<String>,
    },
    /// Waits for a person's decision: `approved` or `rejected` is where the run goes; after
    /// `timeout_hours` the task is escalated to `escalate_to`.
    HumanTask {
        title: String,
        assignee: Assignee,
        #[serde(default)]
        fields: Vec<Field>,
        #[serde(default = "day")]
        timeout_hours: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        escalate_to: Option<Assignee>,
        approved: String,
        /// None: a rejection ends the run.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rejected: Option<String>,
    },
    /// Waits `seconds`.
    Delay { seconds: u32 },
    /// A message to the event's customer or to the team.
    Notify { to: String, subject: String, text: String },
    /// A signed POST to one of the workspace's webhook endpoints.
    Webhook { endpoint_id: String },
}

fn day() -> u32 {
    24
}

/// What happens when a step fails for good (after its retries).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// The run fails (and lands with the dead letters, to be replayed).
    #[default]
    Fail,
    /// The run goes on to `next` as if the step had succeeded with no output.
    Skip,
    /// A person is asked to resolve it (a human task for the workspace's admins).
    Ask,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub id: String,
    #[serde(flatten)]
    pub kind: Kind,
    /// Where the run goes after an action, a delay, a notification or a webhook; none ends
    /// the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default)]
    pub on_failure: OnFailure,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub trigger: Trigger,
    /// The first step's id.
    pub start: String,
    pub steps: Vec<Step>,
}

/// One action a step may call: the worker that does it, what it needs, and what it does.
pub struct ActionSpec {
    pub name: &'static str,
    pub worker: &'static str,
    pub required: &'static [&'static str],
    pub what: &'static str,
}

/// The actions steps may call. Each is idempotent per run and step: the run's
/// idempotency key goes with the call.
pub const ACTIONS: &[ActionSpec] = &[
    ActionSpec {
        name: "vision.analyze",
        worker: "vision",
        required: &["attachment_id"],
        what: "analyse a ticket's board photo against its model's golden reference (or reference_id's)",
    },
    ActionSpec {
        name: "brain.diagnose",
        worker: "brain",
        required: &["device_id"],
        what: "queue a diagnostic scan of a device",
    },
    ActionSpec {
        name: "pricing.quote",
        worker: "pricing",
        required: &["ticket_id"],
        what: "issue a quote on a ticket from its diagnosis",
    },
    ActionSpec {
        name: "inventory.check",
        worker: "inventory",
        required: &["part_id"],
        what: "a part's stock and cost",
    },
    ActionSpec {
        name: "ebay.hunt",
        worker: "ebay-sniper",
        required: &["part_id"],
        what: "search eBay now for a part's watches",
    },
    ActionSpec {
        name: "ebay.request_purchase",
        worker: "ebay-sniper",
        required: &["deal_id", "quantity", "location"],
        what: "ask to buy a deal (its approval is the next human task)",
    },
    ActionSpec {
        name: "ebay.approve_purchase",
        worker: "ebay-sniper",
        required: &["request_id"],
        what: "approve a purchase request: the order is placed with inventory",
    },
    ActionSpec {
        name: "ebay.reject_purchase",
        worker: "ebay-sniper",
        required: &["request_id"],
        what: "reject a purchase request",
    },
    ActionSpec {
        name: "ticket.move",
        worker: "main",
        required: &["ticket_id", "to"],
        what: "move a ticket in its lifecycle",
    },
];

/// The action called `name`, if it is catalogued.
pub fn action(name: &str) -> Option<&'static ActionSpec> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// The most steps a definition has.
pub const MAX_STEPS: usize = 50;

fn plain(id: &str) -> bool {
    (1..=40).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// The steps a step leads to.
pub fn edges(step: &Step) -> Vec<&str> {
    let mut out: Vec<&str> = step.next.as_deref().into_iter().collect();
    match &step.kind {
        Kind::Condition { then, otherwise, .. } => {
            out.extend(std::iter::once(then.as_str()).chain(otherwise.as_deref()))
        }
        Kind::HumanTask { approved, rejected, .. } => {
            out.extend(std::iter::once(approved.as_str()).chain(rejected.as_deref()))
        }
        _ => {}
    }
    out
}

/// The names an expression reads, or why it does not parse. An operator left without its
/// operands (`a >`) parses into a tree that only fails when evaluated: a dry run with
/// every name at 0 finds it (type errors of that run are not the expression's).
fn names_in(expression: &str) -> Result<Vec<String>, String> {
    let tree = build_operator_tree::<DefaultNumericTypes>(expression).map_err(|e| e.to_string())?;
    let names: Vec<String> = tree.iter_variable_identifiers().map(str::to_owned).collect();
    let mut zeros = HashMapContext::<DefaultNumericTypes>::new();
    for n in &names {
        let _ = zeros.set_value(n.clone(), X::from_int(0));
    }
    match tree.eval_with_context(&zeros) {
        Err(e @ evalexpr::EvalexprError::WrongOperatorArgumentAmount { .. })
        | Err(e @ evalexpr::EvalexprError::WrongFunctionArgumentAmount { .. }) => Err(e.to_string()),
        _ => Ok(names),
    }
}

/// Checks an expression of step `at` (or the trigger's filter): it parses and reads only
/// `event.…` and `steps.<id>.…` of a step in `before`.
fn check_expression(field: &str, expression: &str, before: &BTreeSet<String>) -> Result<(), Invalid> {
    if expression.trim().is_empty() || expression.len() > 500 {
        return Err(invalid(field, "an expression is 1 to 500 characters"));
    }
    let names = names_in(expression).map_err(|e| invalid(field, format!("the expression does not parse: {e}")))?;
    for name in names {
        let mut parts = name.split('.');
        match (parts.next(), parts.next()) {
            (Some("event"), Some(_)) => {}
            (Some("steps"), Some(id)) if before.contains(id) => {}
            (Some("steps"), Some(id)) => {
                return Err(invalid(field, format!("`{name}` reads step {id}, which does not run before this one")))
            }
            _ => {
                return Err(invalid(
                    field,
                    format!("`{name}` is not something a run has: read event.… or steps.<an earlier step>.…"),
                ))
            }
        }
    }
    Ok(())
}

/// A cron schedule: five fields of digits, `*`, `,`, `-` and `/`.
fn cron_ok(cron: &str) -> bool {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    fields.len() == 5 && fields.iter().all(|f| f.bytes().all(|b| b.is_ascii_digit() || b"*,-/".contains(&b)))
}

impl Definition {
    /// The definition if it can run; otherwise 400's field (the step, as `steps.<id>`) and
    /// why.
    pub fn checked(mut self) -> Result<Definition, Invalid> {
        self.name = self.name.trim().to_owned();
        if self.name.is_empty() || self.name.chars().count() > 120 {
            return Err(invalid("name", "a workflow's name is 1 to 120 characters"));
        }
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(invalid("steps", format!("a workflow has 1 to {MAX_STEPS} steps")));
        }
        let mut by_id: BTreeMap<&str, &Step> = BTreeMap::new();
        for (i, s) in self.steps.iter().enumerate() {
            if !plain(&s.id) {
                return Err(invalid(format!("steps[{i}].id"), "a step id is 1 to 40 of a-z, 0-9 and _"));
            }
            if by_id.insert(&s.id, s).is_some() {
                return Err(invalid(format!("steps.{}", s.id), format!("two steps are called {}", s.id)));
            }
        }
        if !by_id.contains_key(self.start.as_str()) {
            return Err(invalid("start", format!("no step is called {}", self.start)));
        }
        for s in &self.steps {
            for to in edges(s) {
                if !by_id.contains_key(to) {
                    return Err(invalid(format!("steps.{}", s.id), format!("it goes to {to}, which is not a step")));
                }
            }
        }
        // Depth-first from the start: a step met again on the current path is a cycle;
        // a step never met is unreachable. The order met gives "earlier" for expressions.
        let mut state: BTreeMap<&str, u8> = BTreeMap::new(); // 1 on the path, 2 done
        let mut stack: Vec<(&str, usize)> = vec![(self.start.as_str(), 0)];
        state.insert(&self.start, 1);
        while let Some((id, i)) = stack.pop() {
            let out = by_id.get(id).map(|s| edges(s)).unwrap_or_default();
            if let Some(&to) = out.get(i) {
                stack.push((id, i + 1));
                match state.get(to) {
                    Some(1) => {
                        return Err(invalid(
                            format!("steps.{id}"),
                            format!("it goes back to {to}: a workflow has no cycles"),
                        ))
                    }
                    Some(_) => {}
                    None => {
                        state.insert(to, 1);
                        stack.push((to, 0));
                    }
                }
            } else {
                state.insert(id, 2);
            }
        }
        if let Some(lost) = self.steps.iter().find(|s| !state.contains_key(s.id.as_str())) {
            return Err(invalid(format!("steps.{}", lost.id), format!("no path from {} reaches it", self.start)));
        }
        // What runs before each step: every step on some path from the start to it.
        let before = ancestors(&self);
        let none = BTreeSet::new();
        match &self.trigger {
            Trigger::Event { event, filter } => {
                if !crate::events::is_known(event) {
                    return Err(invalid("trigger.event", format!("{event} is not a catalogued event")));
                }
                if let Some(f) = filter {
                    check_expression("trigger.filter", f, &none)?;
                }
            }
            Trigger::Manual => {}
            Trigger::Schedule { cron } => {
                if !cron_ok(cron) {
                    return Err(invalid("trigger.cron", "a schedule is five cron fields, e.g. */30 * * * *"));
                }
            }
        }
        for s in &self.steps {
            let field = format!("steps.{}", s.id);
            let earlier = before.get(s.id.as_str()).unwrap_or(&none);
            match &s.kind {
                Kind::Action { action: name, input } => {
                    let spec = action(name).ok_or_else(|| {
                        let known: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
                        invalid(&field, format!("{name} is not an action; there are {}", known.join(", ")))
                    })?;
                    if let Some(missing) = spec.required.iter().find(|r| !input.contains_key(**r)) {
                        return Err(invalid(&field, format!("{name} needs input {missing}")));
                    }
                    for v in input.values() {
                        if let Some(reference) = v.as_str().and_then(reference_of) {
                            check_expression(&field, reference, earlier)?;
                        }
                    }
                }
                Kind::Condition { expression, .. } => check_expression(&field, expression, earlier)?,
                Kind::HumanTask { title, assignee, timeout_hours, escalate_to, fields, .. } => {
                    if title.trim().is_empty() || title.chars().count() > 200 {
                        return Err(invalid(&field, "a task's title is 1 to 200 characters"));
                    }
                    for a in std::iter::once(assignee).chain(escalate_to.iter()) {
                        if let Assignee::Role { role } = a {
                            if !["owner", "admin", "technician"].contains(&role.as_str()) {
                                return Err(invalid(
                                    &field,
                                    "a task goes to the owner, admin or technician role, or a user",
                                ));
                            }
                        }
                    }
                    if !(1..=720).contains(timeout_hours) {
                        return Err(invalid(&field, "a task's timeout is 1 to 720 hours"));
                    }
                    if fields.len() > 20
                        || fields
                            .iter()
                            .any(|f| !plain(&f.name) || !["text", "number", "boolean"].contains(&f.kind.as_str()))
                    {
                        return Err(invalid(
                            &field,
                            "at most 20 form fields, each a plain name of kind text, number or boolean",
                        ));
                    }
                }
                Kind::Delay { seconds } => {
                    if !(1..=30 * 86_400).contains(seconds) {
                        return Err(invalid(&field, "a delay is 1 second to 30 days"));
                    }
                }
                Kind::Notify { to, subject, text } => {
                    if !["customer", "team", "managers"].contains(&to.as_str()) {
                        return Err(invalid(&field, "a notification goes to the customer, the team or the managers"));
                    }
                    if subject.trim().is_empty() || text.trim().is_empty() || subject.len() > 200 || text.len() > 4000 {
                        return Err(invalid(&field, "a notification has a subject (≤ 200) and a text (≤ 4000)"));
                    }
                }
                Kind::Webhook { endpoint_id } => {
                    if endpoint_id.trim().is_empty() {
                        return Err(invalid(&field, "name the webhook endpoint"));
                    }
                }
            }
            if matches!(s.kind, Kind::Condition { .. } | Kind::HumanTask { .. }) && s.next.is_some() {
                return Err(invalid(&field, "a condition or a task goes on by its branches, not by next"));
            }
        }
        Ok(self)
    }
}

/// `{{event.data.part_id}}` → `event.data.part_id`.
pub fn reference_of(v: &str) -> Option<&str> {
    v.trim().strip_prefix("{{")?.strip_suffix("}}").map(str::trim)
}

/// For each step, the steps that run before it on some path from the start.
fn ancestors(d: &Definition) -> BTreeMap<&str, BTreeSet<String>> {
    let mut out: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    // Acyclic (checked before): relax until nothing changes; at most steps² work.
    out.insert(d.start.as_str(), BTreeSet::new());
    let mut changed = true;
    while changed {
        changed = false;
        for s in &d.steps {
            let Some(mine) = out.get(s.id.as_str()).cloned() else { continue };
            for to in edges(s) {
                let entry = out.entry(to).or_default();
                let before = entry.len();
                entry.extend(mine.iter().cloned());
                entry.insert(s.id.clone());
                changed |= entry.len() != before;
            }
        }
    }
    out
}

/// `value` flattened to dotted names under `prefix` (arrays by index), for expressions.
fn flatten(prefix: &str, value: &Value, into: &mut HashMapContext<DefaultNumericTypes>) {
    let x = match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(&format!("{prefix}.{k}"), v, into);
            }
            return;
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}.{i}"), v, into);
            }
            X::from_int(items.len() as i64)
        }
        Value::Null => X::Empty,
        Value::Bool(b) => X::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => X::from_int(i),
            None => X::from_float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => X::String(s.clone()),
    };
    let _ = into.set_value(prefix.to_owned(), x);
}

/// Whether `expression` holds over the run's `event` and `steps` (their outputs by step
/// id). A name the run lacks, or a value of the wrong type, is an error naming it.
pub fn evaluate(expression: &str, event: &Value, steps: &Value) -> Result<bool, String> {
    let tree = build_operator_tree::<DefaultNumericTypes>(expression).map_err(|e| e.to_string())?;
    let mut context = HashMapContext::<DefaultNumericTypes>::new();
    flatten("event", event, &mut context);
    flatten("steps", steps, &mut context);
    match tree.eval_with_context(&context).map_err(|e| e.to_string())? {
        X::Boolean(b) => Ok(b),
        other => Err(format!("the expression gives {other}, not true or false")),
    }
}

/// The value at a dotted `path` (`event.data.part_id`, `steps.hunt.best_deal`, arrays by
/// index) of the run's `event` and `steps`.
pub fn lookup<'a>(path: &str, event: &'a Value, steps: &'a Value) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut at = match parts.next()? {
        "event" => event,
        "steps" => steps,
        _ => return None,
    };
    for p in parts {
        at = match at {
            Value::Object(map) => map.get(p)?,
            Value::Array(items) => items.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(at)
}

/// An action's `input` as the run calls it: each `{{…}}` reference replaced by the value
/// it names (of any JSON type); a reference the run cannot fill is an error naming it.
pub fn resolve(input: &serde_json::Map<String, Value>, event: &Value, steps: &Value) -> Result<Value, String> {
    let mut out = serde_json::Map::new();
    for (k, v) in input {
        let value = match v.as_str().and_then(reference_of) {
            Some(path) => match lookup(path, event, steps) {
                Some(found) if !found.is_null() => found.clone(),
                _ => return Err(format!("input {k}: the run has no {path}")),
            },
            None => v.clone(),
        };
        out.insert(k.clone(), value);
    }
    Ok(Value::Object(out))
}

/// Whether one cron field (`*`, `5`, `1-5`, `*/15`, `0-30/10`, lists of these) admits `n`.
fn cron_field(field: &str, n: u32) -> bool {
    field.split(',').any(|part| {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().ok().filter(|s| *s > 0)),
            None => (part, Some(1)),
        };
        let Some(step) = step else { return false };
        let (lo, hi) = match range {
            "*" => (0, u32::MAX),
            r => match r.split_once('-') {
                Some((a, b)) => match (a.parse(), b.parse()) {
                    (Ok(a), Ok(b)) => (a, b),
                    _ => return false,
                },
                None => match r.parse() {
                    Ok(a) if part.contains('/') => (a, u32::MAX),
                    Ok(a) => (a, a),
                    Err(_) => return false,
                },
            },
        };
        let base = if range == "*" { 0 } else { lo };
        n >= lo && n <= hi && (n - base).is_multiple_of(step)
    })
}

/// Whether a five-field cron schedule (UTC) is due at this minute: `minute` 0–59, `hour`
/// 0–23, `day` 1–31, `month` 1–12, `weekday` 0–6 from Sunday. As in cron, when both the
/// day of the month and the weekday are restricted, either may match.
pub fn cron_due(cron: &str, minute: u32, hour: u32, day: u32, month: u32, weekday: u32) -> bool {
    let f: Vec<&str> = cron.split_whitespace().collect();
    let [min, hr, dom, mon, dow] = f.as_slice() else { return false };
    let dow_ok = cron_field(dow, weekday) || (weekday == 0 && cron_field(dow, 7));
    let days = match (*dom == "*", *dow == "*") {
        (true, true) => true,
        (false, true) => cron_field(dom, day),
        (true, false) => dow_ok,
        (false, false) => cron_field(dom, day) || dow_ok,
    };
    cron_field(min, minute) && cron_field(hr, hour) && cron_field(mon, month) && days
}

#[cfg(test)]
mod tests;
