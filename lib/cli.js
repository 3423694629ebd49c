#!/usr/bin/env node
'use strict'
// `kimi-native` command line: a thin shell over the native core.
const kimi = require('./index.js')
// Loaded on first use: `status` and friends answer without them (start-up time, issue #17).
const lazy = (load) => {
  let m
  return new Proxy({}, { get: (_, k) => (m ??= load())[k] })
}
const hosts = lazy(() => require('./host-config.js'))

const useColor = process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== 'dumb'
const paint = (code) => (s) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : String(s))
const bold = paint('1')
const dim = paint('2')
const green = paint('32')
const yellow = paint('33')
const red = paint('31')
const cyan = paint('36')

const PROFILE_HELP = 'client identity: native (default, honest); kimi-code / kimi-cli impersonate the official clients (opt-in, risks your subscription)'
// The full warning is printed once per process (stderr); summaries point at it.
const RISK = 'this profile impersonates an official Kimi client, which Kimi forbids (see the warning on stderr)'
const EXIT = { ok: 0, notLoggedIn: 1, relogin: 2, error: 3, cancelled: 130 }

// The official-profile warning, once per process (the core decides when), on stderr.
const showWarning = (w) => console.error(`${yellow('warning')} ${w}`)

// The CLI flags are the core options that have a fixed set of values (profile, region, store).
const OPTION_HELP = { profile: PROFILE_HELP, region: 'Kimi region', store: 'credential store' }

function coreOpts(opts) {
  const out = { onWarning: showWarning }
  for (const k of Object.keys(kimi.CHOICES)) if (opts[k]) out[k] = opts[k]
  return out
}

function addCoreOptions(cmd) {
  const { Option } = require('commander')
  for (const [k, values] of Object.entries(kimi.CHOICES)) {
    cmd.addOption(new Option(`--${k} <${k}>`, OPTION_HELP[k] || k).choices(values))
  }
  return cmd
}

function fail(err) {
  const code = err && err.code ? err.code : 'KIMI_INTERNAL'
  console.error(`${red('error')} ${dim(`[${code}]`)} ${err && err.message ? err.message : String(err)}`)
  if (code === 'KIMI_CLIENT_NOT_ALLOWED') {
    console.error(dim('Your login is fine: the model list and usage are also shown by the hosts (opencode, pi) that use it.'))
  }
  if (code === 'KIMI_NOT_LOGGED_IN') return EXIT.notLoggedIn
  if (code === 'KIMI_RELOGIN_REQUIRED') return EXIT.relogin
  if (code === 'KIMI_CANCELLED') return EXIT.cancelled
  return EXIT.error
}

/** The core opens only http(s) URLs and never through a shell (the URL comes from the server).
 * Best effort: a missing browser or display never fails the login. */
function openBrowser(url) {
  try {
    return kimi.openBrowser(url)
  } catch (err) {
    console.error(`${yellow('warning')}: not opening the sign-in URL in a browser: ${err && err.message}`)
    return false
  }
}

// `toLocaleString` would load ICU's locale data: milliseconds on every `status`.
const thousands = (n) => String(n).replace(/\B(?=(\d{3})+$)/g, ',')

