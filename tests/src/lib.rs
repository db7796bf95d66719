//! The end-to-end harness: starts the real, built workers in workerd (through Miniflare,
//! `scripts/platform.mjs`) with local D1/KV/R2/Queues/Durable Objects in a fresh folder,
//! and speaks HTTP and WebSocket to the gateway as a client would.
//!
//! The workers must be built (`./deploy.sh build`; `./deploy.sh test` does it).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

pub mod openapi;

pub type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// The secret the harness gives the platform, so a test can sign an internal request
/// itself and show that only the signature stands between a caller and a worker.
pub const TEST_SECRET: &str = "e2e-test-secret-0123456789abcdef0123456789abcdef";

/// The address that becomes owner of `ws-default` on its first sign-in.
pub const OWNER_EMAIL: &str = "owner@noizylab.test";

/// The signing key the harness gives `main`, so tests can mint tokens with wrong claims
/// that are nonetheless correctly signed.
pub const TEST_KID: &str = "test-1";
pub const TEST_SEED: [u8; 32] = [7; 32];

pub fn test_key_ring() -> String {
    use base64::Engine;
    format!("{TEST_KID}:{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(TEST_SEED))
}

/// The repository whose built workers run: this one, or `NOIZYLAB_REPO` (a copy holding
/// another build, for `bench --serve` to compare two builds side by side).
pub fn repo() -> PathBuf {
    match std::env::var_os("NOIZYLAB_REPO") {
        Some(other) => PathBuf::from(other),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."),
    }
}

/// A fresh folder for one platform's local state, under `target/e2e-state`.
pub fn fresh_state_dir(label: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = repo().join("target/e2e-state").join(format!(
        "{}-{label}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create state dir");
    dir
}

/// Applies every D1 migration to the local state in `dir`, with wrangler, as
/// `./deploy.sh migrate` does.
///
/// Wrangler applies them through a workerd of its own, which now and then is not there
/// when wrangler connects to it (`connect ECONNREFUSED`, seen once in a full run on a busy
/// machine); that failure is tried again, twice at most. Applied migrations are recorded,
/// so a second try applies only the rest.
pub fn migrate(dir: &Path) {
    let apply = || {
        Command::new(repo().join("node_modules/.bin/wrangler"))
            .args(["d1", "migrations", "apply", "noizylab-db", "--local", "--persist-to"])
            .arg(dir)
            .args(["-c", "wrangler.toml"])
            .current_dir(repo())
            .env("CI", "true")
            .env("WRANGLER_SEND_METRICS", "false")
            .stdin(Stdio::null())
            .output()
            .expect("run wrangler (did ./deploy.sh setup run?)")
    };
    let mut out = apply();
    for _ in 0..2 {
        let refused = String::from_utf8_lossy(&out.stderr).contains("ECONNREFUSED")
            || String::from_utf8_lossy(&out.stdout).contains("ECONNREFUSED");
        if out.status.success() || !refused {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
        out = apply();
    }
    assert!(
        out.status.success(),
        "migrations failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running local platform. Stops when dropped, and also when the test process exits
/// (the launcher watches its stdin), so a shared instance in a `static` does not linger.
pub struct Platform {
    child: Child,
    /// Closing it tells the launcher to dispose of Miniflare, which stops its workerd.
    stdin: Option<ChildStdin>,
    pub port: u16,
    pub base: String,
    pub state: PathBuf,
    /// The launcher's `--sql-port` endpoint: statements run through workerd's D1.
    sql_url: String,
}

impl Platform {
    /// Starts all seventeen workers on a free port with state in `state`.
    pub fn start(state: &Path) -> Platform {
        Platform::start_with(state, &[])
    }

    /// Starts the platform with extra environment for `scripts/platform.mjs` (provider
    /// base URLs and keys, e.g. `NOIZYLAB_STRIPE_BASE_URL`).
    pub fn start_with(state: &Path, env: &[(&str, &str)]) -> Platform {
        // Miniflare's scratch folders go with the state, not into the machine's /tmp.
        let scratch = state.join("tmp");
        std::fs::create_dir_all(&scratch).expect("scratch folder");
        let mut child = Command::new("node")
            .env("TMPDIR", &scratch)
            .arg(repo().join("scripts/platform.mjs"))
            .args(["--port", "0", "--quiet", "--exit-with-stdin", "--sql-port", "--persist-to"])
            .arg(state)
            .current_dir(repo())
            .env("NOIZYLAB_INTERNAL_SECRET", TEST_SECRET)
            .env("NOIZYLAB_OWNER_EMAIL", OWNER_EMAIL)
            .env("NOIZYLAB_SIGNIN_LINKS_PER_IP", "10000")
            // Every test request comes from one address; `access.rs` tests the default's shape.
            .env("NOIZYLAB_ANON_RATE_LIMIT", "100000")
            .env("NOIZYLAB_SIGNIN_LINKS_PER_EMAIL", "100")
            .env("NOIZYLAB_SIGNIN_LINKS_PER_ADDRESS", "1000")
            .envs(env.iter().copied())
            .env("NOIZYLAB_JWT_SIGNING_KEYS", test_key_ring())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start node scripts/platform.mjs");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let log_path = state.join("platform.log");
        // Drain stderr into a log file so workerd never blocks on a full pipe.
        std::thread::spawn(move || {
            if let Ok(mut file) = std::fs::File::create(log_path) {
                let _ = std::io::copy(&mut BufReader::new(stderr), &mut file);
            }
        });
        let (tx, rx) = mpsc::channel::<String>();
        // Stdout (the workers' console, Miniflare's notes) is kept beside it, for a person
        // finding out why a test failed.
        let out_path = state.join("platform.out");
        std::thread::spawn(move || {
            let mut out = std::fs::OpenOptions::new().create(true).append(true).open(out_path).ok();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(f) = out.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                if line.contains("\"ready\":true") {
                    let _ = tx.send(line);
                }
            }
        });
        let line = rx.recv_timeout(Duration::from_secs(90)).unwrap_or_else(|_| {
            let _ = child.kill();
            let log = std::fs::read_to_string(state.join("platform.log")).unwrap_or_default();
            panic!("the platform did not start within 90 s:\n{log}")
        });
        let ready: Value = serde_json::from_str(&line).expect("ready line is JSON");
        let url = ready["url"].as_str().expect("url").trim_end_matches('/').to_owned();
        let port = url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port in url");
        let sql_url = ready["sql_url"].as_str().expect("sql_url in the ready line").to_owned();
        Platform {
            child,
            stdin: Some(stdin),
            port,
            base: format!("http://127.0.0.1:{port}"),
            state: state.to_owned(),
            sql_url,
        }
    }

    /// A fresh, migrated platform.
    pub fn fresh(label: &str) -> Platform {
        Platform::fresh_with(label, &[])
    }

    pub fn fresh_with(label: &str, env: &[(&str, &str)]) -> Platform {
        let dir = fresh_state_dir(label);
        migrate(&dir);
        Platform::start_with(&dir, env)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }

    /// The launcher's process id (workerd runs under it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the platform and waits for it to exit (its state stays on disk).
    pub fn stop(mut self) -> PathBuf {
        self.shut_down();
        self.state.clone()
    }

    /// Closes the launcher's stdin so that it disposes of Miniflare (and so stops its
    /// workerd), waits for it, and kills it only if it has not gone within 20 s. Killing
    /// the launcher outright would leave its workerd running, orphaned.
    fn shut_down(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        // Answers are seen as the platform gives them (a redirect is a 302, not its target),
        // so that each can be held to its own operation in the API description.
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn read(mut resp: ureq::http::Response<ureq::Body>) -> Reply {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    let mut body = Vec::new();
    resp.body_mut().with_config().limit(64 * 1024 * 1024).reader().read_to_end(&mut body).expect("read body");
    Reply { status, headers, body }
}

/// One HTTP request: `method`, `url`, extra headers, optional body.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Reply {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let agent = agent();
    let result = match body {
        Some(bytes) => agent.run(builder.body(bytes.to_vec()).expect("request")),
        None => agent.run(builder.body(()).expect("request")),
    };
    let reply = read(result.unwrap_or_else(|e| panic!("{method} {url}: {e}")));
    let request_type = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| *v);
    let exchange = openapi::Exchange {
        method,
        url,
        request_type,
        request_body: body,
        status: reply.status,
        response_type: reply.header("content-type"),
        response_body: &reply.body,
    };
    if let Err(why) = openapi::check(&exchange) {
        panic!("{method} {url}: the API description (docs/openapi) is wrong or the answer is: {why}");
    }
    reply
}

pub fn get(url: &str) -> Reply {
    request("GET", url, &[], None)
}

pub fn send_json(method: &str, url: &str, body: &Value) -> Reply {
    let bytes = serde_json::to_vec(body).expect("json");
    request(method, url, &[("content-type", "application/json")], Some(&bytes))
}

/// Polls `check` until it returns `Some`, or panics after `limit` with `what`.
pub fn eventually<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("{what}: not within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Opens a WebSocket; reads time out after 10 s so a missing frame fails the test.
pub fn connect(url: &str) -> Result<Socket, Box<tungstenite::Error>> {
    let (socket, _) = tungstenite::connect(url).map_err(Box::new)?;
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    }
    Ok(socket)
}

/// The next JSON text frame.
pub fn next_json(socket: &mut Socket) -> Value {
    loop {
        match socket.read().expect("read frame") {
            Message::Text(text) => return serde_json::from_str(text.as_str()).expect("JSON frame"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

pub fn send_frame(socket: &mut Socket, frame: &Value) {
    socket.send(Message::text(frame.to_string())).expect("send frame");
}

/// Sends `head` (request line and headers, without the blank line) and then `body` over a
/// bare TCP connection, and returns the status and body of the answer. For what an HTTP
/// client library will not do: declare a body and not send it, or send it chunked.
pub fn raw_http(port: u16, head: &str, body: &[u8]) -> (u16, String) {
    use std::io::Write;
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let _ = stream.write_all(format!("{head}\r\nconnection: close\r\n\r\n").as_bytes());
    // The server may answer and close before it has read everything we send.
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

/// Runs one SQL statement on a platform's local D1, as an operator (or an attacker with
/// the database) would: through the launcher's `--sql-port`, so through workerd's own
/// database object, in turn with the workers' statements. (Writing the SQLite file from
/// here would lock it behind workerd's back, and a worker's statement at that moment
/// would fail with SQLITE_BUSY: a request of a concurrent test answered 500 that way.)
pub fn d1_execute(p: &Platform, sql: &str) {
    // The launcher's endpoint, not the API: no API description to check it against.
    let sent = agent().post(&p.sql_url).content_type("application/sql").send(sql.as_bytes());
    let reply = read(sent.unwrap_or_else(|e| panic!("d1 execute: {e}")));
    assert_eq!(reply.status, 200, "d1 execute: {}", reply.text());
}

/// The SQLite file behind a platform's local D1 database.
fn d1_file(state: &Path) -> PathBuf {
    let dir = state.join("v3/d1/miniflare-D1DatabaseObject");
    std::fs::read_dir(&dir)
        .expect("the D1 state folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "sqlite") && p.file_stem().is_some_and(|s| s != "metadata"))
        .expect("the D1 database file")
}

/// Reads a platform's local D1 directly, read-only, as an operator would: the rows of
/// `sql` as JSON objects. (The database is in WAL mode, so this never blocks the workers.)
pub fn d1_query(state: &Path, sql: &str) -> Vec<Value> {
    let file = d1_file(state);
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let db = rusqlite::Connection::open_with_flags(&file, flags).expect("open D1 read-only");
    db.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
    let mut stmt = db.prepare(sql).expect("prepare");
    let names: Vec<String> = stmt.column_names().iter().map(|s| (*s).to_owned()).collect();
    let rows = stmt
        .query_map([], |row| {
            let mut obj = serde_json::Map::new();
            for (i, name) in names.iter().enumerate() {
                let v = match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(n) => json!(n),
                    rusqlite::types::ValueRef::Real(f) => json!(f),
                    rusqlite::types::ValueRef::Text(t) => json!(String::from_utf8_lossy(t)),
                    rusqlite::types::ValueRef::Blob(b) => json!(b),
                };
                obj.insert(name.clone(), v);
            }
            Ok(Value::Object(obj))
        })
        .expect("query");
    rows.map(|r| r.expect("row")).collect()
}

// ---- Signing in, as a browser or an app would ----

pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or_default()
}

pub fn unique_email(tag: &str) -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{tag}-{n}-{}@example.com", now())
}

pub fn authed(p: &Platform, method: &str, path: &str, token: &str, body: Option<&Value>) -> Reply {
    let bearer = format!("Bearer {token}");
    let bytes = body.map(|b| b.to_string().into_bytes());
    let mut headers = vec![("authorization", bearer.as_str())];
    if bytes.is_some() {
        headers.push(("content-type", "application/json"));
    }
    request(method, &p.url(path), &headers, bytes.as_deref())
}

/// The newest sign-in message the dev outbox holds for `email`: (link token, 6-digit code).
pub fn from_outbox(p: &Platform, email: &str) -> (String, String) {
    let r = get(&p.url(&format!("/api/v1/notifications/dev/outbox?to={email}")));
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    // Newest first; other mail (a quote is ready, a ticket moved) may have landed since.
    let text = body["messages"]
        .as_array()
        .and_then(|all| all.iter().filter_map(|m| m["body"].as_str()).find(|b| b.contains("code: ")))
        .expect("a sign-in message for this address")
        .to_owned();
    let token = text.split("token=").nth(1).and_then(|t| t.split_whitespace().next()).expect("link").to_owned();
    let code = text.split("code: ").nth(1).map(|c| c.chars().take(6).collect()).expect("code");
    (token, code)
}

pub fn ask_for_link(p: &Platform, email: &str) -> Reply {
    send_json("POST", &p.url("/api/v1/auth/magic-link"), &json!({ "email": email }))
}

/// The challenge a `magic-link` answer carries: the code works only with it.
pub fn challenge(asked: &Reply) -> String {
    asked.json()["challenge"].as_str().expect("a challenge in the magic-link answer").to_owned()
}

/// `POST /auth/login` with the emailed code and the challenge of the request that sent it.
pub fn login(p: &Platform, email: &str, code: &str, challenge: &str) -> Reply {
    send_json("POST", &p.url("/api/v1/auth/login"), &json!({ "email": email, "code": code, "challenge": challenge }))
}

/// Signs `email` in with the emailed code; returns the token pair.
///
/// Sign-ins are taken one at a time within a test binary: two tests signing the same
/// address in at once would each read the newest code from the outbox, the other's.
pub fn sign_in(p: &Platform, email: &str) -> Value {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let asked = ask_for_link(p, email);
    assert_eq!(asked.status, 202);
    let (_, code) = from_outbox(p, email);
    let r = login(p, email, &code, &challenge(&asked));
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

pub fn access(pair: &Value) -> String {
    pair["access_token"].as_str().expect("access_token").to_owned()
}

pub fn refresh_token(pair: &Value) -> String {
    pair["refresh_token"].as_str().expect("refresh_token").to_owned()
}

pub fn refresh(p: &Platform, token: &str) -> Reply {
    send_json("POST", &p.url("/api/v1/auth/refresh"), &json!({ "refresh_token": token }))
}

/// A technician of ws-default: signed up, promoted by the owner, signed in again. The
/// token pair.
pub fn technician(p: &Platform) -> Value {
    let owner = access(&sign_in(p, OWNER_EMAIL));
    let pair = sign_in(p, &unique_email("tech"));
    let path = format!("/api/v1/workspaces/ws-default/members/{}", user_id(&pair));
    let r = authed(p, "PUT", &path, &owner, Some(&json!({ "role": "technician" })));
    assert_eq!(r.status, 200, "{}", r.text());
    let renewed = refresh(p, &refresh_token(&pair));
    assert_eq!(renewed.status, 200, "{}", renewed.text());
    renewed.json()
}

/// A request carrying an API key in `X-API-Key`.
pub fn with_key(p: &Platform, method: &str, path: &str, key: &str, body: Option<&Value>) -> Reply {
    let bytes = body.map(|b| b.to_string().into_bytes());
    let mut headers = vec![("x-api-key", key)];
    if bytes.is_some() {
        headers.push(("content-type", "application/json"));
    }
    request(method, &p.url(path), &headers, bytes.as_deref())
}

/// The signed-in user's id from a token pair.
pub fn user_id(pair: &Value) -> String {
    pair["user_id"].as_str().expect("user_id").to_owned()
}

/// One request a stand-in received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A provider stand-in on 127.0.0.1: records every request and answers with `reply`.
pub struct StandIn {
    pub port: u16,
    pub received: std::sync::Arc<std::sync::Mutex<Vec<Received>>>,
}

/// How a stand-in answers: JSON text, or bytes of a content type (audio, images).
#[derive(Clone, Copy)]
enum Replier {
    Json(fn(&Received) -> (u16, String)),
    Raw(fn(&Received) -> (u16, &'static str, Vec<u8>)),
}

impl StandIn {
    pub fn start(reply: fn(&Received) -> (u16, String)) -> StandIn {
        StandIn::serve(Replier::Json(reply))
    }

    /// A stand-in answering bytes: (status, content type, body).
    pub fn start_raw(reply: fn(&Received) -> (u16, &'static str, Vec<u8>)) -> StandIn {
        StandIn::serve(Replier::Raw(reply))
    }

    fn serve(reply: Replier) -> StandIn {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind stand-in");
        let port = listener.local_addr().expect("addr").port();
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let log = log.clone();
                std::thread::spawn(move || {
                    let _ = serve_one(stream, reply, &log);
                });
            }
        });
        StandIn { port, received }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

fn serve_one(mut stream: TcpStream, reply: Replier, log: &std::sync::Mutex<Vec<Received>>) -> std::io::Result<()> {
    use std::io::Write;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    let req = Received { method, path, headers, body };
    let (status, kind, body) = match reply {
        Replier::Json(f) => {
            let (status, text) = f(&req);
            (status, "application/json", text.into_bytes())
        }
        Replier::Raw(f) => f(&req),
    };
    if let Ok(mut l) = log.lock() {
        l.push(req);
    }
    write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: {kind}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(&body)?;
    stream.flush()
}

/// Connects a WebSocket the way a browser on `origin` would (with its `Origin` header).
pub fn connect_with_origin(url: &str, origin: &str) -> Result<Socket, Box<tungstenite::Error>> {
    use tungstenite::client::IntoClientRequest;
    let mut req = url.into_client_request().map_err(Box::new)?;
    let value = tungstenite::http::HeaderValue::from_str(origin)
        .map_err(|e| Box::new(tungstenite::Error::HttpFormat(e.into())))?;
    req.headers_mut().insert("origin", value);
    let (socket, _) = tungstenite::connect(req).map_err(Box::new)?;
    Ok(socket)
}

/// Reads and drops whatever frames are waiting (short timeout), e.g. presence chatter.
pub fn drain(socket: &mut Socket) {
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        let _ = stream.set_read_timeout(Some(Duration::from_millis(50)));
    }
    while socket.read().is_ok() {}
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    }
}

/// The next frame of `kind` on a room socket, skipping presence, typing and other kinds;
/// an `error` frame on the way fails the test (unless `error` is what is awaited).
pub fn next_of(socket: &mut Socket, kind: &str) -> Value {
    for _ in 0..50 {
        let frame = next_json(socket);
        if frame["type"] == kind {
            return frame;
        }
        assert_ne!(frame["type"], "error", "{frame}");
    }
    panic!("no {kind} frame")
}

/// A multipart form: text fields, then an `image` part if given.
pub fn form(fields: &[(&str, &str)], image: Option<&[u8]>) -> (String, Vec<u8>) {
    let boundary = "noizylab-test-boundary-7d1e";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    if let Some(bytes) = image {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"board.png\"\r\nContent-Type: image/png\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub fn send_form(
    p: &Platform,
    method: &str,
    path: &str,
    token: &str,
    fields: &[(&str, &str)],
    image: Option<&[u8]>,
) -> Reply {
    let (content_type, body) = form(fields, image);
    let auth = format!("Bearer {token}");
    request(method, &p.url(path), &[("authorization", &auth), ("content-type", &content_type)], Some(&body))
}

/// Uploads the synthetic board of `noizylab_core::vision::synthetic` (the engine's unit
/// tests' board) as a golden reference with its components, as `token`: the reference.
pub fn synthetic_reference(p: &Platform, token: &str) -> Value {
    use noizylab_core::vision::{encode_png, synthetic};
    let components = serde_json::to_string(&synthetic::components()).expect("components");
    let r = send_form(
        p,
        "POST",
        "/api/v1/vision/references",
        token,
        &[("board_model", "NL-AMP-2"), ("name", "Amp board rev 2"), ("components", &components)],
        Some(&encode_png(&synthetic::board(false, None))),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

/// A ticket of `customer`'s for a new device of `kind`, walked to QC: quoted by `tech`,
/// approved by the customer, repaired by `tech` (its assignee). Its id and number.
pub fn ticket_in_qc(p: &Platform, customer: &str, tech: &str, tech_id: &str, kind: &str) -> (String, i64) {
    let d = authed(p, "POST", "/api/v1/devices/register", customer, Some(&json!({ "name": "Amp", "type": kind })));
    assert_eq!(d.status, 201, "{}", d.text());
    let device = d.json()["id"].as_str().expect("device").to_owned();
    let body = json!({ "title": "Amp hums, then dies", "device_id": device });
    let t = authed(p, "POST", "/api/v1/tickets", customer, Some(&body));
    assert_eq!(t.status, 201, "{}", t.text());
    let (id, number) = (t.json()["id"].as_str().expect("id").to_owned(), t.json()["number"].as_i64().expect("number"));
    let assign = authed(p, "PATCH", &format!("/api/v1/tickets/{id}"), tech, Some(&json!({ "assignee_id": tech_id })));
    assert_eq!(assign.status, 200, "{}", assign.text());
    move_to(p, tech, &id, &["TRIAGE", "DIAGNOSTICS"]);
    let quote = json!({ "ticket_id": id, "complexity": "standard", "estimated_minutes": 30, "urgency": "standard" });
    let q = authed(p, "POST", "/api/v1/pricing/estimate", tech, Some(&quote));
    assert_eq!(q.status, 201, "{}", q.text());
    let approve = format!("/api/v1/pricing/quotes/{}/approve", q.json()["quote_id"].as_str().expect("quote"));
    assert_eq!(authed(p, "POST", &approve, customer, None).status, 200);
    move_to(p, tech, &id, &["IN_REPAIR", "QC"]);
    (id, number)
}

/// A new ticket of `customer`'s for a device of `kind`, assigned to the technician and
/// quoted (with `parts`): (ticket, quote id).
pub fn quoted_ticket(
    p: &Platform,
    customer: &str,
    tech: &str,
    tech_id: &str,
    kind: &str,
    parts: Value,
) -> (String, String) {
    let d = authed(p, "POST", "/api/v1/devices/register", customer, Some(&json!({ "name": "Unit", "type": kind })));
    assert_eq!(d.status, 201, "{}", d.text());
    let t =
        authed(p, "POST", "/api/v1/tickets", customer, Some(&json!({ "title": "Dead", "device_id": d.json()["id"] })));
    assert_eq!(t.status, 201, "{}", t.text());
    let ticket = t.json()["id"].as_str().expect("ticket").to_owned();
    let assign =
        authed(p, "PATCH", &format!("/api/v1/tickets/{ticket}"), tech, Some(&json!({ "assignee_id": tech_id })));
    assert_eq!(assign.status, 200, "{}", assign.text());
    move_to(p, tech, &ticket, &["TRIAGE", "DIAGNOSTICS"]);
    let body = json!({ "ticket_id": ticket, "complexity": "standard", "estimated_minutes": 45, "parts": parts });
    let q = authed(p, "POST", "/api/v1/pricing/estimate", tech, Some(&body));
    assert_eq!(q.status, 201, "{}", q.text());
    (ticket, q.json()["quote_id"].as_str().expect("quote").to_owned())
}

/// One QC inspection of `ticket` (in QC) whose template is one manual checkpoint
/// `powers_on`, passed or failed.
pub fn inspect_manual(p: &Platform, tech: &str, ticket: &str, passed: bool) {
    let i = authed(p, "POST", "/api/v1/qc/inspections", tech, Some(&json!({ "ticket_id": ticket })));
    assert_eq!(i.status, 201, "{}", i.text());
    let path = format!("/api/v1/qc/inspections/{}/checkpoints/powers_on", i.json()["id"].as_str().expect("id"));
    let r = authed(p, "POST", &path, tech, Some(&json!({ "passed": passed })));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], if passed { "passed" } else { "failed" }, "{}", r.text());
}

/// Moves `ticket` through `steps` as `tech`, each move answered 200.
pub fn move_to(p: &Platform, tech: &str, ticket: &str, steps: &[&str]) {
    for to in steps {
        let m = authed(p, "POST", &format!("/api/v1/tickets/{ticket}/status"), tech, Some(&json!({ "to": to })));
        assert_eq!(m.status, 200, "→ {to}: {}", m.text());
    }
}

/// An eBay stand-in (OAuth client credentials and the Browse API search) answering with a
/// real captured eBay answer (`shared/core/tests/data/ebay/`, see its README), and the
/// platform settings that aim the deal hunter at it.
pub mod ebay {
    use super::{repo, Received, StandIn};
    use serde_json::json;

    pub const CLIENT_ID: &str = "NoizyLab-test-PRD-0a1b2c3d4-5e6f7a8b";
    pub const CLIENT_SECRET: &str = "PRD-0a1b2c3d4e5f-test-secret";
    /// Base64 of `CLIENT_ID:CLIENT_SECRET`, as eBay's identity endpoint expects it.
    pub const BASIC: &str =
        "Basic Tm9penlMYWItdGVzdC1QUkQtMGExYjJjM2Q0LTVlNmY3YThiOlBSRC0wYTFiMmMzZDRlNWYtdGVzdC1zZWNyZXQ=";
    pub const TOKEN: &str = "v^1.1#i^1#p^1#r^0#I^3#f^0#t^H4sI-test-application-token";

    pub fn data(name: &str) -> String {
        std::fs::read_to_string(repo().join("shared/core/tests/data/ebay").join(name)).expect("eBay test data")
    }

    /// eBay: a token for the application's keyset; searches answered from the real capture,
    /// or, for `q` naming a case, an incomplete answer or an eBay failure.
    pub fn reply(r: &Received) -> (u16, String) {
        if r.path.starts_with("/identity/v1/oauth2/token") {
            let body = String::from_utf8_lossy(&r.body);
            let grant = body.contains("grant_type=client_credentials")
                && body.contains("scope=https%3A%2F%2Fapi.ebay.com%2Foauth%2Fapi_scope");
            if r.method == "POST" && r.header("authorization") == Some(BASIC) && grant {
                let token =
                    json!({ "access_token": TOKEN, "expires_in": 7200, "token_type": "Application Access Token" });
                return (200, token.to_string());
            }
            return (
                401,
                json!({ "error": "invalid_client", "error_description": "client authentication failed" }).to_string(),
            );
        }
        if r.path.starts_with("/buy/browse/v1/item_summary/search") {
            if r.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
                return (401, data("error_invalid_token.json"));
            }
            if r.path.contains("q=incomplete") {
                let body = json!({ "total": 2, "itemSummaries": [
                    { "itemId": "v1|1|0", "title": "no price", "seller": { "username": "a" } },
                    { "itemId": "v1|2|0", "title": "no seller", "price": { "value": "10.00", "currency": "USD" },
                      "shippingOptions": [{ "shippingCostType": "FIXED", "shippingCost": { "value": "0.00", "currency": "USD" } }] }
                ]});
                return (200, body.to_string());
            }
            if r.path.contains("q=broken") {
                let body = json!({ "errors": [{ "errorId": 10001, "domain": "API_BROWSE", "category": "APPLICATION",
                                                "message": "stand-in failure" }] });
                return (500, body.to_string());
            }
            return (200, data("search_nvidia_t4.json"));
        }
        (404, "{}".into())
    }

    /// The platform's environment for a deal hunter aimed at `stand_in`.
    pub fn env(stand_in: &StandIn) -> Vec<(&'static str, String)> {
        vec![
            ("NOIZYLAB_EBAY_BASE_URL", stand_in.url()),
            ("NOIZYLAB_EBAY_CLIENT_ID", CLIENT_ID.to_owned()),
            ("NOIZYLAB_EBAY_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("NOIZYLAB_EBAY_MARKETPLACE", "EBAY_US".to_owned()),
        ]
    }
}

/// Paying through Stripe Checkout against a Stripe stand-in: the session answered in
/// Stripe's wire format, the webhook signed exactly as Stripe signs it.
pub mod stripe {
    use hmac::{Hmac, Mac};
    use serde_json::json;
    use sha2::Sha256;

    use super::{authed, d1_query, request, Platform, Received};

    pub const WEBHOOK_SECRET: &str = "whsec_noizylab_test";

    /// The platform settings aiming the portal at the stand-in at `url`.
    pub fn env(url: &str) -> Vec<(&'static str, String)> {
        vec![
            ("NOIZYLAB_STRIPE_BASE_URL", url.to_owned()),
            ("NOIZYLAB_STRIPE_SECRET_KEY", "sk_test_noizylab".to_owned()),
            ("NOIZYLAB_STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        ]
    }

    /// Stripe's answer to creating a Checkout Session; 404 in Stripe's shape otherwise.
    pub fn reply(req: &Received) -> (u16, String) {
        if req.method == "POST" && req.path == "/v1/checkout/sessions" {
            let body = String::from_utf8_lossy(&req.body);
            let invoice = body.split('&').find_map(|kv| kv.strip_prefix("client_reference_id=")).unwrap_or("none");
            let session = json!({ "id": format!("cs_test_{invoice}"), "object": "checkout.session",
                                  "url": format!("https://checkout.stripe.test/c/pay/cs_test_{invoice}") });
            return (200, session.to_string());
        }
        (
            404,
            json!({ "error": { "type": "invalid_request_error", "message": "Unrecognized request URL" } }).to_string(),
        )
    }

    /// `Stripe-Signature` as Stripe computes it: HMAC-SHA256 over "{t}.{body}", hex, as `v1`.
    pub fn signature(secret: &str, t: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
        mac.update(format!("{t}.{body}").as_bytes());
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        format!("t={t},v1={hex}")
    }

    /// The customer pays the approved `quote`: Checkout, then Stripe's signed
    /// `checkout.session.completed`. The amount paid, in cents.
    pub fn pay(p: &Platform, customer: &str, quote: &str) -> i64 {
        let c = authed(p, "POST", "/api/v1/payments/checkout", customer, Some(&json!({ "quote_id": quote })));
        assert_eq!(c.status, 201, "{}", c.text());
        let invoice = c.json()["invoice_id"].as_str().expect("invoice").to_owned();
        let rows = d1_query(&p.state, &format!("SELECT amount_cents FROM invoices WHERE id = '{invoice}'"));
        let amount = rows.first().and_then(|r| r["amount_cents"].as_i64()).expect("the invoice's amount");
        let body = json!({
            "id": format!("evt_{invoice}"), "object": "event", "type": "checkout.session.completed",
            "api_version": "2024-06-20",
            "data": { "object": {
                "id": format!("cs_test_{invoice}"), "object": "checkout.session", "client_reference_id": invoice,
                "metadata": { "invoice_id": invoice }, "payment_status": "paid", "status": "complete",
                "amount_total": amount, "currency": "cad", "payment_intent": format!("pi_{invoice}"),
            }},
        })
        .to_string();
        let signed = signature(WEBHOOK_SECRET, super::now(), &body);
        let headers = [("content-type", "application/json"), ("stripe-signature", signed.as_str())];
        let r = request("POST", &p.url("/api/v1/webhooks/stripe"), &headers, Some(body.as_bytes()));
        assert_eq!(r.status, 200, "{}", r.text());
        amount
    }
}
