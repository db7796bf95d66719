// The API reference page (/docs) in a real browser (Debian's Chromium, headless, driven by
// playwright-core). Run by tests/tests/browser.rs: loads the page, waits for Redoc to render
// the document the gateway serves, checks that every operation group is shown and that the
// page raised no error and broke no rule of its Content-Security-Policy, and saves a
// screenshot. Prints "rendered <n> operations" and exits 0, or exits non-zero.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import path from "node:path";

const { BASE, SHOTS } = process.env;
if (!BASE || !SHOTS) throw new Error("BASE and SHOTS are required");
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`${r.status()} for ${r.url()}`);
  });
  const elsewhere = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(BASE) && !r.url().startsWith("blob:") && !r.url().startsWith("data:")) elsewhere.push(r.url());
  });
  await page.goto(`${BASE}/docs`);
  // Redoc renders one operation per described route, each with its own anchor.
  await page.waitForSelector("[data-section-id^='operation/']", { timeout: 30000 });
  await page.getByRole("heading", { name: /NoizyLab OS API/ }).first().waitFor({ timeout: 10000 });
  const operations = await page.locator("[data-section-id^='operation/']").count();
  const spec = await (await fetch(`${BASE}/api/v1/openapi.json`)).json();
  const described = Object.values(spec.paths).reduce((n, item) => n + Object.keys(item).length, 0);
  if (operations < described) problems.push(`rendered ${operations} operations of ${described}`);
  if (elsewhere.length) problems.push(`loaded from elsewhere: ${elsewhere.join(", ")}`);
  await page.screenshot({ path: path.join(SHOTS, "api-reference.png"), fullPage: false });
  if (problems.length) {
    console.error(problems.join("\n"));
    process.exitCode = 1;
  } else {
    process.stdout.write(`rendered ${operations} operations\n`);
  }
} finally {
  await browser.close();
}
