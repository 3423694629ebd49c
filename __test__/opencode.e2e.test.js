'use strict'
// End to end: the opencode plugin (lib/adapters/opencode.js) inside the real opencode binary (pinned), against the
// fake Kimi server. Proves: the plugin loads from a file:// checkout and by package name, a native login is used
// with no second login, each variant reaches the server as the core shapes it, tokens never land in opencode's
// files, `opencode providers login` works headless, and the addon works in opencode's own Bun runtime.

const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const { REPO, ensureHost, createSandbox } = require('./helpers/sandbox')

const DOCS = path.join(REPO, 'docs', 'opencode.md')
const RUN_TIMEOUT_MS = 180000
// Official-client identity strings that must never appear in the default profile's headers (issue #12).
const OFFICIAL_MARKS = ['kimi-code-cli/', 'KimiCLI/', 'kimi_code_cli', 'kimi_cli']

/** The opencode.json block documented in docs/opencode.md (the one `kimi-native login` prints). */
function documentedConfig() {
  const md = fs.readFileSync(DOCS, 'utf8')
  const m = /<!-- opencode-json:begin -->\s*```json\n([\s\S]*?)```\s*<!-- opencode-json:end -->/.exec(md)
  assert.ok(m, 'docs/opencode.md has the opencode-json block')
  return JSON.parse(m[1])
}

