'use strict'
// End-to-end: the real Claude Code (pinned, npm @anthropic-ai/claude-code) runs headless (`claude -p`) with the settings
// `kimi-native setup claude-code` wrote into a sandboxed HOME, against the fake Kimi server's Anthropic route. Its
// apiKeyHelper is this checkout's `kimi-native token`, run by Claude Code through /bin/sh as it would be for a user.
//   S1: setup on an existing settings file with other keys, then a streamed answer (token in x-api-key and bearer)
//   S2: the server refuses the token mid-session: exactly one refresh, the retried request carries the new token
//   S3: a stored token near expiry is never handed out below the minimum validity
//   S4: setup --remove restores the file
// Every output (CLI and Claude Code) is grepped for the tokens the fake issued at the end.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { ensureHost, createSandbox } = require('./helpers/sandbox')
const { CLAUDE, isX64Glibc } = require('./helpers/hosts/claude-code')
const { spawnCollect } = require('./helpers/spawn')
const { credentialsFile } = require('./helpers/env')

const CLI = path.join(__dirname, '..', 'lib', 'cli.js')
const MESSAGES = '/coding/v1/messages'
const CI = process.env.CI === 'true'
const RUN_MS = 120000

let kimi = null
let claude = null
let setupSkip = null
let sb = null
const outputs = []
const started = Date.now()

before(async () => {
  try {
    kimi = require('..')
  } catch (err) {
    setupSkip = `kimi-native core not loadable (${err.message.split('\n')[0]})`
  }
  if (!setupSkip) {
    const installed = ensureHost({ host: 'claude-code' })
    if (installed.ok) claude = installed
    else setupSkip = installed.reason
  }
  if (setupSkip && CI && isX64Glibc()) throw new Error(`Claude Code e2e cannot run on CI: ${setupSkip}`)
})

let fake = null
before(async () => {
  if (setupSkip) return
  fake = await require('./fake-kimi/server.js').startFakeKimi({ deviceInterval: 1, autoApprove: 0 })
  sb = createSandbox({
    host: 'claude-code',
    env: { KIMI_CODE_BASE_URL: fake.baseUrl, KIMI_CODE_OAUTH_HOST: fake.oauthHost },
  })
})

after(async () => {
  if (fake) await fake.close()
  if (sb) sb.cleanup()
  console.log(`# Claude Code e2e: ${((Date.now() - started) / 1000).toFixed(1)} s (Claude Code ${CLAUDE.version})`)
})

const header = (rec, name) => (rec.headers.find(([k]) => k.toLowerCase() === name) || [])[1]
const messages = () => fake.requests.filter((r) => r.path.startsWith(MESSAGES))
const storedLogin = () => JSON.parse(fs.readFileSync(credentialsFile(sb.kimiHome), 'utf8'))

async function kn(args) {
  const r = await spawnCollect(process.execPath, [CLI, ...args], { cwd: sb.project, env: sb.env(), timeoutMs: 30000 })
  outputs.push(r.stdout, r.stderr)
  return r
}

async function claudeP(prompt) {
  const r = await spawnCollect(claude.bin, ['-p', prompt], { cwd: sb.project, env: sb.env(), timeoutMs: RUN_MS })
  outputs.push(r.stdout, r.stderr)
  return r
}

const show = (r) =>
  `exit ${r.code} ${r.signal || ''}${r.timedOut ? ' TIMED OUT' : ''} (${r.ms} ms)\n--stdout--\n${r.stdout}\n--stderr--\n${r.stderr}`

const EXISTING = {
  permissions: { allow: ['Read'], deny: ['Bash(rm:*)'] },
  env: { FOO: 'bar', ANTHROPIC_API_KEY: 'sk-kimi-fake-STATICKEY-not-real' },
  includeCoAuthoredBy: false,
}
const EXISTING_TEXT = `${JSON.stringify(EXISTING, null, 2)}\n`

test(
  'S1: setup claude-code on an existing settings file, then `claude -p` streams an answer with the current token',
  { timeout: 240000 },
  async (t) => {
    if (setupSkip) return t.skip(setupSkip)
    const login = await kn(['login', '--no-browser', '--no-import'])
    assert.equal(login.code, 0, show(login))
    fs.mkdirSync(path.dirname(sb.settingsPath), { recursive: true })
    fs.writeFileSync(sb.settingsPath, EXISTING_TEXT)

    const setup = await kn(['setup', 'claude-code', '--yes'])
    assert.equal(setup.code, 0, show(setup))
    t.diagnostic(`$ kimi-native setup claude-code --yes\n${setup.stdout}${setup.stderr}`)
    const settings = JSON.parse(fs.readFileSync(sb.settingsPath, 'utf8'))
    assert.deepEqual(settings.permissions, EXISTING.permissions, 'other keys kept')
    assert.equal(settings.includeCoAuthoredBy, false)
    assert.equal(settings.env.FOO, 'bar')
    assert.equal(settings.env.ANTHROPIC_API_KEY, undefined, 'the static key the helper replaces is removed')
    assert.equal(settings.env.ANTHROPIC_BASE_URL, `${fake.url}/coding`)
    const backups = fs.readdirSync(path.dirname(sb.settingsPath)).filter((f) => f.startsWith('settings.json.bak-'))
    assert.equal(backups.length, 1)
    assert.equal(fs.readFileSync(path.join(path.dirname(sb.settingsPath), backups[0]), 'utf8'), EXISTING_TEXT)

    fake.reset()
    const answer = 'Hello from Kimi For Coding, through kimi-native.'
    fake.setReply({ text: answer, chunkSize: 6 })
    const r = await claudeP('Say hello.')
    t.diagnostic(`$ claude -p "Say hello."\n${r.stdout}${r.stderr}`)
    assert.equal(r.code, 0, show(r))
    assert.equal(r.stdout.trim(), answer, 'the streamed answer reaches stdout')
    const token = storedLogin().access_token
    const sent = messages()
    assert.ok(sent.length >= 1, 'Claude Code called the Anthropic route')
    for (const rec of sent) {
      assert.match(rec.path, /^\/coding\/v1\/messages\?beta=true$/)
      assert.equal(rec.status, 200)
      assert.equal(header(rec, 'x-api-key'), token, "kimi-native's current access token in x-api-key")
      assert.equal(header(rec, 'authorization'), `Bearer ${token}`, 'and as bearer')
      assert.match(header(rec, 'user-agent'), /^claude-cli\/2\.1\.332 /, "Claude Code's own identity")
      const body = JSON.parse(rec.body)
      assert.equal(body.model, 'kimi-for-coding', "the account's model")
      assert.equal(body.stream, true)
    }
    assert.ok(sent[0].streamed, 'answered as a stream')
    assert.equal(fake.stats().refreshCount, 0, 'a fresh login needs no refresh')
  },
)

