'use strict'
// openclaw's interactive login (`openclaw models auth login --provider kimi-native`) offers a Kimi login left
// by another plugin before it starts a device login (issue #14 item 5), through the core's import (one
// refresh, the old owner handed over). The plugin is driven here through its registered provider with a
// scripted prompter, in a child process with its own HOME; the import, the store and the fake server are real.
// The full openclaw runs are in openclaw.e2e.test.js.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')
const { startFakeKimi } = require('./fake-kimi/server')
const { spawnCollect } = require('./helpers/spawn')
const { assertNoSecrets } = require('./helpers/env')

if (process.env.KIMI_OPENCLAW_IMPORT_CHILD) {
  // Child: register the plugin against a minimal plugin API and run its device-login method.
  const entry = require('../lib/adapters/openclaw.js')
  let provider = null
  entry.register({ runtime: { version: '2026.9.6' }, registerProvider: (p) => (provider = p), logger: console })
  const asked = []
  const notes = []
  const prompter = {
    confirm: async ({ message }) => (asked.push(message), process.env.KIMI_OPENCLAW_ANSWER === 'yes'),
    note: async (message) => notes.push(message),
    progress: () => ({ stop: () => {}, update: () => {} }),
  }
  const ctx = { prompter, isRemote: true, credentialOnly: false, signal: AbortSignal.timeout(20000) }
  provider.auth[0]
    .run(ctx)
    .then(
      (r) => ({ ok: true, asked, notes, profiles: r.profiles.map((p) => p.credential) }),
      (e) => ({ ok: false, asked, notes, code: e.code, message: String(e.message) }),
    )
    .then((out) => process.stdout.write(JSON.stringify(out) + '\n'))
  return
}

test(
  'openclaw login offers an opencode-kimi-auth login for takeover instead of a device code',
  { timeout: 60000 },
  async (t) => {
    const f = await startFakeKimi({ deviceInterval: 1, autoApprove: 0 })
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-openclaw-import-'))
    t.after(async () => {
      await f.close()
      fs.rmSync(base, { recursive: true, force: true })
    })
    const run = async (answer) => {
      const home = path.join(base, answer, 'home')
      const oauthJson = path.join(home, '.opencode-kimi-auth', 'oauth.json')
      const tokens = f.issueTokens()
      fs.mkdirSync(path.dirname(oauthJson), { recursive: true })
      // opencode-kimi-auth's own file: the token response plus expires_at in ms.
      fs.writeFileSync(
        oauthJson,
        JSON.stringify({ ...tokens, expires_at: Date.now() + 900000, device_id: crypto.randomUUID() }),
        { mode: 0o600 },
      )
      const env = {
        PATH: process.env.PATH,
        HOME: home,
        USERPROFILE: home, // the home directory on Windows
        KIMI_NATIVE_HOME: path.join(base, answer, 'kimi-native'),
        KIMI_NATIVE_STORE: 'file',
        KIMI_NATIVE_NO_OFFICIAL_CREDENTIALS: '1',
        KIMI_CODE_OAUTH_HOST: f.oauthHost,
        KIMI_CODE_BASE_URL: f.baseUrl,
        KIMI_OPENCLAW_IMPORT_CHILD: '1',
        KIMI_OPENCLAW_ANSWER: answer,
      }
      const before = { refresh: f.refreshCount, device: f.deviceAuthorizationCount }
      const r = await spawnCollect(process.execPath, [__filename], { env, timeoutMs: 30000 })
      assert.equal(r.code, 0, r.stderr)
      assertNoSecrets(assert, r.stdout + r.stderr, [tokens.access_token, tokens.refresh_token, ...f.issuedTokens()])
      return { out: JSON.parse(r.stdout.trim().split('\n').pop()), tokens, oauthJson, before }
    }

    // Yes: one refresh with the plugin's own token, no device code, its file moved aside, only a marker for openclaw.
    const yes = await run('yes')
    assert.equal(yes.out.ok, true, yes.out.message)
    assert.equal(yes.out.asked.length, 1)
    assert.match(yes.out.asked[0], /opencode-kimi-auth/)
    assert.equal(f.deviceAuthorizationCount, yes.before.device, 'no device code was asked for')
    assert.equal(f.refreshCount, yes.before.refresh + 1)
    assert.equal(f.refreshLog.at(-1).refresh_token, yes.tokens.refresh_token, 'the refresh used the imported token')
    assert.equal(fs.existsSync(yes.oauthJson), false, "opencode-kimi-auth's file was moved aside")
    assert.deepEqual([...new Set(yes.out.profiles.map((c) => c.access))], ['kimi-native-managed'])
    assert.equal(f.invalidGrantCount, 0)

    // No: a device login instead (the fake server approves it at once), and the other login is not touched.
    const no = await run('no')
    assert.equal(no.out.asked.length, 1)
    assert.equal(no.out.ok, true, no.out.message)
    assert.equal(f.deviceAuthorizationCount, no.before.device + 1, 'declining goes on to a device login')
    assert.ok(fs.existsSync(no.oauthJson), 'the other login is left alone')
  },
)