function fmtDuration(s) {
  s = Math.max(0, Math.round(s))
  const m = Math.floor(s / 60)
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`
}

/** While the login waits: on a terminal a live line (gh-style: code, URL, time left); on a pipe
 * one line, so logs stay short. `show` again after a restart; `hide` before printing anything. */
function countdown(stream) {
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
  let i = 0
  let timer = null
  let code = null
  let deadline = 0
  const line = () => {
    const left = fmtDuration((deadline - Date.now()) / 1000)
    return `${cyan(frames[i++ % frames.length])} Waiting for approval of ${bold(yellow(code.userCode))} at ${cyan(code.url)} ${dim(`· ${left} left`)}`
  }
  const hide = () => {
    if (!timer) return
    clearInterval(timer)
    timer = null
    stream.write('\r\x1b[2K')
  }
  const resume = () => {
    if (!stream.isTTY || !code || timer) return
    stream.write(line())
    timer = setInterval(() => stream.write(`\r\x1b[2K${line()}`), 100)
    timer.unref()
  }
  return {
    show(c, url) {
      hide()
      code = { userCode: c.userCode, url }
      const secs = c.expiresIn || kimi.LOGIN_BUDGET_SECS
      deadline = Date.now() + secs * 1000
      if (!stream.isTTY) stream.write(`Waiting for approval of ${c.userCode} (the code expires in ${fmtDuration(secs)})…\n`)
      resume()
    },
    hide,
    resume,
  }
}

async function cmdLogin(opts) {
  const controller = new AbortController()
  const onSigint = () => controller.abort()
  process.once('SIGINT', onSigint)
  const wait = countdown(process.stderr)
  try {
    const result = await kimi.login({
      ...coreOpts(opts),
      signal: controller.signal,
      onDeviceCode(code) {
        const url = code.verificationUriComplete || code.verificationUri
        wait.hide()
        console.error('')
        // A server that is not Kimi's is named as what it is (the core sets `notice` then).
        if (code.notice) console.error(yellow(code.notice))
        console.error(bold(code.notice ? `Open this URL to sign in at ${code.oauthHost}:` : 'Open this URL to sign in to Kimi For Coding:'))
        console.error(`  ${cyan(url)}`)
        console.error(`${bold('and confirm the code:')}  ${bold(yellow(code.userCode))}`)
        if (opts.qr) {
          const qr = kimi.renderQr(url)
          if (qr) console.error(qr)
        }
        if (opts.browser !== false && openBrowser(url)) console.error(dim('(opened in your browser)'))
        console.error('')
        wait.show(code, url)
      },
      onEvent(ev) {
        wait.hide()
        if (ev.kind === 'slow_down') console.error(dim(`The server asked to poll more slowly; now every ${ev.interval}s.`))
        if (ev.kind === 'restart') console.error(yellow('The code expired before it was approved; here is a new one.'))
        wait.resume()
      },
    })
    wait.hide()
    const model = result.models[0]
    if (opts.json) {
      console.log(JSON.stringify(result, null, 2))
      return EXIT.ok
    }
    console.log(result.notice ? `${green('✓')} Logged in at ${result.oauthHost} ${yellow('(not a Kimi server)')}` : `${green('✓')} Logged in to Kimi For Coding`)
    console.log(`  identity: ${result.identity.userAgent} ${dim(`(profile ${result.profile})`)}`)
    if (model) console.log(`  model:   ${bold(model.id)}${model.displayName ? ` (${model.displayName})` : ''}, context ${thousands(model.contextLength)} tokens`)
    console.log(`  stored:  ${result.store === 'keychain' ? green('OS keychain') : yellow('0600 file')} ${dim(`— ${result.storeReason}`)}`)
    if (!model) console.log(`  model:   ${dim('not listed now; opencode and pi read the model list themselves when they run')}`)
    if (result.warning) console.log(`  ${yellow('warning')}: ${result.warning}`)
    if (result.identity.warning) console.log(`  ${yellow('risk')}:    ${RISK}`)
    if (!opts.printConfig) {
      console.log(`Host setup (opencode.json, pi): ${hosts.README_HOSTS} ${dim('(or log in with --print-config)')}`)
      return EXIT.ok
    }
    console.log('')
    console.log(bold('opencode') + dim(' — opencode.json:'))
    console.log(JSON.stringify(hosts.opencodeConfig(), null, 2))
    console.log('')
    console.log(bold('pi') + dim(':'))
    for (const line of hosts.piSetup()) console.log(line)
    console.log(dim(hosts.PI_NOTE))
    return EXIT.ok
  } catch (err) {
    wait.hide()
    if (err && err.code === 'KIMI_CANCELLED') {
      console.error(dim('Login cancelled.'))
      return EXIT.cancelled
    }
    return fail(err)
  } finally {
    process.removeListener('SIGINT', onSigint)
  }
}

async function cmdStatus(opts) {
  const s = await kimi.status(coreOpts(opts))
  const code = s.loggedIn ? EXIT.ok : s.reloginRequired ? EXIT.relogin : EXIT.notLoggedIn
  if (opts.json) {
    console.log(JSON.stringify(s, null, 2))
    return code
  }
  if (s.loggedIn) {
    console.log(`${green('✓')} Logged in ${dim(`via ${s.source}`)}`)
  } else if (s.reloginRequired) {
    console.log(`${red('✗')} Login needs renewing: ${s.reloginReason || 'the server refused the stored token'}`)
    console.log(`  Run ${bold('npx kimi-native login')}.`)
  } else {
    console.log(`${red('✗')} Not logged in. Run ${bold('npx kimi-native login')}.`)
  }
  const left = s.expiresAt ? s.expiresAt - Date.now() / 1000 : null
  if (left !== null && s.loggedIn) console.log(`  token:   ${left > 0 ? `valid for ${fmtDuration(left)} (refreshed automatically)` : 'expired (refreshed on next use)'}`)
  console.log(`  profile: ${s.profile}${s.profile === 'native' ? dim(' (honest: says it is kimi-native)') : ''}`)
  console.log(`  user-agent: ${s.identity.userAgent}`)
  if (s.warning) console.log(`  ${yellow('risk')}:    ${RISK}`)
  console.log(`  store:   ${s.store} ${dim(`— ${s.storeReason}`)}`)
  if (s.model) console.log(`  model:   ${s.model.id}, context ${thousands(s.model.contextLength)}`)
  console.log(`  server:  ${dim(`${s.oauthHost} · ${s.baseUrl}`)}`)
  for (const h of s.hosts) console.log(`  host:    ${h.host} ${dim(`(${h.file})`)}`)
  return code
}

async function cmdLogout(opts) {
  const r = await kimi.logout(coreOpts(opts))
  console.log(r.removed ? `${green('✓')} Logged out; the stored login was removed.` : 'No stored kimi-native login to remove.')
  return EXIT.ok
}

async function cmdModels(opts) {
  const list = await kimi.models({ ...coreOpts(opts), refresh: true })
  if (opts.json) {
    console.log(JSON.stringify(list, null, 2))
    return EXIT.ok
  }
  for (const m of list) {
    const caps = [m.supportsReasoning && 'reasoning', m.supportsImageIn && 'image', m.supportsVideoIn && 'video', m.supportsToolUse && 'tools'].filter(Boolean)
    console.log(`${bold(m.id)}${m.displayName ? ` ${dim(`(${m.displayName})`)}` : ''}`)
    console.log(`  context ${thousands(m.contextLength)} · ${caps.join(', ')}${m.thinkEfforts ? ` · efforts ${m.thinkEfforts.join('/')}` : ''}`)
  }
  return EXIT.ok
}

function bar(ratio, width = 24) {
  const r = Math.min(1, Math.max(0, ratio || 0))
  const filled = Math.round(r * width)
  const color = r >= 0.9 ? red : r >= 0.7 ? yellow : green
  return color('█'.repeat(filled)) + dim('░'.repeat(width - filled))
}

async function cmdUsage(opts) {
  const u = await kimi.usage(coreOpts(opts))
  if (opts.json) {
    console.log(JSON.stringify(u, null, 2))
    return EXIT.ok
  }
  if (!u.windows.length) console.log('The server reported no quota windows.')
  for (const w of u.windows) {
    const ratio = w.limit > 0 ? w.used / w.limit : 0
    const reset = w.resetTime ? ` · resets ${new Date(w.resetTime).toLocaleString()}` : ''
    console.log(`${w.label.padEnd(7)} ${bar(ratio)} ${String(Math.round(ratio * 100)).padStart(3)}%  ${w.used}/${w.limit}${dim(reset)}`)
  }
  return EXIT.ok
}

// ---- import: take over a Kimi login another plugin holds (issue #15) ----------------------------

const HANDOVER_TEXT = {
  marker: "entry replaced with kimi-native's marker",
  remove: 'entry removed',
  'move-aside': 'file moved aside',
}

function fmtAge(secs) {
  const s = Math.abs(secs)
  if (s < 3600) return fmtDuration(s)
  if (s < 86400 * 2) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
  return `${Math.floor(s / 86400)} days`
}

function describeExpiry(expiresAt) {
  if (!expiresAt) return 'expiry unknown'
  const left = expiresAt - Date.now() / 1000
  return left > 0 ? `access token valid for ${fmtAge(left)}` : `access token expired ${fmtAge(left)} ago`
}

/** y/n question on the terminal; Enter gives `def`, a closed stdin gives no. */
function confirm(question, def) {
  const readline = require('node:readline')
  return new Promise((resolve) => {
    const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true })
    let answered = false
    rl.on('close', () => {
      if (!answered) resolve(false)
    })
    rl.question(question, (a) => {
      answered = true
      rl.close()
      const t = a.trim().toLowerCase()
      resolve(t === '' ? def : t === 'y' || t === 'yes')
    })
  })
}

function printSources(list) {
  const takeable = list.filter((s) => s.importable)
  if (!list.length) {
    console.log('No Kimi login from another plugin or client was found on this machine.')
    return
  }
  console.log(bold('Kimi logins found on this machine:'))
  for (const s of list) {
    console.log('')
    console.log(`  ${s.importable ? green('✓') : red('✗')} ${bold(s.id)} ${dim(`— ${s.plugin}`)}`)
    console.log(`      file:   ${s.file}${s.entry ? ` (entry "${s.entry}")` : ''}`)
    const token = s.marker ? "none (kimi-native's marker)" : s.hasRefreshToken ? `refresh token present · ${describeExpiry(s.expiresAt)}` : 'no usable refresh token'
    console.log(`      token:  ${token}`)
    console.log(`      ${s.importable ? 'import:' : 'why:   '} ${s.reason}`)
  }
  console.log('')
  if (takeable.length) console.log(`Take one over (no new sign-in): ${bold(`npx kimi-native import ${takeable[0].id}`)}`)
  else console.log('Nothing to take over.')
}

function printHostSetup(host) {
  if (host === 'opencode') {
    console.log(`${bold('opencode')}${dim(': use kimi-native instead of the old Kimi plugin in opencode.json:')}`)
    console.log(JSON.stringify(hosts.opencodeConfig(), null, 2))
  } else if (host === 'pi') {
    console.log(`${bold('pi')}${dim(': use kimi-native instead of the old Kimi provider:')}`)
    for (const line of hosts.piSetup()) console.log(line)
  }
}

function printImported(r, opts) {
  if (opts.json) {
    console.log(JSON.stringify(r, null, 2))
    return
  }
  console.log(`${green('✓')} Took over the Kimi login from ${bold(r.source.id)} — no new sign-in needed ${dim(`(profile ${r.profile})`)}`)
  console.log(`  stored:  ${r.store === 'keychain' ? green('OS keychain') : yellow('0600 file')} ${dim(`— ${r.storeReason}`)}`)
  console.log(`  token:   ${describeExpiry(r.expiresAt)} (refreshed automatically from now on)`)
  for (const h of r.handedOver) {
    console.log(`  handed over: ${h.file}: ${HANDOVER_TEXT[h.action] || h.action} ${dim(`(${h.action === 'move-aside' ? 'now' : 'backup'} ${h.backup})`)}`)
  }
  if (r.warning) console.log(`  ${yellow('warning')}: ${r.warning}`)
  console.log('')
  printHostSetup(r.source.host)
}

async function cmdImport(source, opts) {
  if (!source) {
    const list = await kimi.importSources(coreOpts(opts))
    if (opts.json) console.log(JSON.stringify(list, null, 2))
    else printSources(list)
    return EXIT.ok
  }
  if (!opts.yes) {
    if (!process.stdin.isTTY) {
      return fail(
        Object.assign(new Error(`Importing takes the login away from its current owner, so it needs a confirmation: stdin is not a terminal. Run \`npx kimi-native import ${source} --yes\`. Nothing was changed.`), {
          code: 'KIMI_CONFIRMATION_REQUIRED',
        }),
      )
    }
    const list = await kimi.importSources(coreOpts(opts))
    const s = list.find((x) => x.id === source) || list.find((x) => x.host === source && x.importable)
    const what = s ? `${s.plugin} (${s.file}${s.entry ? `, entry "${s.entry}"` : ''})` : source
    const then = s && s.handover ? `; its ${HANDOVER_TEXT[s.handover].replace(/^(entry|file) /, '$1 will be ')}, with a backup` : ''
    const st = await kimi.status(coreOpts(opts)).catch(() => null)
    const replaces = st && st.loggedIn && st.source === 'kimi-native' ? " It replaces kimi-native's current login." : ''
    if (!(await confirm(`Take over the Kimi login of ${what}? kimi-native refreshes it once and keeps it${then}.${replaces} [y/N] `, false))) {
      console.error('Nothing was changed.')
      return EXIT.cancelled
    }
  }
  printImported(await kimi.importLogin(source, coreOpts(opts)), opts)
  return EXIT.ok
}

