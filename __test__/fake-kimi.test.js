'use strict'
// Tests that the fake Kimi server is faithful to docs/kimi-wire.md (§1, §2, §5, §6, §7).
const test = require('node:test')
const assert = require('node:assert/strict')
const http = require('node:http')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const {
  startFakeKimi,
  ERRORS,
  CLIENT_ID,
  DEVICE_GRANT,
  makeBigChunks,
  MSG_ONLY_CODING_AGENTS,
} = require('./fake-kimi/server')

const KIMI_CODE_IDENTITY = {
  'User-Agent': 'kimi-code-cli/2.1.0',
  'X-Msh-Platform': 'kimi_code_cli',
  'X-Msh-Version': '2.1.0',
  'X-Msh-Device-Name': 'testhost',
  'X-Msh-Device-Model': 'Linux 6.1.0 x64',
  'X-Msh-Os-Version': '6.1.0',
  'X-Msh-Device-Id': '9edff5d6-124d-4f90-b97b-8daa92682eae',
}
const KIMI_CLI_IDENTITY = {
  'User-Agent': 'KimiCLI/1.52.0',
  'X-Msh-Platform': 'kimi_cli',
  'X-Msh-Version': '1.52.0',
  'X-Msh-Device-Name': 'testhost',
  'X-Msh-Device-Model': 'Linux 6.1.0 x86_64',
  'X-Msh-Os-Version': '#1 SMP PREEMPT_DYNAMIC',
  'X-Msh-Device-Id': '2801310564f54823b36839d4c85cb939',
}

const form = (fields, extraHeaders = {}) => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json', ...extraHeaders },
  body: new URLSearchParams(fields).toString(),
})
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function post(url, init) {
  const r = await fetch(url, init)
  const text = await r.text()
  let json
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: r.status, headers: r.headers, text, json }
}

async function deviceAuth(k) {
  const r = await post(`${k.oauthHost}/api/oauth/device_authorization`, form({ client_id: CLIENT_ID }))
  assert.equal(r.status, 200, r.text)
  return r.json
}
const poll = (k, dc) =>
  post(`${k.oauthHost}/api/oauth/token`, form({ client_id: CLIENT_ID, device_code: dc, grant_type: DEVICE_GRANT }))
const refresh = (k, rt) =>
  post(`${k.oauthHost}/api/oauth/token`, form({ client_id: CLIENT_ID, grant_type: 'refresh_token', refresh_token: rt }))

function chat(k, token, body, identity = KIMI_CODE_IDENTITY, extra = {}) {
  return fetch(`${k.baseUrl}/chat/completions`, {
    method: 'POST',
    headers: { ...identity, Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...extra },
    body:
      typeof body === 'string'
        ? body
        : JSON.stringify({
            model: 'kimi-for-coding',
            messages: [{ role: 'user', content: 'hi' }],
            stream: true,
            stream_options: { include_usage: true },
            ...body,
          }),
  })
}

function parseSse(text) {
  assert.ok(text.endsWith('\n\n'), 'SSE stream ends with a blank line')
  return text
    .split('\n\n')
    .filter(Boolean)
    .map((block) => {
      assert.match(block, /^data: /)
      const data = block.slice(6)
      return data === '[DONE]' ? '[DONE]' : JSON.parse(data)
    })
}

test('device flow: pending, approve, token response shape', async (t) => {
  const k = await startFakeKimi({ deviceInterval: 1, deviceExpiresIn: 60, enforceSlowDown: false })
  t.after(() => k.close())
  const da = await deviceAuth(k)
  assert.match(da.user_code, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/)
  assert.equal(da.verification_uri_complete, `${da.verification_uri}?user_code=${da.user_code}`)
  assert.equal(da.interval, 1)
  assert.equal(da.expires_in, 60)
  assert.ok(da.device_code)
  const da2 = await deviceAuth(k)
  assert.notEqual(da2.user_code, da.user_code, 'user codes are random')

  let r = await poll(k, da.device_code)
  assert.equal(r.status, 400)
  assert.equal(r.json.error, 'authorization_pending')
  assert.equal(typeof r.json.error_description, 'string')

  assert.equal(k.approve(da.user_code).status, 'approved')
  r = await poll(k, da.device_code)
  assert.equal(r.status, 200, r.text)
  assert.deepEqual(Object.keys(r.json).sort(), ['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type'])
  assert.match(r.json.access_token, /^fk-at-[0-9a-f]{32}$/)
  assert.match(r.json.refresh_token, /^fk-rt-[0-9a-f]{32}$/)
  assert.equal(r.json.expires_in, 900)
  assert.equal(r.json.scope, 'kimi-code')
  assert.equal(r.json.token_type, 'Bearer')
  assert.ok(k.issuedTokens().includes(r.json.access_token) && k.issuedTokens().includes(r.json.refresh_token))

  r = await poll(k, da.device_code)
  assert.equal(r.json.error, 'invalid_grant', 'a device code is single use')
  // the body the real clients send is exactly these bytes (docs/kimi-wire.md §1.4)
  const rec = k.requestsTo('/api/oauth/token')[0]
  assert.equal(
    rec.body,
    `client_id=${CLIENT_ID}&device_code=${da.device_code}&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code`,
  )
  // approve() without argument targets the latest code
  assert.equal(k.approve().user_code, da2.user_code)
  // waitForRequest resolves for past and future requests
  assert.equal((await k.waitForRequest('/api/oauth/device_authorization')).body, `client_id=${CLIENT_ID}`)
  const pending = k.waitForRequest((r) => r.path.startsWith('/coding/v1/models'), { timeoutMs: 2000 })
  await fetch(`${k.baseUrl}/models`)
  assert.equal((await pending).status, 401)
  k.reset({ state: true })
  assert.deepEqual(k.deviceCodes(), [])
  assert.deepEqual(k.issuedTokens(), [])
})

