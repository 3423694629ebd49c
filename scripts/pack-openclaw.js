#!/usr/bin/env node
'use strict'
// Packs this checkout into the tarball openclaw installs with `openclaw plugins install npm-pack:<tgz>`, and prints
// that command. The way to run a checkout in openclaw: `plugins install --link <checkout>` fails on any built
// checkout, since openclaw's install-time scan stops at 10,000 directories (target/, node_modules/).
// A release brings the addon as a platform package (the optionalDependencies `napi prepublish` adds); a checkout's
// package has none, so the built addon rides in the tarball, as in the openclaw e2e test.
//
//   npm run build && node scripts/pack-openclaw.js [--out <dir>]
//
// stdout: the install command only; stderr: what was packed.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const ROOT = path.join(__dirname, '..')

/** `npm pack --json` in `cwd`: the first entry of its answer (npm may print notices before the JSON). */
function npmPack(cwd, args) {
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return JSON.parse(out.slice(out.indexOf('[')))[0]
}

/** Stages the package files plus the built addon and packs them into `out`; returns the tarball's absolute path. */
function packForOpenclaw(out = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-native-openclaw-'))) {
  const addon = fs.readdirSync(ROOT).find((f) => /^kimi-native\..+\.node$/.test(f))
  if (!addon) throw new Error('no built addon (kimi-native.<platform>.node) in the checkout: run `npm run build` first')
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-native-stage-'))
  try {
    for (const f of [...npmPack(ROOT, ['--dry-run']).files.map((e) => e.path), addon]) {
      fs.mkdirSync(path.dirname(path.join(stage, f)), { recursive: true })
      fs.copyFileSync(path.join(ROOT, f), path.join(stage, f))
    }
    try {
      execFileSync('strip', ['--strip-all', path.join(stage, addon)], { stdio: 'ignore' }) // binutils; a debug build shrinks tenfold
    } catch {}
    const pkg = JSON.parse(fs.readFileSync(path.join(stage, 'package.json'), 'utf8'))
    pkg.files = [...pkg.files, addon]
    delete pkg.scripts.install // it fetches a platform package; the addon is already here (and npm-pack installs run no scripts)
    fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(pkg, null, 2) + '\n')
    fs.mkdirSync(out, { recursive: true })
    return path.resolve(out, npmPack(stage, ['--pack-destination', path.resolve(out)]).filename)
  } finally {
    fs.rmSync(stage, { recursive: true, force: true })
  }
}

/** The command that installs the tarball into openclaw (2026.9.6; `--force` is what a non-interactive install of a local source needs). */
const installCommand = (tgz) => `openclaw plugins install npm-pack:${tgz} --force --accept-capabilities`

if (require.main === module) {
  const i = process.argv.indexOf('--out')
  try {
    const tgz = packForOpenclaw(i > 0 ? process.argv[i + 1] : undefined)
    console.error(`Packed ${tgz} (this checkout with its built addon). Install it into openclaw (Node >= 24.16):`)
    console.log(installCommand(tgz))
  } catch (err) {
    console.error(`pack-openclaw: ${err.message}`)
    process.exit(1)
  }
}

module.exports = { packForOpenclaw, installCommand }
