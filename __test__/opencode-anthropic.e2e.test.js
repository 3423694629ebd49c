'use strict'
// End to end: the opt-in Anthropic-compatible provider block (docs/opencode.md) in the real opencode binary (pinned), against
// the fake Kimi server. Proves: opencode's bundled @ai-sdk/anthropic goes through the core's fetch to
// POST /coding/v1/messages?beta=true with x-api-key holding the native login's token, opencode's UA first then
// kimi-native, thinking per variant, the reply comes back, and no token lands in opencode's files.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const { REPO, ensureHost, createSandbox } = require('./helpers/sandbox')

const DOC = path.join(REPO, 'docs', 'opencode.md')
const RUN_TIMEOUT_MS = 180000

/** The Anthropic opencode.json block documented in docs/opencode.md. */
function documentedConfig() {
  const md = fs.readFileSync(DOC, 'utf8')
  const m =
    /<!-- opencode-anthropic-json:begin -->\s*```json\n([\s\S]*?)```\s*<!-- opencode-anthropic-json:end -->/.exec(md)
  assert.ok(m, 'docs/opencode.md has the opencode-anthropic-json block')
  return JSON.parse(m[1])
}

const header = (pairs, name) => {
  const hit = pairs.find(([k]) => k.toLowerCase() === name.toLowerCase())
  return hit ? hit[1] : undefined
}

function parseEvents(stdout) {
  const out = []
  for (const line of stdout.split('\n')) {
    try {
      if (line.trim().startsWith('{')) out.push(JSON.parse(line))
    } catch {}
  }
  return out
}

const LOGIN = `'use strict'
const core = require(process.env.KN_REPO)
core.login({ onDeviceCode: (c) => process.stdout.write(JSON.stringify({ deviceCode: c.userCode }) + '\\n') }).then(
  () => process.stdout.write('{"done":true}\\n'),
  (e) => { process.stdout.write(JSON.stringify({ error: e.code }) + '\\n'); process.exitCode = 1 },
)
`

