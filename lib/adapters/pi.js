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

const fs = require('node:fs')
const path = require('node:path')
const { pathToFileURL, fileURLToPath } = require('node:url')
const { withTimeout } = require('../timeout.js')

let core = null
let coreError = null
try {
  core = require('../index.js')
} catch (err) {
  coreError = err
}

// The core's constants are unreachable when its binding does not load; the package name is the id then.
const ID = core ? core.PROVIDER.piId : require('../../package.json').name
// Unique api id: registering streamSimple under "openai-completions" would replace it for every provider.
const API_ID = `${ID}-openai-completions`
// What pi stores and passes around instead of a token (auth.json, options.apiKey). Never a secret.
// The core's marker (import writes the same); a literal only when the binding cannot load.
const PI_MARKER = core ? core.AUTH_MARKERS.pi : { access: 'kimi-native-managed', managedBy: 'kimi-native' }
const MARKER = PI_MARKER.access
// Model limits from the core; the same values stand here only for when the binding cannot load.
const LIMITS = core ? core.LIMITS : { context: 262144, output: 32768 }
const YEAR_MS = 365 * 24 * 3600 * 1000
// pi waits for the factory before it starts: every core call made while loading is bounded.
const STARTUP_TIMEOUT_MS = 10000
const NAME = 'Kimi For Coding (kimi-native)'

const COMPAT = {
  supportsStore: false,
  supportsDeveloperRole: false,
  supportsReasoningEffort: false, // thinking is set by the core's shaping, never reasoning_effort
  supportsStrictMode: false,
  supportsLongCacheRetention: false, // prompt_cache_key comes from the core, no prompt_cache_retention
  maxTokensField: 'max_completion_tokens', // the field the official kimi-code client sends
  thinkingFormat: 'openai',
}
const { ZERO_COST, assistantError } = require('./pi-ai-message.js')
// The opt-in Anthropic-compatible route (`"protocol": "anthropic"` in .kimi-native.json or the user's config.json;
// pi 1.x only: pi 0.73's pi-ai takes no custom fetch). pi-ai's own Anthropic adapter over the core's fetch, which
// sends it to {base}/messages?beta=true with x-api-key and shapes the body the way kimi-code does.
const ANTHROPIC = 'anthropic'
const ANTHROPIC_COMPAT = {
  supportsLongCacheRetention: false, // no 1h cache_control ttl: not a Kimi feature
  supportsMessageThreads: false,
}

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
    maxTokens: Math.min(info.contextLength, LIMITS.output),
    compat: COMPAT,
  }
}

// Shown until the core can list the account's models (not logged in yet, offline). Not passed to shaping.
const FALLBACK = Symbol('fallback')
function fallbackInfo() {
  return { ...core.DEFAULT_MODEL_INFO, [FALLBACK]: true }
}

async function accountModels(st, host) {
  try {
    if (!st.loggedIn) return [fallbackInfo()]
    const list = await withTimeout(core.models({ host }), STARTUP_TIMEOUT_MS)
    return list && list.length ? list : [fallbackInfo()]
  } catch {
    return [fallbackInfo()]
  }
}

// ---- the running pi: its pi-ai and its version ------------------------------------------------------
// pi's loader aliases "@earendil-works/pi-ai" only for modules it transpiles, and a package installed by
// `pi install` lives in pi's own npm project, so pi-ai is resolved the way the running pi resolves its own: from
// the pi-coding-agent package that loaded this file (its stack frames, then the pi command in argv[1]). Never from
// the working directory or from where this package happens to sit: a repository the user opened (or a
// node_modules above kimi-native inside it) must not get its code run inside pi.
function hostFiles() {
  const files = []
  for (const line of String(new Error().stack).split('\n')) {
    const m = /(file:\/\/\S+?|\/\S+?|[A-Za-z]:\\\S+?):\d+(?::\d+)?\)?$/.exec(line.trim())
    if (m && /pi-coding-agent/.test(m[1])) files.push(m[1].startsWith('file:') ? fileURLToPath(m[1]) : m[1])
  }
  if (process.argv[1]) files.push(process.argv[1])
  return files
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    return null
  }
}

