#!/usr/bin/env node
// Runs all seventeen NoizyLab OS workers in one workerd process through Miniflare, with
// local D1, KV, R2, Queues and Durable Objects persisted under one folder.
//
//   node scripts/platform.mjs [--port 8787] [--host 127.0.0.1] [--persist-to .state]
//                             [--verbose] [--quiet] [--exit-with-stdin] [--sql-port]
//
// Each worker's bindings come from its own workers/<dir>/wrangler.toml (read by wrangler's
// own config reader), so the local platform and a deployment share one description. The
// workers must be built first (`./deploy.sh build`). Migrations are applied by
// `./deploy.sh migrate --local` (wrangler), into the same folder.
//
// Locally each internal worker also answers at Host `noizylab-<dir>.internal`, so one can
// see it refuse requests that did not come signed through the gateway.
//
// Prints one JSON line `{"ready":true,"url":…}` when listening; stops on SIGINT/SIGTERM.
//
// `--sql-port` (for test harnesses) also listens on a loopback port, named `sql_url` in the
// ready line, where a POSTed SQL statement runs against the local D1 through workerd's own
// database object, in turn with the workers' statements. Writing the SQLite file directly
// instead would hold its lock behind workerd's back, and a worker's statement at that
// moment fails with SQLITE_BUSY.

import { randomBytes } from "node:crypto";
import { accessSync, constants, existsSync } from "node:fs";
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Log, LogLevel, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import workerd from "workerd";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

// The gateway first: Miniflare sends every request no route claims to the first worker.
export const WORKERS = [
  "api-gateway", "main", "brain", "vision", "voice", "pricing", "inventory", "ebay-sniper",
  "analytics", "ar-guide", "training", "chat-agent", "notifications", "qc-inspector",
  "customer-portal", "schematic-analyzer", "workflow-orchestrator",
];

function parseArgs(argv) {
  const opts = { port: 8787, host: "127.0.0.1", persistTo: path.join(root, ".state"), verbose: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === "--port") opts.port = Number(value());
    else if (arg === "--host") opts.host = value();
    else if (arg === "--persist-to") opts.persistTo = path.resolve(value());
    else if (arg === "--verbose") opts.verbose = true;
    else if (arg === "--quiet") opts.quiet = true;
    else if (arg === "--exit-with-stdin") opts.exitWithStdin = true;
    else if (arg === "--sql-port") opts.sqlPort = true;
    else throw new Error(`unknown option ${arg}`);
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error("--port must be 0-65535");
  return opts;
}

// Secrets only `main` holds: the JWT signing key ring (generated per start unless
// NOIZYLAB_JWT_SIGNING_KEYS is set; refresh tokens survive a restart, access tokens are
// re-issued) and the bootstrap owner's address.
function mainSecrets() {
  const seed = randomBytes(32).toString("base64url");
  return {
    JWT_SIGNING_KEYS: process.env.NOIZYLAB_JWT_SIGNING_KEYS ?? `dev-${randomBytes(3).toString("hex")}:${seed}`,
    ...(process.env.NOIZYLAB_OWNER_EMAIL ? { OWNER_EMAIL: process.env.NOIZYLAB_OWNER_EMAIL } : {}),
    // The key the inbound-mail webhook URL carries (emailed replies to tickets).
    ...(process.env.NOIZYLAB_INBOUND_EMAIL_KEY ? { INBOUND_EMAIL_KEY: process.env.NOIZYLAB_INBOUND_EMAIL_KEY } : {}),
    // The key Mailgun signs forwarded replies with.
    ...(process.env.NOIZYLAB_MAILGUN_WEBHOOK_SIGNING_KEY
      ? { MAILGUN_WEBHOOK_SIGNING_KEY: process.env.NOIZYLAB_MAILGUN_WEBHOOK_SIGNING_KEY }
      : {}),
    // Test suites sign many people in from one address; the defaults stand otherwise.
    ...(process.env.NOIZYLAB_SIGNIN_LINKS_PER_IP ? { SIGNIN_LINKS_PER_IP: process.env.NOIZYLAB_SIGNIN_LINKS_PER_IP } : {}),
    ...(process.env.NOIZYLAB_SIGNIN_LINKS_PER_EMAIL
      ? { SIGNIN_LINKS_PER_EMAIL: process.env.NOIZYLAB_SIGNIN_LINKS_PER_EMAIL }
      : {}),
    ...(process.env.NOIZYLAB_SIGNIN_LINKS_PER_ADDRESS
      ? { SIGNIN_LINKS_PER_ADDRESS: process.env.NOIZYLAB_SIGNIN_LINKS_PER_ADDRESS }
      : {}),
  };
}

