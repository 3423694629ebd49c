'use strict'
// Refresh storm: 8 OS processes × 32 concurrent getAccessToken() calls while tokens expire
// every second and the server invalidates each old refresh token. Zero invalid_grant, and
// every refresh the server saw used the then-current refresh token (one refresh per expiry).
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { startFakeKimi } = require('./fake-kimi/server')
const { pointAt } = require('./helpers/env')

if (process.env.KIMI_STORM_CHILD) {
  const kimi = require('..')
  const stop = process.env.KIMI_STORM_STOP
  const seen = new Set()
  let errors = 0
  let calls = 0
  ;(async () => {
    while (!fs.existsSync(stop)) {
      const tokens = await Promise.all(
        Array.from({ length: 32 }, () =>
          kimi.getAccessToken().catch((e) => {
            errors++
            return `ERR:${e.code}`
          }),
        ),
      )
      for (const t of tokens) seen.add(t)
      calls += tokens.length
      await new Promise((r) => setTimeout(r, 20))
    }
    process.stdout.write(JSON.stringify({ errors, calls, tokens: [...seen] }))
  })()
  return
}

test('8 processes × 32 concurrent callers share one refresh per expiry', { timeout: 150000 }, async () => {
  const server = await startFakeKimi({ deviceInterval: 1, autoApprove: 0, accessTtl: 1 })
  const env = pointAt(server, { extra: { KIMI_NATIVE_REFRESH_FLOOR_SECS: '0' } })
  try {
    await require('..').login({})
    const stop = path.join(env.home, 'stop')
    const children = Array.from({ length: 8 }, () => {
      const child = spawn(process.execPath, [__filename], {
        env: { ...process.env, KIMI_STORM_CHILD: '1', KIMI_STORM_STOP: stop },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      let out = ''
      child.stdout.on('data', (d) => (out += d))
      child.stderr.on('data', (d) => (out += d))
      return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })))
    })
    const deadline = Date.now() + 120000
    while (server.refreshCount < 50 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200))
    fs.writeFileSync(stop, '')
    const results = await Promise.all(children)
    const rotations = server.refreshCount
    assert.ok(rotations >= 50, `only ${rotations} rotations`)
    assert.equal(server.invalidGrantCount, 0, 'a stale refresh token was used')
    // Each refresh used the refresh token issued by the previous one: one refresh per expiry.
    const log = server.refreshLog
    for (let i = 1; i < log.length; i++)
      assert.equal(log[i].refresh_token, log[i - 1].newRefreshToken, `refresh ${i} reused or skipped a token`)
    const issued = new Set(server.issuedTokens())
    let calls = 0
    for (const r of results) {
      assert.equal(r.code, 0, r.out)
      const { errors, calls: made, tokens } = JSON.parse(r.out)
      assert.equal(errors, 0, `errors in a child: ${tokens.filter((t) => t.startsWith('ERR')).join(',')}`)
      for (const t of tokens) assert.ok(issued.has(t), 'a child returned a token the server never issued')
      calls += made
    }
    console.log(
      `storm: 8 processes × 32 callers, ${calls} getAccessToken() calls, ${rotations} refresh requests = rotations, 0 invalid_grant`,
    )
  } finally {
    env.restore()
    await server.close()
  }
})
