'use strict'
// `kimi-native import` and `login` taking over a Kimi login another plugin holds (issue #15), with the real CLI
// processes against the fake Kimi server. Each source is seeded in the shape its plugin writes (opencode-kimi-auth's
// oauth.json, opencode's auth.json entries of opencode-kimi-full / @openprojectx/opencode-kimi-auth /
// opencode-kimi-auth, pi's auth.json entries of pi 1.x / pi-provider-kimi-code and pi-kimi-coder) with a token pair
// the fake server issued, plus the official clients' files; malformed variants are truncated or have wrong types.
// Every run has its own HOME, stdin ignored (not a terminal) unless it goes through `script` for a pseudo-terminal.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { startFakeKimi } = require('./fake-kimi/server.js')
const { spawnCollect } = require('./helpers/spawn.js')
const { PROVIDER, AUTH_MARKERS } = require('../lib')

const ROOT = path.join(__dirname, '..')
const CLI = path.join(ROOT, 'lib', 'cli.js')
const outputs = [] // every stdout/stderr captured here
const rewritten = [] // host files after a handover (must hold no token)
const servers = []
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-native-import-'))
after(() => {
  for (const s of servers) s.close().catch(() => {})
  fs.rmSync(tmpRoot, { recursive: true, force: true })
})

// Non-Kimi credentials of other providers in the shared files: kept byte for byte, never printed.
const OTHER = {
  anthropic: { type: 'oauth', refresh: 'OTHER-R-1', access: 'OTHER-A-1', expires: 1795237895930 },
  openai: { type: 'api', key: 'OTHER-K-1' },
}
const PI_OTHER = {
  anthropic: { type: 'oauth', access: 'PI-OTHER-A', refresh: 'PI-OTHER-R', expires: 1795237895930 },
  moonshotai: { type: 'api_key', key: 'PI-OTHER-K' },
}
const OTHER_SECRETS = ['OTHER-R-1', 'OTHER-A-1', 'OTHER-K-1', 'PI-OTHER-A', 'PI-OTHER-R', 'PI-OTHER-K']

let n = 0
function newHome() {
  const base = path.join(tmpRoot, String(++n))
  const d = { home: path.join(base, 'home'), kn: path.join(base, 'kimi-native') }
  for (const p of Object.values(d)) fs.mkdirSync(p, { recursive: true })
  d.oauthJson = path.join(d.home, '.opencode-kimi-auth', 'oauth.json')
  d.opencodeAuth = path.join(d.home, '.local', 'share', 'opencode', 'auth.json')
  d.piAuth = path.join(d.home, '.pi', 'agent', 'auth.json')
  d.kimiCli = path.join(d.home, '.kimi', 'credentials', 'kimi-code.json')
  return d
}

async function fake() {
  const f = await startFakeKimi({ deviceInterval: 1, autoApprove: 0 })
  servers.push(f)
  return f
}

function envFor(f, d, extra = {}) {
  const env = {
    PATH: process.env.PATH,
    HOME: d.home,
    USERPROFILE: d.home, // the home directory on Windows
    KIMI_NATIVE_HOME: d.kn,
    KIMI_NATIVE_STORE: 'file',
    KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS: '1',
    KIMI_CODE_OAUTH_HOST: f.oauthHost,
    KIMI_CODE_BASE_URL: f.baseUrl,
    ...extra,
  }
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR
  return env
}

async function cli(args, env) {
  const r = await spawnCollect(process.execPath, [CLI, ...args], { env, timeoutMs: 30000 })
  outputs.push(r.stdout, r.stderr)
  return r
}
const show = (r) => `exit ${r.code} (${r.ms} ms)\n--stdout--\n${r.stdout}\n--stderr--\n${r.stderr}`

function writeFile(p, text, mode = 0o600) {
  fs.mkdirSync(path.dirname(p), { recursive: true })
  fs.writeFileSync(p, text, { mode })
  fs.chmodSync(p, mode)
}

