'use strict'
// The real `kimi-native` CLI process (lib/cli.js) against the fake Kimi server: device login,
// status / models / usage / logout, relogin-required, denied login, Ctrl+C, colours, secrets.
// Every CLI run is a separate process with stdin ignored, a clean environment, its own temp home
// and a timeout; every captured output is grepped for the tokens the fake issued at the end.

const { test, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, spawnSync } = require('node:child_process')
const { startFakeKimi } = require('./fake-kimi/server.js')
const { PROVIDER } = require('../lib')
const pkg = require('../package.json')

const CLI = path.join(__dirname, '..', 'lib', 'cli.js')
const ANSI = /\x1b\[/
const outputs = [] // every piped (non-TTY) stdout/stderr captured in this file
const ttyOutputs = [] // output of the pseudo-terminal runs
const servers = []
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-native-cli-'))
after(() => {
  for (const s of servers) s.close().catch(() => {})
  fs.rmSync(tmpRoot, { recursive: true, force: true })
})

let n = 0
function newHome() {
  const base = path.join(tmpRoot, String(++n))
  const d = { home: path.join(base, 'home'), kn: path.join(base, 'kimi-native') }
  for (const p of Object.values(d)) fs.mkdirSync(p, { recursive: true })
  return d
}

async function fake(opts = {}) {
  const f = await startFakeKimi({ deviceInterval: 1, autoApprove: 0, ...opts })
  servers.push(f)
  return f
}

/** Clean environment: nothing from this machine (no official logins, no bus, no API key, no colour hints). */
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

/** Starts the CLI; `done` resolves with {code, signal, stdout, stderr, ms}. */
function start(args, env, timeoutMs = 20000) {
  const t0 = Date.now()
  const child = spawn(process.execPath, [CLI, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  })
  const r = { stdout: '', stderr: '' }
  const waiters = []
  const check = () => {
    for (const w of waiters.slice()) {
      if (w.re.test(r.stderr) || w.re.test(r.stdout)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve()
      }
    }
  }
  child.stdout.on('data', (b) => {
    r.stdout += b
    check()
  })
  child.stderr.on('data', (b) => {
    r.stderr += b
    check()
  })
  child.on('error', (err) => (r.stderr += `\nspawn error: ${err.message}`))
  const done = new Promise((resolve) =>
    child.on('close', (code, signal) => {
      outputs.push(r.stdout, r.stderr)
      for (const w of waiters) w.reject(new Error(`CLI exited (${code}) before printing ${w.re}\n${r.stderr}`))
      resolve({ ...r, code, signal, ms: Date.now() - t0 })
    }),
  )
  const waitFor = (re) =>
    new Promise((resolve, reject) => {
      waiters.push({ re, resolve, reject })
      check()
    })
  return { child, done, waitFor, t0 }
}

const cli = (args, env, timeoutMs) => start(args, env, timeoutMs).done
const show = (r) => `exit ${r.code} ${r.signal || ''} (${r.ms} ms)\n--stdout--\n${r.stdout}\n--stderr--\n${r.stderr}`

function credentialFiles(d) {
  try {
    return fs.readdirSync(path.join(d.kn, 'credentials'))
  } catch {
    return []
  }
}

/** The login transcript of docs/login.md as one regex per line (example values become patterns). */
function transcriptPatterns() {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'docs', 'login.md'), 'utf8')
  const begin = '<!-- login-transcript:begin -->'
  const block = readme.slice(readme.indexOf(begin) + begin.length, readme.indexOf('<!-- login-transcript:end -->'))
  const lines = block.split('\n').filter((l) => l && !l.startsWith('```'))
  assert.ok(lines.length >= 8, 'docs/login.md has a login transcript')
  const url = 'https://www.kimi.com/code/authorize_device?user_code=ABCD-EFGH'
  const esc = (x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return lines.map((line) => {
    let re = esc(line)
    re = re.split(esc(url)).join('\\S+')
    re = re.split('ABCD-EFGH').join('[A-Z0-9]{4}-[A-Z0-9]{4}')
    re = re.split(esc('(Kimi-k2.6)')).join('\\([^)]+\\)')
    re = re.split(esc('node/v22.23.3')).join('(?:node|bun)/v?[0-9.]+')
    re = re.split(esc('OS keychain — Secret Service keyring is available')).join('(OS keychain|0600 file) — .+')
    re = re.replace(/\d+m\d\ds/, '\\d+m\\d\\ds')
    re = re.replace(/^⠋/, '[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]')
    return { line, re: new RegExp(`^${re}$`) }
  })
}

