// The workflow builder (/portal/workflows): the workspace's workflows, the one in hand
// drawn as a graph with Cytoscape.js (npm `cytoscape`, served from this site), each step
// edited through a form and saved whole as the workflow's next version (the orchestrator
// checks it and names the step at fault), and its runs shown on the graph, live while
// they go; the webhook endpoints with their delivery logs, a delivery sent again from
// there. Loaded after app.js, whose helpers ($, el, api, notice, authedFetch) it uses.
"use strict";

const RUN_POLL_MS = 1500;
/** A history outcome → how the graph shows the step. */
const SHADE = {
  ok: "ok", approved: "ok", skipped: "skipped", failed: "failed", rejected: "failed",
  waiting: "active", started: "active", retry: "active", escalated: "active", reminded: "active",
};

/** The steps a step leads to, with the edge's name. */
function edgesOf(step) {
  const out = [];
  if (step.next) out.push([step.next, "next"]);
  if (step.type === "condition") {
    out.push([step.then, "then"]);
    if (step.else) out.push([step.else, "else"]);
  }
  if (step.type === "human_task") {
    out.push([step.approved, "approved"]);
    if (step.rejected) out.push([step.rejected, "rejected"]);
  }
  return out;
}

function summaryOf(step) {
  switch (step.type) {
    case "action": return step.action;
    case "condition": return step.expression;
    case "human_task": return `${step.title} (${step.assignee.role || step.assignee.user_id})`;
    case "delay": return `wait ${step.seconds} s`;
    case "notify": return `tell ${step.to}: ${step.subject}`;
    case "webhook": return `webhook ${step.endpoint_id}`;
    default: return step.type;
  }
}

/** Calls the API; a refusal's message names the field at fault. */
async function call(method, path, body) {
  const init = { method };
  if (body !== undefined) {
    init.headers = { "content-type": "application/json" };
    init.body = JSON.stringify(body);
  }
  const r = await authedFetch(path, init);
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) {
    const e = data?.error;
    throw new Error(e?.field ? `${e.field}: ${e.message}` : e?.message || `request failed (${r.status})`);
  }
  return data;
}

