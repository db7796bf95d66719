#!/usr/bin/env node
// Cold start of each worker in workerd, measured on workerd itself (not through Miniflare,
// whose own work in Node — reading and analysing the modules, building the config — would
// be counted as the worker's). Each worker runs alone, without bindings, from a generated
// config; two figures, each over an empty JavaScript worker's:
//
//   - start: workerd spawned until it listens: the wasm compiled (V8 compiles a function
//     lazily, on its first call; the module is decoded and validated here), instantiated,
//     the glue evaluated;
//   - first answer: until the first request is answered, which is where the functions on
//     the request's path are compiled. Without bindings every worker answers that it is
//     not configured (503): a short path through the entry point, the kit and an answer.
//
// The fastest of --runs starts of each (alternated with the empty worker's, so that drift
// in the machine's load cancels out). Prints one JSON line per worker:
// {worker, ms, first_ms, listen_ms, answer_ms, empty_listen_ms, empty_answer_ms, runs}, `ms`
// being the start.
//
//   node scripts/coldstart.mjs [--runs 5] [dir ...]
import { spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ALL = [
  "api-gateway", "main", "brain", "vision", "schematic-analyzer", "voice", "pricing", "inventory",
  "ebay-sniper", "analytics", "ar-guide", "training", "chat-agent", "notifications", "qc-inspector",
  "customer-portal", "workflow-orchestrator",
];
// The binary Miniflare runs, for this platform (the `workerd` package picks it).
const WORKERD = createRequire(import.meta.url)("workerd").default;

const args = process.argv.slice(2);
let runs = 5;
const dirs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--runs") runs = Number(args[++i]);
  else dirs.push(args[i]);
}
if (!existsSync(WORKERD)) {
  console.error(`coldstart: no workerd binary at ${WORKERD} (run ./deploy.sh setup)`);
  process.exit(1);
}

const scratch = mkdtempSync(path.join(tmpdir(), "noizylab-coldstart-"));
process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));

// A config serving `modules` (already in `dir`, embedded by relative name) on a free port.
function config(dir, modules) {
  const list = modules.map(([name, kind]) => `(name = "${name}", ${kind} = embed "${name}")`).join(", ");
  const file = path.join(dir, "config.capnp");
  writeFileSync(
    file,
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "w", worker = (modules = [${list}], compatibilityDate = "2025-09-01"))],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "w")],
);
`,
  );
  return file;
}

// A directory of its own holding `files` ([from, name] pairs).
function prepare(name, files) {
  const dir = path.join(scratch, name);
  mkdirSync(dir, { recursive: true });
  for (const [from, to] of files) copyFileSync(from, path.join(dir, to));
  return dir;
}

// One start: [ms until workerd listens, ms until its first answer], from the spawn.
function start(file) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(WORKERD, ["serve", file, "--control-fd=3"], { stdio: ["ignore", "ignore", "pipe", "pipe"] });
    let err = "";
    let done = false;
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", () => done || reject(new Error(`workerd exited before answering: ${err.trim()}`)));
    let control = "";
    child.stdio[3].on("data", async (d) => {
      control += d;
      const port = /"event":"listen"[^}]*"port":(\d+)/.exec(control)?.[1];
      if (!port || done) return;
      done = true;
      const listen = performance.now() - t0;
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`);
        await res.arrayBuffer();
        resolve([listen, performance.now() - t0]);
      } catch (e) {
        reject(e);
      } finally {
        child.kill("SIGKILL");
      }
    });
  });
}

const fastest = (xs) => Math.min(...xs);

writeFileSync(path.join(scratch, "empty.js"), "export default { fetch() { return new Response('ok'); } };");
const emptyConfig = config(prepare("empty", [[path.join(scratch, "empty.js"), "empty.js"]]), [["empty.js", "esModule"]]);

await start(emptyConfig); // the first start pays for the binary's own caches
for (const dir of dirs.length ? dirs : ALL) {
  const build = path.join(root, "workers", dir, "build");
  if (!existsSync(path.join(build, "index.js"))) {
    console.error(`coldstart: ${dir} is not built`);
    process.exit(1);
  }
  const file = config(
    prepare(dir, [
      [path.join(build, "index.js"), "index.js"],
      [path.join(build, "index_bg.wasm"), "index_bg.wasm"],
    ]),
    [
      ["index.js", "esModule"],
      ["index_bg.wasm", "wasm"],
    ],
  );
  const base = [];
  const ours = [];
  for (let i = 0; i < runs; i++) {
    base.push(await start(emptyConfig));
    ours.push(await start(file));
  }
  const [el, ea] = [fastest(base.map((x) => x[0])), fastest(base.map((x) => x[1]))];
  const [ol, oa] = [fastest(ours.map((x) => x[0])), fastest(ours.map((x) => x[1]))];
  const r = (x) => Math.round(x * 10) / 10;
  console.log(
    JSON.stringify({
      worker: `noizylab-${dir}`,
      ms: r(Math.max(0, ol - el)),
      first_ms: r(Math.max(0, oa - ea)),
      listen_ms: r(ol),
      answer_ms: r(oa),
      empty_listen_ms: r(el),
      empty_answer_ms: r(ea),
      runs,
    }),
  );
}
