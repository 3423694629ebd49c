'use strict'
// Refresh safety when the auth server misbehaves (split from refresh.test.js, so the two run side by side): a
// slow, failing or proxy-refused token endpoint never stalls requests that have a working token, never loses the
// rotation, and a device login rides out resets and errors while polling.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { startFakeKimi, ERRORS } = require('./fake-kimi/server')
const { trustOrigins } = require('./helpers/env')
const { HOST, sleep, isRefresh, withServer, child, chat, age, storedRefreshToken } = require('./helpers/refresh-kit')
const kimi = require('..')

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
  }),
)

test('an auth server answering 503 does not touch requests made with a valid token', { timeout: 60000 }, () =>
  withServer({}, async (server, env) => {
    assert.equal((await child('login', server)).ok, true)
    age(env.home, 300)
    server.inject({
      path: '/api/oauth/token',
      status: 503,
      body: { error: 'temporarily_unavailable' },
      times: Infinity,
    })
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
  }),
)

test(
  'device login rides out idle-connection resets and server errors while polling (3 of 3)',
  { timeout: 90000 },
  async (t) => {
    // Three logins at once, each against its own server that closes idle connections after 1 s:
    // slow_down pushes the poll interval to 6 s, then a poll meets a 502; the user approves after.
    const servers = await Promise.all(
      [0, 1, 2].map(() => startFakeKimi({ deviceInterval: 1, autoApprove: false, keepAliveTimeoutMs: 1000 })),
    )
    // Named by options only: the user's opt-in lets a login go to them.
    trustOrigins(t, ...servers)
    const runs = servers.map(async (server) => {
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
    console.log(
      `device login with 1-s keep-alive, slow_down and a 502: 3 of 3 logged in (${results.map((r) => r.polls).join(', ')} polls)`,
    )
  },
)

test(
  'a token endpoint answering 403 text/html for a while, then normally: the login survives, 0 tokens lost',
  { timeout: 120000 },
  () =>
    withServer({}, async (server, env) => {
      assert.equal((await child('login', server)).ok, true)
      age(env.home, 1) // expired by the time it is used: every call needs the refresh
      server.inject({ path: '/api/oauth/token', ...ERRORS.proxyForbidden403Html, times: Infinity })
      const err = await kimi.getAccessToken().then(
        () => null,
        (e) => e,
      )
      assert.ok(err, 'no token while the proxy refuses')
      assert.equal(err.code, 'KIMI_SERVER', err.message)
      assert.equal(err.status, 403)
      assert.match(
        err.message,
        new RegExp(`token refresh at ${server.url.replace(/[.:/]/g, '\\$&')} got HTTP 403 without an OAuth answer`),
      )
      const st = await kimi.status()
      assert.equal(st.reloginRequired, false, st.reloginReason)
      const other = await child('token', server)
      assert.equal(other.code, 'KIMI_SERVER', other.message)
      const refused = server.requests.filter((r) => isRefresh(r) && r.injected).length
      server.clearInjections()
      await sleep(5500) // this process's backoff after the failed refresh
      const token = await kimi.getAccessToken()
      assert.ok(server.isAccessTokenValid(token))
      const next = await child('fetch', server)
      assert.equal(next.status, 200)
      assert.equal(server.refreshCount, 1)
      assert.equal(server.invalidGrantCount, 0)
      assert.equal(server.lostRefreshAnswers, 0)
      assert.equal(server.stats().activeRefreshTokens, 1, 'one live refresh token: none was lost')
      assert.equal(storedRefreshToken(env.home), server.refreshLog[0].newRefreshToken)
      console.log(
        `proxy 403 text/html: ${refused} refresh attempts refused by the proxy, then ${server.refreshCount} refresh, ${server.invalidGrantCount} invalid_grant, ${server.lostRefreshAnswers} answers lost; login kept`,
      )
    }),
)
