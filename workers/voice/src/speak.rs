//! Speech: `POST /api/v1/voice/speak` (staff with `ai:voice`: any text, a profile or the
//! workspace's default) and `GET /api/v1/voice/tickets/:id/status` (a customer with voice
//! mode on, or staff: the repair's status in words). Audio is cached in R2 under a hash of
//! everything that changes it; a miss streams the provider's audio to the caller as it
//! arrives and keeps a copy, so the same words again are served from R2 without the
//! provider.

use futures_util::stream::{self, StreamExt};
use noizylab_core::auth::{Role, Scope};
use noizylab_core::voice::{self, Profile};
use noizylab_kit::caller::Caller;
use noizylab_kit::{http, ApiError, ApiResult, Call, OrInternal};
use serde::Deserialize;
use worker::{Bucket, ByteStream, Headers, Request, Response};

use crate::eleven::Provider;
use crate::profiles;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Speak {
    text: String,
    #[serde(default)]
    profile_id: Option<String>,
}

/// The profile to speak with: the one named, else the workspace's default, else the
/// built-in voice.
async fn profile(call: &Call, workspace: &str, id: Option<&str>) -> ApiResult<Profile> {
    match (id, profiles::find(call, workspace, id).await?) {
        (_, Some(row)) => Ok(row.profile()),
        (Some(id), None) => Err(ApiError::invalid_field("profile_id", format!("no voice profile {id}"))),
        (None, None) => Ok(Profile::builtin()),
    }
}

/// `POST /api/v1/voice/speak {text, profile_id?}`: audio/mpeg.
pub async fn speak(mut req: Request, call: &Call) -> ApiResult<Response> {
    let who = Caller::staff_with(call, Scope::AiVoice).await?;
    let body: Speak = http::read_json(&mut req).await?;
    let text = voice::checked_text(&body.text).map_err(|e| ApiError::invalid_field(&e.field, e.message))?;
    let p = profile(call, &who.workspace, body.profile_id.as_deref()).await?;
    audio(call, &p, text).await
}

#[derive(Deserialize)]
struct TicketFacts {
    number: i64,
    title: String,
    status: String,
    customer_id: String,
}

#[derive(Deserialize)]
struct Prefs {
    preferences: String,
}

/// `GET /api/v1/voice/tickets/:id/status`: the repair's status read aloud — for its
/// customer when their `voice_mode` preference is on (409 saying how to turn it on
/// otherwise), and for staff. Anyone else is answered 404.
pub async fn ticket_status(call: &Call, id: &str) -> ApiResult<Response> {
    let who = Caller::of(call)?;
    who.require(call, Scope::TicketsRead).await?;
    let found: Option<TicketFacts> = call
        .sql()?
        .first(
            "SELECT number, title, status, customer_id FROM tickets WHERE id = ?1 AND workspace_id = ?2",
            &[id.into(), who.workspace.as_str().into()],
        )
        .await?;
    let staff = who.role.is_some_and(Role::is_staff);
    let t = found
        .filter(|t| staff || t.customer_id == who.id)
        .ok_or_else(|| ApiError::not_found(format!("ticket {id}")))?;
    if !staff {
        let prefs: Option<Prefs> =
            call.sql()?.first("SELECT preferences FROM users WHERE id = ?1", &[who.id.as_str().into()]).await?;
        let on = prefs
            .and_then(|p| serde_json::from_str::<serde_json::Value>(&p.preferences).ok())
            .is_some_and(|p| p["voice_mode"] == true);
        if !on {
            return Err(ApiError::Conflict(
                "voice mode is off: turn it on in your account (PUT /api/v1/users/preferences {\"voice_mode\": true})"
                    .into(),
            ));
        }
    }
    let p = profile(call, &who.workspace, None).await?;
    audio(call, &p, &voice::status_sentence(t.number, &t.title, &t.status)).await
}

fn audio_headers(cache: &str, length: Option<u64>) -> ApiResult<Headers> {
    let headers = Headers::new();
    headers.set("content-type", "audio/mpeg").or_internal("header")?;
    headers.set("cache-control", "private, max-age=86400").or_internal("header")?;
    headers.set("x-noizylab-cache", cache).or_internal("header")?;
    if let Some(n) = length {
        headers.set("content-length", &n.to_string()).or_internal("header")?;
    }
    Ok(headers)
}

/// The audio of `text` spoken with `p`: from R2 if it was made before, else streamed from
/// the provider and kept.
async fn audio(call: &Call, p: &Profile, text: &str) -> ApiResult<Response> {
    let key = p.cache_key(text);
    let bucket = call.uploads()?;
    if let Some(object) = bucket.get(&key).execute().await.or_internal("r2 get")? {
        let size = object.size();
        let body = object.body().ok_or_else(|| ApiError::internal("cached audio has no body"))?;
        let bytes = body.bytes().await.or_internal("r2 body")?;
        let resp = Response::from_bytes(bytes).or_internal("response")?;
        return Ok(resp.with_headers(audio_headers("hit", Some(size))?));
    }
    let provider = Provider::from_env(&call.env)?;
    let mut upstream = provider.stream(p, text).await?;
    let chunks = upstream.stream().or_internal("provider body")?;
    let resp = Response::from_stream(tee_to_r2(chunks, bucket, key)).or_internal("response")?;
    Ok(resp.with_headers(audio_headers("miss", None)?))
}

/// The provider's audio passed on chunk by chunk as it arrives; when it has all arrived,
/// the whole is put in R2 before the stream ends (so the next request finds it). A stream
/// that breaks keeps nothing.
fn tee_to_r2(
    chunks: ByteStream,
    bucket: Bucket,
    key: String,
) -> impl futures_util::Stream<Item = worker::Result<Vec<u8>>> {
    struct State {
        chunks: ByteStream,
        bucket: Bucket,
        key: String,
        kept: Vec<u8>,
        done: bool,
    }
    let start = State { chunks, bucket, key, kept: Vec::new(), done: false };
    stream::unfold(start, |mut s| async move {
        if s.done {
            return None;
        }
        match s.chunks.next().await {
            Some(Ok(chunk)) => {
                s.kept.extend_from_slice(&chunk);
                Some((Ok(chunk), s))
            }
            Some(Err(e)) => {
                s.done = true;
                Some((Err(e), s))
            }
            None => {
                s.done = true;
                if !s.kept.is_empty() {
                    let bytes = std::mem::take(&mut s.kept);
                    if let Err(e) = s.bucket.put(&s.key, bytes).execute().await {
                        worker::console_error!("voice: keeping {} failed: {e}", s.key);
                    }
                }
                None
            }
        }
    })
}
