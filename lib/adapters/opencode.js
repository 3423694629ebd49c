'use strict'
// opencode plugin (v1 module: `default { id, server }`, nothing else exported): a Kimi For Coding provider
// backed by the kimi-native core. Translation only: tokens, refresh, identity headers, request shaping and the
// HTTP itself are the core's (createKimiFetch); this file maps opencode's hooks onto it.
//
// Loaded by opencode through package.json exports["./server"] (`"plugin": ["kimi-native"]`) or a file:// path to
// a checkout. opencode import()s this CommonJS file; with `__esModule` set its `default` is exports.default.
//
// opencode's auth.json never holds a token, only MARKER, which means "this provider is handled by kimi-native".
// opencode runs an auth loader only when auth.json has an entry for the provider, so when opencode.json
// configures the provider the plugin adds MARKER at startup (through opencode's own API). A login made with
// `npx kimi-native login` then works in opencode as is, and without any login the user gets the core's
// "not logged in" message instead of a request without credentials.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { core, lazy, loadCore, hasCode } = require('../kit/core.js')
const { withLoginHint, needsLogin } = require('../kit/login.js')
const { withTimeout } = require('../timeout.js')
const { opencodeTools } = require('./opencode-tools.js')

// The core's facts, read on first use (the binding may be missing when opencode loads the plugin).
const ids = lazy(() => ({
  ID: core.PROVIDER.opencodeId,
  // The opt-in Anthropic-compatible provider (`npm: @ai-sdk/anthropic`). opencode runs one auth loader per plugin,
  // and only for a provider with an auth.json entry, so this one gets the core's fetch another way: the `config`
  // hook receives opencode's live config object (the same one its provider state reads afterwards), and
  // `provider.<id>.options` set there reach the SDK factory as they are, functions included.
  ANTHROPIC_ID: require('../host-config.js').OPENCODE_ANTHROPIC_ID,
  // What opencode stores instead of credentials (the core's marker, which import writes too). `expires` is read by
  // nothing in opencode for a plugin provider (only plugins refresh, and this one delegates to the core); a fixed
  // far-future date keeps any reader from treating it as expired while staying a valid Date.
  MARKER: core.AUTH_MARKERS.opencode,
}))
// opencode's product token at the start of the User-Agent it puts on its own requests
// (`opencode/1.18.33 ai-sdk/provider-utils/4.0.23 runtime/bun/1.3.14`): the host identity, read from the running
// opencode (a plugin is not told opencode's version otherwise). The core keeps that whole UA first, then adds
// `kimi-native/<version> (...)`; opencode's other headers (x-session-affinity, x-session-id) pass as opencode sends
// them, and only the opt-in official profiles drop them (the core's list).
const OPENCODE_UA = /^opencode\/[^\s/]+/
// Identity 403s (ERROR_CODES keys): answered to opencode with the core's message, so the run ends saying what
// happened and what to do.
const IDENTITY_ERRORS = ['CLIENT_NOT_ALLOWED', 'ACCOUNT_SUSPENDED']
const STARTUP_TIMEOUT_MS = 5000
const loginHint = () => `In opencode: \`opencode auth login -p ${ids.ID}\`.`

function kimiOptions(pluginOptions) {
  const out = {}
  for (const k of core.OPTION_KEYS) if (pluginOptions && pluginOptions[k] !== undefined) out[k] = pluginOptions[k]
  return out
}

function userAgentOf(input, init) {
  const h = (init && init.headers) || (input && typeof input === 'object' && input.headers)
  if (!h) return ''
  return new Headers(h).get('user-agent') || ''
}

/** opencode's product token ('opencode/1.18.33') from the request it makes, or undefined. */
function opencodeToken(input, init) {
  const m = OPENCODE_UA.exec(userAgentOf(input, init))
  return m ? m[0] : undefined
}