test(
  'S2: the server refuses the token mid-session: exactly one refresh, the retry carries the new token, the run completes',
  { timeout: 240000 },
  async (t) => {
    if (setupSkip) return t.skip(setupSkip)
    fs.writeFileSync(path.join(sb.project, 'note.txt'), 'The answer is 42.\n')
    fake.reset()
    const before = storedLogin().access_token
    // First turn: a tool call; having answered it, the server revokes the token (as a server-side logout of that
    // access token would; the refresh token still works). The second turn needs the tool result.
    fake.enqueueReply((body, rec) => {
      fake.expireAccessTokens(rec.token)
      return { text: '', toolCalls: [{ name: 'Read', arguments: { file_path: path.join(sb.project, 'note.txt') } }] }
    })
    fake.enqueueReply({ text: 'The note says 42.', chunkSize: 5 })
    const r = await claudeP('What does note.txt say?')
    assert.equal(r.code, 0, show(r))
    assert.equal(r.stdout.trim(), 'The note says 42.')
    const sent = messages()
    const after = storedLogin().access_token
    const summary = sent.map(
      (m) =>
        `${m.status} ${header(m, 'x-api-key') === before ? 'old' : header(m, 'x-api-key') === after ? 'new' : '?'}`,
    )
    const counters = {
      ...fake.stats(),
      messages: summary,
      modelsChecks: fake.requests.filter((x) => x.path.startsWith('/coding/v1/models')).map((x) => x.status),
    }
    t.diagnostic(`server counters: ${JSON.stringify(counters)}`)
    assert.deepEqual(summary, ['200 old', '401 old', '200 new'], 'answered, refused once, retried with the new token')
    assert.notEqual(after, before)
    assert.equal(fake.stats().refreshCount, 1, 'exactly one refresh')
    assert.equal(fake.stats().invalidGrantCount, 0)
    assert.deepEqual(counters.modelsChecks, [401], 'one check of the refused token, no more')
    assert.equal(header(sent[2], 'authorization'), `Bearer ${after}`)
  },
)

test(
  'S3: a stored token near expiry is never handed out below the minimum validity',
  { timeout: 240000 },
  async (t) => {
    if (setupSkip) return t.skip(setupSkip)
    // Valid for 100 s more (and on the server for its full life): under the 7-minute minimum.
    const file = credentialsFile(sb.kimiHome)
    const login = JSON.parse(fs.readFileSync(file, 'utf8'))
    login.expires_at = Date.now() / 1000 + 100
    fs.writeFileSync(file, JSON.stringify(login))
    fake.reset()
    fake.setReply({ text: 'fresh' })
    const r = await claudeP('Say fresh.')
    assert.equal(r.code, 0, show(r))
    const sent = messages()
    const used = header(sent[0], 'x-api-key')
    assert.notEqual(used, login.access_token, 'the near-expiry token was not handed out')
    assert.equal(fake.stats().refreshCount, 1)
    const info = fake.accessTokenInfo(used)
    assert.ok(info && info.valid)
    assert.ok(
      (info.expiresAt - sent[0].time) / 1000 >= kimi.DEFAULTS.tokenMinValidSecs,
      'it had at least the minimum left when sent',
    )
  },
)

test(
  'S4: status names Claude Code; setup --remove restores the original keys; no token in any output',
  { timeout: 60000 },
  async (t) => {
    if (setupSkip) return t.skip(setupSkip)
    const status = await kn(['status'])
    assert.match(status.stdout, /host: +claude-code \(.*\.claude\/settings\.json\)/)
    const undo = await kn(['setup', 'claude-code', '--remove', '--yes'])
    assert.equal(undo.code, 0, show(undo))
    t.diagnostic(`$ kimi-native setup claude-code --remove --yes\n${undo.stdout}${undo.stderr}`)
    const { ANTHROPIC_API_KEY, ...rest } = EXISTING.env
    assert.ok(ANTHROPIC_API_KEY)
    // Byte for byte but for the static key the user let setup remove (it is in the backup; kimi-native keeps no secret).
    assert.equal(fs.readFileSync(sb.settingsPath, 'utf8'), `${JSON.stringify({ ...EXISTING, env: rest }, null, 2)}\n`)
    const tokens = fake.issuedTokens()
    assert.ok(tokens.length >= 6)
    const all = outputs.join('\n')
    for (const tok of tokens) assert.ok(!all.includes(tok), `token ${tok.slice(0, 8)}… in an output`)
    assert.ok(!all.includes('STATICKEY'), 'the static key never printed')
  },
)
