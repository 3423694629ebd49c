'use strict'
// Installs a pinned opencode (npm `opencode-ai`) into <repo>/.test-cache/opencode and runs it hermetically:
// own HOME and XDG_* dirs in a temp dir, background fetches off, a dead npm registry, stdin from /dev/null,
// always under a timeout (an unreachable baseURL makes `opencode run` retry forever).

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { spawnCollect } = require('./spawn')

const REPO = path.resolve(__dirname, '..', '..')
const CACHE = path.join(REPO, '.test-cache')
const OPENCODE = { pkg: 'opencode-ai', version: '1.18.33', dir: 'opencode' }
// opencode answers an external plugin with an npm install of this package into every config dir; a
// node_modules dir plus a lock file that lists it make that install a no-op (no registry, no 70 s wait).
const CONFIG_DIR_DEP = '@opencode-ai/plugin'
// Messages opencode emits when a plugin does not load. "failed to load plugin" goes to the log file; the
// others are published as a session error, which `opencode run` may not print at all (so also assert on effects).
const PLUGIN_FAILURE = /failed to load plugin|Failed to install plugin|Plugin \S+ skipped|Plugin export is not a function|must export id|has invalid server export/i

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    return null
  }
}

/** The platform package that carries the opencode binary (the npm wrapper script only execs it). */
function binaryPackages() {
  const os_ = process.platform === 'win32' ? 'windows' : process.platform
  const base = `opencode-${os_}-${process.arch}`
  const names = [base, `${base}-baseline`]
  if (process.platform === 'linux') {
    let musl = false
    try {
      musl = !process.report.getReport().header.glibcVersionRuntime
    } catch {}
    if (musl) names.unshift(`${base}-musl`, `${base}-baseline-musl`)
  }
  return names
}

function findBinary(base) {
  const exe = process.platform === 'win32' ? 'opencode.exe' : 'opencode'
  for (const name of binaryPackages()) {
    const bin = path.join(base, 'node_modules', name, 'bin', exe)
    if (fs.existsSync(bin)) return bin
  }
  return null
}

/**
 * Make sure opencode-ai@version is installed under .test-cache/opencode; returns
 * { ok: true, bin, base, version } or { ok: false, reason } (so the caller can t.skip(reason)).
 */
function ensureOpencode({ version = OPENCODE.version, dir = OPENCODE.dir } = {}) {
  const base = path.join(CACHE, dir)
  const have = (readJson(path.join(base, 'node_modules', OPENCODE.pkg, 'package.json')) || {}).version
  if (have !== version || !findBinary(base)) {
    fs.mkdirSync(base, { recursive: true })
    const pj = path.join(base, 'package.json')
    if (!fs.existsSync(pj)) fs.writeFileSync(pj, JSON.stringify({ name: `cache-${dir}`, private: true }) + '\n')
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    // --ignore-scripts: the wrapper's postinstall only links the binary we call directly anyway.
    const r = spawnSync(
      npm,
      ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', `${OPENCODE.pkg}@${version}`],
      { cwd: base, encoding: 'utf8', timeout: 600000, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const now = (readJson(path.join(base, 'node_modules', OPENCODE.pkg, 'package.json')) || {}).version
    if (r.status !== 0 || now !== version) {
      const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').slice(-3).join(' | ')
      return { ok: false, reason: `cannot install ${OPENCODE.pkg}@${version}: ${why}` }
    }
  }
  const bin = findBinary(base)
  if (!bin) return { ok: false, reason: `no opencode binary package for ${process.platform}-${process.arch}` }
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 60000, env: { PATH: process.env.PATH } })
  if (v.status !== 0 || v.stdout.trim() !== version) {
    return { ok: false, reason: `opencode binary does not run here: ${(v.error && v.error.message) || v.stderr || v.stdout}` }
  }
  return { ok: true, bin, base, version }
}

/**
 * A throwaway HOME / XDG dirs / project dir / kimi-native home for one opencode binary (from ensureOpencode).
 * Nothing is inherited from the caller's environment except PATH.
 */
