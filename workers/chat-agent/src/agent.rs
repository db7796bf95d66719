//! What the agent says: the customer's context from D1 (their repairs, statuses, quotes)
//! and the workspace's knowledge base, answered by built-in retrieval
//! (`noizylab_core::chat`) or, when a key is configured, by Anthropic's Messages API
//! grounded in that same context.
//!
//! Either way the agent never guesses: a question the context does not answer, or a wish
//! for a person, is handed to a technician (`Answer::escalate`).

use noizylab_core::chat::{self, Doc, Intent, CONFIDENT};
use noizylab_kit::anthropic::Messages;
use noizylab_kit::db::{opt, Db};
use noizylab_kit::ApiResult;
use serde::Deserialize;
use serde_json::{json, Value};
use worker::Env;

/// The name the agent speaks under.
pub const AGENT_NAME: &str = "NoizyLab assistant";

/// The most repairs one answer talks about.
const MAX_REPAIRS: usize = 3;

#[derive(Deserialize)]
pub struct Repair {
    pub number: i64,
    pub title: String,
    pub status: String,
    pub quote_status: Option<String>,
    pub total_cents: Option<i64>,
    pub currency: Option<String>,
    pub expires_at: Option<String>,
}

#[derive(Deserialize)]
pub struct Article {
    pub id: String,
    pub title: String,
    pub body: String,
    pub tags: String,
}

/// What the agent knows when it answers one customer.
pub struct Context {
    pub repairs: Vec<Repair>,
    pub articles: Vec<Article>,
}

/// One answer: what to say, what it came from, and whether a person should take over.
pub struct Answer {
    pub text: String,
    pub sources: Vec<String>,
    pub escalate: Option<String>,
}

impl Answer {
    fn say(text: impl Into<String>) -> Answer {
        Answer { text: text.into(), sources: Vec::new(), escalate: None }
    }

    fn hand_over(reason: &str) -> Answer {
        Answer {
            text: "I'm not sure about that one, so I've asked a technician to join this conversation. \
                   They will answer here."
                .into(),
            sources: Vec::new(),
            escalate: Some(reason.into()),
        }
    }
}

/// The conversation's customer, workspace and ticket, as the agent needs them.
pub struct Scope<'a> {
    pub workspace: &'a str,
    pub customer: &'a str,
    pub ticket: Option<&'a str>,
}

/// Loads the customer's repairs (the conversation's ticket alone when it has one, else
/// their latest, open ones first) with each one's current quote, and the workspace's
/// knowledge base.
pub async fn context(db: &Db, scope: &Scope<'_>) -> ApiResult<Context> {
    let repairs: Vec<Repair> = db
        .all(
            "SELECT t.number, t.title, t.status, q.status AS quote_status, q.total_cents, q.currency, q.expires_at
               FROM tickets t LEFT JOIN quotes q ON q.id = t.quote_id
              WHERE t.workspace_id = ?1 AND t.customer_id = ?2 AND (?3 IS NULL OR t.id = ?3)
              ORDER BY t.status IN ('PICKED_UP', 'CLOSED', 'VOID'), t.updated_at DESC LIMIT 5",
            &[scope.workspace.into(), scope.customer.into(), opt(scope.ticket)],
        )
        .await?;
    let articles: Vec<Article> = db
        .all(
            "SELECT id, title, body, tags FROM kb_articles WHERE workspace_id = ?1 ORDER BY id LIMIT 200",
            &[scope.workspace.into()],
        )
        .await?;
    Ok(Context { repairs, articles })
}

fn day(rfc3339: &str) -> &str {
    rfc3339.get(..10).unwrap_or(rfc3339)
}

impl Repair {
    fn status_line(&self) -> String {
        format!("Repair #{} ({}) is {}.", self.number, self.title, chat::status_words(&self.status))
    }

