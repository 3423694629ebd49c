'use strict'
// Client identity (issue #12) through the real CLI and the library, each in its own process, against the fake Kimi
// server: honest by default (every request says kimi-native, no official-client header anywhere), the opt-in
// official profiles byte for byte against the golden captures with a warning shown once per process, and the two
// identity 403s with their codes.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { startFakeKimi } = require('./fake-kimi/server.js')
const { spawnCollect } = require('./helpers/spawn')
const { loadGolden } = require('./helpers/golden')
const pkg = require('../package.json')

const REPO = path.join(__dirname, '..')
const CLI = path.join(REPO, 'lib', 'cli.js')
const OFFICIAL_MARKS = ['kimi-code-cli/', 'KimiCLI/', 'kimi_code_cli', 'kimi_cli']
const WARNING = /Community Guidelines forbid falsifying client identity/
/** How many times the warning appears in a text. */
const warnings = (text) => text.split('Community Guidelines forbid falsifying client identity').length - 1
const outputs = []
const fakes = []

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-native-identity-'))
test.after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }))

let n = 0
function sandbox(f, extra = {}) {
  const base = path.join(tmpRoot, String(++n))
  const d = {
    home: path.join(base, 'home'),
    kn: path.join(base, 'kn'),
    code: path.join(base, 'kimi-code'),
    share: path.join(base, 'kimi-share'),
  }
  for (const p of Object.values(d)) fs.mkdirSync(p, { recursive: true })
  const env = {
    PATH: process.env.PATH,
    HOME: d.home,
    KIMI_NATIVE_HOME: d.kn,
    KIMI_NATIVE_STORE: 'file',
    KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS: '1',
    KIMI_CODE_HOME: d.code,
    KIMI_SHARE_DIR: d.share,
    KIMI_CODE_OAUTH_HOST: f.oauthHost,
    KIMI_CODE_BASE_URL: f.baseUrl,
    NO_COLOR: '1',
    ...extra,
  }
  return { ...d, env }
}

async function cli(sb, args, extraEnv = {}) {
  const r = await spawnCollect(process.execPath, [CLI, ...args], { env: { ...sb.env, ...extraEnv }, timeoutMs: 30000 })
  outputs.push(r.stdout, r.stderr)
  r.show = `exit ${r.code} (${r.ms} ms)\n--stdout--\n${r.stdout}\n--stderr--\n${r.stderr}`
  return r
}

async function fake(opts = {}) {
  const f = await startFakeKimi({ deviceInterval: 1, autoApprove: 0, ...opts })
  fakes.push(f)
  test.after(() => f.close())
  return f
}

/** Every header of every request: no official-client identity anywhere (names or values). */
function assertNoOfficialIdentity(requests, what) {
  assert.ok(requests.length > 0, `${what}: requests were made`)
  for (const q of requests) {
    for (const [k, v] of q.headers) {
      for (const bad of OFFICIAL_MARKS) assert.ok(!k.includes(bad) && !v.includes(bad), `${what}: ${q.path} ${k}: ${v}`)
      assert.ok(
        !/^x-msh-(platform|version|device-name|device-model|os-version|device-id)$/i.test(k),
        `${what}: ${q.path} sends ${k}`,
      )
    }
  }
}

const ua = (q) => (q.headers.find(([k]) => k.toLowerCase() === 'user-agent') || [])[1] || ''

