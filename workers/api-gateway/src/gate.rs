//! `Gate`: one strongly consistent object per user or API key, to hold the auth epoch and
//! the exact sliding-window rate limit (one call per request). The identity issue fills
//! it in; today it answers its health probe only.

use noizylab_kit::health::{object_ok, OBJECT_HEALTH_PATH};
use worker::{durable_object, DurableObject, Env, Request, Response, State};

#[durable_object]
pub struct Gate {
    _state: State,
}

impl DurableObject for Gate {
    fn new(state: State, _env: Env) -> Self {
        Gate { _state: state }
    }

    async fn fetch(&self, req: Request) -> worker::Result<Response> {
        match req.path().as_str() {
            OBJECT_HEALTH_PATH => object_ok("Gate"),
            _ => Response::error("no such object route", 404),
        }
    }
}
