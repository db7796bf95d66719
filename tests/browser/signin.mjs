// Signing in the way a person does: the email form, then the 6-digit code read from the
// development outbox. Shared by the browser scripts.
import path from "node:path";

export async function signIn(page, base, email, { shots, name } = {}) {
  await page.goto(`${base}/portal/`);
  await page.waitForSelector("body[data-ready=true]");
  if (shots && name) await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Email me a link" }).click();
  await page.waitForSelector("#code-form:not([hidden])");
  const outbox = await (await fetch(`${base}/api/v1/notifications/dev/outbox?to=${encodeURIComponent(email)}`)).json();
  // Newest first; a notification (the quote is ready) may have landed after the code.
  const mail = outbox.messages.find((m) => m.body.includes("code: "));
  if (!mail) throw new Error(`no sign-in code in the outbox for ${email}`);
  await page.getByLabel("6-digit code").fill(mail.body.split("code: ")[1].slice(0, 6));
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL("**/portal/tickets");
  await page.waitForSelector("body[data-ready=true]");
}