test('device flow: slow_down when polled faster than interval, +5 s per RFC 8628', async (t) => {
  const k = await startFakeKimi({ deviceInterval: 1, slowDownToleranceMs: 200 })
  t.after(() => k.close())
  const da = await deviceAuth(k)
  assert.equal((await poll(k, da.device_code)).json.error, 'authorization_pending', 'first poll may be immediate')
  await sleep(1000) // waiting exactly `interval` is fine
  assert.equal((await poll(k, da.device_code)).json.error, 'authorization_pending')
  const r = await poll(k, da.device_code) // immediately again: too fast
  assert.equal(r.status, 400)
  assert.equal(r.json.error, 'slow_down')
  assert.equal(k.deviceCodes()[0].interval, 6)
  k.approve()
  await sleep(1100) // 1 s is no longer enough after a slow_down
  assert.equal((await poll(k, da.device_code)).json.error, 'slow_down')
  assert.equal(k.deviceCodes()[0].interval, 11)
  assert.equal(k.deviceCodes()[0].slowDowns, 2)
})

test('device flow: expired_token after expires_in and via expire()', async (t) => {
  const k = await startFakeKimi({ deviceInterval: 1, deviceExpiresIn: 1, enforceSlowDown: false })
  t.after(() => k.close())
  const da = await deviceAuth(k)
  const db = await deviceAuth(k)
  assert.equal((await poll(k, da.device_code)).json.error, 'authorization_pending')
  k.expire(db.user_code)
  assert.equal((await poll(k, db.device_code)).json.error, 'expired_token')
  await sleep(1050)
  k.approve(da.user_code) // too late
  const r = await poll(k, da.device_code)
  assert.equal(r.status, 400)
  assert.equal(r.json.error, 'expired_token')
  assert.equal(k.deviceCodes()[0].status, 'expired')
})

test('device flow: access_denied, autoApprove after N polls', async (t) => {
  const k = await startFakeKimi({ deviceInterval: 1, enforceSlowDown: false })
  t.after(() => k.close())
  const da = await deviceAuth(k)
  k.deny(da.user_code)
  const r = await poll(k, da.device_code)
  assert.equal(r.status, 400)
  assert.equal(r.json.error, 'access_denied')

  const k2 = await startFakeKimi({ deviceInterval: 1, enforceSlowDown: false, autoApprove: 2 })
  t.after(() => k2.close())
  const d2 = await deviceAuth(k2)
  assert.equal((await poll(k2, d2.device_code)).json.error, 'authorization_pending')
  assert.equal((await poll(k2, d2.device_code)).json.error, 'authorization_pending')
  assert.equal((await poll(k2, d2.device_code)).status, 200)

  const k3 = await startFakeKimi({ autoApprove: true })
  t.after(() => k3.close())
  assert.equal((await poll(k3, (await deviceAuth(k3)).device_code)).status, 200)
})

test('oauth: invalid_client, strict form parsing, unknown grant', async (t) => {
  const k = await startFakeKimi()
  t.after(() => k.close())
  let r = await post(`${k.oauthHost}/api/oauth/device_authorization`, form({ client_id: 'not-the-kimi-client' }))
  assert.equal(r.status, 401)
  assert.equal(r.json.error, 'invalid_client')
  assert.equal(typeof r.json.error_description, 'string')
  r = await post(
    `${k.oauthHost}/api/oauth/token`,
    form({ client_id: 'x', grant_type: 'refresh_token', refresh_token: 'y' }),
  )
  assert.equal(r.status, 401)
  assert.equal(r.json.error, 'invalid_client')
  // JSON instead of a form
  r = await post(`${k.oauthHost}/api/oauth/device_authorization`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: CLIENT_ID }),
  })
  assert.equal(r.status, 400)
  assert.equal(r.json.error, 'invalid_request')
  // no scope, no PKCE (docs/kimi-wire.md §1.1): unexpected fields are rejected by this fake
  r = await post(`${k.oauthHost}/api/oauth/device_authorization`, form({ client_id: CLIENT_ID, scope: 'kimi-code' }))
  assert.equal(r.json.error, 'invalid_request')
  r = await post(
    `${k.oauthHost}/api/oauth/device_authorization`,
    form([
      ['client_id', CLIENT_ID],
      ['client_id', CLIENT_ID],
    ]),
  )
  assert.equal(r.json.error, 'invalid_request')
  r = await post(`${k.oauthHost}/api/oauth/token`, form({ client_id: CLIENT_ID, grant_type: 'password' }))
  assert.equal(r.json.error, 'unsupported_grant_type')
  r = await poll(k, 'no-such-device-code')
  assert.equal(r.json.error, 'invalid_grant')
})