    fn quote_line(&self) -> Option<String> {
        let total = noizylab_core::text::money_in(self.total_cents?, self.currency.as_deref().unwrap_or("CAD"));
        let line = match self.quote_status.as_deref()? {
            "issued" => format!(
                "The quote for repair #{} is {total}, valid until {}: approve or decline it on the repair's page.",
                self.number,
                day(self.expires_at.as_deref().unwrap_or(""))
            ),
            "approved" => format!("You approved {total} for repair #{}.", self.number),
            "declined" => format!("You declined the {total} quote for repair #{}; we are looking again.", self.number),
            _ => format!("Repair #{} has an estimate of {total}.", self.number),
        };
        Some(line)
    }
}

impl Context {
    fn docs(&self) -> Vec<Doc<'_>> {
        self.articles.iter().map(|a| Doc { title: &a.title, body: &a.body, tags: &a.tags }).collect()
    }

    /// The articles that best answer `question` (at most `n`), with their scores.
    fn best(&self, question: &str, n: usize) -> Vec<(&Article, f64)> {
        let docs = self.docs();
        chat::rank(question, &docs).into_iter().take(n).map(|(i, s)| (&self.articles[i], s)).collect()
    }
}

/// The built-in answer: no provider, no guessing.
pub fn built_in(intent: Intent, question: &str, ctx: &Context) -> Answer {
    let repairs = &ctx.repairs[..ctx.repairs.len().min(MAX_REPAIRS)];
    match intent {
        Intent::Human => Answer {
            text: "Of course: I've asked a technician to join this conversation. They will answer here.".into(),
            sources: Vec::new(),
            escalate: Some("the customer asked for a person".into()),
        },
        Intent::Status if repairs.is_empty() => Answer::say(
            "I can't find a repair on your account yet. You can book one under My repairs, \
             or say \"technician\" to talk to a person.",
        ),
        Intent::Status => {
            let mut lines: Vec<String> = repairs.iter().map(Repair::status_line).collect();
            lines.extend(repairs.iter().filter(|r| r.status == "AWAITING_APPROVAL").filter_map(Repair::quote_line));
            Answer::say(lines.join(" "))
        }
        Intent::Quote => {
            let lines: Vec<String> = repairs.iter().filter_map(Repair::quote_line).collect();
            if lines.is_empty() {
                let fee = ctx.best("diagnostic fee", 1).into_iter().find(|(_, s)| *s >= CONFIDENT);
                let mut text =
                    String::from("There is no quote on your repairs yet: we send one once diagnostics are done.");
                if let Some((a, _)) = fee {
                    text.push(' ');
                    text.push_str(&a.body);
                }
                return Answer {
                    text,
                    sources: fee.map(|(a, _)| vec![a.id.clone()]).unwrap_or_default(),
                    escalate: None,
                };
            }
            Answer::say(lines.join(" "))
        }
        Intent::Hours => match ctx.best("opening hours open", 1).into_iter().next() {
            Some((a, _)) => Answer { text: a.body.clone(), sources: vec![a.id.clone()], escalate: None },
            None => Answer::hand_over("the knowledge base has no opening hours"),
        },
        Intent::Greeting => Answer::say(
            "Hello! I can tell you where your repair is and what it costs, and answer common questions. \
             Say \"technician\" any time to talk to a person.",
        ),
        Intent::Thanks => Answer::say("You're welcome! Anything else I can help with?"),
        Intent::Question => match ctx.best(question, 1).into_iter().next() {
            Some((a, score)) if score >= CONFIDENT => {
                Answer { text: a.body.clone(), sources: vec![a.id.clone()], escalate: None }
            }
            _ => Answer::hand_over("the assistant was not sure of the answer"),
        },
    }
}

/// Anthropic's Messages API, when `ANTHROPIC_API_KEY` is set: `None` without a key.
pub struct Provider {
    llm: Messages,
}

impl Provider {
    /// The chat agent's settings (`noizylab_core::config`): the provider, if keyed.
    pub fn from_env(env: &Env) -> Option<Provider> {
        Messages::from_env(env).map(|llm| Provider { llm })
    }

