#!/usr/bin/env node
// Cold start of each worker in workerd: how much longer workerd takes to become ready
// with the worker loaded (its wasm compiled and instantiated, its glue evaluated) than
// with an empty JavaScript worker. Each worker runs alone, without bindings: only
// loading is measured; the fastest of --runs starts of each. Prints one JSON line per
// worker: {worker, ms, ready_ms, empty_ms, runs}.
//
//   node scripts/coldstart.mjs [--runs 5] [dir ...]
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ALL = [
  "api-gateway", "main", "brain", "vision", "schematic-analyzer", "voice", "pricing", "inventory",
  "ebay-sniper", "analytics", "ar-guide", "training", "chat-agent", "notifications", "qc-inspector",
  "customer-portal", "workflow-orchestrator",
];
const args = process.argv.slice(2);
let runs = 5;
const dirs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--runs") runs = Number(args[++i]);
  else dirs.push(args[i]);
}

const EMPTY = "export default { fetch() { return new Response('ok'); } };";

async function readyMs(worker) {
  const start = performance.now();
  const mf = new Miniflare({ host: "127.0.0.1", port: 0, workers: [{ name: "w", compatibilityDate: "2025-09-01", ...worker }] });
  await mf.ready;
  const ms = performance.now() - start;
  await mf.dispose();
  return ms;
}

// The fastest of several starts: what the machine's noise did not add to.
const fastest = (xs) => Math.min(...xs);

await readyMs({ modules: true, script: EMPTY }); // the first start pays for the binary's own caches
for (const dir of dirs.length ? dirs : ALL) {
  const build = path.join(root, "workers", dir, "build");
  if (!existsSync(path.join(build, "index.js"))) {
    console.error(`coldstart: ${dir} is not built`);
    process.exit(1);
  }
  const xs = [];
  // Alternate with the empty worker so that drift in the machine's load cancels out.
  const bases = [];
  for (let i = 0; i < runs; i++) {
    bases.push(await readyMs({ modules: true, script: EMPTY }));
    xs.push(
      await readyMs({
        modules: true,
        scriptPath: path.join(build, "index.js"),
        modulesRoot: build,
        modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
      }),
    );
  }
  const base = fastest(bases);
  const ready = fastest(xs);
  console.log(JSON.stringify({ worker: `noizylab-${dir}`, ms: Math.max(0, ready - base), ready_ms: ready, empty_ms: base, runs }));
}
