#!/usr/bin/env bash
# Release rehearsal on an x86_64 Linux host (see docs/release.md). Nothing is published.
#
#   bash scripts/verify-release.sh
#
# 1. release build of x86_64-unknown-linux-gnu with --use-napi-cross (gcc + glibc 2.17 sysroot fetched from
#    the npm registry into ~/.napi-rs), into .test-cache/release/out (the work tree's index.js and *.node
#    are not touched);
# 2. reports the .node size and its highest GLIBC symbol version (fails above MAX_GLIBC, default 2.17) and
#    checks that the generated loader loads it;
# 3. stages the root package and npm/linux-x64-gnu in a temp dir, lets `napi prepublish -t npm
#    --skip-optional-publish --no-gh-release` write the exact-version optionalDependency, `npm pack`s both;
# 4. installs both tarballs into an empty temp project with cargo/rustc/rustup removed from PATH (the root
#    install script runs and must not build), then runs `npx kimi-native --version` and
#    `require('kimi-native').buildHeaders()`.
# Exits non-zero on the first failure. Env: MAX_GLIBC (2.17), KEEP_TMP=1 keeps the temp dirs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET=x86_64-unknown-linux-gnu
PLAT=linux-x64-gnu
MAX_GLIBC="${MAX_GLIBC:-2.17}"
REL="$ROOT/.test-cache/release"
NAPI="$ROOT/node_modules/.bin/napi"

die() { echo "verify-release: FAIL: $*" >&2; exit 1; }
step() { printf '\n=== %s ===\n' "$*"; }
TMP_DIRS=()
cleanup() {
  if [ "${KEEP_TMP:-0}" = 1 ]; then
    [ "${#TMP_DIRS[@]}" -eq 0 ] || echo "verify-release: kept ${TMP_DIRS[*]}"
  else
    for d in "${TMP_DIRS[@]}"; do rm -rf "$d"; done
  fi
}
trap cleanup EXIT
mktmp() { local d; d="$(mktemp -d "${TMPDIR:-/tmp}/kimi-native-$1.XXXXXX")"; TMP_DIRS+=("$d"); echo "$d"; }

# ---------------------------------------------------------------------------------------------- checks
[ "$(uname -s)/$(uname -m)" = "Linux/x86_64" ] || die "this rehearsal builds $TARGET and must run on x86_64 Linux"
for tool in node npm cargo objdump; do command -v "$tool" >/dev/null || die "$tool not found on PATH"; done
BIN="$(node -p "require('./package.json').napi.binaryName")"
NAME="$(node -p "require('./package.json').name")"
VERSION="$(node -p "require('./package.json').version")"
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$NODE_MAJOR" -lt 22 ]; then
  # --use-napi-cross on Node 20 needs these npm overrides (see docs/release.md).
  node -e '
    const o = require("./package.json").overrides || {};
    if (!o["@napi-rs/lzma"] || !o["@napi-rs/cross-toolchain"]) {
      console.error("package.json overrides for @napi-rs/lzma and @napi-rs/cross-toolchain are missing");
      process.exit(1);
    }' || die "--use-napi-cross cannot work on Node $NODE_MAJOR without the overrides"
fi
if [ ! -x "$NAPI" ]; then
  step "npm install --ignore-scripts (node_modules missing)"
  if [ -f package-lock.json ]; then npm install --ignore-scripts --no-audit --no-fund
  else npm install --ignore-scripts --no-audit --no-fund --no-save --no-package-lock; fi
fi
[ -x "$NAPI" ] || die "@napi-rs/cli is not installed"

rm -rf "$REL"
mkdir -p "$REL/out" "$REL/tarballs"

# ------------------------------------------------------------------------------------------------ build
step "release build: napi build --platform --release --target $TARGET --use-napi-cross"
start=$SECONDS
if ! "$NAPI" build --platform --release --target "$TARGET" --use-napi-cross --output-dir "$REL/out" >"$REL/build.log" 2>&1; then
  tail -n 80 "$REL/build.log" >&2
  die "release build failed (full log: .test-cache/release/build.log)"
