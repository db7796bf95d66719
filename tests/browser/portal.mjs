// The customer portal in a real browser (Debian's Chromium, headless, driven by
// playwright-core). Run by tests/tests/browser.rs, which owns the platform and the shop
// side of the story; the two talk over stdin/stdout:
//
//   → "approved"           after the customer approved the quote in the page
//   ← "moved"              once the technician has moved the ticket (through the API)
//   → "live-ok"            when the page shows the new status without a reload
//
// Screenshots of every page land in $SHOTS. Exits non-zero on any failure.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import path from "node:path";

const { BASE, EMAIL, TICKET, SHOTS } = process.env;
if (!BASE || !EMAIL || !TICKET || !SHOTS) throw new Error("BASE, EMAIL, TICKET and SHOTS are required");
mkdirSync(SHOTS, { recursive: true });

const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));
const say = (s) => process.stdout.write(`${s}\n`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } }); // a phone
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const ready = () => page.waitForSelector("body[data-ready=true]", { timeout: 15000 });

  // Sign in with the emailed code, read from the development outbox.
  await page.goto(`${BASE}/portal/`);
  await ready();
  await shot("01-sign-in");
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByRole("button", { name: "Email me a link" }).click();
  await page.waitForSelector("#code-form:not([hidden])");
  const outbox = await (await fetch(`${BASE}/api/v1/notifications/dev/outbox?to=${encodeURIComponent(EMAIL)}`)).json();
  const code = outbox.messages[0].body.split("code: ")[1].slice(0, 6);
  await page.getByLabel("6-digit code").fill(code);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL("**/portal/tickets");
  await ready();
  await page.waitForSelector(`a[href="/portal/tickets/${TICKET}"]`);
  await shot("02-tickets");

  await page.click(`a[href="/portal/tickets/${TICKET}"]`);
  await ready();
  await page.waitForSelector("#approve");
  await page.waitForSelector("#status[data-status=AWAITING_APPROVAL]");
  await shot("03-ticket-quote");
  await page.click("#approve");
  await page.waitForSelector("#status[data-status=APPROVED]", { timeout: 15000 });
  await page.waitForSelector("#pay");
  await shot("04-approved");
  say("approved");

  // The technician moves the ticket; the page must show it without a reload.
  const reloads = [];
  page.on("framenavigated", (f) => { if (f === page.mainFrame()) reloads.push(f.url()); });
  if ((await nextLine()) !== "moved") throw new Error("expected 'moved'");
  await page.waitForSelector("#status[data-status=IN_REPAIR]", { timeout: 15000 });
  if (reloads.length) throw new Error(`the page reloaded: ${reloads}`);
  await shot("05-live-status");
  say("live-ok");

  for (const [name, url] of [["06-devices", "/portal/devices"], ["07-loyalty", "/portal/loyalty"], ["08-account", "/portal/account"]]) {
    await page.goto(`${BASE}${url}`);
    await ready();
    await shot(name);
  }
  if (errors.length) throw new Error(`script errors in the page: ${errors.join("; ")}`);
  say("done");
} finally {
  await browser.close();
  lines.close();
}
