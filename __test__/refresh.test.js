'use strict'
// Refresh safety against the fake server with real processes: Kimi rotates the refresh token
// the moment a refresh arrives, so any refresh whose answer is not persisted logs the user
// out. Each test below is one way that used to happen, or one way a refresh used to stall
// requests that had a working token.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { ERRORS } = require('./fake-kimi/server')
const { assertNoSecrets, credentialsFile } = require('./helpers/env')
const { spawnCollect } = require('./helpers/spawn')
const { exitRace } = require('./helpers/exit-race')
const { HOST, sleep, isRefresh, withServer, child, chat, storedRefreshToken } = require('./helpers/refresh-kit')
const kimi = require('..')

const EXIT_CHILD = path.join(__dirname, 'helpers', 'exit-child.js')

test('an abort during a refresh loses nothing: this process and a new one go on, 0 invalid_grant', () =>
  withServer({ refreshDelayMs: 1500 }, async (server) => {
    await kimi.login({})
    server.expireAccessTokens()
    const f = kimi.createKimiFetch({ host: HOST })
    const ac = new AbortController()
    const pending = chat(f, server, ac.signal)
    await server.waitForRequest(isRefresh, { timeoutMs: 5000 })
    ac.abort()
    await assert.rejects(pending, (e) => e.name === 'AbortError')
    const res = await chat(f, server)
    assert.equal(res.status, 200)
    await res.text()
    const other = await child('fetch', server)
    assert.equal(other.ok, true, other.message)
    assert.equal(other.status, 200)
    assert.equal(server.refreshCount, 1, 'the aborted refresh was the only one')
    assert.equal(server.invalidGrantCount, 0)
    console.log(
      `abort mid-refresh: ${server.refreshCount} refresh, ${server.invalidGrantCount} invalid_grant, next process ${other.ms} ms`,
    )
  }))

test('processes that exit right after a call keep the rotation they started (8-s tokens)', { timeout: 120000 }, () =>
  withServer({ accessTtl: 8, refreshDelayMs: 400 }, async (server) => {
    await kimi.login({})
    // 8-s tokens are due after 2 s (never at once) and refreshed in the background until 2 s
    // are left; each process below starts such a refresh and ends naturally at once.
    const times = []
    for (let i = 0; i < 5; i++) {
      await sleep(2300)
      const out = await child('token', server)
      assert.equal(out.ok, true, out.message)
      times.push(out.ms)
    }
    assert.ok(server.refreshCount >= 4, `the processes refreshed ${server.refreshCount} times`)
    const forced = await kimi.getAccessToken({ force: true })
    assert.ok(server.isAccessTokenValid(forced))
    assert.equal(server.invalidGrantCount, 0)
    for (let i = 1; i < server.refreshLog.length; i++) {
      assert.equal(
        server.refreshLog[i].refresh_token,
        server.refreshLog[i - 1].newRefreshToken,
        `refresh ${i} used a stale token`,
      )
    }
    console.log(
      `exit after call: 5 processes (${times.join(', ')} ms), ${server.refreshCount} refreshes, ${server.invalidGrantCount} invalid_grant`,
    )
  }),
)

test('6 concurrent 401s, some arriving after the refresh, cost one refresh and all succeed', () =>
  withServer({ refreshDelayMs: 300 }, async (server) => {
    await kimi.login({})
    // The first 6 chat requests are refused, the later ones only after the refresh is done.
    for (const delayMs of [0, 100, 200, 700, 900, 1100]) {
      server.inject({ path: '/coding/v1/chat/completions', ...ERRORS.invalidAuth401, delayMs, times: 1 })
    }
    const f = kimi.createKimiFetch({ host: HOST })
    const statuses = await Promise.all(
      Array.from({ length: 6 }, async () => {
        const res = await chat(f, server)
        await res.text()
        return res.status
      }),
    )
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200])
    assert.ok(server.refreshCount <= 1, `${server.refreshCount} refreshes`)
    assert.equal(server.invalidGrantCount, 0)
  }))

