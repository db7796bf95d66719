// NoizyLab customer portal: the little script behind the server-rendered pages. It keeps
// the session (access + refresh token) in localStorage, calls the API on the same origin,
// and renders each page's data. The ticket page follows its ticket live through the
// ticket's room (a WebSocket entered with a single-use room ticket), with a slow poll as
// a safety net.
"use strict";

const SESSION = "noizylab.session";
const POLL_MS = 15000;

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, props = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
};
const money = (cents, currency) =>
  new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "CAD" }).format(cents / 100);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");
const label = (status) => status.replaceAll("_", " ").toLowerCase();

function session() {
  try { return JSON.parse(localStorage.getItem(SESSION) || "null"); } catch { return null; }
}
function saveSession(pair) {
  localStorage.setItem(SESSION, JSON.stringify({
    access: pair.access_token, refresh: pair.refresh_token, email: pair.email, role: pair.role, user: pair.user_id,
  }));
}
function signOut() {
  localStorage.removeItem(SESSION);
  location.assign("/portal/");
}

function notice(text, error = false) {
  const box = $("#notice");
  box.textContent = text;
  box.className = error ? "notice error" : "notice";
  box.hidden = false;
  delete box.dataset.event;
  if (error) box.focus();
}

/** An in-app notice from the person's inbox: its title, its text, a link to what it is about. */
function inApp(f) {
  const box = $("#notice");
  box.replaceChildren(el("strong", {}, f.title), " ", f.text, ...(f.url ? [" ", el("a", { href: f.url }, "Open")] : []));
  box.className = "notice";
  box.dataset.event = f.event;
  box.hidden = false;
}

let refreshing = null;
async function refresh() {
  const s = session();
  if (!s) return false;
  refreshing ??= fetch("/api/v1/auth/refresh", {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ refresh_token: s.refresh }),
  }).then(async (r) => {
    if (!r.ok) return false;
    saveSession(await r.json());
    return true;
  }).finally(() => { refreshing = null; });
  return refreshing;
}

/** Fetches with the session's token; signs in again through the refresh token once on a 401. */
async function authedFetch(path, init = {}, retry = true) {
  const s = session();
  const headers = { ...(init.headers || {}) };
  if (s) headers.authorization = `Bearer ${s.access}`;
  const r = await fetch(path, { ...init, headers });
  if (r.status === 401 && retry && s && (await refresh())) return authedFetch(path, init, false);
  if (r.status === 401 && document.body.dataset.page !== "signin") {
    signOut();
    throw new Error("signed out");
  }
  return r;
}

/** Calls the API with a JSON body (or none, or raw bytes with `raw`); the JSON answer. */
async function api(method, path, body, { raw = false } = {}) {
  const init = { method };
  if (raw) init.body = body;
  else if (body !== undefined) {
    init.headers = { "content-type": "application/json" };
    init.body = JSON.stringify(body);
  }
  const r = await authedFetch(path, init);
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) throw new Error(data?.error?.message || `request failed (${r.status})`);
  return data;
}

/** A protected image as a data: URL (the page's CSP allows images from here and data:). */
async function imageUrl(path) {
  const r = await authedFetch(path);
  if (!r.ok) throw new Error(`image failed (${r.status})`);
  const blob = await r.blob();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

/** Downloads a protected file under `name`. */
async function download(path, name) {
  const r = await authedFetch(path);
  if (!r.ok) throw new Error(`download failed (${r.status})`);
  const url = URL.createObjectURL(await r.blob());
  el("a", { href: url, download: name }).click();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function busy(form, on) {
  for (const b of form.querySelectorAll("button")) b.disabled = on;
}

function onSubmit(form, handler) {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    busy(form, true);
    try { await handler(new FormData(form)); } catch (err) { if (err.message !== "signed out") notice(err.message, true); }
    finally { busy(form, false); }
  });
}

/**
 * Enters a live room (a ticket's or a chat's): mints a single-use room ticket at `mint`,
 * connects, and hands every frame to `onFrame`. Reconnects with the last sequence seen,
 * so nothing is missed; with `replay`, the first connection replays the room from the
 * start. Returns `send(frame)` (false while disconnected) and `close()`.
 */
function live(mint, onFrame, { replay = false, mark = true, body } = {}) {
  let last = 0;
  let delay = 1000;
  let socket = null;
  let closed = false;
  const open = async () => {
    if (closed) return;
    try {
      const { path } = await api("POST", mint, body);
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const since = last || replay ? `&since=${last}` : "";
      socket = new WebSocket(`${scheme}://${location.host}${path}${since}`);
      socket.onmessage = (e) => {
        const frame = JSON.parse(e.data);
        if (frame.seq) last = Math.max(last, frame.seq);
        if (frame.type === "hello") { delay = 1000; if (mark) document.body.dataset.live = "true"; }
        onFrame(frame);
      };
      socket.onclose = () => {
        if (mark) document.body.dataset.live = "false";
        if (!closed) { setTimeout(open, delay); delay = Math.min(delay * 2, 30000); }
      };
    } catch {
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 30000);
    }
  };
  open();
  return {
    send: (frame) => socket?.readyState === 1 && (socket.send(JSON.stringify(frame)), true),
    close: () => { closed = true; socket?.close(); },
  };
}

/** Calls `changed` whenever the ticket's room says the ticket moved or was written to. */
function follow(ticket, changed) {
  return live(`/api/v1/tickets/${ticket}/live/ticket`, (frame) => {
    if (["status", "event", "message", "progress"].includes(frame.type)) changed(frame);
  });
}