/** The core's message for an identity 403, as an OpenAI-style error body opencode shows as is. */
async function identityError(res, opts, anthropic) {
  const code = res.headers.get(core.ERROR_HEADER)
  if (!hasCode({ code }, IDENTITY_ERRORS)) return res
  const text = await res.text()
  const c = core.classifyResponse(res.status, text, undefined, opts)
  const message = `kimi-native [${code}]: ${(c && c.message) || code}`
  // Our own type, not the server's `access_terminated_error`: opencode retries any error whose body matches
  // /terminated/ (and a few other words), and neither of these may be retried.
  const type = code.toLowerCase()
  const headers = new Headers(res.headers)
  headers.delete('content-length')
  headers.set('content-type', 'application/json')
  return new Response(errorBody(message, type, code, anthropic), {
    status: res.status,
    statusText: res.statusText,
    headers,
  })
}

// The error body in the dialect of the SDK that reads it: OpenAI-style, or Anthropic's (`type: "error"` around
// it), so opencode shows the core's message with either provider.
function errorBody(message, type, code, anthropic) {
  const error = { message, type, code }
  return JSON.stringify(anthropic ? { type: 'error', error } : { error })
}

function hostFetch(opts, { anthropic = false } = {}) {
  // One core fetch per host identity (in practice one: the running opencode's).
  const fetches = new Map()
  const fetchFor = (host) => {
    const key = opts.host || host || ''
    if (!fetches.has(key)) fetches.set(key, core.createKimiFetch(key ? { ...opts, host: key } : opts))
    return fetches.get(key)
  }
  return async function kimiNativeFetch(input, init) {
    const host = opts.host || opencodeToken(input, init)
    // Remembered for the kimi_* tools, which run with no request of opencode's to read it from.
    if (host && !opts.host) opts.host = host
    try {
      return await identityError(await fetchFor(host)(input, init), host ? { ...opts, host } : opts, anthropic)
    } catch (err) {
      // Errors a new login cures, and a server the user did not name (it gets no credential; logging in again would
      // not change that): shown to opencode as a 401 so the run stops with the message instead of being retried like
      // a network failure.
      if (!needsLogin(err) && !hasCode(err, ['UNTRUSTED_ORIGIN'])) throw err
      const message = withLoginHint(`kimi-native: ${err.message}`, err, loginHint())
      return new Response(errorBody(message, 'invalid_authentication_error', err.code, anthropic), {
        status: 401,
        headers: { 'content-type': 'application/json' },
      })
    }
  }
}

