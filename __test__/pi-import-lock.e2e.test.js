'use strict'
// `kimi-native import pi:…` against pi's own auth.json lock (proper-lockfile: a directory `auth.json.lock` whose
// mtime its holder keeps fresh; older than the holder's `stale` limit means abandoned). Real processes race: the
// CLI import, kimi-native's refresh lock held by another process (util-linux flock on the same file the core
// locks), pi 0.73's own AuthStorage backend and a proper-lockfile holder loaded from pi's install, all against the
// fake Kimi server. No lost update, pi never blocked by an import that is waiting, no lock removed that import did
// not create.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { createRequire } = require('node:module')
const { pathToFileURL } = require('node:url')
const { startFakeKimi } = require('./fake-kimi/server.js')
const { spawnCollect } = require('./helpers/spawn.js')
const { ensureHost } = require('./helpers/sandbox.js')

const CLI = path.join(__dirname, '..', 'lib', 'cli.js')
const CI = process.env.CI === 'true'
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-native-pilock-'))
const servers = []
const children = []
let pi = null
let skip = null
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

before(() => {
  const r = ensureHost({ host: 'pi' })
  if (!r.ok) skip = r.reason
  else pi = r
  if (!skip && spawnSync('flock', ['--version']).status !== 0) skip = 'util-linux flock is not installed'
  if (skip && CI) throw new Error(`the pi lock race cannot run on CI: ${skip}`)
})
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
  for (const s of servers) await s.close().catch(() => {})
  fs.rmSync(tmpRoot, { recursive: true, force: true })
})

let n = 0
async function setup() {
  const f = await startFakeKimi({ deviceInterval: 1, autoApprove: 0 })
  servers.push(f)
  const base = path.join(tmpRoot, String(++n))
  const d = { home: path.join(base, 'home'), kn: path.join(base, 'kimi-native') }
  for (const p of Object.values(d)) fs.mkdirSync(p, { recursive: true })
  d.piAuth = path.join(d.home, '.pi', 'agent', 'auth.json')
  fs.mkdirSync(path.dirname(d.piAuth), { recursive: true })
  const t = f.issueTokens()
  const kimi = { type: 'oauth', refresh: t.refresh_token, access: t.access_token, expires: Date.now() + 900e3 }
  fs.writeFileSync(
    d.piAuth,
    JSON.stringify({ anthropic: { type: 'api_key', key: 'PI-OTHER-K' }, 'kimi-coding': kimi }, null, 2),
    { mode: 0o600 },
  )
  d.env = {
    PATH: process.env.PATH,
    HOME: d.home,
    KIMI_NATIVE_HOME: d.kn,
    KIMI_NATIVE_STORE: 'file',
    KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS: '1',
    KIMI_CODE_OAUTH_HOST: f.oauthHost,
    KIMI_CODE_BASE_URL: f.baseUrl,
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
  }
  // The core's refresh lock of this host pair (src/config/slot.rs slot_for / lock_path).
  const slot = crypto
    .createHash('sha256')
    .update(JSON.stringify({ oauthHost: f.oauthHost, baseUrl: f.baseUrl }))
    .digest('hex')
    .slice(0, 16)
  d.refreshLock = path.join(d.kn, 'locks', `kimi-code-env-${slot}.lock`)
  fs.mkdirSync(path.dirname(d.refreshLock), { recursive: true, mode: 0o700 })
  return { f, d }
}

/** Another process holding kimi-native's refresh lock (flock(2), as the core's std File::try_lock takes it). */
function holdRefreshLock(d, ms) {
  const c = spawn('flock', ['-x', d.refreshLock, 'sleep', String(ms / 1000)], { stdio: 'ignore' })
  children.push(c)
  return c
}

function runImport(d) {
  const started = Date.now()
  const p = spawnCollect(process.execPath, [CLI, 'import', 'pi:kimi-coding', '--yes', '--json'], {
    env: d.env,
    timeoutMs: 60000,
  })
  return p.then((r) => ({ ...r, started, ended: Date.now() }))
}
const show = (r) => `exit ${r.code}\n--stdout--\n${r.stdout}\n--stderr--\n${r.stderr}`

/** Runs an ES module script with `node --input-type=module`; resolves to its last stdout line as JSON. */
function nodeScript(source, env = {}) {
  return spawnCollect(process.execPath, ['--input-type=module', '-e', source], {
    env: { PATH: process.env.PATH, ...env },
    timeoutMs: 60000,
  }).then((r) => {
    assert.equal(r.code, 0, `script failed\n${r.stderr}`)
    return JSON.parse(r.stdout.trim().split('\n').pop())
  })
}