// ---- each plugin's own shape --------------------------------------------------------------------
/** romancircus/opencode-kimi-auth storeToken(): the token response + expires_at (ms) + device_id. */
function seedOpencodeKimiAuth(d, t) {
  const text = JSON.stringify(
    { ...t, expires_at: Date.now() + t.expires_in * 1000, device_id: crypto.randomUUID() },
    null,
    2,
  )
  writeFile(d.oauthJson, text)
  writeFile(path.join(path.dirname(d.oauthJson), 'device_id'), crypto.randomUUID())
  return text
}
/** opencode's auth.json: other providers plus Kimi OAuth entries (expires in ms; opencode-kimi-auth writes seconds). */
function seedOpencode(d, kimiEntries) {
  const text = JSON.stringify({ anthropic: OTHER.anthropic, ...kimiEntries, openai: OTHER.openai }, null, 2)
  writeFile(d.opencodeAuth, text)
  return text
}
const oauthEntry = (t, { seconds = false, extra = {} } = {}) => ({
  type: 'oauth',
  refresh: t.refresh_token,
  access: t.access_token,
  expires: seconds ? Math.floor(Date.now() / 1000) + t.expires_in : Date.now() + t.expires_in * 1000,
  ...extra,
})
/** pi's auth.json (AuthStorage): {type:"oauth", ...credentials}, expires in ms, extras kept. */
function seedPi(d, kimiEntries) {
  const text = JSON.stringify(
    { anthropic: PI_OTHER.anthropic, ...kimiEntries, moonshotai: PI_OTHER.moonshotai },
    null,
    2,
  )
  writeFile(d.piAuth, text)
  return text
}
/** kimi-cli's file (golden py format) and kimi-code's (named after the host/base pair, docs/kimi-wire.md §3). */
function seedOfficial(d, f, cliTokens, codeTokens) {
  const py = (t) =>
    `{"access_token": "${t.access_token}", "refresh_token": "${t.refresh_token}", "expires_at": ${Date.now() / 1000 + t.expires_in}, "scope": "kimi-code", "token_type": "Bearer", "expires_in": 900.0}`
  writeFile(d.kimiCli, py(cliTokens))
  const slot = crypto
    .createHash('sha256')
    .update(JSON.stringify({ oauthHost: f.oauthHost, baseUrl: f.baseUrl }))
    .digest('hex')
    .slice(0, 16)
  const codeFile = path.join(d.home, '.kimi-code', 'credentials', `kimi-code-env-${slot}.json`)
  writeFile(
    codeFile,
    `${JSON.stringify({ access_token: codeTokens.access_token, refresh_token: codeTokens.refresh_token, expires_at: Math.floor(Date.now() / 1000) + 900, scope: 'kimi-code', token_type: 'Bearer', expires_in: 900 }, null, 2)}\n`,
  )
  return codeFile
}

const mode = (p) => fs.statSync(p).mode & 0o777
const backups = (file) =>
  fs
    .readdirSync(path.dirname(file))
    .filter((n) => n.startsWith(`${path.basename(file)}.bak-`))
    .map((n) => path.join(path.dirname(file), n))
/** Every file under HOME except the device id the core's identity headers create in kimi-code's home. */
const snapshot = (d) => {
  const out = {}
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name)
      if (e.isDirectory()) walk(p)
      else if (path.relative(d.home, p) !== path.join('.kimi-code', 'device_id'))
        out[path.relative(d.home, p)] = fs.readFileSync(p, 'utf8')
    }
  }
  walk(d.home)
  return out
}
const credentialFiles = (d) => {
  try {
    return fs.readdirSync(path.join(d.kn, 'credentials'))
  } catch {
    return []
  }
}
const byId = (list, id) => {
  const s = list.find((x) => x.id === id)
  assert.ok(s, `${id} is listed: ${list.map((x) => x.id).join(', ')}`)
  return s
}
const near = (a, b, what) => assert.ok(Math.abs(a - b) < 5, `${what}: ${a} vs ${b}`)

async function listJson(f, d) {
  const r = await cli(['import', '--json'], envFor(f, d))
  assert.equal(r.code, 0, show(r))
  return JSON.parse(r.stdout)
}

/** kimi-native's opencode plugin in a child process, reading opencode's auth.json the way opencode does (the entry
 * under the provider id), then making a request through the loader's fetch. */
async function opencodeAdapterRequest(f, d) {
  const script = `
    const fs = require('node:fs')
    const plugin = require(${JSON.stringify(path.join(ROOT, 'lib', 'adapters', 'opencode.js'))}).default
    ;(async () => {
      const hooks = await plugin.server({ client: { auth: { set: async () => { throw new Error('no auth.json write expected') } } } }, {})
      const getAuth = async () => JSON.parse(fs.readFileSync(${JSON.stringify(d.opencodeAuth)}, 'utf8'))[${JSON.stringify(PROVIDER.opencodeId)}]
      const entry = await getAuth()
      const out = await hooks.auth.loader(getAuth)
      if (!out.fetch) return console.log(JSON.stringify({ entry: !!entry, fetch: false }))
      const res = await out.fetch(${JSON.stringify(f.baseUrl)} + '/models')
      console.log(JSON.stringify({ entry: !!entry, fetch: true, status: res.status }))
    })().catch((e) => { console.log(JSON.stringify({ error: e.message })) })`
  const r = await spawnCollect(process.execPath, ['-e', script], { env: envFor(f, d), timeoutMs: 20000 })
  outputs.push(r.stdout, r.stderr)
  assert.equal(r.code, 0, show(r))
  return JSON.parse(r.stdout.trim().split('\n').pop())
}

