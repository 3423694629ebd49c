'use strict'
// pi (coding agent) extension: a Kimi For Coding provider backed by the kimi-native core.
// Translation only: every decision (token refresh, identity, request shaping, defaults) is the core's.
//
// Loaded by pi through package.json "pi.extensions" (`pi install npm:kimi-native`, `pi -e <dir>`), or
// `require('kimi-native/pi')` from an SDK host. What the running pi offers decides the shape, never its
// version number:
// - pi-ai with `createProvider` + `openAICompletionsApi` (pi 1.x): a complete Provider object whose stream
//   hands pi-ai's OpenAI-completions adapter the core's fetch (`createKimiFetch`), so bearer, refresh,
//   401 retry, identity, shaping, proxy and errors are the core's and pi never sees a token.
// - pi-ai with `streamSimpleOpenAICompletions` (pi 0.73/0.74: no custom fetch, no header hook): the
//   provider gets its own `api` id whose streamSimple delegates with a fresh bearer, the core's headers and
//   the core's body shaping (onPayload), and retries once after a forced refresh on a 401.
// Whatever fails while loading (native binding, store, keychain, pi-ai entry point), the provider is still
// registered and its requests end with the reason, so pi always starts.
//
// This file registers; pi/v1.js and pi/v073.js are the two paths, pi/pi-ai.js finds the running pi's pi-ai, and
// pi/provider.js holds what they share.

const { withTimeout } = require('../timeout.js')
const { coreError, codes, INTERNAL } = require('../kit/core.js')
const { fallbackInfo, accountModels: listModels } = require('../kit/pi-ai-host.js')
const {
  core,
  ID,
  API_ID,
  MARKER,
  LIMITS,
  CALL_TIMEOUT_MS,
  NAME,
  toPiModel,
  errorText,
  errorMessage,
} = require('./pi/provider.js')
const { loadHost } = require('./pi/pi-ai.js')
const { isV1, registerNative } = require('./pi/v1.js')
const { registerLegacy } = require('./pi/v073.js')

async function accountModels(st, host) {
  try {
    return await listModels(st, { host })
  } catch {
    return [fallbackInfo()]
  }
}

/** A finished stream holding one error event; needs nothing from pi-ai (it may be what failed). */
function failedStream(model, err) {
  const message = errorMessage(model, err)
  const events = [{ type: 'error', reason: 'error', error: message }]
  return {
    async *[Symbol.asyncIterator]() {
      yield* events
    },
    result: async () => message,
  }
}

/** The provider pi gets when loading failed: listed, selectable, and every request ends with the reason. */
function registerBroken(pi, err) {
  const reason = new Error(`kimi-native could not start in this pi: ${(err && err.message) || err}`)
  reason.code = (err && err.code) || INTERNAL
  const info = core
    ? fallbackInfo()
    : // Without the binding the core's facts are unreachable; the model still needs an id to be selectable.
      {
        id: 'kimi-for-coding',
        displayName: 'Kimi For Coding',
        contextLength: LIMITS.context,
        supportsReasoning: true,
        supportsImageIn: true,
      }
  pi.registerProvider(ID, {
    name: `${NAME}: unavailable`,
    baseUrl: core ? core.DEFAULTS.baseUrl : 'https://kimi-native.invalid',
    apiKey: MARKER,
    api: API_ID,
    streamSimple: (model) => failedStream(model, reason),
    models: [toPiModel(info)],
  })
}

async function register(pi) {
  if (!core) throw coreError()
  const { ai, token } = await loadHost()
  const native = isV1(ai)
  if (!native && typeof ai.streamSimpleOpenAICompletions !== 'function') {
    const err = new Error(
      `${token}: its pi-ai offers neither createProvider/openAICompletionsApi nor streamSimpleOpenAICompletions`,
    )
    err.code = codes.PI_HOST
    throw err
  }
  const st = await withTimeout(core.status({ host: token }), CALL_TIMEOUT_MS).catch((err) => {
    const hint =
      err && err.code
        ? ''
        : ' (a locked keychain waits for its unlock prompt; `npx kimi-native status` shows the store)'
    throw Object.assign(new Error(`reading the Kimi login failed: ${(err && err.message) || err}${hint}`), {
      code: (err && err.code) || codes.STORE,
    })
  })
  const infos = await accountModels(st, token)
  if (native) registerNative(pi, ai, st, infos, token)
  else registerLegacy(pi, ai, st, infos, token)
  registerCommands(pi, token)
  registerTools(pi, token)
}

