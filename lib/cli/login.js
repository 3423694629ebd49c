'use strict'
// `kimi-native login`: a device login (code, URL, a countdown while it waits), after offering a Kimi login another
// plugin holds for takeover.
const { core: kimi, codes, hasCode } = require('../kit/core.js')
const { importableLogins, offerImport: offerEach } = require('../kit/login.js')
const { bold, dim, green, yellow, cyan, EXIT, fail, thousands, fmtDuration, confirm } = require('./io.js')
const { RISK, coreOpts } = require('./options.js')
const { printImported } = require('./import.js')

const hosts = () => require('../host-config.js')

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
      if (!stream.isTTY)
        stream.write(`Waiting for approval of ${c.userCode} (the code expires in ${fmtDuration(secs)})…\n`)
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
        console.error(
          bold(
            code.notice
              ? `Open this URL to sign in at ${code.oauthHost}:`
              : 'Open this URL to sign in to Kimi For Coding:',
          ),
        )
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
        if (ev.kind === 'slow_down')
          console.error(dim(`The server asked to poll more slowly; now every ${ev.interval}s.`))
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
    console.log(
      result.notice
        ? `${green('✓')} Logged in at ${result.oauthHost} ${yellow('(not a Kimi server)')}`
        : `${green('✓')} Logged in to Kimi For Coding`,
    )
    console.log(`  identity: ${result.identity.userAgent} ${dim(`(profile ${result.profile})`)}`)
    if (model)
      console.log(
        `  model:   ${bold(model.id)}${model.displayName ? ` (${model.displayName})` : ''}, context ${thousands(model.contextLength)} tokens`,
      )
    console.log(
      `  stored:  ${result.store === 'keychain' ? green('OS keychain') : yellow('0600 file')} ${dim(`— ${result.storeReason}`)}`,
    )
    if (!model)
      console.log(`  model:   ${dim('not listed now; opencode and pi read the model list themselves when they run')}`)
    if (result.warning) console.log(`  ${yellow('warning')}: ${result.warning}`)
    if (result.identity.warning) console.log(`  ${yellow('risk')}:    ${RISK}`)
    if (!opts.printConfig) {
      console.log(`Host setup (opencode.json, pi): ${hosts().README_HOSTS} ${dim('(or log in with --print-config)')}`)
      return EXIT.ok
    }
    console.log('')
    console.log(bold('opencode') + dim(' — opencode.json:'))
    console.log(JSON.stringify(hosts().opencodeConfig(), null, 2))
    console.log('')
    console.log(bold('pi') + dim(':'))
    for (const line of hosts().piSetup()) console.log(line)
    console.log(dim(hosts().PI_NOTE))
    return EXIT.ok
  } catch (err) {
    wait.hide()
    if (err && err.code === codes.CANCELLED) {
      console.error(dim('Login cancelled.'))
      return EXIT.cancelled
    }
    return fail(err)
  } finally {
    process.removeListener('SIGINT', onSigint)
  }
}

/** Before a device login: offer a login another plugin holds. Returns an exit code, or null to sign in. */
async function offerImport(opts) {
  const takeable = await importableLogins(() => kimi.importSources(coreOpts(opts)))
  if (!takeable.length) return null
  const interactive = process.stdin.isTTY && process.stderr.isTTY
  if (!opts.yes && !interactive) {
    console.error(
      `Found a Kimi login kimi-native can take over: ${takeable.map((s) => s.id).join(', ')}. To use it instead of signing in again: npx kimi-native import ${takeable[0].id} --yes (or login --yes). Continuing with a device login.`,
    )
    return null
  }
  const offer = await offerEach(takeable, {
    ask: (s) =>
      opts.yes ||
      confirm(`Found a Kimi login in ${s.plugin} (${s.file}). Take it over instead of signing in again? [Y/n] `, true),
    take: async (s) => printImported(await kimi.importLogin(s.id, coreOpts(opts)), opts),
    // A login the server no longer takes: the next one, or a device login. Anything else ends the command.
    failed: (_s, err) => {
      if (!hasCode(err, ['RELOGIN_REQUIRED'])) throw err
      console.error(yellow(err.message))
    },
  })
  if ('result' in offer) return EXIT.ok
  if (!offer.declined) console.error('Continuing with a device login.')
  return null
}

async function cmdLoginOrImport(opts) {
  if (opts.import !== false) {
    const code = await offerImport(opts)
    if (code !== null) return code
  }
  return cmdLogin(opts)
}

module.exports = { run: cmdLoginOrImport }
