'use strict'
// What the two hosts built on pi-ai (pi, openclaw) share: the provider's name, how long a core call may keep the
// host waiting, the model a core ModelInfo becomes, the message of a turn that failed, and the body
// shaping and failure handling around a stream.

const { core } = require('./core.js')
const { withTimeout } = require('../timeout.js')

const LABEL = 'Kimi For Coding (kimi-native)'
// How long a host waits for one core call: it waits for the plugin before it starts, and a locked keychain or a slow
// network must not hang it.
const CALL_TIMEOUT_MS = 10000

const ZERO_COST = Object.freeze({ input: 0, output: 0, cacheRead: 0, cacheWrite: 0 })

// pi-ai's OpenAI-completions compat flags both hosts set.
const COMPAT = Object.freeze({
  supportsStore: false,
  supportsDeveloperRole: false,
  supportsReasoningEffort: false, // thinking is set by the core's shaping, never reasoning_effort
  supportsStrictMode: false,
  maxTokensField: 'max_completion_tokens', // the field the official kimi-code client sends
})

/** A core ModelInfo as a pi-ai model; `maxOutput` caps its output tokens (the core's LIMITS.output). */
function piAiModel(info, maxOutput) {
  return {
    id: info.id,
    name: info.displayName || info.id,
    reasoning: !!info.supportsReasoning,
    input: info.supportsImageIn ? ['text', 'image'] : ['text'],
    cost: ZERO_COST,
    contextWindow: info.contextLength,
    maxTokens: Math.min(info.contextLength, maxOutput),
  }
}

// Marks the model shown until the core can list the account's models (not logged in yet, offline): it is not
// passed to shaping.
const FALLBACK = Symbol('fallback')
function fallbackInfo() {
  return { ...core.DEFAULT_MODEL_INFO, [FALLBACK]: true }
}

/** The account's models (`st`: the core's status of the login `opts` select), or the fallback model when it has
 * none or is not logged in. Rejects when listing fails or takes longer than CALL_TIMEOUT_MS. */
async function accountModels(st, opts) {
  if (!st.loggedIn) return [fallbackInfo()]
  const list = await withTimeout(core.models(opts), CALL_TIMEOUT_MS)
  return list && list.length ? list : [fallbackInfo()]
}

/** The assistant message of a turn that failed before any output, carrying `text` as its error. */
function assistantError(model, text) {
  return {
    role: 'assistant',
    content: [],
    api: model.api,
    provider: model.provider,
    model: model.id,
    usage: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, totalTokens: 0, cost: { ...ZERO_COST, total: 0 } },
    stopReason: 'error',
    errorMessage: text,
    timestamp: Date.now(),
  }
}

/** A stream's onPayload hook: the caller's own hook first, then the core's shaping of the body for `model` (with
 * its account entry from `known`, a Map by id, when listed). */
function shapingPayload(options, { model, effort, sessionId, known }) {
  const shaping = { model: model.id, effort, sessionId }
  if (known.has(model.id)) shaping.modelInfo = known.get(model.id)
  return async (payload, m) => {
    const replaced = options.onPayload ? await options.onPayload(payload, m) : undefined
    return core.shapeRequest(replaced === undefined ? payload : replaced, shaping)
  }
}

/** Runs `run()`, which pushes onto the event stream `out`, then ends `out`; a failure ends it with one error event
 * whose message is `text(err)`. Returns `out`. */
function pump(out, model, run, text) {
  ;(async () => {
    await run()
    out.end()
  })().catch((err) => {
    out.push({ type: 'error', reason: 'error', error: assistantError(model, text(err)) })
    out.end()
  })
  return out
}

module.exports = {
  LABEL,
  CALL_TIMEOUT_MS,
  ZERO_COST,
  COMPAT,
  piAiModel,
  FALLBACK,
  fallbackInfo,
  accountModels,
  assistantError,
  shapingPayload,
  pump,
}
