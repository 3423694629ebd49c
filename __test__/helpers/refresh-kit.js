'use strict'
// Shared by the refresh-safety suites (refresh.test.js, refresh-outage.test.js): a fake server the test process
// points at, a child process that uses the login, a streamed chat call, and ageing the stored login.
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { assertNoSecrets, credentialsFile, withServer: withFakeKimi } = require('./env')
const { spawnCollect } = require('./spawn')

const CHILD = path.join(__dirname, 'token-child.js')
// Requests come from a host, as in real use: the fake server's client gate admits its token.
const HOST = 'opencode/1.18.33'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const isRefresh = (r) => r.path === '/api/oauth/token' && r.body.includes('grant_type=refresh_token')

/** withServer with the device login approved at once (these tests are about refreshes, not logins). */
const withServer = (opts, fn, envOpts) => withFakeKimi({ autoApprove: 0, ...opts }, fn, envOpts)

/** Runs token-child.js with the current (test) environment; resolves its JSON line. Its
 * output must not contain any token the server ever issued. */
async function child(op, server) {
  const r = await spawnCollect(process.execPath, [CHILD, op], { env: { ...process.env }, timeoutMs: 60000 })
  assert.equal(r.code, 0, `child ${op} exited ${r.code}: ${r.stderr}`)
  assertNoSecrets(assert, r.stdout + r.stderr, [
    ...server.issuedTokens(),
    ...server.refreshLog.map((l) => l.refresh_token),
  ])
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

/** Ages the stored login: `left` seconds of validity remain. Call it before this process
 * first uses the login (the core keeps a login in memory once read). */
function age(home, left) {
  const file = credentialsFile(home)
  const login = JSON.parse(fs.readFileSync(file, 'utf8'))
  login.expires_at = Date.now() / 1000 + left
  fs.writeFileSync(file, JSON.stringify(login))
}

const storedRefreshToken = (home) => JSON.parse(fs.readFileSync(credentialsFile(home), 'utf8')).refresh_token

module.exports = { HOST, sleep, isRefresh, withServer, child, chat, age, storedRefreshToken }
