'use strict'
// createKimiFetch end to end against the fake Kimi server: streaming, abort, 401 retry,
// error classification, identity + shaping on the wire, custom CA, proxies, and secrets.
// Proxy/CA cases run in child processes (__test__/helpers/fetch-child.js) because the core
// reads those variables once, when its HTTP client is first built.
const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const https = require('node:https')
const net = require('node:net')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')
const { spawnSync } = require('node:child_process')

const kimi = require('../lib')
const { startFakeKimi, ERRORS, makeBigChunks } = require('./fake-kimi/server')
const { pointFakeEnv, trustOrigins } = require('./helpers/env')
const { spawnCollect } = require('./helpers/spawn')

const CHILD = path.join(__dirname, 'helpers', 'fetch-child.js')
const CHAT = '/coding/v1/chat/completions'
const MODEL = 'kimi-for-coding'
const { HINT_HEADERS, ERROR_HEADER } = kimi
// What a host adapter passes (the contract): its own product token. The CLI-alone identity (kimi-native/…) is not
// on the fake server's allowlist, as it may not be on Kimi's.
const HOST = 'opencode/1.18.33'
// Official-client identity strings that must never appear in the default profile's headers.
const OFFICIAL_MARKS = ['kimi-code-cli/', 'KimiCLI/', 'kimi_code_cli', 'kimi_cli']

// Developer settings that would change identity or routing under the tests.
for (const k of ['KIMI_NATIVE_PROFILE', 'KIMI_NATIVE_CLIENT_VERSION', 'KIMI_NATIVE_REGION']) delete process.env[k]
const PROXY_KEYS = ['HTTP_PROXY', 'HTTPS_PROXY', 'ALL_PROXY', 'NO_PROXY'].flatMap((k) => [k, k.toLowerCase()])