/** The ESM entry of `subpath` ('.', './compat') in a package's exports map (or main), or null. */
function entryOf(pkgDir, pkg, subpath) {
  const exp = pkg.exports
  // `exports` is a string, a map of conditions (root only) or a map of subpaths.
  const bySubpath = exp && typeof exp === 'object' && Object.keys(exp).some((k) => k.startsWith('.'))
  let target = bySubpath ? exp[subpath] : subpath === '.' ? exp : null
  if (target && typeof target === 'object') target = target.import || target.default
  if (!target && subpath === '.') target = pkg.module || pkg.main || 'index.js'
  if (typeof target !== 'string') return null
  const file = path.join(pkgDir, target)
  return fs.existsSync(file) ? file : null
}

/** The pi-coding-agent package a file belongs to: { dir, pkg } or null. */
function agentOf(file) {
  let dir
  try {
    dir = path.dirname(fs.realpathSync(file))
  } catch {
    return null // not a file on disk (a bundled pi's virtual path)
  }
  for (;;) {
    const pkg = readJson(path.join(dir, 'package.json'))
    if (pkg && /(^|\/)pi-coding-agent$/.test(pkg.name || '')) return { dir, pkg }
    const up = path.dirname(dir)
    if (up === dir) return null
    dir = up
  }
}

/** `name` as Node resolves it from `fromDir` (node_modules of each directory upward), or null. */
function resolvePackage(fromDir, name) {
  for (let dir = fromDir; ; ) {
    if (path.basename(dir) !== 'node_modules') {
      const pkgDir = path.join(dir, 'node_modules', ...name.split('/'))
      const pkg = readJson(path.join(pkgDir, 'package.json'))
      if (pkg) return { dir: pkgDir, pkg }
    }
    const up = path.dirname(dir)
    if (up === dir) return null
    dir = up
  }
}

/** { agent: { dir, pkg }, ai: { dir, pkg } } of the pi that loads this file, or null (a bundled pi). */
function findHost() {
  for (const file of hostFiles()) {
    const agent = agentOf(file)
    if (!agent) continue
    // The pi-ai this pi depends on (pi 1.x: @earendil-works/pi-ai; 0.73: @mariozechner/pi-ai), found as pi finds it.
    const deps = Object.keys((agent.pkg && agent.pkg.dependencies) || {}).filter((d) => /(^|\/)pi-ai$/.test(d))
    for (const name of deps) {
      const ai = resolvePackage(agent.dir, name)
      if (ai) return { agent, ai }
    }
  }
  return null
}

/** Whether `name` sits on disk where Node would find it from this file (then it is not pi's bundled module). */
function onDiskNextToUs(name) {
  return resolvePackage(__dirname, name.split('/').slice(0, 2).join('/')) !== null
}

async function importFile(file) {
  return import(pathToFileURL(file).href)
}

/**
 * pi-ai as the running pi has it, and pi's product token ("pi/1.6.0"; the contract wants the host's own
 * version, read from the running host). pi 1.x keeps the built-in API implementations in the compat entry.
 */
async function loadHost() {
  const host = findHost()
  if (host) {
    const root = entryOf(host.ai.dir, host.ai.pkg, '.')
    if (!root) throw Object.assign(new Error(`pi-ai ${host.ai.pkg.version} has no usable entry point`), { code: 'KIMI_PI_HOST' })
    let ai = await importFile(root)
    const compat = entryOf(host.ai.dir, host.ai.pkg, './compat')
    if ((typeof ai.openAICompletionsApi !== 'function' || typeof ai.anthropicMessagesApi !== 'function') && compat) {
      ai = { ...ai, ...(await importFile(compat)) }
    }
    return { ai, token: `pi/${host.agent.pkg.version || host.ai.pkg.version}` }
  }
  // No pi package on disk (a bundled pi binary): pi's loader maps these names to its own embedded modules. A name
  // that also exists on disk where Node would look from this file is skipped: importing it might load that copy.
  for (const spec of ['@earendil-works/pi-ai/compat', '@mariozechner/pi-ai']) {
    if (onDiskNextToUs(spec)) continue
    try {
      const ai = await import(spec)
      return { ai, token: ai.PI_AI_VERSION ? `pi/${ai.PI_AI_VERSION}` : 'pi' }
    } catch {}
  }
  const err = new Error(
    'cannot find pi-ai (@earendil-works/pi-ai or @mariozechner/pi-ai) in the running pi; kimi-native loads it only from pi itself, never from the working directory',
  )
  err.code = 'KIMI_PI_HOST'
  throw err
}