pages.workflows = async () => {
  let workflow = null; // the one in hand, as GET /api/v1/workflows/:id answers
  let graph = null;
  let picked = null; // the step in the form
  let run = null; // the run shown on the graph
  let timer = null;

  async function loadList(select) {
    const { workflows } = await call("GET", "/api/v1/workflows");
    $("#wf-list").replaceChildren(...workflows.map((w) => el("li", { "data-workflow": w.id },
      el("button", { type: "button", class: "link", onclick: () => open(w.id) }, w.name),
      " ", el("span", { class: "muted" }, `v${w.version} · ${w.enabled ? "on" : "off"} · ${w.trigger_event || w.trigger_type}`))));
    if (select) await open(select);
  }

  async function open(id) {
    workflow = await call("GET", `/api/v1/workflows/${id}`);
    picked = null;
    run = null;
    clearTimeout(timer);
    $("#step-form").hidden = true;
    $("#step-hint").hidden = false;
    for (const li of document.querySelectorAll("#wf-list li")) li.classList.toggle("current", li.dataset.workflow === id);
    $("#wf-name").textContent = workflow.name;
    $("#wf-version").textContent = `v${workflow.version}`;
    $("#wf-about").textContent = workflow.definition.description || "";
    const toggle = $("#wf-toggle");
    toggle.hidden = false;
    toggle.textContent = workflow.enabled ? "Disable" : "Enable";
    $("#wf-run").hidden = !workflow.enabled;
    draw();
    await loadRuns();
  }

  function draw() {
    const d = workflow.definition;
    const elements = [];
    for (const s of d.steps) {
      elements.push({ data: { id: s.id, label: `${s.id}\n${summaryOf(s)}`.slice(0, 80) } });
      for (const [to, name] of edgesOf(s)) elements.push({ data: { id: `${s.id}->${to}`, source: s.id, target: to, label: name } });
    }
    graph?.destroy();
    graph = cytoscape({
      container: $("#graph"),
      elements,
      userZoomingEnabled: false,
      boxSelectionEnabled: false,
      autoungrabify: true,
      layout: { name: "breadthfirst", directed: true, roots: [d.start], spacingFactor: 1.05, padding: 12 },
      style: [
        { selector: "node", style: {
          label: "data(label)", "text-wrap": "wrap", "text-max-width": 150, "text-valign": "center", "font-size": 10,
          shape: "round-rectangle", width: 160, height: 44, "background-color": "#eef1f6", "border-width": 1, "border-color": "#8a94a6" } },
        { selector: "edge", style: {
          label: "data(label)", "font-size": 9, "curve-style": "bezier", "target-arrow-shape": "triangle",
          width: 1.5, "line-color": "#8a94a6", "target-arrow-color": "#8a94a6", "text-background-color": "#fff",
          "text-background-opacity": 1 } },
        { selector: "node.ok", style: { "background-color": "#d5f0dc", "border-color": "#1e7b34" } },
        { selector: "node.active", style: { "background-color": "#fff1c7", "border-color": "#a66b00", "border-width": 2 } },
        { selector: "node.failed", style: { "background-color": "#fbd9d6", "border-color": "#b3261e", "border-width": 2 } },
        { selector: "node.skipped", style: { "background-color": "#eeeeee", "border-style": "dashed" } },
        { selector: "node.current", style: { "border-width": 3 } },
        { selector: "node:selected", style: { "border-color": "#1a56db", "border-width": 3 } },
      ],
    });
    graph.on("tap", "node", (e) => pick(e.target.id()));
    $("#graph").dataset.nodes = String(d.steps.length);
    $("#graph").dataset.edges = String(graph.edges().length);
    $("#steps").replaceChildren(...d.steps.map((s) => el("li", { "data-step": s.id, "data-kind": s.type },
      el("button", { type: "button", class: "link", onclick: () => pick(s.id) }, s.id), " ",
      el("span", { class: "muted" }, `${s.type.replace("_", " ")}: ${summaryOf(s)}`))));
    shade();
  }

  /** Colours the graph and the step list by the run's history (each step's last outcome). */
  function shade() {
    const last = {};
    for (const h of run?.history || []) last[h.step] = SHADE[h.outcome] || "active";
    if (run && ["running", "waiting"].includes(run.status) && run.current_step) last[run.current_step] ??= "active";
    for (const s of workflow.definition.steps) {
      const node = graph?.getElementById(s.id);
      node?.removeClass("ok active failed skipped current");
      if (last[s.id]) node?.addClass(last[s.id]);
      if (run?.current_step === s.id && run.status !== "succeeded") node?.addClass("current");
      const li = $(`#steps li[data-step="${s.id}"]`);
      if (li) {
        if (last[s.id]) li.dataset.outcome = last[s.id]; else delete li.dataset.outcome;
      }
    }
  }

  async function loadRuns() {
    const { runs } = await call("GET", `/api/v1/workflows/runs?workflow_id=${workflow.id}&limit=20`);
    $("#runs").replaceChildren(...runs.map((r) => el("li", { "data-run": r.id, "data-status": r.status },
      el("button", { type: "button", class: "link", onclick: () => show(r.id) }, `${r.status}`), " ",
      el("span", { class: "muted" }, `v${r.version} · ${when(r.started_at)}${r.error ? ` · ${r.error}` : ""}`))));
  }

  async function show(id) {
    clearTimeout(timer);
    run = await call("GET", `/api/v1/workflows/runs/${id}`);
    $("#run-status").textContent = `${run.status} (v${run.version})`;
    $("#run-status").dataset.status = run.status;
    $("#run-status").dataset.run = run.id;
    for (const li of document.querySelectorAll("#runs li")) li.classList.toggle("current", li.dataset.run === id);
    $("#history").replaceChildren(...run.history.map((h) => el("li", { "data-step": h.step, "data-outcome": h.outcome },
      el("strong", {}, `${h.step}: ${h.outcome}`), ` · try ${h.attempt} · ${h.ms} ms · ${when(h.started_at)}`,
      h.error ? el("div", { class: "muted" }, h.error) : "")));
    // Runs are drawn with the definition they run (a newer version may differ).
    if (run.version === workflow.version) shade();
    if (["running", "waiting"].includes(run.status)) {
      timer = setTimeout(async () => {
        try { await show(id); await loadRuns(); } catch (err) { notice(err.message, true); }
      }, RUN_POLL_MS);
    }
  }

  function field(label, name, value, attrs = {}) {
    const id = `f-${name}`;
    const input = attrs.multiline
      ? el("textarea", { id, name, rows: "4" })
      : el("input", { id, name, ...attrs });
    input.value = value ?? "";
    return [el("label", { for: id }, label), input];
  }

  function choice(label, name, value, options) {
    const id = `f-${name}`;
    const select = el("select", { id, name }, ...options.map(([v, text]) => el("option", { value: v }, text)));
    select.value = value ?? "";
    return [el("label", { for: id }, label), select];
  }

  async function pick(id) {
    picked = workflow.definition.steps.find((s) => s.id === id);
    if (!picked) return;
    graph?.elements().unselect();
    graph?.getElementById(id).select();
    const s = picked;
    const others = [["", "(the run ends)"], ...workflow.definition.steps.filter((x) => x.id !== s.id).map((x) => [x.id, x.id])];
    const parts = [el("p", {}, el("strong", {}, s.id), ` · ${s.type.replace("_", " ")}`)];
    if (s.type === "action") {
      const { actions } = await call("GET", "/api/v1/workflows/actions");
      parts.push(...choice("Action", "action", s.action, actions.map((a) => [a.name, `${a.name} — ${a.what}`])));
      parts.push(...field("Input (JSON; {{event.…}} and {{steps.<id>.…}} are filled in)", "input", JSON.stringify(s.input || {}, null, 1), { multiline: true }));
    } else if (s.type === "condition") {
      parts.push(...field("Condition", "expression", s.expression));
      parts.push(...choice("When it holds, go to", "then", s.then, others.slice(1)));
      parts.push(...choice("Otherwise", "else", s.else, others));
    } else if (s.type === "human_task") {
      parts.push(...field("Task title", "title", s.title));
      parts.push(...field("Hours before it is escalated", "timeout_hours", s.timeout_hours, { type: "number", min: "1", max: "720" }));
    } else if (s.type === "delay") {
      parts.push(...field("Seconds to wait", "seconds", s.seconds, { type: "number", min: "1" }));
    } else if (s.type === "notify") {
      parts.push(...choice("Tell", "to", s.to, [["customer", "the customer"], ["team", "the team"], ["managers", "the managers"]]));
      parts.push(...field("Subject", "subject", s.subject));
      parts.push(...field("Text", "text", s.text, { multiline: true }));
    }
    if (!["condition", "human_task"].includes(s.type)) {
      parts.push(...choice("Then", "next", s.next, others));
      parts.push(...choice("If it fails for good", "on_failure", s.on_failure || "fail",
        [["fail", "the run fails (dead letters)"], ["skip", "skip it"], ["ask", "ask the admins"]]));
    }
    parts.push(el("button", { type: "submit" }, "Save as a new version"));
    const form = $("#step-form");
    const fresh = form.cloneNode(false); // drops the last step's submit handler
    fresh.replaceChildren(...parts);
    fresh.dataset.step = s.id;
    fresh.hidden = false;
    form.replaceWith(fresh);
    $("#step-hint").hidden = true;
    onSubmit(fresh, save);
  }

  async function save(f) {
    const s = { ...picked };
    const num = (name) => Number(f.get(name));
    const opt = (name) => f.get(name) || undefined;
    if (s.type === "action") {
      s.action = f.get("action");
      try { s.input = JSON.parse(f.get("input") || "{}"); } catch { throw new Error(`steps.${s.id}: the input is not JSON`); }
    } else if (s.type === "condition") {
      Object.assign(s, { expression: f.get("expression"), then: f.get("then"), else: opt("else") });
    } else if (s.type === "human_task") {
      Object.assign(s, { title: f.get("title"), timeout_hours: num("timeout_hours") });
    } else if (s.type === "delay") {
      s.seconds = num("seconds");
    } else if (s.type === "notify") {
      Object.assign(s, { to: f.get("to"), subject: f.get("subject"), text: f.get("text") });
    }
    if (!["condition", "human_task"].includes(s.type)) Object.assign(s, { next: opt("next"), on_failure: f.get("on_failure") });
    for (const k of Object.keys(s)) if (s[k] === undefined) delete s[k];
    const d = workflow.definition;
    const definition = { ...d, steps: d.steps.map((x) => (x.id === s.id ? s : x)) };
    const saved = await call("PUT", `/api/v1/workflows/${workflow.id}`, definition);
    notice(`Saved as version ${saved.version}: new runs start with it.`);
    await loadList();
    await open(saved.id);
    await pick(s.id);
  }

  async function loadHooks() {
    const { endpoints } = await call("GET", "/api/v1/workflows/webhooks");
    $("#hooks").replaceChildren(...endpoints.map((e) => el("li", { "data-endpoint": e.id },
      el("button", { type: "button", class: "link", onclick: () => deliveries(e.id) }, e.description || e.url), " ",
      el("span", { class: "muted" }, `${e.events.join(", ")}${e.enabled ? "" : " · removed"}`))));
    if (!endpoints.length) $("#hooks").append(el("li", { class: "muted" }, "No endpoints: add one through the API."));
  }

  /** An endpoint's delivery log, each with a button to send it again. */
  async function deliveries(endpoint) {
    const { deliveries: log } = await call("GET", `/api/v1/workflows/webhooks/${endpoint}/deliveries`);
    $("#deliveries").replaceChildren(...log.map((d) => el("li", { "data-delivery": d.id, "data-status": d.status },
      el("strong", {}, `${d.event}: ${d.status}`),
      ` · ${d.attempts} ${d.attempts === 1 ? "try" : "tries"}${d.last_status ? ` · last answer ${d.last_status}` : ""} · ${when(d.created_at)} `,
      el("button", { type: "button", class: "secondary", onclick: async () => {
        try {
          await call("POST", `/api/v1/workflows/webhooks/deliveries/${d.id}/replay`);
          notice("Sent again.");
          setTimeout(() => deliveries(endpoint).catch((err) => notice(err.message, true)), RUN_POLL_MS);
        } catch (err) { notice(err.message, true); }
      } }, "Send again"))));
  }

  $("#wf-toggle").addEventListener("click", async () => {
    try {
      await call("POST", `/api/v1/workflows/${workflow.id}/${workflow.enabled ? "disable" : "enable"}`);
      await loadList(workflow.id);
    } catch (err) { notice(err.message, true); }
  });
  $("#wf-run").addEventListener("click", async () => {
    try {
      const started = await call("POST", `/api/v1/workflows/${workflow.id}/runs`, { input: {} });
      notice("Started: the graph follows the run.");
      await loadRuns();
      await show(started.id);
    } catch (err) { notice(err.message, true); }
  });
  await loadList(new URLSearchParams(location.search).get("workflow"));
  await loadHooks();
};
