// The workflow builder in a real browser (Debian's Chromium, headless, playwright-core):
// a manager opens a workflow drawn as a graph, runs it and watches the run move along the
// graph live (a step waiting, then every step done), edits a step through its form (saved
// as version 2), sees a wrong edit refused naming the step, and decides a workflow's task
// from "My tasks" on the workbench. Run by
// tests/tests/browser.rs, which owns the platform and made the workflow (check a part,
// wait three seconds, check it again). Prints the run's id, then "done".
//
// Screenshots land in $SHOTS. Exits non-zero on any failure.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { signIn } from "./signin.mjs";

const { BASE, STAFF_EMAIL, WORKFLOW, TASK, SHOTS } = process.env;
if (!BASE || !STAFF_EMAIL || !WORKFLOW || !TASK || !SHOTS) throw new Error("BASE, STAFF_EMAIL, WORKFLOW, TASK and SHOTS are required");
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // Failed requests, by address: the one refused edit below is expected, nothing else.
  const failed = [];
  page.on("response", (r) => { if (r.status() >= 400) failed.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`); });
  const shot = (name) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  await signIn(page, BASE, STAFF_EMAIL);
  await page.getByRole("link", { name: "Automation" }).click();
  await page.waitForURL("**/portal/workflows");
  await page.waitForSelector("body[data-ready=true]");

  // The workflow as a graph: three steps, two edges, drawn on a canvas.
  await page.locator(`#wf-list li[data-workflow="${WORKFLOW}"] button`).click();
  await page.waitForSelector('#graph[data-nodes="3"][data-edges="2"] canvas');
  const names = await page.locator("#steps li").evaluateAll((lis) => lis.map((li) => li.dataset.step));
  if (names.join(",") !== "first,pause,again") throw new Error(`steps: ${names}`);
  await shot("workflows-00-graph");

  // Run it: the graph follows the run — the delay waiting, then every step done.
  await page.getByRole("button", { name: "Run now" }).click();
  await page.waitForSelector('#steps li[data-step="pause"][data-outcome="active"]');
  await page.waitForSelector('#steps li[data-step="first"][data-outcome="ok"]');
  await shot("workflows-01-running");
  await page.waitForSelector('#run-status[data-status="succeeded"]', { timeout: 30000 });
  for (const step of ["first", "pause", "again"]) {
    await page.waitForSelector(`#steps li[data-step="${step}"][data-outcome="ok"]`);
  }
  const run = await page.locator("#run-status").getAttribute("data-run");
  await shot("workflows-02-done");

  // Edit the delay through its form: saved as version 2.
  await page.locator('#steps li[data-step="pause"] button').click();
  await page.getByLabel("Seconds to wait").fill("5");
  await page.getByRole("button", { name: "Save as a new version" }).click();
  await page.waitForFunction(() => document.querySelector("#wf-version")?.textContent === "v2");
  const saved = await page.locator("#notice").innerText();
  if (!saved.includes("version 2")) throw new Error(`no word of the new version: ${saved}`);

  // A wrong edit is refused, the step named; nothing is saved.
  await page.locator('#steps li[data-step="first"] button').click();
  await page.getByLabel(/^Input/).fill("{}");
  await page.getByRole("button", { name: "Save as a new version" }).click();
  await page.waitForSelector("#notice.error");
  const refused = await page.locator("#notice").innerText();
  if (!refused.includes("steps.first") || !refused.includes("part_id")) throw new Error(`the refusal: ${refused}`);
  if ((await page.locator("#wf-version").innerText()) !== "v2") throw new Error("a refused edit changed the version");
  await shot("workflows-03-refused");

  // A task waiting for the managers: decided on the workbench with its form.
  await page.getByRole("link", { name: "Workbench" }).click();
  await page.waitForSelector("body[data-ready=true]");
  const task = page.locator(`#tasks li.task[data-task="${TASK}"]`);
  await task.waitFor();
  await task.getByLabel("How many").fill("3");
  await task.getByLabel("Comment").fill("three, for the bench");
  await shot("workflows-04-task");
  await task.getByRole("button", { name: "Approve" }).click();
  await task.waitFor({ state: "detached" });
  const said = await page.locator("#notice").innerText();
  if (!said.includes("Approved")) throw new Error(`no word of the approval: ${said}`);
  process.stdout.write(`${run}\n`);
  const unexpected = failed.filter((f) => f !== `PUT /api/v1/workflows/${WORKFLOW} 400`);
  if (unexpected.length) throw new Error(`failed requests: ${unexpected.join("; ")}`);
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  process.stdout.write("done\n");
} finally {
  await browser.close();
}
