#!/usr/bin/env bash
# NoizyLab OS: the one script for people.
#
#   ./deploy.sh setup              install everything needed (idempotent; registries only)
#   ./deploy.sh build [dir...]     build the workers (release) and print their wasm sizes
#   ./deploy.sh dev                migrate locally and run all seventeen workers on :8787
#   ./deploy.sh test               formatting, lints, unit, SQL and end-to-end tests, dry-run deploy
#   ./deploy.sh migrate [--remote] apply D1 migrations (local state by default)
#   ./deploy.sh deploy [--dry-run] create resources, migrate, deploy in dependency order
#   ./deploy.sh bench [--quick] [--peer]  measure the local stack; --peer: against the TypeScript peer
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

# Every worker, in deployment order: each after the workers it binds to. The gateway,
# which binds everyone, comes last. A native test checks this list against
# noizylab_core::services::deploy_order().
WORKERS=(
  voice inventory analytics ar-guide training notifications main vision pricing
  chat-agent qc-inspector customer-portal schematic-analyzer brain ebay-sniper
  workflow-orchestrator api-gateway
)
WORKER_BUILD_VERSION="0.8.7"
STATE_DIR="${NOIZYLAB_STATE:-$ROOT/.state}"
PORT="${PORT:-8787}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

export PATH="$HOME/.cargo/bin:$PATH"
# wrangler: no telemetry, no prompts.
export WRANGLER_SEND_METRICS=false CI="${CI:-true}"

wrangler() { "$ROOT/node_modules/.bin/wrangler" "$@"; }

# The wasm-bindgen version Cargo.lock resolved: the CLI must match it exactly.
bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

cmd_setup() {
  have cargo || die "cargo is missing: install Rust with rustup first (https://rustup.rs)"
  have node && have npm || die "node and npm are missing: install Node.js 20.3 or newer"

  if have rustup; then
    rustup target list --installed | grep -qx wasm32-unknown-unknown \
      || { say "adding the wasm32-unknown-unknown target"; rustup target add wasm32-unknown-unknown; }
  fi

  [ -f Cargo.lock ] || cargo generate-lockfile
  local want_bg; want_bg="$(bindgen_version)"
  [ -n "$want_bg" ] || die "could not read the wasm-bindgen version from Cargo.lock"

  if [ "$(worker-build --version 2>/dev/null || true)" != "$WORKER_BUILD_VERSION" ]; then
    say "installing worker-build $WORKER_BUILD_VERSION (several minutes, once)"
    cargo install worker-build --version "=$WORKER_BUILD_VERSION" --locked \
      || cargo install worker-build --version "=$WORKER_BUILD_VERSION" \
      || die "could not install worker-build"
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want_bg" ]; then
    say "installing wasm-bindgen-cli $want_bg to match Cargo.lock (several minutes, once)"
    # --locked first for reproducibility; without it if a locked dependency was yanked.
    cargo install wasm-bindgen-cli --version "=$want_bg" --locked --force \
      || cargo install wasm-bindgen-cli --version "=$want_bg" --force \
      || die "could not install wasm-bindgen-cli $want_bg"
  fi

  if [ ! -x node_modules/.bin/wrangler ] || [ ! -f node_modules/redoc/bundles/redoc.standalone.js ] \
     || [ ! -f node_modules/@google/model-viewer/dist/model-viewer.min.js ] \
     || [ ! -f node_modules/cytoscape/dist/cytoscape.min.js ] \
     || [ ! -f node_modules/chart.js/dist/chart.umd.min.js ] \
     || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm packages (wrangler, miniflare, workerd, binaryen, redoc, model-viewer, cytoscape, chart.js)"
    npm ci --no-audit --no-fund || die "npm ci failed"
  fi
  ensure_chromium
  ensure_python_tools
  say "setup complete"
}

