//! The portal's pages: server-rendered HTML shells (layout, navigation, forms with labels)
//! that `assets/app.js` fills from the API. Same origin as the API, so the strict CSP
//! below holds: no inline script or style, nothing from elsewhere.

use noizylab_core::text::escape_html as esc;
use noizylab_kit::{ApiError, ApiResult, OrInternal};
use worker::{Headers, Response};

const CSS: &str = include_str!("../assets/app.css");
const JS: &str = include_str!("../assets/app.js");
const WORKFLOWS_JS: &str = include_str!("../assets/workflows.js");
const ANALYTICS_JS: &str = include_str!("../assets/analytics.js");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; media-src blob:; \
                   form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// A static asset with its type, cached briefly (the files change with each deploy).
pub fn asset(name: &str) -> ApiResult<Response> {
    let (body, kind) = match name {
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "app.js" => (JS, "text/javascript; charset=utf-8"),
        "workflows.js" => (WORKFLOWS_JS, "text/javascript; charset=utf-8"),
        "analytics.js" => (ANALYTICS_JS, "text/javascript; charset=utf-8"),
        _ => return Err(ApiError::not_found(format!("asset {name}"))),
    };
    let headers = Headers::new();
    headers.set("content-type", kind).or_internal("header")?;
    headers.set("cache-control", "public, max-age=300").or_internal("header")?;
    headers.set("x-content-type-options", "nosniff").or_internal("header")?;
    Ok(Response::ok(body).or_internal("response")?.with_headers(headers))
}

const NAV: [(&str, &str, &str); 8] = [
    ("tickets", "/portal/tickets", "My repairs"),
    ("devices", "/portal/devices", "My devices"),
    ("chat", "/portal/chat", "Help"),
    ("loyalty", "/portal/loyalty", "Rewards"),
    ("account", "/portal/account", "Account"),
    ("workbench", "/portal/workbench", "Workbench"),
    ("workflows", "/portal/workflows", "Automation"),
    ("analytics", "/portal/analytics", "Numbers"),
];

fn page(id: &str, title: &str, data: &str, body: &str) -> ApiResult<Response> {
    page_with(id, title, data, body, CSP, "")
}

/// The guide viewer's needs beyond [`CSP`]: `<model-viewer>` (served from here) compiles
/// its WebAssembly decoders (`wasm-unsafe-eval`, which allows no `eval`), styles its shadow
/// DOM inline, and shows the model from a `blob:` URL made of the authenticated download.
const VIEWER_CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; \
                          connect-src 'self' blob:; img-src 'self' data: blob:; worker-src blob:; \
                          form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn page_with(id: &str, title: &str, data: &str, body: &str, csp: &str, head: &str) -> ApiResult<Response> {
    let nav: String = if id == "signin" {
        String::new()
    } else {
        let links: String = NAV
            .iter()
            .map(|(key, href, text)| {
                let current =
                    if *key == id || (id == "ticket" && *key == "tickets") { " aria-current=\"page\"" } else { "" };
                format!("<a href=\"{href}\"{current}>{text}</a>")
            })
            .collect();
        format!("<nav aria-label=\"Main\" class=\"bar-links\">{links}</nav><button type=\"button\" id=\"sign-out\" class=\"secondary\">Sign out</button>")
    };
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · NoizyLab</title><link rel=\"stylesheet\" href=\"/portal/assets/app.css\">\
         <script src=\"/portal/assets/app.js\" defer></script>{head}</head>\
         <body data-page=\"{id}\"{data}><a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header><div class=\"bar\"><a class=\"brand\" href=\"/portal/tickets\">NoizyLab</a>{nav}</div></header>\
         <main id=\"main\"><div id=\"notice\" class=\"notice\" role=\"status\" tabindex=\"-1\" hidden></div>{body}</main>\
         <footer><a href=\"/docs\" id=\"api-reference\" hidden>API reference</a></footer>\
         </body></html>",
        title = esc(title),
    );
    let headers = Headers::new();
    headers.set("content-type", "text/html; charset=utf-8").or_internal("header")?;
    headers.set("content-security-policy", csp).or_internal("header")?;
    headers.set("x-content-type-options", "nosniff").or_internal("header")?;
    headers.set("referrer-policy", "no-referrer").or_internal("header")?;
    headers.set("cache-control", "no-store").or_internal("header")?;
    Ok(Response::ok(html).or_internal("response")?.with_headers(headers))
}

