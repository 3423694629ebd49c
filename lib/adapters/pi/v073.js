'use strict'
// pi 0.73/0.74: pi-ai has `streamSimpleOpenAICompletions` but no custom fetch and no header hook. The provider gets
// its own `api` id whose streamSimple delegates with a fresh bearer, the core's headers and the core's body shaping
// (onPayload), and retries once after a forced refresh on a 401.

const { FALLBACK, shapingPayload, pump } = require('../../kit/pi-ai-host.js')
const { core, ID, API_ID, MARKER, NAME, toPiModel, errorText, marker, abortable } = require('./provider.js')

function makeLegacyStream(ai, infoById, host) {
  return function streamKimi(model, context, options = {}) {
    const out = ai.createAssistantMessageEventStream()
    const effort = options.reasoning || 'off'
    const onPayload = shapingPayload(options, { model, effort, sessionId: options.sessionId, known: infoById })
    return pump(
      out,
      model,
      async () => {
        // pi-ai's own HTTP client sends the bearer to model.baseUrl, where the core's fetch (and its origin check)
        // does not run: an extension or models.json may have re-pointed the model. The core's rule decides first.
        core.checkCredentialTarget(String(model.baseUrl), { host })
        for (let attempt = 0; ; attempt++) {
          const token = await core.getAccessToken({ host, force: attempt > 0 })
          const headers = { ...options.headers, ...Object.fromEntries(core.buildHeaders({ host })) }
          const inner = ai.streamSimpleOpenAICompletions(model, context, {
            ...options,
            apiKey: token,
            headers,
            onPayload,
          })
          let retry = false
          let first = true
          for await (const event of inner) {
            const unauthorized = event.type === 'error' && /^401\b/.test(event.error.errorMessage || '')
            if (first && attempt === 0 && unauthorized) {
              retry = true
              break
            }
            first = false
            out.push(event)
          }
          if (!retry) break
        }
      },
      errorText,
    )
  }
}

function registerLegacy(pi, ai, st, infos, host) {
  const config = (list) => ({
    name: NAME,
    baseUrl: st.baseUrl,
    // A CLI login (`npx kimi-native login`) works with no /login: pi falls back to this marker.
    apiKey: MARKER,
    api: API_ID,
    streamSimple: makeLegacyStream(ai, new Map(list.filter((i) => !i[FALLBACK]).map((i) => [i.id, i])), host),
    models: list.map(toPiModel),
    oauth: {
      name: NAME,
      async login(callbacks) {
        const result = await core.login({
          host,
          signal: callbacks.signal,
          onDeviceCode: (code) =>
            callbacks.onAuth({
              url: code.verificationUriComplete,
              instructions: `${code.notice ? `${code.notice} ` : ''}Your code: ${code.userCode}`,
            }),
          onEvent: (event) => callbacks.onProgress && callbacks.onProgress(`login: ${event.kind}`),
        })
        if (result.models && result.models.length) pi.registerProvider(ID, config(result.models))
        return marker()
      },
      // The core refreshes the real token on every request; pi only ever holds the marker.
      refreshToken: async (_credentials, signal) => {
        abortable(signal)
        return marker()
      },
      getApiKey: () => MARKER,
    },
  })
  pi.registerProvider(ID, config(infos))
}

module.exports = { registerLegacy }
