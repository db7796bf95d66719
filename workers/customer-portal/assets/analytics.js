// The analytics dashboard (/portal/analytics): the shop's KPIs as tiles, revenue by day and
// device type, the revenue forecast with its 95% interval and the hours per stage drawn
// with Chart.js (npm `chart.js`, served from this site), and the technicians' table, with
// CSV downloads. It watches the count of events the read models have taken in and redraws
// when it moves, so numbers follow the shop's work as it happens. Managers see the shop;
// a technician sees their own row only. Loaded after app.js ($, el, api, money, download).
"use strict";

const WATCH_MS = 3000;
const pct = (x) => (x == null ? "—" : `${(x * 100).toFixed(1)}%`);
const hours = (x) => (x == null ? "—" : `${x.toFixed(1)} h`);
const PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563", "#db2777"];

/** Replaces a canvas's chart with a new one. */
const charts = {};
function draw(id, config) {
  charts[id]?.destroy();
  charts[id] = new Chart($(`#${id}`), { ...config, options: { animation: false, responsive: true, ...config.options } });
}

function tiles(k) {
  const rows = [
    ["Tickets opened", k.tickets.opened],
    ["Repairs completed", k.tickets.completed],
    ["Turnaround", hours(k.tickets.turnaround_hours)],
    ["First-time fix", pct(k.first_time_fix.rate)],
    ["QC first-pass yield", pct(k.qc_first_pass.yield)],
    ["Quote approval", pct(k.quotes.approval_rate)],
    ["Revenue", money(k.revenue.total_cents)],
    ["Average ticket", k.revenue.average_ticket_value_cents == null ? "—" : money(k.revenue.average_ticket_value_cents)],
    ["Margin", `${money(k.revenue.margin_cents)} (${pct(k.revenue.margin_rate)})`],
    ["Open tickets", Object.values(k.backlog).reduce((a, b) => a + b, 0)],
    ["Overdue", k.overdue],
    ["Scans", k.scans.count],
  ];
  $("#kpis").replaceChildren(...rows.map(([t, v]) => el("div", { "data-kpi": t }, el("dt", {}, t), el("dd", {}, String(v)))));
}

async function shop(k) {
  const [rev, fc] = await Promise.all([
    api("GET", "/api/v1/analytics/revenue?period=day&group_by=device_type"),
    api("GET", "/api/v1/analytics/forecast?metric=revenue&history_days=28&horizon_days=14"),
  ]);
  tiles(k);
  const days = [...new Set(rev.rows.map((r) => r.period))];
  const groups = [...new Set(rev.rows.map((r) => r.group))];
  draw("chart-revenue", {
    type: "bar",
    data: {
      labels: days,
      datasets: groups.map((g, i) => ({
        label: g, backgroundColor: PALETTE[i % PALETTE.length],
        data: days.map((d) => (rev.rows.find((r) => r.period === d && r.group === g)?.revenue_cents ?? 0) / 100),
      })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } } },
  });
  const labels = [...fc.history.map((p) => p.date), ...fc.forecast.map((p) => p.date)];
  const pad = fc.history.map(() => null);
  draw("chart-forecast", {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: "Revenue", data: [...fc.history.map((p) => p.value / 100), ...fc.forecast.map(() => null)], borderColor: PALETTE[0] },
        { label: "Forecast", data: [...pad, ...fc.forecast.map((p) => p.value / 100)], borderColor: PALETTE[2], borderDash: [6, 4] },
        { label: "95% interval (low)", data: [...pad, ...fc.forecast.map((p) => p.lower / 100)], borderColor: "transparent", pointRadius: 0 },
        { label: "95% interval", data: [...pad, ...fc.forecast.map((p) => p.upper / 100)], borderColor: "transparent",
          backgroundColor: "rgba(217,119,6,.18)", fill: "-1", pointRadius: 0 },
      ],
    },
    options: { plugins: { legend: { labels: { filter: (item) => !item.text.endsWith("(low)") } } } },
  });
  $("#fc-method").textContent = `Method: ${fc.method}.`;
  draw("chart-stages", {
    type: "bar",
    data: {
      labels: k.stages.map((s) => label(s.stage || "?")),
      datasets: [{ label: "Average hours", data: k.stages.map((s) => s.average_hours ?? 0), backgroundColor: PALETTE[1] }],
    },
    options: { indexAxis: "y" },
  });
}

async function technicians() {
  const t = await api("GET", "/api/v1/analytics/technicians");
  $("#techs tbody").replaceChildren(...t.technicians.map((r) => el("tr", { "data-technician": r.id },
    el("th", { scope: "row" }, r.name || r.email),
    el("td", {}, r.tickets_closed),
    el("td", {}, (r.bench_seconds / 3600).toFixed(1)),
    el("td", {}, pct(r.qc_pass_rate)),
    el("td", {}, r.rework),
    el("td", {}, r.messages_answered))));
}

pages.analytics = async () => {
  const managers = ["owner", "admin"].includes(session()?.role);
  $("#an-shop").hidden = !managers;
  $("#csv-revenue").addEventListener("click", () =>
    download("/api/v1/analytics/revenue/csv?period=day&group_by=device_type", "revenue.csv").catch((e) => notice(e.message, true)));
  $("#csv-techs").addEventListener("click", () =>
    download("/api/v1/analytics/technicians/csv", "technicians.csv").catch((e) => notice(e.message, true)));
  let seen = null;
  const refresh = async () => {
    // The KPIs say how many facts have been counted: redraw only when that moved.
    const k = managers ? await api("GET", "/api/v1/analytics/kpis") : null;
    const mark = k?.facts ?? 0;
    if (mark === seen) return;
    seen = mark;
    if (k) await shop(k);
    await technicians();
    $("#an-updated").textContent = `Updated ${new Date().toLocaleTimeString()}.`;
    document.body.dataset.facts = String(mark);
  };
  await refresh();
  setInterval(() => refresh().catch(() => {}), WATCH_MS);
};