# Schemathesis and the OpenAPI validator, pinned in tests/requirements.txt, in .venv.
ensure_python_tools() {
  local stamp=.venv/.requirements
  [ -x .venv/bin/schemathesis ] && [ -f "$stamp" ] && cmp -s tests/requirements.txt "$stamp" && return 0
  have python3 || die "python3 is missing: install Python 3.10 or newer"
  say "installing the Python test tools (schemathesis, openapi-spec-validator) into .venv"
  if ! python3 -m venv .venv 2>/dev/null; then
    have apt-get || die "python3 cannot make a venv: install python3-venv"
    local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv \
      || { $sudo apt-get update && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv; } \
      || die "could not install python3-venv"
    rm -rf .venv && python3 -m venv .venv || die "python3 -m venv failed"
  fi
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt || die "pip install failed"
  cp tests/requirements.txt "$stamp"
}

# The API description and the docs page's renderer, as the customer portal serves them
# (its static assets: workers/customer-portal/static, built, not committed).
build_docs() {
  local static=workers/customer-portal/static
  mkdir -p "$static/docs"
  node scripts/openapi.mjs "$static/openapi.json" >&2 || die "docs/openapi/*.json do not assemble"
  # The one thing the bundle fetches from elsewhere is Redocly's logo in its footer: an
  # empty image instead, so the page loads nothing but this site (its CSP says so too).
  [ -f node_modules/redoc/bundles/redoc.standalone.js ] || die "the docs renderer is missing: run ./deploy.sh setup"
  sed 's#https://cdn.redoc.ly/redoc/logo-mini.svg#data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw==#g' \
    node_modules/redoc/bundles/redoc.standalone.js >"$static/docs/redoc.standalone.js"
  # The repair guides' 3D viewer (npm @google/model-viewer, three.js bundled in).
  local viewer=node_modules/@google/model-viewer/dist/model-viewer.min.js
  [ -f "$viewer" ] || die "the guide viewer is missing: run ./deploy.sh setup"
  mkdir -p "$static/viewer"
  cp "$viewer" "$static/viewer/model-viewer.min.js"
  # The workflow builder's graph library (npm cytoscape).
  local graph=node_modules/cytoscape/dist/cytoscape.min.js
  [ -f "$graph" ] || die "the builder's graph library is missing: run ./deploy.sh setup"
  mkdir -p "$static/builder"
  cp "$graph" "$static/builder/cytoscape.min.js"
  # The analytics dashboard's charts (npm chart.js, its UMD build).
  local charts=node_modules/chart.js/dist/chart.umd.min.js
  [ -f "$charts" ] || die "the dashboard's chart library is missing: run ./deploy.sh setup"
  cp "$charts" "$static/builder/chart.umd.min.js"
}

# The browser tests drive Debian's Chromium (never a browser a test tool downloads).
ensure_chromium() {
  [ -x "${NOIZYLAB_CHROMIUM:-/usr/bin/chromium}" ] && return 0
  have apt-get || die "the browser tests need Chromium: install it, or set NOIZYLAB_CHROMIUM to its path"
  say "installing Debian's chromium for the browser tests (once)"
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium \
    || { $sudo apt-get update && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; } \
    || die "could not install chromium"
}

ensure_setup() {
  if [ ! -x "${NOIZYLAB_CHROMIUM:-/usr/bin/chromium}" ]; then ensure_chromium; fi
  ensure_python_tools
  if [ ! -x node_modules/.bin/wrangler ] || [ ! -f node_modules/redoc/bundles/redoc.standalone.js ] \
     || [ ! -f node_modules/@google/model-viewer/dist/model-viewer.min.js ] \
     || [ ! -f node_modules/cytoscape/dist/cytoscape.min.js ] \
     || [ ! -f node_modules/chart.js/dist/chart.umd.min.js ] \
     || ! have worker-build || ! have wasm-bindgen \
     || ! { rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; }; then
    cmd_setup
  fi
}