// The portal's payment provider: Stripe's API (or a stand-in) and its keys, when given.
function portalSecrets() {
  const pick = {
    STRIPE_BASE_URL: process.env.NOIZYLAB_STRIPE_BASE_URL,
    STRIPE_SECRET_KEY: process.env.NOIZYLAB_STRIPE_SECRET_KEY,
    STRIPE_WEBHOOK_SECRET: process.env.NOIZYLAB_STRIPE_WEBHOOK_SECRET,
  };
  return Object.fromEntries(Object.entries(pick).filter(([, v]) => v));
}

// The gateway's per-user and per-address limits, when a run (tests, the benchmark) needs them moved.
function gatewayVars() {
  const limit = process.env.NOIZYLAB_USER_RATE_LIMIT;
  const anonymous = process.env.NOIZYLAB_ANON_RATE_LIMIT;
  return { ...(limit ? { USER_RATE_LIMIT: limit } : {}), ...(anonymous ? { ANON_RATE_LIMIT: anonymous } : {}) };
}

// The notifications hub's providers (SendGrid or Mailgun, Twilio), when given; otherwise email and
// SMS land in the development outbox.
function notificationSecrets() {
  const names = [
    "SENDGRID_BASE_URL",
    "SENDGRID_API_KEY",
    "EMAIL_PROVIDER",
    "MAILGUN_BASE_URL",
    "MAILGUN_DOMAIN",
    "MAILGUN_API_KEY",
    "TWILIO_BASE_URL",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM",
    "VAPID_PRIVATE_KEY",
    "VAPID_SUBJECT",
    "MAIL_FROM",
    "REPLY_DOMAIN",
  ];
  return Object.fromEntries(names.map((n) => [n, process.env[`NOIZYLAB_${n}`]]).filter(([, v]) => v));
}

// The LLM provider of the chat agent and brain (Anthropic's Messages API or a stand-in),
// when given.
function chatSecrets() {
  const names = ["ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_MODEL"];
  return Object.fromEntries(names.map((n) => [n, process.env[`NOIZYLAB_${n}`]]).filter(([, v]) => v));
}

// The deal hunter's eBay application keyset and API root (or a stand-in), when given.
function sniperSettings() {
  const names = ["EBAY_BASE_URL", "EBAY_MARKETPLACE", "EBAY_CLIENT_ID", "EBAY_CLIENT_SECRET", "SHOP_COUNTRY"];
  return Object.fromEntries(names.map((n) => [n, process.env[`NOIZYLAB_${n}`]]).filter(([, v]) => v));
}

// The text-to-speech provider's API root (or a stand-in) and key, when given.
function voiceSettings() {
  const names = ["ELEVENLABS_BASE_URL", "ELEVENLABS_API_KEY"];
  return Object.fromEntries(names.map((n) => [n, process.env[`NOIZYLAB_${n}`]]).filter(([, v]) => v));
}

const EXTRA = {
  main: mainSecrets,
  "customer-portal": portalSecrets,
  "api-gateway": gatewayVars,
  notifications: notificationSecrets,
  "chat-agent": chatSecrets,
  brain: chatSecrets,
  "ebay-sniper": sniperSettings,
  voice: voiceSettings,
};

// Every config says production; a local platform is development (the outbox, /dev/*)
// unless NOIZYLAB_ENVIRONMENT says otherwise, with the portal on localhost.
function localVars(dir) {
  const origin = (process.env.NOIZYLAB_PORTAL_ORIGIN ?? "http://localhost:8787").replace(/\/+$/, "");
  const vars = { ENVIRONMENT: process.env.NOIZYLAB_ENVIRONMENT ?? "development" };
  // NOIZYLAB_DELIVER_TWICE=1: every queue message is handled twice (development only), as
  // at-least-once delivery may; the tests of idempotent consumers run with it.
  if (process.env.NOIZYLAB_DELIVER_TWICE === "1") vars.DELIVER_TWICE = "1";
  if (dir === "api-gateway") vars.PORTAL_ORIGIN = origin;
  if (dir === "main" || dir === "customer-portal") vars.PORTAL_URL = `${origin}/portal`;
  return vars;
}

function workerOptions(dir, secret, extra = {}) {
  const folder = path.join(root, "workers", dir);
  const script = path.join(folder, "build", "index.js");
  if (!existsSync(script)) {
    throw new Error(`${dir} is not built (${path.relative(root, script)} is missing): run ./deploy.sh build`);
  }
  const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(folder, "wrangler.toml"));
  // NOIZYLAB_GATEWAY_ROOMS=via-main (tests): the gateway without its binding to the rooms,
  // so that room WebSockets take `main`'s route, as on a deployment without it.
  if (dir === "api-gateway" && process.env.NOIZYLAB_GATEWAY_ROOMS === "via-main") {
    const { TICKET_ROOM: _, ...objects } = workerOptions.durableObjects ?? {};
    workerOptions.durableObjects = objects;
  }
  const name = `noizylab-${dir}`;
  return {
    ...workerOptions,
    name,
    modules: true,
    scriptPath: script,
    modulesRoot: path.join(folder, "build"),
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    bindings: { ...(workerOptions.bindings ?? {}), ...localVars(dir), INTERNAL_SECRET: secret, ...extra },
    routes: dir === "api-gateway" ? undefined : [`${name}.internal/*`],
  };
}

