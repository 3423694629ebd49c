'use strict'
// `kimi-native usage`: quota windows as bars, with their reset times.
const { core: kimi } = require('../kit/core.js')
const { dim, green, yellow, red, EXIT } = require('./io.js')
const { coreOpts } = require('./options.js')

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
    console.log(
      `${w.label.padEnd(7)} ${bar(ratio)} ${String(Math.round(ratio * 100)).padStart(3)}%  ${w.used}/${w.limit}${dim(reset)}`,
    )
  }
  return EXIT.ok
}

module.exports = { run: cmdUsage }
