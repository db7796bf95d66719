//! `./deploy.sh bench`: latency and throughput of the local stack (workerd through
//! Miniflare, the real built workers, fresh state), reported as percentiles and as ratios
//! measured in the same run — absolute numbers on a shared 2-core machine are noisy,
//! ratios much less so.
//!
//! Options: `--quick` (fewer samples), `--clients N` for the broadcast fan-out (default 1,000),
//! `--peer`: the authenticated device list against the TypeScript peer, side by side;
//! `--broadcast`: only the room fan-out; `--events`: only a ticket's change reaching its room.

use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use noizylab_tests::{
    access, authed, connect, get, next_json, send_frame, send_json, sign_in, Platform, Socket, OWNER_EMAIL,
};
use serde_json::json;

struct Stats {
    name: String,
    samples: Vec<f64>,
}

impl Stats {
    /// The `n` slowest samples with their round numbers (from 0), slowest first.
    fn slowest(&self, n: usize) -> String {
        let mut s: Vec<(usize, f64)> = self.samples.iter().copied().enumerate().collect();
        s.sort_by(|a, b| b.1.total_cmp(&a.1));
        s.iter().take(n).map(|(i, ms)| format!("#{i} {ms:.1} ms")).collect::<Vec<_>>().join(", ")
    }

    fn pct(&self, p: f64) -> f64 {
        let mut s = self.samples.clone();
        s.sort_by(|a, b| a.total_cmp(b));
        if s.is_empty() {
            return f64::NAN;
        }
        let idx = ((p / 100.0) * (s.len() as f64 - 1.0)).round() as usize;
        s[idx.min(s.len() - 1)]
    }
}

/// A room member may send 2 frames a second (`noizylab_kit::room`): one every half second.
const FRAME_PACE: Duration = Duration::from_millis(520);

fn time_ms(f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64() * 1000.0
}

/// Broadcast: `clients` sockets in one room; one note, timed until every socket has it;
/// then the same with a frame the room does not store (typing), which tells the fan-out
/// apart from the storage commit a stored frame waits for before it goes out.
fn broadcast(p: &Platform, room_path: &dyn Fn() -> String, clients: usize, quick: bool) -> (Stats, Stats, Stats) {
    eprintln!("broadcast: connecting {clients} sockets to one room…");
    let mut sockets: Vec<Socket> = Vec::with_capacity(clients);
    for i in 0..clients {
        let mut s = connect(&p.ws_url(&room_path())).expect("connect");
        while next_json(&mut s)["type"] != "hello" {}
        sockets.push(s);
        if (i + 1) % 250 == 0 {
            eprintln!("  {} connected", i + 1);
        }
    }
    eprintln!("broadcast: {clients} sockets in; draining the presence frames of the joins…");
    // Drain the presence frames the joins caused (each join is told to every socket
    // already in), so that each round reads its own note.
    std::thread::sleep(Duration::from_millis(500 + 5 * clients as u64));
    for s in sockets.iter_mut() {
        noizylab_tests::drain(s);
    }
    let mut sender = sockets.remove(0);
    // A p99 needs a hundred samples: of 50 it is the slowest round.
    let rounds = if quick { 20 } else { 100 };
    let mut readers = Readers::new(sockets);
    // The drain was a long silence (50 ms a socket), in which workerd hibernates the room:
    // the first note wakes it, and the runtime makes every socket live again. That note is
    // timed on its own line; the rounds then time the fan-out of a room in use.
    eprintln!("broadcast: one note to wake the room, then {rounds} rounds of a stored note and {rounds} of typing…");
    let woken = fan_out(&mut sender, &mut readers, 1, Fanout::Stored, "wake");
    let stored = fan_out(&mut sender, &mut readers, rounds, Fanout::Stored, "round");
    let signal = fan_out(&mut sender, &mut readers, rounds, Fanout::NotStored, "round");
    (
        Stats { name: format!("broadcast to {clients} clients (all received)"), samples: stored },
        Stats { name: "  the same, not stored (typing)".to_owned(), samples: signal },
        Stats { name: "  the first, after the drain's silence (wakes the room)".to_owned(), samples: woken },
    )
}

/// A ticket's change reaching a member of its live room through the bus: `PATCH` the
/// ticket (its priority, high and normal in turn), timed from the request until the staff
/// socket in the room has the `event` frame (events queue → orchestrator → `main` → room).
/// The changes are spaced out, so each is timed on a quiet bus, as a shop's mostly is.
fn event_to_room(p: &Platform, owner: &str, ticket: &str, room_path: &dyn Fn() -> String, n: usize) -> Stats {
    let mut socket = connect(&p.ws_url(&room_path())).expect("connect");
    while next_json(&mut socket)["type"] != "hello" {}
    let samples = (0..n)
        .map(|i| {
            std::thread::sleep(Duration::from_millis(100));
            let priority = if i % 2 == 0 { "high" } else { "normal" };
            let body = json!({ "priority": priority });
            time_ms(|| {
                let r = authed(p, "PATCH", &format!("/api/v1/tickets/{ticket}"), owner, Some(&body));
                expect(r.status, 200, "ticket update");
                while next_json(&mut socket)["type"] != "event" {}
            })
        })
        .collect();
    let _ = socket.close(None);
    Stats { name: "a ticket's change reaching its room (bus)".to_owned(), samples }
}

/// What a broadcast round sends.
#[derive(Clone, Copy)]
enum Fanout {
    /// A note: stored in the room's SQLite, then sent (the sender gets it too).
    Stored,
    /// Typing: sent, not stored (to everyone but the sender).
    NotStored,
}