// Every credential the fakes issued, and every error message / child output seen (test 8).
const SECRETS = new Set()
const OUTPUTS = []

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function tempDir(t, prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kn-fetch-${prefix}-`))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** Own fake server + own temp home + env pointed at them; optionally logged in by device flow. */
async function setup(t, { login = true, apiKey, serverOpts = {} } = {}) {
  const srv = await startFakeKimi({ deviceInterval: 1, autoApprove: 0, apiKeys: apiKey ? [apiKey] : [], ...serverOpts })
  t.after(async () => {
    for (const s of srv.issuedTokens()) SECRETS.add(s)
    if (apiKey) SECRETS.add(apiKey)
    await srv.close()
  })
  pointFakeEnv(t, srv, { home: tempDir(t, 'home'), extra: { KIMI_API_KEY: apiKey } })
  if (login) await kimi.login({})
  return srv
}

const chatBody = (extra = {}) =>
  JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }], ...extra })

function post(f, url, body, { headers = {}, signal } = {}) {
  return f(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body, signal })
}

/** The rejection of a promise (fails if it resolves); records the message for the secrets test. */
async function rejection(promise) {
  let value
  try {
    value = await promise
  } catch (err) {
    OUTPUTS.push(String(err && err.message), String(err && err.stack), String(err && err.cause && err.cause.message))
    return err
  }
  assert.fail(`expected a rejection, got ${value && value.status !== undefined ? `a ${value.status} Response` : value}`)
}

const headerValues = (pairs, name) => pairs.filter(([k]) => k.toLowerCase() === name.toLowerCase()).map(([, v]) => v)
const bearerOf = (rec) => {
  const [auth] = headerValues(rec.headers, 'authorization')
  return auth && auth.replace(/^Bearer /, '')
}

/** Concatenated delta.content of an OpenAI-style SSE text. */
function sseContent(text) {
  let out = ''
  for (const line of text.split('\n')) {
    if (!line.startsWith('data: ') || line === 'data: [DONE]') continue
    const ev = JSON.parse(line.slice(6))
    const c = ev.choices && ev.choices[0] && ev.choices[0].delta && ev.choices[0].delta.content
    if (c) out += c
  }
  return out
}

/** [{streamed, at}] per chat request, filled when the server's pump ends ('done' | 'aborted' | 'reset'). */
function watchStreamEnds(srv) {
  const ends = []
  srv.on('request', (rec) => {
    if (!rec.path.startsWith(CHAT)) return
    const i = ends.push(undefined) - 1
    let v
    Object.defineProperty(rec, 'streamed', {
      configurable: true,
      enumerable: true,
      get: () => v,
      set: (x) => {
        v = x
        ends[i] = { streamed: x, at: Date.now() }
      },
    })
  })
  return ends
}

async function waitFor(cond, timeoutMs, what) {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (cond()) return
    await sleep(20)
  }
  assert.fail(`timed out waiting for ${what}`)
}

async function closedPort() {
  const s = net.createServer()
  await new Promise((r) => s.listen(0, '127.0.0.1', r))
  const { port } = s.address()
  await new Promise((r) => s.close(r))
  return port
}

/* ------------------------------------------------------------------------------------------------ 1 -- */

test('1. streaming: chunks reach the JS reader while the server is still writing', async (t) => {
  const srv = await setup(t)
  const N = 8
  const DELAY = 150
  const parts = Array.from({ length: N }, (_, i) => `part${i};`)
  srv.setReply({ chunks: parts, chunkDelayMs: DELAY })
  const ends = watchStreamEnds(srv) // set when the server has written the last event
  const f = kimi.createKimiFetch({ host: HOST })
  const res = await post(f, srv.baseUrl + '/chat/completions', chatBody())
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type'), /text\/event-stream/)
  const reader = res.body.getReader()
  const reads = []
  const dec = new TextDecoder()
  let text = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    reads.push(Date.now())
    text += dec.decode(value, { stream: true })
  }
  assert.equal(ends.length, 1)
  assert.equal(ends[0] && ends[0].streamed, 'done')
  const serverDoneAt = ends[0].at
  assert.ok(reads.length > 1, `expected several reads, got ${reads.length}`)
  assert.ok(reads.length >= N / 2, `expected about one read per event, got ${reads.length}`)
  // (N + 1) inter-event delays after the first event; the first read must be far ahead of the end.
  const lead = serverDoneAt - reads[0]
  assert.ok(lead > DELAY * 4, `first chunk read only ${lead} ms before the server wrote the last one`)
  assert.equal(sseContent(text), parts.join(''))
  assert.ok(text.trimEnd().endsWith('data: [DONE]'))
})

/* ------------------------------------------------------------------------------------------------ 2 -- */

test('2. abort: mid-stream abort rejects the reader with AbortError; pre-aborted signal sends nothing', async (t) => {
  const srv = await setup(t)
  const f = kimi.createKimiFetch({ host: HOST })
  const url = srv.baseUrl + '/chat/completions'

  await t.test('mid-stream', async () => {
    srv.setReply({ chunks: Array(40).fill('x'), chunkDelayMs: 100 })
    const ac = new AbortController()
    const res = await post(f, url, chatBody(), { signal: ac.signal })
    assert.equal(res.status, 200)
    const reader = res.body.getReader()
    const first = await reader.read()
    assert.equal(first.done, false)
    const t0 = Date.now()
    setTimeout(() => ac.abort(), 20)
    const err = await rejection(
      (async () => {
        for (;;) {
          const r = await reader.read()
          if (r.done) return 'stream ended instead of aborting'
        }
      })(),
    )
    const elapsed = Date.now() - t0
    assert.equal(err.name, 'AbortError', `got ${err.name}: ${err.message}`)
    assert.ok(elapsed < 500, `abort took ${elapsed} ms`)
  })

  await t.test('before the response head', async () => {
    srv.inject({ path: CHAT, hang: true })
    const ac = new AbortController()
    const since = srv.requests.length
    const p = post(f, url, chatBody(), { signal: ac.signal })
    p.catch(() => {}) // awaited below; keeps a failed wait from leaving an unhandled rejection
    await srv.waitForRequest(CHAT, { timeoutMs: 3000, since })
    const t0 = Date.now()
    ac.abort()
    const err = await rejection(p)
    assert.equal(err.name, 'AbortError', `got ${err.name}: ${err.message}`)
    assert.ok(Date.now() - t0 < 500, `abort took ${Date.now() - t0} ms`)
  })

  await t.test('already aborted signal', async () => {
    const before = srv.requests.length
    const t0 = Date.now()
    const err = await rejection(post(f, url, chatBody(), { signal: AbortSignal.abort() }))
    assert.equal(err.name, 'AbortError')
    assert.ok(Date.now() - t0 < 100, `took ${Date.now() - t0} ms`)
    await sleep(150)
    assert.equal(srv.requests.length, before, 'no request may reach the server')
  })
})

test('2b. abort / reader.cancel() hang up the upstream connection at once', async (t) => {
  const srv = await setup(t)
  const f = kimi.createKimiFetch({ host: HOST })
  srv.setReply({ chunks: Array(40).fill('x'), chunkDelayMs: 100 }) // ~4 s if nobody hangs up
  const ends = watchStreamEnds(srv)
  // The server notices a closed socket at its next write (≤ 100 ms); allow generous slack, but far
  // less than the remaining stream, so only an immediate hang-up passes (not a lucky GC later).
  const LIMIT = 600

  const ac = new AbortController()
  const res1 = await post(f, srv.baseUrl + '/chat/completions', chatBody(), { signal: ac.signal })
  const r1 = res1.body.getReader()
  await r1.read()
  const t1 = Date.now()
  ac.abort()
  await r1.read().catch(() => {})
  await waitFor(() => ends[0], LIMIT, `the server to see the hang-up after abort (stream ended: ${ends[0]})`).catch(
    () => {},
  )
  const e1 = ends[0]

  const res2 = await post(f, srv.baseUrl + '/chat/completions', chatBody())
  const r2 = res2.body.getReader()
  await r2.read()
  const t2 = Date.now()
  await r2.cancel()
  await waitFor(() => ends[1], LIMIT, 'the server to see the hang-up after reader.cancel()').catch(() => {})
  const e2 = ends[1]

  assert.ok(e1 && e1.streamed === 'aborted' && e1.at - t1 < LIMIT, `after abort: ${JSON.stringify(e1)}`)
  assert.ok(e2 && e2.streamed === 'aborted' && e2.at - t2 < LIMIT, `after reader.cancel(): ${JSON.stringify(e2)}`)
})

/* ------------------------------------------------------------------------------------------------ 3 -- */

test('5b. shapeRequest: an object and its JSON text shape alike; non-JSON text is left alone', () => {
  const body = {
    model: 'kimi-for-coding',
    reasoning_effort: 'high',
    messages: [
      { role: 'developer', content: 'be brief' },
      { role: 'user', content: 'hi' },
    ],
  }
  const before = structuredClone(body)
  const opts = { effort: 'off', sessionId: 's1', models: [] }
  const shaped = kimi.shapeRequest(body, opts)
  assert.deepEqual(body, before, 'the input is not mutated')
  assert.equal(shaped.messages[0].role, 'system')
  assert.deepEqual(shaped.thinking, { type: 'disabled' })
  assert.ok(!('reasoning_effort' in shaped))
  const text = kimi.shapeRequest(JSON.stringify(body), opts)
  assert.equal(typeof text, 'string')
  assert.deepEqual(JSON.parse(text), shaped)
  assert.equal(kimi.shapeRequest('data: not json', opts), 'data: not json')
  // A Buffer gives a Buffer with the same bytes as the text path (the lazy shaper, issue #17).
  const input = Buffer.from(JSON.stringify(body))
  const bytes = kimi.shapeRequest(input, opts)
  assert.ok(Buffer.isBuffer(bytes))
  assert.equal(bytes.toString(), text)
  assert.equal(input.toString(), JSON.stringify(body), 'the input Buffer is not mutated')
  const notJson = Buffer.from('data: not json')
  assert.equal(kimi.shapeRequest(notJson, opts).toString(), 'data: not json')
})

test('shaped Buffers keep their bytes while alive; their memory is reused only after V8 frees them', () => {
  // A child with --expose-gc: big shaped bodies come from a buffer pool and go back on collection.
  const code = `
    const kimi = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))})
    const turn = (i) => JSON.stringify({ model: 'kimi-for-coding', max_tokens: i,
      messages: Array.from({ length: 300 }, (_, k) => ({ role: k % 2 ? 'tool' : 'user', content: String(i).repeat(1000 + k) })) })
    const opts = { effort: 'off', sessionId: 's', models: [] }
    const kept = []
    for (let i = 0; i < 60; i++) {
      const text = turn(i)
      const out = kimi.shapeRequest(Buffer.from(text), opts)
      if (out.length < 300000) throw new Error('want a pooled size, got ' + out.length)
      if (i % 3 === 0) kept.push([out, kimi.shapeRequest(text, opts)])
      if (i % 5 === 0) { gc(); await new Promise((r) => setImmediate(r)) }
    }
    gc()
    await new Promise((r) => setTimeout(r, 20))
    for (const [buf, want] of kept) if (buf.toString() !== want) throw new Error('a live Buffer changed')
    process.stdout.write('ok ' + kept.length)
  `
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', '-e', `(async () => {${code}})().catch((e) => { console.error(e); process.exit(1) })`],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  )
  assert.equal(r.status, 0, r.stderr)
  assert.equal(r.stdout, 'ok 20')
})

/** A server that sends `events` SSE events `gapMs` apart, or (events = Infinity) keeps the stream open. */
async function startSlowStream(t, { events, gapMs }) {
  const sockets = new Set()
  const server = http.createServer((req, res) => {
    req.resume()
    res.writeHead(200, { 'content-type': 'text/event-stream' })
    let sent = 0
    const timer = setInterval(() => {
      if (sent === events) {
        clearInterval(timer)
        res.end('data: [DONE]\n\n')
        return
      }
      res.write(`data: {"n":${sent++}}\n\n`)
    }, gapMs)
    res.on('close', () => clearInterval(timer))
  })
  server.on('connection', (s) => sockets.add(s))
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  t.after(
    () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy()
        server.close(r)
      }),
  )
  return `http://127.0.0.1:${server.address().port}/coding/v1`
}

