'use strict'
// `kimi-native import [source]`: lists the Kimi logins other plugins hold, or takes one over (issue #15).
const { core: kimi } = require('../kit/core.js')
const { bold, dim, green, yellow, red, EXIT, fail, fmtDuration, confirm } = require('./io.js')
const { coreOpts, coded } = require('./options.js')

const HANDOVER_TEXT = {
  marker: "entry replaced with kimi-native's marker",
  remove: 'entry removed',
  'move-aside': 'file moved aside',
}

function fmtAge(secs) {
  const s = Math.abs(secs)
  if (s < 3600) return fmtDuration(s)
  if (s < 86400 * 2) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
  return `${Math.floor(s / 86400)} days`
}

function describeExpiry(expiresAt) {
  if (!expiresAt) return 'expiry unknown'
  const left = expiresAt - Date.now() / 1000
  return left > 0 ? `access token valid for ${fmtAge(left)}` : `access token expired ${fmtAge(left)} ago`
}

function printSources(list) {
  const takeable = list.filter((s) => s.importable)
  if (!list.length) {
    console.log('No Kimi login from another plugin or client was found on this machine.')
    return
  }
  console.log(bold('Kimi logins found on this machine:'))
  for (const s of list) {
    console.log('')
    console.log(`  ${s.importable ? green('✓') : red('✗')} ${bold(s.id)} ${dim(`— ${s.plugin}`)}`)
    console.log(`      file:   ${s.file}${s.entry ? ` (entry "${s.entry}")` : ''}`)
    const token = s.marker
      ? "none (kimi-native's marker)"
      : s.hasRefreshToken
        ? `refresh token present · ${describeExpiry(s.expiresAt)}`
        : 'no usable refresh token'
    console.log(`      token:  ${token}`)
    console.log(`      ${s.importable ? 'import:' : 'why:   '} ${s.reason}`)
  }
  console.log('')
  if (takeable.length)
    console.log(`Take one over (no new sign-in): ${bold(`npx kimi-native import ${takeable[0].id}`)}`)
  else console.log('Nothing to take over.')
}

function printHostSetup(host) {
  if (host === 'opencode') {
    console.log(`${bold('opencode')}${dim(': use kimi-native instead of the old Kimi plugin in opencode.json:')}`)
    console.log(JSON.stringify(require('../host-config.js').opencodeConfig(), null, 2))
  } else if (host === 'pi') {
    console.log(`${bold('pi')}${dim(': use kimi-native instead of the old Kimi provider:')}`)
    for (const line of require('../host-config.js').piSetup()) console.log(line)
  }
}

function printImported(r, opts) {
  if (opts.json) {
    console.log(JSON.stringify(r, null, 2))
    return
  }
  console.log(
    `${green('✓')} Took over the Kimi login from ${bold(r.source.id)} — no new sign-in needed ${dim(`(profile ${r.profile})`)}`,
  )
  console.log(
    `  stored:  ${r.store === 'keychain' ? green('OS keychain') : yellow('0600 file')} ${dim(`— ${r.storeReason}`)}`,
  )
  console.log(`  token:   ${describeExpiry(r.expiresAt)} (refreshed automatically from now on)`)
  for (const h of r.handedOver) {
    console.log(
      `  handed over: ${h.file}: ${HANDOVER_TEXT[h.action] || h.action} ${dim(`(${h.action === 'move-aside' ? 'now' : 'backup'} ${h.backup})`)}`,
    )
  }
  if (r.warning) console.log(`  ${yellow('warning')}: ${r.warning}`)
  console.log('')
  printHostSetup(r.source.host)
}

async function cmdImport(source, opts) {
  if (!source) {
    const list = await kimi.importSources(coreOpts(opts))
    if (opts.json) console.log(JSON.stringify(list, null, 2))
    else printSources(list)
    return EXIT.ok
  }
  if (!opts.yes) {
    if (!process.stdin.isTTY) {
      return fail(
        coded(
          'CONFIRMATION_REQUIRED',
          `Importing takes the login away from its current owner, so it needs a confirmation: stdin is not a terminal. Run \`npx kimi-native import ${source} --yes\`. Nothing was changed.`,
        ),
      )
    }
    const list = await kimi.importSources(coreOpts(opts))
    const s = list.find((x) => x.id === source) || list.find((x) => x.host === source && x.importable)
    const what = s ? `${s.plugin} (${s.file}${s.entry ? `, entry "${s.entry}"` : ''})` : source
    const then =
      s && s.handover
        ? `; its ${HANDOVER_TEXT[s.handover].replace(/^(entry|file) /, '$1 will be ')}, with a backup`
        : ''
    const st = await kimi.status(coreOpts(opts)).catch(() => null)
    const replaces = st && st.loggedIn && st.source === 'kimi-native' ? " It replaces kimi-native's current login." : ''
    if (
      !(await confirm(
        `Take over the Kimi login of ${what}? kimi-native refreshes it once and keeps it${then}.${replaces} [y/N] `,
        false,
      ))
    ) {
      console.error('Nothing was changed.')
      return EXIT.cancelled
    }
  }
  printImported(await kimi.importLogin(source, coreOpts(opts)), opts)
  return EXIT.ok
}

module.exports = { run: cmdImport, printImported }