test('refresh: rotation, invalid_grant on reuse, counters, old access token still valid', async (t) => {
  const k = await startFakeKimi({ accessTtl: 120 })
  t.after(() => k.close())
  const first = k.issueTokens()
  assert.equal(first.expires_in, 120)
  let r = await refresh(k, first.refresh_token)
  assert.equal(r.status, 200, r.text)
  const second = r.json
  assert.notEqual(second.access_token, first.access_token)
  assert.notEqual(second.refresh_token, first.refresh_token)
  assert.equal(second.expires_in, 120)
  assert.equal(second.scope, 'kimi-code')
  assert.equal(second.token_type, 'Bearer')
  assert.equal(k.refreshCount, 1)

  r = await refresh(k, first.refresh_token)
  assert.equal(r.status, 400)
  assert.equal(r.json.error, 'invalid_grant')
  assert.equal(typeof r.json.error_description, 'string')
  assert.equal(k.invalidGrantCount, 1)
  assert.equal(k.refreshTokenInfo(first.refresh_token).uses, 1)
  assert.equal(k.refreshTokenInfo(first.refresh_token).invalidUses, 1)
  assert.equal(k.refreshTokenInfo(first.refresh_token).replacedBy, second.refresh_token)

  // UNCONFIRMED real behaviour, documented choice: old access tokens live until their own expiry
  assert.equal((await chat(k, first.access_token, { stream: false })).status, 200)
  assert.equal((await chat(k, second.access_token, { stream: false })).status, 200)

  k.setAccessTtl(7)
  r = await refresh(k, second.refresh_token)
  assert.equal(r.json.expires_in, 7)
  assert.equal(k.refreshCount, 2)

  // server-side logout
  k.revokeAll()
  assert.equal((await chat(k, r.json.access_token, { stream: false })).status, 401)
  assert.equal((await refresh(k, r.json.refresh_token)).json.error, 'invalid_grant')
  assert.equal(k.invalidGrantCount, 2)
  assert.equal(k.issuedTokens().length, 6)
})

test('refresh: concurrent use of one refresh token -> exactly one winner', async (t) => {
  const k = await startFakeKimi({ refreshDelayMs: 150 })
  t.after(() => k.close())
  const { refresh_token } = k.issueTokens()
  const results = await Promise.all([refresh(k, refresh_token), refresh(k, refresh_token), refresh(k, refresh_token)])
  assert.deepEqual(results.map((r) => r.status).sort(), [200, 400, 400])
  assert.equal(k.refreshCount, 1)
  assert.equal(k.invalidGrantCount, 2)
})

test('API auth: 401 body, expired access token, static api keys', async (t) => {
  const k = await startFakeKimi({ apiKeys: ['sk-static-test'] })
  t.after(() => k.close())
  for (const tok of [null, 'bogus']) {
    const r = await fetch(`${k.baseUrl}/models`, { headers: tok ? { Authorization: `Bearer ${tok}` } : {} })
    assert.equal(r.status, 401)
    assert.deepEqual(await r.json(), ERRORS.invalidAuth401.body)
    assert.equal(ERRORS.invalidAuth401.body.error.type, 'invalid_authentication_error')
  }
  const { access_token } = k.issueTokens()
  assert.equal(
    (await fetch(`${k.baseUrl}/models`, { headers: { Authorization: `Bearer ${access_token}` } })).status,
    200,
  )
  k.expireAccessTokens(access_token)
  assert.equal(
    (await fetch(`${k.baseUrl}/models`, { headers: { Authorization: `Bearer ${access_token}` } })).status,
    401,
  )
  assert.equal((await chat(k, 'sk-static-test', { stream: false })).status, 200)
})

