//! The request as it came in, read through the runtime's own object.
//!
//! `worker::Request` reads the request's `cf` properties as it is made, on every request;
//! the runtime builds that object on demand, and building it was 12 % of the gateway's
//! time in a CPU profile, for properties the gateway never looks at. The gateway reads
//! the method, path and headers it needs itself, and makes a `worker::Request` only for
//! the few routes that want one (health, a chunked body).

use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{web_sys, Headers, Method, Request};

use crate::js::{self, Names};

thread_local! {
    /// Every request header the gateway reads, read at once (`js::read_headers`).
    static READ: Names = const {
        Names::new(&[
            noizylab_core::request_id::HEADER,
            "origin",
            "content-length",
            "transfer-encoding",
            "upgrade",
            "x-api-key",
            "authorization",
            "cf-connecting-ip",
        ])
    };
}

pub struct Incoming {
    raw: web_sys::Request,
    method: Method,
    url: String,
    headers: Headers,
    /// The values of [`READ`]'s names, in its order.
    read: Vec<Option<String>>,
}

impl Incoming {
    pub fn new(raw: web_sys::Request) -> Incoming {
        let method = Method::from(raw.method());
        let url = raw.url();
        let headers = Headers(raw.headers());
        let read = READ.with(|names| js::read_headers(&headers.0, names));
        Incoming { raw, method, url, headers, read }
    }

    pub fn method(&self) -> Method {
        self.method.clone()
    }

    /// The path, as the runtime serialised it (not parsed again).
    pub fn path(&self) -> &str {
        path_of(&self.url)
    }

    /// The query string without its `?`; empty if there is none.
    pub fn query(&self) -> &str {
        self.url.split_once('?').map_or("", |(_, q)| q.split('#').next().unwrap_or_default())
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// A request header's value; the ones the gateway reads on every request were read at
    /// once when the request came in.
    pub fn header(&self, name: &str) -> Option<String> {
        let known = READ.with(|names| names.names().iter().position(|n| *n == name));
        match known {
            Some(i) => self.read.get(i).cloned().flatten(),
            None => self.headers.get(name).ok().flatten(),
        }
    }

    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    pub fn raw(&self) -> &web_sys::Request {
        &self.raw
    }

    /// The same request as a `worker::Request` (its `cf` read), for the routes that want one.
    pub fn to_request(&self) -> Request {
        // A second handle on the same object (`web_sys::Request::clone` would be the JS
        // method that copies the request and tees its body).
        let handle: &JsValue = self.raw.as_ref();
        Request::from(handle.clone().unchecked_into::<web_sys::Request>())
    }
}

/// The path of a serialised URL: a special scheme's serialisation always has one, starting
/// at the first `/` after the host, and `?` and `#` within it are always percent-encoded.
fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[after_scheme..];
    let Some(start) = rest.find('/') else {
        return "/";
    };
    let path = &rest[start..];
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn the_path_is_read_from_the_serialised_url() {
        assert_eq!(path_of("https://api.example/api/v1/devices?limit=2"), "/api/v1/devices");
        assert_eq!(path_of("http://127.0.0.1:8787/"), "/");
        assert_eq!(path_of("https://h/a%3Fb/c#frag"), "/a%3Fb/c");
        assert_eq!(path_of("https://h"), "/");
        assert_eq!(path_of("https://h/p?q=/x"), "/p");
    }
}
