'use strict'
// pi (coding agent) extension: a Kimi For Coding provider backed by the kimi-native core.
// Translation only: every decision (token refresh, identity, request shaping, defaults) is the core's.
//
// Loaded by pi through package.json "pi.extensions" (`pi install npm:kimi-native`, `pi -e <dir>`), or
// `require('kimi-native/pi')` from an SDK host. pi 0.73 has no header hook and no custom fetch, so the
// provider gets its own `api` id whose streamSimple delegates to pi-ai's openai-completions handler with
// a fresh bearer, the core's identity headers and the core's body shaping (onPayload).

const fs = require('node:fs')
const path = require('node:path')
const { pathToFileURL, fileURLToPath } = require('node:url')
const core = require('../index.js')
const { withTimeout } = require('../timeout.js')

const ID = core.PROVIDER.piId
// Unique api id: registering streamSimple under "openai-completions" would replace it for every provider.
const API_ID = `${ID}-openai-completions`
// What pi stores and passes around instead of a token (auth.json, options.apiKey). Never a secret.
const MARKER = 'kimi-native-managed'
const YEAR_MS = 365 * 24 * 3600 * 1000
const MODELS_TIMEOUT_MS = 10000

const COMPAT = {
  supportsStore: false,
  supportsDeveloperRole: false,
  supportsReasoningEffort: false, // thinking is set by the core's shapeRequest, never reasoning_effort
  supportsStrictMode: false,
  supportsLongCacheRetention: false, // prompt_cache_key comes from the core, no prompt_cache_retention
  maxTokensField: 'max_completion_tokens', // the field the official kimi-code client sends
  thinkingFormat: 'openai',
}
const ZERO_COST = { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 }

// ---- core ModelInfo -> pi model --------------------------------------------------------------------
function toPiModel(info) {
  // pi shows a level only if the map allows it; the core maps pi's level onto the model's efforts.
  const map = {}
  if (info.thinkEfforts && info.thinkEfforts.includes('max')) map.xhigh = 'xhigh'
  if (info.thinkingType === 'only') map.off = null
  return {
    id: info.id,
    name: info.displayName || info.id,
    reasoning: !!info.supportsReasoning,
    thinkingLevelMap: map,
    input: info.supportsImageIn ? ['text', 'image'] : ['text'],
    cost: ZERO_COST,
    contextWindow: info.contextLength,
    maxTokens: Math.min(info.contextLength, 32768),
    compat: COMPAT,
  }
}

// Shown until the core can list the account's models (not logged in yet, offline). Not passed to shaping.
const FALLBACK = Symbol('fallback')
function fallbackInfo() {
  const id = core.PROVIDER.defaultModel
  return { id, displayName: 'Kimi For Coding', contextLength: 262144, supportsReasoning: true, supportsImageIn: true, [FALLBACK]: true }
}

async function accountModels(st) {
  try {
    if (!st.loggedIn) return [fallbackInfo()]
    const list = await withTimeout(core.models(OPTS), MODELS_TIMEOUT_MS)
    return list && list.length ? list : [fallbackInfo()]
  } catch {
    return [fallbackInfo()]
  }
}

// ---- pi-ai from the pi that loads us ---------------------------------------------------------------
// pi's loader aliases "@mariozechner/pi-ai" only for modules it transpiles; a CommonJS file is loaded
// natively, so resolve pi-ai next to the running pi-coding-agent (stack frames, then argv[1]).
function hostFiles() {
  const files = []
  for (const line of String(new Error().stack).split('\n')) {
    const m = /(file:\/\/\S+?|\/\S+?|[A-Za-z]:\\\S+?):\d+(?::\d+)?\)?$/.exec(line.trim())
    if (m && /pi-coding-agent/.test(m[1])) files.push(m[1].startsWith('file:') ? fileURLToPath(m[1]) : m[1])
  }
  if (process.argv[1]) files.push(process.argv[1])
  files.push(path.join(process.cwd(), 'x'), __filename)
  return files
}

function findPiAi() {
  for (const file of hostFiles()) {
    let dir
    try {
      dir = path.dirname(fs.realpathSync(file))
    } catch {
      dir = path.dirname(file)
    }
    for (;;) {
      for (const scope of ['@mariozechner', '@earendil-works']) {
        const pkgDir = path.join(dir, 'node_modules', scope, 'pi-ai')
        const pkgJson = path.join(pkgDir, 'package.json')
        if (!fs.existsSync(pkgJson)) continue
        const pkg = JSON.parse(fs.readFileSync(pkgJson, 'utf8'))
        const dot = pkg.exports && pkg.exports['.']
        const entry = (dot && (dot.import || dot.default)) || pkg.module || pkg.main || 'index.js'
        return path.join(pkgDir, typeof entry === 'string' ? entry : entry.default)
      }
      const up = path.dirname(dir)
      if (up === dir) break
      dir = up
    }
  }
  throw new Error('kimi-native: cannot find @mariozechner/pi-ai next to the running pi')
}

