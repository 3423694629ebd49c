'use strict'
// `kimi-native token`: a usable access token for another program's key command (issue #22).
const { core: kimi } = require('../kit/core.js')
const { EXIT } = require('./io.js')
const { coreOpts, badInput } = require('./options.js')

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

module.exports = { run: cmdToken }