test('identity gate: UA-prefix allowlist on the coding routes, 403 for others; optional on /models and /usages', async (t) => {
  const k = await startFakeKimi()
  t.after(() => k.close())
  const { access_token: at } = k.issueTokens()
  let r = await chat(k, at, { stream: false }, { 'User-Agent': 'node' })
  assert.equal(r.status, 403)
  assert.deepEqual(await r.json(), {
    error: { message: MSG_ONLY_CODING_AGENTS, type: 'access_terminated_error' },
  })
  // docs/identity.md: the known coding agents pass by User-Agent prefix alone, no X-Msh-* needed
  for (const ua of [
    'KimiCLI/1.52.0',
    'kimi-code-cli/2.1.0 (web)',
    'claude-code/2.0.1',
    'claude-cli/2.1.332 (external, sdk-cli)',
    'pi/1.6.0 kimi-native/0.1.0 (linux; node/v22.23.3; x64)',
    'opencode/1.18.33 ai-sdk/provider-utils/4.0.23 runtime/bun/1.3.14 kimi-native/0.1.0 (linux; bun/1.3.14; x64)',
    'openclaw/2026.9.6 kimi-native/0.1.0 (linux; node/v24.16.0; x64)',
  ]) {
    assert.equal((await chat(k, at, { stream: false }, { 'User-Agent': ua })).status, 200, ua)
  }
  for (const ua of ['kimi-native/0.1.0 (linux; x64)', 'xpi/1.0', 'OpenAI/JS 7.15.0', 'Pi/1.6.0']) {
    assert.equal((await chat(k, at, { stream: false }, { 'User-Agent': ua })).status, 403, ua)
    assert.match(k.requests.at(-1).gateRejected, /not an accepted coding agent/)
  }
  const messages = (ua) =>
    fetch(`${k.baseUrl}/messages?beta=true`, {
      method: 'POST',
      headers: {
        'x-api-key': at,
        'User-Agent': ua,
        'content-type': 'application/json',
        'anthropic-version': '2023-06-01',
      },
      body: JSON.stringify({
        model: 'kimi-for-coding',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      }),
    })
  assert.equal((await messages('node')).status, 403, 'messages gated too')
  assert.equal((await (await messages('pi/1.6.0')).text()).includes('message_stop'), true)
  // 401 comes before 403
  assert.equal((await chat(k, 'bogus', { stream: false }, { 'User-Agent': 'node' })).status, 401)

  // /models and /usages: not gated by default (docs/kimi-wire.md §5.2; UNCONFIRMED for other UAs) ...
  const get = (p, ua) => fetch(`${k.baseUrl}${p}`, { headers: { Authorization: `Bearer ${at}`, 'User-Agent': ua } })
  for (const p of ['/models', '/usages']) assert.equal((await get(p, 'kimi-native/0.1.0 (linux; x64)')).status, 200, p)
  // ... unless asked for
  k.setIdentityGate(true, { gateModelsAndUsages: true })
  for (const p of ['/models', '/usages']) {
    assert.equal((await get(p, 'kimi-native/0.1.0 (linux; x64)')).status, 403, p)
    assert.equal((await get(p, 'pi/1.6.0 kimi-native/0.1.0')).status, 200, p)
  }
  k.setIdentityGate(true, { gateModelsAndUsages: false })

  // 'strict': the full official identity; mixed or partial identities are refused
  k.setIdentityGate('strict')
  assert.equal((await chat(k, at, { stream: false }, KIMI_CLI_IDENTITY)).status, 200)
  assert.equal((await chat(k, at, { stream: false }, { 'User-Agent': 'pi/1.6.0' })).status, 403)
  assert.equal(
    (await chat(k, at, { stream: false }, { ...KIMI_CODE_IDENTITY, 'X-Msh-Platform': 'kimi_cli' })).status,
    403,
  )
  const noDevice = { ...KIMI_CODE_IDENTITY }
  delete noDevice['X-Msh-Device-Id']
  assert.equal((await chat(k, at, { stream: false }, noDevice)).status, 403)
  assert.equal((await chat(k, at, { stream: false }, { ...KIMI_CODE_IDENTITY, 'X-Msh-Os-Version': '' })).status, 403)
  k.setIdentityGate(true)

  // A suspended account: every API request answers the documented 403, either variant
  for (const kind of ['accountSuspended403', 'accountBanned403']) {
    k.setSuspended(kind)
    r = await chat(k, at, { stream: false }, { 'User-Agent': 'pi/1.6.0' })
    assert.equal(r.status, 403)
    assert.deepEqual(await r.json(), ERRORS[kind].body)
    assert.equal((await get('/models', 'pi/1.6.0')).status, 403)
  }
  assert.equal(ERRORS.accountSuspended403.body.error.type, 'permission_error')
  k.setSuspended(null)

  r = await fetch(`${k.baseUrl}/usages`, { headers: { Authorization: `Bearer ${at}`, Accept: 'application/json' } })
  assert.equal(r.status, 200)
  const u = await r.json()
  assert.equal(typeof u.usage.used, 'string')
  assert.equal(typeof u.usage.limit, 'string')
  assert.ok(u.usage.resetTime)
  assert.deepEqual(u.limits[0].window, { duration: 300, timeUnit: 'TIME_UNIT_MINUTE' })
  assert.equal(typeof u.limits[0].detail.used, 'string')
  assert.equal(u.boosterWallet.balance.type, 'BOOSTER')
  assert.equal(typeof u.usages.limit_5h.used_ratio, 'number')

  k.setIdentityGate(false)
  assert.equal((await chat(k, at, { stream: false }, { 'User-Agent': 'node' })).status, 200)
})

test('GET /models shape (docs/kimi-wire.md §6.4)', async (t) => {
  const k = await startFakeKimi()
  t.after(() => k.close())
  const { access_token } = k.issueTokens()
  const r = await fetch(`${k.baseUrl}/models`, {
    headers: { ...KIMI_CODE_IDENTITY, Authorization: `Bearer ${access_token}`, Accept: 'application/json' },
  })
  const j = await r.json()
  assert.equal(j.object, 'list')
  assert.deepEqual(j.data, [
    {
      id: 'kimi-for-coding',
      object: 'model',
      context_length: 262144,
      display_name: 'Kimi-k2.6',
      supports_reasoning: true,
      supports_image_in: true,
      supports_video_in: true,
      supports_tool_use: true,
      supports_thinking_type: 'both',
      think_efforts: { support: true, valid_efforts: ['low', 'high', 'max'], default_effort: 'high' },
    },
  ])
  k.setModels([{ id: 'm2', object: 'model', context_length: 1000 }])
  const j2 = await (await fetch(`${k.baseUrl}/models`, { headers: { Authorization: `Bearer ${access_token}` } })).json()
  assert.equal(j2.data[0].id, 'm2')
})

