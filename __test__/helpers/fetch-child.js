'use strict'
// Child process for __test__/fetch.test.js: the core builds its reqwest client (proxy and CA
// environment included) once per process, so every proxy/TLS case runs in a fresh child.
//
// Input: env FETCH_CHILD_SPEC = JSON {url, method?, headers?, body?, options?}.
// Output: exactly one JSON line on stdout:
//   {ok:true, status, statusText, url, headers:[[k,v]...], body} or
//   {ok:false, name, code, message}
// Everything else about the login comes from the usual environment (KIMI_NATIVE_HOME, KIMI_API_KEY, ...).

const path = require('node:path')

async function main() {
  const spec = JSON.parse(process.env.FETCH_CHILD_SPEC || '{}')
  const { createKimiFetch } = require(path.join(__dirname, '..', '..', 'lib'))
  const kimiFetch = createKimiFetch({ connectTimeoutMs: 5000, readTimeoutMs: 10000, ...(spec.options || {}) })
  try {
    const res = await kimiFetch(spec.url, {
      method: spec.method || 'GET',
      headers: spec.headers || {},
      body: spec.body,
    })
    const body = await res.text()
    const headers = []
    res.headers.forEach((v, k) => headers.push([k, v]))
    return { ok: true, status: res.status, statusText: res.statusText, url: res.url, headers, body }
  } catch (err) {
    // A transport failure is TypeError('fetch failed'); what to do is in its cause.
    const cause = err && err.cause
    return {
      ok: false,
      name: err && err.name,
      code: err && err.code,
      message: String(err && err.message),
      cause: cause ? String(cause.message) : undefined,
    }
  }
}

main().then(
  (out) => {
    process.stdout.write(JSON.stringify(out) + '\n')
    process.exit(0)
  },
  (err) => {
    process.stderr.write(`fetch-child crashed: ${err && err.stack}\n`)
    process.exit(1)
  },
)
