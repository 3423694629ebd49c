'use strict'
// openclaw (npm `openclaw`, needs Node >= 24.16: Node 24 from install.js) in the test sandbox: its state dir,
// config file and log file in the sandbox, a dead npm registry; kimi-native's default home (~/.kimi-native) inside
// the sandbox's HOME. openclaw forks workers into their own process groups, so a run kills the whole tree.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { spawnCollect } = require('../spawn')
const { CACHE, DEAD_REGISTRY, installedVersion, npmInstall, ensureNode } = require('../install')

const OPENCLAW = { pkg: 'openclaw', version: '2026.9.6', dir: 'openclaw', nodeMajor: 24 }

/** Node 24 and openclaw@version: { ok: true, node, binDir, entry, root, version } or { ok: false, reason }. */
function install(version) {
  const host = ensureNode(OPENCLAW.nodeMajor)
  if (!host.ok) return { ok: false, reason: host.reason }
  const base = path.join(CACHE, OPENCLAW.dir)
  if (installedVersion(base, OPENCLAW.pkg) !== version) {
    // npm runs openclaw's install scripts with the `node` first on PATH: Node 24, as openclaw's engines want.
    const r = npmInstall({ ...OPENCLAW, version, node: host.node })
    if (!r.ok) return r
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
    if (r.status !== 0)
      return { ok: false, reason: `cannot mirror the openclaw install to ${run}: ${r.stderr || r.error}` }
    fs.writeFileSync(path.join(run, '.complete'), version)
  }
  const root = path.join(run, 'node_modules', OPENCLAW.pkg)
  const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin.openclaw
  return { ok: true, node: host.node, binDir: host.binDir, entry: path.join(root, bin), root, version }
}

/** Every live descendant of pid. */
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

/** Kills child and every live descendant (openclaw forks workers into their own process groups). */
function killTree(child) {
  for (const p of [...descendants(child.pid), child.pid]) {
    try {
      process.kill(p, 'SIGKILL')
    } catch {}
  }
}

/**
 * spawn.js's spawnCollect, but a timeout kills the whole process tree, and workers openclaw forked must not outlive
 * the command (they would hold the pipes and the state dir). openclaw can linger after its answer: see doneWhen.
 */
const runTree = (cmd, args, opts) =>
  spawnCollect(cmd, args, {
    ...opts,
    kill: killTree,
    onExit: (child) => setTimeout(() => killTree(child), 2000).unref(),
  })

/** util-linux `script` (for a pty), or null. */
function hasScript() {
  const r = spawnSync('script', ['--version'], { encoding: 'utf8' })
  return r.status === 0 && /util-linux/.test(r.stdout + r.stderr)
}

module.exports = {
  OPENCLAW,
  hasScript,
  version: OPENCLAW.version,
  install,
  defaultKimiHome: true,
  dirs: (dir, home) => ({
    kimiHome: path.join(home, '.kimi-native'),
    state: path.join(dir, 'state'),
    workspace: path.join(dir, 'workspace'),
    configPath: path.join(dir, 'state', 'openclaw.json'),
    logPath: path.join(dir, 'openclaw.log'),
  }),
  mkdirs: (sb) => [sb.state, sb.workspace],
  node: (sb) => sb.install().node,
  env: (sb) => ({
    TERM: 'dumb',
    NO_COLOR: '1',
    OPENCLAW_STATE_DIR: sb.state,
    OPENCLAW_CONFIG_PATH: sb.configPath,
    ...DEAD_REGISTRY,
  }),
  extend(sb) {
    // openclaw logs to /tmp/openclaw/... unless the config names a file; keep it in the sandbox.
    sb.writeConfig = (obj = {}) =>
      fs.writeFileSync(sb.configPath, JSON.stringify({ logging: { file: sb.logPath }, ...obj }, null, 2) + '\n')
    sb.writeConfig()
    sb.readConfig = () => JSON.parse(fs.readFileSync(sb.configPath, 'utf8'))

    /** Core options for calls the test process makes itself (same home/store as the sandboxed processes). */
    sb.coreOpts = () => ({ home: sb.kimiHome, store: 'file' })

    /** Run `openclaw <args...>`; stdin /dev/null; killed after timeoutMs. */
    sb.openclaw = (args, { env = {}, timeoutMs = 300000, onStdout, doneWhen } = {}) =>
      runTree(sb.install().node, [sb.install().entry, ...args], {
        cwd: sb.workspace,
        env: sb.env(env),
        timeoutMs,
        onStdout,
        doneWhen,
      })

    /** Run `openclaw <args...>` under a pseudo-terminal (util-linux `script`), for commands that require a TTY. */
    sb.openclawTty = (args, { env = {}, timeoutMs = 300000, onStdout, doneWhen } = {}) => {
      const quote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`
      const cmd = [sb.install().node, sb.install().entry, ...args].map(quote).join(' ')
      return runTree('script', ['-qefc', cmd, '/dev/null'], {
        cwd: sb.workspace,
        env: sb.env({ TERM: 'xterm', COLUMNS: '200', LINES: '50', ...env }),
        timeoutMs,
        onStdout,
        doneWhen,
      })
    }

    /** Every file under the state dir (SQLite files and their -wal/-shm included) and the log, as bytes (latin1). */
    sb.stateFiles = () =>
      sb
        .filesUnder([sb.state])
        .concat(fs.existsSync(sb.logPath) ? [{ path: sb.logPath, text: fs.readFileSync(sb.logPath, 'latin1') }] : [])
  },
}
