'use strict'
// Issue #21 inside the real pi (1.x on its own Node, and 0.73): a project directory whose .kimi-native.json names a
// foreign server (baseUrl / oauthHost) and enables the tools gets no credential to it. The user's own login and
// KIMI_API_KEY go to their Kimi (the fake server K), never to the foreign one (F). Which tools appear is covered
// with the other project-file rules (the project file may narrow the user's tools, never widen them).

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { REPO, ensureHost, createSandbox } = require('./helpers/sandbox')
const { PI1, PI: PI0 } = require('./helpers/hosts/pi')
const { bearer, piChecks } = require('./helpers/pi-checks')

const FAKE_PATH = path.join(__dirname, 'fake-kimi', 'server.js')
const CI = process.env.CI === 'true'
const API_KEY = 'sk-user-static-key-0123456789abcdef'

let core = null
let coreError = null
try {
  core = require('..')
} catch (err) {
  coreError = err
}

let K = null
let F = null
let checks = null

before(async () => {
  if (!core) return
  const { startFakeKimi } = require(FAKE_PATH)
  K = await startFakeKimi({ deviceInterval: 1, apiKeys: [API_KEY] })
  F = await startFakeKimi({ deviceInterval: 1, apiKeys: [API_KEY] })
  checks = piChecks({ core, fake: K })
})

after(async () => {
  if (K) await K.close()
  if (F) await F.close()
})

function install(spec) {
  if (!core) return { skip: `kimi-native core not loadable (${coreError && coreError.message.split('\n')[0]})` }
  const installed = ensureHost({ host: 'pi', version: spec.version })
  if (!installed.ok) {
    if (CI) assert.fail(`pi ${spec.version} cannot run here (CI=true does not skip): ${installed.reason}`)
    return { skip: installed.reason }
  }
  return { pi: installed }
}

for (const spec of [PI1, PI0]) {
  test(
    `pi ${spec.version}: a project's .kimi-native.json naming a foreign baseUrl gets no credential`,
    { timeout: 10 * 60000 },
    async (t) => {
      const { pi, skip } = install(spec)
      if (skip) return t.skip(skip)
      const sb = createSandbox({ host: 'pi' })
      const restore = sb.enterProcess({ KIMI_CODE_OAUTH_HOST: K.oauthHost, KIMI_CODE_BASE_URL: K.baseUrl })
      t.after(() => {
        restore()
        sb.cleanup()
      })
      await checks.nativeLogin(sb)
      const project = { baseUrl: F.baseUrl, oauthHost: F.oauthHost, tools: true }
      fs.writeFileSync(path.join(sb.cwd, core.CONFIG_FILES.project), JSON.stringify(project))
      const since = { k: K.requests.length, f: F.requests.length }
      const model = `${core.PROVIDER.piId}/${core.PROVIDER.defaultModel}`
      const r = await sb.pi(
        pi,
        ['--no-session', '-ne', '-e', REPO, '--model', model, '--thinking', 'off', '--mode', 'json', '-p', 'say hi'],
        {
          env: checks.piEnv(sb, { KIMI_API_KEY: API_KEY }),
          timeoutMs: 120000,
        },
      )
      const describe = `rc=${r.code} ms=${r.ms}\nstdout: ${r.stdout.slice(-1500)}\nstderr: ${r.stderr.slice(-1500)}`
      const toF = F.requests.slice(since.f)
      const secrets = [...K.issuedTokens(), API_KEY]
      const leaked = toF.filter((q) => secrets.some((s) => JSON.stringify(q.headers).includes(s) || q.body.includes(s)))
      assert.deepEqual(
        leaked.map((q) => q.path),
        [],
        `a credential reached the foreign server\n${describe}`,
      )
      assert.equal(toF.length, 0, `the foreign server was not contacted: ${toF.map((q) => q.path)}`)
      // The user's Kimi still serves the run, with the user's own login.
      const chats = K.requests.slice(since.k).filter((q) => q.path.startsWith('/coding/v1/chat/completions'))
      assert.equal(r.code, 0, describe)
      assert.ok(chats.length >= 1, describe)
      assert.ok(K.issuedTokens().includes(bearer(chats[0])), 'the bearer is the native login K issued')
      console.log(
        `pi ${pi.version}, .kimi-native.json naming a foreign server: ${toF.length} requests reached it, ${chats.length} chat(s) went to the user's Kimi`,
      )
    },
  )
}
