//! The eBay adapter: an application token by OAuth client credentials
//! (`POST /identity/v1/oauth2/token`), kept in KV until shortly before it expires, and the
//! Buy Browse API's search (`GET /buy/browse/v1/item_summary/search`). A token eBay no
//! longer takes (401) is dropped and fetched again once.

use base64::Engine;
use noizylab_core::deals::{self, Page, Token, WatchInput};
use noizylab_kit::{ApiError, ApiResult, Call, OrInternal};
use worker::{Fetch, Headers, Method, Request, RequestInit, Url};

use crate::config::Config;

pub struct Ebay<'a> {
    cfg: &'a Config,
    id: &'a str,
    secret: &'a str,
}

/// A provider failure: logged with its detail, answered as a 502 that names eBay only.
fn provider(call: &Call, what: &str, detail: String) -> ApiError {
    call.log_warn(&format!("eBay {what}: {detail}"));
    ApiError::BadGateway(format!("eBay {what}: {detail}"))
}

async fn send(url: &str, method: Method, headers: Headers, body: Option<String>) -> Result<(u16, String), String> {
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers);
    if let Some(b) = body {
        init.with_body(Some(b.into()));
    }
    let req = Request::new_with_init(url, &init).map_err(|e| e.to_string())?;
    let mut resp = Fetch::Request(req).send().await.map_err(|e| format!("could not be reached ({e})"))?;
    let text = resp.text().await.map_err(|e| format!("answer unreadable ({e})"))?;
    Ok((resp.status_code(), text))
}

impl<'a> Ebay<'a> {
    /// The adapter, or 503 saying why eBay cannot be searched.
    pub fn new(cfg: &'a Config) -> ApiResult<Ebay<'a>> {
        match &cfg.keys {
            Some((id, secret)) => Ok(Ebay { cfg, id, secret }),
            None => Err(ApiError::Unavailable(cfg.unavailable().unwrap_or("eBay is not configured").into())),
        }
    }

    fn cache_key(&self) -> String {
        format!("ebay:token:{}:{}", self.cfg.base, self.id)
    }

    async fn token(&self, call: &Call, fresh: bool) -> ApiResult<String> {
        let kv = call.cache()?;
        if !fresh {
            if let Some(t) = kv.get(&self.cache_key()).text().await.or_internal("token cache")? {
                return Ok(t);
            }
        }
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.id, self.secret));
        let headers = Headers::new();
        headers.set("authorization", &format!("Basic {basic}")).or_internal("header")?;
        headers.set("content-type", "application/x-www-form-urlencoded").or_internal("header")?;
        let body = Url::parse_with_params(
            "https://form.invalid/",
            &[("grant_type", "client_credentials"), ("scope", deals::OAUTH_SCOPE)],
        )
        .or_internal("token form")?
        .query()
        .unwrap_or_default()
        .to_owned();
        let url = format!("{}/identity/v1/oauth2/token", self.cfg.base);
        let (status, text) =
            send(&url, Method::Post, headers, Some(body)).await.map_err(|e| provider(call, "token", e))?;
        if status != 200 {
            return Err(provider(call, "token", format!("answered {status}: {}", oauth_error(&text))));
        }
        let token: Token =
            serde_json::from_str(&text).map_err(|e| provider(call, "token", format!("unreadable answer: {e}")))?;
        kv.put(&self.cache_key(), token.access_token.as_str())
            .or_internal("token cache")?
            .expiration_ttl(deals::token_ttl(&token))
            .execute()
            .await
            .or_internal("token cache")?;
        Ok(token.access_token)
    }

    /// The listings eBay has for `w` now.
    pub async fn search(&self, call: &Call, w: &WatchInput) -> ApiResult<Page> {
        let url = Url::parse_with_params(
            &format!("{}/buy/browse/v1/item_summary/search", self.cfg.base),
            deals::search_query(w).iter().map(|(k, v)| (*k, v.as_str())),
        )
        .map_err(|e| ApiError::internal(format!("search url: {e}")))?;
        let mut fresh = false;
        loop {
            let token = self.token(call, fresh).await?;
            let headers = Headers::new();
            headers.set("authorization", &format!("Bearer {token}")).or_internal("header")?;
            headers.set("x-ebay-c-marketplace-id", &self.cfg.marketplace).or_internal("header")?;
            // Shipping costs as they are to the shop.
            let place = format!("contextualLocation=country%3D{}", self.cfg.country);
            headers.set("x-ebay-c-enduserctx", &place).or_internal("header")?;
            headers.set("accept", "application/json").or_internal("header")?;
            let (status, text) =
                send(url.as_str(), Method::Get, headers, None).await.map_err(|e| provider(call, "search", e))?;
            match status {
                200 => {
                    return deals::read_search(&text).map_err(|e| provider(call, "search", e));
                }
                401 if !fresh => {
                    // Revoked or expired early: forget it and ask for another, once.
                    call.cache()?.delete(&self.cache_key()).await.or_internal("token cache")?;
                    fresh = true;
                }
                s => return Err(provider(call, "search", format!("answered {s}: {}", deals::error_text(&text)))),
            }
        }
    }
}

/// OAuth's error body: `{"error":"invalid_client","error_description":"…"}`.
fn oauth_error(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    match (v["error"].as_str(), v["error_description"].as_str()) {
        (Some(e), Some(d)) => format!("{e}: {d}"),
        (Some(e), None) => e.to_owned(),
        _ => "no error body".to_owned(),
    }
}
