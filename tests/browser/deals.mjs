// Parts deals on the workbench in a real browser (Debian's Chromium, headless,
// playwright-core): the manager sees what an eBay watch found, best first, asks to buy
// the best one, approves the request, and sees the purchase order it placed. Run by
// tests/tests/browser.rs, which owns the platform (with an eBay stand-in) and made the
// watch find its deals. Prints the purchase order's id, then "done".
//
// Screenshots land in $SHOTS. Exits non-zero on any failure.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { signIn } from "./signin.mjs";

const { BASE, STAFF_EMAIL, DEAL, SHOTS } = process.env;
if (!BASE || !STAFF_EMAIL || !DEAL || !SHOTS) throw new Error("BASE, STAFF_EMAIL, DEAL and SHOTS are required");
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const bench = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  const errors = [];
  bench.on("pageerror", (e) => errors.push(e.message));
  const shot = (name) => bench.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  await signIn(bench, BASE, STAFF_EMAIL);
  await bench.goto(`${BASE}/portal/workbench`);
  await bench.waitForSelector("body[data-ready=true]");
  const deal = bench.locator(`#deals li[data-deal="${DEAL}"]`);
  await deal.waitFor();
  // The best deal is listed first, with its score, seller and landed cost.
  const first = await bench.locator("#deals li.deal").first().getAttribute("data-deal");
  if (first !== DEAL) throw new Error(`the best deal is not listed first (${first})`);
  const text = await deal.innerText();
  for (const want of ["72/100", "jedeh-telecom", "100.0 % positive", "landed", "under stock cost"]) {
    if (!text.includes(want)) throw new Error(`the deal does not show "${want}": ${text}`);
  }
  await shot("deals-00-found");

  await deal.getByLabel("Quantity").fill("2");
  await deal.getByRole("button", { name: "Ask to buy" }).click();
  await bench.waitForSelector(`#deals li[data-deal="${DEAL}"] [data-request]`);
  await shot("deals-01-asked");

  await deal.getByRole("button", { name: "Approve and buy" }).click();
  const bought = bench.locator(`#deals li[data-deal="${DEAL}"] .bought[data-po^="po_"]`);
  await bought.waitFor();
  await shot("deals-02-bought");
  process.stdout.write(`${await bought.getAttribute("data-po")}\n`);
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  process.stdout.write("done\n");
} finally {
  await browser.close();
}
