'use strict'
// Issue #21 inside the real opencode binary (pinned, via the sandbox helper):
// 1. A project directory whose opencode.json gives the kimi-native plugin options naming a foreign server (opencode
//    merges a project's opencode.json into plugin options, so a cloned repository can set them) gets no credential:
//    neither kimi-native's own login, kimi-cli's file nor KIMI_API_KEY reaches that server.
// 2. The exit race under opencode's own Bun runtime (BUN_BE_BUN=1): five processes calling process.exit() 0–400 ms into
//    a refresh lose nothing, and a sixth is served (the same race runs under Node in refresh.test.js).

const test = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const { REPO, ensureHost, createSandbox } = require('./helpers/sandbox')
const { exitRace } = require('./helpers/exit-race')

const RUN_TIMEOUT_MS = 180000
const EXIT_CHILD = path.join(__dirname, 'helpers', 'exit-child.js')
const API_KEY = 'sk-user-static-key-0123456789abcdef'

/** kimi-native's (and kimi-code's) file name for a host pair (docs/kimi-wire.md §3). */
function slotFile(oauthHost, baseUrl) {
  const hex = crypto.createHash('sha256').update(JSON.stringify({ oauthHost, baseUrl })).digest('hex').slice(0, 16)
  return `kimi-code-env-${hex}.json`
}

/** A login issued by `server`, stored as `npx kimi-native login` would (file store of the sandbox). */
function plantLogin(sb, server, accessTtl) {
  const t = server.issueTokens({ accessTtl })
  const file = path.join(sb.kimiHome, 'credentials', slotFile(server.oauthHost, server.baseUrl))
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 })
  const login = { ...t, expires_at: Date.now() / 1000 + t.expires_in, expires_in: t.expires_in }
  fs.writeFileSync(file, JSON.stringify(login), { mode: 0o600 })
  return t
}

function events(stdout) {
  return stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l)
      } catch {
        return null
      }
    })
    .filter(Boolean)
}

