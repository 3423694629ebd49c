'use strict'
// Every adapter and the CLI load without the native binding (what a missing platform package looks like) and say why
// on use, with a coded error. The package is copied without its .node file into a directory of its own, where
// neither the .node nor a platform package can be found; each check runs there in a child process, so the binding
// this test process has loaded cannot help.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnCollect } = require('./helpers/spawn')
const kimi = require('../lib')
const { ERROR_CODES } = kimi
const { INTERNAL, WITHOUT_BINDING } = require('../lib/kit/core.js')

const REPO = path.join(__dirname, '..')

function bareCopy(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-no-binding-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  for (const f of ['package.json', 'index.js', 'openclaw.plugin.json'])
    fs.copyFileSync(path.join(REPO, f), path.join(dir, f))
  fs.cpSync(path.join(REPO, 'lib'), path.join(dir, 'lib'), { recursive: true })
  return dir
}

const env = () => {
  const out = { PATH: process.env.PATH, HOME: os.tmpdir() }
  return out // no NAPI_RS_NATIVE_LIBRARY_PATH: the binding must not be found another way
}

// Runs in the child, in the bare copy: loads each adapter, then uses it; prints what happened as JSON.
const CHILD = `
const path = require('node:path')
const lib = path.join(process.argv[1], 'lib')
const caught = (f) => { try { f(); return null } catch (e) { return { code: e.code, message: String(e.message) } } }
const rejected = (p) => p.then(() => null, (e) => ({ code: e.code, message: String(e.message) }))
;(async () => {
  const out = {}
  out.core = caught(() => require(path.join(lib, 'index.js')))
  const load = {}
  for (const f of ['adapters/opencode.js', 'adapters/openclaw.js', 'adapters/pi.js', 'tools.js']) {
    load[f] = caught(() => require(path.join(lib, f)))
  }
  out.load = load
  out.opencode = await rejected(Promise.resolve().then(() => require(path.join(lib, 'adapters/opencode.js')).default.server({}, {})))
  let registered = false
  out.openclaw = caught(() => require(path.join(lib, 'adapters/openclaw.js')).register({ runtime: { version: '1' }, registerProvider: () => (registered = true) }))
  out.openclawRegistered = registered
  const providers = []
  await require(path.join(lib, 'adapters/pi.js'))({ registerProvider: (id, p) => providers.push({ id, p }) })
  const p = providers[0] && providers[0].p
  out.pi = { count: providers.length, name: p && p.name, models: p && p.models.map((m) => m.id) }
  if (p) {
    const events = []
    for await (const e of p.streamSimple({ id: p.models[0].id, api: p.api, provider: providers[0].id }, { messages: [] }, {})) events.push(e)
    out.pi.events = events.map((e) => ({ type: e.type, message: e.error && e.error.errorMessage }))
  }
  process.stdout.write(JSON.stringify(out) + '\\n')
})().catch((e) => process.stdout.write(JSON.stringify({ crashed: String(e.stack || e) }) + '\\n'))
`

test('the adapters load without the native binding and say why on use', { timeout: 30000 }, async (t) => {
  const dir = bareCopy(t)
  const r = await spawnCollect(process.execPath, ['-e', CHILD, dir], { cwd: dir, env: env(), timeoutMs: 20000 })
  assert.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout.trim().split('\n').pop())
  assert.equal(out.crashed, undefined, out.crashed)
  // The copy really has no binding: the core itself does not load there.
  assert.ok(out.core, 'lib/index.js loaded without its binding: the copy is not bare')
  assert.match(out.core.message, /native binding/i)
  for (const [file, err] of Object.entries(out.load))
    assert.equal(err, null, `${file} threw while loading: ${err && err.message}`)

  const missing = (err, who) => {
    assert.ok(err, `${who}: used without the binding, it did not fail`)
    assert.equal(err.code, ERROR_CODES.INTERNAL, `${who}: ${err.message}`)
    assert.match(err.message, /native binding did not load: .*native binding/i, who)
  }
  missing(out.opencode, 'opencode server()')
  missing(out.openclaw, 'openclaw register()')
  assert.equal(out.openclawRegistered, false, 'openclaw got no provider that cannot work')
  // pi always starts: the provider is listed, and its requests end with the reason.
  assert.equal(out.pi.count, 1)
  assert.match(out.pi.name, /unavailable/)
  assert.deepEqual(out.pi.models, ['kimi-for-coding'])
  assert.deepEqual(
    out.pi.events.map((e) => e.type),
    ['error'],
  )
  assert.match(out.pi.events[0].message, /kimi-native could not start in this pi: .*native binding/i)
})

test(
  'the CLI without the native binding: a coded error and exit 3, for the quick path and commander alike',
  { timeout: 30000 },
  async (t) => {
    const dir = bareCopy(t)
    for (const args of [['status'], ['login', '--no-browser']]) {
      const r = await spawnCollect(process.execPath, [path.join(dir, 'lib', 'cli.js'), ...args], {
        cwd: dir,
        env: env(),
        timeoutMs: 20000,
      })
      assert.equal(r.code, 3, `${args.join(' ')}: ${r.stdout}${r.stderr}`)
      assert.match(
        r.stderr,
        new RegExp(
          `^error \\[${ERROR_CODES.INTERNAL}\\] kimi-native's native binding did not load: .*native binding`,
          'im',
        ),
      )
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
    }
  },
)

test("the missing-binding error's code is the core's", () => {
  // lib/kit/core.js spells it out because without the binding the core's list is out of reach.
  assert.equal(INTERNAL, ERROR_CODES.INTERNAL)
})

test("what pi's provider shows without the binding is the core's: provider id, marker, limits", () => {
  assert.equal(WITHOUT_BINDING.piId, kimi.PROVIDER.piId)
  assert.equal(WITHOUT_BINDING.piMarker.access, kimi.AUTH_MARKERS.pi.access)
  assert.equal(WITHOUT_BINDING.piMarker.managedBy, kimi.AUTH_MARKERS.pi.managedBy)
  assert.deepEqual(WITHOUT_BINDING.limits, { ...kimi.LIMITS })
})
