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
import { fileURLToPath } from "node:url";
import { signIn } from "./signin.mjs";

const { BASE, EMAIL, TICKET, SHOTS, STAFF_EMAIL } = process.env;
if (!BASE || !EMAIL || !TICKET || !SHOTS) throw new Error("BASE, EMAIL, TICKET and SHOTS are required");
mkdirSync(SHOTS, { recursive: true });

const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));
const say = (s) => process.stdout.write(`${s}\n`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    // The workbench records a voice note: a fake microphone (a tone), allowed without asking.
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"],
});
try {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } }); // a phone
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  const ready = () => page.waitForSelector("body[data-ready=true]", { timeout: 15000 });

  await signIn(page, BASE, EMAIL, { shots: SHOTS, name: "01-sign-in" });
  if (await page.isVisible('a[href="/portal/workbench"]')) throw new Error("a customer sees the workbench link");
  await page.waitForSelector(`a[href="/portal/tickets/${TICKET}"]`);
  await shot("02-tickets");

  await page.click(`a[href="/portal/tickets/${TICKET}"]`);
  await ready();
  await page.waitForSelector("#approve");
  await page.waitForSelector("#status[data-status=AWAITING_APPROVAL]");
  await page.waitForSelector("body[data-live=true]", { timeout: 15000 }); // in the ticket's room
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
  // Voice mode is on: the new status is read aloud — real MP3 the browser decodes.
  await page.waitForSelector("#voice[data-status=IN_REPAIR]:not([hidden])", { timeout: 15000 });
  await page.waitForFunction(() => document.querySelector("#voice").readyState >= 1 && document.querySelector("#voice").duration > 0,
    null, { timeout: 15000 });
  // The same move arrives as an in-app notice from the customer's inbox.
  await page.waitForSelector('#notice[data-event="ticket.status_changed"] a[href="/portal/tickets/' + TICKET + '"]', { timeout: 15000 });
  await shot("05-live-status");
  say("live-ok");

  for (const [name, url] of [["06-devices", "/portal/devices"], ["07-loyalty", "/portal/loyalty"], ["08-account", "/portal/account"]]) {
    await page.goto(`${BASE}${url}`);
    await ready();
    await shot(name);
  }
  // The API reference is for the shop's staff: a customer's footer does not offer it.
  if (await page.locator("#api-reference").isVisible()) throw new Error("a customer is offered the API reference");
  // Help: the customer chats about the repair; the assistant answers, then they ask for a person.
  await page.goto(`${BASE}/portal/tickets/${TICKET}`);
  await ready();
  await page.click("#chat-link");
  await ready();
  await page.waitForSelector("#chat-log li.agent");
  await page.getByLabel("Your message").fill("What are your opening hours?");
  await page.getByRole("button", { name: "Send" }).click();
  await page.waitForFunction(() => [...document.querySelectorAll("#chat-log li.agent")].some((li) => li.textContent.includes("Monday")));
  await page.getByRole("button", { name: "Talk to a person" }).click();
  await page.waitForFunction(() => [...document.querySelectorAll("#chat-log li.event")].some((li) => li.textContent.includes("technician")));
  await shot("10-chat");

  // The technician's side: the workbench shows the board and the ticket's live room.
  if (STAFF_EMAIL) {
    const bench = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    bench.on("pageerror", (e) => errors.push(e.message));
    await signIn(bench, BASE, STAFF_EMAIL);
    await bench.goto(`${BASE}/portal/workbench`);
    await bench.waitForSelector("body[data-ready=true]");
    if (!(await bench.locator("#api-reference").isVisible())) throw new Error("staff are not offered the API reference");
    await bench.click(`button[data-ticket="${TICKET}"]`);
    await bench.waitForSelector("#feed li");
    await bench.getByLabel("Write").fill("Fan bearing worn; replacing the assembly");
    await bench.getByRole("button", { name: "Send" }).click();
    await bench.waitForFunction(() => [...document.querySelectorAll("#feed li")].some((li) => li.textContent.includes("bearing worn")));
    // Voice notes: a real MP3 uploaded, then one recorded from the (fake) microphone; both
    // stored (sniffed as audio), listed for the ticket and decoded by the browser's player.
    const mp3 = fileURLToPath(new URL("../../shared/core/tests/data/voice/gsutil-test.mp3", import.meta.url));
    await bench.setInputFiles("#vn-file", mp3);
    const playable = (n) => bench.waitForFunction((n) => {
      const players = [...document.querySelectorAll("#vn-list audio")];
      return players.length === n && players.every((a) => a.readyState >= 1 && (a.duration > 0 || a.duration === Infinity));
    }, n, { timeout: 20000 });
    await playable(1);
    await bench.click("#vn-record");
    await bench.waitForFunction(() => document.querySelector("#vn-record").textContent.startsWith("Stop"));
    await bench.waitForTimeout(1500);
    await bench.click("#vn-record");
    await playable(2);
    await bench.screenshot({ path: path.join(SHOTS, "09-workbench.png"), fullPage: true });
    // The waiting chat: the technician joins and answers in the same conversation.
    await bench.reload();
    await bench.waitForSelector("body[data-ready=true]");
    if (!(await bench.locator("#api-reference").isVisible())) throw new Error("staff are not offered the API reference");
    await bench.click("#chats button[data-chat]");
    await bench.waitForFunction(() => [...document.querySelectorAll("#feed li")].some((li) => li.textContent.includes("opening hours")));
    await bench.getByLabel("Write").fill("Hi, a technician here: we also open on Saturdays.");
    await bench.getByRole("button", { name: "Send" }).click();
    await page.waitForFunction(() => [...document.querySelectorAll("#chat-log li.staff")].some((li) => li.textContent.includes("technician here")));
    await bench.screenshot({ path: path.join(SHOTS, "11-workbench-chat.png"), fullPage: true });
    await shot("12-chat-answered");
  }
  if (errors.length) throw new Error(`script errors in the page: ${errors.join("; ")}`);
  say("done");
} finally {
  await browser.close();
  lines.close();
}