/** The JSON block printed after the "opencode.json:" line. */
function opencodeBlock(stdout) {
  const lines = stdout.split('\n')
  const at = lines.findIndex((l) => l.includes('opencode.json'))
  assert.ok(at >= 0, 'an opencode.json block is printed')
  const startAt = lines.findIndex((l, i) => i > at && l.startsWith('{'))
  const endAt = lines.findIndex((l, i) => i > startAt && l.startsWith('}'))
  assert.ok(startAt > at && endAt > startAt, 'the block is a JSON object')
  return JSON.parse(lines.slice(startAt, endAt + 1).join('\n'))
}

test(
  'login --no-browser, status, models, usage, logout: the whole session through the real CLI',
  { timeout: 40000 },
  async (t) => {
    const f = await fake({ autoApprove: 2 }) // two authorization_pending answers, then approved
    const d = newHome()
    const env = envFor(f, d)

    await t.test(
      'login --print-config prints URL, code, model, context, store and ready-to-paste host config',
      async () => {
        const r = await cli(['login', '--no-browser', '--print-config'], env)
        assert.equal(r.code, 0, show(r))
        const [dev] = f.deviceCodes()
        assert.ok(dev && dev.polls >= 3, `the CLI polled until approval (${dev && dev.polls} polls)`)
        assert.ok(r.ms >= 1800, `two pending polls at a 1 s interval take ~2 s (${r.ms} ms)`)
        const all = r.stdout + r.stderr
        assert.ok(all.includes(`${f.url}/code/authorize_device`), 'verification URL shown')
        assert.ok(all.includes(dev.user_code), 'user code shown')
        assert.match(r.stdout, /Logged in/)
        assert.match(r.stdout, /kimi-for-coding/)
        assert.match(r.stdout, /262,144/)
        assert.match(r.stdout, /stored:.*file/)
        const oc = opencodeBlock(r.stdout)
        assert.equal(PROVIDER.opencodeId, 'kimi-for-coding-oauth')
        const prov = oc.provider['kimi-for-coding-oauth']
        assert.ok(prov, 'provider kimi-for-coding-oauth in the opencode config')
        assert.equal(prov.models['kimi-for-coding'].limit.context, 262144)
        assert.ok(oc.plugin.includes('kimi-native'))
        assert.ok(r.stdout.includes(`pi --model ${PROVIDER.piId}/kimi-for-coding`), 'pi setup line')
        const files = credentialFiles(d)
        assert.equal(files.length, 1)
        const mode = fs.statSync(path.join(d.kn, 'credentials', files[0])).mode & 0o777
        if (process.platform !== 'win32') assert.equal(mode, 0o600)
      },
    )

    await t.test('status (human and --json) exits 0', async () => {
      const times = []
      let r
      for (let i = 0; i < 5; i++) {
        r = await cli(['status'], env)
        times.push(r.ms)
        assert.equal(r.code, 0, show(r))
      }
      times.sort((a, b) => a - b)
      console.log(
        `# kimi-native status wall time (process spawn to exit, file store): min ${times[0]} ms, median ${times[2]} ms, max ${times[4]} ms`,
      )
      assert.ok(times[2] < 3000, 'status is quick')
      assert.match(r.stdout, /Logged in/)
      assert.match(r.stdout, /store:\s+file/)
      assert.match(r.stdout, /kimi-for-coding/)
      const j = await cli(['status', '--json'], env)
      assert.equal(j.code, 0, show(j))
      const s = JSON.parse(j.stdout)
      assert.equal(s.loggedIn, true)
      assert.equal(s.store, 'file')
      assert.equal(s.source, 'kimi-native')
      assert.equal(s.reloginRequired, false)
      assert.equal(s.oauthHost, f.oauthHost)
    })

    await t.test('models (human and --json)', async () => {
      const r = await cli(['models'], env)
      assert.equal(r.code, 0, show(r))
      assert.match(r.stdout, /kimi-for-coding/)
      assert.match(r.stdout, /context 262,144/)
      const j = await cli(['models', '--json'], env)
      assert.equal(j.code, 0, show(j))
      const list = JSON.parse(j.stdout)
      assert.ok(Array.isArray(list) && list.length >= 1)
      assert.equal(list[0].id, 'kimi-for-coding')
      assert.equal(list[0].contextLength, 262144)
    })

    await t.test('usage: a table with percentages and bars, and --json', async () => {
      const j = await cli(['usage', '--json'], env)
      assert.equal(j.code, 0, show(j))
      const u = JSON.parse(j.stdout)
      assert.ok(Array.isArray(u.windows) && u.windows.length >= 1, j.stdout)
      const r = await cli(['usage'], env)
      assert.equal(r.code, 0, show(r))
      const rows = r.stdout.split('\n').filter((l) => /\d+%/.test(l))
      assert.equal(rows.length, u.windows.length, r.stdout)
      for (const w of u.windows) {
        const row = rows.find((l) => l.startsWith(w.label))
        assert.ok(row, `a row for ${w.label}`)
        assert.match(row, /[█░]{24}/, 'a 24-cell bar')
        const pct = Math.round((w.used / w.limit) * 100)
        assert.match(row, new RegExp(`\\b${pct}%`))
        assert.ok(row.includes(`${w.used}/${w.limit}`))
      }
    })

    await t.test('logout removes the login; status then exits 1', async () => {
      const modelsDir = path.join(d.kn, 'models')
      assert.ok(fs.readdirSync(modelsDir).length > 0, 'models were cached by `models`')
      const r = await cli(['logout'], env)
      assert.equal(r.code, 0, show(r))
      assert.match(r.stdout, /Logged out/)
      assert.deepEqual(credentialFiles(d), [])
      assert.deepEqual(fs.readdirSync(modelsDir), [], "the account's model list goes with the login")
      const s = await cli(['status'], env)
      assert.equal(s.code, 1, show(s))
      assert.match(s.stdout, /Not logged in/)
      const again = await cli(['logout'], env)
      assert.equal(again.code, 0)
      assert.match(again.stdout, /No stored/)
    })
  },
)

