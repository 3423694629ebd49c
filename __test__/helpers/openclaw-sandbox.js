'use strict'
// Installs a pinned openclaw (npm `openclaw`, needs Node >= 24.16: Node 24 from host-node.js) into
// <repo>/.test-cache/openclaw and runs it hermetically: own HOME, OPENCLAW_STATE_DIR, config file, log file and
// kimi-native home in a temp dir, a dead npm registry, stdin from /dev/null, always under a timeout.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { ensureHostNode } = require('./host-node')

const REPO = path.resolve(__dirname, '..', '..')
const CACHE = path.join(REPO, '.test-cache')
const OPENCLAW = { pkg: 'openclaw', version: '2026.9.6', dir: 'openclaw', nodeMajor: 24 }
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
 * Make sure Node 24 and openclaw@version are installed under .test-cache; returns
 * { ok: true, node, entry, version } or { ok: false, reason }.
 */
function ensureOpenclaw({ version = OPENCLAW.version } = {}) {
  const host = ensureHostNode(OPENCLAW.nodeMajor)
  if (!host.ok) return { ok: false, reason: host.reason }
  const base = path.join(CACHE, OPENCLAW.dir)
  const binDir = path.dirname(host.node)
  if (installedVersion(base, OPENCLAW.pkg) !== version) {
    fs.mkdirSync(base, { recursive: true })
    const pj = path.join(base, 'package.json')
    if (!fs.existsSync(pj)) fs.writeFileSync(pj, JSON.stringify({ name: `cache-${OPENCLAW.dir}`, private: true }) + '\n')
    // npm runs openclaw's install scripts with the `node` first on PATH: Node 24, as openclaw's engines want.
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `${OPENCLAW.pkg}@${version}`], {
      cwd: base,
      encoding: 'utf8',
      timeout: 600000,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PATH: `${binDir}${path.delimiter}${process.env.PATH}` },
    })
    if (r.status !== 0 || installedVersion(base, OPENCLAW.pkg) !== version) {
      const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').slice(-3).join(' | ')
      return { ok: false, reason: `cannot install ${OPENCLAW.pkg}@${version}: ${why}` }
    }
  }
  // openclaw refuses a linked plugin whose directory contains other plugins' roots ("conflicting child rows"),
  // and its bundled plugins would sit inside the checkout under .test-cache: run a hard-linked mirror of the
  // cached install that lives outside the checkout (instant on one filesystem, a plain copy otherwise).
  const run = path.join(os.tmpdir(), `kimi-native-test-${OPENCLAW.dir}-${version}`)
  if (installedVersion(run, OPENCLAW.pkg) !== version || !fs.existsSync(path.join(run, '.complete'))) {
    fs.rmSync(run, { recursive: true, force: true })
    let r = spawnSync('cp', ['-al', base, run], { encoding: 'utf8', timeout: 300000 })
    if (r.status !== 0) {
      fs.rmSync(run, { recursive: true, force: true })
      r = spawnSync('cp', ['-a', base, run], { encoding: 'utf8', timeout: 300000 })
    }
    if (r.status !== 0) return { ok: false, reason: `cannot mirror the openclaw install to ${run}: ${r.stderr || r.error}` }
    fs.writeFileSync(path.join(run, '.complete'), version)
  }
  const root = path.join(run, 'node_modules', OPENCLAW.pkg)
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin.openclaw
  return { ok: true, node: host.node, binDir, entry: path.join(root, bin), root, version }
}

/** Every live descendant of pid (openclaw forks workers into their own process groups, so a group kill misses them). */
function descendants(pid) {
  const r = spawnSync('ps', ['-eo', 'pid=,ppid='], { encoding: 'utf8' })
  const children = new Map()
  for (const line of (r.stdout || '').split('\n')) {
    const [p, pp] = line.trim().split(/\s+/).map(Number)
    if (!p) continue
    if (!children.has(pp)) children.set(pp, [])
    children.get(pp).push(p)
  }
  const out = []
  const walk = (p) => {
    for (const c of children.get(p) || []) {
      out.push(c)
      walk(c)
    }
  }
  walk(pid)
  return out
}

/**
 * Like spawn.js's spawnCollect, but a timeout kills the whole process tree, and once `doneWhen(stdout)` holds the
 * process gets graceMs to exit by itself before the tree is killed (openclaw can linger after its answer).
 * Resolves { code, signal, stdout, stderr, timedOut, lingered, ms }.
 */
function runTree(cmd, args, { cwd, env, timeoutMs, onStdout, onStderr, doneWhen, graceMs = 15000 }) {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    let lingered = false
    let graceTimer = null
    const killTree = () => {
      for (const p of [...descendants(child.pid), child.pid]) {
        try {
          process.kill(p, 'SIGKILL')
        } catch {}
      }
    }
    const timer = setTimeout(() => {
      timedOut = true
      killTree()
    }, timeoutMs)
    child.stdout.on('data', (d) => {
      stdout += d
      if (onStdout) onStdout(String(d), child)
      if (doneWhen && !graceTimer && doneWhen(stdout)) {
        graceTimer = setTimeout(() => {
          lingered = true
          killTree()
        }, graceMs)
      }
    })
    child.stderr.on('data', (d) => {
      stderr += d
      if (onStderr) onStderr(String(d), child)
    })
    child.on('error', (e) => (stderr += `\nspawn error: ${e.message}`))
    child.on('exit', () => {
      // Workers openclaw forked must not outlive the command (they would hold the pipes and the state dir).
      setTimeout(killTree, 2000).unref()
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      clearTimeout(graceTimer)
      resolve({ code, signal, stdout, stderr, timedOut, lingered, ms: Date.now() - started })
    })
  })
}