/** Before a device login: offer a login another plugin holds. Returns an exit code, or null to sign in. */
async function offerImport(opts) {
  let list
  try {
    list = await kimi.importSources(coreOpts(opts))
  } catch {
    return null // a problem finding other logins never blocks signing in
  }
  const takeable = list.filter((s) => s.importable).sort((a, b) => (b.expiresAt || 0) - (a.expiresAt || 0))
  if (!takeable.length) return null
  const interactive = process.stdin.isTTY && process.stderr.isTTY
  if (!opts.yes && !interactive) {
    console.error(
      `Found a Kimi login kimi-native can take over: ${takeable.map((s) => s.id).join(', ')}. To use it instead of signing in again: npx kimi-native import ${takeable[0].id} --yes (or login --yes). Continuing with a device login.`,
    )
    return null
  }
  for (const s of takeable) {
    if (!opts.yes) {
      const ok = await confirm(`Found a Kimi login in ${s.plugin} (${s.file}). Take it over instead of signing in again? [Y/n] `, true)
      if (!ok) return null
    }
    try {
      printImported(await kimi.importLogin(s.id, coreOpts(opts)), opts)
      return EXIT.ok
    } catch (err) {
      if (!err || err.code !== 'KIMI_RELOGIN_REQUIRED') return fail(err)
      console.error(yellow(err.message))
    }
  }
  console.error('Continuing with a device login.')
  return null
}

