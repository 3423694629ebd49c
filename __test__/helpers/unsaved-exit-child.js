'use strict'
// Child process for refresh.test.js: one forced refresh whose write the store refuses (the test made it so), a JSON
// line with status().unsaved, then process.exit(0) as soon as the file argv[2] exists (the test creates it after
// letting the store accept writes again, well before the first background retry).

const fs = require('node:fs')
const path = require('node:path')
const kimi = require(path.join(__dirname, '..', '..', 'lib'))

const line = (o) => fs.writeSync(1, JSON.stringify(o) + '\n')
const go = process.argv[2]

;(async () => {
  await kimi.getAccessToken({ force: true })
  line({ unsaved: (await kimi.status()).unsaved })
  while (!fs.existsSync(go)) await new Promise((r) => setTimeout(r, 10))
  line({ exitCalledAt: Date.now() })
  process.exit(0)
})().catch((err) => {
  line({ ok: false, code: err && err.code, message: String(err && err.message) })
  process.exit(0)
})
