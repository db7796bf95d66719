//! How the Rust futures of every worker are woken: by promise reactions, V8's own, rather
//! than through the runtime's `queueMicrotask`.
//!
//! wasm-bindgen's executor polls woken futures in a microtask. It queues that microtask
//! with the global `queueMicrotask` when there is one, and otherwise with
//! `Promise.prototype.then` on a resolved promise: the same turn of the same queue. In
//! workerd, `queueMicrotask` is a runtime method. Each call wraps its callback in a new
//! runtime function object, which holds a global handle and is later finalised. That
//! happens about six times per request on the device list's path. A promise reaction is
//! a V8 builtin.
//!
//! The executor looks for `queueMicrotask` once, when it first schedules a task. So when
//! the module is instantiated, the global is hidden for that moment and put back as it
//! was. Where it cannot be hidden, nothing changes.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen(start)]
fn wake_futures_by_promise_reactions() {
    let object: js_sys::Object = js_sys::global();
    let global: &JsValue = object.as_ref();
    let name = JsValue::from_str("queueMicrotask");
    let Ok(saved) = js_sys::Reflect::get(global, &name) else {
        return;
    };
    let own = js_sys::Object::get_own_property_descriptor(&object, &name);
    if !matches!(js_sys::Reflect::set(global, &name, &JsValue::UNDEFINED), Ok(true)) {
        return;
    }
    // The executor's first task: it finds no `queueMicrotask`, and keeps to promises.
    worker::wasm_bindgen_futures::spawn_local(async {});
    let _ = if own.is_undefined() {
        js_sys::Reflect::delete_property(&object, &name)
    } else {
        js_sys::Reflect::set(global, &name, &saved)
    };
}
