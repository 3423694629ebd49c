'use strict'
// The options every command takes (the core's profile, region and store, from its own lists) and the parsing of
// the flags several commands share.
const { core: kimi, codes } = require('../kit/core.js')
const { yellow } = require('./io.js')

const PROFILE_HELP =
  'client identity: native (default, honest); kimi-code / kimi-cli impersonate the official clients (opt-in, risks your subscription)'
// The full warning is printed once per process (stderr); summaries point at it.
const RISK = 'this profile impersonates an official Kimi client, which Kimi forbids (see the warning on stderr)'

// The official-profile warning, once per process (the core decides when), on stderr.
const showWarning = (w) => console.error(`${yellow('warning')} ${w}`)

// The CLI flags are the core options that have a fixed set of values (profile, region, store).
const OPTION_HELP = { profile: PROFILE_HELP, region: 'Kimi region', store: 'credential store' }

/** The core options the flags in `opts` set, with the warning hook. */
function coreOpts(opts) {
  const out = { onWarning: showWarning }
  for (const k of Object.keys(kimi.CHOICES)) if (opts[k]) out[k] = opts[k]
  return out
}

/** Adds the core options' flags to a commander command. */
function addCoreOptions(cmd) {
  const { Option } = require('commander')
  for (const [k, values] of Object.entries(kimi.CHOICES)) {
    cmd.addOption(new Option(`--${k} <${k}>`, OPTION_HELP[k] || k).choices(values))
  }
  return cmd
}

/** An error with the core's code of `key` (an ERROR_CODES key). */
const coded = (key, message) => Object.assign(new Error(message), { code: codes[key] })
const badInput = (message) => coded('BAD_INPUT', message)

/** `--timeout <ms>` as the core's `timeoutMs`. */
function timeoutOpt(opts) {
  if (opts.timeout === undefined) return {}
  const ms = Number(opts.timeout)
  if (!Number.isFinite(ms) || ms <= 0)
    throw badInput(`--timeout must be a positive number of milliseconds, got ${JSON.stringify(opts.timeout)}.`)
  return { timeoutMs: ms }
}

module.exports = { RISK, coreOpts, addCoreOptions, coded, badInput, timeoutOpt }