// ---------------------------------------------------------------------------------------------------

test(
  'import lists every source in its realistic shape, says which can be taken over, and changes nothing',
  { timeout: 30000 },
  async () => {
    const f = await fake()
    const d = newHome()
    const [tAuth, tFull, tRoman, tPi, tCli, tCode] = [1, 2, 3, 4, 5, 6].map(() => f.issueTokens())
    seedOpencodeKimiAuth(d, tAuth)
    seedOpencode(d, {
      [PROVIDER.opencodeId]: oauthEntry(tFull, { extra: { model_id: 'k2p6', context_length: 262144 } }),
      kimi: oauthEntry(tRoman, { seconds: true }),
    })
    // pi-kimi-coder seeds its entry from kimi-cli's file: the same chain.
    seedPi(d, {
      'kimi-coding': oauthEntry(tPi, { extra: { modelId: 'k3', contextWindow: 262144 } }),
      'kimi-coder': oauthEntry(tCli),
    })
    seedOfficial(d, f, tCli, tCode)
    const before = snapshot(d)

    const list = await listJson(f, d)
    assert.deepEqual(
      list.map((s) => s.id),
      [
        'opencode-kimi-auth',
        `opencode:${PROVIDER.opencodeId}`,
        'opencode:kimi',
        'pi:kimi-coding',
        'pi:kimi-coder',
        'kimi-code',
        'kimi-cli',
      ],
    )
    const now = Date.now() / 1000
    for (const id of ['opencode-kimi-auth', `opencode:${PROVIDER.opencodeId}`, 'opencode:kimi', 'pi:kimi-coding']) {
      const s = byId(list, id)
      assert.equal(s.importable, true, `${id}: ${s.reason}`)
      assert.equal(s.hasRefreshToken, true)
      near(s.expiresAt, now + 900, `${id} expiry in epoch seconds (ms and s sources alike)`)
    }
    assert.equal(byId(list, 'opencode-kimi-auth').handover, 'move-aside')
    assert.equal(byId(list, 'opencode-kimi-auth').file, d.oauthJson)
    assert.equal(
      byId(list, `opencode:${PROVIDER.opencodeId}`).handover,
      'marker',
      'kimi-native uses the same opencode provider id',
    )
    assert.equal(byId(list, 'opencode:kimi').handover, 'remove')
    assert.equal(byId(list, 'pi:kimi-coding').handover, 'remove', `kimi-native's pi provider is ${PROVIDER.piId}`)
    assert.equal(byId(list, 'pi:kimi-coding').file, d.piAuth)
    const shared = byId(list, 'pi:kimi-coder')
    assert.equal(shared.importable, false)
    assert.match(shared.reason, /official kimi-cli login.*log kimi-cli out/)
    for (const id of ['kimi-code', 'kimi-cli']) {
      const s = byId(list, id)
      assert.equal(s.importable, false)
      assert.equal(s.hasRefreshToken, true)
      assert.match(s.reason, /official .* never takes it over/)
    }

    const human = await cli(['import'], envFor(f, d))
    assert.equal(human.code, 0, show(human))
    for (const s of list) assert.ok(human.stdout.includes(s.id), `${s.id} in the human listing`)
    assert.match(human.stdout, /npx kimi-native import opencode-kimi-auth|npx kimi-native import /)
    assert.match(human.stdout, /never takes it over/)

    assert.equal(f.stats().requests, 0, 'listing never talks to the server')
    assert.deepEqual(snapshot(d), before, 'listing changes no file')
  },
)

