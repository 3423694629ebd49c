'use strict'
// `kimi-native token` and `kimi-native setup claude-code` (issue #22) through the real CLI process against the fake
// Kimi server: exit codes and messages, the minimum validity, a refused token never handed back to the caller that
// got it, a refresh persisted before the process exits, and the settings file merge / undo. Every CLI run has a clean
// environment, its own temp homes and a timeout; the output of every command except `token` itself is grepped for
// the tokens the fake issued.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { startFakeKimi } = require('./fake-kimi/server.js')
const { DEFAULTS } = require('../lib')

const CLI = path.join(__dirname, '..', 'lib', 'cli.js')
const MIN_VALID = DEFAULTS.tokenMinValidSecs
const others = [] // output of every command other than `token`
const servers = []
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-native-token-'))
after(() => {
  for (const s of servers) s.close().catch(() => {})
  fs.rmSync(tmpRoot, { recursive: true, force: true })
})

let n = 0
function newHome() {
  const base = path.join(tmpRoot, String(++n))
  const d = { home: path.join(base, 'home'), kn: path.join(base, 'kimi-native'), project: path.join(base, 'project') }
  for (const p of Object.values(d)) fs.mkdirSync(p, { recursive: true })
  d.settings = path.join(d.home, '.claude', 'settings.json')
  return d
}

async function fake(opts = {}) {
  const f = await startFakeKimi({ deviceInterval: 1, autoApprove: 0, ...opts })
  servers.push(f)
  return f
}

function envFor(f, d, extra = {}) {
  const env = {
    PATH: process.env.PATH,
    HOME: d.home,
    KIMI_NATIVE_HOME: d.kn,
    KIMI_NATIVE_STORE: 'file',
    KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS: '1',
    KIMI_CODE_OAUTH_HOST: f ? f.oauthHost : 'http://127.0.0.1:9',
    KIMI_CODE_BASE_URL: f ? f.baseUrl : 'http://127.0.0.1:9/coding/v1',
    ...extra,
  }
  if (process.env.TMPDIR) env.TMPDIR = process.env.TMPDIR
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k]
  return env
}

function cli(args, env, { cwd } = {}) {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const child = spawn(process.execPath, [CLI, ...args], {
      env,
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 30000,
      killSignal: 'SIGKILL',
    })
    const r = { stdout: '', stderr: '' }
    child.stdout.on('data', (b) => (r.stdout += b))
    child.stderr.on('data', (b) => (r.stderr += b))
    child.on('close', (code, signal) => {
      if (args[0] === 'token') others.push(r.stderr)
      else others.push(r.stdout, r.stderr)
      resolve({ ...r, code, signal, ms: Date.now() - t0 })
    })
  })
}
const show = (r) => `exit ${r.code} ${r.signal || ''} (${r.ms} ms)\n--stdout--\n${r.stdout}\n--stderr--\n${r.stderr}`

async function loggedIn(f, d, extra) {
  const env = envFor(f, d, extra)
  const r = await cli(['login', '--no-browser', '--no-import'], env)
  assert.equal(r.code, 0, show(r))
  return env
}

/** The stored login (file store): the one credentials file of this home. */
function storedFile(d) {
  const dir = path.join(d.kn, 'credentials')
  return path.join(
    dir,
    fs.readdirSync(dir).find((x) => x.endsWith('.json')),
  )
}
const stored = (d) => JSON.parse(fs.readFileSync(storedFile(d), 'utf8'))
function editStored(d, edit) {
  const v = stored(d)
  edit(v)
  fs.writeFileSync(storedFile(d), JSON.stringify(v))
}
const modelsProbes = (f) => f.requests.filter((r) => r.path.startsWith('/coding/v1/models'))

test('logged out: exit 1 and the login hint on stderr; nothing on stdout', { timeout: 20000 }, async () => {
  const r = await cli(['token'], envFor(null, newHome()))
  assert.equal(r.code, 1, show(r))
  assert.equal(r.stdout, '')
  // One line: the code, then the core's message (which names the server pair when it is not Kimi's default).
  assert.match(
    r.stderr,
    /^error \[KIMI_NOT_LOGGED_IN\] Not logged in to Kimi For Coding at http:\/\/127\.0\.0\.1:9 .*Run `npx kimi-native login`[^\n]*$/m,
  )
  const j = await cli(['token', '--json'], envFor(null, newHome()))
  assert.equal(j.code, 1)
  assert.equal(j.stdout, '')
})

