'use strict'
// The core (lib/index.js and its native binding) as every adapter and the CLI load it: on first use, not when the
// host loads the adapter. A host whose platform package is missing still loads kimi-native, and the first use says
// why instead of the host failing to start.

/** `load()` on first property read, cached after (property reads only: no keys, no spreading). */
function lazy(load) {
  let m
  return new Proxy({}, { get: (_, k) => (m ??= load())[k] })
}

// Without the binding the core's code list (constants().errorCodes) is out of reach too: the one code this error
// needs is spelled out here (src/error.rs Code::Internal; __test__/no-binding.test.js checks the two agree).
const INTERNAL = 'KIMI_INTERNAL'

// The few facts pi's provider still shows when the binding is missing (pi always starts, and its provider says why).
// Spelled out for that case only; __test__/no-binding.test.js checks each against the core's.
const WITHOUT_BINDING = {
  piId: require('../../package.json').name,
  piMarker: { access: 'kimi-native-managed', managedBy: 'kimi-native' },
  limits: { context: 262144, output: 32768 },
}

let core
let loadError = null

/** lib/index.js, or null when its native binding does not load (`coreError()` says why). */
function tryCore() {
  if (core === undefined) {
    try {
      core = require('../index.js')
    } catch (err) {
      core = null
      loadError = err
    }
  }
  return core
}

/** Why the core did not load: a coded error (KIMI_INTERNAL) naming the platform's missing binding. */
function coreError() {
  const err = new Error(`kimi-native's native binding did not load: ${(loadError && loadError.message) || loadError}`, {
    cause: loadError,
  })
  err.code = INTERNAL
  return err
}

/** lib/index.js; throws `coreError()` when the binding does not load. */
function loadCore() {
  const c = tryCore()
  if (!c) throw coreError()
  return c
}

const errorCodes = () => (tryCore() ? core.ERROR_CODES : {})
const codes = lazy(errorCodes)

/** Whether `err.code` is the code of one of these ERROR_CODES keys (`['NOT_LOGGED_IN', ...]`). */
function hasCode(err, keys) {
  return Boolean(err && err.code) && keys.some((k) => err.code === codes[k])
}

/** Whether `err` is a coded error of the core's (any of ERROR_CODES). */
function isCoreError(err) {
  return Boolean(err && err.code) && Object.values(errorCodes()).includes(err.code)
}

module.exports = {
  lazy,
  tryCore,
  loadCore,
  coreError,
  /** lib/index.js, loaded when a property is first read (and then throwing `coreError()` without the binding). */
  core: lazy(loadCore),
  /** The core's ERROR_CODES (`codes.NOT_LOGGED_IN === 'KIMI_NOT_LOGGED_IN'`); without the binding no key is known. */
  codes,
  hasCode,
  isCoreError,
  INTERNAL,
  WITHOUT_BINDING,
}
