'use strict'
// End-to-end: the real openclaw (pinned, on its own Node 24) loads kimi-native's openclaw plugin (linked from
// this checkout) and talks to the fake Kimi server on loopback. Every process runs in a throwaway sandbox (HOME,
// OPENCLAW_STATE_DIR, config, log file, kimi-native home), stdin from /dev/null, under a timeout. openclaw is
// slow to start (it loads ~100 bundled plugins), so the file runs only what the issue's list needs:
//   S1: plugins install --link, onboard --non-interactive, agent exec off (+ 401 retry) / low / high (+ tool call)
//   S2: `kimi-native login` (the CLI) alone, then agent exec
//   S3: agent exec with no login (clear provider error), then `models auth login` under a pty

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { REPO, ensureHost, createSandbox } = require('./helpers/sandbox')
const { OPENCLAW, hasScript } = require('./helpers/hosts/openclaw')
const { spawnCollect } = require('./helpers/spawn')

const FAKE_PATH = path.join(__dirname, 'fake-kimi', 'server.js')
const CHAT = '/coding/v1/chat/completions'
const TOKEN_PATH = '/api/oauth/token'
const CI = process.env.CI === 'true'

let core = null
let coreError = null
try {
  core = require('..')
} catch (err) {
  coreError = err
}
const adapter = core ? require('../lib/adapters/openclaw.js') : null

let fake = null
let setupSkip = null
const started = Date.now()

before(async () => {
  if (!core) setupSkip = `kimi-native core not loadable (${coreError && coreError.message.split('\n')[0]})`
  else {
    const installed = ensureHost({ host: 'openclaw' })
    if (!installed.ok) setupSkip = installed.reason
  }
  if (setupSkip && CI) throw new Error(`openclaw e2e cannot run on CI: ${setupSkip}`)
  if (!setupSkip) fake = await require(FAKE_PATH).startFakeKimi({ deviceInterval: 1 })
  // This test process stands for the user, whose environment names the fake server (sb.coreOpts() passes it as an
  // option, which alone would not let a credential go there: docs/security.md).
  if (fake) process.env.KIMI_NATIVE_TRUSTED_ORIGINS = fake.url
})

after(async () => {
  if (fake) await fake.close()
  console.log(`# openclaw e2e: ${((Date.now() - started) / 1000).toFixed(1)} s (openclaw ${OPENCLAW.version})`)
})

// ---- helpers -------------------------------------------------------------------------------------------------
const header = (rec, name) => {
  const hit = rec.headers.find(([k]) => k.toLowerCase() === name.toLowerCase())
  return hit && hit[1]
}
const bearer = (rec) => (header(rec, 'authorization') || '').replace(/^Bearer /, '')
const bodyOf = (rec) => JSON.parse(rec.body)
const MODEL = () => `${core.PROVIDER.openclawId}/${core.PROVIDER.defaultModel}`

function sandbox(t) {
  const sb = createSandbox({
    host: 'openclaw',
    env: { KIMI_CODE_BASE_URL: fake.baseUrl, KIMI_CODE_OAUTH_HOST: fake.oauthHost },
  })
  sb.coreOpts = () => ({ home: sb.kimiHome, store: 'file', baseUrl: fake.baseUrl, oauthHost: fake.oauthHost })
  t.after(() => sb.cleanup())
  return sb
}

/** Approves the first device code that shows up in a process's output (the user confirming in the browser). */
function approver(re) {
  let done = false
  let seen = ''
  return (chunk) => {
    seen += chunk
    const m = re.exec(seen.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ''))
    if (m && !done) {
      done = true
      fake.approve(m[1])
    }
  }
}

function envelope(r) {
  const text = r.stdout
  const start = text.indexOf('{')
  try {
    return JSON.parse(text.slice(start))
  } catch {
    return null
  }
}

/** `openclaw agent exec` headless on the sandbox's state; returns { r, env, chats } (chats: this run's requests). */
async function agentExec(sb, prompt, { thinking = 'off', timeoutMs = 400000 } = {}) {
  const since = fake.requests.length
  const r = await sb.openclaw(
    [
      'agent',
      'exec',
      prompt,
      '--state-dir',
      sb.state,
      '--model',
      MODEL(),
      '--thinking',
      thinking,
      '--timeout',
      '150',
      '--json',
    ],
    { timeoutMs, doneWhen: (out) => envelope({ stdout: out }) !== null },
  )
  // openclaw may take a while to exit after printing its answer; that is its own shutdown, not a failure here.
  if (r.lingered) console.log(`# openclaw agent exec still running ${r.ms} ms after start; stopped after its answer`)
  const chats = fake.requests.slice(since).filter((x) => x.path.startsWith(CHAT))
  return { r, env: envelope(r), chats, since }
}