/** Runs `script` in a fresh node with the kimi-native lib as `kimi`. */
function runNodeScript(env, script, timeoutMs) {
  const src = `const kimi = require(${JSON.stringify(path.join(__dirname, '..', 'lib'))});\n${script}`
  return spawnCollect(process.execPath, ['-e', src], { env, timeoutMs })
}

test('2c. event loop: a waiting read keeps Node alive; an unread body does not', async (t) => {
  const env = (base) => ({
    ...childEnv(t),
    KIMI_API_KEY: 'sk-test-loop',
    KIMI_CODE_BASE_URL: base,
    KIMI_NATIVE_HOME: tempDir(t, 'loop'),
    KIMI_NATIVE_STORE: 'file',
    KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS: '1',
  })

  await t.test('reading a slow stream: nothing else is pending while the core waits for the next event', async () => {
    const base = await startSlowStream(t, { events: 4, gapMs: 300 })
    const r = await runNodeScript(
      env(base),
      `kimi.createKimiFetch({ host: 'opencode/1.18.33' })(${JSON.stringify(base + '/chat/completions')}, { method: 'POST', body: '{}' })
        .then(async (res) => { const text = await res.text(); process.stdout.write(JSON.stringify(text.match(/"n":\\d+/g))) })`,
      15000,
    )
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(
      JSON.parse(r.stdout),
      ['"n":0', '"n":1', '"n":2', '"n":3'],
      'every event read before the process exited',
    )
  })

  await t.test('a response whose body is never read lets the process exit', async () => {
    const base = await startSlowStream(t, { events: Infinity, gapMs: 100 })
    const r = await runNodeScript(
      env(base),
      `kimi.createKimiFetch({ host: 'opencode/1.18.33' })(${JSON.stringify(base + '/chat/completions')}, { method: 'POST', body: '{}' })
        .then((res) => process.stdout.write(String(res.status)))`,
      10000,
    )
    assert.equal(r.signal, null, 'the process exited by itself (not killed after 10 s)')
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, '200')
  })
})

test('3. 401: one forced refresh and one retry, never a loop', async (t) => {
  const srv = await setup(t)
  const f = kimi.createKimiFetch({ host: HOST })
  const url = srv.baseUrl + '/chat/completions'
  // A refresh also re-reads /models (model discovery); only the chat/token sequence matters here.
  const calls = (since) => srv.requests.slice(since).filter((r) => !r.path.startsWith('/coding/v1/models'))
  const paths = (since) => calls(since).map((r) => r.path)

  await t.test('one 401 → refresh → retry with the new bearer → 200', async () => {
    const since = srv.requests.length
    const refreshes = []
    srv.on('refresh', (ev) => refreshes.push(ev))
    srv.inject({ path: CHAT, ...ERRORS.invalidAuth401 })
    const res = await post(f, url, chatBody({ stream: false }))
    assert.equal(res.status, 200)
    assert.equal(res.headers.get(ERROR_HEADER), null)
    assert.equal((await res.json()).choices[0].message.content, 'hi')
    assert.deepEqual(paths(since), [CHAT, '/api/oauth/token', CHAT])
    assert.equal(srv.refreshCount, 1)
    assert.equal(refreshes.length, 1)
    const [c1, , c2] = calls(since)
    assert.equal(c1.status, 401)
    assert.equal(c2.status, 200)
    assert.notEqual(bearerOf(c2), bearerOf(c1), 'retry must carry a new bearer')
    assert.equal(bearerOf(c2), refreshes[0].access_token)
    assert.equal(c2.body, c1.body, 'the retry resends the same body')
  })

  await t.test('two 401s → the 401 Response with the error header (2 chats, 1 refresh)', async () => {
    const since = srv.requests.length
    const refreshBefore = srv.refreshCount
    srv.inject({ path: CHAT, ...ERRORS.invalidAuth401, times: 2 })
    const res = await post(f, url, chatBody({ stream: false }))
    assert.equal(res.status, 401)
    assert.equal(res.headers.get(ERROR_HEADER), 'KIMI_RELOGIN_REQUIRED')
    assert.equal(await res.text(), JSON.stringify(ERRORS.invalidAuth401.body))
    await sleep(100) // a looping client would have sent more by now
    assert.deepEqual(paths(since), [CHAT, '/api/oauth/token', CHAT])
    assert.equal(srv.refreshCount - refreshBefore, 1)
  })

  await t.test('static KIMI_API_KEY: no refresh, no retry', async (st) => {
    const key = `fk-key-${crypto.randomBytes(16).toString('hex')}`
    const srv2 = await setup(st, { login: false, apiKey: key })
    srv2.inject({ path: CHAT, ...ERRORS.invalidAuth401 })
    const res = await post(
      kimi.createKimiFetch({ host: HOST }),
      srv2.baseUrl + '/chat/completions',
      chatBody({ stream: false }),
    )
    assert.equal(res.status, 401)
    assert.ok(res.headers.get(ERROR_HEADER))
    await res.text()
    assert.deepEqual(
      srv2.requests.map((r) => r.path),
      [CHAT],
    )
    assert.equal(srv2.refreshCount, 0)
  })
})