/** Shows a command's result in pi's UI, or on stdout when pi runs without one (print mode, SDK). */
function show(ctx, text, level = 'info') {
  if (ctx && ctx.hasUI && ctx.ui && typeof ctx.ui.notify === 'function') ctx.ui.notify(text, level)
  else process.stdout.write(`${text}\n`)
}

/** A pi command that shows what `run()` answers, or the core's error. */
const command = (description, run) => ({
  description,
  handler: async (_args, ctx) => {
    try {
      show(ctx, await run())
    } catch (err) {
      show(ctx, errorText(err), 'error')
    }
  },
})

function registerCommands(pi, host) {
  if (typeof pi.registerCommand !== 'function') return
  pi.registerCommand(
    'kimi-usage',
    command('Kimi For Coding quota windows (kimi-native)', async () => {
      const u = await withTimeout(core.usage({ host }), CALL_TIMEOUT_MS)
      const lines = u.windows.map(
        (w) =>
          `${w.label}: ${w.used}/${w.limit} used, ${w.remaining} left${w.resetTime ? `, resets ${w.resetTime}` : ''}`,
      )
      return lines.length ? `Kimi For Coding usage\n${lines.join('\n')}` : 'Kimi For Coding reported no quota windows.'
    }),
  )
  // pi's own /logout only drops its stored marker (providers get no logout hook); this ends the shared login.
  pi.registerCommand(
    'kimi-logout',
    command('Log out of Kimi For Coding everywhere kimi-native is used (CLI, opencode, pi)', async () => {
      const r = await withTimeout(core.logout({ host }), CALL_TIMEOUT_MS)
      return r.removed ? 'Logged out of Kimi For Coding (kimi-native).' : 'kimi-native held no Kimi login.'
    }),
  )
}

// ---- opt-in agent tools (lib/tools.js) --------------------------------------------------------------
// pi 1.x and 0.73 both take `registerTool({ name, label, description, parameters, execute(toolCallId, params,
// signal, onUpdate, ctx) })`; both validate `parameters` as plain JSON Schema (pi 1.x with pi-schema, 0.73 with
// its JSON-Schema coercion path for non-TypeBox objects), so the shared schemas go in unchanged, no TypeBox.
// Opt-in, like opencode: `{ "tools": true | ["search", ...] }` in the user's kimi-native config.json; the project's
// .kimi-native.json may only narrow it (lib/tools.js toolsSetting). pi's factory has no cwd argument; pi runs in the
// project directory.
function registerTools(pi, host) {
  try {
    if (typeof pi.registerTool !== 'function') return
    const { enabledTools, toolsSetting } = require('../tools.js')
    const setting = toolsSetting({ directory: process.cwd() })
    for (const t of enabledTools(setting.value, { host })) {
      try {
        pi.registerTool({
          name: t.name,
          label: t.label,
          description: t.description,
          parameters: t.parameters,
          async execute(_toolCallId, params, signal) {
            // A core error rejects with its own message; pi reports a thrown error to the model as the tool's result.
            const r = await t.execute(params || {}, { signal })
            return { content: [{ type: 'text', text: r.text }], details: r.details }
          },
        })
      } catch {
        // pi refused this tool (a name clash with another extension): the others and the provider stay.
      }
    }
  } catch {
    // Tools are extras: a broken config or a pi without the API must never stop pi or the provider.
  }
}

module.exports = async function kimiNativePi(pi) {
  try {
    await register(pi)
  } catch (err) {
    try {
      registerBroken(pi, err)
    } catch {
      // pi itself refused the registration; starting without the provider beats not starting.
    }
  }
}

module.exports.API_ID = API_ID
module.exports.MARKER = MARKER
