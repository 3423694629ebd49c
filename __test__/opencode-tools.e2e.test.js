'use strict'
// End to end: the opt-in kimi_search tool inside the real opencode binary (pinned, see helpers/hosts/opencode.js)
// against the fake Kimi server. The fake model calls kimi_search; opencode runs the plugin's tool, which goes
// through the core to POST /coding/v1/search; the result reaches the model in the next chat turn. Turning tools on is
// the user's own config.json in the kimi-native home; without it no tool is offered at all. What a project can write
// only narrows it: its .kimi-native.json, and the plugin options of its opencode.json (the sandbox's opencode.json
// is the project's, which opencode merges into plugin options): a project that turns tools on gets none offered.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const { REPO, ensureHost, createSandbox } = require('./helpers/sandbox')
const { opencodeConfig } = require('../lib/host-config')

const RUN_TIMEOUT_MS = 180000
// A static key the fake server accepts (no login flow needed for this test); not token-shaped on purpose.
const API_KEY = 'fake-kimi-key-for-the-tools-test'

function parseEvents(stdout) {
  const out = []
  for (const line of stdout.split('\n')) {
    try {
      if (line.trim().startsWith('{')) out.push(JSON.parse(line))
    } catch {}
  }
  return out
}

test('opencode runs kimi_search end to end when the user enables it', { timeout: 15 * 60000 }, async (t) => {
  const oc = ensureHost({ host: 'opencode' })
  if (!oc.ok) {
    if (process.env.CI === 'true') assert.fail(`opencode could not be installed: ${oc.reason}`)
    return t.skip(oc.reason)
  }
  const core = require(REPO)
  const { startFakeKimi } = require('./fake-kimi/server')
  const kimi = await startFakeKimi({ apiKeys: [API_KEY] })
  const sandboxes = []
  t.after(async () => {
    for (const sb of sandboxes) if (!process.env.KEEP_OPENCODE_SANDBOX) sb.cleanup()
    await kimi.close()
  })
  // The fake model: call kimi_search when it is offered and no tool result is there yet, else answer.
  kimi.setReply((body) => {
    const last = body.messages[body.messages.length - 1]
    const offered = (body.tools || []).some((x) => x.function && x.function.name === 'kimi_search')
    if (offered && last.role !== 'tool') {
      return { toolCalls: [{ id: 'call_kimi_1', name: 'kimi_search', arguments: { query: 'kimi code', limit: null } }] }
    }
    return { text: last.role === 'tool' ? 'searched' : 'hi' }
  })

  const ID = core.PROVIDER.opencodeId
  const MODEL = core.PROVIDER.defaultModel
  const run = async (pluginEntry, { projectConfig, userConfig } = {}) => {
    const sb = createSandbox({
      host: 'opencode',
      env: { KIMI_CODE_OAUTH_HOST: kimi.oauthHost, KIMI_CODE_BASE_URL: kimi.baseUrl, KIMI_API_KEY: API_KEY },
    })
    sandboxes.push(sb)
    sb.writeConfig({ ...opencodeConfig(), plugin: [pluginEntry] })
    if (projectConfig) fs.writeFileSync(path.join(sb.project, core.CONFIG_FILES.project), JSON.stringify(projectConfig))
    if (userConfig) fs.writeFileSync(path.join(sb.kimiHome, core.CONFIG_FILES.user), JSON.stringify(userConfig))
    const since = kimi.requests.length
    const r = await sb.opencode(
      ['run', '-m', `${ID}/${MODEL}`, '--format', 'json', '--title', 'tools e2e', 'search the web for kimi code'],
      {
        timeoutMs: RUN_TIMEOUT_MS,
      },
    )
    r.sb = sb
    r.requests = kimi.requests.slice(since)
    r.chats = r.requests.filter((q) => q.path.startsWith('/coding/v1/chat/completions'))
    r.events = parseEvents(r.stdout)
    r.failures = sb.pluginFailures(r)
    r.describe = `rc=${r.code} timedOut=${r.timedOut} ms=${r.ms}\nstdout: ${r.stdout.slice(-2000)}\nstderr: ${r.stderr.slice(-1500)}\nplugin failures: ${r.failures.join(' | ')}`
    return r
  }
  const plugin = pathToFileURL(REPO).href

  await t.test(
    'config.json { tools: true } → the model calls kimi_search, the result comes back in the next turn',
    async () => {
      const r = await run(plugin, { userConfig: { tools: true } })
      assert.deepEqual(r.failures, [], r.describe)
      assert.equal(r.code, 0, r.describe)
      const offered = JSON.parse(r.chats[0].body).tools.map((x) => x.function.name)
      for (const name of ['kimi_search', 'kimi_fetch', 'kimi_datasource'])
        assert.ok(offered.includes(name), `${name} offered: ${offered}`)
      const kimiSearch = JSON.parse(r.chats[0].body).tools.find((x) => x.function.name === 'kimi_search')
      assert.deepEqual(kimiSearch.function.parameters.required, ['query', 'limit'])
      const searches = r.requests.filter((q) => q.path === '/coding/v1/search')
      assert.equal(searches.length, 1, r.describe)
      assert.equal(searches[0].body, '{"text_query":"kimi code","limit":5}')
      assert.equal(searches[0].headers.find(([k]) => k.toLowerCase() === 'authorization')[1], `Bearer ${API_KEY}`)
      assert.equal(r.chats.length, 2, r.describe)
      const second = JSON.parse(r.chats[1].body)
      const toolMsg = second.messages.find((m) => m.role === 'tool')
      assert.ok(toolMsg, 'the tool result is in the second turn')
      const content = typeof toolMsg.content === 'string' ? toolMsg.content : JSON.stringify(toolMsg.content)
      assert.match(content, /Result 1 for kimi code/)
      assert.ok(
        r.events.some((e) => e.type === 'text' && e.part && /searched/.test(e.part.text)),
        r.describe,
      )
      assert.ok(!r.sb.opencodeFilesText().includes(API_KEY), 'the key is in no opencode file')
      assert.ok(!r.stdout.includes(API_KEY) && !r.stderr.includes(API_KEY), 'the key is in no output')
    },
  )

  await t.test("the project file .kimi-native.json narrows the user's choice to the tools it names", async () => {
    const r = await run([plugin, { tools: true }], {
      projectConfig: { tools: ['search'] },
      userConfig: { tools: true },
    })
    assert.deepEqual(r.failures, [], r.describe)
    assert.equal(r.code, 0, r.describe)
    const offered = JSON.parse(r.chats[0].body).tools.map((x) => x.function.name)
    assert.ok(offered.includes('kimi_search'), `offered: ${offered}`)
    assert.ok(!offered.includes('kimi_fetch') && !offered.includes('kimi_datasource'), `offered: ${offered}`)
    assert.equal(r.requests.filter((q) => q.path === '/coding/v1/search').length, 1, r.describe)
  })

  await t.test(
    'a project whose opencode.json plugin option and .kimi-native.json turn tools on when the user did not: no kimi tool reaches the model',
    async () => {
      const r = await run([plugin, { tools: true }], { projectConfig: { tools: true } })
      assert.deepEqual(r.failures, [], r.describe)
      assert.equal(r.code, 0, r.describe)
      assert.ok(r.chats.length > 0, r.describe)
      for (const chat of r.chats) {
        const offered = (JSON.parse(chat.body).tools || []).map((x) => x.function.name)
        assert.ok(!offered.some((n) => n.startsWith('kimi_')), `offered: ${offered}`)
      }
      assert.equal(r.requests.filter((q) => q.path === '/coding/v1/search').length, 0)
    },
  )

  await t.test("without the user's opt-in no kimi tool is offered", async () => {
    const r = await run(plugin)
    assert.deepEqual(r.failures, [], r.describe)
    assert.equal(r.code, 0, r.describe)
    const offered = (JSON.parse(r.chats[0].body).tools || []).map((x) => x.function.name)
    assert.ok(!offered.some((n) => n.startsWith('kimi_')), `offered: ${offered}`)
    assert.equal(r.requests.filter((q) => q.path === '/coding/v1/search').length, 0)
  })
})
