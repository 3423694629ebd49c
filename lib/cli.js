#!/usr/bin/env node
'use strict'
// `kimi-native` command line: a thin shell over the native core.
const { Command, Option } = require('commander')
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

// The CLI flags are the core options that have a fixed set of values (profile, region, store).
const OPTION_HELP = { profile: 'client identity to present', region: 'Kimi region', store: 'credential store' }

function coreOpts(opts) {
  const out = {}
  for (const k of Object.keys(kimi.CHOICES)) if (opts[k]) out[k] = opts[k]
  return out
}

function addCoreOptions(cmd) {
  for (const [k, values] of Object.entries(kimi.CHOICES)) {
    cmd.addOption(new Option(`--${k} <${k}>`, OPTION_HELP[k] || k).choices(values))
  }
  return cmd
}

function fail(err) {
  const code = err && err.code ? err.code : 'KIMI_INTERNAL'
  console.error(`${red('error')} ${dim(`[${code}]`)} ${err && err.message ? err.message : String(err)}`)
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
        console.error(`${bold('Open this URL to sign in to Kimi For Coding:')}`)
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
    console.log(`${green('✓')} Logged in to Kimi For Coding ${dim(`(profile ${result.profile})`)}`)
    if (model) console.log(`  model:   ${bold(model.id)}${model.displayName ? ` (${model.displayName})` : ''}, context ${model.contextLength.toLocaleString('en-US')} tokens`)
    console.log(`  stored:  ${result.store === 'keychain' ? green('OS keychain') : yellow('0600 file')} ${dim(`— ${result.storeReason}`)}`)
    if (result.warning) console.log(`  ${yellow('warning')}: ${result.warning}`)
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

function main(argv) {
  const program = new Command()
  program
    .name('kimi-native')
    .description('Sign in to Kimi For Coding once; opencode, pi and other hosts use the same login.')
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
    .action(run(cmdLogin))
  shared(program.command('status').description('show the login state (exit 0 logged in, 1 not, 2 relogin required)'))
    .option('--json', 'print JSON')
    .action(run(cmdStatus))
  shared(program.command('logout').description('remove the stored login')).action(run(cmdLogout))
  shared(program.command('models').description('list the models your plan offers')).option('--json', 'print JSON').action(run(cmdModels))
  shared(program.command('usage').description('show quota windows and reset times')).option('--json', 'print JSON').action(run(cmdUsage))
  return program.parseAsync(argv).then(() => exit)
}

main(process.argv).then(
  (code) => process.exit(code),
  (err) => process.exit(fail(err)),
)