# Builds one worker with worker-build, pointed at local tools (it would otherwise download
# wasm-bindgen, esbuild and wasm-opt from the internet), then shrinks it with wasm-opt.
build_one() {
  local dir="$1" crate="noizylab-${1}"
  local wasm="target/wasm32-unknown-unknown/release/${crate//-/_}.wasm"
  local out="workers/$dir/build/index_bg.wasm"
  # Cargo rebuilt only what changed; skip the post-processing of unchanged workers.
  if [ -f "$out" ] && [ -f "$wasm" ] && [ "$out" -nt "$wasm" ]; then
    return 0
  fi
  ( cd "workers/$dir" \
    && WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" ESBUILD_BIN="$ROOT/node_modules/.bin/esbuild" \
       worker-build --release ${NOIZYLAB_WORKER_BUILD_FLAGS:-} >"$ROOT/target/worker-build-$dir.log" 2>&1 ) \
    || { tail -n 30 "target/worker-build-$dir.log" >&2; die "worker-build failed for $dir (log: target/worker-build-$dir.log)"; }
  if [ "${NOIZYLAB_WASM_OPT:-1}" = 1 ] && [ -x node_modules/.bin/wasm-opt ]; then
    # Exactly the features wasm-bindgen's output uses. Not --all-features: binaryen then
    # writes newer encodings (e.g. compact imports) that workerd's V8 refuses to compile.
    node_modules/.bin/wasm-opt -Oz --enable-exception-handling --enable-reference-types \
      --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-mutable-globals --enable-multivalue "$out" -o "$out.opt" >"target/wasm-opt-$dir.log" 2>&1 \
      && mv "$out.opt" "$out" \
      || { rm -f "$out.opt"; say "wasm-opt failed for $dir; keeping the unoptimised wasm (target/wasm-opt-$dir.log)"; }
  fi
}

cmd_build() {
  ensure_setup
  local dirs=("$@")
  [ ${#dirs[@]} -gt 0 ] || dirs=("${WORKERS[@]}")
  for d in "${dirs[@]}"; do
    [ -d "workers/$d" ] || die "no worker named '$d' (see workers/)"
  done
  build_docs
  say "compiling ${#dirs[@]} worker(s) for wasm32 (release)"
  mkdir -p target
  # One cargo invocation per worker, as worker-build makes its own: a single invocation
  # for all of them would unify their dependencies' features, and every worker would be
  # compiled and linked twice (once that way, once again by worker-build, which builds
  # the crate alone). It is made exactly as worker-build makes it, with
  # WASM_BINDGEN_USE_JS_SYS=1 (read by wasm-bindgen's macros as they expand, which cargo
  # does not track). Each worker's post-processing (worker-build, whose cargo step is
  # then a no-op, though it waits for cargo's lock while the next worker compiles;
  # wasm-opt) runs in the background, at most one more at once than there are cores.
  local jobs="${NOIZYLAB_BUILD_JOBS:-$(( $(nproc 2>/dev/null || echo 2) + 1 ))}" pids=() failed=0
  for d in "${dirs[@]}"; do
    if ! WASM_BINDGEN_USE_JS_SYS=1 cargo build --release --target wasm32-unknown-unknown -p "noizylab-$d"; then
      for pid in "${pids[@]}"; do wait "$pid" || true; done
      die "cargo build failed for $d"
    fi
    build_one "$d" &
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then
      wait "${pids[0]}" || failed=1
      pids=("${pids[@]:1}")
    fi
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  [ "$failed" = 0 ] || die "post-processing a worker failed (see above)"
  size_table "${dirs[@]}"
}

size_table() {
  local total_raw=0 total_gz=0 limit=$((1024 * 1024)) over=0
  printf '\n%-24s %12s %12s\n' worker "wasm bytes" "gzipped"
  for d in "$@"; do
    local f="workers/$d/build/index_bg.wasm" raw gz
    raw=$(stat -c %s "$f"); gz=$(gzip -9 -c "$f" | wc -c)
    total_raw=$((total_raw + raw)); total_gz=$((total_gz + gz))
    local flag=""; [ "$gz" -le "$limit" ] || { flag="  over the 1 MiB budget"; over=1; }
    printf '%-24s %12d %12d%s\n' "$d" "$raw" "$gz" "$flag"
  done
  printf '%-24s %12d %12d\n\n' total "$total_raw" "$total_gz"
  [ "$over" = 0 ] || die "a worker is over the 1 MiB gzipped budget"
}

cmd_migrate() {
  ensure_setup
  case "${1:-}" in
    --remote) say "applying migrations to the remote D1"; wrangler d1 migrations apply noizylab-db --remote -c wrangler.toml ;;
    ""|--local) wrangler d1 migrations apply noizylab-db --local --persist-to "$STATE_DIR" -c wrangler.toml ;;
    *) die "migrate takes --local (default) or --remote" ;;
  esac
}

