'use strict'
// A credential goes only where it was issued for (docs/security.md). Each credential source (kimi-native's own
// login, kimi-code's file, kimi-cli's file, KIMI_API_KEY) × each way an origin arrives (a host option, the user's
// environment, the default): a loopback server standing in for a foreign origin must receive no credential unless
// the rule allows it, and the caller gets a coded error that says why.
//
// Two fake servers: K stands in for Kimi and issued every credential planted here; F is the foreign origin. What F
// receives is read from its request log (Authorization, x-api-key, form bodies).
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { startFakeKimi } = require('./fake-kimi/server')
const { tempHome, assertNoSecrets } = require('./helpers/env')
const kimi = require('..')

const HOST = 'opencode/1.18.33'
const API_KEY = 'sk-user-static-key-0123456789abcdef'
// Every variable that changes where the core sends a credential or which ones it may use.
const ROUTING_ENV = [
  'KIMI_CODE_OAUTH_HOST',
  'KIMI_OAUTH_HOST',
  'KIMI_CODE_BASE_URL',
  'KIMI_API_KEY',
  'KIMI_NATIVE_TRUSTED_ORIGINS',
  'KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS',
  'KIMI_NATIVE_REGION',
  'KIMI_NATIVE_PROFILE',
  'KIMI_NATIVE_HOME',
  'KIMI_NATIVE_STORE',
  'KIMI_CODE_HOME',
  'KIMI_SHARE_DIR',
]

let K
let F
test.before(async () => {
  K = await startFakeKimi({ deviceInterval: 1, autoApprove: 0, apiKeys: [API_KEY] })
  F = await startFakeKimi({ deviceInterval: 1, autoApprove: 0, apiKeys: [API_KEY] })
})
test.after(async () => {
  await K.close()
  await F.close()
})

/** A private environment for one case: only `env` set among the routing variables. */
function environment(t, env) {
  const saved = Object.fromEntries(ROUTING_ENV.map((k) => [k, process.env[k]]))
  for (const k of ROUTING_ENV) delete process.env[k]
  Object.assign(process.env, env)
  t.after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  })
}

function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n', { mode: 0o600 })
}

/** Plants one credential issued by K for Kimi's default pair (file name `kimi-code.json` everywhere). */
function plant(source, home) {
  const t = K.issueTokens()
  const login = { ...t, expires_at: Math.floor(Date.now() / 1000) + 900, expires_in: 900 }
  if (source === 'own') writeJson(path.join(home, 'credentials', 'kimi-code.json'), login)
  if (source === 'kimi-code') writeJson(path.join(home, 'kc', 'credentials', 'kimi-code.json'), login)
  if (source === 'kimi-cli') writeJson(path.join(home, 'kcli', 'credentials', 'kimi-code.json'), login)
  if (source === 'api-key') return { token: API_KEY, secrets: [API_KEY] }
  return { token: t.access_token, secrets: [t.access_token, t.refresh_token] }
}

/** Credentials among `secrets` that F received, and F's request count since `since`. */
function receivedByF(secrets, since) {
  const seen = new Set()
  const reqs = F.requests.slice(since)
  for (const r of reqs) {
    const text = JSON.stringify(r.headers) + r.body
    for (const s of secrets) if (text.includes(s)) seen.add(s)
  }
  return { seen: [...seen], requests: reqs.length }
}

const settle = (p) =>
  p.then(
    (v) => ({ ok: true, v }),
    (e) => ({ ok: false, e }),
  )

/** Asks for the credential every way a host does: a token, a fetch to the API base, status. */
async function use(opts, base) {
  const token = await settle(kimi.getAccessToken(opts))
  const fetched = base ? await settle(kimi.createKimiFetch({ ...opts, host: HOST })(`${base}/models`)) : null
  const status = await kimi.status(opts)
  return { token, fetched, status }
}

// What the rule says for each cell: 'served' (the credential is used, and reaches that origin), 'untrusted'
// (KIMI_UNTRUSTED_ORIGIN, nothing sent anywhere) or 'elsewhere' (KIMI_NOT_LOGGED_IN: this credential belongs to
// another server pair; nothing sent).
const RULE = {
  own: { option: 'untrusted', env: 'elsewhere', default: 'served', optIn: 'elsewhere' },
  'kimi-code': { option: 'untrusted', env: 'elsewhere', default: 'served', optIn: 'elsewhere' },
  // kimi-cli writes one file whatever its pair, and honours KIMI_CODE_OAUTH_HOST / KIMI_CODE_BASE_URL: its login
  // belongs to the pair the environment names (the default when none).
  'kimi-cli': { option: 'untrusted', env: 'served', default: 'served', optIn: 'elsewhere' },
  // The user's key may go to Kimi's API or to a base URL their environment names.
  'api-key': { option: 'untrusted', env: 'served', default: 'served', optIn: 'served' },
}

