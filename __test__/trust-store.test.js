'use strict'
// A machine without a single CA certificate (a bare container: no ca-certificates package) must
// still get a working client: the platform verifier refuses to start with an empty system store,
// and every request used to fail with "Setting up HTTPS" — even plain-HTTP loopback ones. The core
// then uses Mozilla's roots, as Node does. An empty SSL_CERT_FILE plus an empty SSL_CERT_DIR is
// exactly such a store: rustls-native-certs reads only those when they are set.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { assertNoSecrets, withServer } = require('./helpers/env')
const { spawnCollect } = require('./helpers/spawn')
const kimi = require('..')

const CHILD = path.join(__dirname, 'helpers', 'token-child.js')

test(
  'an empty system trust store still gives a working client (Mozilla roots), requests served',
  { timeout: 60000 },
  (t) =>
    withServer({ autoApprove: 0 }, async (server) => {
      await kimi.login({})
      const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-no-ca-'))
      t.after(() => fs.rmSync(empty, { recursive: true, force: true }))
      fs.writeFileSync(path.join(empty, 'none.pem'), '')
      fs.mkdirSync(path.join(empty, 'certs'))
      const childEnv = {
        ...process.env,
        SSL_CERT_FILE: path.join(empty, 'none.pem'),
        SSL_CERT_DIR: path.join(empty, 'certs'),
      }
      for (const op of ['force', 'fetch']) {
        const r = await spawnCollect(process.execPath, [CHILD, op], { env: childEnv, timeoutMs: 30000 })
        assert.equal(r.code, 0, r.stderr)
        assertNoSecrets(assert, r.stdout + r.stderr, server.issuedTokens())
        const out = JSON.parse(r.stdout.trim().split('\n').pop())
        assert.equal(out.ok, true, `${op} with no system CA certificate: ${out.message}`)
        if (op === 'fetch') assert.equal(out.status, 200)
      }
      assert.equal(server.refreshCount, 1)
    }),
)