/* ------------------------------------------------------------------------------------------------ 4 -- */

test('4. error codes: header on Responses, classifyResponse, transport and login failures', async (t) => {
  const key = `fk-key-${crypto.randomBytes(16).toString('hex')}`
  const srv = await setup(t, { login: false, apiKey: key })
  const f = kimi.createKimiFetch({ host: HOST })
  const url = srv.baseUrl + '/chat/completions'
  const cases = [
    {
      name: '403 client gate',
      rule: ERRORS.accessTerminated403,
      code: 'KIMI_CLIENT_NOT_ALLOWED',
      check: (c) => {
        assert.match(c.message, /did not accept this client identity/)
        assert.match(c.message, /kimi-native\//, 'names the User-Agent sent')
      },
    },
    ...['accountSuspended403', 'accountBanned403'].map((kind) => ({
      name: `403 account suspended (${ERRORS[kind].body.error.type})`,
      rule: ERRORS[kind],
      code: 'KIMI_ACCOUNT_SUSPENDED',
      check: (c) => assert.match(c.message, /support@moonshot\.cn/),
    })),
    { name: '402 membership', rule: ERRORS.membership402, code: 'KIMI_MEMBERSHIP' },
    { name: '429 quota', rule: ERRORS.quota429, code: 'KIMI_QUOTA_EXCEEDED' },
    {
      name: '429 overloaded + Retry-After',
      rule: ERRORS.overloaded429,
      code: 'KIMI_RATE_LIMITED',
      check: (c, res) => {
        assert.equal(res.headers.get('retry-after'), '1')
        assert.equal(c.retryAfter, 1)
      },
    },
    { name: '500', rule: ERRORS.server500, code: 'KIMI_SERVER' },
  ]
  for (const cs of cases) {
    await t.test(cs.name, async () => {
      srv.inject({ path: CHAT, ...cs.rule })
      const res = await post(f, url, chatBody())
      assert.equal(res.status, cs.rule.status)
      assert.equal(res.headers.get(ERROR_HEADER), cs.code)
      assert.match(res.headers.get('content-type'), /application\/json/)
      const text = await res.text()
      assert.equal(text, JSON.stringify(cs.rule.body), 'the original body reaches the host unchanged')
      const ra = res.headers.get('retry-after')
      const c = kimi.classifyResponse(res.status, text, ra == null ? undefined : Number(ra))
      OUTPUTS.push(c.message)
      assert.equal(c.code, cs.code)
      if (cs.check) cs.check(c, res)
    })
  }

  await t.test('a suspended account: one request, no retry, no refresh', async (st) => {
    const srv2 = await setup(st)
    srv2.setSuspended('accountSuspended403')
    srv2.reset()
    const res = await post(kimi.createKimiFetch({ host: HOST }), srv2.baseUrl + '/chat/completions', chatBody())
    assert.equal(res.status, 403)
    assert.equal(res.headers.get(ERROR_HEADER), 'KIMI_ACCOUNT_SUSPENDED')
    await res.arrayBuffer()
    assert.equal(srv2.requestsTo(CHAT).length, 1, 'not retried')
    assert.equal(srv2.refreshCount, 0, 'no refresh')
  })

  await t.test('2xx classifies as nothing', () => {
    assert.equal(kimi.classifyResponse(200, '{}'), null)
  })

  await t.test('transport failure → KIMI_NETWORK rejection', async (st) => {
    const port = await closedPort()
    const base = `http://127.0.0.1:${port}/coding/v1`
    trustOrigins(st, base)
    const err = await rejection(
      post(kimi.createKimiFetch({ host: HOST, baseUrl: base }), `${base}/chat/completions`, chatBody()),
    )
    assert.ok(err instanceof Error)
    assert.equal(err.code, 'KIMI_NETWORK', `${err.code}: ${err.message}`)
    // WHATWG fetch rejects with TypeError('fetch failed') and a cause; the AI SDK retries exactly that.
    assert.ok(err instanceof TypeError, `${err.constructor.name}: ${err.message}`)
    assert.equal(err.message, 'fetch failed')
    assert.ok(err.cause instanceof Error && err.cause.code === 'KIMI_NETWORK', String(err.cause))
    assert.match(err.cause.message, /127\.0\.0\.1|connect/i, 'the cause says what failed')
    OUTPUTS.push(err.message, err.cause.message)
  })

  await t.test('not logged in → KIMI_NOT_LOGGED_IN rejection', async (st) => {
    const srv2 = await setup(st, { login: false })
    const err = await rejection(
      post(kimi.createKimiFetch({ host: HOST }), srv2.baseUrl + '/chat/completions', chatBody()),
    )
    assert.equal(err.code, 'KIMI_NOT_LOGGED_IN', `${err.code}: ${err.message}`)
    assert.equal(srv2.requests.length, 0)
  })
})

/* ------------------------------------------------------------------------------------------------ 5 -- */

test('5. identity + shaping on the wire; input forms; Response fields; 5 MB stream', async (t) => {
  const srv = await setup(t)
  const f = kimi.createKimiFetch({ host: HOST })
  const url = srv.baseUrl + '/chat/completions'
  const identity = kimi.buildHeaders({ host: HOST })
  assert.deepEqual(
    identity.map(([k]) => k),
    ['User-Agent'],
    'native: the User-Agent is the only identity header',
  )
  const lastChat = () => srv.requestsTo(CHAT).at(-1)

  await t.test(
    "native (default): the host's UA first, then kimi-native; host headers kept; hints stripped and applied",
    async () => {
      const hostUa = `${HOST} ai-sdk/provider-utils/4.0.23 runtime/bun/1.3.14`
      const res = await f(url, {
        method: 'POST',
        headers: {
          'User-Agent': hostUa,
          'x-custom': '1',
          'x-session-affinity': 'ses_1',
          'X-Msh-Tool-Call-Id': 'tool_abc123',
          'X-Msh-Platform': 'kimi_code_cli',
          'content-type': 'application/json',
          [HINT_HEADERS.effort]: 'off',
          [HINT_HEADERS.sessionId]: 's1',
        },
        body: chatBody({ stream: false }),
      })
      assert.equal(res.status, 200)
      assert.equal(res.statusText, 'OK')
      assert.equal(res.url, url)
      assert.match(res.headers.get('x-trace-id') || '', /^fk-trace-/)
      assert.match(res.headers.get('content-type'), /application\/json/)
      assert.equal((await res.json()).choices[0].message.content, 'hi')

      const rec = lastChat()
      const [ua] = headerValues(rec.headers, 'user-agent')
      assert.equal(headerValues(rec.headers, 'user-agent').length, 1)
      assert.ok(ua.startsWith(`${hostUa} kimi-native/`), `opencode's own UA kept first: ${ua}`)
      assert.ok(ua.endsWith(`(${process.platform}; ${kimi.RUNTIME}; ${process.arch})`), ua)
      for (const [k, v] of rec.headers) for (const bad of OFFICIAL_MARKS) assert.ok(!v.includes(bad), `${k}: ${v}`)
      assert.ok(
        !rec.headers.some(([k]) => /^x-msh-(platform|version|device|os)/i.test(k)),
        'no official X-Msh-* identity',
      )
      assert.deepEqual(headerValues(rec.headers, 'x-custom'), ['1'])
      assert.deepEqual(headerValues(rec.headers, 'x-session-affinity'), ['ses_1'], "the host's own headers pass")
      assert.deepEqual(headerValues(rec.headers, 'x-msh-tool-call-id'), ['tool_abc123'], 'X-Msh-Tool-Call-Id passes')
      assert.deepEqual(headerValues(rec.headers, HINT_HEADERS.effort), [])
      assert.deepEqual(headerValues(rec.headers, HINT_HEADERS.sessionId), [])
      assert.equal(headerValues(rec.headers, 'authorization').length, 1)
      assert.ok(srv.issuedTokens().includes(bearerOf(rec)), 'bearer is a token the server issued')
      const body = JSON.parse(rec.body)
      assert.deepEqual(body.thinking, { type: 'disabled' })
      assert.equal(body.prompt_cache_key, 's1', 'native: the host session id as it is')
      assert.equal(body.model, MODEL)

      // Without the host's UA on the request, the host token given by the adapter comes first.
      await (await post(f, url, chatBody({ stream: false }))).arrayBuffer()
      assert.equal(headerValues(lastChat().headers, 'user-agent')[0], identity[0][1])
      assert.ok(identity[0][1].startsWith(`${HOST} kimi-native/`), identity[0][1])
    },
  )

  await t.test('body edits keep the key order: the bytes the server gets', async () => {
    const sent = `{"model":"${MODEL}","max_tokens":5,"reasoning_effort":"off","messages":[{"role":"user","content":"hi"}],"stream":false,"temperature":0.5}`
    const res = await post(f, url, sent)
    assert.equal(res.status, 200)
    await res.arrayBuffer()
    assert.equal(
      lastChat().body,
      `{"model":"${MODEL}","max_completion_tokens":5,"messages":[{"role":"user","content":"hi"}],"stream":false,"temperature":0.5,"thinking":{"type":"disabled"}}`,
    )
  })

  await t.test(
    '--profile kimi-code (opt-in): the official headers byte for byte, host-only headers dropped',
    async () => {
      const warnings = []
      const official = kimi.buildHeaders({ profile: 'kimi-code', onWarning: (w) => warnings.push(w) })
      assert.equal(official.length, 7)
      assert.equal(official[0][1], 'kimi-code-cli/2.1.0')
      const fc = kimi.createKimiFetch({ profile: 'kimi-code', host: HOST, onWarning: (w) => warnings.push(w) })
      assert.ok(warnings.length <= 1, 'the warning is shown at most once per process')
      const res = await fc(url, {
        method: 'POST',
        headers: {
          'User-Agent': 'ai-sdk/x',
          'x-session-affinity': 'ses_1',
          'x-session-id': 'ses_1',
          'x-parent-session-id': 'p',
          'content-type': 'application/json',
        },
        body: chatBody({ stream: false }),
      })
      assert.equal(res.status, 200)
      await res.arrayBuffer()
      const rec = lastChat()
      for (const [k, v] of official) assert.deepEqual(headerValues(rec.headers, k), [v], k)
      for (const h of ['x-session-affinity', 'x-session-id', 'x-parent-session-id'])
        assert.deepEqual(headerValues(rec.headers, h), [], h)
      // golden ts-chat-openai.jsonl: thinking on with keep, no effort given
      assert.deepEqual(JSON.parse(rec.body).thinking, { type: 'enabled', keep: 'all' })
    },
  )

  await t.test('URL object input', async () => {
    const res = await post(f, new URL(url), chatBody({ stream: false }))
    assert.equal(res.status, 200)
    assert.equal(res.url, url)
    await res.arrayBuffer()
  })

  await t.test('Request object with a JSON body', async () => {
    const req = new Request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [HINT_HEADERS.sessionId]: 's2', 'x-custom': '2' },
      body: chatBody({ stream: false }),
    })
    const res = await f(req)
    assert.equal(res.status, 200)
    assert.equal(res.url, url)
    await res.arrayBuffer()
    const rec = lastChat()
    assert.deepEqual(headerValues(rec.headers, HINT_HEADERS.sessionId), [])
    assert.deepEqual(headerValues(rec.headers, 'x-custom'), ['2'])
    const body = JSON.parse(rec.body)
    assert.equal(body.prompt_cache_key, 's2')
    assert.deepEqual(body.messages, [{ role: 'user', content: 'hi' }])
  })

  await t.test('string URL GET (no body)', async () => {
    const res = await f(srv.baseUrl + '/models')
    assert.equal(res.status, 200)
    const list = await res.json()
    assert.ok(list.data.some((m) => m.id === MODEL))
  })

  await t.test('≥ 5 MB stream complete and byte-identical to Node fetch', async () => {
    const BYTES = 5 * 1024 * 1024 + 777
    srv.setReply({ bigStreamBytes: BYTES })
    const resK = await post(f, url, chatBody())
    assert.equal(resK.status, 200)
    const bufK = Buffer.from(await resK.arrayBuffer())
    const rec = lastChat()
    assert.equal(rec.streamed, 'done')

    // Same request (the shaped body the server saw, same identity + bearer) with Node's own fetch.
    const resN = await fetch(url, {
      method: 'POST',
      headers: {
        'user-agent': headerValues(rec.headers, 'user-agent')[0],
        authorization: `Bearer ${bearerOf(rec)}`,
        'content-type': 'application/json',
      },
      body: rec.body,
    })
    assert.equal(resN.status, 200)
    const bufN = Buffer.from(await resN.arrayBuffer())

    const expected = makeBigChunks(BYTES).join('')
    assert.equal(sseContent(bufK.toString('utf8')).length, expected.length)
    assert.ok(sseContent(bufK.toString('utf8')) === expected, 'content reassembles exactly')
    // Only the per-response id and timestamp differ between two answers.
    const norm = (b) =>
      b
        .toString('latin1')
        .replace(/chatcmpl-[0-9a-f]{24}/g, 'chatcmpl-X')
        .replace(/"created":\d+/g, '"created":0')
    assert.equal(bufK.length, bufN.length, 'same byte length as Node fetch')
    const hash = (s) => crypto.createHash('sha256').update(s, 'latin1').digest('hex')
    assert.equal(hash(norm(bufK)), hash(norm(bufN)), 'byte-identical (modulo id/created) to Node fetch')
  })
})