test('relogin required: exit 2 with the reason on stderr; nothing on stdout', { timeout: 30000 }, async () => {
  const f = await fake()
  const d = newHome()
  const env = await loggedIn(f, d)
  f.revokeAll()
  editStored(d, (v) => (v.expires_at = Date.now() / 1000 + 30)) // due now: the refresh is refused
  const r = await cli(['token'], env)
  assert.equal(r.code, 2, show(r))
  assert.equal(r.stdout, '')
  assert.match(
    r.stderr,
    /^error \[KIMI_RELOGIN_REQUIRED\] Your Kimi login is no longer valid \(.*\)\. Run `npx kimi-native login`/m,
  )
  const again = await cli(['token'], env)
  assert.equal(again.code, 2, 'the mark is remembered')
  assert.equal(f.stats().invalidGrantCount, 1, 'and the dead refresh token is not tried again')
})

test(
  'prints the current access token and a newline, nothing else; --json gives { token, expiresAt, source }',
  { timeout: 30000 },
  async () => {
    const f = await fake()
    const d = newHome()
    const env = await loggedIn(f, d)
    const r = await cli(['token'], env)
    assert.equal(r.code, 0, show(r))
    assert.equal(r.stderr, '')
    assert.match(r.stdout, /^\S+\n$/)
    const token = r.stdout.trim()
    assert.equal(token, stored(d).access_token)
    assert.ok(f.isAccessTokenValid(token), 'the server accepts it')
    assert.equal(f.stats().refreshCount, 0, 'a fresh token is not refreshed')
    const j = await cli(['token', '--json', '--min-valid=10m', '--caller', '77'], env)
    assert.equal(j.code, 0, show(j))
    const v = JSON.parse(j.stdout)
    assert.deepEqual(Object.keys(v).sort(), ['expiresAt', 'source', 'token'])
    assert.equal(v.token, token)
    assert.equal(v.source, 'kimi-native')
    assert.ok(v.expiresAt - Date.now() / 1000 > 600, 'valid for the 10 minutes asked for')
    // Bad durations and a flag without its value are explained (the latter by commander).
    const bad = await cli(['token', '--min-valid', 'soon'], env)
    assert.equal(bad.code, 3)
    assert.match(bad.stderr, /\[KIMI_BAD_INPUT\] --min-valid takes a duration such as 90s, 10m or 1h, not "soon"\./)
    const missing = await cli(['token', '--caller'], env)
    assert.notEqual(missing.code, 0)
    assert.match(missing.stderr, /option '--caller <id>' argument missing/)
    assert.equal(bad.stdout + missing.stdout, '')
  },
)

test(
  'a token near expiry is never handed out: it is refreshed first, and the rotation is stored before exit',
  { timeout: 30000 },
  async () => {
    const f = await fake()
    const d = newHome()
    const env = await loggedIn(f, d)
    const old = stored(d)
    // Still valid for 100 s (and on the server for 15 min), well under the default minimum: the core's
    // ordinary rule would hand it out (more than its 60 s blocking margin) and refresh in the background.
    editStored(d, (v) => (v.expires_at = Date.now() / 1000 + 100))
    const r = await cli(['token', '--json'], env)
    assert.equal(r.code, 0, show(r))
    const v = JSON.parse(r.stdout)
    assert.notEqual(v.token, old.access_token)
    assert.ok(v.expiresAt - Date.now() / 1000 >= MIN_VALID, `at least ${MIN_VALID} s left`)
    assert.equal(f.stats().refreshCount, 1)
    // The process waited for the rotation to be written: the store holds the new pair.
    const now = stored(d)
    assert.equal(now.access_token, v.token)
    assert.notEqual(now.refresh_token, old.refresh_token)
    assert.equal(f.refreshTokenInfo(now.refresh_token).status, 'active')
    // Due (under the 450 s refresh-ahead point) but above the minimum: refreshed too, since the process
    // would wait for that refresh before exiting anyway.
    editStored(d, (x) => (x.expires_at = Date.now() / 1000 + 440))
    const due = JSON.parse((await cli(['token', '--json'], env)).stdout)
    assert.notEqual(due.token, v.token)
    assert.equal(f.stats().refreshCount, 2)
    // A minimum longer than the server's tokens live cannot be met: said at once, no refresh spent.
    const long = await cli(['token', '--min-valid', '20m'], env)
    assert.equal(long.code, 3, show(long))
    assert.match(
      long.stderr,
      /\[KIMI_BAD_INPUT\] Kimi's access tokens live 15m00s, so none stays valid for the 20m00s asked for\./,
    )
    assert.equal(long.stdout, '')
    assert.equal(f.stats().refreshCount, 2)
  },
)

