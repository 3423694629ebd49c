'use strict'
// What both pi paths (pi 1.x: v1.js, pi 0.73/0.74: v073.js) and the entry (../pi.js) share: the provider's ids,
// its marker, its models and its error text. Known without the native binding too, so a pi whose binding is missing
// still gets a provider that says why.

const { tryCore, WITHOUT_BINDING } = require('../../kit/core.js')
const { withLoginHint, heldMarker } = require('../../kit/login.js')
const { LABEL, CALL_TIMEOUT_MS, COMPAT: PI_AI_COMPAT, piAiModel, assistantError } = require('../../kit/pi-ai-host.js')

// null when the binding does not load: the facts below then come from WITHOUT_BINDING.
const core = tryCore()
const ID = core ? core.PROVIDER.piId : WITHOUT_BINDING.piId
// Unique api id: registering streamSimple under "openai-completions" would replace it for every provider.
const API_ID = `${ID}-openai-completions`
// What pi stores and passes around instead of a token (auth.json, options.apiKey). Never a secret.
// The core's marker (import writes the same).
const PI_MARKER = core ? core.AUTH_MARKERS.pi : WITHOUT_BINDING.piMarker
const MARKER = PI_MARKER.access
const LIMITS = core ? core.LIMITS : WITHOUT_BINDING.limits

const COMPAT = {
  ...PI_AI_COMPAT,
  supportsLongCacheRetention: false, // prompt_cache_key comes from the core, no prompt_cache_retention
  thinkingFormat: 'openai',
}

/** A core ModelInfo as a pi model. */
function toPiModel(info) {
  // pi shows a level only if the map allows it; the core maps pi's level onto the model's efforts.
  const map = {}
  if (info.thinkEfforts && info.thinkEfforts.includes('max')) map.xhigh = 'xhigh'
  if (info.thinkingType === 'only') map.off = null
  return { ...piAiModel(info, LIMITS.output), thinkingLevelMap: map, compat: COMPAT }
}

/** A core error's message, with pi's own way to log in when a new login cures it. */
function errorText(err) {
  return withLoginHint(`${(err && err.message) || err}`, err, `In pi, /login ${ID} works too.`)
}

function errorMessage(model, err) {
  return assistantError(model, errorText(err))
}

/** What pi's auth store holds for the provider instead of a token. */
function marker() {
  return { ...heldMarker(MARKER), managedBy: PI_MARKER.managedBy }
}

function abortable(signal) {
  if (signal && signal.aborted) throw signal.reason || new Error('aborted')
}

module.exports = {
  core,
  ID,
  API_ID,
  MARKER,
  LIMITS,
  CALL_TIMEOUT_MS,
  NAME: LABEL,
  toPiModel,
  errorText,
  errorMessage,
  marker,
  abortable,
}
