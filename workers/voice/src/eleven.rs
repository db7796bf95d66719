//! ElevenLabs' text-to-speech API in its own wire format, at a configurable base URL:
//! `POST {base}/v1/text-to-speech/{voice_id}/stream?output_format=…` with the key in
//! `xi-api-key` and the body `{text, model_id, voice_settings, language_code?}`; the audio
//! comes back as it is made (chunked). Tests aim `ELEVENLABS_BASE_URL` at a stand-in.

use noizylab_core::config as names;
use noizylab_core::voice::Profile;
use noizylab_kit::config::{secret, var_or};
use noizylab_kit::{ApiError, ApiResult, OrInternal};
use worker::{Env, Fetch, Headers, Method, Request, RequestInit, Response};

pub struct Provider {
    base: String,
    key: String,
}

impl Provider {
    /// The provider, or 503 naming what is missing.
    pub fn from_env(env: &Env) -> ApiResult<Provider> {
        let key = secret(env, names::ELEVENLABS_API_KEY).ok_or_else(|| {
            ApiError::Unavailable(
                "text-to-speech is not configured: the ELEVENLABS_API_KEY secret of noizylab-voice is not set".into(),
            )
        })?;
        let base =
            var_or(env, names::ELEVENLABS_BASE_URL, "https://api.elevenlabs.io").trim_end_matches('/').to_owned();
        Ok(Provider { base, key })
    }

    /// Starts speaking `text` with `profile`: the provider's answer, its audio still
    /// arriving. A refusal is a 502 with the provider's words logged (never shown).
    pub async fn stream(&self, profile: &Profile, text: &str) -> ApiResult<Response> {
        let headers = Headers::new();
        headers.set("content-type", "application/json").or_internal("header")?;
        headers.set("accept", "audio/mpeg").or_internal("header")?;
        headers.set("xi-api-key", &self.key).or_internal("header")?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_headers(headers).with_body(Some(profile.request(text).to_string().into()));
        let url = format!(
            "{}/v1/text-to-speech/{}/stream?output_format={}",
            self.base, profile.voice_id, profile.output_format
        );
        let req = Request::new_with_init(&url, &init).or_internal("elevenlabs request")?;
        let mut resp =
            Fetch::Request(req).send().await.map_err(|e| ApiError::BadGateway(format!("elevenlabs: {e}")))?;
        match resp.status_code() {
            200 => Ok(resp),
            429 => Err(ApiError::Unavailable("the text-to-speech provider is busy: try again in a moment".into())),
            s => {
                let why = resp.text().await.unwrap_or_default();
                let why: String = why.chars().take(300).collect();
                Err(ApiError::BadGateway(format!("elevenlabs answered {s}: {why}")))
            }
        }
    }
}