// The `--sql-port` endpoint: POST a statement, 200 with `{"changes":n}`, or 400 with the
// database's message. Loopback only, and only when asked for.
async function sqlEndpoint(mf) {
  const db = await mf.getD1Database("DB", "noizylab-main");
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const answer = (status, body) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.method !== "POST") return answer(405, { error: "POST one SQL statement" });
    try {
      const result = await db.prepare(Buffer.concat(chunks).toString("utf8")).run();
      answer(200, { changes: result.meta?.changes ?? 0 });
    } catch (e) {
      answer(400, { error: String(e?.message ?? e) });
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}/` };
}

// On Linux workerd starts through `scripts/workerd-tied` (setpriv's parent-death signal):
// a launcher that dies without disposing of Miniflare takes its workerd with it.
function tieWorkerdToLauncher() {
  if (process.platform !== "linux" || process.env.MINIFLARE_WORKERD_PATH) return;
  const setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!setpriv) return;
  process.env.NOIZYLAB_WORKERD = workerd.default ?? workerd;
  process.env.MINIFLARE_WORKERD_PATH = path.join(root, "scripts", "workerd-tied");
}

export async function start(opts) {
  tieWorkerdToLauncher();
  const secret = process.env.NOIZYLAB_INTERNAL_SECRET ?? randomBytes(32).toString("hex");
  const state = path.join(opts.persistTo, "v3");
  const mf = new Miniflare({
    host: opts.host,
    port: opts.port,
    log: new Log(opts.verbose ? LogLevel.DEBUG : LogLevel.INFO),
    // A line per request is for a person watching `./deploy.sh up`; under tests and the
    // bench it is a loopback call per request that nobody reads.
    logRequests: !opts.quiet,
    // NOIZYLAB_INSPECTOR_PORT: V8's inspector for every worker (CPU profiles; see docs/benchmarks.md).
    inspectorPort: process.env.NOIZYLAB_INSPECTOR_PORT ? Number(process.env.NOIZYLAB_INSPECTOR_PORT) : undefined,
    // A fixed request.cf: otherwise Miniflare fetches one from the internet at every start.
    cf: { colo: "DEV", country: "CA", city: "Local", timezone: "UTC", asn: 0, clientTcpRtt: 0 },
    workers: WORKERS.map((dir) => workerOptions(dir, secret, EXTRA[dir]?.() ?? {})),
    // In development a worker's cron runs on request: GET /cdn-cgi/handler/scheduled with
    // Host noizylab-<dir>.internal (workerd does not keep time for crons locally).
    unsafeTriggerHandlers: (process.env.NOIZYLAB_ENVIRONMENT ?? "development") === "development",
    d1Persist: path.join(state, "d1"),
    kvPersist: path.join(state, "kv"),
    r2Persist: path.join(state, "r2"),
    durableObjectsPersist: path.join(state, "do"),
    cachePersist: path.join(state, "cache"),
  });
  const url = await mf.ready;
  return { mf, url };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`platform: ${e.message}`);
    process.exit(2);
  }
  try {
    const { mf, url } = await start(opts);
    const sql = opts.sqlPort ? await sqlEndpoint(mf) : undefined;
    console.log(JSON.stringify({ ready: true, url: url.toString(), persist_to: opts.persistTo, sql_url: sql?.url }));
    // Once, whichever way it is asked for (a signal, stdin's end and its close).
    let stopping;
    const stop = () => {
      stopping ??= (async () => {
        // A dispose that hangs still ends: leaving takes a tied workerd along (see above).
        setTimeout(() => process.exit(1), 15_000).unref();
        sql?.server.close();
        await mf.dispose();
        process.exit(0);
      })();
      return stopping;
    };
    // A reader that has gone (a test binary exiting) must not crash the launcher on the
    // workers' last log lines before it has stopped workerd.
    for (const stream of [process.stdout, process.stderr]) stream.on("error", () => {});
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    // For test harnesses: stop when the parent goes away and our stdin closes.
    if (opts.exitWithStdin) {
      process.stdin.on("end", stop);
      process.stdin.on("close", stop);
      process.stdin.resume();
    }
  } catch (e) {
    console.error(`platform: could not start: ${e.message}`);
    process.exit(1);
  }
}
