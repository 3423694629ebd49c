'use strict'
// `kimi-native fetch <url>`: a page as markdown through Kimi's fetch service (issue #16).
const { core: kimi } = require('../kit/core.js')
const { EXIT } = require('./io.js')
const { coreOpts, timeoutOpt } = require('./options.js')

async function cmdFetch(url, opts) {
  const text = await kimi.fetchUrl(url, { ...coreOpts(opts), ...timeoutOpt(opts) })
  await kimi.settle()
  if (opts.json) console.log(JSON.stringify({ url, markdown: text }, null, 2))
  else process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  return EXIT.ok
}

module.exports = { run: cmdFetch }