pub fn sign_in() -> ApiResult<Response> {
    page(
        "signin",
        "Sign in",
        "",
        "<h1>Sign in</h1><div class=\"card\">\
         <p>No password needed: we email you a link and a 6-digit code.</p>\
         <form id=\"email-form\"><label for=\"email\">Email</label>\
         <input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"email\" required>\
         <button type=\"submit\">Email me a link</button></form>\
         <form id=\"code-form\" hidden><input type=\"hidden\" name=\"email\"><input type=\"hidden\" name=\"challenge\">\
         <label for=\"code\">6-digit code</label>\
         <input id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9]{6}\" maxlength=\"6\" required>\
         <button type=\"submit\">Sign in</button></form></div>",
    )
}

pub fn devices() -> ApiResult<Response> {
    page(
        "devices",
        "My devices",
        "",
        "<h1>My devices</h1><div class=\"card\"><ul id=\"devices\" class=\"list\" aria-live=\"polite\"></ul></div>\
         <h2>Register a device</h2><form id=\"device-form\" class=\"card\">\
         <label for=\"d-name\">Name</label><input id=\"d-name\" name=\"name\" required maxlength=\"100\" placeholder=\"My laptop\">\
         <label for=\"d-type\">Type</label><select id=\"d-type\" name=\"type\" required>\
         <option value=\"laptop\">Laptop</option><option value=\"desktop\">Desktop</option><option value=\"phone\">Phone</option>\
         <option value=\"tablet\">Tablet</option><option value=\"console\">Console</option><option value=\"audio\">Audio</option>\
         <option value=\"wearable\">Wearable</option><option value=\"other\">Other</option></select>\
         <label for=\"d-make\">Make</label><input id=\"d-make\" name=\"make\" maxlength=\"60\">\
         <label for=\"d-model\">Model</label><input id=\"d-model\" name=\"model\" maxlength=\"100\">\
         <label for=\"d-serial\">Serial number</label><input id=\"d-serial\" name=\"serial\" maxlength=\"64\">\
         <button type=\"submit\">Register</button></form>",
    )
}

pub fn tickets() -> ApiResult<Response> {
    page(
        "tickets",
        "My repairs",
        "",
        "<h1>My repairs</h1><div class=\"card\"><ul id=\"tickets\" class=\"list\"></ul></div>\
         <h2>Request a repair</h2><form id=\"ticket-form\" class=\"card\">\
         <label for=\"t-title\">What is wrong?</label><input id=\"t-title\" name=\"title\" required maxlength=\"120\">\
         <label for=\"t-desc\">Details</label><textarea id=\"t-desc\" name=\"description\" maxlength=\"5000\"></textarea>\
         <label for=\"ticket-device\">Device</label><select id=\"ticket-device\" name=\"device_id\"><option value=\"\">Not listed</option></select>\
         <button type=\"submit\">Request repair</button></form>",
    )
}

/// The ticket page; `id` is checked by the caller to be a plain ticket id.
pub fn ticket(id: &str) -> ApiResult<Response> {
    page(
        "ticket",
        "Repair",
        &format!(" data-ticket=\"{}\"", esc(id)),
        &format!(
            "<h1 id=\"title\">Repair</h1>\
         <div class=\"card\"><p>Status: <span id=\"status\" class=\"status\">…</span></p>\
         <p id=\"description\" class=\"muted\"></p><p id=\"live\" class=\"muted\" aria-live=\"polite\"></p>\
         <audio id=\"voice\" controls hidden aria-label=\"The status, read aloud\"></audio></div>\
         <h2>Quote</h2><div id=\"quote\" class=\"card\"></div>\
         <h2>Timeline</h2><div class=\"card\"><ol id=\"timeline\" class=\"timeline\"></ol></div>\
         <p><a id=\"chat-link\" href=\"/portal/chat?ticket={id}\">Questions? Chat about this repair</a></p>\
         <h2>Message the shop</h2><form id=\"message-form\" class=\"card\">\
         <label for=\"m-body\">Message</label><textarea id=\"m-body\" name=\"body\" required maxlength=\"5000\"></textarea>\
         <button type=\"submit\">Send</button></form>",
            id = esc(id)
        ),
    )
}

