'use strict'
// A local npm registry on loopback for install tests: verdaccio (from npm, cached in <repo>/.test-cache/verdaccio)
// with no uplink, so only what a test publishes exists. Packages are published as a release would publish them
// (`napi prepublish -t npm` for the platform packages and the root's optionalDependencies, then `npm publish`).

const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')

const REPO = path.resolve(__dirname, '..', '..')
const BASE = path.join(REPO, '.test-cache', 'verdaccio')
const VERDACCIO = '6.10.4'
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'

/** Install verdaccio once; { ok, bin } or { ok: false, reason }. */
function ensureVerdaccio() {
  const bin = path.join(BASE, 'node_modules', 'verdaccio', 'bin', 'verdaccio')
  const installed = (() => {
    try {
      return JSON.parse(fs.readFileSync(path.join(BASE, 'node_modules', 'verdaccio', 'package.json'), 'utf8')).version
    } catch {
      return null
    }
  })()
  if (installed !== VERDACCIO) {
    fs.mkdirSync(BASE, { recursive: true })
    // npm's registry tag node-fetch@cjs (= 2.7.0) is missing on some mirrors; pin what it points to.
    fs.writeFileSync(
      path.join(BASE, 'package.json'),
      JSON.stringify({ name: 'cache-verdaccio', private: true, overrides: { 'node-fetch': '2.7.0' } }) + '\n',
    )
    const r = spawnSync(NPM, ['install', '--no-audit', '--no-fund', '--loglevel=error', `verdaccio@${VERDACCIO}`], {
      cwd: BASE,
      encoding: 'utf8',
      timeout: 300000,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    if (r.status !== 0 || !fs.existsSync(bin)) {
      const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').slice(-3).join(' | ')
      return { ok: false, reason: `cannot install verdaccio@${VERDACCIO}: ${why}` }
    }
  }
  return { ok: true, bin }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

async function waitUp(url, child, timeoutMs) {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited with ${child.exitCode}`)
    try {
      const r = await fetch(`${url}/-/ping`)
      if (r.ok) return
    } catch {}
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`verdaccio did not answer on ${url} within ${timeoutMs} ms`)
}

/**
 * Start a registry in `dir` (storage, config, npmrc live there). Resolves { url, npmrc, env, publish, close }.
 * `env` points npm at the registry (and only it) through its own userconfig.
 */
async function startRegistry(dir, { node = process.execPath } = {}) {
  const v = ensureVerdaccio()
  if (!v.ok) throw new Error(v.reason)
  fs.mkdirSync(dir, { recursive: true })
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const config = path.join(dir, 'config.yaml')
  const upstream =
    (spawnSync(NPM, ['config', 'get', 'registry'], { encoding: 'utf8' }).stdout || '').trim() ||
    'https://registry.npmjs.org/'
  fs.writeFileSync(
    config,
    [
      `storage: ${JSON.stringify(path.join(dir, 'storage'))}`,
      'auth:',
      '  htpasswd:',
      `    file: ${JSON.stringify(path.join(dir, 'htpasswd'))}`,
      '    max_users: 10',
      // Dependencies (commander ...) come from the registry npm is configured with; kimi-native* only
      // from what the test publishes.
      'uplinks:',
      '  upstream:',
      `    url: ${JSON.stringify(upstream)}`,
      '    timeout: 60s',
      'max_body_size: 300mb',
      'packages:',
      "  'kimi-native*':",
      '    access: $all',
      '    publish: $authenticated',
      "  '**':",
      '    access: $all',
      '    publish: $authenticated',
      '    proxy: upstream',
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  )
  let log = ''
  const child = spawn(node, [v.bin, '--config', config, '--listen', `127.0.0.1:${port}`], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    // The upstream needs the machine's proxy and CA settings; npm's own settings stay out.
    env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k))), HOME: dir },
  })
  child.stdout.on('data', (d) => (log += d))
  child.stderr.on('data', (d) => (log += d))
  const close = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    })
  try {
    await waitUp(url, child, 30000)
  } catch (err) {
    await close()
    throw new Error(`${err.message}\n${log.slice(-1000)}`)
  }
  // A throwaway publisher account; the token stays in this registry's own npmrc.
  const user = await fetch(`${url}/-/user/org.couchdb.user:kn-test`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'kn-test', password: `pw-${process.pid}-${port}` }),
  }).then((r) => r.json())
  const npmrc = path.join(dir, 'npmrc')
  const hostPart = url.replace(/^https?:/, '')
  fs.writeFileSync(npmrc, `registry=${url}/\n${hostPart}/:_authToken=${user.token}\n`)
  const env = {
    npm_config_userconfig: npmrc,
    npm_config_registry: `${url}/`,
    npm_config_cache: path.join(dir, 'npm-cache'),
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
  }
  const baseEnv = () => {
    const e = { ...process.env }
    for (const k of Object.keys(e)) if (/^npm_/i.test(k)) delete e[k]
    return { ...e, ...env }
  }

  /** Run npm (or another command) with the registry's environment. */
  const run = (cmd, args, cwd) => {
    const r = spawnSync(cmd, args, { cwd, env: baseEnv(), encoding: 'utf8', timeout: 300000 })
    if (r.status !== 0) {
      const out = `${r.stdout || ''}\n${r.stderr || ''}\n${r.error || ''}`.trim()
      throw new Error(`${path.basename(cmd)} ${args.join(' ')} failed (${r.status}): ${out.slice(-1500)}`)
    }
    return r.stdout
  }
  return { url, npmrc, env, run, close, log: () => log }
}

/**
 * Publish the checkout to `registry` as a release does: a staging copy of the package files, the built
 * addon placed as `napi artifacts` would, `napi prepublish -t npm` (platform packages + optionalDependencies),
 * then `npm publish` of the root. Only platform packages with a built addon are published.
 * Returns { version, platformPackages }.
 */
function publishCheckout(registry, stage) {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'))
  fs.rmSync(stage, { recursive: true, force: true })
  fs.mkdirSync(stage, { recursive: true })
  // What the package publishes (package.json `files`, plus what npm always includes).
  for (const f of ['package.json', 'LICENSE', ...pkg.files]) {
    const from = path.join(REPO, f)
    if (fs.existsSync(from)) fs.cpSync(from, path.join(stage, f), { recursive: true })
  }
  const addons = fs.readdirSync(REPO).filter((f) => /^kimi-native\..+\.node$/.test(f))
  const platforms = []
  for (const addon of addons) {
    const triple = addon.split('.')[1]
    const src = path.join(REPO, 'npm', triple)
    if (!fs.existsSync(src)) continue
    fs.cpSync(src, path.join(stage, 'npm', triple), { recursive: true })
    const dest = path.join(stage, 'npm', triple, addon)
    fs.copyFileSync(path.join(REPO, addon), dest)
    // A debug build carries ~100 MB of symbols and DWARF that a release build does not; strip them (when
    // binutils is there) so publishing and installing stay fast. The napi entry points are dynamic symbols.
    spawnSync('strip', ['--strip-all', dest], { stdio: 'ignore', timeout: 60000 })
    platforms.push(triple)
  }
  if (!platforms.length) throw new Error('no built addon (kimi-native.<triple>.node) to publish')
  // Only the built targets: napi publishes one platform package per configured target.
  const stagedPkg = JSON.parse(fs.readFileSync(path.join(stage, 'package.json'), 'utf8'))
  const byTriple = {
    'linux-x64-gnu': 'x86_64-unknown-linux-gnu',
    'linux-arm64-gnu': 'aarch64-unknown-linux-gnu',
    'linux-x64-musl': 'x86_64-unknown-linux-musl',
    'darwin-x64': 'x86_64-apple-darwin',
    'darwin-arm64': 'aarch64-apple-darwin',
    'win32-x64-msvc': 'x86_64-pc-windows-msvc',
    'win32-arm64-msvc': 'aarch64-pc-windows-msvc',
  }
  stagedPkg.napi.targets = stagedPkg.napi.targets.filter((t) => platforms.some((p) => byTriple[p] === t))
  delete stagedPkg.scripts.prepublishOnly
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(stagedPkg, null, 2) + '\n')
  const napi = path.join(REPO, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
  registry.run(process.execPath, [napi, 'prepublish', '-t', 'npm', '--no-gh-release'], stage)
  registry.run(NPM, ['publish', '--ignore-scripts'], stage)
  return { version: pkg.version, platformPackages: platforms.map((p) => `${pkg.name}-${p}`) }
}

module.exports = { ensureVerdaccio, startRegistry, publishCheckout, tmpdir: os.tmpdir }