/// The receiving sockets, non-blocking, registered once with one epoll instance.
struct Readers {
    sockets: Vec<Socket>,
    poll: mio::Poll,
}

impl Readers {
    fn new(mut sockets: Vec<Socket>) -> Readers {
        use mio::unix::SourceFd;
        use mio::{Interest, Poll, Token};
        use std::os::fd::AsRawFd;
        use tungstenite::stream::MaybeTlsStream;

        let poll = Poll::new().expect("epoll");
        for (i, s) in sockets.iter_mut().enumerate() {
            let MaybeTlsStream::Plain(stream) = s.get_mut() else { panic!("the bench speaks plain ws://") };
            stream.set_nonblocking(true).expect("non-blocking socket");
            let fd = stream.as_raw_fd();
            poll.registry().register(&mut SourceFd(&fd), Token(i), Interest::READABLE).expect("register socket");
        }
        Readers { sockets, poll }
    }
}

/// Times `rounds` frames from `sender` until every other socket has read it. One thread
/// reads all the sockets, woken by the kernel when one has data (epoll, through `mio`), as
/// a load generator does: a thread per socket would measure a thousand client threads
/// taking turns on two cores more than the room. A note missing after 10 s fails the run.
fn fan_out(sender: &mut Socket, readers: &mut Readers, rounds: usize, what: Fanout, tag: &str) -> Vec<f64> {
    use mio::Events;
    use tungstenite::Message;

    let mut events = Events::with_capacity(1024);
    let mut samples = Vec::with_capacity(rounds);
    for round in 0..rounds {
        // The sender's frame quota (2 a second): pace the rounds, outside the timing.
        std::thread::sleep(FRAME_PACE);
        let text = format!("{tag} {round}");
        // Typing frames carry no text: rounds alternate `on`, and each round ends only
        // once every socket has read its frame, so a frame of the wanted `on` is this round's.
        let on = round % 2 == 0;
        let is_ours = |frame: &str| {
            serde_json::from_str::<serde_json::Value>(frame).is_ok_and(|v| match what {
                Fanout::Stored => v["type"] == "note" && v["text"] == text.as_str(),
                Fanout::NotStored => v["type"] == "typing" && v["on"] == on,
            })
        };
        let sockets = &mut readers.sockets;
        let mut got = vec![false; sockets.len()];
        let mut left = sockets.len();
        let start = Instant::now();
        // The sender's own copy of a note is read after the round: read first, it made the
        // round wait for wherever the room put the sender in its order before the others
        // were read, and read them one by one after it instead of as they came.
        match what {
            Fanout::Stored => send_frame(sender, &json!({ "type": "note", "text": text })),
            Fanout::NotStored => send_frame(sender, &json!({ "type": "typing", "on": on })),
        }
        while left > 0 {
            let wait = Duration::from_secs(10).checked_sub(start.elapsed());
            assert!(wait.is_some(), "round {round}: {left} sockets never got the frame");
            readers.poll.poll(&mut events, wait).expect("epoll wait");
            for event in events.iter() {
                let i = event.token().0;
                // Edge-triggered: read until the socket has nothing more.
                loop {
                    match sockets[i].read() {
                        Ok(Message::Text(frame)) => {
                            if !got[i] && is_ours(frame.as_str()) {
                                got[i] = true;
                                left -= 1;
                            }
                        }
                        Ok(_) => {}
                        Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => panic!("socket {i}: {e}"),
                    }
                }
            }
        }
        samples.push(start.elapsed().as_secs_f64() * 1000.0);
        if let Fanout::Stored = what {
            while next_json(sender)["type"] != "note" {}
        }
    }
    samples
}

fn measure(name: &str, n: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..n.min(20) {
        f(); // warm up
    }
    let samples = (0..n).map(|_| time_ms(&mut f)).collect();
    Stats { name: name.to_owned(), samples }
}

fn expect(status: u16, want: u16, what: &str) {
    assert_eq!(status, want, "{what}");
}

