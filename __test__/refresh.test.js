'use strict'
// Refresh safety against the fake server with real processes: Kimi rotates the refresh token
// the moment a refresh arrives, so any refresh whose answer is not persisted logs the user
// out. Each test below is one way that used to happen, or one way a refresh used to stall
// requests that had a working token.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { startFakeKimi, ERRORS } = require('./fake-kimi/server')
const { pointAt, assertNoSecrets } = require('./helpers/env')
const { spawnCollect } = require('./helpers/spawn')
const kimi = require('..')

const CHILD = path.join(__dirname, 'helpers', 'token-child.js')
// Requests come from a host, as in real use: the fake server's client gate admits its token.
const HOST = 'opencode/1.18.33'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const isRefresh = (r) => r.path === '/api/oauth/token' && r.body.includes('grant_type=refresh_token')

async function withServer(opts, fn, envOpts) {
  const server = await startFakeKimi({ deviceInterval: 1, autoApprove: 0, ...opts })
  const env = pointAt(server, envOpts)
  try {
    return await fn(server, env)
  } finally {
    env.restore()
    await server.close()
  }
}

/** Runs token-child.js with the current (test) environment; resolves its JSON line. Its
 * output must not contain any token the server ever issued. */
async function child(op, server) {
  const r = await spawnCollect(process.execPath, [CHILD, op], { env: { ...process.env }, timeoutMs: 60000 })
  assert.equal(r.code, 0, `child ${op} exited ${r.code}: ${r.stderr}`)
  assertNoSecrets(assert, r.stdout + r.stderr, [...server.issuedTokens(), ...server.refreshLog.map((l) => l.refresh_token)])
  const line = r.stdout.trim().split('\n').pop()
  return { ...JSON.parse(line), ms: r.ms }
}