cmd_dev() {
  cmd_build
  say "applying migrations to local state in $STATE_DIR"
  cmd_migrate --local
  say "starting all ${#WORKERS[@]} workers; gateway on http://localhost:$PORT (Ctrl-C stops)"
  exec node scripts/platform.mjs --port "$PORT" --persist-to "$STATE_DIR"
}

cmd_test() {
  local started=$SECONDS
  cmd_build
  say "cargo fmt --check"
  cargo fmt --all -- --check || die "formatting differs: run cargo fmt --all"
  say "cargo clippy (native, and the workers for wasm32)"
  cargo clippy --workspace --all-targets -- -D warnings || die "clippy found problems"
  cargo clippy --target wasm32-unknown-unknown --workspace --exclude noizylab-tests -- -D warnings \
    || die "clippy (wasm32) found problems"
  say "tests: unit, SQL, end to end"
  # Every platform a test starts inherits this mark, so that what is left of them can be
  # found afterwards (and only them, not another run's).
  export NOIZYLAB_TEST_RUN="run-$$-$(date +%s)"
  local tests_ok=1
  # Every crate: the core, each worker's own unit tests (pure functions, run natively), and
  # the end-to-end suites.
  cargo test --workspace --no-fail-fast || tests_ok=0
  check_no_leftovers
  [ "$tests_ok" = 1 ] || die "tests failed"
  cmd_deploy --dry-run
  say "all tests passed in $((SECONDS - started)) s"
}

# The processes (launchers, workerd) still carrying this test run's mark.
marked_processes() {
  local pid
  for env in /proc/[0-9]*/environ; do
    pid="${env#/proc/}"; pid="${pid%/environ}"
    [ "$pid" = "$$" ] || [ "$pid" = "$BASHPID" ] && continue
    { tr '\0' '\n' <"$env"; } 2>/dev/null | grep -qx "NOIZYLAB_TEST_RUN=$NOIZYLAB_TEST_RUN" && echo "$pid"
  done
  return 0
}

# Fails the test command if a platform it started outlived the tests: stopping a platform
# must stop its workerd. Leftovers get 10 s to finish stopping, then are killed and named.
check_no_leftovers() {
  [ -d /proc ] || return 0
  local left="" i
  for i in $(seq 1 20); do
    left="$(marked_processes)"
    [ -z "$left" ] && { say "no workerd or launcher left running"; return 0; }
    sleep 0.5
  done
  say "still running after the tests:"
  for pid in $left; do ps -o pid=,rss=,args= -p "$pid" >&2 || true; done
  kill $left 2>/dev/null || true
  die "the tests left $(echo "$left" | wc -w) process(es) running (killed now): a platform was not stopped"
}

cmd_bench() {
  cmd_build
  local arg
  for arg in "$@"; do
    [ "$arg" = --peer ] && build_peer
  done
  cargo run --release -p noizylab-tests --bin bench -- "$@"
}

# The TypeScript performance peer (../shared/bench/peer-ts, or NOIZYLAB_PEER): its npm
# packages and its two bundled workers.
build_peer() {
  local peer="${NOIZYLAB_PEER:-$ROOT/../shared/bench/peer-ts}"
  [ -f "$peer/run.mjs" ] || die "no performance peer at $peer (set NOIZYLAB_PEER)"
  say "building the TypeScript peer in $peer"
  ( cd "$peer" \
    && { [ -d node_modules ] || npm ci --no-audit --no-fund; } \
    && for f in gateway main; do
         node_modules/.bin/esbuild "src/$f.ts" --bundle --format=esm --platform=neutral --outfile="dist/$f.js" --log-level=warning
       done ) || die "could not build the peer"
}

# --- deploy --------------------------------------------------------------------------

# Reads `name=id` lines of existing resources so that deploy creates only what is missing.
resource_id() { # kind name
  case "$1" in
    d1) wrangler d1 list --json | node -e 'const l=JSON.parse(require("fs").readFileSync(0,"utf8"));const d=l.find(x=>x.name===process.argv[1]);if(d)console.log(d.uuid)' "$2" ;;
    kv) wrangler kv namespace list | node -e 'const l=JSON.parse(require("fs").readFileSync(0,"utf8"));const d=l.find(x=>x.title===process.argv[1]);if(d)console.log(d.id)' "$2" ;;
  esac
}

