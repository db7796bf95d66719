// A repair guide in the workbench in a real browser (Debian's Chromium, headless, with
// SwiftShader's software WebGL for the 3D view; playwright-core). Run by
// tests/tests/browser.rs, which owns the platform, the guide and the ticket. Two
// technicians open the guide on the ticket: the model renders with the step's part marked,
// a marker one puts on a part and a pin the other drops on the view reach both, live.
// Screenshots land in $SHOTS. Prints "done"; exits non-zero on any failure.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { signIn } from "./signin.mjs";

const { BASE, STAFF_EMAIL, TECH_EMAIL, GUIDE, TICKET, SHOTS } = process.env;
if (!BASE || !STAFF_EMAIL || !TECH_EMAIL || !GUIDE || !TICKET || !SHOTS) {
  throw new Error("BASE, STAFF_EMAIL, TECH_EMAIL, GUIDE, TICKET and SHOTS are required");
}
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const errors = [];
  const open = async (email) => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on("pageerror", (e) => errors.push(e.message));
    await signIn(page, BASE, email);
    await page.goto(`${BASE}/portal/guides/${GUIDE}?ticket=${TICKET}`);
    await page.waitForSelector("body[data-ready=true]");
    return page;
  };
  const lead = await open(STAFF_EMAIL);
  // The model is downloaded with the session, decoded and rendered by <model-viewer>.
  await lead.waitForSelector("#viewer[data-loaded=true]", { timeout: 30000 });
  await lead.waitForFunction(() => document.querySelector("#step-title")?.textContent === "Open the case");
  await lead.getByRole("button", { name: "Next step" }).click();
  await lead.waitForSelector('[slot="hotspot-step"][data-node="Cylinder"]');
  await lead.waitForSelector("body[data-live=true]", { timeout: 15000 }); // in the guide's room
  await lead.screenshot({ path: path.join(SHOTS, "guide-01-step-part-marked.png"), fullPage: true });

  const second = await open(TECH_EMAIL);
  await second.waitForSelector("#viewer[data-loaded=true]", { timeout: 30000 });
  await second.waitForSelector("body[data-live=true]", { timeout: 15000 });
  // Each sees the other: presence carries the step the lead is on.
  await second.waitForFunction(() => document.querySelector("#room-state")?.textContent.includes("step 2"), null, { timeout: 15000 });

  // The lead marks the step's part with a note: the other sees it on the model and listed.
  await lead.getByLabel("Marker note").fill("bulged top");
  await lead.getByRole("button", { name: "Mark this step's part for everyone" }).click();
  await second.waitForFunction(() => [...document.querySelectorAll("#annotations li")].some((li) => li.textContent.includes("bulged top on Cylinder")), null, { timeout: 15000 });
  await second.waitForSelector(".hotspot.live");
  // The other drops a pin on the view: the lead sees it where it was put.
  await second.getByLabel("Marker note").fill("");
  const stage = await second.locator("#stage").boundingBox();
  await second.mouse.click(stage.x + stage.width * 0.25, stage.y + stage.height * 0.3);
  await lead.waitForSelector("#stage .pin", { timeout: 15000 });
  const left = await lead.locator("#stage .pin").evaluate((p) => p.style.left);
  if (Math.abs(parseFloat(left) - 25) > 1) throw new Error(`the pin landed at ${left}, not at 25 %`);
  await second.screenshot({ path: path.join(SHOTS, "guide-02-annotated-live.png"), fullPage: true });
  await lead.screenshot({ path: path.join(SHOTS, "guide-03-pin-from-the-other.png"), fullPage: true });
  if (errors.length) throw new Error(`script errors in the page: ${errors.join("; ")}`);
  console.log("done");
} finally {
  await browser.close();
}
