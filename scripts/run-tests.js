#!/usr/bin/env node
'use strict'
// Runs the JS test suite against whatever native binary is present (a local build or a prebuilt one
// downloaded by CI), without building anything: `node --test <every __test__ test file>`.
// The file list is built here because `node --test <dir>` and shell globs behave differently on Node 20 vs
// Node >= 22 and on Windows (cmd.exe does not expand globs). Extra arguments are passed to `node --test`
// before the file list (e.g. `--test-name-pattern=...`); arguments ending in .js select files instead.
// `--list` prints the selected files instead of running them.
// `--no-e2e` leaves out the host end-to-end suites (*.e2e.test.js): CI runs them on the one platform
// whose hosts they install (linux x64 glibc), where a host that cannot be installed fails the run.
// `--jobs=N` (default 4) runs that many of the other files at once: each file is its own process with its own temp
// dirs, fake servers on port 0 and private D-Bus, and most of their time is spent waiting on real intervals
// (refresh backoff, device-login polling), so they overlap well even on few cores (measured on 2 cores: ~250 s one
// at a time, ~120 s two at a time, ~75 s four at a time). The e2e suites then run one at a time (they share the
// host installs in .test-cache and start heavy hosts). `--jobs=1` is fully serial.
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')

const testDir = path.join(__dirname, '..', '__test__')
const TEST_FILE = /(^|[.\-_])test\.(c|m)?js$/

function collect(dir) {
  const out = []
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...collect(full))
    else if (TEST_FILE.test(entry.name)) out.push(full)
  }
  return out.sort()
}

const E2E = /\.e2e\.test\.(c|m)?js$/
// The files that wait longest (measured alone: refresh-outage ~57 s, refresh ~50 s, storm ~28 s, auth ~22 s, mostly
// real intervals) start first, so the others run beside them instead of after them.
const LONGEST_FIRST = ['refresh-outage.test.js', 'refresh.test.js', 'storm.test.js', 'auth.test.js']
const weight = (f) => {
  const i = LONGEST_FIRST.indexOf(path.basename(f))
  return i < 0 ? LONGEST_FIRST.length : i
}
const args = process.argv.slice(2)
const noE2e = args.includes('--no-e2e')
const jobsArg = args.find((a) => a.startsWith('--jobs='))
const jobs = jobsArg ? Math.max(1, Number(jobsArg.slice('--jobs='.length)) || 1) : 4
const selected = args.filter((a) => /\.(c|m)?js$/.test(a)).map((a) => path.resolve(a))
const flags = args.filter((a) => !/\.(c|m)?js$/.test(a) && a !== '--no-e2e' && a !== '--list' && a !== jobsArg)
const files = (selected.length ? selected : collect(testDir)).filter((f) => !(noE2e && E2E.test(f)))
if (args.includes('--list')) {
  for (const f of files) console.log(path.relative(path.join(__dirname, '..'), f).split(path.sep).join('/'))
  process.exit(0)
}
if (files.length === 0) {
  console.error(`run-tests: no test files found under ${testDir}`)
  process.exit(1)
}
function run(list, concurrency) {
  if (list.length === 0) return 0
  const res = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...flags, ...list], {
    stdio: 'inherit',
  })
  if (res.error) {
    console.error(res.error)
    return 1
  }
  return res.status === null ? 1 : res.status
}

const unit = files.filter((f) => !E2E.test(f)).sort((a, b) => weight(a) - weight(b))
const e2e = files.filter((f) => E2E.test(f))
// Both phases run even when the first fails, so one run reports every failure.
const status = [run(unit, jobs), run(e2e, 1)]
process.exit(status.find((s) => s !== 0) || 0)