function loadCore() {
  try {
    return { core: require(REPO) }
  } catch (e) {
    return { reason: `kimi-native core not loadable yet (${e.message.split('\n')[0]})` }
  }
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

test('opencode plugin with the real opencode binary', { timeout: 30 * 60000 }, async (t) => {
  const oc = ensureHost({ host: 'opencode' })
  // A host test that cannot install its host fails in CI instead of skipping.
  if (!oc.ok && process.env.CI === 'true') assert.fail(`opencode could not be installed: ${oc.reason}`)
  if (!oc.ok) return t.skip(oc.reason)
  const { core, reason } = loadCore()
  if (!core && process.env.CI === 'true') assert.fail(reason)
  if (!core) return t.skip(reason)
  const { startFakeKimi } = require('./fake-kimi/server')

  const kimi = await startFakeKimi({ deviceInterval: 1 })
  const sandboxes = []
  t.after(async () => {
    for (const sb of sandboxes) if (!process.env.KEEP_OPENCODE_SANDBOX) sb.cleanup()
    await kimi.close()
  })

  const ID = core.PROVIDER.opencodeId
  const MODEL = core.PROVIDER.defaultModel
  const documented = documentedConfig()
  assert.ok(documented.provider[ID], `documented config declares provider ${ID}`)
  const variants = documented.provider[ID].models[MODEL].variants
  const MARKER = { type: 'oauth', refresh: 'kimi-native', access: 'kimi-native', expires: 4102444800000 }
  const hintNames = Object.values(core.HINT_HEADERS).map((h) => h.toLowerCase())

  const newSandbox = (plugin = pathToFileURL(REPO).href) => {
    const sb = createSandbox({
      host: 'opencode',
      env: { KIMI_CODE_OAUTH_HOST: kimi.oauthHost, KIMI_CODE_BASE_URL: kimi.baseUrl },
    })
    sandboxes.push(sb)
    sb.writeConfig({ ...documented, plugin: [plugin] })
    sb.coreScript = path.join(sb.dir, 'core-call.js')
    fs.writeFileSync(sb.coreScript, CORE_CALL)
    return sb
  }

  /**
   * Runs the core in a child node with the sandbox's environment (HOME, KIMI_NATIVE_HOME, the fake server), the
   * way `npx kimi-native ...` and opencode's process see it; the test process never touches a real home.
   */
  const coreCall = async (sb, cmd, arg, { onStdout } = {}) => {
    const r = await sb.node([sb.coreScript, cmd, JSON.stringify(arg === undefined ? null : arg)], {
      env: { KN_REPO: REPO },
      timeoutMs: RUN_TIMEOUT_MS,
      onStdout,
    })
    const events = parseEvents(r.stdout)
    const done = events.find((e) => 'result' in e)
    assert.ok(done, `core ${cmd}: rc=${r.code} ${r.stdout.slice(-1500)} ${r.stderr.slice(-1500)}`)
    return done.result
  }

  /** Native login (what `npx kimi-native login` does), approved on the fake server; returns the tokens it got. */
  const nativeLogin = async (sb) => {
    const before = new Set(kimi.issuedTokens())
    let shown = null
    await coreCall(sb, 'login', null, {
      onStdout: (s) => {
        const m = /"deviceCode":"([A-Z0-9-]+)"/.exec(s)
        if (m && !shown) {
          shown = m[1]
          kimi.approve(shown)
        }
      },
    })
    assert.ok(shown, 'login showed a device code')
    return kimi.issuedTokens().filter((x) => !before.has(x))
  }

  const ocRun = async (sb, { variant, title = true, prompt = 'say hi', env } = {}) => {
    const since = kimi.requests.length
    const args = ['run', '-m', `${ID}/${MODEL}`, '--format', 'json']
    if (variant) args.push('--variant', variant)
    if (title) args.push('--title', 'kimi-native e2e')
    args.push(prompt)
    const r = await sb.opencode(args, { timeoutMs: RUN_TIMEOUT_MS, env })
    r.all = kimi.requests.slice(since)
    r.chats = r.all.filter((q) => q.path.startsWith('/coding/v1/chat/completions'))
    r.events = parseEvents(r.stdout)
    r.sessionID = (r.events.find((e) => e.sessionID) || {}).sessionID
    r.failures = sb.pluginFailures(r)
    r.describe = `rc=${r.code} timedOut=${r.timedOut} ms=${r.ms}\nstdout: ${r.stdout.slice(-1500)}\nstderr: ${r.stderr.slice(-1500)}\nplugin failures: ${r.failures.join(' | ')}`
    return r
  }

  /** What the core itself makes of a chat body for this effort and session (in the sandbox): the oracle. */
  const oracle = (sb, effort, sessionId) => coreCall(sb, 'shape', { effort, sessionId })

  /** Default profile: opencode's own UA first, then kimi-native; nothing of an official client anywhere. */
  const assertHonestIdentity = (q, what) => {
    const ua = header(q.headers, 'user-agent') || ''
    assert.ok(ua.startsWith(`opencode/${oc.version} `), `${what}: UA starts with opencode's own token: ${ua}`)
    assert.match(
      ua,
      / kimi-native\/\S+ \(linux; bun\/[^;]+; x64\)$/,
      `${what}: then kimi-native, in opencode's Bun: ${ua}`,
    )
    for (const [k, v] of q.headers) {
      for (const bad of OFFICIAL_MARKS) assert.ok(!k.includes(bad) && !v.includes(bad), `${what}: ${k}: ${v}`)
      assert.ok(!/^x-msh-/i.test(k), `${what}: no X-Msh-* (${k})`)
    }
  }

  const assertChatRequest = async (q, { tokens, sb, effort, sessionId, what }) => {
    const expected = await oracle(sb, effort, sessionId)
    const bearer = header(q.headers, 'authorization')
    assert.ok(bearer && bearer.startsWith('Bearer '), `${what}: bearer present`)
    assert.ok(tokens.includes(bearer.slice(7)), `${what}: bearer is a token the fake server issued to the native login`)
    assertHonestIdentity(q, what)
    for (const name of hintNames) {
      assert.equal(header(q.headers, name), undefined, `${what}: ${name} does not reach the server`)
    }
    // opencode's own headers pass as opencode sends them (only the official profiles drop them).
    for (const name of ['x-session-affinity', 'x-session-id']) {
      assert.equal(header(q.headers, name), sessionId, `${what}: ${name} as opencode sends it`)
    }
    const body = JSON.parse(q.body)
    assert.equal(body.model, MODEL, `${what}: model id`)
    assert.equal(body.reasoning_effort, undefined, `${what}: no reasoning_effort`)
    assert.deepEqual(body.thinking, expected.thinking, `${what}: thinking as the core shapes it`)
    assert.equal(body.prompt_cache_key, expected.prompt_cache_key, `${what}: prompt_cache_key from the session id`)
    return body
  }

  // ---------------------------------------------------------------------------------------------------
  const A = newSandbox()
  let tokensA = []

  await t.test('a native login is used by opencode with no second login (plugin from a file:// checkout)', async () => {
    assert.equal(A.readAuthText(), null, 'opencode has no credential before the run')
    tokensA = await nativeLogin(A)
    assert.ok(tokensA.length >= 2, 'the fake server issued an access and a refresh token')

    const r = await ocRun(A)
    assert.deepEqual(r.failures, [], r.describe)
    assert.equal(r.code, 0, r.describe)
    assert.ok(!r.events.some((e) => e.type === 'error'), r.describe)
    assert.ok(
      r.events.some((e) => e.type === 'text' && e.part && e.part.text),
      `the reply text came back\n${r.describe}`,
    )
    assert.equal(r.chats.length, 1, r.describe)
    assert.ok(r.sessionID, 'session id in the JSON events')
    await assertChatRequest(r.chats[0], {
      tokens: tokensA,
      sb: A,
      effort: undefined,
      sessionId: r.sessionID,
      what: 'no variant',
    })
    for (const q of r.all) assertHonestIdentity(q, `every request of the run (${q.path})`)
    console.log(`opencode ${oc.version} User-Agent: ${header(r.chats[0].headers, 'user-agent')}`)
    assert.deepEqual(A.readAuth(), { [ID]: MARKER }, 'auth.json holds the marker only')
  })

  await t.test('each documented variant reaches the server as the core shapes it', async () => {
    const names = Object.keys(variants)
    assert.deepEqual(names, ['off', 'auto', 'low', 'medium', 'high'])
    const off = await oracle(A, 'off', 's')
    const high = await oracle(A, 'high', 's')
    assert.notDeepEqual(off.thinking, high.thinking, 'the variants make a difference')
    const seen = new Set()
    for (const v of names) {
      const r = await ocRun(A, { variant: v })
      assert.deepEqual(r.failures, [], r.describe)
      assert.equal(r.code, 0, `variant ${v}: ${r.describe}`)
      assert.equal(r.chats.length, 1, `variant ${v}: ${r.describe}`)
      await assertChatRequest(r.chats[0], {
        tokens: tokensA,
        sb: A,
        effort: v,
        sessionId: r.sessionID,
        what: `variant ${v}`,
      })
      seen.add(r.sessionID)
    }
    assert.equal(seen.size, names.length, 'one session per run')
  })

  await t.test('the session-title call uses the first variant (off), the main call the selected one', async () => {
    const r = await ocRun(A, { variant: 'high', title: false })
    assert.deepEqual(r.failures, [], r.describe)
    assert.equal(r.code, 0, r.describe)
    assert.equal(r.chats.length, 2, r.describe)
    const isTitle = (q) => /title generator/i.test(JSON.stringify(JSON.parse(q.body).messages[0]))
    const titleReq = r.chats.find(isTitle)
    const mainReq = r.chats.find((q) => !isTitle(q))
    assert.ok(titleReq && mainReq, 'one title call and one main call')
    await assertChatRequest(titleReq, { tokens: tokensA, sb: A, effort: 'off', sessionId: r.sessionID, what: 'title' })
    await assertChatRequest(mainReq, { tokens: tokensA, sb: A, effort: 'high', sessionId: r.sessionID, what: 'main' })
  })

  await t.test('the plugin also loads by package name (exports["./server"])', async () => {
    // What opencode's own npm install leaves behind for `"plugin": ["kimi-native"]`, pointing at this checkout.
    const pkgDir = path.join(A.cache, 'opencode', 'packages', 'kimi-native@latest', 'node_modules')
    fs.mkdirSync(pkgDir, { recursive: true })
    const link = path.join(pkgDir, 'kimi-native')
    if (!fs.existsSync(link)) fs.symlinkSync(REPO, link, process.platform === 'win32' ? 'junction' : 'dir')
    A.writeConfig({ ...documented })
    assert.deepEqual(documented.plugin, ['kimi-native'], 'the documented config loads the plugin by package name')
    try {
      const r = await ocRun(A, { variant: 'low' })
      assert.deepEqual(r.failures, [], r.describe)
      assert.equal(r.code, 0, r.describe)
      assert.equal(r.chats.length, 1, r.describe)
      await assertChatRequest(r.chats[0], {
        tokens: tokensA,
        sb: A,
        effort: 'low',
        sessionId: r.sessionID,
        what: 'npm spec',
      })
    } finally {
      A.writeConfig({ ...documented, plugin: [pathToFileURL(REPO).href] })
    }
  })

  await t.test('"Use existing kimi-native login" links the native login', async () => {
    fs.rmSync(A.authPath, { force: true })
    const r = await A.opencode(['providers', 'login', '-p', ID, '-m', 'Use existing kimi-native login'], {
      timeoutMs: RUN_TIMEOUT_MS,
    })
    assert.deepEqual(A.pluginFailures(r), [], r.stdout + r.stderr)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /Using the login kimi-native already has/)
    assert.doesNotMatch(r.stdout, /Failed to authorize/)
    assert.deepEqual(A.readAuth(), { [ID]: MARKER })
  })

  await t.test('no token the fake server issued is in any opencode file', () => {
    const all = kimi.issuedTokens()
    assert.ok(all.length > 0)
    const text = A.opencodeFilesText()
    assert.ok(text.includes('kimi-native'), 'the scan reads opencode files (marker found)')
    for (const tok of all) assert.ok(!text.includes(tok), `token ${tok.slice(0, 10)}... not in opencode files`)
  })

  await t.test(
    'KIMI_NATIVE_PROFILE=kimi-code (opt-in): the official headers, session headers dropped, warned once',
    async () => {
      const env = { KIMI_NATIVE_PROFILE: 'kimi-code' }
      const r = await ocRun(A, { env })
      assert.deepEqual(r.failures, [], r.describe)
      assert.equal(r.code, 0, r.describe)
      assert.equal(r.chats.length, 1, r.describe)
      const official = await coreCall(A, 'headers', { profile: 'kimi-code' })
      assert.equal(official.length, 7)
      assert.equal(official[0][1], 'kimi-code-cli/2.1.0')
      for (const [name, value] of official) assert.equal(header(r.chats[0].headers, name), value, `kimi-code: ${name}`)
      for (const name of ['x-session-affinity', 'x-session-id'])
        assert.equal(header(r.chats[0].headers, name), undefined, name)
      const body = JSON.parse(r.chats[0].body)
      assert.deepEqual(
        body.thinking,
        { type: 'enabled', keep: 'all' },
        'kimi-code default thinking (golden ts-chat-openai)',
      )
      const warned = (r.stdout + r.stderr).split('Community Guidelines forbid falsifying client identity').length - 1
      assert.equal(warned, 1, `the warning once in opencode's output\n${r.describe}`)
    },
  )

  await t.test(
    '403 "only available for Coding Agents" → KIMI_CLIENT_NOT_ALLOWED in opencode, one request',
    async () => {
      kimi.allowedUserAgents = ['KimiCLI/', 'kimi-code-cli/', 'claude-code/', 'pi/', 'openclaw/'] // opencode not accepted
      try {
        const r = await ocRun(A)
        assert.deepEqual(r.failures, [], r.describe)
        assert.equal(r.chats.length, 1, `no retry\n${r.describe}`)
        assert.equal(r.chats[0].gateRejected !== undefined, true)
        const out = r.stdout + r.stderr
        assert.match(out, /KIMI_CLIENT_NOT_ALLOWED/, r.describe)
        assert.match(out, /did not accept this client identity/, r.describe)
      } finally {
        kimi.allowedUserAgents = require('./fake-kimi/server').ALLOWED_UA_PREFIXES
      }
    },
  )

  await t.test(
    '403 "Access terminated" (both variants) → KIMI_ACCOUNT_SUSPENDED in opencode, no retry, no refresh',
    async () => {
      for (const kind of ['accountSuspended403', 'accountBanned403']) {
        kimi.setSuspended(kind)
        try {
          const refreshes = kimi.refreshCount
          const r = await ocRun(A)
          assert.deepEqual(r.failures, [], r.describe)
          assert.equal(r.chats.length, 1, `${kind}: no retry\n${r.describe}`)
          assert.equal(kimi.refreshCount, refreshes, `${kind}: no refresh`)
          const out = r.stdout + r.stderr
          assert.match(out, /KIMI_ACCOUNT_SUSPENDED/, r.describe)
          assert.match(out, /support@moonshot\.cn/, r.describe)
        } finally {
          kimi.setSuspended(null)
        }
      }
    },
  )

  // ---------------------------------------------------------------------------------------------------
  const B = newSandbox()

  await t.test('without any login opencode stops with the core\'s "not logged in" message', async () => {
    const r = await ocRun(B)
    assert.deepEqual(r.failures, [], r.describe)
    assert.notEqual(r.code, 0, r.describe)
    assert.equal(r.chats.length, 0, 'no chat request left without credentials')
    assert.match(r.stdout + r.stderr, new RegExp(`not logged in[\\s\\S]*opencode auth login -p ${ID}`, 'i'))
    assert.deepEqual(B.readAuth(), { [ID]: MARKER }, 'the plugin added the marker at startup')
  })

  await t.test('"Use existing kimi-native login" fails when there is none', async () => {
    const r = await B.opencode(['providers', 'login', '-p', ID, '-m', 'Use existing kimi-native login'], {
      timeoutMs: RUN_TIMEOUT_MS,
    })
    assert.match(r.stdout, /no login yet/)
    assert.match(r.stdout, /Failed to authorize/)
  })

  await t.test('opencode providers login (device flow) runs headless and opencode then uses it', async () => {
    const before = new Set(kimi.issuedTokens())
    let code = null
    const watch = (s) => {
      const m = /Enter code: ([A-Z0-9-]+)/.exec(s)
      if (m && !code) {
        code = m[1]
        kimi.approve(code)
      }
    }
    const r = await B.opencode(['providers', 'login', '-p', ID, '-m', 'Kimi device login'], {
      timeoutMs: RUN_TIMEOUT_MS,
      onStdout: watch,
      onStderr: watch,
    })
    const out = r.stdout + r.stderr
    assert.deepEqual(B.pluginFailures(r), [], out)
    assert.equal(r.code, 0, out)
    assert.ok(code, `opencode showed the code\n${out}`)
    assert.match(
      out,
      new RegExp(`Go to: ${kimi.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\S*`),
      'opencode showed the URL',
    )
    assert.doesNotMatch(out, /Failed to authorize/)
    const st = await coreCall(B, 'status')
    assert.equal(st.loggedIn, true, 'the native store has the login')
    assert.deepEqual(B.readAuth(), { [ID]: MARKER }, 'opencode stored the marker, not the tokens')
    const tokens = kimi.issuedTokens().filter((x) => !before.has(x))
    assert.ok(tokens.length >= 2)

    const run = await ocRun(B, { variant: 'medium' })
    assert.equal(run.code, 0, run.describe)
    assert.equal(run.chats.length, 1, run.describe)
    await assertChatRequest(run.chats[0], {
      tokens,
      sb: B,
      effort: 'medium',
      sessionId: run.sessionID,
      what: 'after opencode login',
    })
    const text = B.opencodeFilesText()
    for (const tok of kimi.issuedTokens()) assert.ok(!text.includes(tok), 'no token in opencode files')
  })

  // ---------------------------------------------------------------------------------------------------
  await t.test("the addon works inside opencode's Bun runtime like in Node", async () => {
    const C = newSandbox()
    const script = path.join(C.dir, 'bun-probe.js')
    fs.writeFileSync(script, BUN_PROBE)
    const env = {
      KN_REPO: REPO,
      KN_HOST: `opencode/${oc.version}`,
      KIMI_CODE_OAUTH_HOST: kimi.oauthHost,
      KIMI_CODE_BASE_URL: kimi.baseUrl,
    }
    const runProbe = async (runner) => {
      // Three spaced chunks for the streaming check, then a slow stream for the abort check.
      kimi.enqueueReply({ chunks: ['one ', 'two ', 'three'], chunkDelayMs: 250 })
      kimi.enqueueReply({ chunks: Array.from({ length: 20 }, (_, i) => `c${i} `), chunkDelayMs: 300 })
      let code = null
      const watch = (s) => {
        const m = /"deviceCode":"([A-Z0-9-]+)"/.exec(s)
        if (m && !code) {
          code = m[1]
          kimi.approve(code)
        }
      }
      const since = kimi.requests.length
      const r = await runner([script], { env, timeoutMs: RUN_TIMEOUT_MS, onStdout: watch })
      const events = parseEvents(r.stdout)
      const result = (events.find((e) => e.result) || {}).result
      const error = (events.find((e) => e.error) || {}).error
      assert.ok(
        result,
        `probe result (${runner === C.bun ? 'bun' : 'node'}): rc=${r.code} ${JSON.stringify(error)} ${r.stderr.slice(-2000)}`,
      )
      result.chats = kimi.requests.slice(since).filter((q) => q.path.startsWith('/coding/v1/chat/completions'))
      return result
    }
    const node = await runProbe(C.node)
    const bun = await runProbe(C.bun)
    assert.match(node.runtime, /^node /)
    assert.match(bun.runtime, /^bun /, 'ran inside the Bun embedded in opencode')
    for (const [name, r] of [
      ['node', node],
      ['bun', bun],
    ]) {
      assert.equal(r.loginSource, 'kimi-native', `${name}: login resolved`)
      assert.ok(r.deviceCodeSeen, `${name}: onDeviceCode callback ran`)
      assert.equal(r.loggedIn, true, `${name}: status after login`)
      assert.equal(r.httpStatus, 200, `${name}: chat status`)
      assert.equal(r.isResponse, true, `${name}: a WHATWG Response`)
      assert.ok(r.chunks >= 3, `${name}: body arrived in ${r.chunks} chunks (streamed, not buffered)`)
      assert.ok(r.spanMs >= 300, `${name}: chunks spread over ${r.spanMs} ms`)
      assert.match(r.text, /one[\s\S]*two[\s\S]*three/, `${name}: SSE deltas in order`)
      assert.equal(r.abort, 'AbortError', `${name}: abort ends the stream with an AbortError, like fetch`)
      assert.ok(r.abortMs < 3000, `${name}: abort took ${r.abortMs} ms`)
      assert.equal(r.chats.length, 2, `${name}: two chat requests reached the server`)
    }
    // The User-Agent names the runtime it runs in; otherwise buildHeaders() is identical.
    const runtimeFree = (pairs) =>
      pairs.map(([k, v]) => [
        k.toLowerCase(),
        /^user-agent$/i.test(k) ? v.replace(/; (node|bun)\/[^;]+;/, '; <runtime>;') : v,
      ])
    assert.match(bun.headers[0][1], /^opencode\/\S+ kimi-native\/\S+ \(linux; bun\/[^;]+; x64\)$/, bun.headers[0][1])
    assert.match(node.headers[0][1], /; node\/v/)
    assert.deepEqual(
      runtimeFree(bun.headers),
      runtimeFree(node.headers),
      'buildHeaders() identical in both runtimes but for the runtime',
    )
    assert.deepEqual(bun.shaped, node.shaped, 'shapeRequest() identical in both runtimes')
    assert.equal(bun.abort, node.abort, 'abort surfaces the same way')
    assert.equal(bun.text, node.text)
    const strip = (q) =>
      runtimeFree(
        q.headers.filter(([k]) => !/^(authorization|host|content-length|connection|accept-encoding)$/i.test(k)),
      ).sort()
    assert.deepEqual(strip(bun.chats[0]), strip(node.chats[0]), 'same request headers from Bun as from Node')
    assert.deepEqual(
      JSON.parse(bun.chats[0].body),
      JSON.parse(node.chats[0].body),
      'same request body from Bun as from Node',
    )
  })
})