test(
  'relogin required: a revoked refresh token makes usage fail with KIMI_RELOGIN_REQUIRED, then status exits 2',
  { timeout: 30000 },
  async () => {
    const f = await fake()
    const d = newHome()
    const login = await cli(['login', '--no-browser'], envFor(f, d))
    assert.equal(login.code, 0, show(login))
    f.revokeAll()
    const env = envFor(f, d, { KIMI_NATIVE_REFRESH_FLOOR_SECS: '100000' }) // the 900 s token needs a refresh now
    const u = await cli(['usage'], env)
    // The CLI maps KIMI_RELOGIN_REQUIRED to exit 2 for every command (same code as `status`).
    assert.equal(u.code, 2, show(u))
    assert.match(u.stderr, /^error \[KIMI_RELOGIN_REQUIRED\] /m)
    assert.equal(u.stdout, '')
    assert.equal(f.stats().invalidGrantCount, 1, 'one refresh attempt, refused')
    const s = await cli(['status'], env)
    assert.equal(s.code, 2, show(s))
    assert.match(s.stdout, /login/)
    assert.match(s.stdout, /kimi-native login/)
    const j = await cli(['status', '--json'], env)
    assert.equal(j.code, 2)
    const st = JSON.parse(j.stdout)
    assert.equal(st.loggedIn, false)
    assert.equal(st.reloginRequired, true)
    // Still no new refresh attempt: the mark is remembered, the dead token is not retried.
    const again = await cli(['usage'], env)
    assert.equal(again.code, 2)
    assert.equal(f.stats().invalidGrantCount, 1)
  },
)

test('denied login: non-zero exit, a clear message, nothing stored', { timeout: 20000 }, async () => {
  const f = await fake({ autoApprove: false })
  const d = newHome()
  const run = start(['login', '--no-browser'], envFor(f, d))
  await run.waitFor(/[A-Z0-9]{4}-[A-Z0-9]{4}/)
  f.deny()
  const r = await run.done
  assert.equal(r.code, 3, show(r))
  assert.match(r.stderr, /error \[KIMI_LOGIN_DENIED\] .*denied/)
  assert.deepEqual(credentialFiles(d), [])
  assert.equal(f.stats().tokenIssueCount, 0)
})

