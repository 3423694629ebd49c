'use strict'
// Device login, refresh and token sources against the fake Kimi server, through the public
// JS API (native core underneath).
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { pointAt, tempHome, assertNoSecrets, credentialsFile, withServer } = require('./helpers/env')
const kimi = require('..')

const tokenPolls = (s) => s.requests.filter((r) => r.path === '/api/oauth/token' && r.body.includes('device_code'))

test('device login: immediate first poll, interval, stores the login, discovers models', () =>
  withServer({ autoApprove: 2 }, async (server, env) => {
    const codes = []
    const res = await kimi.login({ onDeviceCode: (c) => codes.push(c) })
    assert.equal(codes.length, 1)
    assert.match(codes[0].userCode, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/)
    assert.ok(codes[0].verificationUriComplete.includes(codes[0].userCode))
    assert.equal(res.store, 'file')
    assert.deepEqual(
      res.models.map((m) => m.id),
      ['kimi-for-coding'],
    )
    const polls = tokenPolls(server)
    assert.equal(polls.length, 3, 'two pending polls, then success')
    const auth = server.requests.find((r) => r.path === '/api/oauth/device_authorization')
    assert.ok(polls[0].time - auth.time < 500, 'first poll is immediate')
    assert.ok(polls[1].time - polls[0].time >= 950, 'then every interval')
    assert.equal(auth.body, 'client_id=17e5f671-d194-4dfb-9706-5516cb48c098')
    const st = fs.statSync(credentialsFile(env.home))
    if (process.platform !== 'win32') assert.equal(st.mode & 0o777, 0o600)
    if (process.platform !== 'win32') assert.equal(fs.statSync(path.join(env.home, 'credentials')).mode & 0o777, 0o700)
    const status = await kimi.status()
    assert.equal(status.loggedIn, true)
    assert.equal(status.source, 'kimi-native')
    assert.equal(status.model.id, 'kimi-for-coding')
    const token = await kimi.getAccessToken()
    assert.ok(server.issuedTokens().includes(token))
  }))

test('slow_down adds 5 s to the interval for good', () =>
  withServer({ autoApprove: false }, async (server) => {
    server.inject({
      path: '/api/oauth/token',
      status: 400,
      body: { error: 'slow_down', error_description: 'slow down' },
      times: 1,
    })
    const events = []
    const p = kimi.login({ onEvent: (e) => events.push(e) })
    // Approve once the poll after the slow_down has arrived.
    while (tokenPolls(server).length < 2) await new Promise((r) => setTimeout(r, 100))
    server.approve()
    await p
    const polls = tokenPolls(server)
    assert.deepEqual(events, [{ kind: 'slow_down', interval: 6 }])
    assert.ok(polls[1].time - polls[0].time >= 5900, `gap after slow_down ${polls[1].time - polls[0].time} ms`)
  }))

test('expired_token restarts with a new device code; access_denied ends with KIMI_LOGIN_DENIED', () =>
  withServer({ autoApprove: false }, async (server) => {
    server.inject({ path: '/api/oauth/token', status: 400, body: { error: 'expired_token' }, times: 1 })
    const codes = []
    const events = []
    const p = kimi.login({ onDeviceCode: (c) => codes.push(c), onEvent: (e) => events.push(e.kind) })
    await server.waitForRequest((r) => r.path === '/api/oauth/device_authorization' && r.time > 0, { timeoutMs: 5000 })
    while (codes.length < 2) await new Promise((r) => setTimeout(r, 50))
    assert.deepEqual(events, ['restart'])
    assert.notEqual(codes[0].userCode, codes[1].userCode)
    server.deny(codes[1].userCode)
    await assert.rejects(p, (e) => e.code === 'KIMI_LOGIN_DENIED' && /denied/.test(e.message))
    assert.equal((await kimi.status()).loggedIn, false)
  }))

test('the login budget ends an unapproved login with KIMI_LOGIN_EXPIRED', () =>
  withServer(
    { autoApprove: false },
    async () => {
      const t = Date.now()
      await assert.rejects(kimi.login({}), (e) => e.code === 'KIMI_LOGIN_EXPIRED' && /not approved/.test(e.message))
      assert.ok(Date.now() - t < 4000)
    },
    { extra: { KIMI_NATIVE_LOGIN_BUDGET_SECS: '2' } },
  ))

