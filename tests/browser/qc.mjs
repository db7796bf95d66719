// A quality-control inspection on the technician's workbench in a real browser (Debian's
// Chromium, headless, playwright-core). Run by tests/tests/browser.rs, which owns the
// platform and moves the ticket between inspections; the two talk over stdin/stdout:
//
//   → "failed"     the first inspection failed in the page (rail low, a component missing)
//   ← "requeued"   the ticket is back in QC after the rework
//   → "passed"     the second inspection passed in the page
//
// Screenshots land in $SHOTS. Exits non-zero on any failure.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { signIn } from "./signin.mjs";

const { BASE, STAFF_EMAIL, TICKET, BROKEN, CLEAN, SHOTS } = process.env;
if (!BASE || !STAFF_EMAIL || !TICKET || !BROKEN || !CLEAN || !SHOTS) {
  throw new Error("BASE, STAFF_EMAIL, TICKET, BROKEN, CLEAN and SHOTS are required");
}
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
  const bench = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const errors = [];
  bench.on("pageerror", (e) => errors.push(e.message));
  const shot = (name) => bench.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  await signIn(bench, BASE, STAFF_EMAIL);
  await bench.goto(`${BASE}/portal/workbench`);
  await bench.waitForSelector("body[data-ready=true]");
  await bench.click(`button[data-ticket="${TICKET}"]`);
  await bench.waitForSelector("#qc:not([hidden]) #qc-start");
  await shot("qc-00-ready-to-inspect");

  // Records the three checkpoints: the switch, the rail reading, the board photo.
  const inspect = async (rail, photo) => {
    await bench.click("#qc-start");
    await bench.getByRole("button", { name: "Powers on: pass" }).click();
    await bench.waitForSelector('li[data-checkpoint="powers_on"].pass');
    // A live refresh of the ticket (its room's event for the first checkpoint) can arrive
    // between typing and clicking under load and re-render the form empty, so the click
    // submits nothing: type the reading again then, at most three times.
    for (let attempt = 1; ; attempt++) {
      await bench.getByLabel(/^Reading \(V/).fill(rail);
      await bench.locator('li[data-checkpoint="rail_3v3"]').getByRole("button", { name: "Record" }).click();
      try {
        await bench.waitForSelector('li[data-checkpoint="rail_3v3"]:is(.pass, .fail)', { timeout: 15000 });
        break;
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
    await bench.getByLabel("Photo of the whole board").setInputFiles(photo);
    await bench.getByRole("button", { name: "Analyse" }).click();
    await bench.waitForSelector('li[data-checkpoint="board_photo"] img.overlay[data-loaded=true]', { timeout: 60000 });
  };

  await inspect("3.05", BROKEN);
  await bench.waitForSelector("#qc-result[data-result=failed]");
  const rework = await bench.locator("#qc-result .rework li").allTextContents();
  if (rework.length !== 2 || !rework[0].includes("3.3 V rail") || !rework[1].includes("Board photo")) {
    throw new Error(`the rework list: ${JSON.stringify(rework)}`);
  }
  await shot("qc-01-failed-with-overlay");
  say("failed");

  if ((await nextLine()) !== "requeued") throw new Error("expected 'requeued'");
  // The room's status frame brings the ticket back to QC in the page: inspect again.
  await bench.waitForSelector("#qc-start", { timeout: 15000 });
  await inspect("3.31", CLEAN);
  await bench.waitForSelector("#qc-result[data-result=passed]");
  await bench.waitForSelector("#qc-result button");
  await shot("qc-02-passed");
  say("passed");
  if (errors.length) throw new Error(`script errors in the page: ${errors.join("; ")}`);
  say("done");
} finally {
  await browser.close();
  lines.close();
}