function createSandbox(oc, { env: baseEnv = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-opencode-'))
  const sb = {
    dir,
    home: path.join(dir, 'home'),
    config: path.join(dir, 'config'),
    data: path.join(dir, 'data'),
    cache: path.join(dir, 'cache'),
    state: path.join(dir, 'state'),
    project: path.join(dir, 'project'),
    kimiHome: path.join(dir, 'kimi-native'),
  }
  for (const d of [sb.home, sb.config, sb.data, sb.cache, sb.state, sb.project, sb.kimiHome]) {
    fs.mkdirSync(d, { recursive: true, mode: 0o700 })
  }
  sb.ocConfigDir = path.join(sb.config, 'opencode')
  sb.ocDataDir = path.join(sb.data, 'opencode')
  sb.authPath = path.join(sb.ocDataDir, 'auth.json')
  sb.logDir = path.join(sb.ocDataDir, 'log')
  sb.configPath = path.join(sb.project, 'opencode.json')

  // Pre-satisfy opencode's config-dir dependency install (see CONFIG_DIR_DEP).
  fs.mkdirSync(path.join(sb.ocConfigDir, 'node_modules'), { recursive: true })
  fs.writeFileSync(
    path.join(sb.ocConfigDir, 'package-lock.json'),
    JSON.stringify({ lockfileVersion: 3, packages: { '': { dependencies: { [CONFIG_DIR_DEP]: oc.version } } } }) + '\n',
  )

  /** Environment built from scratch (no inherited OPENCODE_*, KIMI_*, XDG_*, npm_config_* ...). */
  sb.env = (extra = {}) => {
    const env = {
      PATH: process.env.PATH,
      HOME: sb.home,
      USERPROFILE: sb.home,
      XDG_CONFIG_HOME: sb.config,
      XDG_DATA_HOME: sb.data,
      XDG_CACHE_HOME: sb.cache,
      XDG_STATE_HOME: sb.state,
      TMPDIR: os.tmpdir(),
      LANG: 'C.UTF-8',
      OPENCODE_DISABLE_MODELS_FETCH: '1',
      OPENCODE_DISABLE_AUTOUPDATE: '1',
      OPENCODE_DISABLE_SHARE: '1',
      OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
      // Any npm install opencode still attempts fails fast instead of reaching the internet.
      NPM_CONFIG_REGISTRY: 'http://127.0.0.1:9/',
      npm_config_registry: 'http://127.0.0.1:9/',
      KIMI_NATIVE_HOME: sb.kimiHome,
      KIMI_NATIVE_STORE: 'file',
      ...baseEnv,
    }
    if (process.platform === 'win32') env.SYSTEMROOT = process.env.SYSTEMROOT
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete env[k]
      else env[k] = String(v)
    }
    return env
  }

  sb.writeConfig = (obj) => fs.writeFileSync(sb.configPath, JSON.stringify(obj, null, 2) + '\n')

  /** Run the opencode binary with args from the project dir. */
  sb.opencode = (args, { env = {}, timeoutMs = 120000, cwd = sb.project, onStdout, onStderr } = {}) =>
    spawnCollect(oc.bin, args, { cwd, env: sb.env(env), timeoutMs, onStdout, onStderr })

  /** Run a script inside opencode's own Bun runtime (BUN_BE_BUN=1 makes the binary behave as `bun`). */
  sb.bun = (args, { env = {}, timeoutMs = 120000, cwd = sb.project, onStdout } = {}) =>
    spawnCollect(oc.bin, args, { cwd, env: sb.env({ BUN_BE_BUN: '1', ...env }), timeoutMs, onStdout })

  /** Run node (this test's node) with the sandbox environment. */
  sb.node = (args, { env = {}, timeoutMs = 120000, cwd = sb.project, onStdout } = {}) =>
    spawnCollect(process.execPath, args, { cwd, env: sb.env(env), timeoutMs, onStdout })

  sb.readAuthText = () => {
    try {
      return fs.readFileSync(sb.authPath, 'utf8')
    } catch {
      return null
    }
  }
  sb.readAuth = () => readJson(sb.authPath)

  sb.logText = () => {
    let out = ''
    try {
      for (const f of fs.readdirSync(sb.logDir).sort()) out += fs.readFileSync(path.join(sb.logDir, f), 'utf8')
    } catch {}
    return out
  }

  /** Lines that say a plugin did not load, from the log file and the given run outputs. */
  sb.pluginFailures = (...runs) => {
    const text = [sb.logText(), ...runs.map((r) => `${(r && r.stdout) || ''}\n${(r && r.stderr) || ''}`)].join('\n')
    return text.split('\n').filter((l) => PLUGIN_FAILURE.test(l))
  }

  /** Every file under the sandbox's opencode dirs (data, config, cache, state) as one string, for secret greps. */
  sb.opencodeFilesText = () => {
    let out = ''
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
          if (e.name !== 'node_modules') walk(p)
        } else if (e.isFile()) {
          try {
            out += `\n==> ${p}\n` + fs.readFileSync(p, 'latin1')
          } catch {}
        }
      }
    }
    for (const d of [sb.ocDataDir, sb.ocConfigDir, path.join(sb.cache, 'opencode'), path.join(sb.state, 'opencode')]) walk(d)
    return out
  }

  sb.cleanup = () => fs.rmSync(dir, { recursive: true, force: true })
  return sb
}

module.exports = { REPO, CACHE, OPENCODE, PLUGIN_FAILURE, ensureOpencode, createSandbox }