/// Requests per second from `threads` clients hammering `url` for `secs`.
fn throughput(url: &str, threads: usize, secs: u64, want: u16) -> f64 {
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (url, count, stop) = (url.to_owned(), count.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let r = get(&url);
                    if r.status == want {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    count.load(Ordering::Relaxed) as f64 / secs as f64
}

/// The value after `name` on the command line.
fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn main() {
    noizylab_tests::openapi::stop_checking();
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    if args.iter().any(|a| a == "--peer") {
        return peer_comparison(quick);
    }
    if args.iter().any(|a| a == "--serve") {
        return serve_seeded();
    }
    if let (Some(url), Some(token)) = (flag(&args, "--load"), flag(&args, "--token")) {
        // One round of the `--peer` load against any URL (a `--serve` platform, the peer).
        let secs = flag(&args, "--secs").and_then(|s| s.parse().ok()).unwrap_or(10);
        let connections = flag(&args, "--connections").and_then(|s| s.parse().ok()).unwrap_or(16);
        // `--post BODY`: a write, each request with its own idempotency key (201 expected);
        // `--no-key` sends the writes without one.
        let post = flag(&args, "--post");
        let keyed = !args.iter().any(|a| a == "--no-key");
        let want = flag(&args, "--want").and_then(|s| s.parse().ok()).unwrap_or(if post.is_some() { 201 } else { 200 });
        let (rps, lat) = load_with(&url, &token, connections, secs, post.as_deref().map(|b| (b, keyed)), want);
        println!(
            "{rps:.0} req/s, p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms",
            lat.pct(50.0),
            lat.pct(90.0),
            lat.pct(99.0),
            lat.pct(99.9)
        );
        return;
    }
    let clients: usize = args
        .iter()
        .position(|a| a == "--clients")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let n = if quick { 100 } else { 400 };

    eprintln!("starting the platform (fresh state)…");
    let phase = |what: &str| eprintln!("{what}…");
    // Authenticated calls are many: lift the per-user limit for this run only.
    let p = Platform::fresh_with("bench", &[("NOIZYLAB_USER_RATE_LIMIT", "100000000")]);
    let owner = access(&sign_in(&p, OWNER_EMAIL));
    let opened = authed(&p, "POST", "/api/v1/tickets", &owner, Some(&json!({ "title": "Bench" })));
    expect(opened.status, 201, "ticket");
    let ticket = opened.json()["id"].as_str().unwrap_or_default().to_owned();
    let room_path = || {
        let r = authed(&p, "POST", &format!("/api/v1/tickets/{ticket}/live/ticket"), &owner, None);
        expect(r.status, 201, "room ticket");
        r.json()["path"].as_str().unwrap_or_default().to_owned()
    };
    let put = send_json("PUT", &p.url("/api/v1/dev/kv/bench"), &json!({ "value": "v", "ttl_seconds": 3600 }));
    expect(put.status, 201, "kv put");
    let ev = send_json("POST", &p.url("/api/v1/dev/events"), &json!({ "event": "ticket.created" }));
    let id = ev.json()["id"].as_str().unwrap_or_default().to_owned();
    noizylab_tests::eventually(Duration::from_secs(30), "event logged", || {
        (get(&p.url(&format!("/api/v1/workflows/events/{id}"))).status == 200).then_some(())
    });

    if args.iter().any(|a| a == "--events") {
        let change = event_to_room(&p, &owner, &ticket, &room_path, if quick { 20 } else { 100 });
        println!(
            "{}: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
            change.name,
            change.pct(50.0),
            change.pct(95.0),
            change.pct(99.0)
        );
        p.stop();
        return;
    }
    if args.iter().any(|a| a == "--broadcast") {
        let (stored, not_stored, woken) = broadcast(&p, &room_path, clients, quick);
        for b in [stored, not_stored] {
            println!("{}: p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms", b.name, b.pct(50.0), b.pct(95.0), b.pct(99.0));
            println!("    slowest rounds: {}", b.slowest(3));
        }
        println!("{}: {:.1} ms", woken.name, woken.pct(50.0));
        p.stop();
        return;
    }
    phase("measuring HTTP latencies");
    let gateway_only = measure("gateway alone (JSON 404)", n, || expect(get(&p.url("/nope")).status, 404, "404"));
    let hop = measure("gateway → main (anonymous: Gate + hop, 400)", n, || {
        expect(get(&p.url("/api/v1/tickets/t-1/live")).status, 400, "hop")
    });
    let kv =
        measure("gateway → main → KV get", n, || expect(get(&p.url("/api/v1/dev/kv/bench")).status, 200, "kv"));
    let d1 = measure("gateway → orchestrator → D1 read", n, || {
        expect(get(&p.url(&format!("/api/v1/workflows/events/{id}"))).status, 200, "d1")
    });
    let health = measure("GET /api/v1/health (17 workers)", n / 4, || {
        expect(get(&p.url("/api/v1/health")).status, 200, "health")
    });
    let authed_read = measure("authenticated GET /api/v1/tickets/:id", n, || {
        expect(authed(&p, "GET", &format!("/api/v1/tickets/{ticket}"), &owner, None).status, 200, "ticket read")
    });
    phase("measuring WebSocket connects");
    let ws_connect = measure("WebSocket connect → TicketRoom hello", n / 2, || {
        let path = room_path();
        let mut s = connect(&p.ws_url(&path)).expect("connect");
        while next_json(&mut s)["type"] != "hello" {}
        let _ = s.close(None);
    });
    let mut paths: Vec<String> = (0..n / 2).map(|_| room_path()).collect();
    let ws_only = measure("  of which: upgrade → hello (ticket in hand)", n / 2 - 20, || {
        let path = paths.pop().unwrap_or_default();
        let mut s = connect(&p.ws_url(&path)).expect("connect");
        while next_json(&mut s)["type"] != "hello" {}
        let _ = s.close(None);
    });

    phase("measuring a ticket's change reaching its room");
    let change = event_to_room(&p, &owner, &ticket, &room_path, if quick { 20 } else { 100 });

    phase("measuring the chat agent");
    // The chat agent: a customer's question until the built-in agent's answer arrives.
    let customer = access(&sign_in(&p, &noizylab_tests::unique_email("bench-chat")));
    let chat = authed(&p, "POST", "/api/v1/chat/conversations", &customer, Some(&json!({})));
    expect(chat.status, 201, "conversation");
    let conversation = chat.json()["id"].as_str().unwrap_or_default().to_owned();
    let mint = authed(&p, "POST", &format!("/api/v1/chat/conversations/{conversation}/live/ticket"), &customer, None);
    expect(mint.status, 201, "chat ticket");
    let mut talk = connect(&p.ws_url(mint.json()["path"].as_str().unwrap_or_default())).expect("chat connect");
    while next_json(&mut talk)["type"] != "hello" {}
    // A member may send 2 frames a second (a burst of 20): questions are paced, and only
    // the wait for the answer is timed.
    let chat_answer = Stats {
        name: "chat: question → agent's answer (built-in)".into(),
        samples: (0..n / 8)
            .map(|_| {
                std::thread::sleep(FRAME_PACE);
                time_ms(|| {
                    send_frame(&mut talk, &json!({ "type": "message", "text": "What are your opening hours?" }));
                    while next_json(&mut talk)["role"] != "agent" {}
                })
            })
            .collect(),
    };

    phase("measuring diagnoses and reports");
    let (scan_engine, scan_whole, report) = diagnoses(&p, &owner, if quick { 5 } else { 15 });
    phase("measuring a 12-megapixel board analysis");
    let vision = vision_12mp(&p, &owner, if quick { 3 } else { 8 });

    let (broadcast, broadcast_not_stored, broadcast_woken) = broadcast(&p, &room_path, clients, quick);

    // A thousand sockets leaving tell each other so (presence): let the room finish before
    // measuring throughput, or the first figure measures the room instead.
    let settled = Instant::now();
    while settled.elapsed() < Duration::from_secs(60) && (0..3).any(|_| time_ms(|| drop(get(&p.url("/nope")))) > 20.0) {
        std::thread::sleep(Duration::from_millis(500));
    }
    let secs = if quick { 3 } else { 8 };
    let rps_gateway = throughput(&p.url("/nope"), 8, secs, 404);
    let rps_hop = throughput(&p.url("/api/v1/tickets/t-1/live"), 8, secs, 400);
    let rps_kv = throughput(&p.url("/api/v1/dev/kv/bench"), 8, secs, 200);

    println!("\nNoizyLab OS local stack (workerd via Miniflare), one run\n");
    println!("{:<46} {:>9} {:>9} {:>9}", "latency (ms)", "p50", "p95", "p99");
    for s in [
        &gateway_only,
        &hop,
        &kv,
        &d1,
        &authed_read,
        &health,
        &ws_connect,
        &ws_only,
        &broadcast,
        &broadcast_not_stored,
        &broadcast_woken,
        &change,
        &chat_answer,
        &scan_engine,
        &scan_whole,
        &report,
        &vision,
    ] {
        println!("{:<46} {:>9.2} {:>9.2} {:>9.2}", s.name, s.pct(50.0), s.pct(95.0), s.pct(99.0));
    }
    println!("\n{:<46} {:>9}", "throughput, 8 clients (req/s)", "");
    println!("{:<46} {:>9.0}", "gateway alone", rps_gateway);
    println!("{:<46} {:>9.0}", "gateway → main", rps_hop);
    println!("{:<46} {:>9.0}", "gateway → main → KV", rps_kv);
    println!("\nratios (same run)");
    println!(
        "  anonymous signed hop to main (per-address Gate + hop) costs {:.2}× the gateway alone (p50)",
        hop.pct(50.0) / gateway_only.pct(50.0)
    );
    println!("  KV read through main costs {:.2}× the bare hop (p50)", kv.pct(50.0) / hop.pct(50.0));
    println!("  throughput gateway→main / gateway alone: {:.2}", rps_hop / rps_gateway);
    println!(
        "  an authenticated read (JWT + Gate + D1) costs {:.2}× the bare hop (p50)",
        authed_read.pct(50.0) / hop.pct(50.0)
    );
    println!(
        "\ntargets: API p95 < 100 ms, p99 < 200 ms; WS connect < 100 ms; broadcast p99 < 50 ms; \
         score < 2 s, a whole diagnosis < 10 s, a report < 5 s; a 12 MP board analysis < 5 s"
    );
    p.stop();
    cold_starts(if quick { 3 } else { 7 });
}

/// The seed's diagnosis targets on real data (the failing drive's `smartctl --json` and
/// the journal of `shared/core/tests/data`): the engine's score alone (native), a whole scan
/// from `POST /api/v1/diagnostics/start` until it reads complete (queue, engine, forecast,
/// writes, caches, events), and a report made from it (JSON, HTML and PDF into R2).
fn diagnoses(p: &Platform, owner: &str, runs: usize) -> (Stats, Stats, Stats) {
    let data = noizylab_tests::repo().join("shared/core/tests/data");
    let smart: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("smartctl/smart-fail2.json")).unwrap_or_default())
            .unwrap_or_default();
    let logs = std::fs::read_to_string(data.join("logs/linux-journal-io-errors.log")).unwrap_or_default();
    let body = json!({ "os": "Ubuntu 22.04", "cpu_cores": 8, "ram_gb": 16, "storage_gb": 1000, "free_storage_gb": 120,
                       "smart_data": smart, "logs": logs });
    let fields = body.as_object().cloned();
    let input = noizylab_core::diagnostics::ScanInput::for_device(fields, "dev_bench", None, &json!({}));
    let engine = match input {
        Ok(input) => measure("diagnosis: the engine's score (native)", runs * 20, || {
            let _ = noizylab_core::diagnostics::diagnose(&input, "2026-11-24T10:00:00Z");
        }),
        Err(e) => panic!("bench scan input: {e:?}"),
    };
    let mut whole = Vec::new();
    let mut reports = Vec::new();
    for i in 0..runs {
        let device = json!({ "name": format!("bench {i}"), "type": "desktop" });
        let d = authed(p, "POST", "/api/v1/devices/register", owner, Some(&device));
        expect(d.status, 201, "device");
        let id = d.json()["id"].as_str().unwrap_or_default().to_owned();
        let mut scan = body.clone();
        scan["device_id"] = id.into();
        let mut scan_id = String::new();
        whole.push(time_ms(|| {
            let r = authed(p, "POST", "/api/v1/diagnostics/start", owner, Some(&scan));
            expect(r.status, 202, "scan");
            scan_id = r.json()["scan_id"].as_str().unwrap_or_default().to_owned();
            let started = Instant::now();
            while authed(p, "GET", &format!("/api/v1/diagnostics/{scan_id}"), owner, None).json()["status"]
                != "complete"
            {
                assert!(started.elapsed() < Duration::from_secs(60), "scan {scan_id} never completed");
                std::thread::sleep(Duration::from_millis(10));
            }
        }));
        reports.push(time_ms(|| {
            let r = authed(p, "POST", "/api/v1/reports/generate", owner, Some(&json!({ "scan_id": scan_id })));
            expect(r.status, 201, "report");
        }));
    }
    (
        engine,
        Stats { name: "diagnosis: queued → complete (whole scan)".into(), samples: whole },
        Stats { name: "report: generate (JSON, HTML, PDF to R2)".into(), samples: reports },
    )
}

