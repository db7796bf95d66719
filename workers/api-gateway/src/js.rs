//! The gateway's work on headers, one call into the runtime each, instead of one call
//! per header.
//!
//! Every call from wasm into the runtime goes through wasm-bindgen's glue: each string
//! argument is decoded from wasm memory into a new JS string, each string result encoded
//! back, before the runtime's own method is even reached. The gateway made some twenty
//! such calls on headers per request (reading eight request headers, copying the
//! request's headers, deleting eleven, setting three); in a CPU profile of its isolate
//! the glue of `Headers.get`, `delete` and `set` was among the largest items. Here the loops run in JS, where the
//! header names are constants and each call into the runtime is a plain method call.

use wasm_bindgen::prelude::wasm_bindgen;
use worker::{js_sys, web_sys};

#[wasm_bindgen(inline_js = r#"
export function readHeaders(headers, names) {
  let out = "";
  for (let i = 0; i < names.length; i++) {
    const value = headers.get(names[i]);
    out += (i === 0 ? "" : "\n") + (value === null ? "\0" : value);
  }
  return out;
}

export function forwardHeaders(incoming, drop, set) {
  const headers = new Headers(incoming);
  for (let i = 0; i < drop.length; i++) headers.delete(drop[i]);
  const pairs = set.split("\n");
  for (let i = 0; i + 1 < pairs.length; i += 2) headers.set(pairs[i], pairs[i + 1]);
  return headers;
}

"#)]
extern "C" {
    #[wasm_bindgen(js_name = readHeaders)]
    fn read_headers_js(headers: &web_sys::Headers, names: &js_sys::Array) -> String;
    #[wasm_bindgen(js_name = forwardHeaders)]
    fn forward_headers_js(incoming: &web_sys::Headers, without: &js_sys::Array, set: &str) -> web_sys::Headers;
}

fn array(names: &[&str]) -> js_sys::Array {
    names.iter().map(|n| wasm_bindgen::JsValue::from_str(n)).collect()
}

/// A list of names, and the same as a JS array, made on first use and kept (in a
/// `thread_local!`: per isolate).
pub struct Names {
    names: &'static [&'static str],
    array: std::cell::OnceCell<js_sys::Array>,
}

impl Names {
    pub const fn new(names: &'static [&'static str]) -> Names {
        Names { names, array: std::cell::OnceCell::new() }
    }

    pub fn names(&self) -> &'static [&'static str] {
        self.names
    }

    fn array(&self) -> &js_sys::Array {
        self.array.get_or_init(|| array(self.names))
    }
}

/// The values of `names` in `headers`, in order (`None` for one not present). A header
/// value never holds a line feed or a NUL (the runtime refuses both), which is what
/// separates the values and marks a missing one on their way across.
pub fn read_headers(headers: &web_sys::Headers, names: &Names) -> Vec<Option<String>> {
    let joined = read_headers_js(headers, names.array());
    let values: Vec<Option<String>> =
        joined.split('\n').map(|v| if v == "\0" { None } else { Some(v.to_owned()) }).collect();
    if values.len() == names.names().len() {
        values
    } else {
        // Cannot happen for values the runtime accepted; read one by one all the same.
        names.names().iter().map(|n| headers.get(n).ok().flatten()).collect()
    }
}

/// A copy of `incoming` without the `drop` headers and with `set` set (name, value; no
/// line feed in either, as in any header).
pub fn forward_headers(incoming: &web_sys::Headers, drop: &Names, set: &[(&str, &str)]) -> web_sys::Headers {
    let mut pairs = String::new();
    for (i, (name, value)) in set.iter().enumerate() {
        if i > 0 {
            pairs.push('\n');
        }
        pairs.push_str(name);
        pairs.push('\n');
        pairs.push_str(value);
    }
    forward_headers_js(incoming, drop.array(), &pairs)
}