test('Ctrl+C while polling exits 130 within 2 s and stores nothing', { timeout: 20000 }, async () => {
  const f = await fake({ autoApprove: false })
  const d = newHome()
  const run = start(['login', '--no-browser'], envFor(f, d))
  await run.waitFor(/[A-Z0-9]{4}-[A-Z0-9]{4}/)
  await f.waitForRequest('/api/oauth/token', { timeoutMs: 5000 }) // polling has begun
  const t0 = Date.now()
  run.child.kill('SIGINT')
  const r = await run.done
  const ms = Date.now() - t0
  assert.equal(r.code, 130, show(r))
  assert.ok(ms < 2000, `exited ${ms} ms after SIGINT`)
  assert.match(r.stderr, /cancel/i)
  assert.deepEqual(credentialFiles(d), [])
  assert.equal(f.stats().tokenIssueCount, 0)
  // Approving afterwards must not resurrect the login.
  f.approve()
  const s = await cli(['status'], envFor(f, d))
  assert.equal(s.code, 1, show(s))
})

test(
  'login without --print-config: a short result with a pointer, a countdown line, and --json stays pure JSON',
  { timeout: 30000 },
  async () => {
    const f = await fake({ autoApprove: 1 })
    const d = newHome()
    const r = await cli(['login', '--no-browser'], envFor(f, d))
    assert.equal(r.code, 0, show(r))
    const [dev] = f.deviceCodes()
    // On a pipe the countdown is one line with the code and the time left.
    assert.match(
      r.stderr,
      new RegExp(`Waiting for approval of ${dev.user_code} \\(the code expires in \\d+m\\d\\ds\\)`),
    )
    assert.match(r.stdout, /Logged in/)
    assert.match(r.stdout, /262,144/)
    assert.doesNotMatch(r.stdout, /opencode\.json:|"provider"|pi install/, 'no config blocks without --print-config')
    assert.match(r.stdout, /--print-config/)
    assert.match(r.stdout, /#use-it-from-a-host/)
    assert.ok(r.stdout.split('\n').filter(Boolean).length <= 5, `short: ${r.stdout}`)
    // The transcript in docs/login.md is what the CLI prints (the browser and terminal-only lines aside). The fake server is
    // not Kimi, and the lines that name the server say so instead (a foreign server is never "Kimi For Coding").
    const printed = (r.stderr + '\n' + r.stdout).split('\n')
    for (const { line, re } of transcriptPatterns()) {
      if (line.startsWith('$ ') || line.includes('opened in your browser') || line.includes(' left')) continue
      if (/Kimi For Coding/.test(line)) continue
      assert.ok(
        printed.some((l) => re.test(l)),
        `docs/login.md transcript line not printed: ${line}\n${show(r)}`,
      )
    }
    assert.ok(printed.includes(`Open this URL to sign in at ${f.oauthHost}:`), show(r))
    assert.ok(
      printed.includes(
        `This login is with ${f.url}, which is NOT a Kimi server (oauthHost from env:KIMI_CODE_OAUTH_HOST). Approve it only if you run that server yourself.`,
      ),
      show(r),
    )
    assert.match(r.stdout, new RegExp(`Logged in at ${f.oauthHost.replace(/[.:/]/g, '\\$&')} \\(not a Kimi server\\)`))
    assert.doesNotMatch(r.stdout + r.stderr, /Kimi For Coding/, 'never says Kimi For Coding for a server that is not')

    const j = await cli(['login', '--no-browser', '--json', '--print-config'], envFor(f, newHome()))
    assert.equal(j.code, 0, show(j))
    const parsed = JSON.parse(j.stdout)
    assert.equal(parsed.source, 'kimi-native')
    assert.equal(parsed.store, 'file')
    assert.ok(Array.isArray(parsed.models))
    assert.match(j.stderr, /[A-Z0-9]{4}-[A-Z0-9]{4}/, 'the code still goes to stderr')
  },
)

test(
  'login on a terminal shows a live countdown with the code, the URL and the time left',
  { timeout: 30000 },
  async (t) => {
    const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore', timeout: 5000 }).status === 0
    if (process.platform !== 'linux' || !hasScript)
      return t.skip('needs util-linux `script` to give the CLI a pseudo-terminal')
    const f = await fake({ autoApprove: false })
    const d = newHome()
    const q = (x) => `'${String(x).replace(/'/g, `'\\''`)}'`
    const child = spawn('script', ['-qec', `${q(process.execPath)} ${q(CLI)} login --no-browser`, '/dev/null'], {
      env: envFor(f, d, { TERM: 'xterm', NO_COLOR: '1' }),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 25000,
      killSignal: 'SIGKILL',
    })
    let out = ''
    child.stdout.on('data', (b) => (out += b))
    child.stderr.on('data', (b) => (out += b))
    const closed = new Promise((resolve) => child.on('close', (code) => resolve(code)))
    const lefts = () => [...out.matchAll(/(\d+)m(\d\d)s left/g)].map((m) => Number(m[1]) * 60 + Number(m[2]))
    const t0 = Date.now()
    while (Date.now() - t0 < 15000 && new Set(lefts()).size < 3) await new Promise((r) => setTimeout(r, 100))
    f.approve()
    const code = await closed
    ttyOutputs.push(out)
    assert.equal(code, 0, out)
    const [dev] = f.deviceCodes()
    const line = out.split(/\r|\n/).find((l) => l.includes(' left'))
    assert.ok(line, out)
    assert.ok(line.includes(dev.user_code), `the countdown names the code: ${line}`)
    assert.ok(line.includes(`${f.url}/code/authorize_device`), `the countdown names the URL: ${line}`)
    const waiting = transcriptPatterns().find((p) => p.line.includes(' left'))
    assert.ok(
      waiting && waiting.re.test(line.replace(/\x1b\[2K/g, '')),
      `docs/login.md's waiting line matches the terminal's: ${line}`,
    )
    const seen = [...new Set(lefts())]
    assert.ok(seen.length >= 3, `the time left ticks (${seen})`)
    assert.ok(seen[0] <= 1800 && seen[0] >= 1790, `starts from the code's expires_in (${seen[0]})`)
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i] < seen[i - 1], `counts down: ${seen}`)
    assert.match(out, /Logged in/)
  },
)