// ---- errors as pi messages --------------------------------------------------------------------------
const LOGIN_CODES = new Set(['KIMI_NOT_LOGGED_IN', 'KIMI_RELOGIN_REQUIRED'])
// Core errors a retry may cure; pi keeps its own retry policy for them.
const TRANSIENT_CODES = new Set(['KIMI_NETWORK', 'KIMI_SERVER', 'KIMI_RATE_LIMITED', 'KIMI_CANCELLED'])
function errorText(err) {
  const hint = err && LOGIN_CODES.has(err.code) ? ` In pi, /login ${ID} works too.` : ''
  return `${(err && err.message) || err}${hint}`
}

function errorMessage(model, err) {
  return assistantError(model, errorText(err))
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

// ---- pi 0.73/0.74: fresh bearer + identity headers + core shaping, one forced refresh on a 401 ---------
function makeLegacyStream(ai, infoById, host) {
  return function streamKimi(model, context, options = {}) {
    const out = ai.createAssistantMessageEventStream()
    const shaping = { model: model.id, effort: options.reasoning || 'off', sessionId: options.sessionId }
    if (infoById.has(model.id)) shaping.modelInfo = infoById.get(model.id)
    const onPayload = async (payload, m) => {
      const replaced = options.onPayload ? await options.onPayload(payload, m) : undefined
      return core.shapeRequest(replaced === undefined ? payload : replaced, shaping)
    }
    ;(async () => {
      // pi-ai's own HTTP client sends the bearer to model.baseUrl, where the core's fetch (and its origin check)
      // does not run: an extension or models.json may have re-pointed the model. The core's rule decides first.
      core.checkCredentialTarget(String(model.baseUrl), { host })
      for (let attempt = 0; ; attempt++) {
        const token = await core.getAccessToken({ host, force: attempt > 0 })
        const headers = { ...options.headers, ...Object.fromEntries(core.buildHeaders({ host })) }
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

// ---- pi 1.x: pi-ai's OpenAI-completions (or, opted in, Anthropic-messages) adapter over the core's fetch ----
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
        if (!err || typeof err.code !== 'string' || !err.code.startsWith('KIMI_')) throw err
        failure = err
        if (TRANSIENT_CODES.has(err.code)) throw err
        const body = JSON.stringify({ error: { message: errorText(err), type: err.code } })
        return new Response(body, { status: 401, headers: { 'content-type': 'application/json', [core.ERROR_HEADER]: err.code } })
      }
    }
    const inner = run(fetch)
    const out = ai.createAssistantMessageEventStream()
    ;(async () => {
      for await (const event of inner) {
        if (event.type === 'error' && failure && event.error) event.error.errorMessage = errorText(failure)
        out.push(event)
      }
      out.end()
    })().catch((err) => {
      out.push({ type: 'error', reason: 'error', error: errorMessage(model, err) })
      out.end()
    })
    return out
  }
  return {
    stream: (model, context, options = {}) =>
      wrap(model, (fetch) =>
        base.stream(model, context, { ...options, apiKey: MARKER, fetch, headers: hints(options, options.reasoningEffort) }),
      ),
    streamSimple: (model, context, options = {}) =>
      wrap(model, (fetch) =>
        base.streamSimple(model, context, { ...options, apiKey: MARKER, fetch, headers: hints(options, options.reasoning) }),
      ),
  }
}

// ---- registration -----------------------------------------------------------------------------------
function marker() {
  return { access: MARKER, refresh: MARKER, expires: Date.now() + YEAR_MS, managedBy: PI_MARKER.managedBy }
}

function abortable(signal) {
  if (signal && signal.aborted) throw signal.reason || new Error('aborted')
}

function registerNative(pi, ai, st, infos, host, protocol) {
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
        apiKey: { name: `${NAME}: shared login`, resolve: async () => ({ auth: { apiKey: MARKER }, source: 'kimi-native' }) },
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
            callbacks.onAuth({ url: code.verificationUriComplete, instructions: `${code.notice ? `${code.notice} ` : ''}Your code: ${code.userCode}` }),
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

/** The provider pi gets when loading failed: listed, selectable, and every request ends with the reason. */
function registerBroken(pi, err) {
  const reason = new Error(`kimi-native could not start in this pi: ${(err && err.message) || err}`)
  reason.code = (err && err.code) || 'KIMI_INTERNAL'
  const info = core
    ? fallbackInfo()
    : // Without the binding the core's facts are unreachable; the model still needs an id to be selectable.
      { id: 'kimi-for-coding', displayName: 'Kimi For Coding', contextLength: LIMITS.context, supportsReasoning: true, supportsImageIn: true }
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
  if (!core) throw coreError
  const { ai, token } = await loadHost()
  const native = typeof ai.createProvider === 'function' && typeof ai.openAICompletionsApi === 'function'
  if (!native && typeof ai.streamSimpleOpenAICompletions !== 'function') {
    const err = new Error(`${token}: its pi-ai offers neither createProvider/openAICompletionsApi nor streamSimpleOpenAICompletions`)
    err.code = 'KIMI_PI_HOST'
    throw err
  }
  const st = await withTimeout(core.status({ host: token }), STARTUP_TIMEOUT_MS).catch((err) => {
    const hint = err && err.code ? '' : ' (a locked keychain waits for its unlock prompt; `npx kimi-native status` shows the store)'
    throw Object.assign(new Error(`reading the Kimi login failed: ${(err && err.message) || err}${hint}`), { code: (err && err.code) || 'KIMI_STORE' })
  })
  const infos = await accountModels(st, token)
  if (native) registerNative(pi, ai, st, infos, token, nativeProtocol(ai))
  else registerLegacy(pi, ai, st, infos, token)
  registerCommands(pi, token)
  registerTools(pi, token)
}

/** 'anthropic' when the user opted in and this pi-ai has the Anthropic adapter, else 'openai'. Never throws. */
function nativeProtocol(ai) {
  try {
    const { protocolSetting } = require('../tools.js')
    const p = protocolSetting({ directory: process.cwd() }).value
    return p === ANTHROPIC && typeof ai.anthropicMessagesApi === 'function' ? ANTHROPIC : 'openai'
  } catch {
    return 'openai'
  }
}

/** Shows a command's result in pi's UI, or on stdout when pi runs without one (print mode, SDK). */
function show(ctx, text, level = 'info') {
  if (ctx && ctx.hasUI && ctx.ui && typeof ctx.ui.notify === 'function') ctx.ui.notify(text, level)
  else process.stdout.write(`${text}\n`)
}

function registerCommands(pi, host) {
  if (typeof pi.registerCommand !== 'function') return
  pi.registerCommand('kimi-usage', {
    description: 'Kimi For Coding quota windows (kimi-native)',
    handler: async (_args, ctx) => {
      try {
        const u = await withTimeout(core.usage({ host }), STARTUP_TIMEOUT_MS)
        const lines = u.windows.map(
          (w) => `${w.label}: ${w.used}/${w.limit} used, ${w.remaining} left${w.resetTime ? `, resets ${w.resetTime}` : ''}`,
        )
        show(ctx, lines.length ? `Kimi For Coding usage\n${lines.join('\n')}` : 'Kimi For Coding reported no quota windows.')
      } catch (err) {
        show(ctx, errorText(err), 'error')
      }
    },
  })
  // pi's own /logout only drops its stored marker (providers get no logout hook); this ends the shared login.
  pi.registerCommand('kimi-logout', {
    description: 'Log out of Kimi For Coding everywhere kimi-native is used (CLI, opencode, pi)',
    handler: async (_args, ctx) => {
      try {
        const r = await withTimeout(core.logout({ host }), STARTUP_TIMEOUT_MS)
        show(ctx, r.removed ? 'Logged out of Kimi For Coding (kimi-native).' : 'kimi-native held no Kimi login.')
      } catch (err) {
        show(ctx, errorText(err), 'error')
      }
    },
  })
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
