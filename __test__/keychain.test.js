'use strict'
// The credential store against the REAL OS keychain of each platform:
// - Linux: the Secret Service (gnome-keyring inside a private D-Bus session), no D-Bus at all, a locked
//   keyring and a hung bus. Needs (Debian/Ubuntu): apt-get install -y gnome-keyring dbus libsecret-tools.
// - macOS: the login Keychain; Windows: the Credential Manager (GitHub's macOS and Windows runners).
// On every platform the same OAuth-sized flow runs: store, read from a second process, rotate, delete,
// with JWT-sized tokens whose stored login exceeds the Windows 2,560-byte credential blob.
// Tests for another platform skip (and say so). A test for THIS platform that cannot run skips, unless
// KIMI_NATIVE_TEST_KEYCHAIN=1 (as in CI): then it fails.
//
// This file is also its own child script: with KIMI_NATIVE_KEYCHAIN_CHILD=<scenario> it runs one
// scenario against the core and prints one line `@@RESULT <json>`. The fake server always lives in
// the test process (so children are spawned asynchronously). Children never print a secret: tokens
// are reported as sha256 hashes, and the final test greps every captured output for the tokens.

const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { spawnCollect } = require('./helpers/spawn')

const SERVICE = 'kimi-native'
const RESULT = '@@RESULT '

const sha = (s) => crypto.createHash('sha256').update(String(s)).digest('hex')

/** Storage slot of a non-default host pair: kimi-code-env-<first 16 hex of sha256({oauthHost,baseUrl})>. */
function slotFor(oauthHost, baseUrl) {
  return `kimi-code-env-${sha(JSON.stringify({ oauthHost, baseUrl })).slice(0, 16)}`
}

if (process.env.KIMI_NATIVE_KEYCHAIN_CHILD) {
  runChild(process.env.KIMI_NATIVE_KEYCHAIN_CHILD).then(
    (out) => {
      process.stdout.write(`${RESULT}${JSON.stringify(out)}\n`)
      process.exit(0)
    },
    (err) => {
      process.stdout.write(
        `${RESULT}${JSON.stringify({ crashed: true, code: err && err.code, message: String(err && err.message) })}\n`,
      )
      process.exit(1)
    },
  )
} else {
  defineTests()
}

/* ------------------------------------------------------------------------------------ child side -- */

