'use strict'
// The exit race of issue #21: five processes in a row, each finding its token due (8-s tokens), starting the refresh
// and calling process.exit() 0–400 ms later while the token endpoint answers in 800 ms; then a sixth process must be
// served. A refresh whose request went out before the exit has already spent the old refresh token on the server, so
// its answer must be persisted before the process ends (lib/index.js `exit` hook, src/auth/exit.rs).
// `spawnChild(delayMs)` runs __test__/helpers/exit-child.js in the runtime under test and resolves spawnCollect's result.

const EXIT_DELAYS_MS = [0, 100, 200, 300, 400]
const GAP_MS = 2300
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function run(spawnChild, delay) {
  const r = await spawnChild(delay)
  const ended = Date.now()
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map((l) => JSON.parse(l))
  const out = Object.assign({ delay }, ...lines, { exit: r.code, stderr: r.stderr, timedOut: r.timedOut })
  // How long process.exit() took to end the process: the bounded wait for a refresh in flight, plus teardown.
  out.exitMs = out.exitCalledAt ? ended - out.exitCalledAt : null
  return out
}

/**
 * Runs the race against `server` (a fake Kimi with accessTtl 8 and refreshDelayMs 800, already logged in). Resolves
 * { runs, sixth, counters } where counters.inFlightAtExit counts exits called while a refresh answer was pending.
 */
async function exitRace(server, spawnChild) {
  const runs = []
  for (const delay of EXIT_DELAYS_MS) {
    await sleep(GAP_MS)
    runs.push(await run(spawnChild, delay))
  }
  await sleep(GAP_MS)
  const sixth = await run(spawnChild, 0)
  const answerMs = server.refreshDelayMs
  const inFlightAtExit = runs.filter((r) =>
    server.refreshLog.some((l) => l.ok && l.time <= r.exitCalledAt && r.exitCalledAt < l.time + answerMs),
  ).length
  const counters = {
    refreshes: server.refreshCount,
    inFlightAtExit,
    invalidGrant: server.invalidGrantCount,
    lostRefreshAnswers: server.lostRefreshAnswers,
    exitMs: runs.map((r) => r.exitMs),
  }
  return { runs, sixth, counters }
}

module.exports = { exitRace, EXIT_DELAYS_MS }