test('chat SSE format: reasoning, content, Moonshot usage in choices[0], [DONE]', async (t) => {
  const k = await startFakeKimi({
    reply: { reasoning: 'thinking…', text: 'Hello there, world', chunkSize: 5, cachedTokens: 4 },
  })
  t.after(() => k.close())
  const { access_token } = k.issueTokens()
  const r = await chat(k, access_token, {})
  assert.equal(r.status, 200)
  assert.match(r.headers.get('content-type'), /^text\/event-stream/)
  assert.match(r.headers.get('x-trace-id'), /\S/)
  const ev = parseSse(await r.text())
  assert.equal(ev.at(-1), '[DONE]')
  const chunks = ev.slice(0, -1)
  for (const c of chunks) {
    assert.equal(c.object, 'chat.completion.chunk')
    assert.equal(c.model, 'kimi-for-coding')
    assert.equal(c.id, chunks[0].id)
  }
  const deltas = chunks.map((c) => c.choices[0].delta)
  const firstReasoning = deltas.findIndex((d) => d.reasoning_content)
  const firstContent = deltas.findIndex((d) => d.content)
  assert.ok(firstReasoning >= 0 && firstReasoning < firstContent, 'reasoning before content')
  assert.equal(deltas.map((d) => d.content || '').join(''), 'Hello there, world')
  assert.equal(deltas.filter((d) => d.content).length, 4)
  const last = chunks.at(-1).choices[0]
  assert.equal(last.finish_reason, 'stop')
  assert.equal(last.usage.cached_tokens, 4)
  assert.equal(last.usage.total_tokens, last.usage.prompt_tokens + last.usage.completion_tokens)
  assert.ok(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null))
})

test('chat: tool call stream and non-stream completion', async (t) => {
  const k = await startFakeKimi()
  t.after(() => k.close())
  const { access_token } = k.issueTokens()
  k.setReply({
    reasoning: 'use a tool',
    toolCalls: [{ id: 'tool_abc123', name: 'WebSearch', arguments: { query: 'kimi code' } }],
  })
  const ev = parseSse(await (await chat(k, access_token, {})).text()).slice(0, -1)
  const tc = ev.flatMap((c) => c.choices[0].delta.tool_calls || [])
  assert.equal(tc[0].id, 'tool_abc123')
  assert.equal(tc[0].type, 'function')
  assert.equal(tc[0].function.name, 'WebSearch')
  assert.deepEqual(JSON.parse(tc.map((x) => x.function.arguments || '').join('')), { query: 'kimi code' })
  assert.equal(ev.at(-1).choices[0].finish_reason, 'tool_calls')

  k.setReply({ text: 'plain' })
  const r = await chat(k, access_token, { stream: false })
  assert.match(r.headers.get('content-type'), /application\/json/)
  const j = await r.json()
  assert.equal(j.object, 'chat.completion')
  assert.equal(j.choices[0].message.role, 'assistant')
  assert.equal(j.choices[0].message.content, 'plain')
  assert.equal(j.choices[0].finish_reason, 'stop')
  assert.equal(typeof j.usage.prompt_tokens, 'number')

  k.enqueueReply({ text: 'once' })
  assert.equal((await (await chat(k, access_token, { stream: false })).json()).choices[0].message.content, 'once')
  assert.equal((await (await chat(k, access_token, { stream: false })).json()).choices[0].message.content, 'plain')
})

test('chat: 400 invalid JSON, 400 text content is empty, unknown model', async (t) => {
  const k = await startFakeKimi()
  t.after(() => k.close())
  const { access_token } = k.issueTokens()
  let r = await chat(k, access_token, '{"model":')
  assert.equal(r.status, 400)
  assert.equal((await r.json()).error.type, 'invalid_request_error')
  r = await chat(k, access_token, {
    messages: [
      { role: 'user', content: 'hi' },
      {
        role: 'assistant',
        content: [{ type: 'text', text: '' }],
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'Shell', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'out' },
    ],
  })
  assert.equal(r.status, 400)
  assert.match((await r.json()).error.message, /text content is empty/)
  // the content key omitted (what both clients do) is fine
  r = await chat(k, access_token, {
    messages: [
      { role: 'user', content: 'hi' },
      {
        role: 'assistant',
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'Shell', arguments: '{}' } }],
        reasoning_content: '',
      },
      { role: 'tool', tool_call_id: 'c1', content: 'out' },
    ],
  })
  assert.equal(r.status, 200)
  await r.text()
  r = await chat(k, access_token, { model: 'gpt-4o' })
  assert.equal(r.status, 404)
  assert.match((await r.json()).error.message, /gpt-4o/)
})

