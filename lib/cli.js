#!/usr/bin/env node
'use strict'
// `kimi-native` command line: a thin shell over the native core.
const { Command, Option } = require('commander')
const { spawn } = require('node:child_process')
const kimi = require('./index.js')
const hosts = require('./host-config.js')
const pkg = require('../package.json')

const useColor = process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== 'dumb'
const paint = (code) => (s) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : String(s))
const bold = paint('1')
const dim = paint('2')
const green = paint('32')
const yellow = paint('33')
const red = paint('31')
const cyan = paint('36')

const EXIT = { ok: 0, notLoggedIn: 1, relogin: 2, error: 3, cancelled: 130 }

function coreOpts(opts) {
  const out = {}
  if (opts.profile) out.profile = opts.profile
  if (opts.region) out.region = opts.region
  if (opts.store) out.store = opts.store
  return out
}

function fail(err) {
  const code = err && err.code ? err.code : 'KIMI_INTERNAL'
  console.error(`${red('error')} ${dim(`[${code}]`)} ${err && err.message ? err.message : String(err)}`)
  if (code === 'KIMI_NOT_LOGGED_IN') return EXIT.notLoggedIn
  if (code === 'KIMI_RELOGIN_REQUIRED') return EXIT.relogin
  if (code === 'KIMI_CANCELLED') return EXIT.cancelled
  return EXIT.error
}

function openBrowser(url) {
  // Best effort: a missing browser or display never fails the login.
  const cmd = process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]]
  try {
    const child = spawn(cmd[0], cmd[1], { stdio: 'ignore', detached: true })
    child.on('error', () => {})
    child.unref()
    return true
  } catch {
    return false
  }
}