/// The chat: the assistant answers, a technician joins when needed (`?ticket=` for one
/// repair).
pub fn chat() -> ApiResult<Response> {
    page(
        "chat",
        "Help",
        "",
        "<h1>Ask us</h1><p id=\"chat-about\" class=\"muted\">Our assistant answers at once; a technician joins \
         when it can't help.</p><div class=\"card\"><ol id=\"chat-log\" class=\"chat\" aria-live=\"polite\"></ol>\
         <p id=\"chat-typing\" class=\"muted\" aria-live=\"polite\"></p>\
         <form id=\"chat-form\"><label for=\"c-text\">Your message</label>\
         <textarea id=\"c-text\" name=\"text\" required maxlength=\"4000\"></textarea>\
         <button type=\"submit\">Send</button> <button type=\"button\" id=\"escalate\" class=\"secondary\">Talk to a person</button>\
         </form></div>",
    )
}

pub fn loyalty() -> ApiResult<Response> {
    page(
        "loyalty",
        "Rewards",
        "",
        "<h1>Rewards</h1><div class=\"card\"><p><strong id=\"points\">0</strong> points · tier <strong id=\"tier\">bronze</strong></p>\
         <p id=\"next\" class=\"muted\"></p><p class=\"muted\">One point per dollar paid. Silver takes 5 % off labour, \
         gold 10 %, platinum 15 %.</p></div><h2>History</h2><div class=\"card\"><ul id=\"history\" class=\"list\"></ul></div>",
    )
}

pub fn account() -> ApiResult<Response> {
    page(
        "account",
        "Account",
        "",
        "<h1>Account</h1><p class=\"muted\">Signed in as <span id=\"email\"></span></p>\
         <form id=\"profile-form\" class=\"card\"><label for=\"a-name\">Name</label>\
         <input id=\"a-name\" name=\"name\" maxlength=\"100\" required><button type=\"submit\">Save</button></form>\
         <h2>Notifications</h2><form id=\"prefs-form\" class=\"card\">\
         <label><input type=\"checkbox\" name=\"email\"> Email</label><label><input type=\"checkbox\" name=\"sms\"> Text messages</label>\
         <label><input type=\"checkbox\" name=\"push\"> Push notifications</label>\
         <label for=\"a-tz\">Time zone</label><input id=\"a-tz\" name=\"timezone\" placeholder=\"America/Toronto\">\
         <button type=\"submit\">Save preferences</button></form>\
         <h2>Your data</h2><div class=\"card\"><p>Download everything we hold about you as JSON.</p>\
         <button type=\"button\" id=\"export\" class=\"secondary\">Download my data</button></div>\
         <form id=\"delete-form\" class=\"card\"><h2>Delete my account</h2><p>This erases your name, email and devices and \
         signs you out everywhere. Type your email to confirm.</p><label for=\"a-confirm\">Email</label>\
         <input id=\"a-confirm\" name=\"confirm\" type=\"email\" required><button type=\"submit\" class=\"danger\">Delete my account</button></form>",
    )
}

/// The technician's workbench: the workflow tasks waiting for them, the board, the parts
/// deals the eBay watches found (asked for, approved by a manager), and the live room of
/// the ticket in hand with its quality-control inspection when it is in QC.
pub fn workbench() -> ApiResult<Response> {
    page(
        "workbench",
        "Workbench",
        "",
        "<h1>Workbench</h1><div class=\"bench\"><section aria-labelledby=\"board-h\">\
         <h2 id=\"tasks-h\">My tasks</h2><ul id=\"tasks\" class=\"list card\" aria-live=\"polite\"></ul>\
         <h2 id=\"chats-h\">Chats waiting for a person</h2><ul id=\"chats\" class=\"list card\" aria-live=\"polite\"></ul>\
         <h2 id=\"board-h\">Board</h2>\
         <div id=\"board\" class=\"board\"></div>\
         <h2 id=\"deals-h\">Parts deals</h2><div id=\"deals\" class=\"card\" aria-live=\"polite\"></div></section>\
         <section aria-labelledby=\"room-h\" class=\"card\"><h2 id=\"room-h\">Room: <span id=\"room-title\">pick a ticket</span></h2>\
         <p class=\"muted\">Here: <span id=\"presence\"></span> <span id=\"typing\" aria-live=\"polite\"></span></p>\
         <div id=\"moves\"></div><p id=\"guides\" class=\"muted\"></p>\
         <section id=\"qc\" aria-labelledby=\"qc-h\" hidden><h3 id=\"qc-h\">Quality control</h3><div id=\"qc-body\"></div></section>\
         <section id=\"voice-notes\" aria-labelledby=\"vn-h\" hidden><h3 id=\"vn-h\">Voice notes</h3>\
         <ul id=\"vn-list\" class=\"list\"></ul>\
         <button type=\"button\" id=\"vn-record\" class=\"secondary\">Record a voice note</button> \
         <label for=\"vn-file\">or upload one</label> <input type=\"file\" id=\"vn-file\" accept=\"audio/*\"></section>\
         <ol id=\"feed\" class=\"timeline\" aria-live=\"polite\"></ol>\
         <form id=\"note-form\" hidden><label for=\"w-text\">Write</label><textarea id=\"w-text\" name=\"text\" required maxlength=\"4000\"></textarea>\
         <label><input type=\"checkbox\" name=\"customer\"> Visible to the customer</label>\
         <button type=\"submit\">Send</button></form></section></div>",
    )
}