test(
  'CLI, default profile: every request says kimi-native, no official identity; status shows it',
  { timeout: 60000 },
  async () => {
    const f = await fake()
    const sb = sandbox(f)
    const login = await cli(sb, ['login', '--no-browser'])
    assert.equal(login.code, 0, login.show)
    const expectUa = `kimi-native/${pkg.version} (${process.platform}; node/${process.version}; ${process.arch})`
    assert.ok(login.stdout.includes(`identity: ${expectUa} (profile native)`), login.show)
    assert.doesNotMatch(login.stdout + login.stderr, WARNING, 'no warning in the honest profile')
    for (const args of [['status'], ['models'], ['usage', '--json']]) {
      const r = await cli(sb, args)
      assert.equal(r.code, 0, r.show)
      assert.doesNotMatch(r.stderr, WARNING)
    }
    const st = await cli(sb, ['status', '--json'])
    const s = JSON.parse(st.stdout)
    assert.deepEqual(s.identity, { profile: 'native', userAgent: expectUa, host: null, warning: null })
    assert.equal(s.profile, 'native')
    assert.equal(s.warning, null)
    const human = await cli(sb, ['status'])
    assert.ok(human.stdout.includes(`user-agent: ${expectUa}`), human.show)
    // OAuth (device authorization, polls), /models, /usages: all of them.
    const paths = new Set(f.requests.map((q) => q.path.split('?')[0]))
    for (const p of ['/api/oauth/device_authorization', '/api/oauth/token', '/coding/v1/models', '/coding/v1/usages'])
      assert.ok(paths.has(p), p)
    for (const q of f.requests) assert.equal(ua(q), expectUa, `${q.path} User-Agent`)
    assertNoOfficialIdentity(f.requests, 'CLI default')
    assert.deepEqual(fs.readdirSync(sb.code), [], 'no official device-id file written')
    assert.deepEqual(fs.readdirSync(sb.share), [])
  },
)

/** Golden headers the client controls (transport headers of Node/aiohttp left out), machine values substituted. */
function goldenControlled(rec, machine) {
  const skip = /^(host|connection|content-length|accept-language|sec-fetch-mode|accept-encoding)$/i
  return rec.headers
    .filter(([k]) => !skip.test(k))
    .map(([k, v]) => [k, machine[k] !== undefined ? machine[k] : /^authorization$/i.test(k) ? 'Bearer <token>' : v])
}
function sentControlled(q) {
  const skip = /^(host|connection|content-length|accept-encoding)$/i
  return q.headers
    .filter(([k]) => !skip.test(k))
    .map(([k, v]) => [k, /^authorization$/i.test(k) ? 'Bearer <token>' : v])
}
const lower = (pairs) => pairs.map(([k, v]) => [k.toLowerCase(), v])

// The client-controlled headers of golden ts-login.jsonl (kimi-code 2.1.0: device authorization, polls and /models
// are alike up to Authorization) and py-login-refresh-models.jsonl (kimi-cli 1.52.0 /models), machine values as
// placeholders. Kept here so the parity check runs on a clean clone; checked against the captures when present.
const TS_OAUTH = [
  ['User-Agent', 'kimi-code-cli/2.1.0'],
  ['X-Msh-Platform', 'kimi_code_cli'],
  ['X-Msh-Version', '2.1.0'],
  ['X-Msh-Device-Name', '<machine>'],
  ['X-Msh-Device-Model', '<machine>'],
  ['X-Msh-Os-Version', '<machine>'],
  ['X-Msh-Device-Id', '<machine>'],
  ['Content-Type', 'application/x-www-form-urlencoded'],
  ['Accept', 'application/json'],
]
const TS_MODELS = [...TS_OAUTH.slice(0, 7), ['Authorization', 'Bearer <token>'], ['Accept', 'application/json']]
const PY_MODELS = [
  ['Authorization', 'Bearer <token>'],
  ['Accept', '*/*'],
  ['User-Agent', 'Python/3.13 aiohttp/3.13.3'],
]
const PLACEHOLDERS = {
  'X-Msh-Device-Name': '<machine>',
  'X-Msh-Device-Model': '<machine>',
  'X-Msh-Os-Version': '<machine>',
  'X-Msh-Device-Id': '<machine>',
}