test('AbortSignal cancels promptly, and an already-aborted signal sends nothing', () =>
  withServer({ autoApprove: false }, async (server) => {
    const ac = new AbortController()
    const p = kimi.login({ signal: ac.signal, onDeviceCode: () => setTimeout(() => ac.abort(), 50) })
    const t = Date.now()
    await assert.rejects(p, (e) => e.code === 'KIMI_CANCELLED')
    assert.ok(Date.now() - t < 1000)
    const before = server.requests.length
    await assert.rejects(kimi.login({ signal: AbortSignal.abort() }), (e) => e.code === 'KIMI_CANCELLED')
    assert.equal(server.requests.length, before)
  }))

test('login server failures are typed: 5xx → KIMI_SERVER, unreachable → KIMI_NETWORK', async () => {
  await withServer({}, async (server) => {
    server.inject({ path: '/api/oauth/device_authorization', status: 503, body: 'down' })
    await assert.rejects(kimi.login({}), (e) => e.code === 'KIMI_SERVER' && e.status === 503)
  })
  const env = pointAt({ oauthHost: 'http://127.0.0.1:9', baseUrl: 'http://127.0.0.1:9/coding/v1' })
  try {
    await assert.rejects(kimi.login({}), (e) => e.code === 'KIMI_NETWORK' && /check your connection/.test(e.message))
  } finally {
    env.restore()
  }
})

test('refresh rotates the refresh token ahead of expiry; transient failures are retried', () =>
  withServer(
    { autoApprove: 0, accessTtl: 3 },
    async (server, env) => {
      await kimi.login({})
      const first = await kimi.getAccessToken()
      assert.equal(server.refreshCount, 0)
      // Due (1.5 s left of 3 s) but still valid beyond the margin: handed out while the
      // refresh runs in the background; the next call gets the new token.
      await new Promise((r) => setTimeout(r, 1700))
      assert.equal(await kimi.getAccessToken(), first)
      await kimi.settle()
      const second = await kimi.getAccessToken()
      assert.notEqual(second, first)
      assert.equal(server.refreshCount, 1)
      const stored = JSON.parse(fs.readFileSync(credentialsFile(env.home)))
      assert.equal(
        stored.refresh_token,
        server.refreshLog[0].newRefreshToken,
        'the rotated refresh token was persisted',
      )
      // 503 twice, then success: 3 attempts with 1 s and 2 s pauses.
      server.inject({ path: '/api/oauth/token', status: 503, body: 'x', times: 2 })
      const t = Date.now()
      const third = await kimi.getAccessToken({ force: true })
      assert.notEqual(third, second)
      assert.ok(Date.now() - t >= 2900, 'backed off 1 s + 2 s')
      assert.equal(server.invalidGrantCount, 0)
    },
    { extra: { KIMI_NATIVE_REFRESH_FLOOR_SECS: '0' } },
  ))

test('a refused refresh marks the login for relogin and keeps it', () =>
  withServer({ autoApprove: 0 }, async (server, env) => {
    await kimi.login({})
    server.revokeAll()
    await assert.rejects(
      kimi.getAccessToken({ force: true }),
      (e) => e.code === 'KIMI_RELOGIN_REQUIRED' && /kimi-native login/.test(e.message),
    )
    const files = fs.readdirSync(path.join(env.home, 'credentials'))
    assert.equal(files.length, 1, 'the stored login is kept, not deleted')
    const s = await kimi.status()
    assert.equal(s.loggedIn, false)
    assert.equal(s.reloginRequired, true)
    assert.match(s.reloginReason, /refused/)
    await assert.rejects(kimi.getAccessToken(), (e) => e.code === 'KIMI_RELOGIN_REQUIRED')
    // A new login clears the mark.
    server.opts.autoApprove = 0
    await kimi.login({})
    assert.equal((await kimi.status()).reloginRequired, false)
  }))

test('KIMI_API_KEY is used when there is no own login, and never refreshed', () =>
  withServer({ apiKeys: ['sk-test-static-key-0123456789'] }, async (server) => {
    process.env.KIMI_API_KEY = 'sk-test-static-key-0123456789'
    try {
      assert.equal(await kimi.getAccessToken({ force: true }), 'sk-test-static-key-0123456789')
      const s = await kimi.status()
      assert.equal(s.source, 'env:KIMI_API_KEY')
      assert.equal(server.refreshCount, 0)
      assert.deepEqual(
        (await kimi.models({ refresh: true })).map((m) => m.id),
        ['kimi-for-coding'],
      )
    } finally {
      delete process.env.KIMI_API_KEY
    }
  }))

