//! One JSON line per log event, always with the service and the request id, so that
//! `wrangler tail` and Logpush output can be filtered by request.

use serde::Serialize;

#[derive(Serialize)]
struct Line<'a> {
    level: &'a str,
    service: &'a str,
    request_id: &'a str,
    msg: &'a str,
}

fn emit(level: &str, service: &str, request_id: &str, msg: &str) {
    let line = Line { level, service, request_id, msg };
    let text = serde_json::to_string(&line).unwrap_or_else(|_| msg.to_owned());
    if level == "error" {
        worker::console_error!("{text}");
    } else {
        worker::console_log!("{text}");
    }
}

pub fn info(service: &str, request_id: &str, msg: &str) {
    emit("info", service, request_id, msg);
}

pub fn warn(service: &str, request_id: &str, msg: &str) {
    emit("warn", service, request_id, msg);
}

pub fn error(service: &str, request_id: &str, msg: &str) {
    emit("error", service, request_id, msg);
}