test(
  'malformed sources (truncated, wrong types) are listed as not importable, never crash, and stay untouched',
  { timeout: 30000 },
  async (t) => {
    const f = await fake()
    const tok = f.issueTokens()
    const full = {
      oauth: JSON.stringify({ ...tok, expires_at: Date.now() + 900e3, device_id: 'x' }, null, 2),
      opencode: JSON.stringify({ anthropic: OTHER.anthropic, [PROVIDER.opencodeId]: oauthEntry(tok) }, null, 2),
      pi: JSON.stringify({ 'kimi-coding': oauthEntry(tok), 'kimi-coder': oauthEntry(tok) }, null, 2),
    }
    const cases = {
      truncated: {
        oauth: full.oauth.slice(0, 40),
        opencode: full.opencode.slice(0, full.opencode.length - 30),
        pi: full.pi.slice(0, 25),
        expect: { 'opencode-kimi-auth': /not valid JSON/, opencode: /not valid JSON/, pi: /not valid JSON/ },
      },
      'wrong types': {
        oauth: JSON.stringify({ access_token: tok.access_token, refresh_token: 12345, expires_at: 'soon' }),
        opencode: JSON.stringify({
          anthropic: OTHER.anthropic,
          [PROVIDER.opencodeId]: { type: 'oauth', refresh: { token: 'x' }, access: 7, expires: 'later' },
          kimi: 'a-string',
        }),
        pi: JSON.stringify({
          'kimi-coding': { type: 'oauth', access: 'a', refresh: ['x'], expires: 1 },
          'kimi-coder': 42,
        }),
        expect: {
          'opencode-kimi-auth': /`refresh_token` is a number/,
          [`opencode:${PROVIDER.opencodeId}`]: /`refresh` is a object/,
          'opencode:kimi': /string, not an object/,
          'pi:kimi-coding': /`refresh` is a array/,
          'pi:kimi-coder': /number, not an object/,
        },
      },
    }
    for (const [name, c] of Object.entries(cases)) {
      await t.test(name, async () => {
        const d = newHome()
        writeFile(d.oauthJson, c.oauth)
        writeFile(d.opencodeAuth, c.opencode)
        writeFile(d.piAuth, c.pi)
        const before = snapshot(d)
        const list = await listJson(f, d)
        assert.deepEqual(list.map((s) => s.id).sort(), Object.keys(c.expect).sort())
        for (const [id, re] of Object.entries(c.expect)) {
          const s = byId(list, id)
          assert.equal(s.importable, false, id)
          assert.equal(s.hasRefreshToken, false, id)
          assert.match(s.reason, re, id)
        }
        const human = await cli(['import'], envFor(f, d))
        assert.equal(human.code, 0, show(human))
        assert.match(human.stdout, /Nothing to take over/)
        const r = await cli(['import', list[0].id, '--yes'], envFor(f, d))
        assert.equal(r.code, 3, show(r))
        assert.match(r.stderr, /\[KIMI_BAD_INPUT\] .*cannot be imported/)
        assert.deepEqual(snapshot(d), before, 'nothing was changed')
      })
    }
    assert.equal(f.stats().refreshCount + f.stats().invalidGrantCount, 0)
  },
)

