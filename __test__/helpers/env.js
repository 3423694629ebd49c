'use strict'
// Points the core at a fake server and a private home for one test. The core resolves its
// settings from the environment on every call, and keys its in-process state by home, so a
// fresh home per test isolates tests that share one process.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

function tempHome(prefix = 'kimi-native-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

function pointAt(server, { home = tempHome(), store = 'file', extra = {} } = {}) {
  const env = {
    KIMI_CODE_OAUTH_HOST: server.oauthHost,
    KIMI_CODE_BASE_URL: server.baseUrl,
    KIMI_NATIVE_HOME: home,
    KIMI_NATIVE_STORE: store,
    KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS: '1',
    // The device id lives in the official client's home: keep the real one untouched.
    KIMI_CODE_HOME: path.join(home, 'kimi-code-home'),
    KIMI_SHARE_DIR: path.join(home, 'kimi-share'),
    ...extra,
  }
  const saved = {}
  for (const k of Object.keys(env)) {
    saved[k] = process.env[k]
    if (env[k] === undefined) delete process.env[k]
    else process.env[k] = env[k]
  }
  return {
    home,
    env,
    restore() {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k]
        else process.env[k] = v
      }
    },
  }
}

/**
 * pointAt for one node:test test: also clears the other variables that change what the core does
 * (unless `extra` sets them) and restores everything when the test ends.
 */
function pointFakeEnv(t, server, { home, extra = {} } = {}) {
  const cleared = {
    KIMI_OAUTH_HOST: undefined,
    KIMI_API_KEY: undefined,
    KIMI_NATIVE_UPLOAD_THRESHOLD_BYTES: undefined,
    KIMI_MODEL_THINKING_KEEP: undefined,
  }
  const env = pointAt(server, { home, extra: { ...cleared, ...extra } })
  t.after(() => env.restore())
  return env
}

/**
 * The user's opt-in for servers that a test names only through options (baseUrl / oauthHost): the core sends a
 * credential to a server that is not Kimi's only when the environment names it (docs/security.md). Set for one
 * node:test test, restored when it ends. `servers` are fake servers (their `url`) or URLs.
 */
function trustOrigins(t, ...servers) {
  const name = 'KIMI_NATIVE_TRUSTED_ORIGINS'
  const saved = process.env[name]
  process.env[name] = servers.map((s) => (typeof s === 'string' ? s : s.url)).join(',')
  t.after(() => {
    if (saved === undefined) delete process.env[name]
    else process.env[name] = saved
  })
}

/** Asserts that none of the secrets appears in the text. */
function assertNoSecrets(assert, text, secrets) {
  for (const s of secrets) {
    if (s && s.length >= 8) assert.ok(!text.includes(s), `a token leaked into output: ${s.slice(0, 6)}…`)
  }
}

/** The store's file `<home>/credentials/<slot>.json` itself: never a writer's `.<name>.tmp.*` beside it,
 * which holds the next pair before its rename (reading that one made a test see a write that had not landed). */
function credentialsFile(home) {
  const dir = path.join(home, 'credentials')
  const files = fs.readdirSync(dir).filter((n) => n.endsWith('.json') && !n.startsWith('.'))
  if (files.length !== 1)
    throw new Error(`expected one credentials file in ${dir}, found: ${files.join(', ') || 'none'}`)
  return path.join(dir, files[0])
}

/** Runs `fn(server, env)` against a fresh fake Kimi server (device interval 1 s; `opts` add to it) with the
 * process environment pointed at it (`envOpts`: pointAt's), then restores the environment and closes the server. */
async function withServer(opts, fn, envOpts) {
  const { startFakeKimi } = require('../fake-kimi/server')
  const server = await startFakeKimi({ deviceInterval: 1, ...opts })
  const env = pointAt(server, envOpts)
  try {
    return await fn(server, env)
  } finally {
    env.restore()
    await server.close()
  }
}

module.exports = { tempHome, pointAt, pointFakeEnv, trustOrigins, assertNoSecrets, credentialsFile, withServer }
