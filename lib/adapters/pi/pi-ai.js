'use strict'
// The running pi: its pi-ai and its version (pi's product token), found the way the running pi finds its own.

const fs = require('node:fs')
const path = require('node:path')
const { pathToFileURL, fileURLToPath } = require('node:url')
const { codes } = require('../../kit/core.js')

// pi's loader aliases "@earendil-works/pi-ai" only for modules it transpiles, and a package installed by
// `pi install` lives in pi's own npm project, so pi-ai is resolved the way the running pi resolves its own: from
// the pi-coding-agent package that loaded this file (its stack frames, then the pi command in argv[1]). Never from
// the working directory or from where this package happens to sit: a repository the user opened (or a
// node_modules above kimi-native inside it) must not get its code run inside pi.
function hostFiles() {
  const files = []
  for (const line of String(new Error().stack).split('\n')) {
    const m = /(file:\/\/\S+?|\/\S+?|[A-Za-z]:\\\S+?):\d+(?::\d+)?\)?$/.exec(line.trim())
    if (m && /pi-coding-agent/.test(m[1])) files.push(m[1].startsWith('file:') ? fileURLToPath(m[1]) : m[1])
  }
  if (process.argv[1]) files.push(process.argv[1])
  return files
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'))
  } catch {
    return null
  }
}

/** The ESM entry of `subpath` ('.', './compat') in a package's exports map (or main), or null. */
function entryOf(pkgDir, pkg, subpath) {
  const exp = pkg.exports
  // `exports` is a string, a map of conditions (root only) or a map of subpaths.
  const bySubpath = exp && typeof exp === 'object' && Object.keys(exp).some((k) => k.startsWith('.'))
  let target = bySubpath ? exp[subpath] : subpath === '.' ? exp : null
  if (target && typeof target === 'object') target = target.import || target.default
  if (!target && subpath === '.') target = pkg.module || pkg.main || 'index.js'
  if (typeof target !== 'string') return null
  const file = path.join(pkgDir, target)
  return fs.existsSync(file) ? file : null
}

/** The pi-coding-agent package a file belongs to: { dir, pkg } or null. */
function agentOf(file) {
  let dir
  try {
    dir = path.dirname(fs.realpathSync(file))
  } catch {
    return null // not a file on disk (a bundled pi's virtual path)
  }
  for (;;) {
    const pkg = readJson(path.join(dir, 'package.json'))
    if (pkg && /(^|\/)pi-coding-agent$/.test(pkg.name || '')) return { dir, pkg }
    const up = path.dirname(dir)
    if (up === dir) return null
    dir = up
  }
}

/** `name` as Node resolves it from `fromDir` (node_modules of each directory upward), or null. */
function resolvePackage(fromDir, name) {
  for (let dir = fromDir; ;) {
    if (path.basename(dir) !== 'node_modules') {
      const pkgDir = path.join(dir, 'node_modules', ...name.split('/'))
      const pkg = readJson(path.join(pkgDir, 'package.json'))
      if (pkg) return { dir: pkgDir, pkg }
    }
    const up = path.dirname(dir)
    if (up === dir) return null
    dir = up
  }
}

/** { agent: { dir, pkg }, ai: { dir, pkg } } of the pi that loads this file, or null (a bundled pi). */
function findHost() {
  for (const file of hostFiles()) {
    const agent = agentOf(file)
    if (!agent) continue
    // The pi-ai this pi depends on (pi 1.x: @earendil-works/pi-ai; 0.73: @mariozechner/pi-ai), found as pi finds it.
    const deps = Object.keys((agent.pkg && agent.pkg.dependencies) || {}).filter((d) => /(^|\/)pi-ai$/.test(d))
    for (const name of deps) {
      const ai = resolvePackage(agent.dir, name)
      if (ai) return { agent, ai }
    }
  }
  return null
}

/** Whether `name` sits on disk where Node would find it from this file (then it is not pi's bundled module). */
function onDiskNextToUs(name) {
  return resolvePackage(__dirname, name.split('/').slice(0, 2).join('/')) !== null
}

async function importFile(file) {
  return import(pathToFileURL(file).href)
}

/**
 * pi-ai as the running pi has it, and pi's product token ("pi/1.6.0"; the contract wants the host's own
 * version, read from the running host). pi 1.x keeps the built-in API implementations in the compat entry.
 */
async function loadHost() {
  const host = findHost()
  if (host) {
    const root = entryOf(host.ai.dir, host.ai.pkg, '.')
    if (!root)
      throw Object.assign(new Error(`pi-ai ${host.ai.pkg.version} has no usable entry point`), { code: codes.PI_HOST })
    let ai = await importFile(root)
    const compat = entryOf(host.ai.dir, host.ai.pkg, './compat')
    if ((typeof ai.openAICompletionsApi !== 'function' || typeof ai.anthropicMessagesApi !== 'function') && compat) {
      ai = { ...ai, ...(await importFile(compat)) }
    }
    return { ai, token: `pi/${host.agent.pkg.version || host.ai.pkg.version}` }
  }
  // No pi package on disk (a bundled pi binary): pi's loader maps these names to its own embedded modules. A name
  // that also exists on disk where Node would look from this file is skipped: importing it might load that copy.
  for (const spec of ['@earendil-works/pi-ai/compat', '@mariozechner/pi-ai']) {
    if (onDiskNextToUs(spec)) continue
    try {
      const ai = await import(spec)
      return { ai, token: ai.PI_AI_VERSION ? `pi/${ai.PI_AI_VERSION}` : 'pi' }
    } catch {}
  }
  const err = new Error(
    'cannot find pi-ai (@earendil-works/pi-ai or @mariozechner/pi-ai) in the running pi; kimi-native loads it only from pi itself, never from the working directory',
  )
  err.code = codes.PI_HOST
  throw err
}

module.exports = { loadHost }