test(
  'importing each source takes over its chain: one refresh, stored by kimi-native, the source handed over',
  { timeout: 90000 },
  async (t) => {
    const cases = [
      {
        id: 'opencode-kimi-auth',
        seed: (d, tok) => seedOpencodeKimiAuth(d, tok),
        file: (d) => d.oauthJson,
        check(d, original) {
          assert.ok(!fs.existsSync(d.oauthJson), 'the plugin finds no login any more')
          const [moved] = backups(d.oauthJson)
          assert.ok(moved, 'the file was moved aside')
          if (process.platform !== 'win32') assert.equal(mode(moved), 0o600)
          assert.equal(fs.readFileSync(moved, 'utf8'), original)
        },
      },
      {
        id: `opencode:${PROVIDER.opencodeId}`,
        seed: (d, tok) => seedOpencode(d, { [PROVIDER.opencodeId]: oauthEntry(tok, { extra: { model_id: 'k2p6' } }) }),
        file: (d) => d.opencodeAuth,
        entry: (json) =>
          assert.deepEqual(json[PROVIDER.opencodeId], AUTH_MARKERS.opencode, "kimi-native's marker replaces the entry"),
        adapter: { entry: true, fetch: true, status: 200 },
      },
      {
        id: 'opencode:kimi-for-coding',
        seed: (d, tok) => seedOpencode(d, { 'kimi-for-coding': oauthEntry(tok) }),
        file: (d) => d.opencodeAuth,
        entry: (json) => assert.ok(!('kimi-for-coding' in json), 'the other plugin id is removed'),
        // No entry under kimi-native's id: opencode does not run the loader, the plugin adds its marker at startup.
        adapter: { entry: false, fetch: false },
      },
      {
        id: 'pi:kimi-coding',
        seed: (d, tok) => seedPi(d, { 'kimi-coding': oauthEntry(tok, { extra: { modelId: 'k3' } }) }),
        file: (d) => d.piAuth,
        entry: (json) => assert.ok(!('kimi-coding' in json), `removed (kimi-native's pi provider is ${PROVIDER.piId})`),
      },
      {
        id: 'pi:kimi-coder',
        seed: (d, tok) => seedPi(d, { 'kimi-coder': oauthEntry(tok) }),
        file: (d) => d.piAuth,
        entry: (json) => assert.ok(!('kimi-coder' in json)),
      },
    ]
    for (const c of cases) {
      await t.test(c.id, async () => {
        const f = await fake()
        const d = newHome()
        const tok = f.issueTokens()
        const original = c.seed(d, tok)
        const file = c.file(d)
        const r = await cli(['import', c.id, '--yes'], envFor(f, d))
        assert.equal(r.code, 0, show(r))
        assert.match(r.stdout, /Took over the Kimi login/)
        assert.ok(r.stdout.includes(file), 'the handed-over file is named')

        const refreshes = f.refreshLog.filter((e) => e.refresh_token === tok.refresh_token)
        assert.equal(refreshes.length, 1, 'exactly one refresh with the imported token')
        assert.equal(refreshes[0].ok, true)
        assert.equal(
          f.refreshTokenInfo(tok.refresh_token).status,
          'used',
          'the old owner cannot refresh that token again',
        )
        assert.equal(credentialFiles(d).length, 1, 'kimi-native stored the new pair')
        if (process.platform !== 'win32')
          assert.equal(mode(path.join(d.kn, 'credentials', credentialFiles(d)[0])), 0o600)

        if (c.entry) {
          const json = JSON.parse(fs.readFileSync(file, 'utf8'))
          c.entry(json)
          const others = c.id.startsWith('pi:') ? PI_OTHER : OTHER
          for (const [k, v] of Object.entries(others)) assert.deepEqual(json[k], v, `${k} kept`)
          assert.deepEqual(
            Object.keys(json).filter((k) => k in others),
            Object.keys(others),
            'order kept',
          )
          if (process.platform !== 'win32') assert.equal(mode(file), 0o600)
          const [bak] = backups(file)
          assert.ok(bak, 'a backup was made')
          if (process.platform !== 'win32') assert.equal(mode(bak), 0o600)
          assert.equal(fs.readFileSync(bak, 'utf8'), original, 'the backup is the file as it was')
          rewritten.push(file)
        } else c.check(d, original)

        // The old host file re-read by kimi-native's adapter: the marker (or nothing) sends it to the core's login.
        if (c.adapter) assert.deepEqual(await opencodeAdapterRequest(f, d), c.adapter)
        const st = await cli(['status', '--json'], envFor(f, d))
        assert.equal(st.code, 0, show(st))
        assert.equal(JSON.parse(st.stdout).source, 'kimi-native')
        const u = await cli(['usage', '--json'], envFor(f, d))
        assert.equal(u.code, 0, show(u))
        const after = await listJson(f, d)
        assert.ok(
          after.every((s) => !s.importable),
          'nothing left to take over',
        )
        if (c.id === `opencode:${PROVIDER.opencodeId}`)
          assert.equal(byId(after, c.id).marker, true, 'listed as handed over')
        assert.equal(f.stats().invalidGrantCount, 0, 'no invalid_grant afterwards')
        assert.equal(f.stats().refreshCount, 1)
      })
    }
  },
)

test(
  "opencode-kimi-auth's copy of the chain in opencode's auth.json is handed over with it",
  { timeout: 20000 },
  async () => {
    const f = await fake()
    const d = newHome()
    const tok = f.issueTokens()
    seedOpencodeKimiAuth(d, tok)
    seedOpencode(d, { kimi: oauthEntry(tok, { seconds: true }) })
    const r = await cli(['import', 'opencode-kimi-auth', '--yes', '--json'], envFor(f, d))
    assert.equal(r.code, 0, show(r))
    const out = JSON.parse(r.stdout)
    assert.deepEqual(out.handedOver.map((h) => [h.id, h.action]).sort(), [
      ['opencode-kimi-auth', 'move-aside'],
      ['opencode:kimi', 'remove'],
    ])
    assert.ok(!('kimi' in JSON.parse(fs.readFileSync(d.opencodeAuth, 'utf8'))))
    rewritten.push(d.opencodeAuth)
    assert.equal(f.stats().refreshCount, 1)
  },
)

