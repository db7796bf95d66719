// The analytics dashboard in a real browser (Debian's Chromium, headless, playwright-core):
// a manager opens "Numbers" and sees the KPI tiles and the charts drawn from the shop's
// real work (tests/tests/browser.rs made it: repairs paid, a quote declined); then a
// ticket moves on (the Rust side, when this script prints "watching") and the page redraws
// by itself with one more stage counted; the revenue CSV downloads. Prints "done".
//
// Screenshots land in $SHOTS. Exits non-zero on any failure.
import { chromium } from "playwright-core";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { signIn } from "./signin.mjs";

const { BASE, STAFF_EMAIL, REVENUE, SHOTS } = process.env;
if (!BASE || !STAFF_EMAIL || !REVENUE || !SHOTS) throw new Error("BASE, STAFF_EMAIL, REVENUE and SHOTS are required");
mkdirSync(SHOTS, { recursive: true });
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1100 }, acceptDownloads: true });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const failed = [];
  page.on("response", (r) => { if (r.status() >= 400) failed.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`); });
  const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  await signIn(page, BASE, STAFF_EMAIL);
  await page.getByRole("link", { name: "Numbers" }).click();
  await page.waitForURL("**/portal/analytics");
  await page.waitForSelector("body[data-ready=true]");
  await page.waitForSelector("body[data-facts]");

  // The tiles say what the shop did; the charts are drawn (Chart.js sets the canvas size).
  const tile = async (name) => (await page.locator(`#kpis div[data-kpi="${name}"] dd`).innerText()).trim();
  if ((await tile("Repairs completed")) !== "2") throw new Error(`completed: ${await tile("Repairs completed")}`);
  if ((await tile("Quote approval")) !== "66.7%") throw new Error(`approval: ${await tile("Quote approval")}`);
  const revenue = await tile("Revenue");
  // REVENUE is in cents; the tile is the amount in the browser's locale.
  if (revenue.replace(/\D/g, "") !== REVENUE) throw new Error(`revenue tile ${revenue}, expected ${REVENUE} cents`);
  for (const id of ["chart-revenue", "chart-forecast", "chart-stages"]) {
    const drawn = await page.evaluate((id) => Boolean(window.Chart?.getChart(id)?.data?.datasets?.length), id);
    if (!drawn) throw new Error(`${id} was not drawn`);
  }
  const bars = await page.evaluate(() => window.Chart.getChart("chart-revenue").data.datasets.map((d) => d.label).sort().join(","));
  if (bars !== "laptop,phone") throw new Error(`revenue by device type: ${bars}`);
  if ((await page.locator("#techs tbody tr").count()) < 2) throw new Error("the technicians' table is empty");
  await shot("analytics-00-dashboard");

  // Live: the Rust side moves a ticket on; the page notices the new facts and redraws.
  const before = Number(await page.locator("body").getAttribute("data-facts"));
  const stagesBefore = await page.evaluate(() => window.Chart.getChart("chart-stages").data.labels.length);
  process.stdout.write("watching\n");
  await lines.next();
  await page.waitForFunction((n) => Number(document.body.dataset.facts) > n, before, { timeout: 20000 });
  const stagesAfter = await page.evaluate(() => window.Chart.getChart("chart-stages").data.labels.length);
  if (stagesAfter <= stagesBefore) throw new Error(`stages ${stagesBefore} → ${stagesAfter}: no new stage drawn`);
  await shot("analytics-01-live");

  // The CSV downloads and opens: a header and a row per day and device type.
  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#csv-revenue").click()]);
  const csv = readFileSync(await download.path(), "utf8").trim().split("\n");
  if (csv[0] !== "day,device_type,revenue,payments" || csv.length < 3) throw new Error(`the CSV: ${csv.join(" | ")}`);
  if (failed.length) throw new Error(`failed requests: ${failed.join("; ")}`);
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  process.stdout.write("done\n");
} catch (err) {
  // Said on stderr; stdin's reader would otherwise keep the process (and the test) waiting.
  console.error(err);
  process.exitCode = 1;
} finally {
  await browser.close();
  process.exit();
}