function fmtDuration(s) {
  s = Math.max(0, Math.round(s))
  const m = Math.floor(s / 60)
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`
}

function spinner(stream) {
  if (!stream.isTTY) return { update() {}, stop() {} }
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏']
  let i = 0
  let text = ''
  const timer = setInterval(() => stream.write(`\r\x1b[2K${cyan(frames[i++ % frames.length])} ${text}`), 100)
  timer.unref()
  return {
    update(t) {
      text = t
    },
    stop() {
      clearInterval(timer)
      stream.write('\r\x1b[2K')
    },
  }
}

async function cmdLogin(opts) {
  const controller = new AbortController()
  const onSigint = () => controller.abort()
  process.once('SIGINT', onSigint)
  const spin = spinner(process.stderr)
  let deadline = 0
  const tick = setInterval(() => {
    if (deadline) spin.update(`Waiting for approval in the browser… ${dim(`code expires in ${fmtDuration((deadline - Date.now()) / 1000)}`)}`)
  }, 250)
  tick.unref()
  try {
    const result = await kimi.login({
      ...coreOpts(opts),
      signal: controller.signal,
      onDeviceCode(code) {
        spin.stop()
        deadline = Date.now() + (code.expiresIn || 900) * 1000
        const url = code.verificationUriComplete || code.verificationUri
        console.error('')
        console.error(`${bold('Open this URL to sign in to Kimi For Coding:')}`)
        console.error(`  ${cyan(url)}`)
        console.error(`${bold('and confirm the code:')}  ${bold(yellow(code.userCode))}`)
        if (opts.qr) {
          const qr = kimi.renderQr(url)
          if (qr) console.error(qr)
        }
        if (opts.browser !== false && openBrowser(url)) console.error(dim('(opened in your browser)'))
        console.error('')
      },
      onEvent(ev) {
        if (ev.kind === 'slow_down') console.error(dim(`The server asked to poll more slowly; now every ${ev.interval}s.`))
        if (ev.kind === 'restart') console.error(yellow('The code expired before it was approved; here is a new one.'))
      },
    })
    spin.stop()
    const model = result.models[0]
    if (opts.json) {
      console.log(JSON.stringify(result, null, 2))
      return EXIT.ok
    }
    console.log(`${green('✓')} Logged in to Kimi For Coding ${dim(`(profile ${result.profile})`)}`)
    if (model) console.log(`  model:   ${bold(model.id)}${model.displayName ? ` (${model.displayName})` : ''}, context ${model.contextLength.toLocaleString('en-US')} tokens`)
    console.log(`  stored:  ${result.store === 'keychain' ? green('OS keychain') : yellow('0600 file')} ${dim(`— ${result.storeReason}`)}`)
    if (result.warning) console.log(`  ${yellow('warning')}: ${result.warning}`)
    console.log('')
    console.log(bold('opencode') + dim(' — opencode.json:'))
    console.log(JSON.stringify(hosts.opencodeConfig(), null, 2))
    console.log('')
    console.log(bold('pi') + dim(':'))
    for (const line of hosts.piSetup()) console.log(line)
    console.log(dim(hosts.PI_NOTE))
    return EXIT.ok
  } catch (err) {
    spin.stop()
    if (err && err.code === 'KIMI_CANCELLED') {
      console.error(dim('Login cancelled.'))
      return EXIT.cancelled
    }
    return fail(err)
  } finally {
    clearInterval(tick)
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
  console.log(`  profile: ${s.profile}`)
  console.log(`  store:   ${s.store} ${dim(`— ${s.storeReason}`)}`)
  if (s.model) console.log(`  model:   ${s.model.id}, context ${s.model.contextLength.toLocaleString('en-US')}`)
  console.log(`  server:  ${dim(`${s.oauthHost} · ${s.baseUrl}`)}`)
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
    console.log(`  context ${m.contextLength.toLocaleString('en-US')} · ${caps.join(', ')}${m.thinkEfforts ? ` · efforts ${m.thinkEfforts.join('/')}` : ''}`)
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

function main(argv) {
  const program = new Command()
  program
    .name('kimi-native')
    .description('Sign in to Kimi For Coding once; opencode, pi and other hosts use the same login.')
    .version(pkg.version, '-v, --version')
    .addOption(new Option('--profile <profile>', 'client identity to present').choices(['kimi-code', 'kimi-cli']))
    .addOption(new Option('--region <region>', 'Kimi region').choices(['cn', 'global']))
    .addOption(new Option('--store <store>', 'credential store').choices(['auto', 'keychain', 'file']))
    .showHelpAfterError()
  let exit = EXIT.ok
  const run = (fn) => async (cmdOpts, cmd) => {
    try {
      exit = await fn({ ...program.opts(), ...cmd.opts() })
    } catch (err) {
      exit = fail(err)
    }
  }
  const shared = (c) =>
    c
      .addOption(new Option('--profile <profile>', 'client identity to present').choices(['kimi-code', 'kimi-cli']))
      .addOption(new Option('--region <region>', 'Kimi region').choices(['cn', 'global']))
      .addOption(new Option('--store <store>', 'credential store').choices(['auto', 'keychain', 'file']))
  shared(program.command('login').description('sign in with a device code (opens your browser)'))
    .option('--no-browser', 'do not open a browser')
    .option('--qr', 'show a QR code of the sign-in URL')
    .option('--json', 'print the result as JSON')
    .action(run(cmdLogin))
  shared(program.command('status').description('show the login state (exit 0 logged in, 1 not, 2 relogin required)'))
    .option('--json', 'print JSON')
    .action(run(cmdStatus))
  shared(program.command('logout').description('remove the stored login')).action(run(cmdLogout))
  shared(program.command('models').description('list the models your plan offers')).option('--json', 'print JSON').action(run(cmdModels))
  shared(program.command('usage').description('show quota windows and reset times')).option('--json', 'print JSON').action(run(cmdUsage))
  const runArg = (fn) => async (arg, cmdOpts, cmd) => {
    try {
      exit = await fn(arg, { ...program.opts(), ...cmd.opts() })
    } catch (err) {
      exit = fail(err)
    }
  }
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
