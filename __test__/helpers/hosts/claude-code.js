'use strict'
// Claude Code (npm `@anthropic-ai/claude-code`, whose `claude` is a ~400 MB native binary from its optional
// platform package) in the test sandbox: ~/.claude in the sandbox's HOME, no auto-update, telemetry or other
// non-essential traffic, no official Kimi credentials (the helper inherits Claude Code's environment). With a key
// the server keeps refusing, `claude -p` retries for minutes: callers always pass a timeout.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { CACHE, readJson, npmInstall, ensureNode } = require('../install')

const CLAUDE = { pkg: '@anthropic-ai/claude-code', version: '2.1.332', dir: 'claude-code', nodeMajor: 22 }

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
 * @anthropic-ai/claude-code@version installed the way a user installs it (npm, its postinstall puts the platform
 * binary in place, run with the Node >= 22 it requires): { ok: true, bin, version } or { ok: false, reason }.
 */
function install(version) {
  const base = path.join(CACHE, CLAUDE.dir)
  const pkgDir = path.join(base, 'node_modules', ...CLAUDE.pkg.split('/'))
  // The package's `bin` on every platform: its postinstall copies the native binary over it. Where npm did not
  // run that script, the binary is in the platform package (what the package's own cli-wrapper.cjs runs).
  const wrapperBin = path.join(pkgDir, 'bin', 'claude.exe')
  const platformBin = path.join(
    base,
    'node_modules',
    `${CLAUDE.pkg}-${process.platform}-${process.arch}${isMusl() ? '-musl' : ''}`,
    process.platform === 'win32' ? 'claude.exe' : 'claude',
  )
  let bin = wrapperBin
  const runs = () => {
    const v = spawnSync(bin, ['--version'], {
      encoding: 'utf8',
      timeout: 60000,
      env: { PATH: process.env.PATH, HOME: os.tmpdir() },
    })
    return v.status === 0 && v.stdout.trim() === `${version} (Claude Code)`
      ? null
      : (v.error && v.error.message) || `${v.stdout}${v.stderr}`.trim()
  }
  if ((readJson(path.join(pkgDir, 'package.json')) || {}).version !== version || runs() !== null) {
    const node = ensureNode(CLAUDE.nodeMajor)
    if (!node.ok) return { ok: false, reason: `Claude Code needs Node >= ${CLAUDE.nodeMajor}: ${node.reason}` }
    const r = npmInstall({ ...CLAUDE, version, node: node.node, timeoutMs: 900000 })
    if (!r.ok) return r
  }
  let broken = runs()
  if (broken !== null && fs.existsSync(platformBin)) {
    bin = platformBin
    broken = runs()
  }
  if (broken !== null) return { ok: false, reason: `the claude binary does not run here: ${broken.slice(0, 300)}` }
  return { ok: true, bin, version }
}

module.exports = {
  CLAUDE,
  isX64Glibc,
  version: CLAUDE.version,
  install,
  tmpName: 'claude',
  dirs: (dir, home) => ({
    project: path.join(dir, 'project'),
    settingsPath: path.join(home, '.claude', 'settings.json'),
  }),
  mkdirs: (sb) => [sb.project],
  env: () => ({
    DISABLE_AUTOUPDATER: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  }),
  kimiEnv: { KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS: '1' },
}