for (const [source, cells] of Object.entries(RULE)) {
  for (const [origin, expected] of Object.entries(cells)) {
    test(`${source} × ${origin === 'optIn' ? 'option + KIMI_NATIVE_TRUSTED_ORIGINS' : origin}: ${expected}`, async (t) => {
      const home = tempHome('kn-origins-')
      t.after(() => fs.rmSync(home, { recursive: true, force: true }))
      const env = {
        KIMI_NATIVE_HOME: home,
        KIMI_NATIVE_STORE: 'file',
        KIMI_CODE_HOME: path.join(home, 'kc'),
        KIMI_SHARE_DIR: path.join(home, 'kcli'),
      }
      if (source === 'api-key') env.KIMI_API_KEY = API_KEY
      if (origin === 'env') Object.assign(env, { KIMI_CODE_OAUTH_HOST: F.oauthHost, KIMI_CODE_BASE_URL: F.baseUrl })
      if (origin === 'optIn') env.KIMI_NATIVE_TRUSTED_ORIGINS = F.url
      environment(t, env)
      const { token, secrets } = plant(source, home)
      const opts = origin === 'option' || origin === 'optIn' ? { oauthHost: F.oauthHost, baseUrl: F.baseUrl } : {}
      const base = origin === 'default' ? null : F.baseUrl
      const since = F.requests.length
      const out = await use(opts, base)
      const got = receivedByF(secrets, since)

      if (expected === 'served') {
        assert.equal(out.token.ok, true, out.token.e && out.token.e.message)
        assert.equal(out.token.v, token)
        assert.equal(out.status.loggedIn, true)
        if (base) {
          assert.equal(out.fetched.ok, true)
          assert.ok(got.seen.includes(token), 'the allowed credential reached F')
        }
        return
      }
      assert.deepEqual(got, { seen: [], requests: 0 }, 'F received nothing')
      const code = expected === 'untrusted' ? 'KIMI_UNTRUSTED_ORIGIN' : 'KIMI_NOT_LOGGED_IN'
      assert.equal(out.token.ok, false)
      assert.equal(out.token.e.code, code, out.token.e.message)
      assert.equal(out.fetched.ok, false)
      assert.equal(out.fetched.e.code, code)
      assert.equal(out.status.loggedIn, false)
      if (expected === 'untrusted') {
        // Says why (a server the options name, not Kimi's) and what to do.
        assert.match(out.token.e.message, new RegExp(`sends no Kimi credential to ${F.url.replace(/[.:/]/g, '\\$&')}`))
        assert.match(out.token.e.message, /KIMI_NATIVE_TRUSTED_ORIGINS=/)
        assert.equal(out.status.untrustedOrigin, out.token.e.message)
        // No login for a server the user did not name either.
        const login = await settle(kimi.login(opts))
        assert.equal(login.ok, false)
        assert.equal(login.e.code, 'KIMI_UNTRUSTED_ORIGIN')
        assert.equal(F.requests.length, since, 'not even a device authorization request')
      } else {
        // Names the servers the credential would have been for.
        assert.match(out.token.e.message, new RegExp(F.oauthHost.replace(/[.:/]/g, '\\$&')))
        if (source === 'kimi-cli')
          assert.match(out.token.e.message, /kimi-cli's login .* belongs to https:\/\/auth\.kimi\.com/)
      }
      assertNoSecrets(assert, JSON.stringify(out) + (out.token.e ? out.token.e.message : ''), secrets)
    })
  }
}

test('with the opt-in, a login for a foreign server works and names that server plainly', async (t) => {
  const home = tempHome('kn-origins-')
  t.after(() => fs.rmSync(home, { recursive: true, force: true }))
  environment(t, {
    KIMI_NATIVE_HOME: home,
    KIMI_NATIVE_STORE: 'file',
    KIMI_CODE_HOME: path.join(home, 'kc'),
    KIMI_SHARE_DIR: path.join(home, 'kcli'),
    KIMI_NATIVE_TRUSTED_ORIGINS: `${K.url}, ${F.url}`,
  })
  // The user's Kimi login (K, named by the opt-in too) exists; a login for F is made next to it.
  const kOpts = { oauthHost: K.oauthHost, baseUrl: K.baseUrl }
  await kimi.login({ ...kOpts, onDeviceCode() {} })
  const kToken = await kimi.getAccessToken(kOpts)
  const codes = []
  const opts = { oauthHost: F.oauthHost, baseUrl: F.baseUrl }
  const result = await kimi.login({ ...opts, onDeviceCode: (c) => codes.push(c) })
  assert.equal(codes[0].oauthHost, F.oauthHost)
  assert.match(codes[0].notice, new RegExp(`${F.url.replace(/[.:/]/g, '\\$&')}, which is NOT a Kimi server`))
  assert.equal(result.oauthHost, F.oauthHost)
  assert.equal(result.notice, codes[0].notice)
  const fToken = await kimi.getAccessToken(opts)
  assert.ok(F.isAccessTokenValid(fToken))
  assert.notEqual(fToken, kToken)
  // Kimi's login never reaches F: the pair (K's OAuth host, F's API) has no login of its own.
  const mixed = await settle(kimi.getAccessToken({ oauthHost: K.oauthHost, baseUrl: F.baseUrl }))
  assert.equal(mixed.e.code, 'KIMI_NOT_LOGGED_IN')
  assert.equal(receivedByF([kToken], 0).seen.length, 0)
})