test(
  'opencode: project config naming a foreign server, and process.exit() mid-refresh in Bun',
  { timeout: 20 * 60000 },
  async (t) => {
    const oc = ensureHost({ host: 'opencode' })
    if (!oc.ok && process.env.CI === 'true') assert.fail(`opencode could not be installed: ${oc.reason}`)
    if (!oc.ok) return t.skip(oc.reason)
    const core = require(REPO)
    const { startFakeKimi } = require('./fake-kimi/server')
    const ID = core.PROVIDER.opencodeId
    const MODEL = core.PROVIDER.defaultModel
    const hosts = require('../lib/host-config')

    const K = await startFakeKimi({ deviceInterval: 1, apiKeys: [API_KEY] })
    const F = await startFakeKimi({ deviceInterval: 1, apiKeys: [API_KEY] })
    const sandboxes = []
    t.after(async () => {
      for (const sb of sandboxes) if (!process.env.KEEP_OPENCODE_SANDBOX) sb.cleanup()
      await K.close()
      await F.close()
    })
    const sandbox = (env) => {
      const sb = createSandbox({ host: 'opencode', env })
      sandboxes.push(sb)
      return sb
    }

    await t.test(
      "a project's opencode.json plugin options naming a foreign baseUrl: no credential reaches it",
      async () => {
        // The user's environment: their Kimi (K), their own login for it, KIMI_API_KEY and a kimi-cli login.
        const sb = sandbox({ KIMI_CODE_OAUTH_HOST: K.oauthHost, KIMI_CODE_BASE_URL: K.baseUrl, KIMI_API_KEY: API_KEY })
        const own = plantLogin(sb, K)
        const cli = K.issueTokens()
        const cliFile = path.join(sb.home, '.kimi', 'credentials', 'kimi-code.json')
        fs.mkdirSync(path.dirname(cliFile), { recursive: true })
        fs.writeFileSync(cliFile, JSON.stringify({ ...cli, expires_at: Date.now() / 1000 + 900 }))
        const secrets = [own.access_token, own.refresh_token, cli.access_token, cli.refresh_token, API_KEY]
        // The cloned repository's opencode.json: the documented setup, with plugin options pointing at F.
        sb.writeConfig({
          ...hosts.opencodeConfig(),
          plugin: [[pathToFileURL(REPO).href, { baseUrl: F.baseUrl, oauthHost: F.oauthHost }]],
        })
        const since = { f: F.requests.length, k: K.requests.length }
        const r = await sb.opencode(
          ['run', '-m', `${ID}/${MODEL}`, '--format', 'json', '--title', 'origin', 'say hi'],
          { timeoutMs: RUN_TIMEOUT_MS },
        )
        const describe = `rc=${r.code} timedOut=${r.timedOut}\nstdout: ${r.stdout.slice(-1500)}\nstderr: ${r.stderr.slice(-1500)}`
        const toF = F.requests.slice(since.f)
        const leaked = toF.filter((q) =>
          secrets.some((s) => JSON.stringify(q.headers).includes(s) || q.body.includes(s)),
        )
        assert.deepEqual(
          leaked.map((q) => q.path),
          [],
          `a credential reached the foreign server\n${describe}`,
        )
        assert.equal(
          toF.length,
          0,
          `the foreign server was not contacted at all: ${toF.map((q) => q.path)}\n${describe}`,
        )
        assert.equal(
          K.requests.slice(since.k).filter((q) => q.path.includes('/chat/')).length,
          0,
          'nothing went to Kimi instead either',
        )
        // The run says why, with the core's code.
        assert.match(r.stdout + r.stderr, /KIMI_UNTRUSTED_ORIGIN|sends no Kimi credential to/, describe)
        assert.ok(!(r.stdout + r.stderr).includes(API_KEY), 'no secret in the output')
        console.log(
          `opencode ${oc.version}, plugin options naming a foreign server: ${toF.length} requests reached it, ${leaked.length} with a credential`,
        )
      },
    )

    await t.test("a project's provider baseURL naming a foreign server: no credential reaches it", async () => {
      const sb = sandbox({ KIMI_CODE_OAUTH_HOST: K.oauthHost, KIMI_CODE_BASE_URL: K.baseUrl, KIMI_API_KEY: API_KEY })
      const own = plantLogin(sb, K)
      const config = hosts.opencodeConfig()
      config.plugin = [pathToFileURL(REPO).href]
      config.provider[ID].options = { baseURL: F.baseUrl }
      sb.writeConfig(config)
      const since = F.requests.length
      const r = await sb.opencode(['run', '-m', `${ID}/${MODEL}`, '--format', 'json', '--title', 'origin', 'say hi'], {
        timeoutMs: RUN_TIMEOUT_MS,
      })
      const toF = F.requests.slice(since)
      const secrets = [own.access_token, own.refresh_token, API_KEY]
      const leaked = toF.filter((q) => secrets.some((s) => JSON.stringify(q.headers).includes(s)))
      assert.deepEqual(
        leaked.map((q) => q.path),
        [],
        `rc=${r.code}\n${r.stdout.slice(-1500)}`,
      )
      assert.equal(toF.length, 0)
    })

    await t.test(
      'five processes calling process.exit() 0–400 ms into a refresh lose nothing; a sixth is served (Bun)',
      async () => {
        const X = await startFakeKimi({ deviceInterval: 1, accessTtl: 8, refreshDelayMs: 800 })
        t.after(() => X.close())
        const sb = sandbox({ KIMI_CODE_OAUTH_HOST: X.oauthHost, KIMI_CODE_BASE_URL: X.baseUrl })
        plantLogin(sb, X, 8)
        const { runs, sixth, counters } = await exitRace(X, (delay) =>
          sb.bun([EXIT_CHILD, String(delay)], { timeoutMs: 60000 }),
        )
        const bun = events((await sb.bun(['-e', 'console.log(JSON.stringify({v: Bun.version}))'])).stdout)[0]
        for (const r of runs) assert.equal(r.ok, true, `${r.delay} ms: ${r.code} ${r.message} ${r.stderr}`)
        assert.equal(sixth.ok, true, `${sixth.code}: ${sixth.message} ${sixth.stderr}`)
        assert.ok(counters.inFlightAtExit >= 1, `no exit met a refresh in flight: ${JSON.stringify(runs)}`)
        assert.equal(counters.invalidGrant, 0)
        assert.equal(counters.lostRefreshAnswers, 0)
        for (const ms of counters.exitMs) assert.ok(ms === null || ms < 5000, `an exit took ${ms} ms`)
        console.log(`exit mid-refresh (opencode ${oc.version}'s bun ${bun && bun.v}): ${JSON.stringify(counters)}`)
      },
    )
  },
)
