'use strict'
/*
 * Access to the golden request logs captured from the official Kimi clients. The ones the tests use are
 * vendored in __test__/golden (copied byte for byte from the project's reference captures; cargo test reads
 * the same copies), so a clean clone needs nothing outside the repo.
 *
 * Location: env KIMI_REFERENCE_DIR if set (either the reference dir that contains golden/, or the golden dir
 * itself; nothing else is tried then), else __test__/golden. Every loader returns null when the directory or
 * file is absent.
 *
 * Record format (golden/README.md): { method, path, request_version, headers: [[name, value], ...], body }.
 */
const fs = require('node:fs')
const path = require('node:path')

const VENDORED = path.resolve(__dirname, '..', 'golden')

function goldenDir() {
  const env = process.env.KIMI_REFERENCE_DIR
  // when the env var is set it is the only place looked at (so a test can point it at an empty dir)
  const candidates = env ? [path.join(env, 'golden'), env] : [VENDORED]
  for (const c of candidates) {
    try {
      if (fs.statSync(c).isDirectory() && fs.readdirSync(c).some((f) => f.endsWith('.jsonl'))) return c
    } catch {
      /* try the next one */
    }
  }
  return null
}

/** Names of the golden *.jsonl logs, or null. */
function listGolden() {
  const dir = goldenDir()
  return dir
    ? fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.jsonl'))
        .sort()
    : null
}

/** Records of one golden log (name with or without `.jsonl`), or null if the dir/file is absent. */
function loadGolden(name) {
  const dir = goldenDir()
  if (!dir) return null
  const file = path.join(dir, name.endsWith('.jsonl') ? name : `${name}.jsonl`)
  let text
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return null
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l))
}

/** Raw bytes of any other golden file (e.g. 'ts-device_id', 'py-kshare-credentials/kimi-code.json'), or null. */
function readGoldenFile(rel) {
  const dir = goldenDir()
  if (!dir) return null
  try {
    return fs.readFileSync(path.join(dir, rel))
  } catch {
    return null
  }
}

/** Case-insensitive header value from a record's [[name, value]] pairs. */
function header(record, name) {
  const lower = name.toLowerCase()
  const hit = record.headers.find(([k]) => k.toLowerCase() === lower)
  return hit ? hit[1] : undefined
}

/** Header names in arrival order (original case). */
function headerNames(record) {
  return record.headers.map(([k]) => k)
}

module.exports = { goldenDir, listGolden, loadGolden, readGoldenFile, header, headerNames }