/** One line per chat request, for failure messages. */
function describe(chats) {
  return chats
    .map((rec, i) => {
      let b = {}
      try {
        b = bodyOf(rec)
      } catch {}
      const last = (b.messages || []).filter((m) => m.role === 'user').pop()
      const text = last ? JSON.stringify(last.content).slice(0, 80) : ''
      return `#${i} ${rec.status} bearer=${bearer(rec).slice(-6)} thinking=${JSON.stringify(b.thinking)} msgs=${(b.messages || []).length} last-user=${text}`
    })
    .join('\n')
}

const show = (r) =>
  `exit ${r.code}${r.lingered ? ' (stopped after its answer)' : ''} after ${r.ms} ms\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`

/** Identity per the contract: openclaw's own token first, then kimi-native's; no official-client identity. */
function assertIdentity(rec) {
  const ua = header(rec, 'user-agent') || ''
  assert.match(
    ua,
    new RegExp(`^openclaw/${OPENCLAW.version.replace(/\./g, '\\.')} `),
    `UA starts with openclaw's token: ${ua}`,
  )
  assert.match(ua, /kimi-native\//, `UA names kimi-native: ${ua}`)
  for (const [k, v] of rec.headers) {
    assert.doesNotMatch(
      `${k}: ${v}`,
      /kimi-code-cli\/|KimiCLI\/|kimi_code_cli|kimi_cli/,
      `official-client identity in ${k}`,
    )
  }
}

function assertChat(rec, { effort, sessionId, modelInfo }) {
  const body = bodyOf(rec)
  assert.ok(fake.isAccessTokenValid(bearer(rec)), 'bearer is a live token the fake issued')
  const expected = core.shapeRequest(
    { model: body.model, messages: [{ role: 'user', content: 'x' }], stream: true },
    { model: body.model, effort, sessionId, ...(modelInfo ? { modelInfo } : {}) },
  )
  assert.equal(body.model, core.PROVIDER.defaultModel)
  assert.ok(!('reasoning_effort' in body), 'no reasoning_effort')
  assert.ok(!('store' in body), 'no store')
  assert.deepEqual(body.thinking, expected.thinking, `thinking for --thinking ${effort}`)
  if (effort === 'off') assert.deepEqual(body.thinking, { type: 'disabled' })
  else assert.equal(body.thinking.type, 'enabled')
  assert.ok(sessionId, 'openclaw reported a session id')
  assert.equal(body.prompt_cache_key, expected.prompt_cache_key, "prompt_cache_key carries openclaw's session id")
  assert.ok(String(body.prompt_cache_key).includes(sessionId), 'prompt_cache_key names the session')
  return body
}

/** No token the fake ever issued, in any file under openclaw's state dir (SQLite + -wal/-shm as bytes) or its log. */
function assertNoTokenInState(sb) {
  const files = sb.stateFiles()
  assert.ok(
    files.some((f) => /\.sqlite$/.test(f.path)),
    'openclaw wrote its SQLite stores',
  )
  const secrets = fake.issuedTokens()
  assert.ok(secrets.length > 0)
  for (const f of files)
    for (const s of secrets) assert.ok(!f.text.includes(s), `${path.relative(sb.dir, f.path)} holds an issued token`)
  return files
}

function skipIfNeeded(t) {
  if (setupSkip) {
    t.skip(setupSkip)
    return true
  }
  return false
}

// ---- manifest and package ---------------------------------------------------------------------------------------
test('openclaw: manifest and package declare the plugin with the core ids', async () => {
  if (!core) return
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'))
  const manifest = JSON.parse(fs.readFileSync(path.join(REPO, 'openclaw.plugin.json'), 'utf8'))
  assert.deepEqual(pkg.openclaw.extensions, ['./lib/adapters/openclaw.js'])
  assert.ok(pkg.files.includes('openclaw.plugin.json'), 'manifest ships in the tarball')
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: REPO,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const packed = JSON.parse(out.slice(out.indexOf('[')))[0].files.map((f) => f.path)
  for (const f of ['openclaw.plugin.json', 'lib/adapters/openclaw.js', 'lib/index.js', 'lib/timeout.js']) {
    assert.ok(packed.includes(f), `npm pack ships ${f}`)
  }
  assert.deepEqual(manifest.providers, [core.PROVIDER.openclawId])
  assert.equal(manifest.setup.providers[0].id, core.PROVIDER.openclawId)
  assert.equal(manifest.providerAuthChoices[0].provider, core.PROVIDER.openclawId)
  assert.equal(manifest.setup.providers[0].authEvidence[0].credentialMarker, adapter.MARKER)
  // The evidence is kimi-native's home: $KIMI_NATIVE_HOME, else ~/.kimi-native (the core's default home).
  const evidence = manifest.setup.providers[0].authEvidence[0]
  assert.equal(evidence.fileEnvVar, 'KIMI_NATIVE_HOME')
  const saved = process.env.KIMI_NATIVE_HOME
  delete process.env.KIMI_NATIVE_HOME
  try {
    const st = await core.status({ store: 'file' })
    assert.equal(path.resolve(evidence.fallbackPaths[0].replace('${HOME}', os.homedir())), path.resolve(st.home))
  } finally {
    if (saved !== undefined) process.env.KIMI_NATIVE_HOME = saved
  }
})

/** The checkout's package files (npm pack's list), built addon and runtime dependencies, copied into `dir`. */
function stageCheckout(dir) {
  // openclaw checks that a plugin's declared dependencies are installed next to it.
  for (const dep of Object.keys(
    JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).dependencies || {},
  )) {
    fs.cpSync(path.join(REPO, 'node_modules', dep), path.join(dir, 'node_modules', dep), { recursive: true })
  }
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
    cwd: REPO,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const files = JSON.parse(out.slice(out.indexOf('[')))[0].files.map((f) => f.path)
  files.push(...fs.readdirSync(REPO).filter((f) => /^kimi-native\..+\.node$/.test(f)))
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true })
    fs.copyFileSync(path.join(REPO, f), path.join(dir, f))
  }
  // openclaw blocks a plugin whose files belong to another user ("suspicious ownership"). Node 24's
  // copyFileSync keeps the source's owner when run as root, and CI's containers run as root on a checkout
  // owned by the runner's user: so the staged copy is handed to the user running openclaw.
  if (process.getuid) {
    const own = (p) => {
      fs.lchownSync(p, process.getuid(), process.getgid())
      if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) own(path.join(p, e))
    }
    own(dir)
  }
  return dir
}