/// The vision target (issue 14): a 12-megapixel JPEG of a board, shifted, turned and
/// re-lit, analysed against its reference — upload, decode at reduced scale, registration,
/// comparison, overlay — timed from request to answer.
fn vision_12mp(p: &Platform, owner: &str, runs: usize) -> Stats {
    use noizylab_core::vision::{encode_png, register::Similarity, synthetic};
    let camera = Similarity { scale: 10.4, angle: 0.04, tx: 120.0, ty: 60.0 };
    let photo = synthetic::photograph(&synthetic::board(true, None), camera, 4000, 3000, true);
    let mut rgb = image::RgbImage::new(4000, 3000);
    for (i, px) in photo.px.iter().enumerate() {
        let to = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
        rgb.put_pixel((i % 4000) as u32, (i / 4000) as u32, image::Rgb([to(px[0]), to(px[1]), to(px[2])]));
    }
    let mut jpeg = std::io::Cursor::new(Vec::new());
    if let Err(e) = rgb.write_to(&mut jpeg, image::ImageFormat::Jpeg) {
        panic!("encoding the 12 MP photo: {e}");
    }
    let jpeg = jpeg.into_inner();
    let components = serde_json::to_string(&synthetic::components()).unwrap_or_default();
    let reference_png = encode_png(&synthetic::board(false, None));
    let (ct, body) = multipart(&[("board_model", "bench"), ("components", &components)], &reference_png, "image/png");
    let auth = format!("Bearer {owner}");
    let r = noizylab_tests::request(
        "POST",
        &p.url("/api/v1/vision/references"),
        &[("authorization", &auth), ("content-type", &ct)],
        Some(&body),
    );
    expect(r.status, 201, "vision reference");
    let reference = r.json()["id"].as_str().unwrap_or_default().to_owned();
    let (ct, body) = multipart(&[("reference_id", &reference)], &jpeg, "image/jpeg");
    let samples = (0..runs)
        .map(|_| {
            time_ms(|| {
                let r = noizylab_tests::request(
                    "POST",
                    &p.url("/api/v1/vision/analyze"),
                    &[("authorization", &auth), ("content-type", &ct)],
                    Some(&body),
                );
                expect(r.status, 201, "vision analyze");
            })
        })
        .collect();
    Stats { name: format!("vision: analyse a 12 MP JPEG ({} KB)", jpeg.len() / 1000), samples }
}