async function cmdLoginOrImport(opts) {
  if (opts.import !== false) {
    const code = await offerImport(opts)
    if (code !== null) return code
  }
  return cmdLogin(opts)
}

// Platform commands (issue #16): for scripts, each with --json.
const MIME_BY_EXT = Object.freeze({
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  pdf: 'application/pdf',
})

function timeoutOpt(opts) {
  if (opts.timeout === undefined) return {}
  const ms = Number(opts.timeout)
  if (!Number.isFinite(ms) || ms <= 0) {
    const err = new Error(`--timeout must be a positive number of milliseconds, got ${JSON.stringify(opts.timeout)}.`)
    err.code = 'KIMI_BAD_INPUT'
    throw err
  }
  return { timeoutMs: ms }
}

async function cmdSearch(query, opts) {
  const limit = opts.limit === undefined ? undefined : Number(opts.limit)
  const results = await kimi.search(query, { ...coreOpts(opts), ...timeoutOpt(opts), limit })
  await kimi.settle()
  if (opts.json) {
    console.log(JSON.stringify(results, null, 2))
    return EXIT.ok
  }
  if (!results.length) console.log('No results.')
  results.forEach((r, i) => {
    console.log(`${bold(`${i + 1}. ${r.title || r.url}`)}${r.date ? dim(` · ${r.date}`) : ''}`)
    console.log(`   ${cyan(r.url)}`)
    if (r.snippet) console.log(`   ${r.snippet}`)
  })
  return EXIT.ok
}

