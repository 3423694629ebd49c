'use strict'
// Runs the benchmark several times (fresh processes, same build) and prints, for every row that
// has a ratio, the median and the range over the runs and how many runs met the target.
// `npm run bench:spread` (5 runs; BENCH_RUNS=n for another count). Not a test.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const runs = Math.max(2, Number(process.env.BENCH_RUNS) || 5)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-native-spread-'))
const tables = []
try {
  for (let i = 1; i <= runs; i++) {
    const out = path.join(dir, `run-${i}.json`)
    process.stderr.write(`run ${i}/${runs}...\n`)
    execFileSync(process.execPath, [path.join(__dirname, 'fetch.bench.js')], {
      env: { ...process.env, BENCH_JSON: out },
      stdio: ['ignore', i === runs ? 'inherit' : 'ignore', 'inherit'],
    })
    tables.push(JSON.parse(fs.readFileSync(out, 'utf8')).rows)
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}

// The first number of a cell: "0.917", "6.7 (1.68x)", "0.939x", "-291.4".
const num = (cell) => {
  const m = /^\s*(-?[\d.]+)/.exec(String(cell))
  return m ? Number(m[1]) : NaN
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const fmt = (x) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(3))
const spread = (xs) =>
  xs.length === runs ? `${fmt(median(xs))} (${fmt(Math.min(...xs))}..${fmt(Math.max(...xs))})` : ''
const rows = [['metric', 'kimi-native: median (range)', 'ratio: median (range)', 'target', 'met']]
for (const [i, first] of tables[0].entries()) {
  const values = tables.map((t) => num(t[i] && t[i][1])).filter(Number.isFinite)
  const ratios = tables
    .map((t) => (/x$/.test(String(t[i] && t[i][3]).trim()) ? num(t[i][3]) : NaN))
    .filter(Number.isFinite)
  if (values.length !== runs && ratios.length !== runs) continue
  const met = tables.filter((t) => String(t[i][5]).startsWith('PASS')).length
  const judged = tables.some((t) => /^(PASS|MISS)/.test(String(t[i][5])))
  rows.push([
    first[0].trim(),
    spread(values),
    ratios.length === runs ? `${spread(ratios)}x` : '',
    first[4],
    judged ? `${met}/${runs}` : '',
  ])
}
const w = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)))
const line = (r) => `| ${r.map((c, j) => String(c).padEnd(w[j])).join(' | ')} |`
console.log(`\nspread over ${runs} runs (the table above is the last run)\n`)
console.log(line(rows[0]))
console.log(`|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`)
for (const r of rows.slice(1)) console.log(line(r))