test(
  "import never holds pi's lock while it waits for kimi-native's own: pi's writes go through meanwhile",
  { timeout: 60000 },
  async (t) => {
    if (skip) return t.skip(skip)
    const { f, d } = await setup()
    holdRefreshLock(d, 3000)
    await sleep(300) // the holder has the lock before the import starts
    const imported = runImport(d)
    await sleep(800)
    // pi itself (0.73's AuthStorage backend: proper-lockfile, stale 30 s, retries) saves another provider's login.
    const authStorage = pathToFileURL(path.join(pi.root, 'dist', 'core', 'auth-storage.js')).href
    const wrote = await nodeScript(`
    const { FileAuthStorageBackend } = await import(${JSON.stringify(authStorage)})
    const b = new FileAuthStorageBackend(${JSON.stringify(d.piAuth)})
    const t0 = Date.now()
    await b.withLockAsync(async (current) => {
      const data = JSON.parse(current)
      data['pi-saved'] = { type: 'api_key', key: 'PI-SAVED-K' }
      return { result: null, next: JSON.stringify(data, null, 2) }
    })
    console.log(JSON.stringify({ ms: Date.now() - t0, at: Date.now() }))`)
    const r = await imported
    assert.equal(r.code, 0, show(r))
    assert.ok(wrote.ms < 1000, `pi saved at once (${wrote.ms} ms), not after the import's wait for kimi-native's lock`)
    assert.ok(wrote.at < f.refreshLog[0].time, 'pi wrote before the import refreshed')
    const after = JSON.parse(fs.readFileSync(d.piAuth, 'utf8'))
    assert.deepEqual(Object.keys(after).sort(), ['anthropic', 'pi-saved'], "pi's save kept, the Kimi entry handed over")
    assert.equal(f.refreshLog.length, 1)
    assert.ok(!fs.existsSync(`${d.piAuth}.lock`), "import released pi's lock")
  },
)

test(
  "a slow refresh under pi's lock: the lock stays fresh, a proper-lockfile holder waits for it and keeps its own",
  { timeout: 90000 },
  async (t) => {
    if (skip) return t.skip(skip)
    const { f, d } = await setup()
    const REFRESH_MS = 12000 // longer than the 10 s stale limit of pi's sync lock (proper-lockfile's default)
    f.inject({ path: '/api/oauth/token', method: 'POST', delayMs: REFRESH_MS })
    const lock = `${d.piAuth}.lock`
    const imported = runImport(d)
    // The import holds pi's lock for the whole refresh; watch its age.
    while (!fs.existsSync(lock)) await sleep(20)
    const ages = []
    let watching = true
    const watch = (async () => {
      while (watching) {
        try {
          ages.push(Date.now() - fs.statSync(lock).mtimeMs)
        } catch {}
        await sleep(250)
      }
    })()
    // A program with proper-lockfile's default stale limit (10 s, pi's sync lock) wants to write meanwhile; once it
    // has the lock it holds it 6 s (past its own first mtime update at 5 s, which notices a removed lock).
    const lockfile = createRequire(path.join(pi.root, 'package.json')).resolve('proper-lockfile')
    const contender = nodeScript(`
    import { createRequire } from 'node:module'
    import fs from 'node:fs'
    const lockfile = createRequire(import.meta.url)(${JSON.stringify(lockfile)})
    const file = ${JSON.stringify(d.piAuth)}
    let compromised = null
    const release = await lockfile.lock(file, {
      stale: 10000,
      retries: { retries: 200, minTimeout: 200, maxTimeout: 200 },
      onCompromised: (err) => { compromised = err.message },
    })
    const acquiredAt = Date.now()
    const data = JSON.parse(fs.readFileSync(file, 'utf8'))
    data['pi-saved'] = { type: 'api_key', key: 'PI-SAVED-K' }
    fs.writeFileSync(file, JSON.stringify(data, null, 2))
    await new Promise((r) => setTimeout(r, 6000))
    const stillThere = fs.existsSync(file + '.lock')
    let releaseError = null
    try { await release() } catch (e) { releaseError = e.code || e.message }
    console.log(JSON.stringify({ acquiredAt, compromised, stillThere, releaseError }))`)
    const r = await imported
    const c = await contender
    watching = false
    await watch
    assert.equal(r.code, 0, show(r))
    const answeredAt = f.refreshLog[0].time // the injected delay comes first: logged when answered
    const maxAge = Math.max(...ages)
    t.diagnostic(`pi lock mtime age while import held it: max ${maxAge} ms over ${ages.length} samples`)
    t.diagnostic(
      `other holder: got the lock ${c.acquiredAt - answeredAt} ms after the refresh answer; compromised: ${c.compromised}; its lock still there at release: ${c.stillThere}`,
    )
    assert.ok(maxAge < 7000, `import kept pi's lock fresh (oldest mtime seen ${maxAge} ms)`)
    assert.ok(
      c.acquiredAt >= answeredAt,
      `the other program got the lock only after the import's refresh (${c.acquiredAt - answeredAt} ms)`,
    )
    assert.equal(c.compromised, null, "no one removed the other program's lock")
    assert.ok(c.stillThere, 'its lock directory was still there when it released it')
    assert.equal(c.releaseError, null)
    const data = JSON.parse(fs.readFileSync(d.piAuth, 'utf8'))
    assert.deepEqual(Object.keys(data).sort(), ['anthropic', 'pi-saved'], 'no lost update; the Kimi entry handed over')
    assert.ok(!fs.existsSync(lock))
  },
)
