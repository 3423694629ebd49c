'use strict'
// openclaw gets the raw Kimi bearer (prepareRuntimeAuth, and the stream wrapper's Authorization header) for its own
// HTTP code, where the core's fetch and its origin check do not run. openclaw's config can point the provider
// anywhere (`models.providers.<id>.baseUrl`), so the adapter asks the core's rule (checkCredentialTarget) before
// handing the bearer over: a target on a foreign origin gets no bearer and the caller a coded error. The plugin is
// driven through its registered provider in a child process with its own HOME, logged in on the fake Kimi server,
// with openclaw's hook context shapes (ProviderPrepareRuntimeAuthContext, StreamFn); the stream function stands
// for openclaw's transport and really sends what it is given. The full openclaw runs are in openclaw.e2e.test.js.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { startFakeKimi } = require('./fake-kimi/server')
const { spawnCollect } = require('./helpers/spawn')
const { assertNoSecrets } = require('./helpers/env')

if (process.env.KIMI_OPENCLAW_ORIGIN_CHILD) {
  const entry = require('../lib/adapters/openclaw.js')
  const core = require('../lib')
  let provider = null
  entry.register({ runtime: { version: '2026.9.6' }, registerProvider: (p) => (provider = p), logger: console })
  // openclaw's transport: sends the request to model.baseUrl with the key it was handed.
  const transport = async (model, _context, options) => {
    // The SDK's own Authorization from the key, replaced by a request header of the same name (as openclaw's is).
    const headers = new Headers({ authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json' })
    for (const [k, v] of Object.entries(options.headers || {})) headers.set(k, v)
    const res = await fetch(`${model.baseUrl}/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: model.id, messages: [{ role: 'user', content: 'hi' }], stream: false }),
    })
    const events = [
      res.ok
        ? { type: 'done', message: { role: 'assistant' } }
        : { type: 'error', error: { errorMessage: `${res.status}` } },
    ]
    return {
      async *[Symbol.asyncIterator]() {
        yield* events
      },
    }
  }
  const attempt = async (baseUrl) => {
    const model = { id: core.PROVIDER.defaultModel, provider: entry.ID, api: 'openai-completions', baseUrl }
    const out = {}
    try {
      const ctx = {
        provider: entry.ID,
        modelId: model.id,
        model,
        apiKey: entry.MARKER,
        authMode: 'oauth',
        env: process.env,
      }
      const prepared = await provider.prepareRuntimeAuth(ctx)
      out.prepared = {
        apiKeyIsMarker: prepared.apiKey === entry.MARKER,
        baseUrl: prepared.baseUrl || null,
        gotKey: Boolean(prepared.apiKey),
      }
    } catch (e) {
      out.prepared = { code: e.code, message: e.message }
    }
    const stream = provider.wrapStreamFn({ streamFn: transport, provider: entry.ID, modelId: model.id })(
      model,
      { messages: [] },
      {},
    )
    out.events = []
    for await (const e of stream)
      out.events.push(e.type === 'error' ? { type: 'error', message: e.error.errorMessage } : { type: e.type })
    return out
  }
  ;(async () => {
    await core.login({ onDeviceCode: () => {} })
    const foreign = await attempt(`${process.env.FOREIGN_URL}/v1`)
    const kimi = await attempt(process.env.KIMI_CODE_BASE_URL)
    process.stdout.write(JSON.stringify({ foreign, kimi }) + '\n')
  })().catch((e) => process.stdout.write(JSON.stringify({ crashed: e.message }) + '\n'))
  return
}

test(
  'openclaw: a provider configured to send to a foreign origin gets no bearer; the caller gets a coded error',
  { timeout: 60000 },
  async (t) => {
    const f = await startFakeKimi({ deviceInterval: 1, autoApprove: 0 })
    const seen = []
    const foreign = http.createServer((req, res) => {
      seen.push([req.method, req.url, req.headers.authorization || null])
      req.resume()
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end('{"error":{"message":"foreign","type":"invalid_authentication_error"}}')
    })
    await new Promise((r) => foreign.listen(0, '127.0.0.1', r))
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-openclaw-origin-'))
    t.after(async () => {
      await f.close()
      await new Promise((r) => foreign.close(r))
      fs.rmSync(base, { recursive: true, force: true })
    })
    const foreignUrl = `http://127.0.0.1:${foreign.address().port}`
    const env = {
      PATH: process.env.PATH,
      HOME: path.join(base, 'home'),
      KIMI_NATIVE_HOME: path.join(base, 'kimi-native'),
      KIMI_NATIVE_STORE: 'file',
      KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS: '1',
      KIMI_CODE_OAUTH_HOST: f.oauthHost,
      KIMI_CODE_BASE_URL: f.baseUrl,
      KIMI_OPENCLAW_ORIGIN_CHILD: '1',
      FOREIGN_URL: foreignUrl,
    }
    const r = await spawnCollect(process.execPath, [__filename], { env, timeoutMs: 40000 })
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout.trim().split('\n').pop())
    assert.ok(!out.crashed, out.crashed)
    assertNoSecrets(assert, r.stdout + r.stderr, f.issuedTokens())

    // Foreign target: no bearer from prepareRuntimeAuth, none sent by the stream, a coded error naming both origins.
    assert.equal(out.foreign.prepared.code, 'KIMI_BAD_INPUT', JSON.stringify(out.foreign.prepared))
    const why = new RegExp(
      `only to the Kimi API at ${new URL(f.baseUrl).origin.replace(/\./g, '\\.')}, not to ${foreignUrl.replace(/\./g, '\\.')}`,
    )
    assert.match(out.foreign.prepared.message, why)
    assert.deepEqual(
      out.foreign.events.map((e) => e.type),
      ['error'],
    )
    assert.match(out.foreign.events[0].message, why)
    assert.deepEqual(seen, [], 'the foreign server received nothing')

    // Control: the Kimi origin gets the bearer and the request goes through.
    assert.equal(out.kimi.prepared.gotKey, true, JSON.stringify(out.kimi.prepared))
    assert.equal(out.kimi.prepared.apiKeyIsMarker, false)
    assert.deepEqual(
      out.kimi.events.map((e) => e.type),
      ['done'],
      JSON.stringify(out.kimi),
    )
    const chats = f.requests.filter((q) => q.path === '/coding/v1/chat/completions')
    assert.equal(chats.length, 1)
    assert.ok(
      f
        .issuedTokens()
        .includes(chats[0].headers.find(([k]) => k.toLowerCase() === 'authorization')[1].replace(/^Bearer /, '')),
    )
  },
)
