'use strict'
// What every command shares about the terminal: colour (only on a TTY, never with NO_COLOR or TERM=dumb), the
// y/n prompt, durations and numbers as people read them, exit codes, and how an error is printed.
const { codes, INTERNAL } = require('../kit/core.js')

const useColor = process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== 'dumb'
const paint = (code) => (s) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : String(s))
const bold = paint('1')
const dim = paint('2')
const green = paint('32')
const yellow = paint('33')
const red = paint('31')
const cyan = paint('36')

const EXIT = { ok: 0, notLoggedIn: 1, relogin: 2, error: 3, cancelled: 130 }

/** Prints `err` with its code on stderr; returns the exit code it means. */
function fail(err) {
  const code = err && err.code ? err.code : INTERNAL
  console.error(`${red('error')} ${dim(`[${code}]`)} ${err && err.message ? err.message : String(err)}`)
  if (code === codes.CLIENT_NOT_ALLOWED) {
    console.error(
      dim('Your login is fine: the model list and usage are also shown by the hosts (opencode, pi) that use it.'),
    )
  }
  if (code === codes.NOT_LOGGED_IN) return EXIT.notLoggedIn
  if (code === codes.RELOGIN_REQUIRED) return EXIT.relogin
  if (code === codes.CANCELLED) return EXIT.cancelled
  return EXIT.error
}

/** Prints `value` as JSON; the command succeeded. */
const printJson = (value) => {
  console.log(JSON.stringify(value, null, 2))
  return EXIT.ok
}

// `toLocaleString` would load ICU's locale data: milliseconds on every `status`.
const thousands = (n) => String(n).replace(/\B(?=(\d{3})+$)/g, ',')

function fmtDuration(s) {
  s = Math.max(0, Math.round(s))
  const m = Math.floor(s / 60)
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`
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

module.exports = { bold, dim, green, yellow, red, cyan, EXIT, fail, printJson, thousands, fmtDuration, confirm }