test("official clients' credential files are used read-only while valid", () =>
  withServer({}, async (server, env) => {
    const codeHome = tempHome('kimi-code-home-')
    const tokens = server.issueTokens()
    const slot = require('..').identity().headers && null // slot naming is the core's; find it from a native login dir
    void slot
    // kimi-code names the file after the host/base pair; ask the core which slot that is by
    // writing our own login first and reusing its file name.
    fs.mkdirSync(path.join(codeHome, 'credentials'), { recursive: true })
    const name = `${require('node:crypto')
      .createHash('sha256')
      .update(JSON.stringify({ oauthHost: server.oauthHost, baseUrl: server.baseUrl }))
      .digest('hex')
      .slice(0, 16)}`
    const file = path.join(codeHome, 'credentials', `kimi-code-env-${name}.json`)
    const body =
      JSON.stringify(
        {
          access_token: tokens.access_token,
          refresh_token: tokens.refresh_token,
          expires_at: Math.floor(Date.now() / 1000) + 900,
          scope: 'kimi-code',
          token_type: 'Bearer',
          expires_in: 900,
        },
        null,
        2,
      ) + '\n'
    fs.writeFileSync(file, body, { mode: 0o600 })
    const mtime = fs.statSync(file).mtimeMs
    delete process.env.KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS
    process.env.KIMI_CODE_HOME = codeHome
    process.env.KIMI_SHARE_DIR = tempHome('kimi-share-')
    try {
      assert.equal(await kimi.getAccessToken(), tokens.access_token)
      assert.equal((await kimi.status()).source, 'kimi-code')
      await kimi.getAccessToken({ force: true })
      assert.equal(server.refreshCount, 0, 'never refreshes the official chain')
      assert.equal(fs.readFileSync(file, 'utf8'), body)
      assert.equal(fs.statSync(file).mtimeMs, mtime)
      // Expired → not used.
      fs.writeFileSync(file, body.replace(/"expires_at": \d+/, `"expires_at": ${Math.floor(Date.now() / 1000) - 10}`))
      await assert.rejects(kimi.getAccessToken(), (e) => e.code === 'KIMI_NOT_LOGGED_IN')
    } finally {
      delete process.env.KIMI_CODE_HOME
      delete process.env.KIMI_SHARE_DIR
      void env
    }
  }))

test('bad input: corrupt store and wrong option types give clear errors and lose nothing', () =>
  withServer({ autoApprove: 0 }, async (server, env) => {
    await assert.rejects(
      kimi.getAccessToken(),
      (e) => e.code === 'KIMI_NOT_LOGGED_IN' && /npx kimi-native login/.test(e.message),
    )
    await kimi.login({})
    const file = credentialsFile(env.home)
    const truncated = fs.readFileSync(file, 'utf8').slice(0, 40)
    fs.writeFileSync(file, truncated)
    // A fresh home key forces a re-read; same slot, same file.
    const other = pointAt(server, { home: env.home })
    try {
      await assert.rejects(
        kimi.status({ home: env.home + '/' }),
        (e) => e.code === 'KIMI_STORE' && /left untouched/.test(e.message),
      )
      assert.equal(fs.readFileSync(file, 'utf8'), truncated, 'the corrupt file was not touched')
    } finally {
      other.restore()
    }
    assert.throws(
      () => kimi.buildHeaders({ profile: 7 }),
      (e) => e instanceof Error && e.code === 'KIMI_BAD_INPUT',
    )
    await assert.rejects(kimi.status({ store: 'floppy' }), (e) => e.code === 'KIMI_BAD_INPUT')
    await assert.rejects(kimi.status({ baseUrl: 'ftp://x' }), (e) => e.code === 'KIMI_BAD_INPUT')
    assert.throws(
      () => kimi.shapeRequest({}, { effort: 3 }),
      (e) => e.code === 'KIMI_BAD_INPUT',
    )
    assertNoSecrets(
      assert,
      truncated + JSON.stringify(await kimi.status().catch((e) => e.message)),
      server.issuedTokens().filter((t) => !truncated.includes(t)),
    )
  }))