/* ------------------------------------------------------------------------------------------ 6 + 7 -- */

function opensslAvailable() {
  const r = spawnSync('openssl', ['version'], { encoding: 'utf8' })
  return r.status === 0
}

/** Throw-away CA + server certificate for 127.0.0.1 (EC P-256). */
function makePki(dir) {
  const run = (args) => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' })
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`)
  }
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  run([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=kimi-native fetch test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ])
  run(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'])
  fs.writeFileSync(
    path.join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
  )
  run([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-set_serial',
    `0x${crypto.randomBytes(8).toString('hex')}`,
    '-days',
    '2',
    '-out',
    'server.pem',
    '-extfile',
    'ext.cnf',
  ])
  return { ca: path.join(dir, 'ca.pem'), key: path.join(dir, 'server.key'), cert: path.join(dir, 'server.pem') }
}

async function startTlsServer(t, pki) {
  const requests = []
  const server = https.createServer({ key: fs.readFileSync(pki.key), cert: fs.readFileSync(pki.cert) }, (req, res) => {
    requests.push({ method: req.method, url: req.url, headers: Object.entries(req.headers) })
    req.resume()
    req.on('end', () => {
      const body = JSON.stringify({ ok: true, path: req.url })
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  server.on('tlsClientError', () => {})
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  t.after(
    () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(r)
      }),
  )
  return { requests, port: server.address().port, url: `https://127.0.0.1:${server.address().port}` }
}