test('chat: big stream (5 MB) and slow dribble are streamed incrementally', async (t) => {
  const k = await startFakeKimi()
  t.after(() => k.close())
  const { access_token } = k.issueTokens()
  const bytes = 5 * 1024 * 1024
  k.setReply({ bigStreamBytes: bytes, chunkSize: 8192 })
  const t0 = Date.now()
  const r = await chat(k, access_token, {})
  const ev = parseSse(await r.text()).slice(0, -1)
  const text = ev.map((c) => c.choices[0].delta.content || '').join('')
  assert.equal(text.length, bytes)
  assert.equal(text, makeBigChunks(bytes, 8192).join(''))
  assert.ok(Date.now() - t0 < 5000, `5 MB took ${Date.now() - t0} ms`)

  k.setReply({ chunks: ['a', 'b', 'c', 'd', 'e'], chunkDelayMs: 150 })
  const start = Date.now()
  const r2 = await chat(k, access_token, {})
  const reader = r2.body.getReader()
  const dec = new TextDecoder()
  let seen = ''
  let firstContentAt = null
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    seen += dec.decode(value, { stream: true })
    if (firstContentAt === null && seen.includes('"content":"a"')) firstContentAt = Date.now() - start
  }
  const total = Date.now() - start
  assert.ok(total >= 600, `dribble total ${total} ms`)
  assert.ok(
    firstContentAt !== null && firstContentAt < total - 300,
    `first content at ${firstContentAt} of ${total} ms`,
  )
})

test('fault injection: status/headers/times, canned errors, delay, reset mid-stream, hang, client abort', async (t) => {
  const k = await startFakeKimi()
  t.after(() => k.close())
  const { access_token } = k.issueTokens()
  k.inject({ path: '/coding/v1/chat/completions', ...ERRORS.overloaded429, times: 2 })
  for (let i = 0; i < 2; i++) {
    const r = await chat(k, access_token, {})
    assert.equal(r.status, 429)
    assert.equal(r.headers.get('retry-after'), '1')
    assert.equal((await r.json()).error.type, 'engine_overloaded_error')
  }
  const ok = await chat(k, access_token, {})
  assert.equal(ok.status, 200)
  await ok.text()

  // in order, method + RegExp matching
  k.inject({ path: /\/chat\/completions$/, method: 'GET', status: 500 }) // never matches a POST
  k.inject({ path: /\/chat\/completions$/, ...ERRORS.quota429 })
  k.inject({ path: '/coding/v1/chat', ...ERRORS.membership402 })
  assert.equal((await chat(k, access_token, {})).status, 429)
  assert.equal((await chat(k, access_token, {})).status, 402)
  assert.equal(k.injections.length, 1)
  k.clearInjections()
  assert.equal(ERRORS.quota429.body.error.type, 'exceeded_current_quota_error')
  assert.equal(ERRORS.accessTerminated403.body.error.type, 'access_terminated_error')
  assert.equal(ERRORS.accountBanned403.status, 403)
  assert.equal(ERRORS.server500.status, 500)

  // string body + injected on the oauth host
  k.inject({ path: '/api/oauth/token', status: 503, body: 'upstream down' })
  const r503 = await refresh(k, 'whatever')
  assert.equal(r503.status, 503)
  assert.equal(r503.text, 'upstream down')

  // delay only: handled normally afterwards
  k.inject({ path: '/coding/v1/models', delayMs: 300 })
  const t0 = Date.now()
  assert.equal(
    (await fetch(`${k.baseUrl}/models`, { headers: { Authorization: `Bearer ${access_token}` } })).status,
    200,
  )
  assert.ok(Date.now() - t0 >= 280)

  // reset mid-stream: some SSE arrives, then the connection dies
  k.inject({ path: '/coding/v1/chat/completions', resetMidStream: 3 })
  const rr = await chat(k, access_token, {})
  assert.equal(rr.status, 200)
  const reader = rr.body.getReader()
  let got = ''
  await assert.rejects(async () => {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      got += Buffer.from(value).toString()
    }
  })
  assert.equal(got.split('\n\n').filter((s) => s.startsWith('data: ')).length, 3)
  assert.ok(!got.includes('[DONE]'))

  // hang: never answers
  k.inject({ path: '/coding/v1/models', hang: true })
  await assert.rejects(
    fetch(`${k.baseUrl}/models`, {
      headers: { Authorization: `Bearer ${access_token}` },
      signal: AbortSignal.timeout(300),
    }),
    /abort|timeout/i,
  )

  // client aborts in the middle of a big stream; the server keeps working
  k.setReply({ bigStreamBytes: 20 * 1024 * 1024 })
  const big = await chat(k, access_token, {}, KIMI_CODE_IDENTITY)
  const br = big.body.getReader()
  await br.read()
  await br.cancel()
  k.setReply(null)
  const after = await chat(k, access_token, { stream: false })
  assert.equal(after.status, 200)
  assert.equal((await after.json()).choices[0].message.content, 'hi')
})