ensure_resources() {
  say "creating missing resources"
  local db kv
  db="$(resource_id d1 noizylab-db)"
  [ -n "$db" ] || { wrangler d1 create noizylab-db >/dev/null; db="$(resource_id d1 noizylab-db)"; }
  kv="$(resource_id kv noizylab-cache)"
  [ -n "$kv" ] || { wrangler kv namespace create noizylab-cache >/dev/null; kv="$(resource_id kv noizylab-cache)"; }
  [ -n "$db" ] && [ -n "$kv" ] || die "could not create or find the D1 database and KV namespace"
  wrangler r2 bucket create noizylab-uploads >/dev/null 2>&1 || true
  for q in noizylab-events noizylab-jobs noizylab-notify noizylab-workflows; do
    wrangler queues create "$q" >/dev/null 2>&1 || true
    wrangler queues create "$q-dlq" >/dev/null 2>&1 || true
  done
  DB_ID="$db"; KV_ID="$kv"
}

# A deploy config beside each worker's own, with the real ids and production vars.
deploy_config() { # dir
  local src="workers/$1/wrangler.toml" dst="workers/$1/.wrangler.deploy.toml"
  sed -e "s/00000000-0000-4000-8000-00000000d1db/$DB_ID/" \
      -e "s/00000000000000000000000000cac4e0/$KV_ID/" \
      -e "s|^PORTAL_ORIGIN = \"\"|PORTAL_ORIGIN = \"$PORTAL_ORIGIN\"|" \
      -e "s|^PORTAL_URL = \"\"|PORTAL_URL = \"$PORTAL_ORIGIN/portal\"|" "$src" >"$dst"
  printf '%s' "$dst"
}

# The JSON `wrangler secret bulk` reads: the shared INTERNAL_SECRET and each named secret
# whose NOIZYLAB_<name> is set (JSON-encoded by node, so any character is safe).
secrets_json() {
  node -e 'const o = { INTERNAL_SECRET: process.env.NOIZYLAB_INTERNAL_SECRET };
    for (const n of process.argv.slice(1)) { const v = process.env[`NOIZYLAB_${n}`]; if (v) o[n] = v; }
    process.stdout.write(JSON.stringify(o));' "$@"
}