/** Forward proxy: CONNECT tunnels (recorded) and absolute-form HTTP requests (answered itself). */
async function startProxy(t) {
  const log = []
  const sockets = new Set()
  const server = http.createServer((req, res) => {
    log.push({ kind: 'http', method: req.method, target: req.url })
    req.resume()
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('via-proxy')
  })
  server.on('connect', (req, client, head) => {
    log.push({ kind: 'connect', method: req.method, target: req.url })
    sockets.add(client)
    const [host, port] = req.url.split(':')
    const up = net.connect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      if (head && head.length) up.write(head)
      up.pipe(client)
      client.pipe(up)
    })
    sockets.add(up)
    up.on('error', () => client.destroy())
    client.on('error', () => up.destroy())
    up.on('close', () => client.destroy())
    client.on('close', () => up.destroy())
  })
  server.on('connection', (s) => sockets.add(s))
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  t.after(
    () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy()
        server.close(r)
      }),
  )
  return { log, url: `http://127.0.0.1:${server.address().port}` }
}

/** Environment for a child: the test's own Kimi env, no inherited proxy or CA settings. */
function childEnv(t, extra = {}) {
  const env = { ...process.env }
  for (const k of [...PROXY_KEYS, 'SSL_CERT_FILE', 'SSL_CERT_DIR', 'NODE_EXTRA_CA_CERTS']) delete env[k]
  env.HOME = tempDir(t, 'child-home')
  return { ...env, ...extra }
}

async function runChild(env, spec, timeoutMs = 15000) {
  const r = await spawnCollect(process.execPath, [CHILD], {
    env: { ...env, FETCH_CHILD_SPEC: JSON.stringify(spec) },
    timeoutMs,
  })
  OUTPUTS.push(r.stdout, r.stderr)
  try {
    return { ...JSON.parse(r.stdout.trim().split('\n').pop()), stderr: r.stderr }
  } catch {
    throw new Error(`child exited ${r.code}/${r.signal} without a result; stderr: ${r.stderr}`)
  }
}