// Runs under Node and under `BUN_BE_BUN=1 <opencode binary>`; prints one JSON line per event.
const BUN_PROBE = `'use strict'
const core = require(process.env.KN_REPO)
const log = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
;(async () => {
  const opts = { home: process.env.KIMI_NATIVE_HOME, store: 'file', oauthHost: process.env.KIMI_CODE_OAUTH_HOST, baseUrl: process.env.KIMI_CODE_BASE_URL, host: process.env.KN_HOST }
  const out = { runtime: typeof Bun !== 'undefined' ? 'bun ' + Bun.version : 'node ' + process.version }
  out.headers = core.buildHeaders(opts)
  const res = await core.login({ ...opts, onDeviceCode: (c) => { out.deviceCodeSeen = true; log({ deviceCode: c.userCode }) } })
  out.shaped = core.shapeRequest(
    { model: 'x', messages: [{ role: 'developer', content: 's' }, { role: 'user', content: 'hi' }] },
    { effort: 'high', sessionId: 'probe-session', model: core.PROVIDER.defaultModel },
  )
  out.loginSource = res.source
  out.loggedIn = (await core.status(opts)).loggedIn
  const f = core.createKimiFetch(opts)
  const post = (signal) => f(opts.baseUrl + '/chat/completions', {
    method: 'POST',
    signal,
    headers: { 'content-type': 'application/json', [core.HINT_HEADERS.effort]: 'low', [core.HINT_HEADERS.sessionId]: 'probe-session' },
    body: JSON.stringify({ model: core.PROVIDER.defaultModel, messages: [{ role: 'user', content: 'hi' }], stream: true }),
  })
  const r = await post()
  out.httpStatus = r.status
  out.isResponse = r instanceof Response
  const reader = r.body.getReader()
  const td = new TextDecoder()
  const chunks = []
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push({ t: Date.now(), text: td.decode(value, { stream: true }) })
  }
  out.chunks = chunks.length
  out.spanMs = chunks.length ? chunks[chunks.length - 1].t - chunks[0].t : 0
  out.text = chunks.map((c) => c.text).join('').split('\\n').filter((l) => l.startsWith('data: {'))
    .map((l) => { try { const d = JSON.parse(l.slice(6)).choices[0].delta; return d.content || '' } catch { return '' } }).join('')
  const ac = new AbortController()
  const r2 = await post(ac.signal)
  const rd = r2.body.getReader()
  await rd.read()
  const t0 = Date.now()
  ac.abort()
  try {
    while (!(await rd.read()).done) {}
    out.abort = 'not aborted'
  } catch (e) {
    out.abort = e.name === 'AbortError' ? e.name : String(e.code || e.name)
  }
  out.abortMs = Date.now() - t0
  log({ result: out })
})().catch((e) => { log({ error: { message: e.message, code: e.code, stack: e.stack } }); process.exitCode = 1 })
`

// The core as a child of the test, with the sandbox environment only: login | headers | status | shape.
const CORE_CALL = `'use strict'
const core = require(process.env.KN_REPO)
const log = (o) => process.stdout.write(JSON.stringify(o) + '\\n')
const [cmd, raw] = process.argv.slice(2)
const arg = JSON.parse(raw || 'null')
;(async () => {
  if (cmd === 'login') return core.login({ onDeviceCode: (c) => log({ deviceCode: c.userCode }) })
  if (cmd === 'headers') return core.buildHeaders(arg || undefined)
  if (cmd === 'status') return core.status()
  if (cmd === 'shape') {
    const model = core.PROVIDER.defaultModel
    const modelInfo = (await core.models()).find((m) => m.id === model)
    return core.shapeRequest(
      { model, messages: [{ role: 'user', content: 'x' }], stream: true },
      { model, modelInfo, effort: arg.effort === null ? undefined : arg.effort, sessionId: arg.sessionId },
    )
  }
  throw new Error('unknown command ' + cmd)
})().then((result) => log({ result: result === undefined ? null : result }), (e) => {
  log({ error: { message: e.message, code: e.code } })
  process.exitCode = 1
})
`