test('requests log keeps raw header order/case and body; keep-alive connection reuse', async (t) => {
  const k = await startFakeKimi()
  t.after(() => k.close())
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.after(() => agent.destroy())
  const send = (headers, body) =>
    new Promise((resolve, reject) => {
      const req = http.request(`${k.url}/api/oauth/device_authorization`, { method: 'POST', agent, headers }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode))
      })
      req.on('error', reject)
      req.end(body)
    })
  const body = `client_id=${CLIENT_ID}`
  const headers = [
    ['Host', new URL(k.url).host],
    ['X-Msh-Platform', 'kimi_cli'],
    ['User-Agent', 'Python/3.13 aiohttp/3.13.3'],
    ['Content-Length', String(body.length)],
    ['Content-Type', 'application/x-www-form-urlencoded'],
  ]
  assert.equal(await send(headers.flat(), body), 200)
  assert.equal(await send(headers.flat(), body), 200)
  const [a, b] = k.requests
  assert.equal(a.method, 'POST')
  assert.equal(a.path, '/api/oauth/device_authorization')
  assert.equal(a.body, body)
  assert.equal(a.body.length, 46)
  assert.deepEqual(
    a.headers.filter(([n]) => n !== 'Connection'),
    headers,
  )
  assert.equal(typeof a.time, 'number')
  assert.equal(a.status, 200)
  assert.equal(a.connectionId, b.connectionId, 'keep-alive: one connection')
  assert.equal(k.requestsTo('/api/oauth').length, 2)
  k.reset()
  assert.equal(k.requests.length, 0)
})

test('Anthropic route /messages?beta=true with x-api-key', async (t) => {
  const k = await startFakeKimi({ reply: { reasoning: 'r', text: 'hi' } })
  t.after(() => k.close())
  const { access_token } = k.issueTokens()
  const lower = Object.fromEntries(Object.entries(KIMI_CODE_IDENTITY).map(([a, b]) => [a.toLowerCase(), b]))
  const r = await fetch(`${k.baseUrl}/messages?beta=true`, {
    method: 'POST',
    headers: {
      ...lower,
      'x-api-key': access_token,
      'anthropic-version': '2023-06-01',
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      model: 'kimi-for-coding',
      max_tokens: 100,
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    }),
  })
  assert.equal(r.status, 200)
  const text = await r.text()
  const types = [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1])
  assert.equal(types[0], 'message_start')
  assert.equal(types.at(-1), 'message_stop')
  assert.ok(types.includes('content_block_delta'))
  assert.match(text, /"text_delta","text":"hi"/)
  assert.equal(k.requests[0].path, '/coding/v1/messages?beta=true')
  const bad = await fetch(`${k.baseUrl}/messages?beta=true`, {
    method: 'POST',
    headers: { ...lower, 'x-api-key': 'nope', 'content-type': 'application/json' },
    body: '{}',
  })
  assert.equal(bad.status, 401)
})