test('6. custom CA via SSL_CERT_FILE (child processes)', async (t) => {
  if (!opensslAvailable()) return t.skip('openssl CLI not found; cannot mint a throw-away CA')
  await setup(t)
  const pki = makePki(tempDir(t, 'pki'))
  const tls = await startTlsServer(t, pki)
  const spec = { url: `${tls.url}/coding/v1/models` }
  // The TLS server is the configured Kimi API here (credentials go only there); an API key
  // stands in for a login, which is tied to the fake server's base URL.
  const key = 'sk-test-ca-key-0123456789'
  const api = { KIMI_CODE_BASE_URL: `${tls.url}/coding/v1`, KIMI_API_KEY: key }

  const noCa = await runChild(childEnv(t, api), spec)
  assert.equal(noCa.ok, false, `expected a TLS failure, got ${JSON.stringify(noCa)}`)
  assert.equal(noCa.code, 'KIMI_NETWORK')
  assert.equal(noCa.name, 'TypeError')
  assert.equal(noCa.message, 'fetch failed')
  assert.match(noCa.cause, /TLS|certificate/i)
  assert.match(noCa.cause, /SSL_CERT_FILE/)
  assert.equal(tls.requests.length, 0)

  const withCa = await runChild(childEnv(t, { ...api, SSL_CERT_FILE: pki.ca }), spec)
  assert.equal(withCa.ok, true, JSON.stringify(withCa))
  assert.equal(withCa.status, 200)
  assert.equal(JSON.parse(withCa.body).path, '/coding/v1/models')
  assert.equal(tls.requests.length, 1)
  const auth = headerValues(tls.requests[0].headers, 'authorization')[0] || ''
  assert.equal(auth, `Bearer ${key}`, 'child sent the configured credential')
  assert.match(
    headerValues(tls.requests[0].headers, 'user-agent')[0] || '',
    /^kimi-native\/\S+ \(/,
    'plain library use: kimi-native itself',
  )
})

test('7. proxies: HTTPS_PROXY CONNECT, NO_PROXY bypass, HTTP_PROXY absolute-form (child processes)', async (t) => {
  if (!opensslAvailable()) return t.skip('openssl CLI not found; cannot mint a throw-away CA')
  await setup(t)
  const pki = makePki(tempDir(t, 'pki'))
  const tls = await startTlsServer(t, pki)
  const target = `127.0.0.1:${tls.port}`
  const api = { KIMI_CODE_BASE_URL: `${tls.url}/coding/v1`, KIMI_API_KEY: 'sk-test-proxy-key' }

  await t.test('HTTPS_PROXY tunnels with CONNECT', async () => {
    const proxy = await startProxy(t)
    const r = await runChild(childEnv(t, { ...api, SSL_CERT_FILE: pki.ca, HTTPS_PROXY: proxy.url }), {
      url: `${tls.url}/p1`,
    })
    assert.equal(r.ok, true, JSON.stringify(r))
    assert.equal(r.status, 200)
    assert.deepEqual(proxy.log, [{ kind: 'connect', method: 'CONNECT', target }])
    assert.ok(tls.requests.some((q) => q.url === '/p1'))
  })

  await t.test('NO_PROXY=127.0.0.1 bypasses the proxy', async () => {
    const proxy = await startProxy(t)
    const r = await runChild(
      childEnv(t, { ...api, SSL_CERT_FILE: pki.ca, HTTPS_PROXY: proxy.url, NO_PROXY: '127.0.0.1' }),
      { url: `${tls.url}/p2` },
    )
    assert.equal(r.ok, true, JSON.stringify(r))
    assert.equal(r.status, 200)
    assert.deepEqual(proxy.log, [])
    assert.ok(tls.requests.some((q) => q.url === '/p2'))
  })

  await t.test('HTTP_PROXY gets an absolute-form request for http:// URLs', async () => {
    const proxy = await startProxy(t)
    const port = await closedPort() // nothing listens there: only the proxy can answer
    const base = { KIMI_CODE_BASE_URL: `http://127.0.0.1:${port}/coding/v1`, KIMI_API_KEY: 'sk-test-proxy-key' }
    const r = await runChild(childEnv(t, { ...base, HTTP_PROXY: proxy.url }), {
      url: `http://127.0.0.1:${port}/p3?x=1`,
    })
    assert.equal(r.ok, true, JSON.stringify(r))
    assert.equal(r.status, 200)
    assert.equal(r.body, 'via-proxy')
    assert.deepEqual(proxy.log, [{ kind: 'http', method: 'GET', target: `http://127.0.0.1:${port}/p3?x=1` }])
  })
})

/** Plain HTTP server on another origin that records request headers (redirect targets). */
async function startRecorder(t) {
  const requests = []
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method, url: req.url, headers: Object.entries(req.headers) })
    req.resume()
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('elsewhere')
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  t.after(
    () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(r)
      }),
  )
  return { requests, url: `http://127.0.0.1:${server.address().port}` }
}

/** Header pairs whose value contains a credential the server issued. */
const secretsIn = (pairs, srv) =>
  pairs.filter(([, v]) => srv.issuedTokens().some((tok) => String(v).includes(tok))).map(([k]) => k)

/* ------------------------------------------------------------------------------------------------ 8 -- */

test('8. secrets: no issued token in any error message or child output', async (t) => {
  const srv = await setup(t)
  const f = kimi.createKimiFetch({ host: HOST })
  const token = await kimi.getAccessToken()
  assert.ok(srv.issuedTokens().includes(token))

  // A server that echoes the bearer into its error message: the body reaches the host as is
  // (it is the host's response), but the core's own messages must not repeat it.
  const echo = { error: { message: `Invalid token ${token} for this request`, type: 'invalid_authentication_error' } }
  srv.inject({ path: CHAT, status: 401, body: echo, times: 2 })
  const res = await post(f, srv.baseUrl + '/chat/completions', chatBody())
  assert.equal(res.status, 401)
  const text = await res.text()
  assert.equal(text, JSON.stringify(echo))
  const c = kimi.classifyResponse(401, text)
  assert.equal(c.code, 'KIMI_RELOGIN_REQUIRED')
  OUTPUTS.push(c.message)
  assert.ok(!c.message.includes(token), `classifyResponse repeated the token: ${c.message}`)

  // Refresh refused (server-side logout): the error names no token.
  srv.revokeAll()
  const err = await rejection(kimi.getAccessToken({ force: true }))
  assert.ok(['KIMI_RELOGIN_REQUIRED', 'KIMI_OAUTH'].includes(err.code), `${err.code}: ${err.message}`)
  // The login is now marked for re-login; the fetch rejects instead of sending a dead token.
  const err2 = await rejection(post(f, srv.baseUrl + '/chat/completions', chatBody()))
  assert.equal(err2.code, 'KIMI_RELOGIN_REQUIRED', `${err2.code}: ${err2.message}`)

  // Redirect to another origin: the core does not follow it (the host gets the 302), so no
  // credential is ever replayed to another host.
  await kimi.login({})
  const other = await startRecorder(t)
  srv.inject({ path: '/coding/v1/models', status: 302, headers: { location: `${other.url}/elsewhere` } })
  const red = await f(srv.baseUrl + '/models')
  assert.equal(red.status, 302)
  assert.equal(red.headers.get('location'), `${other.url}/elsewhere`)
  assert.equal(other.requests.length, 0, 'a cross-origin redirect was followed')

  for (const s of srv.issuedTokens()) SECRETS.add(s)
  assert.ok(SECRETS.size >= 6, `too few secrets collected (${SECRETS.size}) — earlier tests did not run?`)
  assert.ok(OUTPUTS.length >= 10, `too few outputs collected (${OUTPUTS.length})`)
  const leaks = []
  for (const s of SECRETS)
    for (const o of OUTPUTS) if (o && o.includes(s)) leaks.push(`${s.slice(0, 8)}… in ${o.slice(0, 200)}`)
  assert.deepEqual(leaks, [])
})

test('8b. secrets: a cross-origin redirect on the x-api-key route (/messages) carries no credential', async (t) => {
  const srv = await setup(t)
  const other = await startRecorder(t)
  srv.inject({ path: '/coding/v1/messages', status: 307, headers: { location: `${other.url}/elsewhere` } })
  const body = JSON.stringify({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] })
  const res = await post(kimi.createKimiFetch({ host: HOST }), srv.baseUrl + '/messages?beta=true', body)
  await res.arrayBuffer()
  assert.ok(srv.requestsTo('/coding/v1/messages').length === 1, 'the request reached the API')
  const leaked = other.requests.flatMap((r) => secretsIn(r.headers, srv))
  assert.deepEqual(leaked, [], `credential forwarded to another origin in: ${leaked.join(', ')}`)
})

