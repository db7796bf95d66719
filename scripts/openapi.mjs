// Assembles the OpenAPI document the gateway serves at /api/v1/openapi.json from
// docs/openapi/base.json (info, security schemes, the error body) and one fragment per
// worker, docs/openapi/<worker>.json ({tags, paths, components}). A route lands with its
// description in its worker's fragment; `./deploy.sh build` runs this, and the tests hold
// the result to every worker's route table.
//
//   node scripts/openapi.mjs <out.json>

import { readFileSync, readdirSync, writeFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dir = path.join(root, "docs", "openapi");
const out = process.argv[2];
if (!out) {
  console.error("usage: node scripts/openapi.mjs <out.json>");
  process.exit(2);
}

const read = (file) => {
  try {
    return JSON.parse(readFileSync(path.join(dir, file), "utf8"));
  } catch (e) {
    console.error(`docs/openapi/${file}: ${e.message}`);
    process.exit(1);
  }
};

const doc = read("base.json");
doc.tags = doc.tags ?? [];
const problems = [];
const fragments = readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "base.json").sort();
for (const file of fragments) {
  const part = read(file);
  for (const key of Object.keys(part)) {
    if (!["tags", "paths", "components"].includes(key)) problems.push(`${file}: unexpected top-level key '${key}'`);
  }
  doc.tags.push(...(part.tags ?? []));
  for (const [route, item] of Object.entries(part.paths ?? {})) {
    const have = (doc.paths[route] ??= {});
    for (const [method, op] of Object.entries(item)) {
      if (have[method]) problems.push(`${file}: ${method.toUpperCase()} ${route} is already described`);
      have[method] = op;
    }
  }
  for (const [kind, entries] of Object.entries(part.components ?? {})) {
    const have = (doc.components[kind] ??= {});
    for (const [name, value] of Object.entries(entries)) {
      if (have[name] && JSON.stringify(have[name]) !== JSON.stringify(value)) {
        problems.push(`${file}: components.${kind}.${name} differs from another fragment's`);
      }
      have[name] = value;
    }
  }
}
const tagNames = doc.tags.map((t) => t.name);
for (const dup of tagNames.filter((t, i) => tagNames.indexOf(t) !== i)) problems.push(`tag '${dup}' is declared twice`);
if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
doc.paths = Object.fromEntries(Object.entries(doc.paths).sort(([a], [b]) => a.localeCompare(b)));
mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
writeFileSync(out, JSON.stringify(doc) + "\n");
const operations = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
console.log(`openapi: ${operations} operations from ${fragments.length} fragments -> ${out}`);