fi
BUILD_SECS=$((SECONDS - start))
tail -n 3 "$REL/build.log"
NODE_FILE="$REL/out/$BIN.$PLAT.node"
[ -f "$NODE_FILE" ] || die "build produced no $BIN.$PLAT.node in .test-cache/release/out"
for f in index.js index.d.ts; do [ -f "$REL/out/$f" ] || die "build did not generate $f in .test-cache/release/out"; done
NODE_SIZE="$(stat -c %s "$NODE_FILE")"
echo "built $BIN.$PLAT.node: $NODE_SIZE bytes in ${BUILD_SECS}s"

step "glibc floor (max GLIBC_$MAX_GLIBC)"
GLIBC_OUT="$(bash "$ROOT/scripts/check-glibc.sh" "$NODE_FILE" "$MAX_GLIBC" 2>&1)" || { echo "$GLIBC_OUT" >&2; die "glibc floor above $MAX_GLIBC"; }
echo "$GLIBC_OUT"
GLIBC_MAX="$(printf '%s\n' "$GLIBC_OUT" | grep -o 'highest GLIBC_[0-9.]*' | sed 's/highest //')"
objdump -p "$NODE_FILE" | awk '/NEEDED/ {print "  needs " $2}'

step "load check: node -e \"require('./index.js')\" in the build output"
(cd "$REL/out" && node -e "const b = require('./index.js'); console.log('loaded, ' + Object.keys(b).length + ' exports')") \
  || die "the release .node does not load"

# ---------------------------------------------------------------------------------------------- staging
step "stage root package + npm/$PLAT, napi prepublish (metadata only)"
STAGE_BASE="$(mktmp stage)"
STAGE="$STAGE_BASE/$NAME"
mkdir -p "$STAGE/npm"
# Root: what package.json `files` names (plus README/LICENSE, which npm always ships), then the freshly
# generated loader. The staged napi.targets is cut to the one target built here, because prepublish refuses
# to run while any configured target lacks its binary; it is restored right after.
ROOT="$ROOT" STAGE="$STAGE" OUT="$REL/out" node -e '
  const fs = require("fs"), path = require("path");
  const { ROOT, STAGE, OUT } = process.env;
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8"));
  const names = [...(pkg.files || []), ...fs.readdirSync(ROOT).filter((f) => /^(readme|license|licence)/i.test(f))];
  for (const f of names) {
    const src = path.join(ROOT, f);
    if (fs.existsSync(src)) fs.cpSync(src, path.join(STAGE, f), { recursive: true });
  }
  for (const f of ["index.js", "index.d.ts"]) fs.copyFileSync(path.join(OUT, f), path.join(STAGE, f));
  fs.writeFileSync(path.join(STAGE, "package.json"), JSON.stringify({ ...pkg, napi: { ...pkg.napi, targets: ["'"$TARGET"'"] } }, null, 2) + "\n");
'
cp -R "$ROOT/npm/$PLAT" "$STAGE/npm/$PLAT"
cp "$NODE_FILE" "$STAGE/npm/$PLAT/"
(cd "$STAGE" && "$NAPI" prepublish -t npm --skip-optional-publish --no-gh-release) >"$REL/prepublish.log" 2>&1 \
  || { cat "$REL/prepublish.log" >&2; die "napi prepublish failed"; }
ROOT="$ROOT" STAGE="$STAGE" node -e '
  const fs = require("fs"), path = require("path");
  const orig = JSON.parse(fs.readFileSync(path.join(process.env.ROOT, "package.json"), "utf8"));
  const file = path.join(process.env.STAGE, "package.json");
  const staged = JSON.parse(fs.readFileSync(file, "utf8"));
  const want = { [orig.name + "-'"$PLAT"'"]: orig.version };
  if (JSON.stringify(staged.optionalDependencies) !== JSON.stringify(want)) {
    console.error("optionalDependencies after prepublish:", staged.optionalDependencies, "expected", want);
    process.exit(1);
  }
  console.log("optionalDependencies:", JSON.stringify(staged.optionalDependencies));
  staged.napi = orig.napi;
  fs.writeFileSync(file, JSON.stringify(staged, null, 2) + "\n");
