'use strict'
// Installs a pinned Claude Code (npm `@anthropic-ai/claude-code`, whose `claude` is a ~400 MB native binary from its
// optional platform package) into <repo>/.test-cache/claude-code and runs it hermetically: its own HOME, no
// auto-update, telemetry or other non-essential traffic, stdin from /dev/null, always under a timeout (with a key
// the server keeps refusing, `claude -p` retries for minutes; docs/claude-code.md).

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { ensureHostNode } = require('./host-node')

const REPO = path.resolve(__dirname, '..', '..')
const CACHE = path.join(REPO, '.test-cache')
const CLAUDE = { pkg: '@anthropic-ai/claude-code', version: '2.1.332', dir: 'claude-code', node: 22 }

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    return null
  }
}

function isMusl() {
  if (process.platform !== 'linux') return false
  try {
    return !process.report.getReport().header.glibcVersionRuntime
  } catch {
    return false
  }
}

/** True where the test must run in CI: the platform the project builds and tests (x86_64 Linux, glibc). */
const isX64Glibc = () => process.platform === 'linux' && process.arch === 'x64' && !isMusl()

/**
 * Makes sure @anthropic-ai/claude-code@version is installed under .test-cache/claude-code, the way a user installs
 * it (npm, its postinstall puts the platform binary in place, run with the Node >= 22 it requires). Returns
 * { ok: true, bin, version } or { ok: false, reason }.
 */
function ensureClaude({ version = CLAUDE.version } = {}) {
  const base = path.join(CACHE, CLAUDE.dir)
  const pkgDir = path.join(base, 'node_modules', ...CLAUDE.pkg.split('/'))
  // The package's `bin` on every platform: its postinstall copies the native binary over it. Where npm did not
  // run that script, the binary is in the platform package (what the package's own cli-wrapper.cjs runs).
  const wrapperBin = path.join(pkgDir, 'bin', 'claude.exe')
  const platformBin = path.join(base, 'node_modules', `${CLAUDE.pkg}-${process.platform}-${process.arch}${isMusl() ? '-musl' : ''}`, process.platform === 'win32' ? 'claude.exe' : 'claude')
  let bin = wrapperBin
  const runs = () => {
    const v = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 60000, env: { PATH: process.env.PATH, HOME: os.tmpdir() } })
    return v.status === 0 && v.stdout.trim() === `${version} (Claude Code)` ? null : (v.error && v.error.message) || `${v.stdout}${v.stderr}`.trim()
  }
  if ((readJson(path.join(pkgDir, 'package.json')) || {}).version !== version || runs() !== null) {
    const node = ensureHostNode(CLAUDE.node)
    if (!node.ok) return { ok: false, reason: `Claude Code needs Node >= ${CLAUDE.node}: ${node.reason}` }
    fs.mkdirSync(base, { recursive: true })
    const pj = path.join(base, 'package.json')
    if (!fs.existsSync(pj)) fs.writeFileSync(pj, JSON.stringify({ name: `cache-${CLAUDE.dir}`, private: true }) + '\n')
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    const r = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--loglevel=error', `${CLAUDE.pkg}@${version}`], {
      cwd: base,
      encoding: 'utf8',
      timeout: 900000,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PATH: `${node.binDir}${path.delimiter}${process.env.PATH}` },
    })
    if (r.status !== 0) {
      const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').slice(-3).join(' | ')
      return { ok: false, reason: `cannot install ${CLAUDE.pkg}@${version}: ${why}` }
    }
  }
  let broken = runs()
  if (broken !== null && fs.existsSync(platformBin)) {
    bin = platformBin
    broken = runs()
  }
  if (broken !== null) return { ok: false, reason: `the claude binary does not run here: ${broken.slice(0, 300)}` }
  return { ok: true, bin, version }
}

/**
 * A throwaway HOME (with ~/.claude), project dir and kimi-native home. `env()` is built from scratch: nothing from
 * this machine but PATH and TMPDIR, the kimi-native variables pointing at the fake server (the helper inherits
 * Claude Code's environment), and Claude Code's switches for quiet offline runs.
 */
function createSandbox({ kimiEnv = {} } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-claude-'))
  const sb = {
    dir,
    home: path.join(dir, 'home'),
    project: path.join(dir, 'project'),
    kimiHome: path.join(dir, 'kimi-native'),
  }
  for (const d of [sb.home, sb.project, sb.kimiHome]) fs.mkdirSync(d, { recursive: true, mode: 0o700 })
  sb.settingsPath = path.join(sb.home, '.claude', 'settings.json')
  sb.env = (extra = {}) => {
    const env = {
      PATH: process.env.PATH,
      HOME: sb.home,
      TMPDIR: os.tmpdir(),
      LANG: 'C.UTF-8',
      DISABLE_AUTOUPDATER: '1',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      KIMI_NATIVE_HOME: sb.kimiHome,
      KIMI_NATIVE_STORE: 'file',
      KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS: '1',
      ...kimiEnv,
    }
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete env[k]
      else env[k] = String(v)
    }
    return env
  }
  sb.cleanup = () => fs.rmSync(dir, { recursive: true, force: true })
  return sb
}

module.exports = { REPO, CLAUDE, ensureClaude, createSandbox, isX64Glibc }
