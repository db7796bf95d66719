//! `/api/v1/chat/kb`: the workspace's knowledge base of repair FAQs, which the agent
//! answers from. Everyone in the workspace may read it; admins write it.

use noizylab_core::auth::Scope;
use noizylab_kit::{http, random, time, ApiError, ApiResult, Call, OrInternal};
use serde::{Deserialize, Serialize};
use serde_json::json;
use worker::{Request, Response};

use noizylab_kit::caller::Caller;

#[derive(Serialize, Deserialize)]
struct Article {
    id: String,
    title: String,
    body: String,
    tags: String,
    created_at: String,
    updated_at: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Draft {
    title: String,
    body: String,
    #[serde(default)]
    tags: String,
}

impl Draft {
    fn checked(self) -> ApiResult<Draft> {
        let (title, body, tags) = (self.title.trim().to_owned(), self.body.trim().to_owned(), self.tags.trim());
        if !(1..=200).contains(&title.chars().count()) {
            return Err(ApiError::invalid_field("title", "a title is 1 to 200 characters"));
        }
        if !(1..=4000).contains(&body.chars().count()) {
            return Err(ApiError::invalid_field("body", "a body is 1 to 4000 characters"));
        }
        if tags.chars().count() > 300 {
            return Err(ApiError::invalid_field("tags", "tags are at most 300 characters, space-separated"));
        }
        let tags = tags.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>().join(" ");
        Ok(Draft { title, body, tags })
    }
}

async fn admin(call: &Call, who: &Caller) -> ApiResult<()> {
    if who.has(Scope::Admin) {
        return Ok(());
    }
    let why = "only the workspace's admins edit the knowledge base";
    Err(who.refuse(call, why, json!({ "needs": "admin" })).await)
}

async fn find(call: &Call, who: &Caller, id: &str) -> ApiResult<Article> {
    let a: Option<Article> = call
        .sql()?
        .first(
            "SELECT id, title, body, tags, created_at, updated_at FROM kb_articles WHERE id = ?1 AND workspace_id = ?2",
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?;
    a.ok_or_else(|| ApiError::NotFound("no such article".into()))
}

/// `GET /api/v1/chat/kb`: every article, by title.
pub async fn list(call: &Call, who: &Caller) -> ApiResult<Response> {
    who.require(call, Scope::TicketsRead).await?;
    let articles: Vec<Article> = call
        .sql()?
        .all(
            "SELECT id, title, body, tags, created_at, updated_at FROM kb_articles WHERE workspace_id = ?1
              ORDER BY title LIMIT 500",
            &[who.workspace.as_str().into()],
        )
        .await?;
    http::ok(&json!({ "articles": articles }))
}

/// `POST /api/v1/chat/kb {title, body, tags?}` (admin): 201 with the article.
pub async fn create(mut req: Request, call: &Call, who: &Caller) -> ApiResult<Response> {
    admin(call, who).await?;
    let d = http::read_json::<Draft>(&mut req).await?.checked()?;
    let id = format!("kb-{}", random::id()?);
    let now = time::now_rfc3339();
    call.sql()?
        .run(
            "INSERT INTO kb_articles (id, workspace_id, title, body, tags, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
            &[
                id.as_str().into(),
                who.workspace.as_str().into(),
                d.title.into(),
                d.body.into(),
                d.tags.into(),
                now.into(),
            ],
        )
        .await?;
    http::created(&find(call, who, &id).await?)
}

/// `PUT /api/v1/chat/kb/:id {title, body, tags?}` (admin): the article as it now is.
pub async fn update(mut req: Request, call: &Call, who: &Caller, id: &str) -> ApiResult<Response> {
    admin(call, who).await?;
    let d = http::read_json::<Draft>(&mut req).await?.checked()?;
    let existing = find(call, who, id).await?;
    call.sql()?
        .run(
            "UPDATE kb_articles SET title = ?2, body = ?3, tags = ?4, updated_at = ?5 WHERE id = ?1",
            &[existing.id.as_str().into(), d.title.into(), d.body.into(), d.tags.into(), time::now_rfc3339().into()],
        )
        .await?;
    http::ok(&find(call, who, &existing.id).await?)
}

/// `DELETE /api/v1/chat/kb/:id` (admin): 204.
pub async fn delete(call: &Call, who: &Caller, id: &str) -> ApiResult<Response> {
    admin(call, who).await?;
    let existing = find(call, who, id).await?;
    call.sql()?.run("DELETE FROM kb_articles WHERE id = ?1", &[existing.id.as_str().into()]).await?;
    Response::empty().map(|r| r.with_status(204)).or_internal("response")
}
