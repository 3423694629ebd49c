'use strict'
/*
 * Run Moonshot's OFFICIAL Kimi clients against the fake Kimi server, to capture what they really send
 * (parity tests). Nothing here talks to the real Kimi servers: every client is pointed at the fake via
 * KIMI_CODE_OAUTH_HOST / KIMI_CODE_BASE_URL, runs with a sandboxed HOME, KIMI_DISABLE_TELEMETRY=1, stdin from
 * /dev/null and under a hard timeout (the whole process group is killed).
 *
 *   ensureKimiCode(cacheDir?)  -> Node 22 (install.js ensureNode) + @moonshot-ai/kimi-code@2.1.0
 *   captureKimiCode(server, { home, args })  -> runs `kimi login` (or args) and returns the captured requests
 *   ensureKimiCli(cacheDir?)   -> venv with kimi-cli==1.52.0 (needs a Python >= 3.12 already on the machine)
 *   captureKimiCli(server, { shareDir })     -> drives kimi-cli's own login/refresh/model-listing functions
 *
 * Every function returns { skipped: '<reason>' } instead of throwing when a registry, a runtime or the platform
 * is not available, so tests can do `if (r.skipped) return t.skip(r.skipped)`.
 *
 * `server` is either an in-process FakeKimi (from ../fake-kimi/server.js) or, for a standalone fake server in
 * another process, an object { url } (its /__control/ endpoints are then used).
 *
 * Cache dir: opts/argument, else env KIMI_REAL_CLIENTS_CACHE, else <repo>/.test-cache/real-clients (gitignored).
 * Never run kimi-cli's `kimi` console script: in 1.52.0 it is a deprecation stub that downloads an installer.
 */

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { ensureNode } = require('./install')

const REPO_ROOT = path.resolve(__dirname, '..', '..')
const KIMI_CODE_VERSION = '2.1.0'
const KIMI_CLI_VERSION = '1.52.0'
const NODE_VERSION = '22.23.3' // what the golden captures used; kimi-code 2.1.0 needs >= 22.19
const NODE_MIN = [22, 19, 0]

function defaultCacheDir() {
  return process.env.KIMI_REAL_CLIENTS_CACHE || path.join(REPO_ROOT, '.test-cache', 'real-clients')
}

function tail(s, n = 600) {
  s = String(s || '').trim()
  return s.length > n ? '…' + s.slice(-n) : s
}

function run(cmd, args, { cwd, env, timeoutMs = 10 * 60 * 1000 } = {}) {
  const r = spawnSync(cmd, args, {
    cwd,
    env: env || process.env,
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  })
  return {
    ok: r.status === 0 && !r.error,
    status: r.status,
    stdout: r.stdout || '',
    stderr: r.stderr || '',
    error: r.error,
    describe: `${cmd} ${args.join(' ')} -> ${r.error ? r.error.message : `exit ${r.status}`}: ${tail(r.stderr || r.stdout)}`,
  }
}

function versionAtLeast(v, min) {
  const p = String(v).replace(/^v/, '').split('.').map(Number)
  for (let i = 0; i < 3; i++) {
    if ((p[i] || 0) > min[i]) return true
    if ((p[i] || 0) < min[i]) return false
  }
  return true
}

