'use strict'
// Assertions shared by the pi e2e tests (pi 0.73/0.74 on the test Node, pi 1.x on its own Node): what the
// fake Kimi server saw, what pi printed, and what pi wrote to disk.

const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const CHAT = '/coding/v1/chat/completions'
// Official-client identities that must never appear in the honest default profile (identity contract).
const OFFICIAL_IDENTITY = /kimi-code-cli\/|KimiCLI\/|kimi_code_cli|kimi_cli/

function header(rec, name) {
  const n = name.toLowerCase()
  const hit = rec.headers.find(([k]) => k.toLowerCase() === n)
  return hit && hit[1]
}
const bearer = (rec) => (header(rec, 'authorization') || '').replace(/^Bearer /, '')
const bodyOf = (rec) => JSON.parse(rec.body)

function jsonLines(stdout) {
  const out = []
  for (const line of stdout.split('\n')) {
    try {
      out.push(JSON.parse(line))
    } catch {}
  }
  return out
}

function sessionIdOf(stdout) {
  const ev = jsonLines(stdout).find((e) => e.type === 'session')
  return ev ? ev.id : null
}

/** Text of the last assistant message in `--mode json` output. */
function replyText(stdout) {
  let text = null
  for (const ev of jsonLines(stdout)) {
    if (ev.type === 'message_end' && ev.message && ev.message.role === 'assistant') {
      text = ev.message.content
        .filter((c) => c.type === 'text')
        .map((c) => c.text)
        .join('')
    }
  }
  return text
}

function filesUnder(dir) {
  const out = []
  let entries = []
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return out
  }
  for (const e of entries) {
    const full = path.join(dir, e.name)
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') out.push(...filesUnder(full))
    } else if (e.isFile()) out.push(full)
  }
  return out
}

/**
 * Checks bound to one core and one fake server. `host` is the product token of the pi under test
 * ('pi/<version>'), the one the adapter passes to the core.
 */
function piChecks({ core, fake }) {
  // This test process stands for the user, whose environment names the fake server: the core sends a credential to
  // a server given only as an option when the environment names it (docs/security.md).
  process.env.KIMI_NATIVE_TRUSTED_ORIGINS = fake.url
  const coreOpts = (sb) => ({ home: sb.kimiHome, store: 'file', oauthHost: fake.oauthHost, baseUrl: fake.baseUrl })
  const piEnv = (sb, extra = {}) => ({
    KIMI_CODE_BASE_URL: fake.baseUrl,
    KIMI_CODE_OAUTH_HOST: fake.oauthHost,
    ...extra,
  })
  const chatsSince = (since) => fake.requests.slice(since).filter((q) => q.path.startsWith(CHAT))

  /** The login `npx kimi-native login` does, into the sandbox's native store (approved on the fake). */
  const nativeLogin = (sb) =>
    core.login({ ...coreOpts(sb), onDeviceCode: (code) => setImmediate(() => fake.approve(code.userCode)) })

  async function accountModel(sb) {
    const list = await core.models(coreOpts(sb))
    return list.find((m) => m.id === core.PROVIDER.defaultModel) || list[0]
  }

  function assertNoSecretInPiAuth(sb) {
    const raw = sb.readAuth() || ''
    for (const secret of fake.issuedTokens())
      assert.ok(!raw.includes(secret), `pi auth.json holds a token the server issued`)
    return raw
  }

  /** No issued token in any file pi may write (agent dir, HOME: sessions, auth, caches, settings). */
  function assertNoSecretInPiFiles(sb) {
    const tokens = fake.issuedTokens()
    assert.ok(tokens.length > 0, 'the server issued tokens to look for')
    // kimi-native's own home and the official clients' dirs are where tokens belong; everything else is pi's.
    const own = [sb.kimiHome, ...Object.values(sb.kimiEnv())].filter((d) => path.isAbsolute(d)).map((d) => d + path.sep)
    const files = [...filesUnder(sb.agentDir), ...filesUnder(sb.home)].filter((f) => !own.some((d) => f.startsWith(d)))
    for (const file of files) {
      const text = fs.readFileSync(file, 'latin1')
      for (const secret of tokens)
        assert.ok(!text.includes(secret), `${path.relative(sb.dir, file)} holds a token the server issued`)
    }
    return files
  }

  /**
   * The identity the core builds for `host`: every header exactly, except an honest User-Agent, where the
   * host's own UA as it sent it may stand for its bare token (and the runtime is pi's Node, not the tests').
   */
  function assertIdentity(rec, sb, host) {
    for (const [name, value] of core.buildHeaders({ ...coreOpts(sb), host })) {
      if (name.toLowerCase() === 'user-agent' && value.includes(' kimi-native/')) assertHonestUA(rec, host)
      else assert.equal(header(rec, name), value, `identity header ${name}`)
    }
  }

  /** The identity contract: the host's own token first, then kimi-native's, no official-client identity. */
  function assertHonestUA(rec, host) {
    const ua = header(rec, 'user-agent') || ''
    assert.ok(ua.startsWith(`${host} `), `User-Agent starts with ${host}: ${ua}`)
    assert.match(ua, / kimi-native\/\S+ \([^)]*\)$/, `kimi-native's product token follows: ${ua}`)
    for (const [k, v] of rec.headers) assert.doesNotMatch(`${k}: ${v}`, OFFICIAL_IDENTITY)
  }

  /** Checks every chat request of a run; returns the parsed bodies. */
  function assertChatShape(recs, sb, { effort, sessionId, modelInfo, host }) {
    const bodies = recs.map(bodyOf)
    const expected = core.shapeRequest(
      { model: modelInfo.id, messages: [{ role: 'user', content: 'x' }], stream: true },
      { model: modelInfo.id, effort, sessionId, modelInfo },
    )
    for (const [i, body] of bodies.entries()) {
      const rec = recs[i]
      assert.ok(fake.issuedTokens().includes(bearer(rec)), 'bearer is an issued token')
      assertIdentity(rec, sb, host)
      assert.equal(body.model, modelInfo.id)
      assert.equal(body.stream, true)
      assert.ok(!('reasoning_effort' in body), 'no reasoning_effort')
      assert.ok(!('store' in body), 'no store')
      assert.ok(!('enable_thinking' in body), 'no enable_thinking')
      assert.deepEqual(body.thinking, expected.thinking, `thinking as the core shapes it for effort ${effort}`)
      if (effort === 'off') assert.deepEqual(body.thinking, { type: 'disabled' })
      else {
        assert.equal(body.thinking.type, 'enabled')
        assert.equal(body.thinking.keep, 'all')
      }
      assert.equal(body.prompt_cache_key, expected.prompt_cache_key)
      assert.ok(String(body.prompt_cache_key).endsWith(sessionId), 'cache key derived from the pi session id')
      const roles = body.messages.map((m) => m.role)
      assert.equal(roles[0], 'system')
      assert.ok(
        roles.every((r) => ['system', 'user', 'assistant', 'tool'].includes(r)),
        `roles ${roles}`,
      )
      for (const t of body.tools || []) assert.ok(!('strict' in t.function), 'no strict on tools')
    }
    return bodies
  }

  return {
    coreOpts,
    piEnv,
    chatsSince,
    nativeLogin,
    accountModel,
    assertNoSecretInPiAuth,
    assertNoSecretInPiFiles,
    assertIdentity,
    assertHonestUA,
    assertChatShape,
  }
}

module.exports = { CHAT, header, bearer, bodyOf, sessionIdOf, replyText, piChecks }