/// A multipart form with text fields and an `image` part.
fn multipart(fields: &[(&str, &str)], image: &[u8], content_type: &str) -> (String, Vec<u8>) {
    let boundary = "noizylab-bench-boundary";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"board\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(image);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Each worker's cold start in workerd (`scripts/coldstart.mjs`, on workerd itself): the
/// start (wasm decoded, validated and instantiated, glue evaluated: until workerd listens)
/// and the first answer (until the first request is answered: V8 compiles each function
/// on its first call), each over an empty JS worker's. The seed's target is 50 ms; a
/// worker over it on either figure is named.
fn cold_starts(runs: u32) {
    use std::io::BufRead;
    println!("\ncold start in workerd (fastest of {runs} starts, over an empty JS worker's fastest)\n");
    println!("{:<36} {:>9} {:>14}", "worker", "start", "first answer");
    let mut child = std::process::Command::new("node")
        .arg(noizylab_tests::repo().join("scripts/coldstart.mjs"))
        .args(["--runs", &runs.to_string()])
        .current_dir(noizylab_tests::repo())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node scripts/coldstart.mjs");
    let out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
    let (mut over_start, mut over_first) = (Vec::new(), Vec::new());
    for line in out.lines().map_while(Result::ok) {
        let Ok(row) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        let worker = row["worker"].as_str().unwrap_or("?").to_owned();
        let (start, first) = (row["ms"].as_f64().unwrap_or(f64::NAN), row["first_ms"].as_f64().unwrap_or(f64::NAN));
        println!("{worker:<36} {start:>6.1} ms {first:>11.1} ms");
        if start.is_nan() || start >= 50.0 {
            over_start.push(worker.clone());
        }
        if first.is_nan() || first >= 50.0 {
            over_first.push(worker);
        }
    }
    let _ = child.wait();
    for (what, over) in [("start", over_start), ("first answer", over_first)] {
        if over.is_empty() {
            println!("{what}: every worker under the 50 ms target");
        } else {
            println!("{what}: over the 50 ms target: {}", over.join(", "));
        }
    }
}

/// One round of load: `clients` threads, each on its own kept-alive connection, sending
/// `GET url` with `token` for `secs`. Requests per second and every request's latency.
fn load(url: &str, token: &str, clients: usize, secs: u64) -> (f64, Stats) {
    load_with(url, token, clients, secs, None, 200)
}

/// [`load`] with a JSON body to `POST` (each request the same) and the status expected.
///
/// A request whose kept-alive connection the server had already closed (workerd closes one
/// now and then under load, on the peer as on the project: "peer disconnected") is sent
/// again once on a new connection, as any HTTP client does with an idempotent request
/// (RFC 9110 §9.2.2); its latency includes both attempts. A `POST` is made idempotent
/// first: each carries its own `Idempotency-Key`, sent again with it, so that a request
/// the server did apply is answered from its record instead of applied twice. Those
/// resends are counted and printed; any other failure fails the run.
static ROUND: AtomicU64 = AtomicU64::new(0);

/// A `POST`'s body and whether each request carries its own idempotency key; `None` for a
/// `GET`.
type Write<'a> = Option<(&'a str, bool)>;