pub fn paid() -> ApiResult<Response> {
    page(
        "paid",
        "Payment received",
        "",
        "<h1>Thank you</h1><div class=\"card\"><p>Your payment is being confirmed; your repair page shows it as paid \
         within moments.</p><p><a href=\"/portal/tickets\">Back to my repairs</a></p></div>",
    )
}

/// A repair guide in the workbench: the model with the step's part marked, the steps, and
/// the guide's live annotation room for the ticket (`?ticket=`); `id` is checked by the
/// caller to be a plain id.
pub fn guide(id: &str) -> ApiResult<Response> {
    page_with(
        "guide",
        "Repair guide",
        &format!(" data-guide=\"{}\"", esc(id)),
        "<h1 id=\"guide-title\">Repair guide</h1><div class=\"guide\">\
         <section aria-labelledby=\"model-h\" class=\"card\"><h2 id=\"model-h\">Model</h2>\
         <div id=\"stage\" class=\"stage\"><model-viewer id=\"viewer\" camera-controls interaction-prompt=\"none\" \
         shadow-intensity=\"0.6\" alt=\"The device's 3D model\"></model-viewer><svg id=\"arrows\" class=\"arrows\" aria-hidden=\"true\"></svg></div>\
         <p class=\"muted\">Click the model to drop a marker everyone in the room sees. <span id=\"room-state\" aria-live=\"polite\"></span></p>\
         <form id=\"note-mark\"><label for=\"mark-text\">Marker note</label>\
         <input id=\"mark-text\" name=\"text\" maxlength=\"500\" placeholder=\"bulged top\"></form>\
         <button type=\"button\" id=\"mark-part\" class=\"secondary\">Mark this step's part for everyone</button></section>\
         <section aria-labelledby=\"step-h\" class=\"card\"><h2 id=\"step-h\">Step <span id=\"step-n\">1</span> of <span id=\"step-count\">…</span></h2>\
         <h3 id=\"step-title\"></h3><p id=\"step-text\"></p><ul id=\"step-facts\" class=\"facts\"></ul>\
         <div class=\"step-nav\"><button type=\"button\" id=\"prev\" class=\"secondary\">Previous</button>\
         <button type=\"button\" id=\"next\">Next step</button></div>\
         <h2>Annotations</h2><ol id=\"annotations\" class=\"list\" aria-live=\"polite\"></ol></section></div>",
        VIEWER_CSP,
        "<script type=\"module\" src=\"/portal/viewer/model-viewer.min.js\"></script>",
    )
}

/// The builder's needs beyond [`CSP`]: the graph library (served from here) sizes and
/// places its canvases with inline styles. Scripts stay this site's only.
const BUILDER_CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; \
                           img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The workflow builder (staff who manage workflows): the workspace's workflows, the one