test('the browser is opened without a shell and only for http(s) URLs', { timeout: 40000 }, async (t) => {
  if (process.platform !== 'linux')
    return t.skip('the fake browser goes through $BROWSER, read by the Linux/BSD opener')
  const d = newHome()
  const dir = path.join(tmpRoot, `browser-${n}`)
  fs.mkdirSync(dir, { recursive: true })
  const log = path.join(dir, 'argv.log')
  const fakeBrowser = path.join(dir, 'fake-browser')
  // Records each argument on its own line (NUL-free URLs), nothing else.
  fs.writeFileSync(fakeBrowser, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a" >> '${log}'; done\n`, { mode: 0o755 })
  const cwd = path.join(dir, 'cwd')
  fs.mkdirSync(cwd)

  await t.test('a URL full of shell syntax reaches the browser as one argument, byte for byte', async () => {
    const hostile = `/code/a&touch${'${IFS}'}PWNED1;touch${'${IFS}'}PWNED2|x'y"z$(touch${'${IFS}'}PWNED3)\`touch${'${IFS}'}PWNED4\``
    const f = await fake({ autoApprove: 1 })
    f.verificationUri = `${f.url}${hostile}`
    const child = spawn(process.execPath, [CLI, 'login'], {
      cwd,
      env: envFor(f, d, { BROWSER: fakeBrowser }),
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 20000,
    })
    let stderr = ''
    child.stderr.on('data', (b) => (stderr += b))
    child.stdout.on('data', () => {})
    const code = await new Promise((resolve) => child.on('close', resolve))
    outputs.push(stderr)
    assert.equal(code, 0, stderr)
    assert.match(stderr, /opened in your browser/)
    for (let i = 0; i < 50 && !fs.existsSync(log); i++) await new Promise((r) => setTimeout(r, 100))
    const args = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean)
    const [dev] = f.deviceCodes()
    const sent = new URL(`${f.url}${hostile}?user_code=${encodeURIComponent(dev.user_code)}`).href
    assert.deepEqual(args, [sent], 'exactly one argument: the URL')
    assert.ok(sent.includes('&') && sent.includes(';') && sent.includes('$('), sent)
    assert.deepEqual(fs.readdirSync(cwd), [], 'nothing the URL spelled out was run')
  })

  await t.test('a non-http(s) sign-in URL is shown but never opened', async () => {
    fs.rmSync(log, { force: true })
    const f = await fake({ autoApprove: 1 })
    f.verificationUri = 'file:///etc/passwd'
    const r = await cli(['login'], envFor(f, newHome(), { BROWSER: fakeBrowser }))
    assert.equal(r.code, 0, show(r))
    assert.match(r.stderr, /file:\/\/\/etc\/passwd/)
    assert.match(r.stderr, /not opening/i)
    assert.doesNotMatch(r.stderr, /opened in your browser/)
    await new Promise((res) => setTimeout(res, 300))
    assert.ok(!fs.existsSync(log), 'the fake browser was not started')
  })
})

