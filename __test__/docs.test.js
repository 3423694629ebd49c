'use strict'
// The docs a newcomer reads stay short and every reference in them, or in a code comment, can be opened: relative
// links (and their #anchors) resolve, `docs/kimi-wire.md §N` names a section that exists, cited docs exist, the
// code paths the docs name exist, and the README's error table is the core's list of codes.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const read = (rel) => fs.readFileSync(path.join(ROOT, rel), 'utf8')
const DOCS = [
  'README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
]

/** Source files whose comments cite documents: src/, lib/, __test__/ (the vendored captures aside). */
function sources(dir) {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`
    if (e.isDirectory()) return e.name === 'golden' || e.name === 'node_modules' ? [] : sources(rel)
    return /\.(rs|js|ts)$/.test(e.name) ? [rel] : []
  })
}
const SOURCES = ['src', 'lib', '__test__'].flatMap(sources).filter((f) => f !== '__test__/docs.test.js')

/** Markdown without its fenced code blocks (links and headings there are examples, not references). */
const prose = (md) => md.replace(/^```[\s\S]*?^```/gm, '')

/** GitHub's anchor for each heading of a markdown file (duplicates get -1, -2, …). */
function anchors(md) {
  const seen = new Map()
  const out = new Set()
  for (const m of prose(md).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = m[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const n = seen.get(base) || 0
    seen.set(base, n + 1)
    out.add(n ? `${base}-${n}` : base)
  }
  return out
}

test('README.md has at most 150 lines, docs/architecture.md at most 80', () => {
  assert.ok(
    read('README.md').split('\n').length - 1 <= 150,
    `README.md: ${read('README.md').split('\n').length - 1} lines`,
  )
  assert.ok(read('docs/architecture.md').split('\n').length - 1 <= 80, 'docs/architecture.md over 80 lines')
})

test('every relative link in README.md and docs/*.md resolves to a file, and its #anchor to a heading', () => {
  const broken = []
  let checked = 0
  for (const doc of DOCS) {
    for (const m of prose(read(doc)).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1]
      if (/^[a-z]+:/i.test(target)) continue // https:, mailto:
      checked++
      const [file, anchor] = target.split('#')
      const abs = file ? path.join(ROOT, path.dirname(doc), file) : path.join(ROOT, doc)
      if (!fs.existsSync(abs)) broken.push(`${doc}: ${target} (no such file)`)
      else if (anchor && abs.endsWith('.md') && !anchors(fs.readFileSync(abs, 'utf8')).has(anchor)) {
        broken.push(`${doc}: ${target} (no such heading)`)
      }
    }
  }
  assert.deepEqual(broken, [])
  assert.ok(checked >= 40, `links found: ${checked}`)
})

test('every kimi-wire citation in src/, lib/, __test__/ and the docs names a section of docs/kimi-wire.md', () => {
  const sections = new Set()
  for (const m of read('docs/kimi-wire.md').matchAll(/^#{2,3} (\d+(?:\.\d+)?)[.\s]/gm)) sections.add(m[1])
  assert.ok(sections.has('1.1') && sections.has('8'), 'docs/kimi-wire.md keeps the reference section numbers')
  const bad = []
  let cited = 0
  for (const file of [...SOURCES, ...DOCS]) {
    read(file)
      .split('\n')
      .forEach((line, i) => {
        const at = line.search(/kimi-wire/)
        if (at < 0 || file === 'docs/kimi-wire.md') return
        const rest = line.slice(at)
        const where = `${file}:${i + 1}`
        // A reader must be able to open what is cited: the path in code, the file (or a link to it) in the docs.
        if (!/^kimi-wire\.md/.test(rest) && !/docs\/kimi-wire\.md/.test(line))
          bad.push(`${where}: cite it as docs/kimi-wire.md §N`)
        for (const s of rest.matchAll(/§(\d+(?:\.\d+)?)/g)) {
          cited++
          if (!sections.has(s[1])) bad.push(`${where}: §${s[1]} is not a section of docs/kimi-wire.md`)
        }
      })
  }
  assert.deepEqual(bad, [])
  assert.ok(cited >= 54, `citations found: ${cited}`)
})

test('every docs/*.md a comment in src/, lib/ or __test__/ names exists', () => {
  const missing = []
  for (const file of SOURCES) {
    for (const m of read(file).matchAll(/\bdocs\/([\w.-]+\.md)/g)) {
      if (!fs.existsSync(path.join(ROOT, 'docs', m[1]))) missing.push(`${file}: docs/${m[1]}`)
    }
  }
  assert.deepEqual(missing, [])
})

test('the code paths the docs name exist (src/, lib/, scripts/, __test__/)', () => {
  const missing = []
  for (const doc of DOCS) {
    for (const m of read(doc).matchAll(/`((?:src|lib|scripts|__test__)\/[^`\s]*)`/g)) {
      const p = m[1]
      if (/[<*{]/.test(p)) continue // a pattern, not a path
      if (!['', '.rs', '.js'].some((ext) => fs.existsSync(path.join(ROOT, p.replace(/\/$/, '') + ext))))
        missing.push(`${doc}: ${p}`)
    }
  }
  assert.deepEqual(missing, [])
})

test("the README's error table lists every code of src/error.rs, and nothing else", () => {
  const codes = [...read('src/error.rs').matchAll(/Code::\w+ => "(KIMI_\w+)"/g)].map((m) => m[1])
  assert.ok(codes.length >= 26, `codes in src/error.rs: ${codes.length}`)
  const md = read('README.md')
  const table = md.slice(md.indexOf('## Error codes'), md.indexOf('\n## ', md.indexOf('## Error codes') + 1))
  const rows = [...table.matchAll(/^\| `(KIMI_\w+)` \|/gm)].map((m) => m[1])
  assert.deepEqual([...rows].sort(), [...codes].sort())
})