' || die "prepublish did not set the exact-version optionalDependency"

# -------------------------------------------------------------------------------------------------- pack
step "npm pack"
(cd "$STAGE" && npm pack --json --ignore-scripts --pack-destination "$REL/tarballs" 2>"$REL/pack-root.err") >"$REL/pack-root.json" \
  || { cat "$REL/pack-root.err" >&2; die "npm pack (root) failed"; }
(cd "$STAGE/npm/$PLAT" && npm pack --json --ignore-scripts --pack-destination "$REL/tarballs" 2>"$REL/pack-plat.err") >"$REL/pack-plat.json" \
  || { cat "$REL/pack-plat.err" >&2; die "npm pack ($PLAT) failed"; }
PACK_SUMMARY="$(REL="$REL" BIN="$BIN" PLAT="$PLAT" STAGE="$STAGE" node -e '
  const fs = require("fs"), path = require("path");
  const { REL, BIN, PLAT } = process.env;
  const read = (f) => { const t = fs.readFileSync(path.join(REL, f), "utf8"); return JSON.parse(t.slice(t.indexOf("[")))[0]; };
  const root = read("pack-root.json"), plat = read("pack-plat.json");
  const problems = [];
  const rootFiles = root.files.map((f) => f.path);
  // Every file package.json points at (main, types, bin, exports, the install script) must be packed.
  const pkg = JSON.parse(fs.readFileSync(path.join(process.env.STAGE, "package.json"), "utf8"));
  const leaves = (v) => typeof v === "string" ? [v] : Object.values(v || {}).flatMap(leaves);
  const install = /node\s+(\S+)/.exec((pkg.scripts || {}).install || "");
  const needed = new Set(["package.json", "index.js", "index.d.ts", pkg.main, pkg.types, ...leaves(pkg.bin), ...leaves(pkg.exports), install && install[1]]
    .filter(Boolean).map((p) => p.replace(/^\.\//, "")));
  for (const need of needed)
    if (!rootFiles.includes(need)) problems.push(`root tarball lacks ${need} (referenced by package.json)`);
  for (const f of rootFiles)
    if (/\.node$|^(src|__test__|npm|target|\.github|docs|bench)\/|^Cargo\.|^build\.rs$/.test(f)) problems.push(`root tarball ships ${f}`);
  const platFiles = plat.files.map((f) => f.path);
  if (!platFiles.includes(`${BIN}.${PLAT}.node`)) problems.push(`platform tarball lacks ${BIN}.${PLAT}.node`);
  for (const p of [root, plat]) {
    console.log(`${p.filename}: ${p.size} bytes packed, ${p.unpackedSize} unpacked, ${p.entryCount} files`);
    for (const f of p.files) console.log(`  ${String(f.size).padStart(9)}  ${f.path}`);
  }
  if (problems.length) { console.error(problems.join("\n")); process.exit(1); }
')" || { echo "$PACK_SUMMARY"; die "tarball contents are wrong"; }
echo "$PACK_SUMMARY"
TGZ_ROOT="$(ls "$REL"/tarballs/"$NAME"-"$VERSION".tgz)"
TGZ_PLAT="$(ls "$REL"/tarballs/"$NAME"-"$PLAT"-"$VERSION".tgz)"

# ------------------------------------------------------------------------------------ install, no Rust
step "install both tarballs into an empty project with no Rust toolchain on PATH"
NORUST_PATH=""
IFS=: read -r -a path_dirs <<<"$PATH"
for d in "${path_dirs[@]}"; do
  [ -n "$d" ] || continue
  if [ -e "$d/cargo" ] || [ -e "$d/rustc" ] || [ -e "$d/rustup" ]; then echo "  dropping $d from PATH"; continue; fi
  NORUST_PATH="${NORUST_PATH:+$NORUST_PATH:}$d"
done
norust() { env -u CARGO -u RUSTC -u RUSTUP_TOOLCHAIN -u CARGO_HOME -u RUSTUP_HOME PATH="$NORUST_PATH" "$@"; }
norust sh -c 'command -v cargo || command -v rustc' >/dev/null && die "could not build a PATH without cargo/rustc"
norust sh -c 'command -v node && command -v npm' >/dev/null || die "node/npm are not reachable without the Rust dirs"

INST="$(mktmp install)"
printf '{ "name": "kimi-native-install-check", "version": "1.0.0", "private": true }\n' >"$INST/package.json"
(cd "$INST" && norust npm install --no-audit --no-fund --foreground-scripts "$TGZ_PLAT" "$TGZ_ROOT") >"$REL/install.log" 2>&1 \
  || { cat "$REL/install.log" >&2; die "npm install of the tarballs failed without a Rust toolchain"; }
grep -v 'Unknown user config' "$REL/install.log" | sed 's/^/  /' | tail -n 15
if grep -q '"install"' "$STAGE/package.json"; then
  grep -q 'node scripts/install.js' "$REL/install.log" || die "the root install script did not run"
fi
if grep -Eq 'Compiling |napi build|cargo build' "$REL/install.log"; then die "the install script tried to build Rust"; fi
ls "$INST/node_modules/$NAME"/*.node >/dev/null 2>&1 && die "the root package contains a .node file"
[ -f "$INST/node_modules/$NAME-$PLAT/$BIN.$PLAT.node" ] || die "platform package was not installed"

step "npx kimi-native --version"
CLI_OUT="$(cd "$INST" && norust npx --no -- kimi-native --version 2>&1)" || { echo "$CLI_OUT" >&2; die "kimi-native --version failed"; }
echo "$CLI_OUT"
printf '%s\n' "$CLI_OUT" | grep -qF "$VERSION" || die "kimi-native --version does not print $VERSION"

step "require('kimi-native').buildHeaders()"
HDR_OUT="$(cd "$INST" && mkdir -p home && norust env HOME="$INST/home" KIMI_NATIVE_HOME="$INST/home/.kimi-native" KIMI_NATIVE_STORE=file node -e "
  const k = require('kimi-native');
  const h = k.buildHeaders();
  // The honest default identity: kimi-native's own User-Agent, no official-client X-Msh-* headers.
  const ua = Array.isArray(h) && h.find((p) => p[0] === 'User-Agent');
  if (!ua || !/^kimi-native\/\S+ \(/.test(ua[1]) || h.some((p) => /^x-msh-/i.test(p[0])))
    throw new Error('unexpected buildHeaders() result: ' + JSON.stringify(h));
  const native = require.resolve('$NAME-$PLAT');
  console.log(h.length + ' header pairs: ' + h.map((p) => p[0]).join(', '));
  console.log('native package: ' + require('path').relative(process.cwd(), native));
" 2>&1)" || { echo "$HDR_OUT" >&2; die "require('kimi-native').buildHeaders() failed"; }
echo "$HDR_OUT"

# --------------------------------------------------------------------------------------------- summary
TGZ_ROOT_SIZE="$(stat -c %s "$TGZ_ROOT")"
TGZ_PLAT_SIZE="$(stat -c %s "$TGZ_PLAT")"
SUMMARY="verify-release: OK
  target            $TARGET (--use-napi-cross), node $(node --version), $(rustc --version)
  build time        ${BUILD_SECS}s
  .node size        $NODE_SIZE bytes
  glibc floor       $GLIBC_MAX (max allowed GLIBC_$MAX_GLIBC)
  root tarball      $(basename "$TGZ_ROOT") $TGZ_ROOT_SIZE bytes
  platform tarball  $(basename "$TGZ_PLAT") $TGZ_PLAT_SIZE bytes
  no-Rust install   ok (install script did not build; --version and buildHeaders() work)"
printf '\n%s\n' "$SUMMARY" | tee "$REL/summary.txt"