async function cmdFetch(url, opts) {
  const text = await kimi.fetchUrl(url, { ...coreOpts(opts), ...timeoutOpt(opts) })
  await kimi.settle()
  if (opts.json) console.log(JSON.stringify({ url, markdown: text }, null, 2))
  else process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  return EXIT.ok
}

async function cmdUpload(file, opts) {
  const fs = require('node:fs')
  const path = require('node:path')
  const ext = path.extname(file).slice(1).toLowerCase()
  const mimeType = opts.mime || MIME_BY_EXT[ext]
  if (!mimeType) {
    const err = new Error(`Cannot tell the type of ${path.basename(file)}: pass --mime (e.g. --mime image/png).`)
    err.code = 'KIMI_BAD_INPUT'
    throw err
  }
  let data
  try {
    data = fs.readFileSync(file)
  } catch (e) {
    const err = new Error(`Cannot read ${file}: ${e.code || e.message}.`)
    err.code = 'KIMI_BAD_INPUT'
    throw err
  }
  const up = await kimi.uploadFile(data, { ...coreOpts(opts), ...timeoutOpt(opts), mimeType, purpose: opts.purpose })
  await kimi.settle()
  if (opts.json) console.log(JSON.stringify({ ...up, bytes: data.length, mimeType }, null, 2))
  else console.log(`${up.url}${up.cached ? dim(' (already uploaded)') : ''}`)
  return EXIT.ok
}

// ---- key commands and host setup (issue #22) ----------------------------------------------------

const badInput = (message) => Object.assign(new Error(message), { code: 'KIMI_BAD_INPUT' })

/** `90`, `90s`, `10m`, `1.5h`, `500ms` as seconds. */
function parseDuration(text, flag) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(String(text).trim())
  if (!m) throw badInput(`${flag} takes a duration such as 90s, 10m or 1h, not ${JSON.stringify(text)}.`)
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] || 's']
}

/** Prints a usable access token and a newline, nothing else (the `gh auth token` of Kimi). */
async function cmdToken(opts) {
  const minValidSecs = opts.minValid === undefined ? undefined : parseDuration(opts.minValid, '--min-valid')
  const t = await kimi.handOutToken({ ...coreOpts(opts), minValidSecs, caller: opts.caller })
  // A refresh this process started is persisted before it exits (the server rotated already).
  await kimi.settle()
  const text = opts.json ? `${JSON.stringify(t, null, 2)}\n` : `${t.token}\n`
  await new Promise((resolve) => process.stdout.write(text, resolve))
  return EXIT.ok
}

