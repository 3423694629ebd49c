'use strict'
// pi-ai's message shapes, which both pi and openclaw (built on pi-ai) stream: one place for both adapters.

const ZERO_COST = Object.freeze({ input: 0, output: 0, cacheRead: 0, cacheWrite: 0 })

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

module.exports = { ZERO_COST, assistantError }