function chat(f, server, signal) {
  return f(`${server.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'kimi-for-coding', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    signal,
  })
}

function credentialsFile(home) {
  const dir = path.join(home, 'credentials')
  return path.join(dir, fs.readdirSync(dir)[0])
}

/** Ages the stored login: `left` seconds of validity remain. Call it before this process
 * first uses the login (the core keeps a login in memory once read). */
function age(home, left) {
  const file = credentialsFile(home)
  const login = JSON.parse(fs.readFileSync(file, 'utf8'))
  login.expires_at = Date.now() / 1000 + left
  fs.writeFileSync(file, JSON.stringify(login))
}

test('an abort during a refresh loses nothing: this process and a new one go on, 0 invalid_grant', () =>
  withServer({ refreshDelayMs: 1500 }, async (server) => {
    await kimi.login({})
    server.expireAccessTokens()
    const f = kimi.createKimiFetch({ host: HOST })
    const ac = new AbortController()
    const pending = chat(f, server, ac.signal)
    await server.waitForRequest(isRefresh, { timeoutMs: 5000 })
    ac.abort()
    await assert.rejects(pending, (e) => e.name === 'AbortError')
    const res = await chat(f, server)
    assert.equal(res.status, 200)
    await res.text()
    const other = await child('fetch', server)
    assert.equal(other.ok, true, other.message)
    assert.equal(other.status, 200)
    assert.equal(server.refreshCount, 1, 'the aborted refresh was the only one')
    assert.equal(server.invalidGrantCount, 0)
    console.log(`abort mid-refresh: ${server.refreshCount} refresh, ${server.invalidGrantCount} invalid_grant, next process ${other.ms} ms`)
  }))

test('processes that exit right after a call keep the rotation they started (8-s tokens)', { timeout: 120000 }, () =>
  withServer({ accessTtl: 8, refreshDelayMs: 400 }, async (server) => {
    await kimi.login({})
    // 8-s tokens are due after 2 s (never at once) and refreshed in the background until 2 s
    // are left; each process below starts such a refresh and ends naturally at once.
    const times = []
    for (let i = 0; i < 5; i++) {
      await sleep(2300)
      const out = await child('token', server)
      assert.equal(out.ok, true, out.message)
      times.push(out.ms)
    }
    assert.ok(server.refreshCount >= 4, `the processes refreshed ${server.refreshCount} times`)
    const forced = await kimi.getAccessToken({ force: true })
    assert.ok(server.isAccessTokenValid(forced))
    assert.equal(server.invalidGrantCount, 0)
    for (let i = 1; i < server.refreshLog.length; i++) {
      assert.equal(server.refreshLog[i].refresh_token, server.refreshLog[i - 1].newRefreshToken, `refresh ${i} used a stale token`)
    }
    console.log(`exit after call: 5 processes (${times.join(', ')} ms), ${server.refreshCount} refreshes, ${server.invalidGrantCount} invalid_grant`)
  }))

test('a due but valid token never waits: 4 requests during an 8-s refresh, one refresh', { timeout: 60000 }, () =>
  withServer({ refreshDelayMs: 8000 }, async (server, env) => {
    assert.equal((await child('login', server)).ok, true)
    age(env.home, 200) // 200 s left of 900: due (threshold 450 s), far from expiry
    const f = kimi.createKimiFetch({ host: HOST })
    const times = await Promise.all(
      [0, 1, 2, 3].map(async () => {
        const t = Date.now()
        const res = await chat(f, server)
        assert.equal(res.status, 200)
        await res.text()
        return Date.now() - t
      }),
    )
    for (const ms of times) assert.ok(ms < 1500, `a request waited ${ms} ms for a refresh it did not need`)
    await kimi.settle()
    assert.equal(server.refreshCount, 1)
    assert.equal(server.invalidGrantCount, 0)
    const token = await kimi.getAccessToken()
    assert.equal(server.accessTokenInfo(token).refreshToken, server.refreshLog[0].newRefreshToken)
    console.log(`due-but-valid, 8-s refresh: requests took ${times.join(', ')} ms; ${server.refreshCount} refresh`)
  }))

test('an auth server answering 503 does not touch requests made with a valid token', { timeout: 60000 }, () =>
  withServer({}, async (server, env) => {
    assert.equal((await child('login', server)).ok, true)
    age(env.home, 300)
    server.inject({ path: '/api/oauth/token', status: 503, body: { error: 'temporarily_unavailable' }, times: Infinity })
    const f = kimi.createKimiFetch({ host: HOST })
    const started = Date.now()
    let worst = 0
    let requests = 0
    while (Date.now() - started < 12000) {
      const t = Date.now()
      const res = await chat(f, server)
      assert.equal(res.status, 200)
      await res.text()
      worst = Math.max(worst, Date.now() - t)
      requests++
      await sleep(100)
    }
    const attempts = server.requests.filter(isRefresh).length
    assert.ok(worst < 1000, `worst request ${worst} ms`)
    // 3 attempts per refresh (1 s and 2 s apart), then a backoff of 5 s, 10 s, …: not one per request.
    assert.ok(attempts >= 3 && attempts <= 9, `${attempts} refresh attempts in 12 s`)
    server.clearInjections()
    // Once the auth server is back, the next refresh after the backoff goes through.
    await sleep(10000)
    await (await chat(f, server)).text()
    await kimi.settle()
    assert.equal(server.refreshCount, 1)
    assert.equal(server.invalidGrantCount, 0)
    console.log(`503 for 12 s: ${requests} requests, worst ${worst} ms, ${attempts} refresh attempts`)
  }))

test('6 concurrent 401s, some arriving after the refresh, cost one refresh and all succeed', () =>
  withServer({ refreshDelayMs: 300 }, async (server) => {
    await kimi.login({})
    // The first 6 chat requests are refused, the later ones only after the refresh is done.
    for (const delayMs of [0, 100, 200, 700, 900, 1100]) {
      server.inject({ path: '/coding/v1/chat/completions', ...ERRORS.invalidAuth401, delayMs, times: 1 })
    }
    const f = kimi.createKimiFetch({ host: HOST })
    const statuses = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const res = await chat(f, server)
        await res.text()
        return res.status
      }),
    )
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200])
    assert.ok(server.refreshCount <= 1, `${server.refreshCount} refreshes`)
    assert.equal(server.invalidGrantCount, 0)
  }))

test('device login rides out idle-connection resets and server errors while polling (3 of 3)', { timeout: 90000 }, async () => {
  // Three logins at once, each against its own server that closes idle connections after 1 s:
  // slow_down pushes the poll interval to 6 s, then a poll meets a 502; the user approves after.
  const runs = [0, 1, 2].map(async () => {
    const server = await startFakeKimi({ deviceInterval: 1, autoApprove: false, keepAliveTimeoutMs: 1000 })
    const home = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'kn-login-'))
    try {
      const codes = []
      const events = []
      const done = kimi.login({
        home,
        store: 'file',
        oauthHost: server.oauthHost,
        baseUrl: server.baseUrl,
        onDeviceCode: (c) => codes.push(c),
        onEvent: (e) => events.push(e.kind),
      })
      while (codes.length === 0) await sleep(50)
      server.inject({ path: '/api/oauth/token', status: 400, body: { error: 'slow_down' }, times: 1 })
      await sleep(1500)
      server.inject({ path: '/api/oauth/token', status: 502, body: 'bad gateway', times: 1 })
      await sleep(6500)
      server.approve(codes[0].userCode)
      const out = await done
      return { out, events, polls: server.requests.filter((r) => r.path === '/api/oauth/token').length }
    } finally {
      await server.close()
    }
  })
  const results = await Promise.all(runs)
  for (const { out, events } of results) {
    assert.equal(out.source, 'kimi-native')
    assert.deepEqual(events, ['slow_down', 'retry'])
  }
  console.log(`device login with 1-s keep-alive, slow_down and a 502: 3 of 3 logged in (${results.map((r) => r.polls).join(', ')} polls)`)
})

test('logout during a delayed refresh stays logged out, in this process and in others', { timeout: 60000 }, () =>
  withServer({ refreshDelayMs: 2000 }, async (server) => {
    await kimi.login({})
    // Another process forces a refresh; we log out while the server holds its answer.
    const other = child('force', server)
    await server.waitForRequest(isRefresh, { timeoutMs: 10000 })
    assert.deepEqual(await kimi.logout(), { removed: true })
    const out = await other
    assert.equal(out.ok, false, 'the refresh must not hand out a login that was signed out')
    assert.equal(out.code, 'KIMI_NOT_LOGGED_IN')
    assert.equal((await child('status', server)).loggedIn, false)
    assert.equal((await kimi.status()).loggedIn, false)

    // The same in one process: a refresh in flight, then logout.
    await kimi.login({})
    const since = server.requests.length
    const forced = kimi.getAccessToken({ force: true }).then(
      () => null,
      (e) => e,
    )
    await server.waitForRequest(isRefresh, { timeoutMs: 10000, since })
    await kimi.logout()
    assert.equal((await forced).code, 'KIMI_NOT_LOGGED_IN')
    await kimi.settle()
    assert.equal((await child('status', server)).loggedIn, false)
    await assert.rejects(kimi.getAccessToken(), (e) => e.code === 'KIMI_NOT_LOGGED_IN')
  }))