test('standalone process: JSON line, control endpoints, JSONL log', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-kimi-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const log = path.join(dir, 'req.jsonl')
  const child = spawn(
    process.execPath,
    [path.join(__dirname, 'fake-kimi', 'server.js'), '--interval', '1', '--access-ttl', '60', '--log', log],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  t.after(() => {
    if (child.exitCode === null) child.kill()
  })
  const info = await new Promise((resolve, reject) => {
    let buf = ''
    child.stdout.on('data', (d) => {
      buf += d
      const nl = buf.indexOf('\n')
      if (nl >= 0) resolve(JSON.parse(buf.slice(0, nl)))
    })
    child.on('exit', (c) => reject(new Error(`exited ${c}`)))
  })
  assert.match(info.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  assert.equal(info.oauthHost, info.url)
  assert.equal(info.baseUrl, `${info.url}/coding/v1`)
  const ctl = async (name, body) => {
    const r = await fetch(
      `${info.url}/__control/${name}`,
      body === undefined
        ? {}
        : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    )
    return r.json()
  }
  const k = { oauthHost: info.url, baseUrl: info.baseUrl }
  const da = await deviceAuth(k)
  assert.equal(da.interval, 1)
  assert.equal((await poll(k, da.device_code)).json.error, 'authorization_pending')
  assert.equal((await ctl('approve', {})).status, 'approved')
  await sleep(900)
  const tok = (await poll(k, da.device_code)).json
  assert.equal(tok.expires_in, 60)
  assert.deepEqual(await ctl('tokens'), [tok.access_token, tok.refresh_token])
  const issued = await ctl('issue', {})
  assert.match(issued.access_token, /^fk-at-/)

  assert.deepEqual(
    await ctl('inject', { pathRegex: 'chat/completions$', status: 403, body: ERRORS.accessTerminated403.body }),
    { ok: true, path: String(/chat\/completions$/), times: 1 },
  )
  const r = await chat(k, tok.access_token, {})
  assert.equal(r.status, 403)
  assert.equal((await r.json()).error.message, MSG_ONLY_CODING_AGENTS)
  await ctl('reply', { text: 'from control' })
  const j = await (await chat(k, tok.access_token, { stream: false })).json()
  assert.equal(j.choices[0].message.content, 'from control')

  const reqs = await ctl('requests')
  assert.equal(reqs.length, 5)
  assert.ok(reqs.every((x) => !x.path.startsWith('/__control')))
  assert.equal((await ctl('requests?prefix=/coding/v1')).length, 2)
  const state = await ctl('state')
  assert.equal(state.tokenIssueCount, 2)

  await ctl('revoke-all', {})
  assert.equal((await chat(k, issued.access_token, { stream: false })).status, 401)
  await ctl('reset', {})
  assert.equal((await ctl('requests')).length, 0)

  const lines = fs
    .readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
  assert.equal(lines.length, 6)
  assert.deepEqual(Object.keys(lines[0]).sort(), ['body', 'headers', 'method', 'path', 'request_version', 'time'])
  assert.equal(lines[0].path, '/api/oauth/device_authorization')
  assert.equal(lines[0].body, `client_id=${CLIENT_ID}`)

  await ctl('shutdown', {})
  const code = child.exitCode ?? (await new Promise((r) => child.on('exit', r)))
  assert.equal(code, 0)
})

// Parity: the official clients log in against this fake exactly as they did against the capture server.
// Opt-in (first run installs Node 22 + kimi-code, and kimi-cli in a venv: about 2 minutes; later runs ~3 s each).
const REAL = process.env.KIMI_REAL_CLIENTS === '1'
const realSkip = REAL ? false : 'set KIMI_REAL_CLIENTS=1 to run the official clients against the fake server'

function normalizeBody(body) {
  return body.replace(/device_code=[^&]+/, 'device_code=<dc>').replace(/refresh_token=[^&]+$/, 'refresh_token=<rt>')
}
function kindOf(rec) {
  if (rec.path.startsWith('/api/oauth/token')) return rec.body.includes('device_code=') ? 'poll' : 'refresh'
  return `${rec.method} ${rec.path}`
}
function assertSameAsGolden(captured, golden) {
  const { headerNames } = require('./helpers/golden')
  for (const g of golden) {
    const c = captured.find((r) => kindOf(r) === kindOf(g))
    assert.ok(c, `client sent no ${kindOf(g)}`)
    assert.deepEqual(headerNames(c), headerNames(g), `header names/order of ${kindOf(g)}`)
    assert.equal(normalizeBody(c.body), normalizeBody(g.body), `body of ${kindOf(g)}`)
  }
}

test('parity: kimi-code 2.1.0 `kimi login` against the fake server', { skip: realSkip, timeout: 300000 }, async (t) => {
  const { captureKimiCode } = require('./helpers/real-clients')
  const { loadGolden } = require('./helpers/golden')
  const k = await startFakeKimi({ deviceInterval: 1 })
  t.after(() => k.close())
  const r = await captureKimiCode(k, { timeoutMs: 60000 })
  if (r.skipped) return t.skip(r.skipped)
  t.after(() => fs.rmSync(r.home, { recursive: true, force: true }))
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr + r.stdout, /Logged in/)
  assert.deepEqual(r.requests.map(kindOf), [
    'POST /api/oauth/device_authorization',
    'poll',
    'poll',
    'GET /coding/v1/models',
  ])
  assert.deepEqual(
    r.requests.map((x) => x.status),
    [200, 400, 200, 200],
  )
  assert.ok(r.requests[2].time - r.requests[1].time >= 900, 'waited `interval` between polls')
  const golden = loadGolden('ts-login')
  assert.ok(golden, 'the vendored golden capture __test__/golden/ts-login.jsonl is missing')
  assertSameAsGolden(r.requests, golden)
  assert.ok(r.files.some((f) => f.startsWith('credentials/kimi-code')))
})

test(
  'parity: kimi-cli 1.52.0 device login + refresh + models against the fake server',
  { skip: realSkip, timeout: 600000 },
  async (t) => {
    const { captureKimiCli } = require('./helpers/real-clients')
    const { loadGolden } = require('./helpers/golden')
    const k = await startFakeKimi({ deviceInterval: 1 })
    t.after(() => k.close())
    const r = await captureKimiCli(k, { timeoutMs: 60000 })
    if (r.skipped) return t.skip(r.skipped)
    t.after(() => {
      fs.rmSync(r.home, { recursive: true, force: true })
      fs.rmSync(r.shareDir, { recursive: true, force: true })
    })
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(
      r.events.map((e) => (e.event === 'login' ? e.type : e.event)),
      ['info', 'verification_url', 'waiting', 'success', 'refresh', 'models'],
    )
    assert.deepEqual(r.requests.map(kindOf), [
      'POST /api/oauth/device_authorization',
      'poll',
      'poll',
      'GET /coding/v1/models',
      'refresh',
      'GET /coding/v1/models',
    ])
    assert.ok(r.requests.every((x) => x.status === 200 || (kindOf(x) === 'poll' && x.status === 400)))
    assert.equal(k.refreshCount, 1)
    const golden = loadGolden('py-login-refresh-models')
    assert.ok(golden, 'the vendored golden capture __test__/golden/py-login-refresh-models.jsonl is missing')
    assertSameAsGolden(r.requests, golden)
    assert.deepEqual(r.files, ['config.toml', 'credentials/kimi-code.json', 'device_id'])
  },
)
