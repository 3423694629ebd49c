'use strict'
// The Anthropic-compatible route through createKimiFetch against the fake Kimi server (docs/kimi-wire.md §8): the body an
// Anthropic SDK sends is shaped into kimi-code's (key order, metadata.user_id, thinking + output_config.effort,
// context_management with its beta flag), `?beta=true` is added, and the token goes in x-api-key, never Bearer.
// Compared field for field with the vendored golden/ts-chat-anthropic.jsonl (kimi-code 2.1.0's own request).
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const kimi = require('../lib')
const { startFakeKimi } = require('./fake-kimi/server')
const { pointFakeEnv } = require('./helpers/env')
const { loadGolden } = require('./helpers/golden')

for (const k of ['KIMI_NATIVE_PROFILE', 'KIMI_NATIVE_CLIENT_VERSION', 'KIMI_NATIVE_REGION']) delete process.env[k]

// docs/kimi-wire.md §8 body key order and the fields of the captured request.
const KEY_ORDER = [
  'model',
  'max_tokens',
  'metadata',
  'thinking',
  'output_config',
  'context_management',
  'system',
  'messages',
  'tools',
  'stream',
]
const SESSION = '1174f432-73a5-4d2f-8b94-9876761b9a12'

function tempDir(t, prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `kn-anthropic-${prefix}-`))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

const header = (rec, name) => (rec.headers.find(([k]) => k.toLowerCase() === name.toLowerCase()) || [])[1]

/** What @anthropic-ai/sdk sends for a streaming request: its own key order, budget-style thinking. */
const sdkBody = () => ({
  model: 'kimi-for-coding',
  max_tokens: 262144,
  system: [{ type: 'text', text: 'SYS', cache_control: { type: 'ephemeral' } }],
  messages: [{ role: 'user', content: [{ type: 'text', text: 'hello', cache_control: { type: 'ephemeral' } }] }],
  tools: [{ name: 'Bash', description: 'run', input_schema: { type: 'object', properties: {} } }],
  stream: true,
  thinking: { type: 'enabled', budget_tokens: 4096 },
})

test('Anthropic route: kimi-code body and headers, thinking on and off', async (t) => {
  const srv = await startFakeKimi({ deviceInterval: 1, autoApprove: 0 })
  t.after(async () => {
    await kimi.settle()
    await srv.close()
  })
  pointFakeEnv(t, srv, { home: tempDir(t, 'home') })
  await kimi.login({})
  await kimi.models({ refresh: true }) // the effort mapping uses the discovered models

  const send = async (effort) => {
    // Byte parity with kimi-code's own request: its profile, chosen explicitly (opt-in).
    const f = kimi.createKimiFetch({ profile: 'kimi-code', onWarning: () => {}, effort, sessionId: SESSION })
    const n = srv.requests.length
    // @ai-sdk/anthropic builds `${baseURL}/messages` without the query.
    const res = await f(`${srv.baseUrl}/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
        'anthropic-beta': 'interleaved-thinking-2025-05-14',
      },
      body: JSON.stringify(sdkBody()),
    })
    assert.equal(res.status, 200, await res.clone().text())
    const text = await res.text()
    assert.match(text, /event: message_start/)
    const recs = srv.requests.slice(n).filter((r) => r.path.startsWith('/coding/v1/messages'))
    assert.equal(recs.length, 1)
    return recs[0]
  }

  await t.test('thinking on (effort high): golden fields, order and headers', async () => {
    const rec = await send('high')
    assert.equal(rec.path, '/coding/v1/messages?beta=true')
    const body = JSON.parse(rec.body)
    assert.deepEqual(Object.keys(body), KEY_ORDER)
    assert.deepEqual(body.metadata, { user_id: `session_${SESSION}` })
    assert.deepEqual(body.thinking, { type: 'enabled' })
    assert.deepEqual(body.output_config, { effort: 'high' })
    assert.deepEqual(body.context_management, { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] })
    assert.equal(body.max_tokens, 262144)
    // Auth: the access token in x-api-key, no Authorization header; the beta flag kimi-code sends.
    assert.ok(srv.isAccessTokenValid(header(rec, 'x-api-key')))
    assert.equal(header(rec, 'authorization'), undefined)
    assert.equal(header(rec, 'anthropic-beta'), 'context-management-2025-06-27')
    assert.equal(header(rec, 'anthropic-version'), '2023-06-01')

    const golden = loadGolden('ts-chat-anthropic.jsonl')
    assert.ok(golden, 'the vendored golden/ts-chat-anthropic.jsonl is present')
    const g = golden.find((r) => r.path.startsWith('/coding/v1/messages'))
    const gb = JSON.parse(g.body)
    assert.equal(rec.path, g.path)
    assert.deepEqual(Object.keys(body), Object.keys(gb), 'key order as captured')
    for (const k of ['model', 'max_tokens', 'thinking', 'output_config', 'context_management', 'stream']) {
      assert.deepEqual(body[k], gb[k], k)
    }
    assert.match(gb.metadata.user_id, /^session_[0-9a-f-]{36}$/)
    assert.equal(header(rec, 'anthropic-beta'), header(g, 'anthropic-beta'))
    assert.equal(header(rec, 'anthropic-version'), header(g, 'anthropic-version'))
    assert.equal(header(g, 'authorization'), undefined)
  })

  await t.test('thinking off: disabled, no effort, no context management, no beta flag', async () => {
    const rec = await send('off')
    const body = JSON.parse(rec.body)
    assert.deepEqual(body.thinking, { type: 'disabled' })
    assert.equal(body.output_config, undefined)
    assert.equal(body.context_management, undefined)
    assert.deepEqual(Object.keys(body), [
      'model',
      'max_tokens',
      'metadata',
      'thinking',
      'system',
      'messages',
      'tools',
      'stream',
    ])
    assert.equal(header(rec, 'anthropic-beta'), undefined)
    assert.ok(srv.isAccessTokenValid(header(rec, 'x-api-key')))
  })
})