fn load_with(url: &str, token: &str, clients: usize, secs: u64, post: Write, want: u16) -> (f64, Stats) {
    let stop = Arc::new(AtomicBool::new(false));
    let resent = Arc::new(AtomicU64::new(0));
    // Idempotency keys unique to this round (the key is held per caller for a day).
    let run = format!("{}-{}-{}", std::process::id(), noizylab_tests::now(), ROUND.fetch_add(1, Ordering::Relaxed));
    let handles: Vec<_> = (0..clients)
        .map(|client| {
            let (url, auth, stop, resent) = (url.to_owned(), format!("Bearer {token}"), stop.clone(), resent.clone());
            let post = post.map(|(body, keyed)| (body.to_owned(), keyed));
            let run = run.clone();
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(30)))
                    .build()
                    .into();
                let send = |key: &str| match &post {
                    None => agent.get(&url).header("authorization", &auth).call(),
                    Some((body, true)) => agent
                        .post(&url)
                        .header("authorization", &auth)
                        .header("content-type", "application/json")
                        .header("idempotency-key", key)
                        .send(body.as_bytes()),
                    Some((body, false)) => agent
                        .post(&url)
                        .header("authorization", &auth)
                        .header("content-type", "application/json")
                        .send(body.as_bytes()),
                };
                let mut samples = Vec::new();
                let mut failed = 0u64;
                let mut first_failure: Option<String> = None;
                let mut sent = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    sent += 1;
                    let key = format!("bench-{run}-{client}-{sent}");
                    let start = Instant::now();
                    let answer = match send(&key) {
                        Err(ureq::Error::Io(_)) => {
                            resent.fetch_add(1, Ordering::Relaxed);
                            send(&key)
                        }
                        other => other,
                    };
                    match answer {
                        Ok(mut r) if r.status() == want => {
                            let _ = r.body_mut().read_to_vec();
                            samples.push(start.elapsed().as_secs_f64() * 1000.0);
                        }
                        Ok(r) => {
                            failed += 1;
                            first_failure.get_or_insert_with(|| format!("answered {}", r.status()));
                        }
                        Err(e) => {
                            failed += 1;
                            first_failure.get_or_insert_with(|| e.to_string());
                        }
                    }
                }
                (samples, failed, first_failure)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut failed = 0;
    let mut why = None;
    for h in handles {
        if let Ok((s, f, w)) = h.join() {
            all.extend(s);
            failed += f;
            why = why.or(w);
        }
    }
    assert_eq!(failed, 0, "{failed} requests to {url} failed or were refused, the first: {why:?}");
    let resent = resent.load(Ordering::Relaxed);
    if resent > 0 {
        println!(
            "  ({resent} of {} requests to {url} resent once: their kept-alive connection had been closed)",
            all.len()
        );
    }
    (all.len() as f64 / secs as f64, Stats { name: url.to_owned(), samples: all })
}

/// `--serve`: the project as `--peer` measures it (fresh state, a customer with 20
/// devices and a ticket), left running for an outside load generator or profiler; prints
/// `URL`, `TOKEN` and `TICKET` lines and stops when stdin closes.
fn serve_seeded() {
    use std::io::{BufRead, Write};
    let p = Platform::fresh_with("bench-serve", &[("NOIZYLAB_USER_RATE_LIMIT", "100000000")]);
    let customer = access(&sign_in(&p, &noizylab_tests::unique_email("bench-serve")));
    for i in 0..20 {
        let body = json!({ "name": format!("MacBook {i}"), "type": "laptop", "os": "macOS 14.1" });
        let r = authed(&p, "POST", "/api/v1/devices/register", &customer, Some(&body));
        expect(r.status, 201, "device");
    }
    let opened = authed(&p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "Bench" })));
    expect(opened.status, 201, "ticket");
    println!("URL {}", p.url("/api/v1/devices"));
    println!("TOKEN {customer}");
    println!("TICKET {}", opened.json()["id"].as_str().unwrap_or_default());
    let _ = std::io::stdout().flush();
    for _ in std::io::stdin().lock().lines() {}
    p.stop();
}

