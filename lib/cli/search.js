'use strict'
// `kimi-native search <query>`: Kimi's web search (issue #16).
const { core: kimi } = require('../kit/core.js')
const { bold, dim, cyan, EXIT } = require('./io.js')
const { coreOpts, timeoutOpt } = require('./options.js')

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

module.exports = { run: cmdSearch }
