'use strict'
// `kimi-native status`: the login state; exit 0 logged in, 1 not, 2 relogin required.
const { core: kimi } = require('../kit/core.js')
const { bold, dim, green, yellow, red, EXIT, thousands, fmtDuration } = require('./io.js')
const { RISK, coreOpts } = require('./options.js')

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
  if (left !== null && s.loggedIn)
    console.log(
      `  token:   ${left > 0 ? `valid for ${fmtDuration(left)} (refreshed automatically)` : 'expired (refreshed on next use)'}`,
    )
  console.log(`  profile: ${s.profile}${s.profile === 'native' ? dim(' (honest: says it is kimi-native)') : ''}`)
  console.log(`  user-agent: ${s.identity.userAgent}`)
  if (s.warning) console.log(`  ${yellow('risk')}:    ${RISK}`)
  console.log(`  store:   ${s.store} ${dim(`— ${s.storeReason}`)}`)
  if (s.model) console.log(`  model:   ${s.model.id}, context ${thousands(s.model.contextLength)}`)
  console.log(`  server:  ${dim(`${s.oauthHost} · ${s.baseUrl}`)}`)
  for (const h of s.hosts) console.log(`  host:    ${h.host} ${dim(`(${h.file})`)}`)
  return code
}

module.exports = { run: cmdStatus }
