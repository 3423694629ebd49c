'use strict'
// `kimi-native setup <host>`: sets a host up to use this login (Claude Code: apiKeyHelper, base URL, models;
// issue #22), showing each change and asking first.
const { core: kimi } = require('../kit/core.js')
const { bold, dim, green, yellow, red, EXIT, printJson, thousands, confirm } = require('./io.js')
const { coreOpts, coded, badInput } = require('./options.js')

const SETUP_HOSTS = ['claude-code']

/** Single-quoted for `/bin/sh` (Claude Code runs the helper through it). */
const shQuote = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`

/**
 * The command Claude Code runs for a key: this Node and this package's CLI by absolute path, so
 * no PATH or npx resolution happens on each run. `$PPID` (expanded by the shell Claude Code starts)
 * is the Claude Code process: it tells `token` which caller asks again after a 401.
 */
function helperCommand() {
  const fs = require('node:fs')
  const path = require('node:path')
  // The bin entry (lib/cli.js), which runs `token`.
  const script = fs.realpathSync(path.join(__dirname, '..', 'cli.js'))
  const parts = script.split(path.sep)
  if (parts.includes('_npx')) {
    throw badInput(
      `This kimi-native runs from npx's cache (${path.dirname(path.dirname(script))}), which npm clears and replaces on updates: a helper pointing there would stop working. Install it once (npm install -g kimi-native), then run \`kimi-native setup claude-code\`. Nothing was changed.`,
    )
  }
  const local = parts.includes('node_modules') && !script.startsWith(path.resolve(path.dirname(process.execPath), '..'))
  const command =
    process.platform === 'win32'
      ? `"${process.execPath}" "${script}" token`
      : `${shQuote(process.execPath)} ${shQuote(script)} token --caller "$PPID"`
  return {
    command,
    note: local
      ? `The helper runs kimi-native from ${script}: it keeps working while that install stays (a global install, npm install -g kimi-native, does not depend on it).`
      : null,
  }
}

const SIGN = { add: green('+'), replace: yellow('~'), same: dim('='), remove: red('-') }

function printSetupChanges(title, file, changes, conflicts = []) {
  console.log(`${bold(title)} ${dim('·')} ${file}`)
  const width = Math.max(0, ...changes.map((c) => c.key.length), ...conflicts.map((c) => c.key.length))
  for (const c of changes) {
    const value =
      c.action === 'same'
        ? dim(`${c.to} (already set)`)
        : c.action === 'remove'
          ? dim(c.from)
          : c.from != null
            ? `${dim(c.from)} → ${c.to}`
            : c.action === 'replace'
              ? `${dim('(value not shown)')} → ${c.to}`
              : c.to
    console.log(`  ${SIGN[c.action] || ' '} ${c.key.padEnd(width)}  ${value}`)
  }
  for (const c of conflicts) console.log(`  ${red('!')} ${c.key.padEnd(width)}  ${yellow(c.reason)}`)
}

/** Asks on a terminal; without one, `--yes` must have been given. */
async function approve(opts, question, retry) {
  if (opts.yes) return true
  if (!process.stdin.isTTY) {
    throw coded(
      'CONFIRMATION_REQUIRED',
      `This changes another program's settings, so it needs a confirmation: stdin is not a terminal. Run \`kimi-native ${retry} --yes\`. Nothing was changed.`,
    )
  }
  return confirm(question, true)
}

async function cmdSetup(host, opts) {
  if (!SETUP_HOSTS.includes(host)) throw badInput(`setup knows ${SETUP_HOSTS.join(', ')}, not ${JSON.stringify(host)}.`)
  const native = require('../../index.js')
  const core = coreOpts(opts)
  delete core.onWarning
  const run = (args) => native.setupClaudeCode(core, { project: opts.project ? process.cwd() : undefined, ...args })
  const command = `setup ${host}${opts.project ? ' --project' : ''}`
  return opts.remove ? undoSetup(run, command, opts) : applySetup(run, command, opts)
}

async function undoSetup(run, command, opts) {
  const plan = await run({ action: 'plan-remove' })
  if (opts.json && (opts.print || !plan.changed)) return printJson(plan)
  if (plan.changes.length) printSetupChanges('Claude Code: undo kimi-native setup', plan.file, plan.changes)
  if (opts.print || !plan.changed) {
    for (const n of plan.notes) console.log(dim(n))
    return EXIT.ok
  }
  if (!(await approve(opts, `Undo these changes in ${plan.file}? [Y/n] `, `${command} --remove`))) {
    console.error('Nothing was changed.')
    return EXIT.cancelled
  }
  const out = await run({ action: 'remove' })
  if (opts.json) return printJson(out)
  console.log(`${green('✓')} Undone in ${out.file}${out.backup ? dim(` (backup ${out.backup})`) : ''}`)
  for (const n of out.notes) console.log(`  ${yellow('note')}: ${n}`)
  return EXIT.ok
}

async function applySetup(run, command, opts) {
  const helper = helperCommand()
  const plan = await run({ action: 'plan', helper: helper.command })
  const notes = [...plan.notes]
  if (helper.note) notes.push(helper.note)
  if (!plan.modelsFromAccount)
    notes.push(
      `The account's model list could not be read (log in first: kimi-native login): using ${kimi.PROVIDER.defaultModel} and a ${thousands(kimi.LIMITS.context)}-token window.`,
    )
  if (opts.json && opts.print) return printJson({ ...plan, notes })
  if (!opts.json) {
    printSetupChanges(
      'Claude Code',
      `${plan.file}${plan.exists ? '' : dim(' (new file)')}`,
      plan.changes,
      plan.conflicts,
    )
    for (const n of notes) console.log(`  ${yellow('note')}: ${n}`)
  }
  if (opts.print) return EXIT.ok
  const remove = []
  for (const c of plan.conflicts) {
    const ask = `The helper replaces ${c.key}. Remove it from ${plan.file} (the backup keeps it)? [Y/n] `
    if (opts.yes || (process.stdin.isTTY && (await confirm(ask, true)))) remove.push(c.key)
  }
  if (!plan.changes.some((c) => c.action !== 'same') && !remove.length) {
    if (opts.json) return printJson({ ...plan, changed: false, notes })
    console.log(`${green('✓')} Claude Code is already set up to use this login.`)
    return EXIT.ok
  }
  if (!(await approve(opts, `Write these changes to ${plan.file}? [Y/n] `, command))) {
    console.error('Nothing was changed.')
    return EXIT.cancelled
  }
  const out = await run({ action: 'apply', helper: helper.command, remove })
  if (opts.json) return printJson({ ...out, notes: [...out.notes, ...notes.filter((n) => !out.notes.includes(n))] })
  console.log(
    `${green('✓')} Claude Code now uses this Kimi login ${dim(`(${out.file}${out.backup ? `; backup ${out.backup}` : ''})`)}`,
  )
  for (const k of out.removed)
    console.log(`  removed: ${k} ${dim('(the helper replaces it; its value is only in the backup)')}`)
  for (const c of plan.conflicts.filter((x) => !out.removed.includes(x.key)))
    console.log(`  ${yellow('kept')}:    ${c.key} — ${c.reason}`)
  console.log(`  Try it: ${bold('claude -p "hello"')}  ·  undo: ${bold(`kimi-native ${command} --remove`)}`)
  return EXIT.ok
}

// Commands that skip commander when called with only their own flags (start-up time: `token`

module.exports = { run: cmdSetup, SETUP_HOSTS }