/// `./deploy.sh bench --peer`: the same authenticated route, `GET /api/v1/devices` for a
/// customer with 20 devices, on the TypeScript peer (`../shared/bench/peer-ts`, or
/// `NOIZYLAB_PEER`) and on the project: after a warm-up of both at once ([`WARM_UP_SECS`]),
/// in alternating rounds with one load generator, then side by side.
fn peer_comparison(quick: bool) {
    use std::io::BufRead;
    let dir = std::env::var("NOIZYLAB_PEER")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| noizylab_tests::repo().join("../shared/bench/peer-ts"));
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(8811);
    eprintln!("starting the TypeScript peer ({}) on :{port}…", dir.display());
    // Its own process group: stopping the peer must stop the workerd its Miniflare started.
    let mut peer = std::process::Command::new("node")
        .process_group(0)
        .arg("run.mjs")
        .current_dir(&dir)
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the peer (node run.mjs): build it first, see ../shared/bench/README.md");
    /// Stops the peer's whole process group (node and the workerd it started), even on a panic.
    struct Stop(u32);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = std::process::Command::new("kill").args(["-TERM", "--", &format!("-{}", self.0)]).status();
        }
    }
    let _stop = Stop(peer.id());
    // The release profile aborts on a panic, so no destructor runs then: a panic hook
    // (which runs before the abort) stops the peer too.
    let group = peer.id();
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = std::process::Command::new("kill").args(["-TERM", "--", &format!("-{group}")]).status();
        report(info);
    }));
    let mut peer_url = String::new();
    let mut peer_token = String::new();
    let out = std::io::BufReader::new(peer.stdout.take().expect("peer stdout"));
    for line in out.lines().map_while(Result::ok) {
        if let Some(url) = line.strip_prefix("READY ") {
            peer_url = url.trim().to_owned();
        }
        if let Some(token) = line.strip_prefix("TOKEN ") {
            peer_token = token.trim().to_owned();
            break;
        }
    }
    assert!(!peer_url.is_empty() && !peer_token.is_empty(), "the peer did not say READY and TOKEN");

    eprintln!("starting the project (fresh state)…");
    let p = Platform::fresh_with("bench-peer", &[("NOIZYLAB_USER_RATE_LIMIT", "100000000")]);
    let customer = access(&sign_in(&p, &noizylab_tests::unique_email("bench-peer")));
    for i in 0..20 {
        let body = json!({ "name": format!("MacBook {i}"), "type": "laptop", "os": "macOS 14.1" });
        let r = authed(&p, "POST", "/api/v1/devices/register", &customer, Some(&body));
        expect(r.status, 201, "device");
    }
    let ours = p.url("/api/v1/devices");
    let (clients, secs, rounds) = if quick { (16, 3, 1) } else { (16, 10, 5) };
    let pids = workerd_under(peer.id()).zip(workerd_under(p.pid()));
    warm_up(pids, (&peer_url, &peer_token), (&ours, &customer), clients, if quick { 6 } else { WARM_UP_SECS });
    println!("\nGET /api/v1/devices, customer with 20 devices, {clients} connections, {secs} s rounds, alternating\n");
    println!("{:<10} {:<8} {:>10} {:>9} {:>9}", "round", "side", "req/s", "p50 ms", "p99 ms");
    let (mut peer_rps, mut our_rps, mut peer_p50, mut our_p50) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Who goes first swaps every round (peer, project; project, peer; …), so that a machine
    // slowing down or speeding up through the run favours neither side.
    for round in 1..=rounds {
        let peer_first = round % 2 == 1;
        for ours_now in [!peer_first, peer_first] {
            let (side, url, token) =
                if ours_now { ("project", &ours, &customer) } else { ("peer", &peer_url, &peer_token) };
            let (rps, lat) = load(url, token, clients, secs);
            println!("{:<10} {:<8} {:>10.0} {:>9.2} {:>9.2}", round, side, rps, lat.pct(50.0), lat.pct(99.0));
            let (all_rps, all_p50) =
                if ours_now { (&mut our_rps, &mut our_p50) } else { (&mut peer_rps, &mut peer_p50) };
            all_rps.push(rps);
            all_p50.push(lat.pct(50.0));
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "\nthroughput project/peer: {:.2}× (rounds: {})",
        mean(&our_rps) / mean(&peer_rps),
        our_rps.iter().zip(&peer_rps).map(|(o, p)| format!("{:.2}", o / p)).collect::<Vec<_>>().join(", ")
    );
    println!("p50 project/peer: {:.2}× (lower is better)", mean(&our_p50) / mean(&peer_p50));
    side_by_side(pids, (&peer_url, &peer_token), (&ours, &customer), clients, secs, rounds);

    // The project's other authenticated routes, for scale (the peer has only the list).
    let opened = authed(&p, "POST", "/api/v1/tickets", &customer, Some(&json!({ "title": "Bench" })));
    expect(opened.status, 201, "ticket");
    let ticket = opened.json()["id"].as_str().unwrap_or_default().to_owned();
    let new_ticket = json!({ "title": "Screen flickers" }).to_string();
    println!("\nother authenticated routes, project only, {clients} connections, one {secs} s round each\n");
    println!("{:<40} {:>8} {:>9} {:>9}", "route", "req/s", "p50 ms", "p99 ms");
    let routes: [(&str, String, Write, u16); 5] = [
        ("GET /api/v1/devices", ours.clone(), None, 200),
        ("GET /api/v1/tickets/:id", p.url(&format!("/api/v1/tickets/{ticket}")), None, 200),
        ("GET /api/v1/tickets", p.url("/api/v1/tickets"), None, 200),
        ("POST /api/v1/tickets (write)", p.url("/api/v1/tickets"), Some((&new_ticket, false)), 201),
        ("POST /api/v1/tickets (Idempotency-Key)", p.url("/api/v1/tickets"), Some((&new_ticket, true)), 201),
    ];
    for (name, url, post, want) in routes {
        let (rps, lat) = load_with(&url, &customer, clients, secs, post, want);
        println!("{:<40} {:>8.0} {:>9.2} {:>9.2}", name, rps, lat.pct(50.0), lat.pct(99.0));
    }
    drop(_stop);
    let _ = peer.wait();
    p.stop();
}