test(
  'a caller that asks again early because its token was refused gets a new one, after one check and one refresh',
  { timeout: 40000 },
  async () => {
    const f = await fake()
    const d = newHome()
    const env = await loggedIn(f, d)
    const first = await cli(['token', '--caller', '4242'], env)
    const t1 = first.stdout.trim()
    assert.equal(modelsProbes(f).length, 1, 'login read the model list once')
    // The server stops accepting t1 (its refresh token still works), as after a revocation.
    f.expireAccessTokens(t1)
    const second = await cli(['token', '--caller', '4242'], env)
    assert.equal(second.code, 0, show(second))
    const t2 = second.stdout.trim()
    assert.notEqual(t2, t1, 'the refused token does not come back')
    assert.ok(f.isAccessTokenValid(t2))
    assert.equal(f.stats().refreshCount, 1, 'exactly one refresh')
    const probes = modelsProbes(f).slice(1)
    assert.equal(probes.length, 1, 'one check of the recalled token')
    assert.equal(probes[0].token, undefined, 'the check was refused (a 401 records no token)')
    assert.match(probes[0].headers.find(([k]) => k.toLowerCase() === 'authorization')[1], new RegExp(`^Bearer ${t1}$`))
    // Asked again with a token the server accepts: checked, handed out again, no refresh.
    const third = await cli(['token', '--caller', '4242'], env)
    assert.equal(third.stdout.trim(), t2)
    assert.equal(modelsProbes(f).length, 3)
    assert.equal(f.stats().refreshCount, 1)
    // Another caller, or the same one after its cache ran out, is a routine run: no request at all.
    assert.equal((await cli(['token', '--caller', '5151'], env)).stdout.trim(), t2)
    assert.equal(
      (await cli(['token', '--caller', '4242'], { ...env, CLAUDE_CODE_API_KEY_HELPER_TTL_MS: '0' })).stdout.trim(),
      t2,
    )
    assert.equal(modelsProbes(f).length, 3)
    // Only fingerprints are remembered.
    const ledger = fs.readFileSync(
      path.join(d.kn, 'handed-out', fs.readdirSync(path.join(d.kn, 'handed-out'))[0]),
      'utf8',
    )
    for (const tok of f.issuedTokens()) assert.ok(!ledger.includes(tok))
    assert.match(ledger, /"4242":\{"fingerprint":"[0-9a-f]{16}"/)
  },
)

test(
  'without --caller nothing is remembered: no check on repeated calls, and a refused token comes back',
  { timeout: 30000 },
  async () => {
    const f = await fake()
    const d = newHome()
    const env = await loggedIn(f, d)
    const t1 = (await cli(['token'], env)).stdout.trim()
    assert.equal((await cli(['token'], env)).stdout.trim(), t1)
    f.expireAccessTokens(t1)
    // The case the memory exists for: the store alone cannot know that the server refused the token.
    assert.equal((await cli(['token'], env)).stdout.trim(), t1)
    assert.equal(f.stats().refreshCount, 0)
    assert.equal(modelsProbes(f).length, 1, 'only the one of the login')
    assert.ok(!fs.existsSync(path.join(d.kn, 'handed-out')))
  },
)

test(
  "an official client's login is borrowed while it lasts, and refused (never refreshed) below the minimum",
  { timeout: 30000 },
  async () => {
    const f = await fake()
    const d = newHome()
    const pair = JSON.stringify({ oauthHost: f.oauthHost, baseUrl: f.baseUrl })
    const slot = `kimi-code-env-${require('node:crypto').createHash('sha256').update(pair).digest('hex').slice(0, 16)}`
    const file = path.join(d.home, 'kimi-code', 'credentials', `${slot}.json`)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    const issued = f.issueTokens()
    const write = (left) =>
      fs.writeFileSync(
        file,
        JSON.stringify({ ...issued, expires_at: Math.floor(Date.now() / 1000) + left, expires_in: 900 }),
      )
    const env = envFor(f, d, {
      KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS: undefined,
      KIMI_CODE_HOME: path.join(d.home, 'kimi-code'),
      KIMI_SHARE_DIR: path.join(d.home, 'kimi-share'),
    })
    write(800)
    const ok = await cli(['token', '--json'], env)
    assert.equal(ok.code, 0, show(ok))
    assert.equal(JSON.parse(ok.stdout).source, 'kimi-code')
    assert.equal(JSON.parse(ok.stdout).token, issued.access_token)
    write(120)
    const short = await cli(['token'], env)
    assert.equal(short.code, 1, show(short))
    assert.equal(short.stdout, '')
    assert.match(
      short.stderr,
      /\[KIMI_NOT_LOGGED_IN\] kimi-native has no login of its own, and the kimi-code login it could borrow expires in \d+m\d\ds, sooner than the 7m00s asked for/,
    )
    assert.equal(f.stats().refreshCount, 0, "another client's login is never refreshed")
  },
)

// ---- setup claude-code -----------------------------------------------------------------------------------------

const EXISTING = {
  permissions: { allow: ['Bash(npm test:*)'], deny: [] },
  env: { FOO: 'bar', ANTHROPIC_MODEL: 'claude-sonnet-4-5', ANTHROPIC_API_KEY: 'sk-kimi-fake-EXISTINGSECRET-not-real' },
  statusLine: { type: 'command', command: 'echo hi' },
  model: 'opus',
}
// Claude Code's own format: JSON.stringify(settings, null, 2) and a newline.
const EXISTING_TEXT = `${JSON.stringify(EXISTING, null, 2)}\n`

test(
  'setup claude-code merges into an existing file, keeps every other key, backs up, and --remove restores it',
  { timeout: 40000 },
  async () => {
    const f = await fake()
    const d = newHome()
    const env = await loggedIn(f, d)
    fs.mkdirSync(path.dirname(d.settings), { recursive: true })
    fs.writeFileSync(d.settings, EXISTING_TEXT, { mode: 0o644 })

    const print = await cli(['setup', 'claude-code', '--print'], env)
    assert.equal(print.code, 0, show(print))
    assert.match(print.stdout, /\+ apiKeyHelper +'.+' '.+cli\.js' token --caller "\$PPID"/)
    assert.match(print.stdout, /~ env\.ANTHROPIC_MODEL +claude-sonnet-4-5 → kimi-for-coding/)
    assert.match(print.stdout, /! env\.ANTHROPIC_API_KEY +a static API key: Claude Code uses it instead of the helper/)
    assert.ok(!print.stdout.includes('EXISTINGSECRET'), 'the key is never shown')
    assert.equal(fs.readFileSync(d.settings, 'utf8'), EXISTING_TEXT, '--print changes nothing')

    const refused = await cli(['setup', 'claude-code'], env)
    assert.equal(refused.code, 3, show(refused))
    assert.match(
      refused.stderr,
      /\[KIMI_CONFIRMATION_REQUIRED\] .*stdin is not a terminal.*setup claude-code --yes.*Nothing was changed/,
    )
    assert.equal(fs.readFileSync(d.settings, 'utf8'), EXISTING_TEXT)

    const r = await cli(['setup', 'claude-code', '--yes'], env)
    assert.equal(r.code, 0, show(r))
    assert.match(r.stdout, /Claude Code now uses this Kimi login/)
    assert.match(r.stdout, /removed: env\.ANTHROPIC_API_KEY/)
    const now = JSON.parse(fs.readFileSync(d.settings, 'utf8'))
    assert.deepEqual(now.permissions, EXISTING.permissions)
    assert.deepEqual(now.statusLine, EXISTING.statusLine)
    assert.equal(now.model, 'opus')
    assert.equal(now.env.FOO, 'bar')
    assert.equal(now.env.ANTHROPIC_API_KEY, undefined, 'the static key the helper replaces is gone')
    assert.equal(now.env.ANTHROPIC_BASE_URL, f.baseUrl.replace(/\/v1$/, ''), 'KIMI_CODE_BASE_URL without /v1')
    assert.equal(now.env.ANTHROPIC_MODEL, 'kimi-for-coding')
    assert.equal(now.env.ANTHROPIC_DEFAULT_HAIKU_MODEL, 'kimi-for-coding')
    assert.equal(now.env.CLAUDE_CODE_MAX_CONTEXT_TOKENS, '262144', "the account's /models context_length")
    assert.equal(now.env.CLAUDE_CODE_API_KEY_HELPER_TTL_MS, '300000')
    if (process.platform !== 'win32')
      assert.equal(fs.statSync(d.settings).mode & 0o777, 0o644, 'the file keeps its mode')
    const backups = fs.readdirSync(path.dirname(d.settings)).filter((x) => x.startsWith('settings.json.bak-'))
    assert.equal(backups.length, 1)
    const backup = path.join(path.dirname(d.settings), backups[0])
    assert.equal(fs.readFileSync(backup, 'utf8'), EXISTING_TEXT)
    if (process.platform !== 'win32') assert.equal(fs.statSync(backup).mode & 0o777, 0o600)
    const record = fs.readFileSync(path.join(d.kn, 'setup-claude-code.json'), 'utf8')
    assert.ok(!record.includes('EXISTINGSECRET'), 'the record holds no secret')

    // The helper setup wrote runs: it is the command Claude Code will run through /bin/sh.
    const helper = spawnSh(now.apiKeyHelper, env)
    assert.equal(helper.status, 0, helper.stderr)
    assert.equal(helper.stdout.trim(), stored(d).access_token)

    const status = await cli(['status'], env)
    assert.match(status.stdout, new RegExp(`host: +claude-code \\(${esc(d.settings)}\\)`))
    const again = await cli(['setup', 'claude-code', '--yes'], env)
    assert.match(again.stdout, /already set up/)

    const undo = await cli(['setup', 'claude-code', '--remove', '--yes'], env)
    assert.equal(undo.code, 0, show(undo))
    assert.match(
      undo.stdout,
      /env\.ANTHROPIC_API_KEY was removed by setup at your request; its value is only in .*settings\.json\.bak-/,
    )
    // Byte for byte, but for the removed key (kimi-native keeps no secret to put back).
    const { ANTHROPIC_API_KEY, ...envWithoutKey } = EXISTING.env
    assert.equal(
      fs.readFileSync(d.settings, 'utf8'),
      `${JSON.stringify({ ...EXISTING, env: envWithoutKey }, null, 2)}\n`,
    )
    assert.ok(ANTHROPIC_API_KEY)
    assert.doesNotMatch((await cli(['status'], env)).stdout, /host:/)
  },
)

test(
  'setup claude-code keeping the static key, then --remove: the original bytes exactly',
  { timeout: 30000 },
  async () => {
    const f = await fake()
    const d = newHome()
    const env = await loggedIn(f, d)
    fs.mkdirSync(path.dirname(d.settings), { recursive: true })
    const original = `${JSON.stringify({ ...EXISTING, env: { ...EXISTING.env, ANTHROPIC_API_KEY: undefined } }, null, 2)}\n`
    fs.writeFileSync(d.settings, original)
    const r = await cli(['setup', 'claude-code', '--yes', '--json'], env)
    assert.equal(r.code, 0, show(r))
    const out = JSON.parse(r.stdout)
    assert.equal(out.changed, true)
    assert.ok(out.backup)
    const undo = await cli(['setup', 'claude-code', '--remove', '--yes'], env)
    assert.equal(undo.code, 0, show(undo))
    assert.equal(fs.readFileSync(d.settings, 'utf8'), original)
    const nothing = await cli(['setup', 'claude-code', '--remove', '--yes'], env)
    assert.match(nothing.stdout, /no record of setting up .*nothing to undo/)
  },
)

test(
  'setup claude-code refuses a settings file that is not valid JSON, with the reason, and touches nothing',
  { timeout: 20000 },
  async () => {
    const d = newHome()
    const env = envFor(null, d)
    fs.mkdirSync(path.dirname(d.settings), { recursive: true })
    for (const bad of ['{\n  "env": {\n    "FOO": "1",\n', '{"env": ["x"]}']) {
      fs.writeFileSync(d.settings, bad)
      const r = await cli(['setup', 'claude-code', '--yes'], env)
      assert.equal(r.code, 3, show(r))
      assert.match(
        r.stderr,
        /\[KIMI_BAD_INPUT\] .*settings\.json cannot be changed safely: (it is not valid JSON \(cut short\)|its `env` is not an object)\. .*Nothing was changed\./,
      )
      assert.equal(fs.readFileSync(d.settings, 'utf8'), bad)
      assert.deepEqual(fs.readdirSync(path.dirname(d.settings)), ['settings.json'], 'no backup, no temp file')
    }
  },
)

test(
  'setup claude-code --project writes .claude/settings.local.json of this directory, 0600, and --remove deletes it',
  { timeout: 20000 },
  async () => {
    const d = newHome()
    const env = envFor(null, d)
    const r = await cli(['setup', 'claude-code', '--project', '--yes'], env, { cwd: d.project })
    assert.equal(r.code, 0, show(r))
    const file = path.join(d.project, '.claude', 'settings.local.json')
    if (process.platform !== 'win32') assert.equal(fs.statSync(file).mode & 0o777, 0o600)
    assert.match(r.stdout, /could not be read \(log in first/, 'not logged in: the default model, said so')
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).env.ANTHROPIC_MODEL, 'kimi-for-coding')
    assert.ok(!fs.existsSync(d.settings), "the user's file is not touched")
    const status = await cli(['status', '--json'], env, { cwd: d.project })
    assert.deepEqual(JSON.parse(status.stdout).hosts, [{ host: 'claude-code', file: fs.realpathSync(file) }])
    const undo = await cli(['setup', 'claude-code', '--project', '--remove', '--yes'], env, { cwd: d.project })
    assert.equal(undo.code, 0, show(undo))
    assert.ok(!fs.existsSync(file))
    const unknown = await cli(['setup', 'vim'], env)
    assert.equal(unknown.code, 3)
    assert.match(unknown.stderr, /setup knows claude-code, not "vim"/)
  },
)

