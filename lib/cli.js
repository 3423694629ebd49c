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

const PROFILE_HELP = 'client identity: native (default, honest); kimi-code / kimi-cli impersonate the official clients (opt-in, risks your subscription)'
// The full warning is printed once per process (stderr); summaries point at it.
const RISK = 'this profile impersonates an official Kimi client, which Kimi forbids (see the warning on stderr)'
const EXIT = { ok: 0, notLoggedIn: 1, relogin: 2, error: 3, cancelled: 130 }

// The official-profile warning, once per process (the core decides when), on stderr.
const showWarning = (w) => console.error(`${yellow('warning')} ${w}`)

function coreOpts(opts) {
  const out = { onWarning: showWarning }
  if (opts.profile) out.profile = opts.profile
  if (opts.region) out.region = opts.region
  if (opts.store) out.store = opts.store
  return out
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
    console.log(`${green('✓')} Logged in to Kimi For Coding`)
    console.log(`  identity: ${result.identity.userAgent} ${dim(`(profile ${result.profile})`)}`)
    if (model) console.log(`  model:   ${bold(model.id)}${model.displayName ? ` (${model.displayName})` : ''}, context ${model.contextLength.toLocaleString('en-US')} tokens`)
    console.log(`  stored:  ${result.store === 'keychain' ? green('OS keychain') : yellow('0600 file')} ${dim(`— ${result.storeReason}`)}`)
    if (!model) console.log(`  model:   ${dim('not listed now; opencode and pi read the model list themselves when they run')}`)
    if (result.warning) console.log(`  ${yellow('warning')}: ${result.warning}`)
    if (result.identity.warning) console.log(`  ${yellow('risk')}:    ${RISK}`)
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
  console.log(`  profile: ${s.profile}${s.profile === 'native' ? dim(' (honest: says it is kimi-native)') : ''}`)
  console.log(`  user-agent: ${s.identity.userAgent}`)
  if (s.warning) console.log(`  ${yellow('risk')}:    ${RISK}`)
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
    .addOption(new Option('--profile <profile>', PROFILE_HELP).choices(kimi.PROFILES))
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
      .addOption(new Option('--profile <profile>', PROFILE_HELP).choices(kimi.PROFILES))
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
  return program.parseAsync(argv).then(() => exit)
}

main(process.argv).then(
  (code) => process.exit(code),
  (err) => process.exit(fail(err)),
)