test('logout during a delayed refresh stays logged out, in this process and in others', { timeout: 60000 }, () =>
  withServer({ refreshDelayMs: 2000 }, async (server) => {
    await kimi.login({})
    // Another process forces a refresh; we log out while the server holds its answer.
    const other = child('force', server)
    await server.waitForRequest(isRefresh, { timeoutMs: 10000 })
    assert.deepEqual(await kimi.logout(), { removed: true })
    const out = await other
    assert.equal(out.ok, false, 'the refresh must not hand out a login that was signed out')
    assert.equal(out.code, 'KIMI_NOT_LOGGED_IN')
    assert.equal((await child('status', server)).loggedIn, false)
    assert.equal((await kimi.status()).loggedIn, false)

    // The same in one process: a refresh in flight, then logout.
    await kimi.login({})
    const since = server.requests.length
    const forced = kimi.getAccessToken({ force: true }).then(
      () => null,
      (e) => e,
    )
    await server.waitForRequest(isRefresh, { timeoutMs: 10000, since })
    await kimi.logout()
    assert.equal((await forced).code, 'KIMI_NOT_LOGGED_IN')
    await kimi.settle()
    assert.equal((await child('status', server)).loggedIn, false)
    await assert.rejects(kimi.getAccessToken(), (e) => e.code === 'KIMI_NOT_LOGGED_IN')
  }),
)

/* ---- issue #21: a store that refuses writes, a proxy's 403, process.exit() mid-refresh ---- */

/** Makes `dir` refuse writes: `chattr +i` as root (root ignores modes), mode 0500 otherwise. Undone when `t` ends.
 * Returns how, or null when this machine cannot (then the test says why). */
function refuseWrites(t, dir) {
  let how = null
  let undo = () => {}
  if (process.getuid && process.getuid() === 0) {
    if (spawnSync('chattr', ['+i', dir]).status === 0) {
      how = 'chattr +i'
      undo = () => spawnSync('chattr', ['-i', dir])
    }
  } else if (process.platform !== 'win32') {
    fs.chmodSync(dir, 0o500)
    how = 'chmod 0500'
    undo = () => fs.chmodSync(dir, 0o700)
  }
  let undone = false
  const restore = () => {
    if (!undone) undo()
    undone = true
  }
  t.after(restore)
  return how && { how, restore }
}

async function waitFor(check, timeoutMs, what) {
  const until = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(200)
  }
}

test(
  'a store that refuses writes for three rotations, then recovers: 0 invalid_grant, every call served, a new process finds the latest pair',
  { timeout: 120000 },
  (t) =>
    withServer({}, async (server, env) => {
      await kimi.login({})
      const refused = refuseWrites(t, path.join(env.home, 'credentials'))
      if (!refused) return t.skip('cannot make a directory refuse writes here (root without chattr, or Windows)')
      const first = storedRefreshToken(env.home)
      const f = kimi.createKimiFetch({ host: HOST })
      let calls = 0
      let served = 0
      for (let i = 0; i < 3; i++) {
        // One rotation each; its write is refused, so the pair lives in memory only.
        const token = await kimi.getAccessToken({ force: true })
        calls++
        if (server.isAccessTokenValid(token)) served++
        const res = await chat(f, server)
        await res.text()
        calls++
        if (res.status === 200) served++
      }
      assert.equal(server.refreshCount, 3)
      assert.equal(storedRefreshToken(env.home), first, `the store (${refused.how}) still holds the first, spent pair`)
      const st = await kimi.status()
      assert.equal(st.loggedIn, true)
      assert.equal(st.unsaved, true)
      assert.match(st.storeReason, /could not be saved .*holds it in memory/)
      // Other processes are told why (a note beside the lock): no token in it.
      const locks = path.join(env.home, 'locks')
      const note = fs.readdirSync(locks).find((n) => n.endsWith('.unsaved'))
      assert.ok(note, 'a note beside the refresh lock')
      assertNoSecrets(assert, fs.readFileSync(path.join(locks, note), 'utf8'), [
        ...server.issuedTokens(),
        ...server.refreshLog.map((l) => l.refresh_token),
      ])

      refused.restore()
      // No new rotation is needed: the background write lands once the store accepts writes again.
      const latest = server.refreshLog.at(-1).newRefreshToken
      await waitFor(() => storedRefreshToken(env.home) === latest, 45000, 'the latest pair to be written')
      assert.equal((await kimi.status()).unsaved, false)
      assert.equal(fs.existsSync(path.join(locks, note)), false, 'the note is gone with the reason')
      const next = await child('fetch', server)
      assert.equal(next.ok, true, next.message)
      assert.equal(next.status, 200)
      assert.equal(server.invalidGrantCount, 0)
      assert.equal(server.refreshCount, 3, 'the new process used the written pair as is')
      assert.equal(served, calls)
      console.log(
        `store refusing writes (${refused.how}) for 3 rotations: ${served}/${calls} calls served, ${server.refreshCount} refreshes, ${server.invalidGrantCount} invalid_grant, ${server.lostRefreshAnswers} answers lost; a new process served (HTTP ${next.status})`,
      )
    }),
)