test('the parity constants match the golden captures', (t) => {
  const goldenTs = loadGolden('ts-login')
  const goldenPy = loadGolden('py-login-refresh-models')
  if (!goldenTs || !goldenPy)
    return t.skip('golden captures not found (set KIMI_REFERENCE_DIR to the shared reference dir)')
  const at = (recs, p) => recs.find((q) => q.path.split('?')[0] === p)
  assert.deepEqual(goldenControlled(at(goldenTs, '/api/oauth/device_authorization'), PLACEHOLDERS), TS_OAUTH)
  assert.deepEqual(goldenControlled(at(goldenTs, '/api/oauth/token'), PLACEHOLDERS), TS_OAUTH)
  assert.deepEqual(goldenControlled(at(goldenTs, '/coding/v1/models'), PLACEHOLDERS), TS_MODELS)
  assert.deepEqual(goldenControlled(at(goldenPy, '/coding/v1/models'), PLACEHOLDERS), PY_MODELS)
})

test(
  'CLI --profile kimi-code / kimi-cli: golden parity, and the warning once per process',
  { timeout: 60000 },
  async () => {
    const f = await fake()
    const sb = sandbox(f)
    const login = await cli(sb, ['--profile', 'kimi-code', 'login', '--no-browser'])
    assert.equal(login.code, 0, login.show)
    assert.equal(warnings(login.stderr), 1, `the warning once on stderr\n${login.show}`)
    assert.equal(warnings(login.stdout), 0, 'and only once in all the output')
    assert.match(login.stdout, /risk: +this profile impersonates an official Kimi client/)
    const deviceId = fs.readFileSync(path.join(sb.code, 'device_id'), 'utf8')
    const machine = {
      'X-Msh-Device-Name': os.hostname(),
      'X-Msh-Device-Model': `${os.type()} ${os.release()} ${os.arch()}`,
      'X-Msh-Os-Version': os.release(),
      'X-Msh-Device-Id': deviceId,
    }
    // ts-login.jsonl: device authorization, polls, /models: same headers, same order, same values.
    const byPath = (recs, p) => recs.filter((q) => q.path.split('?')[0] === p)
    const withMachine = (pairs) => lower(pairs.map(([k, v]) => [k, machine[k] !== undefined ? machine[k] : v]))
    for (const [p, want] of [
      ['/api/oauth/device_authorization', TS_OAUTH],
      ['/api/oauth/token', TS_OAUTH],
      ['/coding/v1/models', TS_MODELS],
    ]) {
      const sent = byPath(f.requests, p)
      assert.ok(sent.length > 0, p)
      for (const q of sent) assert.deepEqual(lower(sentControlled(q)), withMachine(want), `kimi-code ${p}`)
    }
    const st = await cli(sb, ['status', '--json'], { KIMI_NATIVE_PROFILE: 'kimi-code' })
    const s = JSON.parse(st.stdout)
    assert.equal(s.identity.userAgent, 'kimi-code-cli/2.1.0')
    assert.match(s.warning, WARNING)
    assert.equal(warnings(st.stderr), 1, 'env KIMI_NATIVE_PROFILE warns too, once')
    const human = await cli(sb, ['status'], { KIMI_NATIVE_PROFILE: 'kimi-code' })
    assert.equal(warnings(human.stderr + human.stdout), 1, `status: the warning once in all the output\n${human.show}`)
    assert.match(human.stdout, /user-agent: kimi-code-cli\/2\.1\.0/)

    // kimi-cli's /models is a bare aiohttp request (py-login-refresh-models.jsonl): its UA, not KimiCLI/.
    f.reset()
    const models = await cli(sb, ['--profile', 'kimi-cli', 'models'])
    assert.equal(models.code, 0, models.show)
    assert.equal(warnings(models.stderr), 1)
    const [q] = byPath(f.requests, '/coding/v1/models')
    assert.deepEqual(lower(sentControlled(q)), lower(PY_MODELS), 'kimi-cli /models')
  },
)

