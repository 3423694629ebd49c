'use strict'
// openclaw plugin: a Kimi For Coding provider backed by the kimi-native core. Translation only: tokens, refresh,
// identity headers and request shaping are the core's; this file maps openclaw's provider hooks onto them.
//
// Loaded by openclaw through package.json "openclaw.extensions" + openclaw.plugin.json (`openclaw plugins install
// kimi-native`, or `--link <checkout>`). openclaw's auth store never holds a token, only MARKER:
// - `openclaw models auth login` / `openclaw onboard` run the core's device login and save MARKER as the profile;
// - a login made with `npx kimi-native login` alone is found through the manifest's setup.providers[].authEvidence
//   (the kimi-native home dir exists), which hands MARKER to openclaw as the provider's key;
// - prepareRuntimeAuth and the stream wrapper swap MARKER for the core's fresh bearer on every request.

const fs = require('node:fs')
const path = require('node:path')
const { createRequire } = require('node:module')
const { pathToFileURL } = require('node:url')
const { core, codes, loadCore } = require('../kit/core.js')
const { withLoginHint, heldMarker, importableLogins, offerImport: offerEach } = require('../kit/login.js')
const {
  LABEL,
  CALL_TIMEOUT_MS,
  COMPAT,
  piAiModel,
  FALLBACK,
  fallbackInfo,
  accountModels: listModels,
  shapingPayload,
  pump,
} = require('../kit/pi-ai-host.js')
const { withTimeout } = require('../timeout.js')

const MANIFEST = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'openclaw.plugin.json'), 'utf8'))
// The manifest declares the provider id (the core's PROVIDER.openclawId; openclaw.e2e checks they agree) and the
// marker (authEvidence.credentialMarker, nonSecretAuthMarkers): read, never restated, and known without the binding.
const ID = MANIFEST.providers[0]
const MARKER = MANIFEST.nonSecretAuthMarkers[0]
const METHOD = 'device'
const LOGIN_HINT = `In openclaw: \`openclaw models auth login --provider ${ID} --method ${METHOD}\`.`

/** An Error openclaw shows as is: says what failed and what to do, never a token. */
function providerError(err) {
  const code = (err && err.code) || codes.PROVIDER_ERROR
  const out = new Error(withLoginHint(`kimi-native: ${(err && err.message) || String(err)}`, err, LOGIN_HINT))
  out.code = code
  return out
}

// ---- models ------------------------------------------------------------------------------------------
function toModel(info) {
  return { ...piAiModel(info, core.LIMITS.output), api: 'openai-completions', compat: COMPAT }
}

// ---- openclaw's own SDK (for writing the marker profile in non-interactive setup) -----------------------
// A linked or npm-installed plugin may not see `openclaw` in its own node_modules; the running openclaw resolves
// its SDK through its package exports (self-reference), so resolve from its entry file as a fallback.
async function importSdk(sub) {
  const spec = `openclaw/plugin-sdk/${sub}`
  try {
    return await import(spec)
  } catch (first) {
    for (const file of [process.argv[1], require.main && require.main.filename].filter(Boolean)) {
      try {
        const resolved = createRequire(fs.realpathSync(file)).resolve(spec)
        return await import(pathToFileURL(resolved).href)
      } catch {}
    }
    throw first
  }
}

// ---- the event stream a StreamFn returns -----------------------------------------------------------------
function eventStream() {
  const queue = []
  let waiting = null
  let ended = false
  let final = null
  let settle
  const result = new Promise((resolve) => (settle = resolve))
  const wake = () => {
    const w = waiting
    waiting = null
    if (w) w()
  }
  return {
    push(event) {
      if (ended) return
      if (event.type === 'done') final = event.message
      if (event.type === 'error') final = event.error
      queue.push(event)
      wake()
    },
    end() {
      ended = true
      settle(final)
      wake()
    },
    result: () => result,
    async *[Symbol.asyncIterator]() {
      for (;;) {
        if (queue.length) yield queue.shift()
        else if (ended) return
        else await new Promise((r) => (waiting = r))
      }
    },
  }
}

const errorText = (err) => providerError(err).message

const isUnauthorized = (event) =>
  event.type === 'error' && /(^|\D)401(\D|$)/.test(String((event.error && event.error.errorMessage) || ''))