/** A throwaway HOME / openclaw state dir / config / kimi-native home. */
function createSandbox(oc, { kimiEnv = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-openclaw-'))
  const sb = {
    dir,
    home: path.join(dir, 'home'),
    state: path.join(dir, 'state'),
    workspace: path.join(dir, 'workspace'),
    kimiHome: path.join(dir, 'home', '.kimi-native'),
    configPath: path.join(dir, 'state', 'openclaw.json'),
    logPath: path.join(dir, 'openclaw.log'),
  }
  for (const d of [sb.home, sb.state, sb.workspace]) fs.mkdirSync(d, { recursive: true, mode: 0o700 })
  // openclaw logs to /tmp/openclaw/... unless the config names a file; keep it in the sandbox.
  sb.writeConfig = (obj = {}) =>
    fs.writeFileSync(sb.configPath, JSON.stringify({ logging: { file: sb.logPath }, ...obj }, null, 2) + '\n')
  sb.writeConfig()
  sb.readConfig = () => JSON.parse(fs.readFileSync(sb.configPath, 'utf8'))

  /** Environment built from scratch (no inherited OPENCLAW_*, KIMI_*, OPENAI_* ...); only the network setup passes. */
  sb.env = (extra = {}) => {
    const env = {}
    for (const [k, v] of Object.entries(process.env)) if (PASS_ENV.test(k)) env[k] = v
    Object.assign(env, {
      PATH: `${oc.binDir}${path.delimiter}${process.env.PATH}`,
      HOME: sb.home,
      USERPROFILE: sb.home,
      XDG_CONFIG_HOME: path.join(sb.home, '.config'),
      XDG_DATA_HOME: path.join(sb.home, '.local', 'share'),
      XDG_CACHE_HOME: path.join(sb.home, '.cache'),
      TMPDIR: os.tmpdir(),
      LANG: 'C.UTF-8',
      TERM: 'dumb',
      NO_COLOR: '1',
      OPENCLAW_STATE_DIR: sb.state,
      OPENCLAW_CONFIG_PATH: sb.configPath,
      // Any npm install openclaw attempts fails fast instead of reaching the internet.
      NPM_CONFIG_REGISTRY: 'http://127.0.0.1:9/',
      npm_config_registry: 'http://127.0.0.1:9/',
      // kimi-native's default home (~/.kimi-native) is inside the sandbox's HOME; file store (no keychain in CI).
      KIMI_NATIVE_STORE: 'file',
      KIMI_CODE_HOME: path.join(sb.home, '.kimi-code'),
      KIMI_SHARE_DIR: path.join(sb.home, '.kimi'),
      ...kimiEnv,
    })
    env.NO_PROXY = env.no_proxy = [env.NO_PROXY || env.no_proxy, '127.0.0.1,localhost'].filter(Boolean).join(',')
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete env[k]
      else env[k] = String(v)
    }
    return env
  }

  /** Core options for calls the test process makes itself (same home/store as the sandboxed processes). */
  sb.coreOpts = () => ({ home: sb.kimiHome, store: 'file' })

  /** Run `openclaw <args...>`; stdin /dev/null; killed after timeoutMs. */
  sb.openclaw = (args, { env = {}, timeoutMs = 300000, onStdout, doneWhen } = {}) =>
    runTree(oc.node, [oc.entry, ...args], { cwd: sb.workspace, env: sb.env(env), timeoutMs, onStdout, doneWhen })

  /** Run `openclaw <args...>` under a pseudo-terminal (util-linux `script`), for commands that require a TTY. */
  sb.openclawTty = (args, { env = {}, timeoutMs = 300000, onStdout, doneWhen } = {}) => {
    const quote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`
    const cmd = [oc.node, oc.entry, ...args].map(quote).join(' ')
    return runTree('script', ['-qefc', cmd, '/dev/null'], {
      cwd: sb.workspace,
      env: sb.env({ TERM: 'xterm', COLUMNS: '200', LINES: '50', ...env }),
      timeoutMs,
      onStdout,
      doneWhen,
    })
  }

  /** Every file under the state dir (SQLite files and their -wal/-shm included) and the log, as bytes (latin1). */
  sb.stateFiles = () => {
    const out = []
    const walk = (d) => {
      let entries = []
      try {
        entries = fs.readdirSync(d, { withFileTypes: true })
      } catch {
        return
      }
      for (const e of entries) {
        const p = path.join(d, e.name)
        if (e.isDirectory()) walk(p)
        else if (e.isFile()) out.push({ path: p, text: fs.readFileSync(p, 'latin1') })
      }
    }
    walk(sb.state)
    if (fs.existsSync(sb.logPath)) out.push({ path: sb.logPath, text: fs.readFileSync(sb.logPath, 'latin1') })
    return out
  }

  sb.cleanup = () => fs.rmSync(dir, { recursive: true, force: true })
  return sb
}

/** util-linux `script` (for a pty), or null. */
function hasScript() {
  const r = spawnSync('script', ['--version'], { encoding: 'utf8' })
  return r.status === 0 && /util-linux/.test(r.stdout + r.stderr)
}

module.exports = { REPO, CACHE, OPENCLAW, ensureOpenclaw, createSandbox, hasScript, runTree }
