'use strict'
// `kimi-native models`: the models the account's plan offers.
const { core: kimi } = require('../kit/core.js')
const { bold, dim, EXIT, thousands } = require('./io.js')
const { coreOpts } = require('./options.js')

async function cmdModels(opts) {
  const list = await kimi.models({ ...coreOpts(opts), refresh: true })
  if (opts.json) {
    console.log(JSON.stringify(list, null, 2))
    return EXIT.ok
  }
  for (const m of list) {
    const caps = [
      m.supportsReasoning && 'reasoning',
      m.supportsImageIn && 'image',
      m.supportsVideoIn && 'video',
      m.supportsToolUse && 'tools',
    ].filter(Boolean)
    console.log(`${bold(m.id)}${m.displayName ? ` ${dim(`(${m.displayName})`)}` : ''}`)
    console.log(
      `  context ${thousands(m.contextLength)} · ${caps.join(', ')}${m.thinkEfforts ? ` · efforts ${m.thinkEfforts.join('/')}` : ''}`,
    )
  }
  return EXIT.ok
}

module.exports = { run: cmdModels }