/* ------------------------------------------------------------------------------------------------ 9 -- */

test('9. fetch semantics: TypeError rejections, redirect modes, long error bodies', async (t) => {
  const srv = await setup(t)
  const f = kimi.createKimiFetch({ host: HOST })
  const MODELS = '/coding/v1/models'

  await t.test('a URL on another origin rejects with a TypeError that keeps code KIMI_BAD_INPUT', async () => {
    const err = await rejection(f('http://127.0.0.1:9/coding/v1/models'))
    assert.ok(err instanceof TypeError, `${err.constructor.name}: ${err.message}`)
    assert.equal(err.code, 'KIMI_BAD_INPUT')
    assert.equal(err.cause && err.cause.code, 'KIMI_BAD_INPUT')
    const bad = await rejection(f(srv.baseUrl + '/models', { redirect: 'sideways' }))
    assert.ok(bad instanceof TypeError)
  })

  await t.test(
    'follow: a same-origin 302 is followed with the credential; Response.redirected and url say so',
    async () => {
      srv.clearInjections()
      const before = srv.requestsTo(MODELS).length
      srv.inject({ path: MODELS, status: 302, headers: { location: '/coding/v1/models?page=2' } })
      const res = await f(srv.baseUrl + '/models')
      assert.equal(res.status, 200)
      assert.equal(res.redirected, true)
      assert.equal(res.url, `${srv.baseUrl}/models?page=2`)
      assert.ok((await res.json()).data.length >= 1)
      const hops = srv.requestsTo(MODELS).slice(before)
      assert.deepEqual(
        hops.map((r) => r.path),
        [MODELS, `${MODELS}?page=2`],
      )
      for (const r of hops)
        assert.ok(r.headers.some(([k, v]) => k.toLowerCase() === 'authorization' && v.startsWith('Bearer ')))
      const plain = await f(srv.baseUrl + '/models')
      assert.equal(plain.redirected, false)
      await plain.arrayBuffer()
    },
  )

  await t.test('follow: 303 after a POST becomes a GET without the body; 307 replays method and body', async () => {
    srv.clearInjections()
    const before = srv.requests.length
    srv.inject({ path: CHAT, method: 'POST', status: 303, headers: { location: MODELS } })
    const res = await post(f, srv.baseUrl + '/chat/completions', chatBody())
    assert.equal(res.status, 200)
    assert.equal(res.redirected, true)
    await res.arrayBuffer()
    const [first, second] = srv.requests.slice(before)
    assert.equal(first.method, 'POST')
    assert.equal(second.method, 'GET')
    assert.equal(second.path, MODELS)
    assert.equal(second.body, '')
    assert.ok(!second.headers.some(([k]) => k.toLowerCase() === 'content-type'), 'no body header on the GET')

    const before2 = srv.requestsTo(CHAT).length
    srv.inject({ path: CHAT, method: 'POST', status: 307, headers: { location: `${CHAT}?again=1` } })
    const res2 = await post(f, srv.baseUrl + '/chat/completions', chatBody())
    assert.equal(res2.status, 200)
    assert.match(await res2.text(), /\[DONE\]/)
    const chats = srv.requestsTo(CHAT).slice(before2)
    assert.equal(chats.length, 2)
    assert.deepEqual(
      chats.map((r) => r.method),
      ['POST', 'POST'],
    )
    assert.equal(chats[1].path, `${CHAT}?again=1`)
    assert.equal(chats[1].body, chats[0].body, 'the (shaped) body is replayed')
  })

  await t.test(
    'manual: the 3xx comes back as is; error: rejects with a TypeError; neither sends a second request',
    async () => {
      srv.clearInjections()
      const before = srv.requestsTo(MODELS).length
      srv.inject({ path: MODELS, status: 301, headers: { location: '/coding/v1/models?moved=1' } })
      const res = await f(srv.baseUrl + '/models', { redirect: 'manual' })
      assert.equal(res.status, 301)
      assert.equal(res.redirected, false)
      assert.equal(res.headers.get('location'), '/coding/v1/models?moved=1')
      await res.arrayBuffer()
      srv.inject({ path: MODELS, status: 302, headers: { location: '/coding/v1/models?moved=1' } })
      const err = await rejection(f(new Request(srv.baseUrl + '/models', { redirect: 'error' })))
      assert.ok(err instanceof TypeError, `${err.constructor.name}: ${err.message}`)
      assert.equal(err.code, 'KIMI_NETWORK')
      assert.match(err.cause.message, /redirect/)
      assert.equal(srv.requestsTo(MODELS).length - before, 2, 'one request per call, no redirect followed')
    },
  )

  await t.test('a redirect loop stops after 20 hops with a TypeError', async () => {
    srv.clearInjections()
    const before = srv.requestsTo(MODELS).length
    srv.inject({ path: MODELS, status: 302, headers: { location: MODELS }, times: 50 })
    const err = await rejection(f(srv.baseUrl + '/models'))
    srv.clearInjections()
    assert.ok(err instanceof TypeError)
    assert.match(err.cause.message, /more than 20/)
    assert.equal(srv.requestsTo(MODELS).length - before, 21)
  })

  await t.test('an error body longer than 64 KiB reaches the host whole, and is still classified', async () => {
    srv.clearInjections()
    const detail = 'x'.repeat(300 * 1024)
    const body = JSON.stringify({
      error: { message: 'The engine is overloaded', type: 'engine_overloaded_error', detail },
    })
    srv.inject({ path: CHAT, status: 500, body })
    const res = await post(f, srv.baseUrl + '/chat/completions', chatBody())
    assert.equal(res.status, 500)
    assert.ok(res.headers.get(ERROR_HEADER), 'classified from the first 64 KiB')
    const text = await res.text()
    assert.equal(text.length, body.length, `got ${text.length} of ${body.length} bytes`)
    assert.equal(text, body)
  })

  await t.test('a body that breaks mid-stream errors the reader with a TypeError carrying the code', async () => {
    srv.clearInjections()
    srv.inject({ path: CHAT, resetMidStream: 2 })
    const res = await post(f, srv.baseUrl + '/chat/completions', chatBody())
    assert.equal(res.status, 200)
    const err = await rejection(res.text())
    assert.ok(err instanceof TypeError, `${err && err.constructor.name}: ${err && err.message}`)
    assert.equal(err.code, 'KIMI_NETWORK')
    assert.equal(err.cause && err.cause.code, 'KIMI_NETWORK')
  })
})
