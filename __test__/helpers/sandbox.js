'use strict'
// The one test sandbox for the host end-to-end suites. A host (opencode, pi, openclaw, Claude Code) is installed
// once per pinned version into <repo>/.test-cache/<dir> with npm, and run hermetically: a throwaway HOME and
// kimi-native home in a temp dir, an environment built from scratch, stdin from /dev/null, always under a
// timeout. What differs per host (package, extra dirs, switches, how it is run) is in hosts/<host>.js.
//
//   const host = ensureHost({ host: 'pi', version: '1.6.0' })   // { ok: true, ... } or { ok: false, reason }
//   const sb = createSandbox({ host: 'pi', env: { KIMI_CODE_BASE_URL: fake.baseUrl } })
//
// A descriptor exports `version` (the pinned default) and `install(version)`, and as needed: dirs(dir, home) and
// mkdirs(sb) (its own dirs), workDir(sb) and timeoutMs (for sb.node), node(sb) (the Node first on PATH), env(sb)
// (its switches), kimiEnv (more kimi-native variables), defaultKimiHome, tmpName, extend(sb, { settings }) (its
// files and run methods).

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { REPO, CACHE } = require('./install')
const { spawnCollect } = require('./spawn')

// What a sandboxed process may inherit: CA bundles and proxies (npm, and the core's HTTP client), nothing else.
const PASS_ENV =
  /^(NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|(HTTPS?|NO|ALL)_PROXY|npm_config_(registry|cafile|strict_ssl|proxy|https_proxy|noproxy))$/i
const HOSTS = {
  opencode: require('./hosts/opencode'),
  pi: require('./hosts/pi'),
  openclaw: require('./hosts/openclaw'),
  'claude-code': require('./hosts/claude-code'),
}

function descriptor(host) {
  const h = HOSTS[host]
  if (!h) throw new Error(`no host descriptor for ${host} (have: ${Object.keys(HOSTS).join(', ')})`)
  return h
}

const installs = new Map()
/**
 * Makes sure `host@version` (default: the host's pinned version) is installed and runs here; once per process.
 * Returns the host's install ({ ok: true, ... }) or { ok: false, reason }.
 */
function ensureHost({ host, version } = {}) {
  const h = descriptor(host)
  const v = version || h.version
  const key = `${host}@${v}`
  if (!installs.has(key)) installs.set(key, h.install(v))
  return installs.get(key)
}

/**
 * A throwaway sandbox for `host`: `dir`, `home` (HOME; XDG dirs under it unless the host moves them), `kimiHome`,
 * plus the host's own dirs. `env` is added to every environment the sandbox builds (e.g. the fake server's
 * KIMI_CODE_BASE_URL); `settings` goes to the host's settings file where it has one; `version` picks the install
 * the host's run methods use (opencode, openclaw). Nothing is inherited from the caller's environment but PATH and
 * PASS_ENV.
 */
function createSandbox({ host, version, env: sandboxEnv = {}, settings } = {}) {
  const h = descriptor(host)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kn-${h.tmpName || host}-`))
  const home = path.join(dir, 'home')
  const sb = { dir, home, kimiHome: path.join(dir, 'kimi-native'), ...(h.dirs ? h.dirs(dir, home) : {}) }
  // A host that uses kimi-native's default home (~/.kimi-native) leaves it for the core to create.
  const mkdirs = [sb.home, ...(h.defaultKimiHome ? [] : [sb.kimiHome]), ...(h.mkdirs ? h.mkdirs(sb) : [])]
  for (const d of mkdirs) fs.mkdirSync(d, { recursive: true, mode: 0o700 })
  sb.install = () => {
    const inst = ensureHost({ host, version })
    if (!inst.ok) throw new Error(inst.reason)
    return inst
  }

  /** kimi-native's own dir and the official clients' dirs (device id, credentials) all inside the sandbox. */
  sb.kimiEnv = () => ({
    ...(h.defaultKimiHome ? {} : { KIMI_NATIVE_HOME: sb.kimiHome }),
    KIMI_NATIVE_STORE: 'file',
    KIMI_CODE_HOME: path.join(sb.home, '.kimi-code'),
    KIMI_SHARE_DIR: path.join(sb.home, '.kimi'),
    ...(h.kimiEnv || {}),
  })

  /**
   * Environment built from scratch (no inherited KIMI_*, host or OPENAI_* variables); only the network setup
   * passes. `node` (default: the host's, if it has its own) goes first on PATH, so what the host spawns runs on it.
   */
  sb.env = (extra = {}, node = h.node ? h.node(sb) : null) => {
    const env = {}
    for (const [k, v] of Object.entries(process.env)) if (PASS_ENV.test(k)) env[k] = v
    Object.assign(env, {
      PATH: node ? [path.dirname(node), process.env.PATH].join(path.delimiter) : process.env.PATH,
      HOME: sb.home,
      USERPROFILE: sb.home,
      XDG_CONFIG_HOME: path.join(sb.home, '.config'),
      XDG_DATA_HOME: path.join(sb.home, '.local', 'share'),
      XDG_CACHE_HOME: path.join(sb.home, '.cache'),
      TMPDIR: os.tmpdir(),
      LANG: 'C.UTF-8',
      ...(h.env ? h.env(sb) : {}),
      ...sb.kimiEnv(),
      ...sandboxEnv,
    })
    env.NO_PROXY = env.no_proxy = [env.NO_PROXY || env.no_proxy, '127.0.0.1,localhost'].filter(Boolean).join(',')
    if (process.platform === 'win32') env.SYSTEMROOT = process.env.SYSTEMROOT
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete env[k]
      else env[k] = String(v)
    }
    return env
  }

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

  /** Every file under `dirs` as [{ path, text }], text as bytes (latin1), for secret greps; `skip`: dir names not entered. */
  sb.filesUnder = (dirs, { skip = [] } = {}) => {
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
        if (e.isDirectory()) {
          if (!skip.includes(e.name)) walk(p)
        } else if (e.isFile()) {
          try {
            out.push({ path: p, text: fs.readFileSync(p, 'latin1') })
          } catch {}
        }
      }
    }
    for (const d of dirs) walk(d)
    return out
  }

  /**
   * Run `node <args...>` in the sandbox (from the host's work dir). stdin is /dev/null; killed (SIGKILL) after
   * timeoutMs. onStdout(chunk, child) sees output as it arrives (for interactive flows such as device login).
   * `node` is the Node binary (default: the one running the tests); it goes first on PATH.
   */
  const workDir = h.workDir ? h.workDir(sb) : sb.dir
  sb.node = (
    args,
    { env = {}, timeoutMs = h.timeoutMs || 120000, cwd = workDir, onStdout, node = process.execPath } = {},
  ) => spawnCollect(node, args, { cwd, env: sb.env(env, node), timeoutMs, onStdout })

  sb.cleanup = () => fs.rmSync(dir, { recursive: true, force: true })
  if (h.extend) h.extend(sb, { settings })
  return sb
}

module.exports = { REPO, CACHE, PASS_ENV, ensureHost, createSandbox }
