'use strict'
// `kimi-native logout`: removes the stored login.
const { core: kimi } = require('../kit/core.js')
const { green, EXIT } = require('./io.js')
const { coreOpts } = require('./options.js')

async function cmdLogout(opts) {
  const r = await kimi.logout(coreOpts(opts))
  console.log(
    r.removed ? `${green('✓')} Logged out; the stored login was removed.` : 'No stored kimi-native login to remove.',
  )
  return EXIT.ok
}

module.exports = { run: cmdLogout }