async function runChild(scenario) {
  const kimi = require('../lib')
  const home = process.env.KIMI_NATIVE_HOME
  const slot = slotFor(process.env.KIMI_CODE_OAUTH_HOST, process.env.KIMI_CODE_BASE_URL)
  const pick = (s) => ({
    loggedIn: s.loggedIn,
    source: s.source,
    store: s.store,
    storeReason: s.storeReason,
    reloginRequired: s.reloginRequired,
  })
  const attempt = async (fn) => {
    const t = Date.now()
    try {
      const value = await fn()
      return { ok: true, ms: Date.now() - t, value }
    } catch (err) {
      return { ok: false, ms: Date.now() - t, code: err && err.code, message: String(err && err.message) }
    }
  }
  // A home other than ~/.kimi-native has its own keychain account (its lock lives in that home).
  const account = `oauth/${slot}@${sha(home).slice(0, 12)}`
  const lookup = () => {
    // keyring 3.x stores the account in the `username` attribute (plus application/target).
    const r = spawnSync('secret-tool', ['lookup', 'service', SERVICE, 'username', account], {
      encoding: 'utf8',
      timeout: 10000,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    process.stderr.write(r.stderr || '')
    const out = { status: r.status, found: Boolean(r.stdout) }
    if (r.stdout) {
      try {
        const v = JSON.parse(r.stdout)
        out.keys = Object.keys(v).sort()
        out.atHash = sha(v.access_token)
        out.rtHash = sha(v.refresh_token)
      } catch {
        out.parseError = true
      }
    }
    return out
  }
  const files = () => {
    const list = []
    const walk = (dir) => {
      let entries = []
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true })
      } catch {
        return
      }
      for (const e of entries) {
        const p = path.join(dir, e.name)
        if (e.isDirectory()) walk(p)
        else list.push(path.relative(home, p).split(path.sep).join('/'))
      }
    }
    walk(home)
    return list.sort()
  }
  const credFile = path.join(home, 'credentials', `${slot}.json`)
  const modes = () => {
    try {
      return {
        file: fs.statSync(credFile).mode & 0o777,
        dir: fs.statSync(path.dirname(credFile)).mode & 0o777,
        keys: Object.keys(JSON.parse(fs.readFileSync(credFile, 'utf8'))).sort(),
      }
    } catch (err) {
      return { error: err.code }
    }
  }
  /** A separate process (same environment, same D-Bus session) asking for a token. */
  const otherProcess = () => {
    const env = { ...process.env, KIMI_NATIVE_KEYCHAIN_CHILD: 'token' }
    const r = spawnSync(process.execPath, [__filename], {
      env,
      encoding: 'utf8',
      timeout: 15000,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    process.stderr.write(r.stdout || '')
    process.stderr.write(r.stderr || '')
    const line = (r.stdout || '').split('\n').find((l) => l.startsWith(RESULT))
    return line ? JSON.parse(line.slice(RESULT.length)) : { status: r.status, error: String(r.error || 'no result') }
  }
  /** Which of the login's keychain entries exist: the head `oauth/<slot>@<home>` and its chunks `#1`, `#2`, ...
   * (asked of the OS's own tool; attributes only, never the secret, so no access prompt). */
  const entries = () => {
    const exists = (name) => {
      let r
      if (process.platform === 'darwin') {
        r = spawnSync('security', ['find-generic-password', '-s', SERVICE, '-a', name], {
          encoding: 'utf8',
          timeout: 10000,
        })
        return r.status === 0
      }
      if (process.platform === 'win32') {
        // keyring 3.6's Windows target name is `<user>.<service>`. `cmdkey /list:<target>` may not match a
        // generic credential, which cmdkey lists as `LegacyGeneric:target=<target>`, so the whole listing
        // is read: a line ending in `=<target>` (or `: <target>` after a localised label) is the entry.
        const target = `${name}.${SERVICE}`
        r = spawnSync('cmdkey', ['/list'], { encoding: 'utf8', timeout: 10000 })
        const lines = (r.stdout || '').split(/\r?\n/).map((l) => l.trim())
        return r.status === 0 && lines.some((l) => l.endsWith(`=${target}`) || l.endsWith(`: ${target}`))
      }
      r = spawnSync('secret-tool', ['lookup', 'service', SERVICE, 'username', name], {
        encoding: 'utf8',
        timeout: 10000,
      })
      return r.status === 0 && Boolean(r.stdout)
    }
    let chunks = 0
    while (chunks < 16 && exists(`${account}#${chunks + 1}`)) chunks++
    return { head: exists(account), chunks }
  }
  const quietLogin = () => kimi.login({ onDeviceCode() {} })
  const loginView = (r) => ({ store: r.store, storeReason: r.storeReason, model: r.models[0] && r.models[0].id })

  switch (scenario) {
    case 'token': {
      const st = await kimi.status()
      const token = await kimi.getAccessToken()
      return { hash: sha(token), status: pick(st) }
    }
    case 'keychain-flow': {
      const out = {}
      out.status0 = pick(await kimi.status())
      out.login = loginView(await quietLogin())
      out.status1 = pick(await kimi.status())
      out.lookup1 = lookup()
      out.files1 = files()
      out.second = otherProcess()
      out.refreshedHash = sha(await kimi.getAccessToken({ force: true }))
      out.lookup2 = lookup()
      out.third = otherProcess()
      out.logout = await kimi.logout()
      out.lookup3 = lookup()
      out.status2 = pick(await kimi.status())
      out.files2 = files()
      return out
    }
    case 'native-flow': {
      const out = {}
      out.status0 = pick(await kimi.status())
      out.login = loginView(await quietLogin())
      out.entries1 = entries()
      out.files1 = files()
      out.second = otherProcess()
      out.refreshedHash = sha(await kimi.getAccessToken({ force: true }))
      out.entries2 = entries()
      out.third = otherProcess()
      out.logout = await kimi.logout()
      out.entries3 = entries()
      out.status2 = pick(await kimi.status())
      return out
    }
    case 'cleanup':
      return kimi.logout().catch((err) => ({ error: err && err.code }))
    case 'auto-flow': {
      const out = {}
      out.status0 = pick(await kimi.status())
      out.login = loginView(await quietLogin())
      out.lookup1 = lookup()
      out.files1 = files()
      out.second = otherProcess()
      out.logout = await kimi.logout()
      out.lookup2 = lookup()
      return out
    }
    case 'file-fallback': {
      const out = {}
      out.status0 = pick(await kimi.status())
      out.login = loginView(await quietLogin())
      out.modes = modes()
      out.second = otherProcess()
      out.status1 = pick(await kimi.status())
      return out
    }
    case 'locked': {
      const out = {}
      out.keychainStatus = await attempt(() => kimi.status({ store: 'keychain' }).then(pick))
      out.keychainLogin = await attempt(() => kimi.login({ store: 'keychain', onDeviceCode() {} }).then(loginView))
      out.autoStatus = await attempt(() => kimi.status({ store: 'auto' }).then(pick))
      out.autoLogin = await attempt(() => kimi.login({ store: 'auto', onDeviceCode() {} }).then(loginView))
      out.modes = modes()
      return out
    }
    case 'hung-status':
      return attempt(() => kimi.status().then(pick))
    default:
      throw new Error(`unknown scenario ${scenario}`)
  }
}

/* ------------------------------------------------------------------------------------- test side -- */

function defineTests() {
  const { test, after } = require('node:test')
  const assert = require('node:assert/strict')
  const net = require('node:net')
  const { startFakeKimi } = require('./fake-kimi/server.js')

  const REQUIRED = process.env.KIMI_NATIVE_TEST_KEYCHAIN === '1'
  const outputs = [] // every captured stdout/stderr of this file
  const servers = [] // every fake server of this file (for the secret grep)
  const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-native-keychain-'))
  after(() => {
    for (const s of servers) s.close().catch(() => {})
    fs.rmSync(tmpRoot, { recursive: true, force: true })
  })

  const onPath = (cmd) =>
    (process.env.PATH || '').split(path.delimiter).some((d) => {
      try {
        fs.accessSync(path.join(d, cmd), fs.constants.X_OK)
        return true
      } catch {
        return false
      }
    })
  const missing =
    process.platform === 'linux'
      ? ['dbus-run-session', 'gnome-keyring-daemon', 'secret-tool'].filter((c) => !onPath(c))
      : []

  /** Runs a test only on its platforms: elsewhere it skips (not applicable, whatever the flag says); on its
   * platform, a missing tool skips, or fails with KIMI_NATIVE_TEST_KEYCHAIN=1. */
  function gate(t, { platforms, secretService = false }) {
    if (!platforms.includes(process.platform)) {
      t.skip(`runs on ${platforms.join('/')} only (this is ${process.platform})`)
      return false
    }
    let why = null
    if (secretService && missing.length) {
      why = `${missing.join(', ')} not installed (apt-get install -y gnome-keyring dbus libsecret-tools)`
    }
    if (!why) return true
    if (REQUIRED) assert.fail(`KIMI_NATIVE_TEST_KEYCHAIN=1 but ${why}`)
    t.skip(why)
    return false
  }
  const LINUX = ['linux']

  let n = 0
  function dirs() {
    const base = path.join(tmpRoot, String(++n))
    const d = { home: path.join(base, 'home'), kn: path.join(base, 'kimi-native'), run: path.join(base, 'run') }
    for (const p of Object.values(d)) fs.mkdirSync(p, { recursive: true, mode: 0o700 })
    return d
  }

  async function fake(opts = {}) {
    const f = await startFakeKimi({ deviceInterval: 1, autoApprove: 0, ...opts })
    servers.push(f)
    return f
  }

  /** A clean environment: nothing from this machine's session (no bus, no display, no API key). */
  function baseEnv(f, d, extra = {}) {
    const env = {
      PATH: process.env.PATH,
      HOME: d.home,
      XDG_RUNTIME_DIR: d.run, // empty: zbus must not find a session bus at $XDG_RUNTIME_DIR/bus
      KIMI_NATIVE_HOME: d.kn,
      KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS: '1',
      KIMI_CODE_OAUTH_HOST: f.oauthHost,
      KIMI_CODE_BASE_URL: f.baseUrl,
      NO_COLOR: '1',
      ...extra,
    }
    if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR
    for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k]
    return env
  }

  async function run(cmd, args, env, timeoutMs) {
    const r = await spawnCollect(cmd, args, { env, timeoutMs })
    outputs.push(r.stdout, r.stderr)
    const line = r.stdout.split('\n').find((l) => l.startsWith(RESULT))
    return { ...r, result: line ? JSON.parse(line.slice(RESULT.length)) : null }
  }

  const child = (scenario, env, timeoutMs = 20000) =>
    run(process.execPath, [__filename], { ...env, KIMI_NATIVE_KEYCHAIN_CHILD: scenario }, timeoutMs)

  /** Runs a scenario inside a private D-Bus session; gnome-keyring is started and unlocked unless `locked`. */
  function inSession(scenario, env, { locked = false, timeoutMs = 30000 } = {}) {
    const unlock = locked ? '' : 'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; '
    return run(
      'dbus-run-session',
      ['--', 'bash', '-c', `${unlock}exec "$0" "$1"`, process.execPath, __filename],
      { ...env, KIMI_NATIVE_KEYCHAIN_CHILD: scenario },
      timeoutMs,
    )
  }

  const show = (r) => `exit ${r.code} ${r.signal || ''}\n--stdout--\n${r.stdout}\n--stderr--\n${r.stderr}`
  function ok(r) {
    assert.equal(r.code, 0, show(r))
    assert.ok(r.result && !r.result.crashed, show(r))
    return r.result
  }

  test(
    'keychain store: login lands in the Secret Service, is shared across processes, rotates on refresh, logout removes it',
    { timeout: 40000 },
    async (t) => {
      if (!gate(t, { platforms: LINUX, secretService: true })) return
      const f = await fake()
      const d = dirs()
      const slot = slotFor(f.oauthHost, f.baseUrl)
      assert.match(slot, /^kimi-code-env-[0-9a-f]{16}$/)
      const r = await inSession('keychain-flow', baseEnv(f, d, { KIMI_NATIVE_STORE: 'keychain' }))
      const out = ok(r)
      const [at1, rt1, at2, rt2] = f.issuedTokens()
      assert.equal(f.issuedTokens().length, 4, 'one login + one refresh')

      assert.equal(out.status0.store, 'keychain')
      assert.equal(out.status0.loggedIn, false)
      assert.equal(out.login.store, 'keychain')
      assert.equal(out.login.model, 'kimi-for-coding')
      assert.equal(out.status1.store, 'keychain')
      assert.equal(out.status1.loggedIn, true)
      assert.equal(out.status1.source, 'kimi-native')

      // The Secret Service holds the login, JSON with the tokens the fake issued.
      assert.equal(out.lookup1.status, 0, JSON.stringify(out.lookup1))
      assert.ok(out.lookup1.found && !out.lookup1.parseError, JSON.stringify(out.lookup1))
      assert.ok(out.lookup1.keys.includes('refresh_token') && out.lookup1.keys.includes('access_token'))
      assert.equal(out.lookup1.rtHash, sha(rt1))
      assert.equal(out.lookup1.atHash, sha(at1))
      // ... and no credentials file exists (only the models cache may be on disk).
      assert.deepEqual(
        out.files1.filter((p) => p.startsWith('credentials')),
        [],
        out.files1.join(', '),
      )
      assert.ok(!fs.existsSync(path.join(d.kn, 'credentials', `${slot}.json`)))

      // A second process in the same D-Bus session gets the token without logging in.
      assert.equal(out.second.hash, sha(at1), JSON.stringify(out.second))
      assert.equal(out.second.status.store, 'keychain')
      assert.equal(f.stats().deviceAuthorizationCount, 1, 'only one device login happened')

      // A forced refresh rotates the pair in the keychain; a third process sees the new one.
      assert.equal(out.refreshedHash, sha(at2))
      assert.equal(out.lookup2.rtHash, sha(rt2))
      assert.notEqual(out.lookup2.rtHash, out.lookup1.rtHash)
      assert.equal(out.third.hash, sha(at2))
      assert.equal(f.stats().refreshCount, 1, 'the other processes did not refresh')

      // Logout removes the item.
      assert.equal(out.logout.removed, true)
      assert.equal(out.lookup3.found, false)
      assert.notEqual(out.lookup3.status, 0)
      assert.equal(out.status2.loggedIn, false)
      assert.deepEqual(
        out.files2.filter((p) => p.startsWith('credentials')),
        [],
      )
    },
  )

  test(
    'auto store with a working Secret Service picks the keychain and says it is available',
    { timeout: 30000 },
    async (t) => {
      if (!gate(t, { platforms: LINUX, secretService: true })) return
      const f = await fake()
      const d = dirs()
      const out = ok(await inSession('auto-flow', baseEnv(f, d, { KIMI_NATIVE_STORE: 'auto' })))
      const [at1, rt1] = f.issuedTokens()
      assert.equal(out.status0.store, 'keychain')
      assert.match(out.status0.storeReason, /available/i)
      assert.equal(out.login.store, 'keychain')
      assert.match(out.login.storeReason, /available/i)
      assert.equal(out.lookup1.rtHash, sha(rt1))
      assert.deepEqual(
        out.files1.filter((p) => p.startsWith('credentials')),
        [],
        'no plaintext copy next to the keychain item',
      )
      assert.equal(out.second.hash, sha(at1))
      assert.equal(out.logout.removed, true)
      assert.equal(out.lookup2.found, false)
    },
  )

  test(
    'auto store without a D-Bus session falls back to a 0600 file in a 0700 dir, with the reason',
    { timeout: 30000 },
    async (t) => {
      if (!gate(t, { platforms: LINUX })) return
      const f = await fake()
      const d = dirs()
      const env = baseEnv(f, d, { KIMI_NATIVE_STORE: 'auto', DBUS_SESSION_BUS_ADDRESS: undefined, DISPLAY: undefined })
      assert.ok(!('DBUS_SESSION_BUS_ADDRESS' in env))
      const r = await child('file-fallback', env)
      const out = ok(r)
      const [at1, rt1] = f.issuedTokens()
      assert.equal(out.status0.store, 'file')
      assert.match(out.status0.storeReason, /unavailable/i)
      assert.match(out.status0.storeReason, /file/i)
      assert.equal(out.login.store, 'file')
      assert.equal(out.modes.file, 0o600, `file mode ${out.modes.file && out.modes.file.toString(8)}`)
      assert.equal(out.modes.dir, 0o700, `dir mode ${out.modes.dir && out.modes.dir.toString(8)}`)
      assert.ok(out.modes.keys.includes('refresh_token'))
      const stored = JSON.parse(
        fs.readFileSync(path.join(d.kn, 'credentials', `${slotFor(f.oauthHost, f.baseUrl)}.json`), 'utf8'),
      )
      assert.equal(stored.refresh_token, rt1)
      assert.equal(out.second.hash, sha(at1))
      assert.equal(out.second.status.store, 'file')
      assert.equal(out.status1.loggedIn, true)
    },
  )

  test(
    'locked keyring (daemon auto-started, never unlocked): keychain fails fast, auto falls back to the file',
    { timeout: 30000 },
    async (t) => {
      if (!gate(t, { platforms: LINUX, secretService: true })) return
      const f = await fake()
      const d = dirs()
      const out = ok(await inSession('locked', baseEnv(f, d, {}), { locked: true }))
      assert.equal(out.keychainStatus.ok, false, JSON.stringify(out.keychainStatus))
      assert.equal(out.keychainStatus.code, 'KIMI_KEYCHAIN_UNAVAILABLE')
      assert.ok(out.keychainStatus.ms < 3000, `keychain probe took ${out.keychainStatus.ms} ms`)
      assert.equal(out.keychainLogin.ok, false)
      assert.equal(out.keychainLogin.code, 'KIMI_KEYCHAIN_UNAVAILABLE')
      assert.equal(out.autoStatus.ok, true, JSON.stringify(out.autoStatus))
      assert.equal(out.autoStatus.value.store, 'file')
      assert.match(out.autoStatus.value.storeReason, /unavailable/i)
      assert.ok(out.autoStatus.ms < 3000, `auto status took ${out.autoStatus.ms} ms`)
      assert.equal(out.autoLogin.ok, true, JSON.stringify(out.autoLogin))
      assert.equal(out.autoLogin.value.store, 'file')
      assert.equal(out.modes.file, 0o600)
      assert.equal(f.stats().deviceAuthorizationCount, 1, 'the keychain login failed before asking for a device code')
    },
  )

  test(
    'hung D-Bus (accepts, never answers): status returns within ~3 s, auto → file, keychain → KIMI_KEYCHAIN_UNAVAILABLE',
    { timeout: 30000 },
    async (t) => {
      if (!gate(t, { platforms: LINUX })) return
      const f = await fake()
      const d = dirs()
      const sock = path.join(d.run, 'hung-bus.sock')
      const held = []
      const server = net.createServer((s) => {
        held.push(s)
        s.on('error', () => {})
        s.resume() // read whatever the client says, answer nothing
      })
      await new Promise((res) => server.listen(sock, res))
      t.after(() => {
        for (const s of held) s.destroy()
        server.close()
      })
      const env = baseEnv(f, d, {
        DBUS_SESSION_BUS_ADDRESS: `unix:path=${sock}`,
        KIMI_NATIVE_KEYCHAIN_TIMEOUT_MS: '1500',
      })
      const [auto, kc] = await Promise.all([
        child('hung-status', { ...env, KIMI_NATIVE_STORE: 'auto' }, 15000),
        child('hung-status', { ...env, KIMI_NATIVE_STORE: 'keychain' }, 15000),
      ])
      const a = ok(auto)
      const k = ok(kc)
      assert.ok(held.length >= 2, `both processes connected to the hung bus (${held.length})`)
      assert.equal(a.ok, true, JSON.stringify(a))
      assert.equal(a.value.store, 'file')
      assert.match(a.value.storeReason, /did not answer/)
      assert.ok(a.ms >= 1400 && a.ms < 3000, `auto status took ${a.ms} ms`)
      assert.equal(k.ok, false, JSON.stringify(k))
      assert.equal(k.code, 'KIMI_KEYCHAIN_UNAVAILABLE')
      assert.match(k.message, /did not answer/)
      assert.ok(k.ms >= 1400 && k.ms < 3000, `keychain status took ${k.ms} ms`)
      // The stuck keychain thread must not keep the process alive.
      assert.ok(auto.ms < 6000 && kc.ms < 6000, `processes exited after ${auto.ms} / ${kc.ms} ms`)
    },
  )

  /** Asserts the OAuth-sized flow of the 'native-flow' scenario: the login is chunked under the Windows blob
   * limit, a second process reads it, a refresh rotates it everywhere, logout removes every entry. */
  function checkNativeFlow(f, d, out) {
    const [at1, rt1, at2] = f.issuedTokens()
    assert.equal(f.issuedTokens().length, 4, 'one login + one refresh')
    assert.ok(at1.length >= 1000 && rt1.length >= 1000, `OAuth-sized tokens (${at1.length}/${rt1.length} chars)`)
    const stored = JSON.stringify({ access_token: at1, refresh_token: rt1 })
    assert.ok(stored.length * 2 > 2560, 'the stored login exceeds the 2,560-byte Windows credential blob')
    assert.equal(out.status0.store, 'keychain')
    assert.equal(out.status0.loggedIn, false)
    assert.equal(out.login.store, 'keychain', JSON.stringify(out.login))
    assert.equal(out.entries1.head, true, JSON.stringify(out.entries1))
    assert.ok(out.entries1.chunks >= 3, `stored in chunks under the limit (${out.entries1.chunks})`)
    assert.deepEqual(
      out.files1.filter((p) => p.startsWith('credentials')),
      [],
      'no plaintext copy',
    )
    assert.equal(out.second.hash, sha(at1), `a second process reads the login: ${JSON.stringify(out.second)}`)
    assert.equal(out.second.status.store, 'keychain')
    assert.equal(out.refreshedHash, sha(at2))
    assert.ok(out.entries2.head && out.entries2.chunks >= 3, JSON.stringify(out.entries2))
    assert.equal(out.third.hash, sha(at2), 'the rotated login is what other processes read')
    assert.equal(f.stats().refreshCount, 1, 'the other processes did not refresh')
    assert.equal(out.logout.removed, true)
    assert.deepEqual(out.entries3, { head: false, chunks: 0 }, 'logout removed the head and every chunk')
    assert.equal(out.status2.loggedIn, false)
  }

  test(
    'macOS Keychain / Windows Credential Manager: OAuth-sized login stored, read by a second process, rotated, deleted',
    { timeout: 60000 },
    async (t) => {
      if (!gate(t, { platforms: ['darwin', 'win32'] })) return
      const f = await fake({ tokenLength: 1200 })
      const d = dirs()
      // The real user session (its keychain / credential set), minus anything that picks another login.
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^KIMI_|^NODE_OPTIONS$/.test(k)))
      Object.assign(env, {
        KIMI_NATIVE_HOME: d.kn,
        KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS: '1',
        KIMI_CODE_OAUTH_HOST: f.oauthHost,
        KIMI_CODE_BASE_URL: f.baseUrl,
        KIMI_NATIVE_STORE: 'keychain',
        NO_COLOR: '1',
      })
      // The slot is unique to this fake server's port; remove it whatever happens.
      t.after(() => child('cleanup', env))
      const out = ok(await child('native-flow', env, 50000))
      checkNativeFlow(f, d, out)
    },
  )

  test('Secret Service: the same OAuth-sized flow, chunked', { timeout: 60000 }, async (t) => {
    if (!gate(t, { platforms: LINUX, secretService: true })) return
    const f = await fake({ tokenLength: 1200 })
    const d = dirs()
    const out = ok(
      await inSession('native-flow', baseEnv(f, d, { KIMI_NATIVE_STORE: 'keychain' }), { timeoutMs: 50000 }),
    )
    checkNativeFlow(f, d, out)
  })

  test('no token the fake servers issued appears in any captured stdout/stderr', (t) => {
    const tokens = servers.flatMap((s) => s.issuedTokens())
    if (!tokens.length) {
      if (REQUIRED) assert.fail('no token was issued: the keychain tests did not run')
      t.skip('no scenario ran that issued tokens')
      return
    }
    const all = outputs.join('\n')
    assert.ok(all.length > 0)
    for (const tok of tokens) assert.ok(!all.includes(tok), `token ${tok.slice(0, 8)}… leaked into output`)
  })
}
