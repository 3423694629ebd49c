#!/usr/bin/env node
'use strict'
// Runs the JS test suite against whatever native binary is present (a local build or a prebuilt one
// downloaded by CI), without building anything: `node --test --test-concurrency=1 <every __test__ test file>`.
// The file list is built here because `node --test <dir>` and shell globs behave differently on Node 20 vs
// Node >= 22 and on Windows (cmd.exe does not expand globs). Extra arguments are passed to `node --test`
// before the file list (e.g. `--test-name-pattern=...`); arguments ending in .js select files instead.
// `--list` prints the selected files instead of running them.
// `--no-e2e` leaves out the host end-to-end suites (*.e2e.test.js): CI runs them on the one platform
// whose hosts they install (linux x64 glibc), where a host that cannot be installed fails the run.
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
const args = process.argv.slice(2)
const noE2e = args.includes('--no-e2e')
const selected = args.filter((a) => /\.(c|m)?js$/.test(a)).map((a) => path.resolve(a))
const flags = args.filter((a) => !/\.(c|m)?js$/.test(a) && a !== '--no-e2e' && a !== '--list')
const files = (selected.length ? selected : collect(testDir)).filter((f) => !(noE2e && E2E.test(f)))
if (args.includes('--list')) {
  for (const f of files) console.log(path.relative(path.join(__dirname, '..'), f).split(path.sep).join('/'))
  process.exit(0)
}
if (files.length === 0) {
  console.error(`run-tests: no test files found under ${testDir}`)
  process.exit(1)
}
const res = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...flags, ...files], { stdio: 'inherit' })
if (res.error) {
  console.error(res.error)
  process.exit(1)
}
process.exit(res.status === null ? 1 : res.status)