cmd_deploy() {
  local dry=0
  case "${1:-}" in
    --dry-run) dry=1 ;;
    "") ;;
    *) die "deploy takes only --dry-run" ;;
  esac
  if [ "$dry" = 0 ]; then
    # Production is every config's default; a deployment must say where its portal lives
    # (magic links, Stripe's return URL, CORS and WebSocket origin checks), never localhost.
    PORTAL_ORIGIN="${NOIZYLAB_PORTAL_ORIGIN:-}"
    PORTAL_ORIGIN="${PORTAL_ORIGIN%/}"
    case "$PORTAL_ORIGIN" in
      https://localhost*|https://127.*) die "NOIZYLAB_PORTAL_ORIGIN must be the portal's public https origin, not $PORTAL_ORIGIN" ;;
      https://?*) ;;
      *) die "set NOIZYLAB_PORTAL_ORIGIN to the portal's public origin (https://repairs.example.com): links and origin checks use it" ;;
    esac
    [ -n "${CLOUDFLARE_API_TOKEN:-}" ] || die "set CLOUDFLARE_API_TOKEN (and CLOUDFLARE_ACCOUNT_ID) to deploy; try --dry-run without"
  fi
  cmd_build
  if [ "$dry" = 1 ]; then
    say "bundling every worker with wrangler deploy --dry-run (no account needed)"
    for d in "${WORKERS[@]}"; do
      wrangler deploy --dry-run --outdir "$ROOT/target/dry-run/$d" -c "workers/$d/wrangler.toml" \
        >"target/dry-run-$d.log" 2>&1 || { tail -n 30 "target/dry-run-$d.log" >&2; die "dry run failed for $d"; }
      printf '  %-24s bundled (target/dry-run/%s)\n' "$d" "$d"
    done
    say "dry run passed for all ${#WORKERS[@]} workers"
    return 0
  fi
  ensure_resources
  say "applying migrations to the remote D1"
  wrangler d1 migrations apply noizylab-db --remote -c wrangler.toml
  local secret="${NOIZYLAB_INTERNAL_SECRET:-}"
  [ -n "$secret" ] || die "set NOIZYLAB_INTERNAL_SECRET (32+ random bytes, e.g. openssl rand -hex 32); every worker shares it"
  local keys="${NOIZYLAB_JWT_SIGNING_KEYS:-}"
  [ -n "$keys" ] || die "set NOIZYLAB_JWT_SIGNING_KEYS to kid:base64url(32 random bytes)[,older keys…] (main signs access tokens with the first)"
  for d in "${WORKERS[@]}"; do
    local cfg; cfg="$(deploy_config "$d")"
    say "deploying noizylab-$d"
    wrangler deploy -c "$cfg"
    if [ "$d" = main ]; then
      # Inbound replies answer 503 until their keys are set (SendGrid's URL key, Mailgun's signing key).
      secrets_json JWT_SIGNING_KEYS INBOUND_EMAIL_KEY MAILGUN_WEBHOOK_SIGNING_KEY | wrangler secret bulk -c "$cfg" >/dev/null
    elif [ "$d" = notifications ]; then
      # Each provider whose secret is given; email and SMS answer 503 in production without one.
      secrets_json SENDGRID_API_KEY MAILGUN_API_KEY TWILIO_ACCOUNT_SID TWILIO_AUTH_TOKEN TWILIO_FROM VAPID_PRIVATE_KEY \
        | wrangler secret bulk -c "$cfg" >/dev/null
    elif [ "$d" = customer-portal ] && [ -n "${NOIZYLAB_STRIPE_SECRET_KEY:-}" ]; then
      # Payments answer 503 until both Stripe secrets are set.
      printf '{"INTERNAL_SECRET":"%s","STRIPE_SECRET_KEY":"%s","STRIPE_WEBHOOK_SECRET":"%s"}' "$secret" \
        "$NOIZYLAB_STRIPE_SECRET_KEY" "${NOIZYLAB_STRIPE_WEBHOOK_SECRET:-}" | wrangler secret bulk -c "$cfg" >/dev/null
    elif [ "$d" = voice ] && [ -n "${NOIZYLAB_ELEVENLABS_API_KEY:-}" ]; then
      # Speech answers 503 until the ElevenLabs key is set.
      printf '{"INTERNAL_SECRET":"%s","ELEVENLABS_API_KEY":"%s"}' "$secret" "$NOIZYLAB_ELEVENLABS_API_KEY" \
        | wrangler secret bulk -c "$cfg" >/dev/null
    elif [ "$d" = ebay-sniper ] && [ -n "${NOIZYLAB_EBAY_CLIENT_ID:-}" ]; then
      # Deal searches answer 503 until the eBay application keyset is set.
      printf '{"INTERNAL_SECRET":"%s","EBAY_CLIENT_ID":"%s","EBAY_CLIENT_SECRET":"%s"}' "$secret" \
        "$NOIZYLAB_EBAY_CLIENT_ID" "${NOIZYLAB_EBAY_CLIENT_SECRET:-}" | wrangler secret bulk -c "$cfg" >/dev/null
    else
      printf '{"INTERNAL_SECRET":"%s"}' "$secret" | wrangler secret bulk -c "$cfg" >/dev/null
    fi
  done
  say "deployed all ${#WORKERS[@]} workers"
}

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }

main() {
  local cmd="${1:-}"; shift || true
  case "$cmd" in
    setup) cmd_setup "$@" ;;
    build) cmd_build "$@" ;;
    dev) cmd_dev "$@" ;;
    test) cmd_test "$@" ;;
    migrate) cmd_migrate "$@" ;;
    deploy) cmd_deploy "$@" ;;
    bench) cmd_bench "$@" ;;
    -h|--help|help|"") usage ;;
    *) usage; die "unknown command '$cmd'" ;;
  esac
}

main "$@"