test('opencode with the Anthropic-compatible provider block', { timeout: 20 * 60000 }, async (t) => {
  const oc = ensureHost({ host: 'opencode' })
  if (!oc.ok) {
    if (process.env.CI === 'true') assert.fail(oc.reason)
    return t.skip(oc.reason)
  }
  const core = require(REPO)
  const { OPENCODE_ANTHROPIC_ID, opencodeAnthropicProvider } = require('../lib/host-config')
  const { startFakeKimi } = require('./fake-kimi/server')
  const kimi = await startFakeKimi({ deviceInterval: 1 })
  const sb = createSandbox({
    host: 'opencode',
    env: { KIMI_CODE_OAUTH_HOST: kimi.oauthHost, KIMI_CODE_BASE_URL: kimi.baseUrl },
  })
  t.after(async () => {
    if (!process.env.KEEP_OPENCODE_SANDBOX) sb.cleanup()
    await kimi.close()
  })

  const ID = OPENCODE_ANTHROPIC_ID
  const MODEL = core.PROVIDER.defaultModel
  const documented = documentedConfig()
  assert.deepEqual(documented.provider, opencodeAnthropicProvider(), 'documented block equals lib/host-config')
  sb.writeConfig({ ...documented, plugin: [pathToFileURL(REPO).href] })

  const ocRun = async ({ variant, prompt = 'say hi' } = {}) => {
    const since = kimi.requests.length
    const args = ['run', '-m', `${ID}/${MODEL}`, '--format', 'json', '--title', 'kimi-native anthropic e2e']
    if (variant) args.push('--variant', variant)
    args.push(prompt)
    const r = await sb.opencode(args, { timeoutMs: RUN_TIMEOUT_MS })
    r.all = kimi.requests.slice(since)
    r.messages = r.all.filter((q) => q.path.startsWith('/coding/v1/messages'))
    r.events = parseEvents(r.stdout)
    r.sessionID = (r.events.find((e) => e.sessionID) || {}).sessionID
    r.failures = sb.pluginFailures(r)
    r.describe = `rc=${r.code} timedOut=${r.timedOut} ms=${r.ms}\nstdout: ${r.stdout.slice(-1500)}\nstderr: ${r.stderr.slice(-1500)}\nplugin failures: ${r.failures.join(' | ')}\nrequests: ${r.all.map((q) => `${q.method} ${q.path}`).join(', ')}`
    return r
  }

  await t.test('without a login the run ends with the core message, not a request without credentials', async () => {
    const r = await ocRun()
    assert.deepEqual(r.failures, [], r.describe)
    assert.equal(r.messages.length, 0, r.describe)
    assert.match(`${r.stdout}\n${r.stderr}`, /KIMI_NOT_LOGGED_IN|not logged in/i, r.describe)
  })

  let tokens = []
  await t.test('native login (what `npx kimi-native login` does)', async () => {
    const script = path.join(sb.dir, 'login.js')
    fs.writeFileSync(script, LOGIN)
    const before = new Set(kimi.issuedTokens())
    let shown = false
    const r = await sb.node([script], {
      env: { KN_REPO: REPO },
      timeoutMs: RUN_TIMEOUT_MS,
      onStdout: (s) => {
        const m = /"deviceCode":"([A-Z0-9-]+)"/.exec(s)
        if (m && !shown) {
          shown = true
          kimi.approve(m[1])
        }
      },
    })
    assert.equal(r.code, 0, r.stdout + r.stderr)
    tokens = kimi.issuedTokens().filter((x) => !before.has(x))
    assert.ok(tokens.length >= 2, 'the fake server issued tokens')
  })

  const assertMessagesRequest = (q, what) => {
    assert.equal(q.method, 'POST', what)
    assert.equal(q.path, '/coding/v1/messages?beta=true', `${what}: Anthropic route with ?beta=true`)
    const key = header(q.headers, 'x-api-key')
    assert.ok(key && tokens.includes(key), `${what}: x-api-key holds a token the fake server issued`)
    assert.equal(header(q.headers, 'authorization'), undefined, `${what}: no bearer on the Anthropic route`)
    const ua = header(q.headers, 'user-agent') || ''
    assert.ok(ua.startsWith(`opencode/${oc.version} `), `${what}: opencode's UA first: ${ua}`)
    assert.match(ua, / kimi-native\/\S+ /, `${what}: then kimi-native: ${ua}`)
    for (const name of Object.values(core.HINT_HEADERS))
      assert.equal(header(q.headers, name), undefined, `${what}: ${name} stripped`)
    const body = JSON.parse(q.body)
    assert.equal(body.model, MODEL, what)
    assert.equal(body.reasoningEffort, undefined, `${what}: no reasoningEffort in the body`)
    return body
  }

  await t.test('a run reaches /coding/v1/messages?beta=true and the reply reaches opencode', async () => {
    const r = await ocRun({ variant: 'high' })
    assert.deepEqual(r.failures, [], r.describe)
    assert.equal(r.code, 0, r.describe)
    assert.ok(!r.events.some((e) => e.type === 'error'), r.describe)
    assert.ok(
      r.events.some((e) => e.type === 'text' && e.part && e.part.text),
      `reply text came back\n${r.describe}`,
    )
    assert.ok(r.messages.length >= 1, r.describe)
    assert.ok(
      !r.all.some((q) => q.path.startsWith('/coding/v1/chat/completions')),
      `no OpenAI-route request\n${r.describe}`,
    )
    for (const tok of tokens)
      assert.ok(!r.stdout.includes(tok) && !r.stderr.includes(tok), 'no token in opencode output')
    const body = assertMessagesRequest(r.messages[0], 'variant high')
    assert.deepEqual(body.thinking, { type: 'enabled' }, 'variant high: thinking on')
    assert.ok(body.output_config && body.output_config.effort, 'variant high: output_config.effort set')
    assert.deepEqual(
      body.metadata,
      { user_id: r.sessionID },
      'metadata.user_id: opencode session id (default profile, no kimi-code prefix)',
    )
    console.log(`opencode ${oc.version} Anthropic route UA: ${header(r.messages[0].headers, 'user-agent')}`)
  })

  await t.test('variant off turns thinking off', async () => {
    const r = await ocRun({ variant: 'off' })
    assert.equal(r.code, 0, r.describe)
    assert.ok(r.messages.length >= 1, r.describe)
    const body = assertMessagesRequest(r.messages[0], 'variant off')
    assert.deepEqual(body.thinking, { type: 'disabled' }, 'variant off: thinking disabled')
    assert.equal(body.output_config, undefined, 'variant off: no output_config')
  })

  await t.test(
    'no variant: no Claude adaptive thinking reaches Kimi (server default, as on the OpenAI route)',
    async () => {
      const r = await ocRun()
      assert.equal(r.code, 0, r.describe)
      assert.ok(r.messages.length >= 1, r.describe)
      const body = assertMessagesRequest(r.messages[0], 'no variant')
      assert.equal(body.thinking, undefined, `no variant: no thinking field: ${JSON.stringify(body.thinking)}`)
      assert.equal(body.output_config, undefined, 'no variant: no output_config')
    },
  )

  await t.test('next to the default provider: each provider keeps its own route', async () => {
    const { opencodeConfig } = require('../lib/host-config')
    const both = opencodeConfig()
    both.plugin = [pathToFileURL(REPO).href]
    Object.assign(both.provider, documented.provider)
    sb.writeConfig(both)
    const a = await ocRun({ variant: 'high' })
    assert.equal(a.code, 0, a.describe)
    assert.ok(a.messages.length >= 1 && !a.all.some((q) => q.path.startsWith('/coding/v1/chat/')), a.describe)
    assertMessagesRequest(a.messages[0], 'both configured, Anthropic provider')
    const since = kimi.requests.length
    const r = await sb.opencode(
      ['run', '-m', `${core.PROVIDER.opencodeId}/${MODEL}`, '--format', 'json', '--title', 'x', 'say hi'],
      {
        timeoutMs: RUN_TIMEOUT_MS,
      },
    )
    const all = kimi.requests.slice(since)
    const describe = `rc=${r.code}\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-1500)}\n${all.map((q) => q.path).join(', ')}`
    assert.equal(r.code, 0, describe)
    assert.ok(
      all.some((q) => q.path === '/coding/v1/chat/completions'),
      `default provider on the OpenAI route\n${describe}`,
    )
    assert.ok(!all.some((q) => q.path.startsWith('/coding/v1/messages')), describe)
  })

  await t.test('no token in opencode files or output', async () => {
    const text = sb.opencodeFilesText()
    for (const tok of tokens) assert.ok(!text.includes(tok), 'token not in opencode files')
    const auth = sb.readAuth() || {}
    assert.equal(auth[ID], undefined, 'the Anthropic provider needs no auth.json entry')
    for (const entry of Object.values(auth)) for (const tok of tokens) assert.ok(!JSON.stringify(entry).includes(tok))
  })
})
