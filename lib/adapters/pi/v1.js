'use strict'
// pi 1.x: pi-ai has `createProvider` + `openAICompletionsApi`. A complete Provider object whose stream hands
// pi-ai's OpenAI-completions adapter (or, opted in, its Anthropic-messages one) the core's fetch
// (`createKimiFetch`), so bearer, refresh, 401 retry, identity, shaping, proxy and errors are the core's and pi
// never sees a token.

const { isCoreError, hasCode } = require('../../kit/core.js')
const { pump } = require('../../kit/pi-ai-host.js')
const { core, ID, MARKER, NAME, toPiModel, errorText, marker, abortable } = require('./provider.js')

// The opt-in Anthropic-compatible route (`"protocol": "anthropic"` in .kimi-native.json or the user's config.json;
// pi 1.x only: pi 0.73's pi-ai takes no custom fetch). pi-ai's own Anthropic adapter over the core's fetch, which
// sends it to {base}/messages?beta=true with x-api-key and shapes the body the way kimi-code does.
const ANTHROPIC = 'anthropic'
const ANTHROPIC_COMPAT = {
  supportsLongCacheRetention: false, // no 1h cache_control ttl: not a Kimi feature
  supportsMessageThreads: false,
}
// Core errors a retry may cure (ERROR_CODES keys); pi keeps its own retry policy for them.
const TRANSIENT = ['NETWORK', 'SERVER', 'RATE_LIMITED', 'CANCELLED']

/** Whether this pi-ai is pi 1.x's. */
const isV1 = (ai) => typeof ai.createProvider === 'function' && typeof ai.openAICompletionsApi === 'function'

/** 'anthropic' when the user opted in and this pi-ai has the Anthropic adapter, else 'openai'. Never throws. */
function nativeProtocol(ai) {
  try {
    const { protocolSetting } = require('../../tools.js')
    const p = protocolSetting({ directory: process.cwd() }).value
    return p === ANTHROPIC && typeof ai.anthropicMessagesApi === 'function' ? ANTHROPIC : 'openai'
  } catch {
    return 'openai'
  }
}

function makeCoreApi(ai, host, protocol) {
  const base = protocol === ANTHROPIC ? ai.anthropicMessagesApi() : ai.openAICompletionsApi()
  const kimiFetch = core.createKimiFetch({ host })
  // The core's fetch shapes the body from these hints and strips them before sending.
  const hints = (options, effort) => {
    const h = { ...options.headers, [core.HINT_HEADERS.effort]: effort || 'off' }
    if (options.sessionId) h[core.HINT_HEADERS.sessionId] = options.sessionId
    return h
  }
  // A core error reaches pi-ai as a rejected fetch, which it reports as a bare, retryable "Connection error".
  // Errors that waiting cannot fix (not logged in, store, membership ...) answer as a 401 instead, so neither
  // pi-ai nor pi retries them; every core error puts the core's own message back on pi's error event.
  const wrap = (model, run) => {
    let failure = null
    const fetch = async (input, init) => {
      try {
        return await kimiFetch(input, init)
      } catch (err) {
        if (!isCoreError(err)) throw err
        failure = err
        if (hasCode(err, TRANSIENT)) throw err
        const body = JSON.stringify({ error: { message: errorText(err), type: err.code } })
        return new Response(body, {
          status: 401,
          headers: { 'content-type': 'application/json', [core.ERROR_HEADER]: err.code },
        })
      }
    }
    const inner = run(fetch)
    const out = ai.createAssistantMessageEventStream()
    return pump(
      out,
      model,
      async () => {
        for await (const event of inner) {
          if (event.type === 'error' && failure && event.error) event.error.errorMessage = errorText(failure)
          out.push(event)
        }
      },
      errorText,
    )
  }
  // stream takes pi's `reasoningEffort`, streamSimple its `reasoning`: the same call otherwise.
  const through =
    (method, level) =>
    (model, context, options = {}) =>
      wrap(model, (fetch) =>
        base[method](model, context, { ...options, apiKey: MARKER, fetch, headers: hints(options, options[level]) }),
      )
  return { stream: through('stream', 'reasoningEffort'), streamSimple: through('streamSimple', 'reasoning') }
}

function registerNative(pi, ai, st, infos, host) {
  const protocol = nativeProtocol(ai)
  // Anthropic's SDK appends /v1/messages to its base URL; the core's base ends in /v1 (kimi-code does the same).
  const wire =
    protocol === ANTHROPIC
      ? { api: 'anthropic-messages', baseUrl: st.baseUrl.replace(/\/v1\/?$/, ''), compat: ANTHROPIC_COMPAT }
      : { api: 'openai-completions', baseUrl: st.baseUrl }
  const build = (list) =>
    ai.createProvider({
      id: ID,
      name: NAME,
      baseUrl: st.baseUrl,
      auth: {
        // A CLI login (`npx kimi-native login`) works with no /login: the core holds the credential.
        apiKey: {
          name: `${NAME}: shared login`,
          resolve: async () => ({ auth: { apiKey: MARKER }, source: 'kimi-native' }),
        },
        oauth: {
          name: NAME,
          isSubscription: true,
          loginLabel: 'Sign in with Kimi (shared kimi-native login)',
          async login(interaction) {
            const result = await core.login({
              host,
              signal: interaction.signal,
              onDeviceCode: (code) => {
                if (code.notice) interaction.notify({ type: 'progress', message: code.notice })
                interaction.notify({
                  type: 'device_code',
                  userCode: code.userCode,
                  verificationUri: code.verificationUriComplete,
                  intervalSeconds: code.interval,
                  expiresInSeconds: code.expiresIn,
                })
              },
              onEvent: (event) => interaction.notify({ type: 'progress', message: `login: ${event.kind}` }),
            })
            if (result.models && result.models.length) pi.registerProvider(build(result.models))
            return { type: 'oauth', ...marker() }
          },
          // The core refreshes the real token on every request; pi only ever holds the marker.
          async refresh(_credential, signal) {
            abortable(signal)
            return { type: 'oauth', ...marker() }
          },
          toAuth: async () => ({ apiKey: MARKER }),
        },
      },
      models: list.map((info) => ({ ...toPiModel(info), ...wire, provider: ID })),
      api: makeCoreApi(ai, host, protocol),
    })
  pi.registerProvider(build(infos))
}

module.exports = { isV1, registerNative }