// ---- one state dir, one linked install, the issue's list in order -----------------------------------------------
// Order matters in openclaw 2026.9.6: `onboard` must be the first stored credential of a state dir (a second one is
// a "replacement" it refuses), and `models auth login` after `onboard` leaves agent exec without a usable profile,
// so the pty login comes last.
test('openclaw: linked plugin; CLI login alone; no login; onboard; agent exec off/low/high + tool call; pty login', async (t) => {
  if (skipIfNeeded(t)) return
  const sb = sandbox(t)
  const identity = [] // contract UA checks, reported last so every functional check runs first
  const checkIdentity = (rec) => {
    try {
      assertIdentity(rec)
    } catch (err) {
      identity.push(err.message)
    }
  }
  const cli = (args, opts = {}) =>
    spawnCollect(process.execPath, [path.join(REPO, 'lib', 'cli.js'), ...args], {
      cwd: sb.workspace,
      env: sb.env({ PATH: process.env.PATH }),
      timeoutMs: 60000,
      ...opts,
    })
  let modelInfo = null

  await t.test('plugins install --link <checkout>', async () => {
    // openclaw's install-time safety scan gives up past 10,000 directories, and a working checkout has more
    // (target/, .test-cache/). So the link points at the checkout's package files (what npm pack ships) and
    // its built addon, copied as they are: the same files openclaw loads from the checkout.
    const r = await sb.openclaw([
      'plugins',
      'install',
      '--link',
      stageCheckout(path.join(sb.dir, 'checkout')),
      '--force',
      '--accept-capabilities',
    ])
    assert.equal(r.code, 0, show(r))
    assert.match(r.stdout, /Linked plugin path/)
  })

  await t.test('a login made with `kimi-native login` alone serves agent exec (--thinking low)', async () => {
    const login = await cli(['login'], { onStderr: approver(/code:\s+(\S+)/) })
    assert.equal(login.code, 0, show(login))
    modelInfo = (await core.models(sb.coreOpts())).find((m) => m.id === core.PROVIDER.defaultModel)
    fake.setReply({ text: 'reply-low' })
    const run = await agentExec(sb, 'say hi', { thinking: 'low' })
    assert.equal(run.env && run.env.ok, true, show(run.r))
    assert.equal(run.env.final, 'reply-low')
    assert.equal(run.chats.length, 1)
    assertChat(run.chats[0], { effort: 'low', sessionId: run.env.sessionId, modelInfo })
    checkIdentity(run.chats[0])
    assertNoTokenInState(sb)
  })

  await t.test('no login: agent exec fails with a clear provider error and sends nothing', async () => {
    const out = await cli(['logout'])
    assert.equal(out.code, 0, show(out))
    const run = await agentExec(sb, 'say hi', { thinking: 'off' })
    assert.notEqual(run.env && run.env.ok, true, show(run.r))
    assert.match(run.r.stdout + run.r.stderr, /npx kimi-native login/, `the error says how to log in\n${show(run.r)}`)
    assert.match(
      run.env.error.message,
      /^kimi-native: Not logged in.*openclaw models auth login --provider/s,
      show(run.r),
    )
    assert.equal(run.chats.length, 0, 'no request without a token')
  })

  await t.test('onboard --non-interactive logs in through the core', async () => {
    const tokensBefore = fake.stats().tokenIssueCount
    const r = await sb.openclaw(
      [
        'onboard',
        '--non-interactive',
        '--accept-risk',
        '--skip-health',
        '--skip-bootstrap',
        '--auth-choice',
        'kimi-native-device',
      ],
      { onStdout: approver(/confirm code (\S+)/) },
    )
    assert.equal(r.code, 0, show(r))
    assert.equal(fake.stats().tokenIssueCount, tokensBefore + 1, 'one device login through the core')
    assert.equal((await core.status(sb.coreOpts())).loggedIn, true, 'the login landed in kimi-native')
    assert.equal(sb.readConfig().agents.defaults.model.primary, MODEL())
    assertNoTokenInState(sb)
    assert.ok(
      sb.stateFiles().some((f) => f.text.includes(adapter.MARKER)),
      "openclaw's store holds the non-secret marker",
    )
  })

  await t.test('agent exec --thinking off; a 401 costs one refresh and one retry', async (st) => {
    fake.setReply({ text: 'reply-off' })
    fake.expireAccessTokens()
    const refreshes = fake.stats().refreshCount
    const run = await agentExec(sb, 'say hi', { thinking: 'off' })
    assert.equal(run.env && run.env.ok, true, show(run.r))
    assert.equal(run.env.final, 'reply-off')
    assert.equal(fake.stats().refreshCount, refreshes + 1, 'exactly one refresh after the 401')
    assert.equal(run.chats[0].status, 401, describe(run.chats))
    assert.equal(run.chats[1].status, 200, describe(run.chats))
    assert.equal(run.chats[1].body, run.chats[0].body, 'the retry sends the same request')
    if (run.chats.length !== 2)
      st.diagnostic(`openclaw made ${run.chats.length - 2} more call(s) after the answer:\n${describe(run.chats)}`)
    assert.notEqual(bearer(run.chats[1]), bearer(run.chats[0]), 'the retry carries the refreshed bearer')
    assertChat(run.chats[1], { effort: 'off', sessionId: run.env.sessionId, modelInfo })
    checkIdentity(run.chats[1])
  })

  await t.test('agent exec --thinking high with one tool-call turn', async () => {
    // The file tools' sandbox root is the directory openclaw runs in.
    const note = 'note.txt'
    fs.writeFileSync(path.join(sb.workspace, note), 'kimi-tool-result-42\n')
    let readTool = null
    fake.setReply((body) => {
      // After the tool result has gone back, answer; otherwise ask for one `read` of the note.
      if (body.messages.some((m) => m.role === 'tool')) return { text: 'reply-high' }
      readTool = (body.tools || []).find((x) => x.function && x.function.name === 'read') || null
      const props = Object.keys((readTool && readTool.function.parameters.properties) || {})
      const key = ['path', 'file_path', 'filePath', 'file'].find((k) => props.includes(k)) || props[0] || 'path'
      return { toolCalls: [{ id: 'call_kimi_1', name: 'read', arguments: JSON.stringify({ [key]: note }) }] }
    })
    const run = await agentExec(sb, 'read note.txt', { thinking: 'high' })
    assert.equal(
      run.env && run.env.ok,
      true,
      `${show(run.r)}\nread tool: ${JSON.stringify(readTool)}\n${describe(run.chats)}`,
    )
    assert.equal(run.env.final, 'reply-high')
    assert.ok(run.chats.length >= 2, `tool call, then the answer\n${describe(run.chats)}`)
    for (const rec of run.chats.slice(0, 2)) {
      assertChat(rec, { effort: 'high', sessionId: run.env.sessionId, modelInfo })
      checkIdentity(rec)
    }
    const toolMsg = bodyOf(run.chats[1]).messages.find((m) => m.role === 'tool')
    assert.ok(toolMsg, 'the tool result went back to Kimi')
    assert.match(JSON.stringify(toolMsg.content), /kimi-tool-result-42/)
  })

  await t.test('models auth login (under a pty) logs in through the core', async (st) => {
    if (!hasScript()) {
      if (CI) assert.fail('util-linux `script` is needed for the pty login test')
      st.skip('util-linux `script` missing')
      return
    }
    const out = await cli(['logout'])
    assert.equal(out.code, 0, show(out))
    const tokensBefore = fake.stats().tokenIssueCount
    const r = await sb.openclawTty(['models', 'auth', 'login', '--provider', adapter.ID, '--method', 'device'], {
      onStdout: approver(/Code: (\S+)/),
    })
    assert.equal(r.code, 0, show(r))
    assert.match(r.stdout, new RegExp(`Auth profile: ${adapter.ID}:default`))
    assert.equal(fake.stats().tokenIssueCount, tokensBefore + 1)
    assert.equal((await core.status(sb.coreOpts())).loggedIn, true)
  })

  await t.test('no issued token in any file under the state dir', () => {
    assertNoTokenInState(sb)
  })

  await t.test('identity: openclaw/<version> then kimi-native/<version> (contract, needs the identity work)', () => {
    assert.deepEqual(identity, [])
  })
})

