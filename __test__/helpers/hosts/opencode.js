'use strict'
// opencode (npm `opencode-ai`, whose binary comes from a platform package) in the test sandbox: its XDG dirs in the
// sandbox, background fetches off, a dead npm registry, always under a timeout (an unreachable baseURL makes
// `opencode run` retry forever).

const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { spawnCollect } = require('../spawn')
const { CACHE, DEAD_REGISTRY, readJson, installedVersion, npmInstall } = require('../install')

const OPENCODE = { pkg: 'opencode-ai', version: '1.18.33', dir: 'opencode' }
// opencode answers an external plugin with an npm install of this package into every config dir; a
// node_modules dir plus a lock file that lists it make that install a no-op (no registry, no 70 s wait).
const CONFIG_DIR_DEP = '@opencode-ai/plugin'
// Messages opencode emits when a plugin does not load. "failed to load plugin" goes to the log file; the
// others are published as a session error, which `opencode run` may not print at all (so also assert on effects).
const PLUGIN_FAILURE =
  /failed to load plugin|Failed to install plugin|Plugin \S+ skipped|Plugin export is not a function|must export id|has invalid server export/i

/** The platform packages that may carry the opencode binary (the npm wrapper script only execs it). */
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

/** { ok: true, bin, base, version } or { ok: false, reason }. */
function install(version) {
  const spec = { ...OPENCODE, version }
  let base = path.join(CACHE, spec.dir)
  if (installedVersion(base, spec.pkg) !== version || !findBinary(base)) {
    // --ignore-scripts: the wrapper's postinstall only links the binary we call directly anyway.
    const r = npmInstall({ ...spec, flags: ['--ignore-scripts'] })
    if (!r.ok) return r
    base = r.base
  }
  const bin = findBinary(base)
  if (!bin) return { ok: false, reason: `no opencode binary package for ${process.platform}-${process.arch}` }
  const v = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 60000, env: { PATH: process.env.PATH } })
  if (v.status !== 0 || v.stdout.trim() !== version) {
    return {
      ok: false,
      reason: `opencode binary does not run here: ${(v.error && v.error.message) || v.stderr || v.stdout}`,
    }
  }
  return { ok: true, bin, base, version }
}

module.exports = {
  OPENCODE,
  PLUGIN_FAILURE,
  version: OPENCODE.version,
  install,
  dirs: (dir) => ({
    config: path.join(dir, 'config'),
    data: path.join(dir, 'data'),
    cache: path.join(dir, 'cache'),
    state: path.join(dir, 'state'),
    project: path.join(dir, 'project'),
  }),
  mkdirs: (sb) => [sb.config, sb.data, sb.cache, sb.state, sb.project],
  workDir: (sb) => sb.project,
  timeoutMs: 120000,
  env: (sb) => ({
    XDG_CONFIG_HOME: sb.config,
    XDG_DATA_HOME: sb.data,
    XDG_CACHE_HOME: sb.cache,
    XDG_STATE_HOME: sb.state,
    OPENCODE_DISABLE_MODELS_FETCH: '1',
    OPENCODE_DISABLE_AUTOUPDATE: '1',
    OPENCODE_DISABLE_SHARE: '1',
    OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
    ...DEAD_REGISTRY,
  }),
  extend(sb) {
    sb.ocConfigDir = path.join(sb.config, 'opencode')
    sb.ocDataDir = path.join(sb.data, 'opencode')
    sb.authPath = path.join(sb.ocDataDir, 'auth.json')
    sb.logDir = path.join(sb.ocDataDir, 'log')
    sb.configPath = path.join(sb.project, 'opencode.json')

    // Pre-satisfy opencode's config-dir dependency install (see CONFIG_DIR_DEP).
    fs.mkdirSync(path.join(sb.ocConfigDir, 'node_modules'), { recursive: true })
    fs.writeFileSync(
      path.join(sb.ocConfigDir, 'package-lock.json'),
      JSON.stringify({
        lockfileVersion: 3,
        packages: { '': { dependencies: { [CONFIG_DIR_DEP]: sb.install().version } } },
      }) + '\n',
    )

    sb.writeConfig = (obj) => fs.writeFileSync(sb.configPath, JSON.stringify(obj, null, 2) + '\n')

    /** Run the opencode binary with args from the project dir. */
    sb.opencode = (args, { env = {}, timeoutMs = 120000, cwd = sb.project, onStdout, onStderr } = {}) =>
      spawnCollect(sb.install().bin, args, { cwd, env: sb.env(env), timeoutMs, onStdout, onStderr })

    /** Run a script inside opencode's own Bun runtime (BUN_BE_BUN=1 makes the binary behave as `bun`). */
    sb.bun = (args, { env = {}, timeoutMs = 120000, cwd = sb.project, onStdout } = {}) =>
      spawnCollect(sb.install().bin, args, { cwd, env: sb.env({ BUN_BE_BUN: '1', ...env }), timeoutMs, onStdout })

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
    sb.opencodeFilesText = () =>
      sb
        .filesUnder([sb.ocDataDir, sb.ocConfigDir, path.join(sb.cache, 'opencode'), path.join(sb.state, 'opencode')], {
          skip: ['node_modules'],
        })
        .map((f) => `\n==> ${f.path}\n${f.text}`)
        .join('')
  },
}