const SETUP_HOSTS = ['claude-code']

/** Single-quoted for `/bin/sh` (Claude Code runs the helper through it). */
const shQuote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`

/**
 * The command Claude Code runs for a key: this Node and this package's CLI by absolute path, so
 * no PATH or npx resolution happens on each run. `$PPID` (expanded by the shell Claude Code starts)
 * is the Claude Code process: it tells `token` which caller asks again after a 401.
 */
function helperCommand() {
  const fs = require('node:fs')
  const path = require('node:path')
  const script = fs.realpathSync(__filename)
  const parts = script.split(path.sep)
  if (parts.includes('_npx')) {
    const err = new Error(
      `This kimi-native runs from npx's cache (${path.dirname(path.dirname(script))}), which npm clears and replaces on updates: a helper pointing there would stop working. Install it once (npm install -g kimi-native), then run \`kimi-native setup claude-code\`. Nothing was changed.`,
    )
    err.code = 'KIMI_BAD_INPUT'
    throw err
  }
  const local = parts.includes('node_modules') && !script.startsWith(path.resolve(path.dirname(process.execPath), '..'))
  const command = process.platform === 'win32' ? `"${process.execPath}" "${script}" token` : `${shQuote(process.execPath)} ${shQuote(script)} token --caller "$PPID"`
  return { command, note: local ? `The helper runs kimi-native from ${script}: it keeps working while that install stays (a global install, npm install -g kimi-native, does not depend on it).` : null }
}

const SIGN = { add: green('+'), replace: yellow('~'), same: dim('='), remove: red('-') }

function printSetupChanges(title, file, changes, conflicts = []) {
  console.log(`${bold(title)} ${dim('·')} ${file}`)
  const width = Math.max(0, ...changes.map((c) => c.key.length), ...conflicts.map((c) => c.key.length))
  for (const c of changes) {
    const value =
      c.action === 'same' ? dim(`${c.to} (already set)`) : c.action === 'remove' ? dim(c.from) : c.from != null ? `${dim(c.from)} → ${c.to}` : c.action === 'replace' ? `${dim('(value not shown)')} → ${c.to}` : c.to
    console.log(`  ${SIGN[c.action] || ' '} ${c.key.padEnd(width)}  ${value}`)
  }
  for (const c of conflicts) console.log(`  ${red('!')} ${c.key.padEnd(width)}  ${yellow(c.reason)}`)
}

/** Asks on a terminal; without one, `--yes` must have been given. */
async function approve(opts, question, retry) {
  if (opts.yes) return true
  if (!process.stdin.isTTY) {
    const err = new Error(`This changes another program's settings, so it needs a confirmation: stdin is not a terminal. Run \`kimi-native ${retry} --yes\`. Nothing was changed.`)
    err.code = 'KIMI_CONFIRMATION_REQUIRED'
    throw err
  }
  return confirm(question, true)
}

const printJson = (value) => {
  console.log(JSON.stringify(value, null, 2))
  return EXIT.ok
}

async function cmdSetup(host, opts) {
  if (!SETUP_HOSTS.includes(host)) throw badInput(`setup knows ${SETUP_HOSTS.join(', ')}, not ${JSON.stringify(host)}.`)
  const native = require('../index.js')
  const core = coreOpts(opts)
  delete core.onWarning
  const run = (args) => native.setupClaudeCode(core, { project: opts.project ? process.cwd() : undefined, ...args })
  const command = `setup ${host}${opts.project ? ' --project' : ''}`
  return opts.remove ? undoSetup(run, command, opts) : applySetup(run, command, opts)
}

async function undoSetup(run, command, opts) {
  const plan = await run({ action: 'plan-remove' })
  if (opts.json && (opts.print || !plan.changed)) return printJson(plan)
  if (plan.changes.length) printSetupChanges('Claude Code: undo kimi-native setup', plan.file, plan.changes)
  if (opts.print || !plan.changed) {
    for (const n of plan.notes) console.log(dim(n))
    return EXIT.ok
  }
  if (!(await approve(opts, `Undo these changes in ${plan.file}? [Y/n] `, `${command} --remove`))) {
    console.error('Nothing was changed.')
    return EXIT.cancelled
  }
  const out = await run({ action: 'remove' })
  if (opts.json) return printJson(out)
  console.log(`${green('✓')} Undone in ${out.file}${out.backup ? dim(` (backup ${out.backup})`) : ''}`)
  for (const n of out.notes) console.log(`  ${yellow('note')}: ${n}`)
  return EXIT.ok
}