/// How long both sides are loaded before anything is measured: one whole rate window.
/// A server in service has been serving for longer than that, and both sides change
/// under load until then: the project's wasm starts in V8's baseline compiler (Liftoff)
/// and is recompiled by its optimising one function by function as each gets hot, and
/// each side's `Gate` fills its minute's window (the peer's holds every hit of it, which
/// it filters on each request). Measuring earlier would compare a start, not a service.
const WARM_UP_SECS: u64 = 60;

/// The two workerd processes, the peer's and the project's (`None` if either was not found
/// under its launcher): whose CPU time is read.
type Workerds = Option<(u32, u32)>;

/// A side under load: its URL and the bearer token it is called with.
type Side<'a> = (&'a str, &'a str);

/// One stretch of `secs` with both sides loaded at once, `each` connections each: (peer
/// req/s, project req/s, project/peer CPU per request, NaN without the processes).
fn both_at_once(pids: Workerds, peer: Side, ours: Side, each: usize, secs: u64) -> (f64, f64, f64) {
    let ticks = |pid: Option<u32>| pid.and_then(cpu_ticks);
    let before = (ticks(pids.map(|p| p.0)), ticks(pids.map(|p| p.1)));
    let ((peer_rps, _), (our_rps, _)) = std::thread::scope(|s| {
        let peer = s.spawn(|| load(peer.0, peer.1, each, secs));
        let ours = s.spawn(|| load(ours.0, ours.1, each, secs));
        (peer.join().expect("peer load"), ours.join().expect("project load"))
    });
    let after = (ticks(pids.map(|p| p.0)), ticks(pids.map(|p| p.1)));
    let spent = |before: Option<u64>, after: Option<u64>| match (before, after) {
        (Some(b), Some(a)) => a.saturating_sub(b) as f64,
        _ => f64::NAN,
    };
    // Ticks per request on each side; the clock's tick length cancels in the ratio.
    let cpu_ratio = (spent(before.1, after.1) / our_rps) / (spent(before.0, after.0) / peer_rps);
    (peer_rps, our_rps, cpu_ratio)
}

/// Loads both sides at once for `secs` (see [`WARM_UP_SECS`]) in 10 s stretches and prints
/// each stretch's project/peer throughput: how the two compare from a cold start on.
fn warm_up(pids: Workerds, peer: Side, ours: Side, clients: usize, secs: u64) {
    let each = (clients / 2).max(1);
    let stretch = secs.min(10);
    let mut ratios = Vec::new();
    for _ in 0..secs.div_ceil(stretch) {
        let (peer_rps, our_rps, _) = both_at_once(pids, peer, ours, each, stretch);
        ratios.push(format!("{:.2}", our_rps / peer_rps));
    }
    println!(
        "\nwarm-up: both loaded at once for {secs} s ({each} connections each); project/peer req/s by {stretch} s from the first request: {}",
        ratios.join(", ")
    );
}

/// Both sides loaded at the same time, `clients / 2` connections each, for `rounds` rounds:
/// whatever slows the machine during a round slows both, which alternated rounds cannot
/// promise on a shared machine. Prints each side's req/s and the CPU its workerd spent per
/// request (from `/proc/<pid>/stat`), as ratios.
fn side_by_side(pids: Workerds, peer: Side, ours: Side, clients: usize, secs: u64, rounds: usize) {
    if pids.is_none() {
        println!("\nside by side: skipped (no workerd process found under the peer or the project)");
        return;
    }
    let each = (clients / 2).max(1);
    println!(
        "\nside by side: both loaded at once, {each} connections each, {secs} s rounds; CPU per request of each side's workerd\n"
    );
    println!(
        "{:<10} {:>12} {:>14} {:>14} {:>22}",
        "round", "peer req/s", "project req/s", "req/s ratio", "CPU/request ratio"
    );
    let (mut rps_ratios, mut cpu_ratios) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let (peer_rps, our_rps, cpu_ratio) = both_at_once(pids, peer, ours, each, secs);
        println!(
            "{:<10} {:>12.0} {:>14.0} {:>13.2}× {:>21.2}×",
            round,
            peer_rps,
            our_rps,
            our_rps / peer_rps,
            cpu_ratio
        );
        rps_ratios.push(our_rps / peer_rps);
        cpu_ratios.push(cpu_ratio);
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    println!(
        "side by side, project/peer: throughput {:.2}×, CPU per request {:.2}× (lower is better)",
        mean(&rps_ratios),
        mean(&cpu_ratios)
    );
}

/// The first `workerd` process among the descendants of `root`, through `/proc`.
fn workerd_under(root: u32) -> Option<u32> {
    let mut procs: Vec<(u32, u32, String)> = Vec::new(); // pid, parent, name
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let parent = stat[close + 1..].split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        procs.push((pid, parent, name));
    }
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (pid, _, name) in procs.iter().filter(|(_, p, _)| *p == parent) {
            if name == "workerd" {
                return Some(*pid);
            }
            frontier.push(*pid);
        }
    }
    None
}

/// User and system CPU ticks a process has spent (fields 14 and 15 of `/proc/<pid>/stat`).
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}