test('--version prints the package version; --help lists the five commands', { timeout: 15000 }, async () => {
  const v = await cli(['--version'], envFor(null, newHome()))
  assert.equal(v.code, 0)
  assert.equal(v.stdout.trim(), pkg.version)
  const h = await cli(['--help'], envFor(null, newHome()))
  assert.equal(h.code, 0, show(h))
  const commands = h.stdout.slice(h.stdout.indexOf('Commands:'))
  for (const c of ['login', 'status', 'logout', 'models', 'usage'])
    assert.match(commands, new RegExp(`^\\s+${c}\\b`, 'm'), `${c} listed`)
})

test(
  'plain `status`-like commands skip commander but read their flags exactly as it does',
  { timeout: 20000 },
  async () => {
    const env = envFor(null, newHome())
    const plain = await cli(['status', '--json', '--profile=native', '--store', 'file'], env)
    assert.equal(plain.code, 1, show(plain))
    const s = JSON.parse(plain.stdout)
    assert.equal(s.loggedIn, false)
    assert.equal(s.profile, 'native')
    // What the quick reading does not take goes to commander, which explains it.
    const bad = await cli(['status', '--profile', 'bogus'], env)
    assert.equal(bad.code, 1, show(bad))
    assert.match(bad.stderr, /argument 'bogus' is invalid\. Allowed choices are native, kimi-code, kimi-cli/)
    const unknown = await cli(['status', '--verbose'], env)
    assert.match(unknown.stderr, /unknown option '--verbose'/)
    const help = await cli(['status', '--help'], env)
    assert.equal(help.code, 0, show(help))
    assert.match(help.stdout, /Usage: kimi-native status/)
  },
)

test(
  'colours: none when NO_COLOR is set on a TTY (and present without it); none on a pipe',
  { timeout: 15000 },
  async (t) => {
    // Every output captured in this file is a pipe (non-TTY); the last test checks them all.
    const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore', timeout: 5000 }).status === 0
    if (process.platform !== 'linux' || !hasScript) {
      t.skip('needs util-linux `script` to give the CLI a pseudo-terminal')
      return
    }
    const d = newHome()
    const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`
    const tty = (extra) => {
      const r = spawnSync('script', ['-qec', `${q(process.execPath)} ${q(CLI)} status`, '/dev/null'], {
        env: envFor(null, d, { TERM: 'xterm', ...extra }),
        stdio: ['ignore', 'pipe', 'pipe'],
        encoding: 'utf8',
        timeout: 10000,
      })
      ttyOutputs.push(r.stdout, r.stderr)
      return r
    }
    const colored = tty({})
    assert.equal(colored.status, 1, colored.stdout + colored.stderr)
    assert.match(colored.stdout, ANSI, 'a TTY without NO_COLOR gets colours (so the check below can fail)')
    const plain = tty({ NO_COLOR: '1' })
    assert.equal(plain.status, 1)
    assert.match(plain.stdout, /Not logged in/)
    assert.doesNotMatch(plain.stdout, ANSI)
  },
)

test('no issued token appears in any CLI output, and piped output has no ANSI escapes', () => {
  const tokens = servers.flatMap((s) => s.issuedTokens())
  assert.ok(tokens.length >= 4, `tokens were issued (${tokens.length})`)
  assert.ok(outputs.length > 20, `CLI runs were captured (${outputs.length / 2})`)
  const all = outputs.concat(ttyOutputs).join('\n')
  for (const tok of tokens) assert.ok(!all.includes(tok), `token ${tok.slice(0, 8)}… leaked into CLI output`)
  outputs.forEach((o, i) =>
    assert.doesNotMatch(o, ANSI, `ANSI escape in piped output #${i}: ${JSON.stringify(o.slice(0, 200))}`),
  )
})