async function applySetup(run, command, opts) {
  const helper = helperCommand()
  const plan = await run({ action: 'plan', helper: helper.command })
  const notes = [...plan.notes]
  if (helper.note) notes.push(helper.note)
  if (!plan.modelsFromAccount) notes.push(`The account's model list could not be read (log in first: kimi-native login): using ${kimi.PROVIDER.defaultModel} and a ${thousands(kimi.LIMITS.context)}-token window.`)
  if (opts.json && opts.print) return printJson({ ...plan, notes })
  if (!opts.json) {
    printSetupChanges('Claude Code', `${plan.file}${plan.exists ? '' : dim(' (new file)')}`, plan.changes, plan.conflicts)
    for (const n of notes) console.log(`  ${yellow('note')}: ${n}`)
  }
  if (opts.print) return EXIT.ok
  const remove = []
  for (const c of plan.conflicts) {
    const ask = `The helper replaces ${c.key}. Remove it from ${plan.file} (the backup keeps it)? [Y/n] `
    if (opts.yes || (process.stdin.isTTY && (await confirm(ask, true)))) remove.push(c.key)
  }
  if (!plan.changes.some((c) => c.action !== 'same') && !remove.length) {
    if (opts.json) return printJson({ ...plan, changed: false, notes })
    console.log(`${green('✓')} Claude Code is already set up to use this login.`)
    return EXIT.ok
  }
  if (!(await approve(opts, `Write these changes to ${plan.file}? [Y/n] `, command))) {
    console.error('Nothing was changed.')
    return EXIT.cancelled
  }
  const out = await run({ action: 'apply', helper: helper.command, remove })
  if (opts.json) return printJson({ ...out, notes: [...out.notes, ...notes.filter((n) => !out.notes.includes(n))] })
  console.log(`${green('✓')} Claude Code now uses this Kimi login ${dim(`(${out.file}${out.backup ? `; backup ${out.backup}` : ''})`)}`)
  for (const k of out.removed) console.log(`  removed: ${k} ${dim('(the helper replaces it; its value is only in the backup)')}`)
  for (const c of plan.conflicts.filter((x) => !out.removed.includes(x.key))) console.log(`  ${yellow('kept')}:    ${c.key} — ${c.reason}`)
  console.log(`  Try it: ${bold('claude -p "hello"')}  ·  undo: ${bold(`kimi-native ${command} --remove`)}`)
  return EXIT.ok
}

// Commands that skip commander when called with only their own flags (start-up time: `token`
// runs inside another program's agent loop). Each flag maps to whether it takes a value.
const QUICK = {
  status: { run: cmdStatus, flags: { json: false } },
  logout: { run: cmdLogout, flags: { json: false } },
  models: { run: cmdModels, flags: { json: false } },
  usage: { run: cmdUsage, flags: { json: false } },
  token: { run: cmdToken, flags: { json: false, 'min-valid': true, caller: true } },
}

const camel = (flag) => flag.replace(/-([a-z])/g, (_, ch) => ch.toUpperCase())

/** `kimi-native <quick command> [its flags] [--<core option> <choice>]...` as commander would read
 * it, or `null` for anything else (help, unknown flags, bad choices: commander explains those). */
function quickParse(args) {
  const [name, ...rest] = args
  if (!Object.hasOwn(QUICK, name)) return null
  const { run, flags } = QUICK[name]
  const opts = {}
  for (let i = 0; i < rest.length; i++) {
    const [flag, inline] = rest[i].split(/=(.*)/s)
    if (!flag.startsWith('--')) return null
    const key = flag.slice(2)
    if (Object.hasOwn(flags, key) && !flags[key]) {
      if (inline !== undefined) return null
      opts[camel(key)] = true
    } else if (Object.hasOwn(flags, key) || Object.hasOwn(kimi.CHOICES, key)) {
      const value = inline ?? rest[++i]
      if (value === undefined || (Object.hasOwn(kimi.CHOICES, key) && !kimi.CHOICES[key].includes(value))) return null
      opts[camel(key)] = value
    } else return null
  }
  return { run, opts }
}