// ---- the packed tarball -----------------------------------------------------------------------------------------
// `openclaw plugins install npm-pack:<tgz>` installs what `npm pack` ships into the state dir, dependencies from the
// registry with scripts off. A release brings the addon as a platform package (optionalDependencies added by
// `napi prepublish`); here the locally built addon rides in the tarball instead, so no registry publish is needed.
test('openclaw: plugin installed from the packed tarball serves a CLI login', async (t) => {
  if (skipIfNeeded(t)) return
  const sb = sandbox(t)
  const stage = path.join(sb.dir, 'stage')
  fs.mkdirSync(stage)
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8'))
  const addon = fs.readdirSync(REPO).find((f) => /^kimi-native\..+\.node$/.test(f))
  assert.ok(addon, 'a built addon')
  // What the README gives a user with a checkout: scripts/pack-openclaw.js packs it and prints the install command.
  const script = path.join(REPO, 'scripts', 'pack-openclaw.js')
  const packed = await spawnCollect(process.execPath, [script, '--out', stage], { timeoutMs: 180000 })
  assert.equal(packed.code, 0, packed.stderr)
  const [program, ...installArgs] = packed.stdout.trim().split(/\s+/)
  assert.equal(program, 'openclaw', packed.stdout)
  const final = installArgs.find((a) => a.startsWith('npm-pack:')).slice('npm-pack:'.length)
  assert.equal(path.basename(final), `${pkg.name}-${pkg.version}.tgz`)

  // Dependencies (commander) come from the registry npm is configured with.
  const registry = execFileSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' }).trim()
  const npmEnv = { NPM_CONFIG_REGISTRY: registry, npm_config_registry: registry }
  const r = await sb.openclaw(installArgs, { env: npmEnv })
  assert.equal(r.code, 0, show(r))
  const projects = path.join(sb.state, 'npm', 'projects')
  const roots = fs.existsSync(projects)
    ? fs
        .readdirSync(projects)
        .map((p) => path.join(projects, p, 'node_modules', pkg.name))
        .filter((d) => fs.existsSync(d))
    : []
  assert.equal(roots.length, 1, `installed under the state dir\n${show(r)}`)
  for (const f of ['openclaw.plugin.json', 'lib/adapters/openclaw.js', addon])
    assert.ok(fs.existsSync(path.join(roots[0], f)), f)

  const login = await spawnCollect(process.execPath, [path.join(REPO, 'lib', 'cli.js'), 'login'], {
    cwd: sb.workspace,
    env: sb.env({ PATH: process.env.PATH }),
    timeoutMs: 60000,
    onStderr: approver(/code:\s+(\S+)/),
  })
  assert.equal(login.code, 0, show(login))
  fake.setReply({ text: 'reply-tarball' })
  const run = await agentExec(sb, 'say hi', { thinking: 'low' })
  assert.equal(run.env && run.env.ok, true, show(run.r))
  assert.equal(run.env.final, 'reply-tarball')
  assert.ok(fake.isAccessTokenValid(bearer(run.chats[0])))
  assertNoTokenInState(sb)
})