// ---- registration -------------------------------------------------------------------------------------------
function register(api) {
  loadCore() // without the native binding: the coded error saying so, and no provider that cannot work
  const version = (api && api.runtime && api.runtime.version) || 'unknown'
  const opts = { host: `openclaw/${version}` } // who we are on the wire: openclaw first, then kimi-native
  let known = new Map() // model id -> core ModelInfo from the account's live /models

  async function accountModels() {
    try {
      const st = await withTimeout(core.status(opts), CALL_TIMEOUT_MS)
      const infos = await listModels(st, opts)
      if (!infos[0][FALLBACK]) known = new Map(infos.map((i) => [i.id, i]))
      return { baseUrl: st.baseUrl, infos }
    } catch {
      return { baseUrl: undefined, infos: [fallbackInfo()] }
    }
  }

  /**
   * The bearer, for openclaw's own HTTP code to send to `target` (where the core's fetch and its origin check do not
   * run): the core's rule says first whether `target` may receive it (openclaw's config can re-point the provider).
   */
  async function bearer(force, target) {
    try {
      core.checkCredentialTarget(String(target), opts)
      return await core.getAccessToken({ ...opts, force })
    } catch (err) {
      throw providerError(err)
    }
  }

  /** openclaw's store gets the marker, never a token; `expires` far ahead so it never asks us to refresh early. */
  const markerCredential = () => ({ type: 'oauth', provider: ID, ...heldMarker(MARKER) })

  async function deviceLogin({ show, signal }) {
    try {
      const result = await core.login({ ...opts, signal, onDeviceCode: show })
      if (result && result.models && result.models.length) known = new Map(result.models.map((i) => [i.id, i]))
      return result
    } catch (err) {
      throw providerError(err)
    }
  }

  /**
   * Before a device login: a Kimi login another plugin left (opencode-kimi-auth's oauth.json, opencode's or pi's
   * auth.json) is offered for takeover through the core's import (one refresh, the old owner handed over), so the
   * user signs in once and no two programs refresh one chain. Returns true when a login was taken over.
   */
  async function offerImport(prompter) {
    if (!prompter || typeof prompter.confirm !== 'function') return false
    const sources = await importableLogins(() => withTimeout(core.importSources(opts), CALL_TIMEOUT_MS))
    const offer = await offerEach(sources, {
      ask: (s) =>
        prompter.confirm({
          message: `Found a Kimi login in ${s.plugin} (${s.file}). Take it over instead of signing in again? kimi-native refreshes it once and keeps it; ${s.plugin} stops using it.`,
          initialValue: true,
        }),
      take: async (s) => {
        const r = await core.importLogin(s.id, opts)
        await prompter.note(`Took over the Kimi login from ${s.id}; no new sign-in needed.`, 'Kimi For Coding')
        return r
      },
      failed: (s, err) => prompter.note(`${s.id} could not be taken over: ${err.message}`, 'Kimi For Coding'),
    })
    return Boolean(offer.result)
  }

  const defaultModelRef = () => `${ID}/${core.PROVIDER.defaultModel}`
  /** What `models auth login` stores: the marker profile (never a token) and, unless asked not to, the default model. */
  const loginResult = (ctx) => ({
    profiles: [{ profileId: `${ID}:default`, credential: markerCredential() }],
    ...(ctx.credentialOnly ? {} : { defaultModel: defaultModelRef() }),
    notes: ['The Kimi token is kept by kimi-native (OS keychain or its own file), not in openclaw.'],
  })

  // Wraps openclaw's openai-completions stream: fresh bearer, the core's identity headers, the core's body shaping
  // (thinking, prompt_cache_key from openclaw's session id), and one forced refresh + one retry on a 401.
  function wrap(inner, hookCtx) {
    return function kimiStream(model, context, options = {}) {
      const out = eventStream()
      const effort = options.reasoning || (hookCtx && hookCtx.thinkingLevel) || 'off'
      const sessionId = options.sessionId || options.promptCacheKey
      const onPayload = shapingPayload(options, { model, effort, sessionId, known })
      return pump(
        out,
        model,
        async () => {
          for (let attempt = 0; ; attempt++) {
            const apiKey = await bearer(attempt > 0, model.baseUrl)
            // openclaw's transport takes the key from prepareRuntimeAuth, not options.apiKey: the bearer of a retry
            // must travel as a header (request headers override the SDK's).
            const headers = {
              ...options.headers,
              ...Object.fromEntries(core.buildHeaders(opts)),
              Authorization: `Bearer ${apiKey}`,
            }
            const inner$ = await inner(model, context, { ...options, apiKey, headers, onPayload })
            // openclaw's transport emits `start` before the HTTP answer: hold it back until the first event that
            // says how the request went, so a 401 can still be retried invisibly.
            const held = []
            let retry = false
            let decided = false
            for await (const event of inner$) {
              if (!decided && event.type === 'start') {
                held.push(event)
                continue
              }
              if (!decided && attempt === 0 && isUnauthorized(event)) {
                retry = true
                break
              }
              if (!decided) for (const e of held.splice(0)) out.push(e)
              decided = true
              out.push(event)
            }
            if (!retry) {
              for (const e of held) out.push(e)
              break
            }
          }
        },
        errorText,
      )
    }
  }

  api.registerProvider({
    id: ID,
    label: LABEL,
    auth: [
      {
        id: METHOD,
        label: 'Kimi device login (kimi-native)',
        hint: 'Browser device-code flow; the login is shared with `npx kimi-native login`',
        kind: 'device_code',
        starterModel: defaultModelRef(),
        // `openclaw models auth login --provider <id> --method device` (needs a TTY).
        async run(ctx) {
          if (await offerImport(ctx.prompter)) return loginResult(ctx)
          const progress = ctx.prompter.progress ? ctx.prompter.progress('Starting Kimi device login…') : null
          try {
            await deviceLogin({
              signal: ctx.signal,
              show: (code) => {
                const url = code.verificationUriComplete || code.verificationUri
                ctx.prompter.note(
                  [
                    ...(code.notice ? [code.notice] : []),
                    `Open this URL in your browser and confirm the code.`,
                    `URL: <${url}>`,
                    `Code: ${code.userCode}`,
                  ].join('\n'),
                  'Kimi For Coding',
                )
                if (!ctx.isRemote && ctx.openUrl) ctx.openUrl(url).catch(() => {})
              },
            })
            if (progress) progress.stop('Kimi login complete')
          } catch (err) {
            if (progress) progress.stop(`Kimi login failed: ${err.message}`)
            throw err
          }
          return loginResult(ctx)
        },
        // `openclaw onboard --non-interactive --auth-choice <choiceId>`: the code goes to openclaw's output.
        async runNonInteractive(ctx) {
          const log = (msg) => (ctx.runtime && ctx.runtime.log ? ctx.runtime.log(msg) : console.log(msg))
          const st = await withTimeout(core.status(opts), CALL_TIMEOUT_MS).catch(() => null)
          if (!st || !st.loggedIn) {
            await deviceLogin({
              show: (code) =>
                log(
                  `${code.notice ? `${code.notice} ` : ''}Kimi device login: open ${code.verificationUriComplete || code.verificationUri} and confirm code ${code.userCode}`,
                ),
            })
          } else log(`Using the existing kimi-native login (${st.store} store).`)
          const sdk = await importSdk('provider-auth')
          const profileId = `${ID}:default`
          await sdk.upsertAuthProfileWithLock({ profileId, credential: markerCredential(), agentDir: ctx.agentDir })
          const config = sdk.applyAuthProfileConfig(ctx.config, { profileId, provider: ID, mode: 'oauth' })
          const defaults = (config.agents && config.agents.defaults) || {}
          if (defaults.model) return config
          return {
            ...config,
            agents: { ...config.agents, defaults: { ...defaults, model: { primary: defaultModelRef() } } },
          }
        },
      },
    ],
    wizard: { setup: { choiceId: MANIFEST.providerAuthChoices[0].choiceId, choiceLabel: LABEL, methodId: METHOD } },

    catalog: {
      order: 'simple',
      async run() {
        const { baseUrl, infos } = await accountModels()
        return { provider: { ...(baseUrl ? { baseUrl } : {}), api: 'openai-completions', models: infos.map(toModel) } }
      },
    },
    resolveDynamicModel: (ctx) =>
      ctx && ctx.modelId
        ? { ...toModel(known.get(ctx.modelId) || { ...fallbackInfo(), id: ctx.modelId }), provider: ID }
        : undefined,

    // The core refreshes (single-flight, cross-process); openclaw only ever holds the marker.
    async refreshOAuth(cred) {
      try {
        await core.getAccessToken(opts)
      } catch (err) {
        throw providerError(err)
      }
      return { ...cred, ...markerCredential() }
    },
    // openclaw keeps the key it gets here for its own HTTP code: only a model that targets the Kimi API gets one.
    async prepareRuntimeAuth(ctx) {
      const st = await withTimeout(core.status(opts), CALL_TIMEOUT_MS).catch(() => null)
      const target = (ctx && ctx.model && ctx.model.baseUrl) || (st && st.baseUrl)
      const apiKey = await bearer(false, target)
      return { apiKey, ...(st && st.baseUrl ? { baseUrl: st.baseUrl } : {}) }
    },
    wrapStreamFn: (ctx) => (ctx && ctx.streamFn ? wrap(ctx.streamFn, ctx) : undefined),
    buildMissingAuthMessage: () => `kimi-native has no Kimi login: run \`npx kimi-native login\`. ${LOGIN_HINT}`,
  })
}

const entry = { id: MANIFEST.id, name: MANIFEST.name, description: MANIFEST.description, register }
module.exports = entry
module.exports.default = entry
module.exports.MARKER = MARKER
module.exports.ID = ID