function main(argv) {
  const quick = quickParse(argv.slice(2))
  if (quick) return quick.run(quick.opts).catch(fail)
  const { Command } = require('commander')
  const pkg = require('../package.json')
  const program = new Command()
  program
    .name('kimi-native')
    .description('Sign in to Kimi For Coding once; opencode, pi, Claude Code and other hosts use the same login.')
    .version(pkg.version, '-v, --version')
    .showHelpAfterError()
  addCoreOptions(program)
  let exit = EXIT.ok
  const run = (fn) => async (cmdOpts, cmd) => {
    try {
      exit = await fn({ ...program.opts(), ...cmd.opts() })
    } catch (err) {
      exit = fail(err)
    }
  }
  const shared = addCoreOptions
  shared(program.command('login').description('sign in with a device code (opens your browser)'))
    .option('--no-browser', 'do not open a browser')
    .option('--qr', 'show a QR code of the sign-in URL')
    .option('--print-config', 'print the opencode.json and pi setup afterwards')
    .option('--json', 'print the result as JSON')
    .option('--no-import', 'do not offer to take over a Kimi login another plugin holds')
    .option('-y, --yes', 'take over such a login without asking')
    .action(run(cmdLoginOrImport))
  shared(program.command('status').description('show the login state (exit 0 logged in, 1 not, 2 relogin required)'))
    .option('--json', 'print JSON')
    .action(run(cmdStatus))
  shared(program.command('logout').description('remove the stored login')).action(run(cmdLogout))
  shared(program.command('models').description('list the models your plan offers')).option('--json', 'print JSON').action(run(cmdModels))
  shared(program.command('import [source]').description('list Kimi logins other plugins hold, or take one over (no new sign-in)'))
    .option('--json', 'print JSON')
    .option('-y, --yes', 'take it over without asking (required when stdin is not a terminal)')
    .action(async (source, cmdOpts, cmd) => {
      try {
        exit = await cmdImport(source, { ...program.opts(), ...cmd.opts() })
      } catch (err) {
        exit = fail(err)
      }
    })
  shared(program.command('usage').description('show quota windows and reset times')).option('--json', 'print JSON').action(run(cmdUsage))
  shared(program.command('token').description('print a usable access token for other tools (exit 1 not logged in, 2 relogin required)'))
    .option('--min-valid <duration>', `the token stays valid at least this long (default ${kimi.DEFAULTS.tokenMinValidSecs / 60}m)`)
    .option('--caller <id>', 'who asks (e.g. "$PPID"): the same caller asking again early gets a new token if the server refused its one')
    .option('--json', 'print { token, expiresAt, source }')
    .action(run(cmdToken))
  const runArg = (fn) => async (arg, cmdOpts, cmd) => {
    try {
      exit = await fn(arg, { ...program.opts(), ...cmd.opts() })
    } catch (err) {
      exit = fail(err)
    }
  }
  shared(program.command('setup').argument('<host>', SETUP_HOSTS.join(' | ')).description('set a host up to use this login (Claude Code: apiKeyHelper, base URL, models)'))
    .option('--print', 'only show what would change')
    .option('--project', "this project's .claude/settings.local.json instead of ~/.claude/settings.json")
    .option('--remove', 'undo what setup changed')
    .option('-y, --yes', 'without asking (required when stdin is not a terminal)')
    .option('--json', 'print JSON')
    .action(runArg(cmdSetup))
  shared(program.command('search').argument('<query>').description("search the web with Kimi's search service"))
    .option('--limit <n>', 'at most this many results')
    .option('--timeout <ms>', 'give up after this many milliseconds')
    .option('--json', 'print JSON')
    .action(runArg(cmdSearch))
  shared(program.command('fetch').argument('<url>').description("fetch a page as markdown with Kimi's fetch service"))
    .option('--timeout <ms>', 'give up after this many milliseconds')
    .option('--json', 'print JSON')
    .action(runArg(cmdFetch))
  shared(program.command('upload').argument('<file>').description("upload a file to Kimi's Files API; prints its ms:// reference"))
    .option('--mime <type>', 'mime type (guessed from the extension otherwise)')
    .option('--purpose <purpose>', 'purpose (image / video by default)')
    .option('--timeout <ms>', 'give up after this many milliseconds')
    .option('--json', 'print JSON')
    .action(runArg(cmdUpload))
  return program.parseAsync(argv).then(() => exit)
}

main(process.argv).then(
  (code) => process.exit(code),
  (err) => process.exit(fail(err)),
)