    /// The model's answer to the conversation so far (`history`: (is the customer, text),
    /// oldest first, ending with the customer's question), grounded in `ctx`.
    pub async fn answer(&self, question: &str, history: &[(bool, String)], ctx: &Context) -> ApiResult<Answer> {
        let articles = ctx.best(question, 4);
        let mut system = String::from(
            "You are the NoizyLab repair shop's chat assistant, talking to one customer. Answer only from the \
             context below, in at most three short sentences, plainly and kindly. Never invent prices, dates or \
             statuses. If the context does not answer the question, or the customer wants a person, reply with \
             exactly ESCALATE and nothing else.\n\nThe customer's repairs:\n",
        );
        if ctx.repairs.is_empty() {
            system.push_str("- none yet\n");
        }
        for r in &ctx.repairs {
            system.push_str(&format!("- {}", r.status_line()));
            if let Some(q) = r.quote_line() {
                system.push_str(&format!(" {q}"));
            }
            system.push('\n');
        }
        system.push_str("\nThe shop's knowledge base:\n");
        for (a, _) in &articles {
            system.push_str(&format!("- {}: {}\n", a.title, a.body));
        }
        let text = self.llm.complete(&system, Value::Array(turns(history)), 400).await?;
        if text.is_empty() || text.starts_with("ESCALATE") {
            return Ok(Answer::hand_over("the assistant (model) could not answer from the context"));
        }
        let sources = articles.iter().map(|(a, _)| a.id.clone()).collect();
        Ok(Answer { text: text.to_owned(), sources, escalate: None })
    }
}

/// The Messages API's turns: user/assistant alternating, starting with the user; runs of
/// one side are joined.
fn turns(history: &[(bool, String)]) -> Vec<Value> {
    let mut out: Vec<(bool, String)> = Vec::new();
    for (customer, text) in history.iter().skip_while(|(customer, _)| !customer) {
        match out.last_mut() {
            Some((side, joined)) if side == customer => {
                joined.push_str("\n\n");
                joined.push_str(text);
            }
            _ => out.push((*customer, text.clone())),
        }
    }
    out.into_iter()
        .map(|(customer, text)| json!({ "role": if customer { "user" } else { "assistant" }, "content": text }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context {
            repairs: vec![Repair {
                number: 7,
                title: "Fan noise".into(),
                status: "AWAITING_APPROVAL".into(),
                quote_status: Some("issued".into()),
                total_cents: Some(12345),
                currency: Some("CAD".into()),
                expires_at: Some("2026-12-05T10:00:00Z".into()),
            }],
            articles: vec![Article {
                id: "kb-hours".into(),
                title: "Opening hours".into(),
                body: "Open 9 to 6.".into(),
                tags: "hours open".into(),
            }],
        }
    }

    #[test]
    fn status_and_quote_come_from_the_customers_repairs() {
        let a = built_in(Intent::Status, "where is my repair", &ctx());
        assert!(a.text.contains("#7") && a.text.contains("waiting for your approval"), "{}", a.text);
        assert!(a.text.contains("123.45 CAD") && a.text.contains("2026-12-05"), "{}", a.text);
        let q = built_in(Intent::Quote, "how much", &ctx());
        assert!(q.text.contains("123.45 CAD") && q.escalate.is_none(), "{}", q.text);
    }

    #[test]
    fn the_agent_hands_over_what_it_cannot_answer() {
        assert!(built_in(Intent::Question, "do you sell bicycles", &ctx()).escalate.is_some());
        assert!(built_in(Intent::Human, "a person please", &ctx()).escalate.is_some());
        let hours = built_in(Intent::Hours, "when are you open", &ctx());
        assert_eq!((hours.text.as_str(), hours.sources), ("Open 9 to 6.", vec!["kb-hours".to_owned()]));
    }

    #[test]
    fn turns_alternate_and_start_with_the_customer() {
        let history = vec![
            (false, "Hello, I'm the assistant".to_owned()),
            (true, "hi".to_owned()),
            (true, "where is it".to_owned()),
            (false, "In repair.".to_owned()),
            (true, "thanks".to_owned()),
        ];
        let t = turns(&history);
        let roles: Vec<&str> = t.iter().filter_map(|m| m["role"].as_str()).collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
        assert_eq!(t[0]["content"], "hi\n\nwhere is it");
    }
}