/// in hand drawn as a graph (Cytoscape.js, from npm, served from here), its steps edited
/// through forms and saved as a new version, and its runs shown live on the graph; the
/// workspace's webhook endpoints with their delivery logs and a button to send again.
pub fn workflows() -> ApiResult<Response> {
    page_with(
        "workflows",
        "Automation",
        "",
        "<h1>Automation</h1><div class=\"builder\">\
         <section class=\"card\" aria-labelledby=\"wf-h\"><h2 id=\"wf-h\">Workflows</h2>\
         <ul id=\"wf-list\" class=\"list\"></ul></section>\
         <section class=\"card\" aria-labelledby=\"wf-name\"><h2><span id=\"wf-name\">Pick a workflow</span> \
         <span id=\"wf-version\" class=\"muted\"></span></h2><p id=\"wf-about\" class=\"muted\"></p>\
         <div class=\"wf-actions\"><button type=\"button\" id=\"wf-toggle\" class=\"secondary\" hidden>Enable</button> \
         <button type=\"button\" id=\"wf-run\" hidden>Run now</button></div>\
         <div id=\"graph\" class=\"graph\" role=\"img\" aria-label=\"The workflow's steps as a graph\"></div>\
         <h3>Steps</h3><ol id=\"steps\" class=\"list steps\"></ol></section>\
         <section class=\"card\" aria-labelledby=\"step-h\"><h2 id=\"step-h\">Step</h2>\
         <p id=\"step-hint\" class=\"muted\">Pick a step on the graph or in the list to edit it.</p>\
         <form id=\"step-form\" hidden></form>\
         <h2 id=\"runs-h\">Runs</h2><p class=\"muted\">Run <span id=\"run-status\">none picked</span></p>\
         <ul id=\"runs\" class=\"list\" aria-live=\"polite\"></ul><ol id=\"history\" class=\"timeline\"></ol>\
         <h2 id=\"hooks-h\">Webhooks</h2><ul id=\"hooks\" class=\"list\"></ul>\
         <ul id=\"deliveries\" class=\"list\" aria-live=\"polite\"></ul></section></div>",
        BUILDER_CSP,
        "<script src=\"/portal/builder/cytoscape.min.js\" defer></script>\
         <script src=\"/portal/assets/workflows.js\" defer></script>",
    )
}

/// The analytics dashboard (staff): KPI tiles, revenue by day and device type, the trend
/// forecast with its interval, time per stage and the technicians' table (Chart.js, from
/// npm, served from here), refreshed when new events have been counted; CSV downloads.
/// A technician sees their own row only; the shop's numbers are the managers'.
pub fn analytics() -> ApiResult<Response> {
    page_with(
        "analytics",
        "Numbers",
        "",
        "<h1>Numbers</h1><p class=\"muted\">The last 30 days. <span id=\"an-updated\" aria-live=\"polite\"></span></p>\
         <section id=\"an-shop\" hidden aria-labelledby=\"kpi-h\"><h2 id=\"kpi-h\" class=\"visually-hidden\">KPIs</h2>\
         <dl id=\"kpis\" class=\"tiles\"></dl>\
         <div class=\"charts\"><section class=\"card\" aria-labelledby=\"rev-h\"><h2 id=\"rev-h\">Revenue by day and device type</h2>\
         <canvas id=\"chart-revenue\" role=\"img\" aria-label=\"Revenue by day, stacked by device type\"></canvas>\
         <button type=\"button\" id=\"csv-revenue\" class=\"secondary\">Download CSV</button></section>\
         <section class=\"card\" aria-labelledby=\"fc-h\"><h2 id=\"fc-h\">Revenue forecast</h2>\
         <canvas id=\"chart-forecast\" role=\"img\" aria-label=\"Daily revenue and its forecast with a 95% interval\"></canvas>\
         <p id=\"fc-method\" class=\"muted\"></p></section>\
         <section class=\"card\" aria-labelledby=\"st-h\"><h2 id=\"st-h\">Hours per stage</h2>\
         <canvas id=\"chart-stages\" role=\"img\" aria-label=\"Average hours in each status\"></canvas></section></div></section>\
         <section class=\"card\" aria-labelledby=\"tech-h\"><h2 id=\"tech-h\">Technicians</h2>\
         <table id=\"techs\"><thead><tr><th scope=\"col\">Technician</th><th scope=\"col\">Closed</th>\
         <th scope=\"col\">Bench hours</th><th scope=\"col\">QC pass rate</th><th scope=\"col\">Rework</th>\
         <th scope=\"col\">Messages answered</th></tr></thead><tbody></tbody></table>\
         <button type=\"button\" id=\"csv-techs\" class=\"secondary\">Download CSV</button></section>",
        BUILDER_CSP,
        "<script src=\"/portal/builder/chart.umd.min.js\" defer></script>\
         <script src=\"/portal/assets/analytics.js\" defer></script>",
    )
}