// Read-only check so MARKER is written once, not on every start: a needless rewrite of auth.json could race
// with another opencode process saving a rotated token of another provider. Same lookup as opencode 1.18
// (OPENCODE_AUTH_CONTENT, else $XDG_DATA_HOME or ~/.local/share, then opencode/auth.json on every platform).
function opencodeHasEntry() {
  try {
    const text =
      process.env.OPENCODE_AUTH_CONTENT ||
      fs.readFileSync(
        path.join(process.env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share'), 'opencode', 'auth.json'),
        'utf8',
      )
    return !!JSON.parse(text)[ids.ID]
  } catch {
    return false
  }
}

/**
 * Gives the Anthropic provider block the core's fetch (and the base URL and placeholder key the SDK needs, unless
 * the user set them). Never throws: a broken block must not stop opencode.
 */
async function wireAnthropic(block, opts) {
  try {
    if (!block || typeof block !== 'object') return
    const options = block.options && typeof block.options === 'object' ? block.options : (block.options = {})
    if (!options.baseURL) {
      try {
        options.baseURL = (await withTimeout(core.status(opts), STARTUP_TIMEOUT_MS)).baseUrl
      } catch {}
    }
    // @ai-sdk/anthropic refuses to start without an api key; the core's fetch replaces it with the token (x-api-key).
    if (!options.apiKey) options.apiKey = ids.MARKER.access
    options.fetch = hostFetch(opts, { anthropic: true })
  } catch {}
}

/** Adds MARKER to opencode's auth store when missing; never throws, bounded in time. */
async function ensureMarker(client) {
  try {
    if (client && !opencodeHasEntry()) {
      await withTimeout(client.auth.set({ path: { id: ids.ID }, body: { ...ids.MARKER } }), STARTUP_TIMEOUT_MS)
    }
  } catch {
    // opencode still starts; `opencode auth login -p <id>` writes the same entry.
  }
}

async function server(input, pluginOptions) {
  loadCore() // without the native binding: the coded error saying so, which opencode reports for this plugin
  const opts = kimiOptions(pluginOptions)
  const client = input && input.client
  // chat.params sees the merged variant options; chat.headers (run right after it for the same LLM call) is where
  // a per-request hint header can be set. Keyed per call so a concurrent title call cannot swap efforts.
  const pending = new Map()
  const callKey = (i) => `${i.sessionID}\u0000${i.agent}\u0000${(i.message && i.message.id) || ''}`
  const ours = (i) => !!(i && i.model && (i.model.providerID === ids.ID || i.model.providerID === ids.ANTHROPIC_ID))

  return {
    // kimi_search / kimi_fetch / kimi_datasource, only when the user opted in (plugin option or config file).
    ...opencodeTools(input, pluginOptions, opts),

    // Runs once at startup, before opencode builds its providers (and so before it decides to run the loader).
    config: async (config) => {
      if (config && config.provider && config.provider[ids.ID]) await ensureMarker(client)
      if (config && config.provider && config.provider[ids.ANTHROPIC_ID])
        await wireAnthropic(config.provider[ids.ANTHROPIC_ID], opts)
    },

    auth: {
      provider: ids.ID,
      async loader(getAuth) {
        try {
          if (!(await getAuth())) return {}
          let baseURL
          try {
            baseURL = (await withTimeout(core.status(opts), STARTUP_TIMEOUT_MS)).baseUrl
          } catch {}
          return { apiKey: '', ...(baseURL ? { baseURL } : {}), fetch: hostFetch(opts) }
        } catch {
          return {} // a throwing loader breaks every provider in opencode
        }
      },
      methods: [
        {
          type: 'oauth',
          label: 'Kimi device login',
          async authorize() {
            let gotCode
            let failed
            const code = new Promise((resolve, reject) => {
              gotCode = resolve
              failed = reject
            })
            const login = core.login({ ...opts, onDeviceCode: (c) => gotCode(c) })
            login.catch((e) => failed(e))
            const c = await code
            return {
              url: c.verificationUriComplete || c.verificationUri,
              instructions: `${c.notice ? `${c.notice} ` : ''}Enter code: ${c.userCode}`,
              method: 'auto',
              async callback() {
                try {
                  await login
                  return { type: 'success', ...ids.MARKER }
                } catch {
                  return { type: 'failed' }
                }
              },
            }
          },
        },
        {
          type: 'oauth',
          label: 'Use existing kimi-native login',
          async authorize() {
            let st = null
            try {
              st = await withTimeout(core.status(opts), STARTUP_TIMEOUT_MS)
            } catch {}
            const ok = !!(st && st.loggedIn)
            return {
              url: '',
              instructions: ok
                ? `Using the login kimi-native already has (${st.source}, ${st.store} store)`
                : 'kimi-native has no login yet: run `npx kimi-native login` first',
              method: 'auto',
              async callback() {
                return ok ? { type: 'success', ...ids.MARKER } : { type: 'failed' }
              },
            }
          },
        },
      ],
    },

    'chat.params': async (i, output) => {
      if (!ours(i)) return
      const o = output.options || {}
      const effort = o.reasoningEffort
      delete o.reasoningEffort // thinking is the core's job; reasoning_effort must not reach the body
      if (effort !== undefined) pending.set(callKey(i), String(effort))
      // With no variant, opencode gives an @ai-sdk/anthropic model Claude's adaptive thinking and an effort, which
      // Kimi does not take (thinking is enabled/disabled only): leave both out, the server's default, as on the
      // OpenAI route.
      else if (i.model.providerID === ids.ANTHROPIC_ID) {
        delete o.thinking
        delete o.effort
      }
    },

    'chat.headers': async (i, output) => {
      if (!ours(i)) return
      const key = callKey(i)
      const effort = pending.get(key)
      pending.delete(key)
      if (effort !== undefined) output.headers[core.HINT_HEADERS.effort] = effort
      if (i.sessionID) output.headers[core.HINT_HEADERS.sessionId] = i.sessionID
    },
  }
}

Object.defineProperty(exports, '__esModule', { value: true })
exports.default = { id: 'kimi-native', server }