test(
  'no refresh race: the old owner rotating the token during the import is followed, not forked',
  { timeout: 30000 },
  async () => {
    const f = await fake()
    const d = newHome()
    const a = f.issueTokens()
    seedOpencode(d, { [PROVIDER.opencodeId]: oauthEntry(a) })
    // Hold kimi-native's refresh at the server; meanwhile the old plugin refreshes the same token and saves the next one.
    f.inject({ path: '/api/oauth/token', method: 'POST', delayMs: 1500 })
    let oldOwner
    f.once('request', () => {
      oldOwner = (async () => {
        const res = await fetch(`${f.oauthHost}/api/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `client_id=17e5f671-d194-4dfb-9706-5516cb48c098&grant_type=refresh_token&refresh_token=${a.refresh_token}`,
        })
        const b = await res.json()
        assert.equal(res.status, 200, JSON.stringify(b).slice(0, 80))
        seedOpencode(d, { [PROVIDER.opencodeId]: oauthEntry(b) })
        return b
      })()
    })
    const r = await cli(['import', `opencode:${PROVIDER.opencodeId}`, '--yes'], envFor(f, d))
    const b = await oldOwner
    assert.equal(r.code, 0, show(r))
    const log = f.refreshLog.map((e) => [
      e.refresh_token === a.refresh_token ? 'A' : e.refresh_token === b.refresh_token ? 'B' : '?',
      e.ok,
    ])
    assert.deepEqual(
      log,
      [
        ['A', true],
        ['A', false],
        ['B', true],
      ],
      'the old owner rotated A; kimi-native lost on A, re-read the file and took over B',
    )
    const stored = JSON.parse(fs.readFileSync(path.join(d.kn, 'credentials', credentialFiles(d)[0]), 'utf8'))
    assert.equal(stored.refresh_token, f.refreshLog[2].newRefreshToken, 'kimi-native holds the head of the chain')
    assert.deepEqual(JSON.parse(fs.readFileSync(d.opencodeAuth, 'utf8'))[PROVIDER.opencodeId], AUTH_MARKERS.opencode)
    rewritten.push(d.opencodeAuth)
  },
)

test("an import waits for a running pi's auth.json lock", { timeout: 30000 }, async () => {
  const f = await fake()
  const d = newHome()
  seedPi(d, { 'kimi-coding': oauthEntry(f.issueTokens()) })
  const lock = `${d.piAuth}.lock` // proper-lockfile's lock directory, as pi holds it during its own refresh
  fs.mkdirSync(lock)
  const t0 = Date.now()
  const release = setTimeout(() => fs.rmdirSync(lock), 1200)
  const r = await cli(['import', 'pi:kimi-coding', '--yes'], envFor(f, d))
  clearTimeout(release)
  assert.equal(r.code, 0, show(r))
  assert.ok(Date.now() - t0 >= 1200, `waited for pi (${Date.now() - t0} ms)`)
  assert.ok(f.refreshLog[0].time - t0 >= 1150, 'refreshed only after pi released its lock')
  assert.ok(!fs.existsSync(lock), 'its own lock released')
  rewritten.push(d.piAuth)
})

test(
  "an import run as root (sudo) leaves the user's file and its backup owned by the user; old backups are bounded",
  { timeout: 30000 },
  async (t) => {
    const f = await fake()
    const d = newHome()
    seedPi(d, { 'kimi-coding': oauthEntry(f.issueTokens()) })
    // Backups of earlier imports (each holds every provider's secrets): only the newest few are kept.
    for (const stamp of [1700000000, 1700000001, 1700000002, 1700000003]) writeFile(`${d.piAuth}.bak-${stamp}`, '{}')
    const root = typeof process.getuid === 'function' && process.getuid() === 0
    const USER = 4242 // the user whose file sudo's root imports: any uid other than root's
    if (root) fs.chownSync(d.piAuth, USER, USER + 1)
    const r = await cli(['import', 'pi:kimi-coding', '--yes', '--json'], envFor(f, d))
    assert.equal(r.code, 0, show(r))
    const backup = JSON.parse(r.stdout).handedOver[0].backup
    rewritten.push(d.piAuth)
    const owner = (file) => (({ uid, gid }) => [uid, gid])(fs.statSync(file))
    // Both facts in one comparison, so a failure shows each.
    assert.deepEqual(
      {
        backups: backups(d.piAuth)
          .map((p) => path.basename(p))
          .sort(),
        backupMode: mode(backup),
        ...(root ? { fileOwner: owner(d.piAuth), backupOwner: owner(backup) } : {}),
      },
      {
        backups: ['auth.json.bak-1700000002', 'auth.json.bak-1700000003', path.basename(backup)].sort(),
        backupMode: 0o600,
        ...(root ? { fileOwner: [USER, USER + 1], backupOwner: [USER, USER + 1] } : {}),
      },
      "the newest 3 backups are kept (0600); file and backup keep the user's owner and group",
    )
    if (!root) t.skip('changing a file owner needs root: run as root to check that owner and group are kept')
  },
)

test(
  'if kimi-native cannot store the refreshed login, it goes back to its owner instead of being lost',
  { timeout: 20000 },
  async () => {
    const f = await fake()
    const d = newHome()
    const tok = f.issueTokens()
    seedPi(d, { 'kimi-coding': oauthEntry(tok, { extra: { modelId: 'k3' } }) })
    fs.writeFileSync(path.join(d.kn, 'credentials'), 'not a directory') // the file store cannot be written
    const r = await cli(['import', 'pi:kimi-coding', '--yes'], envFor(f, d))
    assert.equal(r.code, 3, show(r))
    assert.match(r.stderr, /\[KIMI_STORE\] .*written back to .*auth\.json/)
    assert.equal(f.refreshLog.length, 1)
    const entry = JSON.parse(fs.readFileSync(d.piAuth, 'utf8'))['kimi-coding']
    assert.equal(entry.refresh, f.refreshLog[0].newRefreshToken, "the owner holds the chain's head")
    assert.equal(f.refreshTokenInfo(entry.refresh).status, 'active')
    assert.equal(entry.modelId, 'k3', 'its other fields kept')
    assert.deepEqual(backups(d.piAuth), [], 'not handed over')
  },
)

test('a dead refresh token changes nothing and says to sign in', { timeout: 30000 }, async () => {
  const f = await fake()
  const d = newHome()
  const [a, b, c] = [f.issueTokens(), f.issueTokens(), f.issueTokens()]
  seedOpencodeKimiAuth(d, a)
  seedOpencode(d, { [PROVIDER.opencodeId]: oauthEntry(b) })
  seedPi(d, { 'kimi-coding': oauthEntry(c) })
  f.revokeAll()
  const before = snapshot(d)
  for (const id of ['opencode-kimi-auth', `opencode:${PROVIDER.opencodeId}`, 'pi:kimi-coding']) {
    const r = await cli(['import', id, '--yes'], envFor(f, d))
    assert.equal(r.code, 2, show(r))
    assert.match(r.stderr, /\[KIMI_RELOGIN_REQUIRED\] .*no longer valid.*Nothing was changed.*npx kimi-native login/)
    assert.equal(r.stdout, '')
  }
  assert.deepEqual(snapshot(d), before, 'no file changed, no backup made')
  assert.ok(!fs.existsSync(path.join(d.piAuth + '.lock')), "pi's lock was released")
  assert.deepEqual(credentialFiles(d), [], 'nothing stored')
  assert.equal(f.stats().invalidGrantCount, 3, 'one refused attempt each')
})

test('without a terminal, `import <source>` needs --yes and changes nothing', { timeout: 20000 }, async () => {
  const f = await fake()
  const d = newHome()
  seedOpencode(d, { [PROVIDER.opencodeId]: oauthEntry(f.issueTokens()) })
  const before = snapshot(d)
  const r = await cli(['import', 'opencode'], envFor(f, d))
  assert.equal(r.code, 3, show(r))
  assert.match(r.stderr, /\[KIMI_CONFIRMATION_REQUIRED\] .*not a terminal.*--yes.*Nothing was changed/)
  assert.deepEqual(snapshot(d), before)
  assert.equal(f.stats().requests, 0)
})

test('login offers the import first', { timeout: 60000 }, async (t) => {
  await t.test('not a terminal: it mentions the login and signs in with a device code', async () => {
    const f = await fake()
    const d = newHome()
    seedOpencode(d, { [PROVIDER.opencodeId]: oauthEntry(f.issueTokens()) })
    const before = snapshot(d)
    const r = await cli(['login', '--no-browser'], envFor(f, d))
    assert.equal(r.code, 0, show(r))
    assert.match(
      r.stderr,
      new RegExp(`npx kimi-native import opencode:${PROVIDER.opencodeId} --yes.*Continuing with a device login`),
    )
    assert.equal(f.stats().deviceAuthorizationCount, 1)
    assert.equal(f.stats().refreshCount, 0)
    assert.deepEqual(snapshot(d), before)
  })

  await t.test('--yes: takes the login over, no device code', async () => {
    const f = await fake()
    const d = newHome()
    const tok = f.issueTokens()
    seedPi(d, { 'kimi-coding': oauthEntry(tok) })
    const r = await cli(['login', '--yes', '--no-browser'], envFor(f, d))
    assert.equal(r.code, 0, show(r))
    assert.match(r.stdout, /Took over the Kimi login from pi:kimi-coding/)
    assert.equal(f.stats().deviceAuthorizationCount, 0)
    assert.equal(f.refreshLog.filter((e) => e.refresh_token === tok.refresh_token && e.ok).length, 1)
    rewritten.push(d.piAuth)
  })

  await t.test('--yes with a dead login: says so, then signs in with a device code', async () => {
    const f = await fake()
    const d = newHome()
    seedOpencodeKimiAuth(d, f.issueTokens())
    f.revokeAll()
    const r = await cli(['login', '--yes', '--no-browser'], envFor(f, d))
    assert.equal(r.code, 0, show(r))
    assert.match(r.stderr, /no longer valid[\s\S]*Continuing with a device login/)
    assert.equal(f.stats().deviceAuthorizationCount, 1)
    assert.match(r.stdout, /Logged in/)
    assert.ok(fs.existsSync(d.oauthJson), 'the dead source was left as it was')
  })

  await t.test('--no-import skips it', async () => {
    const f = await fake()
    const d = newHome()
    seedOpencode(d, { [PROVIDER.opencodeId]: oauthEntry(f.issueTokens()) })
    const r = await cli(['login', '--no-import', '--no-browser'], envFor(f, d))
    assert.equal(r.code, 0, show(r))
    assert.doesNotMatch(r.stderr + r.stdout, /import/)
    assert.equal(f.stats().deviceAuthorizationCount, 1)
  })

  const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore', timeout: 5000 }).status === 0
  await t.test(
    'on a terminal: a prompt; "y" imports (login), "n" changes nothing (import)',
    { skip: process.platform !== 'linux' || !hasScript ? 'needs util-linux `script` for a pseudo-terminal' : false },
    async () => {
      const f = await fake()
      const d = newHome()
      const tok = f.issueTokens()
      seedOpencode(d, { [PROVIDER.opencodeId]: oauthEntry(tok) })
      const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`
      const tty = (args, answer, prompt) =>
        new Promise((resolve) => {
          const child = spawn('script', ['-qec', [process.execPath, CLI, ...args].map(q).join(' '), '/dev/null'], {
            env: { ...envFor(f, d), TERM: 'dumb' },
            stdio: ['pipe', 'pipe', 'pipe'],
          })
          let out = ''
          let sent = false
          const timer = setTimeout(() => child.kill('SIGKILL'), 20000)
          child.stdout.on('data', (b) => {
            out += b
            if (!sent && prompt.test(out)) {
              sent = true
              child.stdin.write(`${answer}\r`)
            }
          })
          child.on('close', (code) => {
            clearTimeout(timer)
            outputs.push(out)
            resolve({ code, out, sent })
          })
        })
      const before = snapshot(d)
      const no = await tty(['import', `opencode:${PROVIDER.opencodeId}`], 'n', /\[y\/N\]/)
      assert.ok(no.sent, no.out)
      assert.equal(no.code, 130, no.out)
      assert.match(no.out, /Nothing was changed/)
      assert.deepEqual(snapshot(d), before)
      const yes = await tty(['login', '--no-browser'], 'y', /Take it over instead of signing in again\? \[Y\/n\]/)
      assert.ok(yes.sent, yes.out)
      assert.equal(yes.code, 0, yes.out)
      assert.match(yes.out, /Took over the Kimi login/)
      assert.equal(f.stats().deviceAuthorizationCount, 0, 'no device code')
      assert.equal(f.stats().refreshCount, 1)
      rewritten.push(d.opencodeAuth)
    },
  )
})

test('no token in any output or handed-over host file', () => {
  const tokens = servers.flatMap((s) => s.issuedTokens())
  assert.ok(tokens.length >= 20, `tokens were issued (${tokens.length})`)
  assert.ok(outputs.length > 40, `outputs were captured (${outputs.length})`)
  assert.ok(rewritten.length >= 5, `host files were rewritten (${rewritten.length})`)
  const all = outputs.join('\n')
  for (const s of tokens.concat(OTHER_SECRETS)) assert.ok(!all.includes(s), `${s.slice(0, 10)}… leaked into output`)
  for (const file of rewritten) {
    const text = fs.readFileSync(file, 'utf8')
    for (const s of tokens) assert.ok(!text.includes(s), `${s.slice(0, 10)}… left in ${path.basename(file)}`)
  }
})
