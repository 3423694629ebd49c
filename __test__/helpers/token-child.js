'use strict'
// Child process for __test__/refresh.test.js: one core operation, then a NATURAL exit (no
// process.exit), the way a CLI or a short script ends. Prints one JSON line.
//
// argv[2]: login | token | force | fetch | status
// Output: {ok:true, length?, status?, loggedIn?} or {ok:false, code, message}

const path = require('node:path')
const kimi = require(path.join(__dirname, '..', '..', 'lib'))

async function run(op) {
  // The token itself is never printed: the test greps this output for secrets.
  if (op === 'token') return { length: (await kimi.getAccessToken()).length }
  if (op === 'force') return { length: (await kimi.getAccessToken({ force: true })).length }
  if (op === 'login') return { store: (await kimi.login({})).store }
  if (op === 'status') return { loggedIn: (await kimi.status()).loggedIn }
  if (op === 'fetch') {
    const f = kimi.createKimiFetch({ host: 'opencode/1.18.33' })
    const base = process.env.KIMI_CODE_BASE_URL
    const res = await f(`${base}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'kimi-for-coding', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    })
    await res.text()
    return { status: res.status }
  }
  throw new Error(`unknown op ${op}`)
}

run(process.argv[2]).then(
  (out) => process.stdout.write(JSON.stringify({ ok: true, ...out }) + '\n'),
  (err) =>
    process.stdout.write(
      JSON.stringify({ ok: false, code: err && err.code, message: String(err && err.message) }) + '\n',
    ),
)