test(
  'library: the warning once per process (onWarning, else a process warning); status().warning',
  { timeout: 60000 },
  async () => {
    const f = await fake()
    const sb = sandbox(f)
    const script = `
    const k = require(${JSON.stringify(REPO)})
    const seen = []
    const o = { profile: 'kimi-code', onWarning: (w) => seen.push(w) }
    ;(async () => {
      k.buildHeaders(o); k.createKimiFetch(o); await k.status(o); k.buildHeaders(o)
      const st = await k.status({ profile: 'kimi-code' })
      const nat = await k.status()
      console.log(JSON.stringify({ seen, warning: st.warning, identity: st.identity, native: nat.identity, nativeWarning: nat.warning }))
    })()`
    const r = await spawnCollect(process.execPath, ['-e', script], { env: sb.env, timeoutMs: 20000 })
    outputs.push(r.stdout, r.stderr)
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.equal(out.seen.length, 1, 'onWarning called once')
    assert.match(out.seen[0], WARNING)
    assert.match(out.warning, WARNING, 'status().warning names the risk every time')
    assert.equal(out.identity.userAgent, 'kimi-code-cli/2.1.0')
    assert.equal(out.nativeWarning, null)
    assert.match(out.native.userAgent, /^kimi-native\//)
    assert.doesNotMatch(r.stderr, WARNING, 'with onWarning nothing else is printed')

    const plain = `const k = require(${JSON.stringify(REPO)}); k.buildHeaders({ profile: 'kimi-cli' }); k.buildHeaders({ profile: 'kimi-cli' }); k.status({ profile: 'kimi-cli' }).then(() => {})`
    const p = await spawnCollect(process.execPath, ['-e', plain], { env: sb.env, timeoutMs: 20000 })
    outputs.push(p.stdout, p.stderr)
    assert.equal(p.code, 0, p.stderr)
    assert.equal(warnings(p.stderr), 1, `a process warning, once\n${p.stderr}`)
    assert.match(p.stderr, /KIMI_OFFICIAL_PROFILE/)
  },
)

test(
  'identity 403s: /models and /usages gated → login still succeeds; both 403s give their codes',
  { timeout: 60000 },
  async () => {
    const f = await fake({ gateModelsAndUsages: true })
    const sb = sandbox(f)
    const login = await cli(sb, ['login', '--no-browser'])
    assert.equal(login.code, 0, `login succeeds although /models answers 403\n${login.show}`)
    assert.match(login.stdout, /opencode and pi read the model list themselves/)
    assert.match(login.stdout, /did not accept this client identity/)
    const usage = await cli(sb, ['usage'])
    assert.equal(usage.code, 3, usage.show)
    assert.match(usage.stderr, /\[KIMI_CLIENT_NOT_ALLOWED\]/)
    assert.match(usage.stderr, /model list and usage are also shown by the hosts/)
    assert.equal((await cli(sb, ['status'])).code, 0, 'still logged in')

    for (const kind of ['accountSuspended403', 'accountBanned403']) {
      f.setSuspended(kind)
      const before = f.requests.length
      const r = await cli(sb, ['usage'])
      assert.equal(r.code, 3, r.show)
      assert.match(r.stderr, /\[KIMI_ACCOUNT_SUSPENDED\]/)
      assert.match(r.stderr, /support@moonshot\.cn/)
      const sent = f.requests.slice(before)
      assert.equal(sent.filter((q) => q.path.startsWith('/coding/v1/usages')).length, 1, 'not retried')
      assert.equal(sent.filter((q) => q.path.startsWith('/api/oauth/token')).length, 0, 'no refresh')
    }
  },
)

test('no issued token appears in any output of these runs', () => {
  assert.ok(outputs.length >= 10)
  const tokens = fakes.flatMap((f) => f.issuedTokens())
  assert.ok(tokens.length >= 4)
  const all = outputs.join('\n')
  for (const tok of tokens) assert.ok(!all.includes(tok), `token ${tok.slice(0, 6)}… in an output`)
})