// pi's own product token (`pi/<version>`, as pi 1.x sends it on its own requests), read from the package.json of
// the running pi-coding-agent; the core puts it first in the User-Agent, then kimi-native's own.
function piHost() {
  for (const file of hostFiles()) {
    let dir
    try {
      dir = path.dirname(fs.realpathSync(file))
    } catch {
      dir = path.dirname(file)
    }
    for (;;) {
      const candidates = [path.join(dir, 'package.json')]
      for (const scope of ['@mariozechner', '@earendil-works']) {
        candidates.push(path.join(dir, 'node_modules', scope, 'pi-coding-agent', 'package.json'))
      }
      for (const file of candidates) {
        try {
          const pkg = JSON.parse(fs.readFileSync(file, 'utf8'))
          if (/(^|\/)pi-coding-agent$/.test(pkg.name) && pkg.version) return `pi/${pkg.version}`
        } catch {}
      }
      const up = path.dirname(dir)
      if (up === dir) break
      dir = up
    }
  }
  return undefined
}
// Filled when pi loads the extension (pi's frames are on the stack then).
const OPTS = {}

// ---- the stream: fresh bearer + identity headers + core shaping, one forced refresh on a 401 ---------
function errorMessage(model, err) {
  const hint =
    err && (err.code === 'KIMI_NOT_LOGGED_IN' || err.code === 'KIMI_RELOGIN_REQUIRED')
      ? ` In pi, /login ${ID} works too.`
      : ''
  return {
    role: 'assistant',
    content: [],
    api: model.api,
    provider: model.provider,
    model: model.id,
    usage: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, totalTokens: 0, cost: { ...ZERO_COST, total: 0 } },
    stopReason: 'error',
    errorMessage: `${(err && err.message) || err}${hint}`,
    timestamp: Date.now(),
  }
}

function makeStreamSimple(ai, infoById) {
  return function streamKimi(model, context, options = {}) {
    const out = ai.createAssistantMessageEventStream()
    const shaping = { model: model.id, effort: options.reasoning || 'off', sessionId: options.sessionId }
    if (infoById.has(model.id)) shaping.modelInfo = infoById.get(model.id)
    const onPayload = async (payload, m) => {
      const replaced = options.onPayload ? await options.onPayload(payload, m) : undefined
      return core.shapeRequest(replaced === undefined ? payload : replaced, shaping)
    }
    ;(async () => {
      for (let attempt = 0; ; attempt++) {
        const token = await core.getAccessToken({ ...OPTS, force: attempt > 0 })
        const headers = { ...options.headers, ...Object.fromEntries(core.buildHeaders(OPTS)) }
        const inner = ai.streamSimpleOpenAICompletions(model, context, { ...options, apiKey: token, headers, onPayload })
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
      out.end()
    })().catch((err) => {
      out.push({ type: 'error', reason: 'error', error: errorMessage(model, err) })
      out.end()
    })
    return out
  }
}

// ---- registration -----------------------------------------------------------------------------------
function marker() {
  return { access: MARKER, refresh: MARKER, expires: Date.now() + YEAR_MS, managedBy: 'kimi-native' }
}

module.exports = async function kimiNativePi(pi) {
  const host = piHost()
  if (host) OPTS.host = host
  const ai = await import(pathToFileURL(findPiAi()).href)
  const st = await core.status(OPTS)
  const config = (infos) => ({
    name: 'Kimi For Coding (kimi-native)',
    baseUrl: st.baseUrl,
    // A CLI login (`npx kimi-native login`) works with no /login: pi falls back to this marker.
    apiKey: MARKER,
    api: API_ID,
    streamSimple: makeStreamSimple(ai, new Map(infos.filter((i) => !i[FALLBACK]).map((i) => [i.id, i]))),
    models: infos.map(toPiModel),
    oauth: {
      name: 'Kimi For Coding (kimi-native)',
      async login(callbacks) {
        const result = await core.login({
          ...OPTS,
          signal: callbacks.signal,
          onDeviceCode: (code) =>
            callbacks.onAuth({ url: code.verificationUriComplete, instructions: `Your code: ${code.userCode}` }),
          onEvent: (event) => callbacks.onProgress && callbacks.onProgress(`login: ${event.kind}`),
        })
        if (result.models && result.models.length) pi.registerProvider(ID, config(result.models))
        return marker()
      },
      // The core refreshes the real token on every request; pi only ever holds the marker.
      refreshToken: async () => marker(),
      getApiKey: () => MARKER,
    },
  })
  pi.registerProvider(ID, config(await accountModels(st)))
}

module.exports.API_ID = API_ID
module.exports.MARKER = MARKER
