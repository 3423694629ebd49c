'use strict'
// `pi install npm:kimi-native` as a user runs it, against a local registry (verdaccio on loopback, no uplink)
// holding the root package and the linux-x64-gnu platform package published the way a release publishes them
// (`napi prepublish -t npm`, then `npm publish`). The optional platform dependency has to resolve inside the
// npm project each pi installs into: pi 1.x its own `<agent dir>/npm`, pi 0.73 `npm install -g` (here a
// sandboxed prefix). Then pi starts with the installed extension (no -e) and serves a prompt from a CLI login.
// With CI=true a host or registry that cannot be installed fails the run instead of skipping it.

const { test, before, after } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { ensureHost, createSandbox } = require('./helpers/sandbox')
const { ensureNode } = require('./helpers/install')
const { PI, PI1 } = require('./helpers/hosts/pi')
const { startRegistry, publishCheckout } = require('./helpers/registry')
const { piChecks } = require('./helpers/pi-checks')

const FAKE_PATH = path.join(__dirname, 'fake-kimi', 'server.js')
const CI = process.env.CI === 'true'

let core = null
try {
  core = require('..')
} catch {}

let fake = null
let checks = null
let registry = null
let published = null
let work = null
let setupSkip = null
let node22 = null

before(async () => {
  if (!core) setupSkip = 'kimi-native core not loadable'
  else if (process.platform !== 'linux' || process.arch !== 'x64')
    setupSkip = 'publishes the linux-x64-gnu platform package only'
  else {
    node22 = ensureNode(22)
    if (!node22.ok) setupSkip = node22.reason
  }
  if (!setupSkip) {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'kn-pi-install-'))
    try {
      const t0 = Date.now()
      // verdaccio 6 needs Node >= 22
      registry = await startRegistry(path.join(work, 'registry'), { node: node22.node })
      published = publishCheckout(registry, path.join(work, 'stage'))
      console.log(
        `# registry up and ${published.platformPackages.join(', ')} + root published in ${Date.now() - t0} ms`,
      )
    } catch (err) {
      setupSkip = `local registry: ${err.message.split('\n')[0]}`
    }
  }
  if (setupSkip && CI) throw new Error(`pi install test cannot run here (CI=true does not skip): ${setupSkip}`)
  if (setupSkip) return
  fake = await require(FAKE_PATH).startFakeKimi({ deviceInterval: 1 })
  checks = piChecks({ core, fake })
})

after(async () => {
  if (fake) await fake.close()
  if (registry) await registry.close()
  if (work) fs.rmSync(work, { recursive: true, force: true })
})

function sandbox(t) {
  const sb = createSandbox({ host: 'pi' })
  const restore = sb.enterProcess({ KIMI_CODE_OAUTH_HOST: fake.oauthHost, KIMI_CODE_BASE_URL: fake.baseUrl })
  t.after(() => {
    restore()
    sb.cleanup()
  })
  return sb
}

/** Install from the registry, then a print-mode prompt through the installed extension. */
async function installAndPrompt(t, pi, { npmRoot, extraEnv = {} }) {
  const sb = sandbox(t)
  await checks.nativeLogin(sb)
  const id = core.PROVIDER.piId
  const env = checks.piEnv(sb, { ...registry.env, ...extraEnv(sb) })
  const installEnv = { ...env, PI_OFFLINE: undefined }
  let r = await sb.pi(pi, ['install', 'npm:kimi-native'], { env: installEnv, timeoutMs: 240000 })
  assert.equal(r.code, 0, `pi install: ${r.stderr}\n${r.stdout}`)
  const root = npmRoot(sb)
  const platformPkg = published.platformPackages[0]
  const installed = path.join(root, 'node_modules', 'kimi-native')
  assert.ok(fs.existsSync(path.join(installed, 'package.json')), `kimi-native installed under ${root}`)
  // Where node's resolution from kimi-native's loader finds it: hoisted (a project) or nested (npm -g).
  const addonPkg = [
    path.join(installed, 'node_modules', platformPkg),
    path.join(root, 'node_modules', platformPkg),
  ].find((d) => fs.existsSync(d))
  assert.ok(addonPkg, `optional platform package ${platformPkg} resolved for it`)
  assert.ok(
    fs.readdirSync(addonPkg).some((f) => f.endsWith('.node')),
    'platform package carries the addon',
  )
  assert.ok(!fs.readdirSync(installed).some((f) => f.endsWith('.node')), 'no addon copied by hand')

  const since = fake.requests.length
  r = await sb.pi(
    pi,
    [
      '--no-session',
      '--model',
      `${id}/${core.PROVIDER.defaultModel}`,
      '--thinking',
      'low',
      '--mode',
      'json',
      '-p',
      'hello',
    ],
    { env, timeoutMs: 90000 },
  )
  assert.equal(r.code, 0, r.stderr)
  assert.doesNotMatch(r.stderr, /could not start|native binding/i)
  const chats = checks.chatsSince(since)
  assert.equal(chats.length, 1, 'the prompt went to the fake Kimi server')
  assert.equal(JSON.parse(chats[0].body).thinking.type, 'enabled')
  checks.assertNoSecretInPiFiles(sb)
  return r
}

test(`pi ${PI1.version}: pi install npm:kimi-native resolves the platform package in pi's own npm project`, async (t) => {
  if (setupSkip) return t.skip(setupSkip)
  const pi = ensureHost({ host: 'pi', version: PI1.version })
  if (!pi.ok) {
    if (CI) assert.fail(pi.reason)
    return t.skip(pi.reason)
  }
  const t0 = Date.now()
  await installAndPrompt(t, pi, { npmRoot: (sb) => path.join(sb.agentDir, 'npm'), extraEnv: () => ({}) })
  console.log(`# pi ${PI1.version} install + prompt: ${Date.now() - t0} ms`)
})

test(`pi ${PI.version}: pi install npm:kimi-native (npm install -g into a sandboxed prefix)`, async (t) => {
  if (setupSkip) return t.skip(setupSkip)
  const pi = ensureHost({ host: 'pi' })
  if (!pi.ok) {
    if (CI) assert.fail(pi.reason)
    return t.skip(pi.reason)
  }
  const prefix = (sb) => path.join(sb.dir, 'npm-global')
  const t0 = Date.now()
  await installAndPrompt(t, pi, {
    npmRoot: (sb) => path.join(prefix(sb), 'lib'),
    extraEnv: (sb) => ({ npm_config_prefix: prefix(sb) }),
  })
  console.log(`# pi ${PI.version} install + prompt: ${Date.now() - t0} ms`)
})