/** Build into `dest + '.tmp-<pid>'`, then rename into place, so concurrent callers never see half an install. */
function buildAtomically(dest, build) {
  const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`
  fs.rmSync(tmp, { recursive: true, force: true })
  fs.mkdirSync(tmp, { recursive: true })
  try {
    const res = build(tmp)
    if (res && res.skipped) return res
    try {
      fs.renameSync(tmp, dest)
    } catch (e) {
      if (!fs.existsSync(dest)) throw e // somebody else won the race: fine
    }
    return null
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

/* ------------------------------------------------------------------------------------------ kimi-code -- */

/** A Node >= 22.19: this one, else 22.23.3 (what the golden captures used), else any 22 (install.js ensureNode). */
function ensureNode22() {
  if (versionAtLeast(process.versions.node, NODE_MIN)) return { node: process.execPath, version: process.versions.node }
  let n = ensureNode(NODE_VERSION)
  if (!n.ok) n = ensureNode(22)
  if (!n.ok) return { skipped: `cannot fetch Node 22 from the npm registry (${n.reason})` }
  if (!versionAtLeast(n.version, NODE_MIN))
    return { skipped: `Node ${n.version} from npm is older than ${NODE_MIN.join('.')}` }
  return { node: n.node, version: n.version }
}

/**
 * Installs (once) Node 22 and @moonshot-ai/kimi-code@2.1.0 into cacheDir.
 * Returns { node, nodeVersion, entry, version, binDir, cacheDir, command(args) -> [file, argv] } or { skipped }.
 */
function ensureKimiCode(cacheDir = defaultCacheDir()) {
  try {
    fs.mkdirSync(cacheDir, { recursive: true })
    const n = ensureNode22()
    if (n.skipped) return n
    const dest = path.join(cacheDir, `kimi-code-${KIMI_CODE_VERSION}`)
    const entry = path.join(dest, 'node_modules', '@moonshot-ai', 'kimi-code', 'dist', 'main.mjs')
    const binDir = path.dirname(n.node)
    const env = { ...process.env, PATH: `${binDir}${path.delimiter}${process.env.PATH || ''}` }
    if (!fs.existsSync(entry)) {
      const res = buildAtomically(dest, (tmp) => {
        fs.writeFileSync(path.join(tmp, 'package.json'), '{"name":"kimi-code-capture","private":true}\n')
        const i = run(
          'npm',
          [
            'install',
            '--ignore-scripts',
            '--omit=optional',
            '--no-audit',
            '--no-fund',
            '--no-package-lock',
            `@moonshot-ai/kimi-code@${KIMI_CODE_VERSION}`,
          ],
          { cwd: tmp, env, timeoutMs: 8 * 60 * 1000 },
        )
        if (!i.ok) return { skipped: `cannot install @moonshot-ai/kimi-code@${KIMI_CODE_VERSION} (${i.describe})` }
        return null
      })
      if (res) return res
    }
    if (!fs.existsSync(entry)) return { skipped: `kimi-code entry point missing after install: ${entry}` }
    return {
      node: n.node,
      nodeVersion: n.version,
      binDir,
      entry,
      version: KIMI_CODE_VERSION,
      cacheDir,
      command: (args = []) => [n.node, [entry, ...args]],
    }
  } catch (e) {
    return { skipped: `kimi-code setup failed: ${e.message}` }
  }
}

/* ------------------------------------------------------------------------------------------- kimi-cli -- */

function pythonVersion(exe) {
  const r = run(exe, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])'], { timeoutMs: 20000 })
  return r.ok ? r.stdout.trim() : null
}

/** Finds a Python >= 3.12 that is already on the machine (kimi-cli 1.52.0 requires it). Downloads nothing. */
function findPython312() {
  const candidates = []
  if (process.env.KIMI_CLI_PYTHON) candidates.push(process.env.KIMI_CLI_PYTHON)
  candidates.push('python3.14', 'python3.13', 'python3.12', 'python3')
  // pyenv keeps other versions installed but not active: ask it where they live
  const pv = run('pyenv', ['versions', '--bare'], { timeoutMs: 20000 })
  if (pv.ok) {
    const vs = pv.stdout
      .split('\n')
      .map((s) => s.trim())
      .filter((s) => /^3\.(1[2-9]|[2-9]\d)\.\d+$/.test(s))
      .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }))
    for (const v of vs) {
      const pre = run('pyenv', ['prefix', v], { timeoutMs: 20000 })
      if (pre.ok) candidates.push(path.join(pre.stdout.trim(), 'bin', 'python3'))
    }
  }
  const uv = run('uv', ['python', 'find', '>=3.12'], { timeoutMs: 20000 }) // only finds installed ones
  if (uv.ok && uv.stdout.trim()) candidates.push(uv.stdout.trim())
  const seen = []
  for (const c of candidates) {
    const v = pythonVersion(c)
    seen.push(`${c}=${v || 'n/a'}`)
    if (v && versionAtLeast(v, [3, 12, 0])) return { python: c, version: v }
  }
  return { skipped: `kimi-cli ${KIMI_CLI_VERSION} needs Python >= 3.12; none found (${seen.join(', ')})` }
}

/**
 * Creates (once) a venv with kimi-cli==1.52.0 under cacheDir.
 * Returns { python (venv interpreter), basePython, pythonVersion, version, venv } or { skipped }.
 */
function ensureKimiCli(cacheDir = defaultCacheDir()) {
  try {
    fs.mkdirSync(cacheDir, { recursive: true })
    const venv = path.join(cacheDir, `kimi-cli-${KIMI_CLI_VERSION}-venv`)
    const vpy =
      process.platform === 'win32' ? path.join(venv, 'Scripts', 'python.exe') : path.join(venv, 'bin', 'python')
    const marker = path.join(venv, '.kimi-cli-installed')
    let base = null
    if (!fs.existsSync(marker)) {
      const py = findPython312()
      if (py.skipped) return py
      base = py
      // venvs record their own path in activation scripts only; `python -m ...` works after the rename.
      const res = buildAtomically(venv, (tmp) => {
        const mk = run(py.python, ['-m', 'venv', tmp], { timeoutMs: 5 * 60 * 1000 })
        if (!mk.ok) return { skipped: `cannot create a venv with ${py.python} (${mk.describe})` }
        const tpy =
          process.platform === 'win32' ? path.join(tmp, 'Scripts', 'python.exe') : path.join(tmp, 'bin', 'python')
        const pip = run(
          tpy,
          ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', `kimi-cli==${KIMI_CLI_VERSION}`],
          {
            timeoutMs: 15 * 60 * 1000,
          },
        )
        if (!pip.ok) return { skipped: `cannot pip install kimi-cli==${KIMI_CLI_VERSION} (${pip.describe})` }
        fs.writeFileSync(path.join(tmp, '.kimi-cli-installed'), `${KIMI_CLI_VERSION}\n`)
        return null
      })
      if (res) return res
    }
    const chk = run(
      vpy,
      [
        '-c',
        'import importlib.metadata as m, sys; print(m.version("kimi-cli")); print("%d.%d.%d" % sys.version_info[:3])',
      ],
      {
        timeoutMs: 60000,
      },
    )
    if (!chk.ok) return { skipped: `kimi-cli venv is broken (${chk.describe})` }
    const [version, pyv] = chk.stdout.trim().split('\n')
    return { python: vpy, basePython: base && base.python, pythonVersion: pyv, version, venv, cacheDir }
  } catch (e) {
    return { skipped: `kimi-cli setup failed: ${e.message}` }
  }
}

/* -------------------------------------------------------------------------------------------- capture -- */

function isInProcess(server) {
  return server && typeof server.approve === 'function' && Array.isArray(server.requests)
}

async function controlCall(server, action, body) {
  const r = await fetch(
    `${server.url}/__control/${action}`,
    body === undefined
      ? {}
      : {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        },
  )
  return r.json()
}

async function requestCount(server) {
  if (isInProcess(server)) return server.requests.length
  return (await controlCall(server, 'requests')).length
}

async function requestsSince(server, n) {
  if (isInProcess(server)) return server.requests.slice(n)
  return controlCall(server, `requests?since=${n}`)
}

/**
 * Approve device codes while a client runs. 'auto' (default): approve every new code after its first poll
 * (like the golden captures: poll 1 pending, poll 2 ok). false: leave it to the test.
 */
function startApprover(server, mode) {
  if (mode === false) return () => {}
  if (isInProcess(server)) {
    const onReq = (rec) => {
      if (rec.path !== '/api/oauth/token' || !rec.body.includes('device_code=')) return
      const dc = new URLSearchParams(rec.body).get('device_code')
      setImmediate(() => {
        try {
          server.approve(dc)
        } catch {
          /* unknown code: the server answers invalid_grant itself */
        }
      })
    }
    server.on('request', onReq)
    return () => server.off('request', onReq)
  }
  let stopped = false
  ;(async () => {
    while (!stopped) {
      try {
        const codes = await controlCall(server, 'device-codes')
        for (const c of codes)
          if (c.status === 'pending' && c.polls >= 1) await controlCall(server, 'approve', { userCode: c.user_code })
      } catch {
        /* server gone */
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  })()
  return () => {
    stopped = true
  }
}

function sandboxEnv(home, extra) {
  const keep = ['PATH', 'LANG', 'LC_ALL', 'TMPDIR', 'SYSTEMROOT', 'TZ']
  const env = {}
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k]
  return {
    ...env,
    HOME: home,
    USERPROFILE: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local', 'share'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    KIMI_DISABLE_TELEMETRY: '1',
    NO_COLOR: '1',
    BROWSER: 'true', // never open a browser
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
    ...extra,
  }
}

/** Spawn with stdin=/dev/null, capture output, kill the whole process group on timeout. */
function runCaptured(file, args, { env, cwd, timeoutMs }) {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const child = spawn(file, args, {
      env,
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: process.platform !== 'win32',
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    let timedOut = false
    const kill = (sig) => {
      try {
        if (process.platform !== 'win32') process.kill(-child.pid, sig)
        else child.kill(sig)
      } catch {
        /* already gone */
      }
    }
    const timer = setTimeout(() => {
      timedOut = true
      kill('SIGTERM')
      setTimeout(() => kill('SIGKILL'), 2000).unref()
    }, timeoutMs)
    child.on('error', (e) => {
      clearTimeout(timer)
      resolve({ code: null, signal: null, stdout, stderr: stderr + String(e), timedOut, durationMs: Date.now() - t0 })
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      kill('SIGKILL') // stray grandchildren
      resolve({ code, signal, stdout, stderr, timedOut, durationMs: Date.now() - t0 })
    })
  })
}

function listFiles(dir) {
  const out = []
  const walk = (d) => {
    let ents = []
    try {
      ents = fs.readdirSync(d, { withFileTypes: true })
    } catch {
      return
    }
    for (const e of ents) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(path.relative(dir, p))
    }
  }
  walk(dir)
  return out.sort()
}

/**
 * Run kimi-code 2.1.0 against the fake server. Default args ['login'] (device login, then GET /models).
 * opts: { home (sandbox HOME, created if missing; default a fresh temp dir), args, timeoutMs (60000),
 *         approve ('auto' | false), cacheDir, env (extra env) }.
 * Returns { requests, stdout, stderr, code, signal, timedOut, durationMs, home, kimiHome, files } or { skipped }.
 */
async function captureKimiCode(server, opts = {}) {
  const kc = ensureKimiCode(opts.cacheDir || defaultCacheDir())
  if (kc.skipped) return kc
  const home = opts.home || fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-code-home-'))
  fs.mkdirSync(home, { recursive: true })
  const kimiHome = path.join(home, '.kimi-code')
  const env = sandboxEnv(home, {
    PATH: `${kc.binDir}${path.delimiter}${process.env.PATH || ''}`,
    KIMI_CODE_HOME: kimiHome,
    KIMI_CODE_OAUTH_HOST: server.oauthHost || server.url,
    KIMI_CODE_BASE_URL: server.baseUrl || `${server.url}/coding/v1`,
    ...(opts.env || {}),
  })
  const before = await requestCount(server)
  const stop = startApprover(server, opts.approve ?? 'auto')
  let res
  try {
    const [file, argv] = kc.command(opts.args || ['login'])
    res = await runCaptured(file, argv, { env, cwd: home, timeoutMs: opts.timeoutMs ?? 60000 })
  } finally {
    stop()
  }
  const requests = await requestsSince(server, before)
  return {
    ...res,
    requests,
    home,
    kimiHome,
    files: listFiles(kimiHome),
    client: `kimi-code ${kc.version} on node ${kc.nodeVersion}`,
  }
}

// Drives kimi-cli's own library functions, in the order of golden py-login-refresh-models.jsonl plus the
// model listing that login_kimi_code itself does: device authorization, polls, GET /models (login), refresh,
// GET /models with the rotated token. Prints one JSON line per event.
const KIMI_CLI_DRIVER = `
import asyncio, json, sys
from kimi_cli.config import load_config
from kimi_cli.auth import KIMI_CODE_PLATFORM_ID
from kimi_cli.auth.oauth import login_kimi_code, load_tokens, save_tokens, refresh_token, KIMI_CODE_OAUTH_KEY
from kimi_cli.auth.platforms import get_platform_by_id, list_models
from kimi_cli.config import OAuthRef

def out(kind, **kw):
    print(json.dumps({"event": kind, **kw}), flush=True)

async def main(steps):
    config = load_config()
    ok = False
    async for ev in login_kimi_code(config, open_browser=False):
        out("login", type=ev.type, message=ev.message)
        ok = ok or ev.type == "success"
    if not ok:
        return 3
    ref = OAuthRef(storage="file", key=KIMI_CODE_OAUTH_KEY)
    token = load_tokens(ref)
    if "refresh" in steps:
        new = await refresh_token(token.refresh_token)
        save_tokens(ref, new)
        out("refresh", rotated=new.refresh_token != token.refresh_token)
        token = new
    if "models" in steps:
        models = await list_models(get_platform_by_id(KIMI_CODE_PLATFORM_ID), token.access_token)
        out("models", ids=[m.id for m in models])
    return 0

sys.exit(asyncio.run(main(sys.argv[1:])))
`

/**
 * Run kimi-cli 1.52.0's device login (login_kimi_code), then refresh_token and list_models, against the fake.
 * opts: { shareDir (KIMI_SHARE_DIR sandbox; default a fresh temp dir), home, steps (['refresh','models']),
 *         timeoutMs (60000), approve ('auto' | false), cacheDir, env }.
 * Returns { requests, stdout, stderr, events, code, timedOut, durationMs, shareDir, files } or { skipped }.
 */
async function captureKimiCli(server, opts = {}) {
  const kc = ensureKimiCli(opts.cacheDir || defaultCacheDir())
  if (kc.skipped) return kc
  const shareDir = opts.shareDir || fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-cli-share-'))
  fs.mkdirSync(shareDir, { recursive: true })
  const home = opts.home || fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-cli-home-'))
  const driver = path.join(home, 'kimi_cli_capture_driver.py')
  fs.writeFileSync(driver, KIMI_CLI_DRIVER)
  const env = sandboxEnv(home, {
    KIMI_SHARE_DIR: shareDir,
    KIMI_CODE_OAUTH_HOST: server.oauthHost || server.url,
    KIMI_CODE_BASE_URL: server.baseUrl || `${server.url}/coding/v1`,
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONUNBUFFERED: '1',
    PYTHON_KEYRING_BACKEND: 'keyring.backends.null.Keyring',
    ...(opts.env || {}),
  })
  const before = await requestCount(server)
  const stop = startApprover(server, opts.approve ?? 'auto')
  let res
  try {
    res = await runCaptured(kc.python, [driver, ...(opts.steps || ['refresh', 'models'])], {
      env,
      cwd: home,
      timeoutMs: opts.timeoutMs ?? 60000,
    })
  } finally {
    stop()
  }
  const events = res.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l)
      } catch {
        return null
      }
    })
    .filter(Boolean)
  const requests = await requestsSince(server, before)
  return {
    ...res,
    events,
    requests,
    shareDir,
    home,
    files: listFiles(shareDir),
    client: `kimi-cli ${kc.version} on python ${kc.pythonVersion}`,
  }
}

module.exports = {
  ensureKimiCode,
  captureKimiCode,
  ensureKimiCli,
  captureKimiCli,
  findPython312,
  defaultCacheDir,
  KIMI_CODE_VERSION,
  KIMI_CLI_VERSION,
  NODE_VERSION,
}