test(
  'while the store refuses writes, another process is told why its copy is spent, and nothing is tombstoned',
  { timeout: 120000 },
  (t) =>
    withServer({}, async (server, env) => {
      await kimi.login({})
      const refused = refuseWrites(t, path.join(env.home, 'credentials'))
      if (!refused) return t.skip('cannot make a directory refuse writes here (root without chattr, or Windows)')
      await kimi.getAccessToken({ force: true })
      // The other process holds the store's pair, which the server has rotated past.
      const other = await child('force', server)
      assert.equal(other.ok, false)
      assert.equal(other.code, 'KIMI_STORE', other.message)
      assert.match(
        other.message,
        new RegExp(
          `by process ${process.pid}, which could not save it \\(.*(not permitted|denied|Read-only).*\\)`,
          'i',
        ),
      )
      assert.match(other.message, /fix the store/)
      assert.equal(server.invalidGrantCount, 1, "the other process's one refused refresh")
      refused.restore()
      const latest = server.refreshLog.filter((l) => l.ok).at(-1).newRefreshToken
      await waitFor(() => storedRefreshToken(env.home) === latest, 45000, 'the latest pair to be written')
      assert.equal(
        JSON.parse(fs.readFileSync(credentialsFile(env.home), 'utf8')).relogin_reason,
        undefined,
        'no tombstone',
      )
      const next = await child('fetch', server)
      assert.equal(next.ok, true, next.message)
      console.log(
        `another process during refused writes: ${other.code} "${other.message.slice(0, 90)}…"; after recovery served (HTTP ${next.status})`,
      )
    }),
)

test(
  'five processes calling process.exit() 0–400 ms into a refresh (800-ms answers) lose nothing; a sixth is served (Node)',
  { timeout: 120000 },
  () =>
    withServer({ accessTtl: 8, refreshDelayMs: 800 }, async (server) => {
      await kimi.login({})
      const { runs, sixth, counters } = await exitRace(server, (delay) =>
        spawnCollect(process.execPath, [EXIT_CHILD, String(delay)], { env: { ...process.env }, timeoutMs: 60000 }),
      )
      for (const r of runs) assert.equal(r.ok, true, `${r.delay} ms: ${r.code} ${r.message} ${r.stderr}`)
      assert.equal(sixth.ok, true, `${sixth.code}: ${sixth.message}`)
      assert.ok(counters.inFlightAtExit >= 1, `no exit met a refresh in flight: ${JSON.stringify(runs)}`)
      assert.equal(counters.invalidGrant, 0)
      assert.equal(counters.lostRefreshAnswers, 0)
      for (const ms of counters.exitMs) assert.ok(ms === null || ms < 5000, `an exit took ${ms} ms`)
      console.log(`exit mid-refresh (node ${process.version}): ${JSON.stringify(counters)}`)
    }),
)

test(
  'a process that exits holding a login the store refused writes it once the store accepts writes (last attempt at exit)',
  { timeout: 60000 },
  (t) =>
    withServer({}, async (server, env) => {
      assert.equal((await child('login', server)).ok, true)
      const refused = refuseWrites(t, path.join(env.home, 'credentials'))
      if (!refused) return t.skip('cannot make a directory refuse writes here (root without chattr, or Windows)')
      const go = path.join(env.home, 'go')
      let exitAt = 0
      const r = await spawnCollect(process.execPath, [path.join(__dirname, 'helpers', 'unsaved-exit-child.js'), go], {
        env: { ...process.env },
        timeoutMs: 30000,
        onStdout: (s) => {
          if (s.includes('"unsaved":true')) {
            refused.restore()
            fs.writeFileSync(go, '')
          }
          const m = /"exitCalledAt":(\d+)/.exec(s)
          if (m) exitAt = Number(m[1])
        },
      })
      assert.match(r.stdout, /"unsaved":true/, r.stdout + r.stderr)
      assert.ok(exitAt > 0, r.stdout)
      const latest = server.refreshLog.at(-1).newRefreshToken
      assert.equal(storedRefreshToken(env.home), latest, 'written by the exit, not lost with the process')
      const next = await child('fetch', server)
      assert.equal(next.status, 200)
      assert.equal(server.invalidGrantCount, 0)
      console.log(
        `exit with a refused write pending: written at exit (${Date.now() - exitAt} ms from exit to the check), next process served`,
      )
    }),
)