/** One line of a conversation: who said it, when, what. */
function chatLine(f, me) {
  if (f.type === "event") return el("li", { class: "event" }, el("div", { class: "muted" }, f.text || f.event));
  const who = f.role === "agent" ? "agent" : f.role === "staff" ? "staff" : "customer";
  return el("li", { class: `${who}${f.visibility === "internal" ? " internal" : ""}${who === me ? " me" : ""}` },
    el("div", {}, f.text), el("div", { class: "muted" }, `${f.from} · ${when(f.at)}`));
}

// ---- pages ----

// Set by the workbench: redraws its deals when the inbox says one was found.
let onDealFound = null;

const pages = {
  async signin() {
    const params = new URLSearchParams(location.search);
    const token = params.get("token");
    if (token) {
      const pair = await api("POST", "/api/v1/auth/verify", { token });
      saveSession(pair);
      return location.assign("/portal/tickets");
    }
    onSubmit($("#email-form"), async (f) => {
      const asked = await api("POST", "/api/v1/auth/magic-link", { email: f.get("email") });
      $("#code-form [name=email]").value = f.get("email");
      // The code works only with the challenge of the request that sent it.
      $("#code-form [name=challenge]").value = asked.challenge;
      $("#code-form").hidden = false;
      notice("Check your email: click the link, or type the 6-digit code here.");
      $("#code-form [name=code]").focus();
    });
    onSubmit($("#code-form"), async (f) => {
      const pair = await api("POST", "/api/v1/auth/login", {
        email: f.get("email"),
        code: f.get("code").trim(),
        challenge: f.get("challenge"),
      });
      saveSession(pair);
      location.assign("/portal/tickets");
    });
  },

  async devices() {
    const render = async () => {
      const { devices } = await api("GET", "/api/v1/devices");
      const list = $("#devices");
      list.replaceChildren(...devices.map((d) =>
        el("li", {}, el("span", {}, el("strong", {}, d.name), " ", el("span", { class: "muted" }, [d.make, d.model].filter(Boolean).join(" "))),
          el("span", { class: "muted" }, d.type))));
      if (!devices.length) list.replaceChildren(el("li", { class: "muted" }, "No devices yet."));
    };
    onSubmit($("#device-form"), async (f) => {
      const body = { name: f.get("name"), type: f.get("type") };
      for (const k of ["make", "model", "serial"]) if (f.get(k)) body[k] = f.get(k);
      await api("POST", "/api/v1/devices/register", body);
      $("#device-form").reset();
      notice("Device registered.");
      await render();
    });
    await render();
  },

  async tickets() {
    const { devices } = await api("GET", "/api/v1/devices");
    $("#ticket-device").append(...devices.map((d) => el("option", { value: d.id }, d.name)));
    const render = async () => {
      const { tickets } = await api("GET", "/api/v1/tickets");
      const list = $("#tickets");
      list.replaceChildren(...tickets.map((t) =>
        el("li", {}, el("a", { href: `/portal/tickets/${t.id}` }, `#${t.number} ${t.title}`),
          el("span", { class: `status ${t.status}` }, label(t.status)))));
      if (!tickets.length) list.replaceChildren(el("li", { class: "muted" }, "No repairs yet."));
    };
    onSubmit($("#ticket-form"), async (f) => {
      const body = { title: f.get("title") };
      if (f.get("description")) body.description = f.get("description");
      if (f.get("device_id")) body.device_id = f.get("device_id");
      const t = await api("POST", "/api/v1/tickets", body);
      location.assign(`/portal/tickets/${t.id}`);
    });
    await render();
  },

  async ticket() {
    const id = document.body.dataset.ticket;
    let last = "";
    // Voice mode (the customer's preference): a status change is read aloud.
    let spokenStatus = null;
    const voiceMode = await api("GET", "/api/v1/users/preferences").then((p) => p.voice_mode === true, () => false);
    const speakStatus = async (status) => {
      spokenStatus = status;
      if (!voiceMode) return;
      try {
        const r = await authedFetch(`/api/v1/voice/tickets/${id}/status`);
        if (!r.ok) return;
        const url = URL.createObjectURL(await r.blob());
        const player = $("#voice");
        player.src = url;
        player.hidden = false;
        player.dataset.status = status;
        await player.play().catch(() => {}); // a browser may want a click first: the controls are there
      } catch { /* speech is a courtesy: the page says the same in text */ }
    };
    const render = async () => {
      const view = await api("GET", `/api/v1/tickets/${id}`);
      const t = view.ticket;
      const key = `${t.status}|${t.updated_at}|${view.timeline.length}|${t.quote_id}`;
      if (key === last) return;
      const first = last === "";
      last = key;
      $("#title").textContent = `#${t.number} ${t.title}`;
      const status = $("#status");
      status.textContent = label(t.status);
      status.className = `status ${t.status}`;
      status.dataset.status = t.status;
      if (!first) {
        $("#live").textContent = `Status: ${label(t.status)}`;
        if (t.status !== spokenStatus) speakStatus(t.status);
      }
      $("#description").textContent = t.description || "";
      $("#timeline").replaceChildren(...view.timeline.map((e) => el("li", {},
        el("div", {}, e.kind === "status" ? `${label(e.from_status || "")} → ${label(e.to_status)}` : e.kind === "created" ? "Ticket opened" : e.body),
        el("div", { class: "muted" }, when(e.at), e.kind === "status" && e.body ? ` · ${e.body}` : ""))));
      await renderQuote(t);
    };
    const renderQuote = async (t) => {
      const box = $("#quote");
      if (!t.quote_id) return box.replaceChildren(el("p", { class: "muted" }, "No quote yet: we will send one after diagnosis."));
      const q = await api("GET", `/api/v1/pricing/quotes/${t.quote_id}`);
      const b = q.breakdown;
      const rows = [["Diagnostic", b.diagnostic], ["Labour", b.labor], ["Parts", b.parts], ["Urgency", b.urgency_fee],
        ["Discount", -b.discount], ["Tax", b.tax]].filter(([, v]) => v);
      box.replaceChildren(
        el("p", {}, el("span", { class: `status ${q.status}` }, q.status), " ", `valid until ${when(q.expires_at)}`),
        el("table", {}, el("tbody", {}, ...rows.map(([k, v]) => el("tr", {}, el("th", { scope: "row" }, k), el("td", { class: "num" }, money(v, q.currency)))),
          el("tr", {}, el("th", { scope: "row" }, "Total"), el("td", { class: "num", id: "quote-total" }, money(q.total, q.currency))))),
        el("details", {}, el("summary", {}, "How this price was worked out"),
          el("ul", {}, ...q.explanation.map((f) => el("li", {}, `${f.note}: ${money(f.effect_cents, q.currency)}`)))),
      );
      if (q.status === "issued") {
        const reason = el("textarea", { id: "decline-reason", name: "reason" });
        box.append(
          el("button", { id: "approve", onclick: async (e) => {
            e.target.disabled = true;
            try { await api("POST", `/api/v1/pricing/quotes/${q.quote_id}/approve`); notice("Thank you: the repair is approved."); last = ""; await render(); }
            catch (err) { notice(err.message, true); e.target.disabled = false; }
          } }, `Approve ${money(q.total, q.currency)}`),
          el("label", { for: "decline-reason" }, "Not now? Tell us why"), reason,
          el("button", { class: "secondary", onclick: async () => {
            try { await api("POST", `/api/v1/pricing/quotes/${q.quote_id}/decline`, { reason: reason.value }); notice("Quote declined."); last = ""; await render(); }
            catch (err) { notice(err.message, true); }
          } }, "Decline"));
      }
      if (q.status === "approved") {
        const { invoices } = await api("GET", "/api/v1/invoices");
        const inv = invoices.find((i) => i.quote_id === q.quote_id);
        if (inv?.status === "paid") box.append(el("p", { class: "status paid", id: "paid" }, `Paid ${when(inv.paid_at)}`));
        else box.append(el("button", { id: "pay", onclick: async (e) => {
          e.target.disabled = true;
          try { const c = await api("POST", "/api/v1/payments/checkout", { quote_id: q.quote_id }); location.assign(c.checkout_url); }
          catch (err) { notice(err.message, true); e.target.disabled = false; }
        } }, `Pay ${money(q.total, q.currency)}`));
      }
    };
    onSubmit($("#message-form"), async (f) => {
      await api("POST", `/api/v1/tickets/${id}/messages`, { body: f.get("body") });
      $("#message-form").reset();
      await render();
    });
    await render();
    follow(id, () => render().catch(() => {}));
    setInterval(() => render().catch(() => {}), POLL_MS);
  },

  async loyalty() {
    const l = await api("GET", "/api/v1/loyalty");
    $("#points").textContent = l.points;
    $("#tier").textContent = l.tier;
    $("#next").textContent = l.next_tier ? `${l.points_to_next_tier} points to ${l.next_tier}` : "You are at the top tier.";
    $("#history").replaceChildren(...l.history.map((h) => el("li", {}, el("span", {}, h.reason), el("span", {}, `${h.points > 0 ? "+" : ""}${h.points}`))));
    if (!l.history.length) $("#history").replaceChildren(el("li", { class: "muted" }, "Points arrive with your first paid repair."));
  },

  async workbench() {
    let socket = null;
    let inChat = false;
    const renderBoard = async () => {
      const { columns } = await api("GET", "/api/v1/tickets/board");
      $("#board").replaceChildren(...columns.filter((c) => c.count).map((c) => el("div", { class: "column" },
        el("h3", {}, `${label(c.status)} (${c.count})`),
        ...c.tickets.map((t) => el("button", { type: "button", class: `card-btn ${t.priority}`, "data-ticket": t.id,
          onclick: () => open(t) }, `#${t.number} ${t.title}`)))));
      if (!columns.some((c) => c.count)) $("#board").replaceChildren(el("p", { class: "muted" }, "No open tickets."));
    };
    const line = (f) => {
      const what = f.type === "status" ? `${label(f.from_status || "")} → ${label(f.to_status || "")}`
        : f.type === "checklist" ? `${f.done ? "☑" : "☐"} ${f.item}` : f.type === "event" ? f.event : f.text;
      return el("li", { class: f.visibility }, el("div", {}, what), el("div", { class: "muted" }, `${f.from} · ${when(f.at)}`));
    };
    const moves = async (t) => {
      const view = await api("GET", `/api/v1/tickets/${t.id}`);
      // Quote moves happen through the quote, QC → READY through a passed inspection.
      const elsewhere = ["AWAITING_APPROVAL", "APPROVED", ...(view.ticket.status === "QC" ? ["READY"] : [])];
      $("#moves").replaceChildren(...view.allowed_moves.filter((m) => !elsewhere.includes(m)).map((m) =>
        el("button", { type: "button", class: "secondary", onclick: async () => {
          try { await api("POST", `/api/v1/tickets/${t.id}/status`, { to: m }); await renderBoard(); await moves(t); }
          catch (err) { notice(err.message, true); }
        } }, `→ ${label(m)}`)));
    };
    // Quality control: the inspection of a ticket in QC (or the last one's result).
    // Refreshes run one at a time, and the panel is redrawn only when what it shows
    // changed (a room replays its status frames on entry, each asking for a refresh).
    let qcShown = "";
    let qcQueue = Promise.resolve();
    const qc = (t) => (qcQueue = qcQueue.then(() => qcNow(t)).catch((err) => notice(err.message, true)));
    const qcNow = async (t) => {
      const box = $("#qc");
      const [view, { inspections }] = await Promise.all([
        api("GET", `/api/v1/tickets/${t.id}`), api("GET", `/api/v1/qc/inspections?ticket_id=${encodeURIComponent(t.id)}`),
      ]);
      const latest = inspections.find((i) => i.status !== "cancelled");
      const inQc = view.ticket.status === "QC";
      box.hidden = !inQc && !latest;
      if (box.hidden) return;
      if (inQc && (!latest || latest.status !== "open")) {
        const key = `start:${latest?.id}:${latest?.status}`;
        if (key === qcShown) return;
        qcShown = key;
        const startButton = el("button", { type: "button", id: "qc-start", onclick: async () => {
          try { renderInspection(t, await api("POST", "/api/v1/qc/inspections", { ticket_id: t.id })); }
          catch (err) { notice(err.message, true); }
        } }, latest ? "Inspect again" : "Start the inspection");
        $("#qc-body").replaceChildren(...(latest ? [result(latest)] : []), startButton);
        return;
      }
      renderInspection(t, latest);
    };
    const result = (i) => {
      const o = i.outcome;
      const words = o.result === "passed" ? "Passed: the ticket is ready."
        : o.result === "failed" ? "Failed: back to repair." : `${o.missing.length} checkpoint(s) to record.`;
      const out = el("div", { id: "qc-result", class: `qc-result ${o.result}`, "data-result": o.result, role: "status" },
        el("strong", {}, words));
      if (o.result === "failed") {
        out.append(el("ul", { class: "rework" }, ...o.rework.map((v) => {
          const c = i.checkpoints.find((c) => c.id === v.checkpoint);
          return el("li", {}, `${c ? c.label : v.checkpoint}: ${v.detail}`);
        })));
      }
      if (i.report_pdf_url) {
        out.append(el("button", { type: "button", class: "secondary", onclick: () =>
          download(i.report_pdf_url, `qc-report-${i.ticket_number}.pdf`).catch((err) => notice(err.message, true)) },
        "Download the QC report"));
      }
      return out;
    };
    const record = async (t, i, c, answer) => {
      try {
        const after = await api("POST", `/api/v1/qc/inspections/${i.id}/checkpoints/${c.id}`, answer);
        renderInspection(t, after);
        if (after.status !== "open") await Promise.all([renderBoard(), moves(t)]);
      } catch (err) { notice(err.message, true); }
    };
    const control = (t, i, c) => {
      const id = `qc-${c.id}`;
      if (c.kind === "manual") {
        return el("div", { class: "qc-actions" },
          el("button", { type: "button", "aria-label": `${c.label}: pass`, onclick: () => record(t, i, c, { passed: true }) }, "Pass"),
          el("button", { type: "button", class: "danger", "aria-label": `${c.label}: fail`, onclick: () => record(t, i, c, { passed: false }) }, "Fail"));
      }
      if (c.kind === "measurement") {
        const form = el("form", { class: "qc-actions" },
          el("label", { for: id }, `Reading (${c.unit}, allowed ${c.min}–${c.max})`),
          el("input", { id, name: "value", type: "number", step: "any", required: "", inputmode: "decimal" }),
          el("button", { type: "submit" }, "Record"));
        form.addEventListener("submit", (e) => {
          e.preventDefault();
          record(t, i, c, { value: Number(form.value.value) });
        });
        return form;
      }
      const form = el("form", { class: "qc-actions" },
        el("label", { for: id }, "Photo of the whole board"),
        el("input", { id, name: "photo", type: "file", accept: "image/png,image/jpeg", required: "" }),
        el("button", { type: "submit" }, "Analyse"));
      form.addEventListener("submit", async (e) => {
        e.preventDefault();
        const file = form.photo.files[0];
        if (!file) return;
        busy(form, true);
        try {
          const name = encodeURIComponent(file.name || "board.jpg");
          const att = await api("POST", `/api/v1/tickets/${t.id}/attachments?filename=${name}`, file, { raw: true });
          await record(t, i, c, { attachment_id: att.id });
        } catch (err) { notice(err.message, true); } finally { busy(form, false); }
      });
      return form;
    };
    const renderInspection = (t, i) => {
      const key = JSON.stringify([i.id, i.status, i.checkpoints.map((c) => Boolean(c.answer))]);
      if (key === qcShown) return;
      qcShown = key;
      const items = i.checkpoints.map((c) => {
        const a = c.answer;
        const li = el("li", { class: a ? (a.passed ? "pass" : "fail") : "", "data-checkpoint": c.id },
          el("div", {}, el("strong", {}, c.label), a ? ` ${a.passed ? "✔ pass" : "✘ fail"}: ${a.detail}` : ""));
        if (!a && i.status === "open") li.append(control(t, i, c));
        if (a?.overlay_url) {
          const img = el("img", { class: "overlay", alt: `${c.label}: the photo with the defects found outlined` });
          li.append(img);
          imageUrl(a.overlay_url).then((u) => { img.src = u; img.dataset.loaded = "true"; }).catch((err) => notice(err.message, true));
        }
        return li;
      });
      $("#qc-body").replaceChildren(
        el("p", { class: "muted" }, `Inspection ${i.attempt > 1 ? `${i.attempt} (after rework)` : "1"} · ${i.device_type} · `,
          el("span", { class: `status ${i.status}`, id: "qc-status", "data-status": i.status }, i.status)),
        el("ol", { class: "qc-points" }, ...items),
        result(i));
    };
    const enter = async ({ title, mint, ticket = null, chat = false }) => {
      socket?.close();
      inChat = chat;
      $("#room-title").textContent = title;
      $("#feed").replaceChildren();
      $("#note-form").hidden = false;
      $("#note-form").customer.checked = chat;
      $("#moves").replaceChildren();
      qcShown = "";
      if (ticket) {
        await Promise.all([moves(ticket), qc(ticket)]);
        const { guides } = await api("GET", "/api/v1/guides");
        $("#guides").replaceChildren(...(guides.length ? ["Guides: "] : []), ...guides.slice(0, 8).flatMap((g, i) => [
          ...(i ? [" · "] : []),
          el("a", { href: `/portal/guides/${g.id}?ticket=${ticket.id}` }, `${g.title} (${g.device_model})`),
        ]));
      } else $("#guides").replaceChildren();
      if (!ticket) $("#qc").hidden = true;
      voiceNotes(ticket).catch((err) => notice(err.message, true));
      socket = live(mint, (f) => {
        if (f.type === "presence") $("#presence").textContent = f.members.map((m) => m.name + (m.step ? ` (${m.step})` : "")).join(", ");
        else if (f.type === "typing") $("#typing").textContent = f.on ? `${f.from} is typing…` : "";
        else if (f.seq) {
          $("#feed").append(chat ? chatLine(f, "staff") : line(f));
          if (f.type === "status" && ticket) { renderBoard(); moves(ticket); qc(ticket); }
          // A voice note another technician recorded appears for everyone in the room.
          if (f.type === "event" && f.event === "ticket.attachment_added" && ticket) voiceNotes(ticket).catch(() => {});
        } else if (f.type === "error") notice(f.message, true);
      }, { replay: true });
    };
    const open = (t) => enter({ title: `#${t.number} ${t.title}`, mint: `/api/v1/tickets/${t.id}/live/ticket`, ticket: t });
    // Voice notes: the ticket's audio attachments, played from their authenticated
    // download; recorded here (MediaRecorder: WebM/Opus) or uploaded, kept internal.
    let vnTicket = null;
    const voiceNotes = async (t) => {
      vnTicket = t;
      const box = $("#voice-notes");
      box.hidden = !t;
      if (!t) return;
      const view = await api("GET", `/api/v1/tickets/${t.id}`);
      const notes = view.attachments.filter((a) => a.content_type.startsWith("audio/"));
      $("#vn-list").replaceChildren(...(notes.length ? notes.map((a) => {
        const player = el("audio", { controls: "", preload: "metadata", "data-attachment": a.id });
        authedFetch(`/api/v1/tickets/${t.id}/attachments/${a.id}`).then((r) => r.blob())
          .then((b) => { player.src = URL.createObjectURL(b); }).catch((err) => notice(err.message, true));
        return el("li", {}, el("div", {}, `${a.filename} · ${when(a.created_at)}`), player);
      }) : [el("li", { class: "muted" }, "None yet.")]));
    };
    const uploadNote = async (blob, name) => {
      if (!vnTicket) return;
      await api("POST", `/api/v1/tickets/${vnTicket.id}/attachments?filename=${encodeURIComponent(name)}&visibility=internal`, blob, { raw: true });
      notice("Voice note saved.");
      await voiceNotes(vnTicket);
    };
    $("#vn-file").addEventListener("change", (e) => {
      const file = e.target.files[0];
      if (file) uploadNote(file, file.name).catch((err) => notice(err.message, true)).finally(() => { e.target.value = ""; });
    });
    let recorder = null;
    $("#vn-record").addEventListener("click", async () => {
      const button = $("#vn-record");
      if (recorder) { recorder.stop(); return; }
      try {
        const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
        const chunks = [];
        recorder = new MediaRecorder(stream);
        recorder.ondataavailable = (e) => chunks.push(e.data);
        recorder.onstop = () => {
          stream.getTracks().forEach((track) => track.stop());
          recorder = null;
          button.textContent = "Record a voice note";
          const stamp = new Date().toISOString().slice(0, 19).replaceAll(":", "-");
          uploadNote(new Blob(chunks, { type: chunks[0]?.type || "audio/webm" }), `voice-note-${stamp}.webm`)
            .catch((err) => notice(err.message, true));
        };
        recorder.start();
        button.textContent = "Stop and save";
      } catch (err) { notice(`The microphone could not be used: ${err.message}`, true); }
    });
    const renderChats = async () => {
      const { conversations } = await api("GET", "/api/v1/chat/conversations?status=waiting");
      $("#chats").replaceChildren(...conversations.map((c) => el("li", {},
        el("span", {}, `${c.customer_name}${c.ticket_number ? ` · #${c.ticket_number}` : ""}: ${c.escalation_reason || "asked for help"}`),
        el("button", { type: "button", class: "secondary", "data-chat": c.id, onclick: async () => {
          await enter({ title: `Chat with ${c.customer_name}`, mint: `/api/v1/chat/conversations/${c.id}/live/ticket`, chat: true });
          renderChats();
        } }, "Join"))));
      if (!conversations.length) $("#chats").replaceChildren(el("li", { class: "muted" }, "Nobody is waiting."));
    };
    const form = $("#note-form");
    // Typing is sent when it starts or stops, not per keystroke: rooms hold each socket to
    // a frame rate.
    let typing = false;
    form.text.addEventListener("input", () => {
      const on = form.text.value.length > 0;
      if (on !== typing && socket?.send({ type: "typing", on })) typing = on;
    });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (!socket?.send({ type: form.customer.checked ? "message" : "note", text: form.text.value })) {
        return notice("Not connected to the room yet.", true);
      }
      socket.send({ type: "typing", on: false });
      typing = false;
      form.reset();
      form.customer.checked = inChat;
    });
    // Parts deals: what the eBay watches found, best first; staff ask to buy one, an owner
    // or admin approves (and so buys) or rejects the request. Nothing is bought here
    // without that approval.
    const manager = ["owner", "admin"].includes(session()?.role);
    // `typed`: what the person had already typed into this deal's form before a redraw.
    const askForm = (d, typed) => {
      const f = el("form", { class: "inline", "data-ask": d.id },
        el("label", {}, "Quantity ", el("input", { name: "quantity", type: "number", min: "1", max: "1000", value: typed?.quantity ?? "1", required: "" })),
        el("label", {}, "Arrives at ", el("input", { name: "location", value: typed?.location ?? "main", required: "", maxlength: "60" })),
        el("button", { type: "submit" }, "Ask to buy"));
      onSubmit(f, async (data) => {
        await api("POST", `/api/v1/deals/${d.id}/purchase-requests`,
          { quantity: Number(data.get("quantity")), location: data.get("location") });
        await renderDeals();
      });
      return f;
    };
    const pending = (r) => {
      if (!manager) return el("span", { class: "muted" }, `${r.quantity} asked: waiting for a manager`);
      const why = el("input", { name: "why", maxlength: "500", "aria-label": "Why not", placeholder: "why not (to reject)" });
      const decide = (verb, body) => async () => {
        try { await api("POST", `/api/v1/deals/purchase-requests/${r.id}/${verb}`, body()); await renderDeals(); }
        catch (err) { notice(err.message, true); }
      };
      return el("div", { class: "inline", "data-request": r.id }, `${r.quantity} asked `,
        el("button", { type: "button", onclick: decide("approve", () => ({})) }, "Approve and buy"),
        why, el("button", { type: "button", class: "secondary", onclick: decide("reject", () => ({ note: why.value })) }, "Reject"));
    };
    const renderDeals = async () => {
      const [{ deals }, { purchase_requests: asked }] = await Promise.all([
        api("GET", "/api/v1/deals"), api("GET", "/api/v1/deals/purchase-requests"),
      ]);
      if (!deals.length) {
        $("#deals").replaceChildren(el("p", { class: "muted" }, "No deals yet: the watches search eBay every 30 minutes."));
        return;
      }
      // A redraw (a deal found meanwhile, say) keeps what was being typed into a form.
      const typed = new Map([...document.querySelectorAll("#deals form[data-ask]")].map((f) =>
        [f.dataset.ask, { quantity: f.elements.quantity.value, location: f.elements.location.value }]));
      $("#deals").replaceChildren(el("ul", { class: "list" }, ...deals.slice(0, 10).map((d) => {
        const r = asked.find((x) => x.deal_id === d.id && x.status !== "rejected");
        const saving = d.stock_cost_cents - d.landed_cents;
        const feedback = d.seller_feedback_permille == null ? "no feedback" : `${(d.seller_feedback_permille / 10).toFixed(1)} % positive`;
        const state = !r ? askForm(d, typed.get(d.id)) : r.status === "pending" ? pending(r)
          : el("span", { class: "bought", "data-po": r.purchase_order_id || "" },
            r.purchase_order_id ? `Bought: purchase order ${r.purchase_order_id}` : "Approved");
        return el("li", { class: "deal", "data-deal": d.id },
          el("div", {},
            el("div", {}, el("strong", {}, `${d.score}/100 `),
              d.url ? el("a", { href: d.url, target: "_blank", rel: "noopener noreferrer" }, d.title) : d.title),
            el("div", { class: "muted" }, `${d.seller} (${feedback}) · ${d.condition || "condition unknown"} · ships from ${d.country || "?"}`),
            el("div", {}, `${money(d.landed_cents, d.currency)} landed · `,
              saving >= 0 ? `${money(saving, d.currency)} under stock cost` : `${money(-saving, d.currency)} over stock cost`)),
          state);
      })));
    };
    // My tasks: the workflow decisions waiting for this person (or their role), each with
    // its form, a comment, approve and reject.
    const renderTasks = async () => {
      const { tasks } = await api("GET", "/api/v1/tasks");
      if (!tasks.length) {
        $("#tasks").replaceChildren(el("li", { class: "muted" }, "Nothing waiting for you."));
        return;
      }
      $("#tasks").replaceChildren(...tasks.map((t) => {
        const form = el("form", { class: "task-form" });
        for (const f of t.form || []) {
          const id = `task-${t.id}-${f.name}`.replace(/[^a-zA-Z0-9_-]/g, "-");
          const input = f.kind === "boolean" ? el("input", { id, name: f.name, type: "checkbox" })
            : el("input", { id, name: f.name, type: f.kind === "number" ? "number" : "text", ...(f.required ? { required: "" } : {}) });
          form.append(el("label", { for: id }, f.label), input);
        }
        const cid = `task-${t.id}-comment`.replace(/[^a-zA-Z0-9_-]/g, "-");
        form.append(el("label", { for: cid }, "Comment"), el("input", { id: cid, name: "comment", maxlength: "2000" }));
        const decide = (decision) => async () => {
          const answers = {};
          for (const f of t.form || []) {
            const input = form.elements[f.name];
            if (f.kind === "boolean") answers[f.name] = input.checked;
            else if (input.value !== "") answers[f.name] = f.kind === "number" ? Number(input.value) : input.value;
          }
          if (decision === "approve" && !form.reportValidity()) return;
          try {
            await api("POST", `/api/v1/tasks/${encodeURIComponent(t.id)}/decision`,
              { decision, comment: form.elements.comment.value || undefined, answers });
            notice(decision === "approve" ? "Approved: the workflow goes on." : "Rejected.");
            await renderTasks();
          } catch (err) { notice(err.message, true); }
        };
        form.append(el("div", { class: "inline" },
          el("button", { type: "button", onclick: decide("approve") }, "Approve"),
          el("button", { type: "button", class: "secondary", onclick: decide("reject") }, "Reject")));
        form.addEventListener("submit", (e) => e.preventDefault());
        const who = t.assignee.type === "role" ? `for ${t.assignee.role}s` : "for you";
        return el("li", { class: "task", "data-task": t.id },
          el("div", {}, el("strong", {}, t.title)),
          el("div", { class: "muted" }, `${t.workflow} · ${who} · due ${when(t.due_at)}${t.escalated_at ? " · escalated" : ""}`),
          form);
      }));
    };
    onDealFound = () => renderDeals().catch(() => {});
    await renderTasks().catch((err) => notice(err.message, true));
    setInterval(() => renderTasks().catch(() => {}), 10000);
    await renderChats();
    setInterval(() => renderChats().catch(() => {}), 5000);
    await renderBoard();
    await renderDeals();
  },

  async guide() {
    const id = document.body.dataset.guide;
    const ticket = new URLSearchParams(location.search).get("ticket");
    const g = await api("GET", `/api/v1/guides/${id}`);
    $("#guide-title").textContent = `${g.title} · ${g.device_model}`;
    const viewer = $("#viewer");
    const nodes = new Map((g.model?.model?.nodes || []).map((n) => [n.name, n]));
    const position = (node) => nodes.get(node)?.center?.map((v) => `${v}m`).join(" ");
    if (g.model) {
      viewer.addEventListener("load", () => { viewer.dataset.loaded = "true"; }, { once: true });
      const r = await authedFetch(g.model.url);
      if (!r.ok) throw new Error(`the model could not be loaded (${r.status})`);
      viewer.src = URL.createObjectURL(await r.blob());
    } else {
      $("#stage").hidden = true;
    }
    // A hotspot on the model at a node's centre.
    const hotspot = (slot, node, text, cls) => {
      viewer.querySelector(`[slot="${slot}"]`)?.remove();
      const at = position(node);
      if (!at) return;
      viewer.append(el("div", { slot, class: `hotspot ${cls}`, "data-position": at, "data-node": node }, text));
    };
    let at = 0;
    const mine = ticket && session()?.user
      ? (await api("GET", `/api/v1/guides/${id}/progress?ticket_id=${encodeURIComponent(ticket)}`)).technicians
        .find((t) => t.technician_id === session().user)
      : null;
    if (mine) at = Math.min(mine.step, g.steps.length) - 1;
    let room = null;
    const show = () => {
      const s = g.steps[at];
      $("#step-n").textContent = at + 1;
      $("#step-count").textContent = g.steps.length;
      $("#step-title").textContent = s.title;
      $("#step-text").textContent = s.text;
      $("#step-facts").replaceChildren(
        ...(s.minutes ? [el("li", {}, `About ${s.minutes} min`)] : []),
        ...s.tools.map((t) => el("li", {}, `Tool: ${t}`)),
        ...s.warnings.map((w) => el("li", { class: "warning" }, `⚠ ${w}`)));
      if (s.node) hotspot("hotspot-step", s.node, `Step ${at + 1}: ${s.node}`, "step");
      else viewer.querySelector('[slot="hotspot-step"]')?.remove();
      if (s.camera?.orbit) viewer.cameraOrbit = s.camera.orbit;
      if (s.camera?.target) viewer.cameraTarget = s.camera.target;
      $("#prev").disabled = at === 0;
      $("#next").textContent = at === g.steps.length - 1 ? "Complete the guide" : "Next step";
      $("#mark-part").hidden = !s.node || !ticket;
      document.body.dataset.step = String(at + 1);
      room?.send({ type: "presence", step: `step ${at + 1}: ${s.title}` });
    };
    const record = async (completed) => {
      if (!ticket) return;
      await api("PUT", `/api/v1/guides/${id}/progress`, { ticket_id: ticket, step: at + 1, completed });
    };
    $("#prev").addEventListener("click", () => { at = Math.max(0, at - 1); show(); });
    $("#next").addEventListener("click", async () => {
      try {
        if (at === g.steps.length - 1) {
          await record(true);
          notice("Guide completed.");
          $("#next").disabled = true;
          return;
        }
        at += 1;
        show();
        await record(false);
      } catch (err) { notice(err.message, true); }
    });
    show();
    if (!ticket) return;
    // The live annotation room: markers on parts and points, arrows, notes.
    const drawn = new Map();
    const arrows = $("#arrows");
    const draw = (a) => {
      if (a.op === "remove") {
        drawn.get(a.id)?.forEach((n) => n.remove());
        drawn.delete(a.id);
        $(`#annotations [data-id="${a.id}"]`)?.remove();
        return;
      }
      const label = a.text || (a.shape === "arrow" ? "arrow" : "marker");
      const made = [];
      if (a.node) {
        hotspot(`hotspot-${a.id}`, a.node, label, `live ${a.shape}`);
        made.push(viewer.querySelector(`[slot="hotspot-${a.id}"]`));
      } else if (a.point) {
        const pin = el("div", { class: `pin ${a.shape}`, "data-id": a.id }, label);
        pin.style.left = `${a.point.x * 100}%`;
        pin.style.top = `${a.point.y * 100}%`;
        $("#stage").append(pin);
        made.push(pin);
        if (a.shape === "arrow" && a.to) {
          const line = document.createElementNS("http://www.w3.org/2000/svg", "line");
          for (const [k, v] of [["x1", a.point.x], ["y1", a.point.y], ["x2", a.to.x], ["y2", a.to.y]]) line.setAttribute(k, `${v * 100}%`);
          arrows.append(line);
          made.push(line);
        }
      }
      drawn.set(a.id, made.filter(Boolean));
      $("#annotations").append(el("li", { "data-id": a.id },
        el("span", {}, `${a.from}: ${label}${a.node ? ` on ${a.node}` : ""}${a.step ? ` (step ${a.step})` : ""}`),
        el("button", { type: "button", class: "secondary", onclick: () => room?.send({ type: "annotate", op: "remove", id: a.id }) }, "Remove")));
    };
    room = live(`/api/v1/guides/${id}/live/ticket`, (f) => {
      if (f.type === "annotation") draw(f);
      else if (f.type === "hello") { $("#room-state").textContent = "Live with the team."; show(); }
      else if (f.type === "presence") $("#room-state").textContent = `Here: ${f.members.map((m) => m.name + (m.step ? ` (${m.step})` : "")).join(", ")}`;
      else if (f.type === "error") notice(f.message, true);
    }, { replay: true, body: { ticket_id: ticket } });
    const text = () => $("#mark-text").value.trim() || undefined;
    $("#note-mark").addEventListener("submit", (e) => e.preventDefault());
    $("#stage").addEventListener("click", (e) => {
      if (e.target.closest(".pin, .hotspot")) return;
      const box = $("#stage").getBoundingClientRect();
      const point = { x: (e.clientX - box.left) / box.width, y: (e.clientY - box.top) / box.height };
      if (!room.send({ type: "annotate", op: "add", shape: text() ? "note" : "marker", point, text: text(), step: at + 1 })) {
        notice("Not connected to the room yet.", true);
      }
    });
    $("#mark-part").addEventListener("click", () => {
      const node = g.steps[at].node;
      if (node && !room.send({ type: "annotate", op: "add", shape: "marker", node, text: text(), step: at + 1 })) {
        notice("Not connected to the room yet.", true);
      }
    });
  },

  async chat() {
    const ticket = new URLSearchParams(location.search).get("ticket");
    const query = ticket ? `?ticket_id=${encodeURIComponent(ticket)}` : "";
    const { conversations } = await api("GET", `/api/v1/chat/conversations${query}`);
    let c = conversations.find((x) => x.status !== "closed" && (ticket ? x.ticket_id === ticket : !x.ticket_id));
    if (!c) c = await api("POST", "/api/v1/chat/conversations", ticket ? { ticket_id: ticket } : {});
    if (c.ticket_number) $("#chat-about").textContent = `About repair #${c.ticket_number}`;
    const log = $("#chat-log");
    const room = live(`/api/v1/chat/conversations/${c.id}/live/ticket`, (f) => {
      if (f.type === "typing") $("#chat-typing").textContent = f.on ? `${f.from} is typing…` : "";
      else if (f.type === "error") notice(f.message, true);
      else if (f.seq && (f.type === "message" || f.type === "event")) {
        log.append(chatLine(f, "customer"));
        log.lastElementChild.scrollIntoView({ block: "nearest" });
      }
    }, { replay: true });
    const form = $("#chat-form");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const text = form.text.value.trim();
      if (!text) return;
      if (!room.send({ type: "message", text })) return notice("Reconnecting… try again in a moment.", true);
      form.reset();
    });
    $("#escalate").addEventListener("click", async () => {
      const r = await api("POST", `/api/v1/chat/conversations/${c.id}/escalate`, {});
      notice(r.escalated ? "A technician has been asked to join." : "A person already has this conversation.");
    });
  },

  async account() {
    const [me, prefs] = await Promise.all([api("GET", "/api/v1/users/profile"), api("GET", "/api/v1/users/preferences")]);
    const pf = $("#profile-form");
    pf.name.value = me.name || "";
    $("#email").textContent = me.email;
    onSubmit(pf, async (f) => { await api("PUT", "/api/v1/users/profile", { name: f.get("name") }); notice("Saved."); });
    const prf = $("#prefs-form");
    prf.email.checked = prefs.notifications.email;
    prf.sms.checked = prefs.notifications.sms;
    prf.push.checked = prefs.notifications.push;
    prf.timezone.value = prefs.timezone;
    onSubmit(prf, async (f) => {
      await api("PUT", "/api/v1/users/preferences", {
        timezone: f.get("timezone"), notifications: { email: prf.email.checked, sms: prf.sms.checked, push: prf.push.checked },
      });
      notice("Preferences saved.");
    });
    $("#export").addEventListener("click", async () => {
      const data = await api("GET", "/api/v1/users/me/export");
      const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
      el("a", { href: url, download: "noizylab-export.json" }).click();
    });
    onSubmit($("#delete-form"), async (f) => {
      await api("DELETE", "/api/v1/users/me", { confirm: f.get("confirm") });
      signOut();
    });
  },
};

document.addEventListener("DOMContentLoaded", async () => {
  const page = document.body.dataset.page;
  const out = $("#sign-out");
  if (out) out.addEventListener("click", async () => { try { await api("POST", "/api/v1/auth/logout"); } finally { signOut(); } });
  if (page !== "signin" && !session()) return location.assign("/portal/");
  const staff = ["owner", "admin", "technician"].includes(session()?.role);
  for (const a of document.querySelectorAll('a[href="/portal/workbench"], a[href="/portal/analytics"], a[href="/docs"]')) a.hidden = !staff;
  // Workflows are managed by owners and admins.
  const managers = ["owner", "admin"].includes(session()?.role);
  for (const a of document.querySelectorAll('a[href="/portal/workflows"]')) a.hidden = !managers;
  try { await pages[page]?.(); } catch (err) { if (err.message !== "signed out") notice(err.message, true); }
  // In-app notices: whatever the hub sends this person while a page is open.
  if (page !== "signin") {
    live("/api/v1/users/me/live/ticket", (f) => {
      if (f.type === "event" && f.title) inApp(f);
      if (f.type === "event" && f.event === "deal.found") onDealFound?.();
    }, { mark: false });
  }
  document.body.dataset.ready = "true";
});