test(
  'setup claude-code on a terminal asks: keeping the static key is respected and said',
  { timeout: 30000 },
  async (t) => {
    const hasScript =
      require('node:child_process').spawnSync('script', ['--version'], { stdio: 'ignore', timeout: 5000 }).status === 0
    if (process.platform !== 'linux' || !hasScript)
      return t.skip('needs util-linux `script` to give the CLI a pseudo-terminal')
    const d = newHome()
    fs.mkdirSync(path.dirname(d.settings), { recursive: true })
    fs.writeFileSync(d.settings, '{"env":{"ANTHROPIC_API_KEY":"sk-kimi-fake-TTYSECRET-not-real"}}')
    const q = (x) => `'${String(x).replace(/'/g, `'\\''`)}'`
    const answers = ['n', 'y'] // keep the key; write the rest
    const out = await new Promise((resolve) => {
      const child = spawn('script', ['-qec', `${q(process.execPath)} ${q(CLI)} setup claude-code`, '/dev/null'], {
        env: envFor(null, d, { TERM: 'dumb' }),
        stdio: ['pipe', 'pipe', 'pipe'],
        timeout: 20000,
        killSignal: 'SIGKILL',
      })
      let text = ''
      let asked = 0
      child.stdout.on('data', (b) => {
        text += b
        const prompts = text.split('[Y/n] ').length - 1
        while (asked < prompts && answers.length) {
          asked++
          child.stdin.write(`${answers.shift()}\n`)
        }
      })
      child.on('close', (code) => resolve({ code, text }))
    })
    others.push(out.text)
    assert.equal(out.code, 0, out.text)
    assert.match(out.text, /The helper replaces env\.ANTHROPIC_API_KEY\. Remove it from .*\? \[Y\/n\] n/)
    assert.match(out.text, /Write these changes to .*\? \[Y\/n\] y/)
    assert.match(
      out.text,
      /kept: +env\.ANTHROPIC_API_KEY — a static API key: Claude Code uses it instead of the helper/,
    )
    const now = JSON.parse(fs.readFileSync(d.settings, 'utf8'))
    assert.equal(now.env.ANTHROPIC_API_KEY, 'sk-kimi-fake-TTYSECRET-not-real', 'kept as answered')
    assert.match(now.apiKeyHelper, / token --caller "\$PPID"$/)
    assert.ok(!out.text.includes('TTYSECRET'), 'the key is never shown')
  },
)

test('no issued token appears in the output of any command other than `token`', () => {
  const tokens = servers.flatMap((s) => s.issuedTokens())
  assert.ok(tokens.length >= 10, `tokens were issued (${tokens.length})`)
  assert.ok(others.length > 30, `outputs were captured (${others.length})`)
  const all = others.join('\n')
  for (const tok of tokens) assert.ok(!all.includes(tok), `token ${tok.slice(0, 8)}… leaked`)
})

const esc = (x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
function spawnSh(command, env) {
  return require('node:child_process').spawnSync('/bin/sh', ['-c', command], { env, encoding: 'utf8', timeout: 20000 })
}
