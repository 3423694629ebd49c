'use strict'
// Release wiring: the GitHub Actions workflows, package.json (scripts, napi.targets, files), the committed
// npm/<platform> packages and the helper scripts must agree with each other. Nothing here builds Rust.
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, execSync, spawnSync } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
const WORKFLOW_DIR = path.join(ROOT, '.github', 'workflows')
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
const scripts = pkg.scripts || {}
const targets = (pkg.napi && pkg.napi.targets) || []
const binaryName = (pkg.napi && pkg.napi.binaryName) || pkg.name

// What each Rust target must become on npm (napi-rs naming; os/cpu/libc as npm understands them).
const TARGET_TABLE = {
  'x86_64-unknown-linux-gnu': { dir: 'linux-x64-gnu', os: 'linux', cpu: 'x64', libc: 'glibc' },
  'aarch64-unknown-linux-gnu': { dir: 'linux-arm64-gnu', os: 'linux', cpu: 'arm64', libc: 'glibc' },
  'x86_64-unknown-linux-musl': { dir: 'linux-x64-musl', os: 'linux', cpu: 'x64', libc: 'musl' },
  'aarch64-unknown-linux-musl': { dir: 'linux-arm64-musl', os: 'linux', cpu: 'arm64', libc: 'musl' },
  'x86_64-apple-darwin': { dir: 'darwin-x64', os: 'darwin', cpu: 'x64' },
  'aarch64-apple-darwin': { dir: 'darwin-arm64', os: 'darwin', cpu: 'arm64' },
  'x86_64-pc-windows-msvc': { dir: 'win32-x64-msvc', os: 'win32', cpu: 'x64' },
  'aarch64-pc-windows-msvc': { dir: 'win32-arm64-msvc', os: 'win32', cpu: 'arm64' },
}

// ---------------------------------------------------------------------------------------------------
// YAML parser: the `yaml` devDependency; if node_modules lacks it, a pinned copy in .test-cache/yaml.
const YAML_VERSION = '2.9.1'
function loadYaml() {
  try {
    return require('yaml')
  } catch {}
  const dir = path.join(ROOT, '.test-cache', 'yaml')
  const entry = path.join(dir, 'node_modules', 'yaml')
  if (!fs.existsSync(path.join(entry, 'package.json'))) {
    fs.mkdirSync(dir, { recursive: true })
    execSync(
      `npm install --no-save --no-package-lock --ignore-scripts --no-audit --no-fund --prefix "${dir}" yaml@${YAML_VERSION}`,
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    )
  }
  return require(entry)
}
const YAML = loadYaml()

function readWorkflows() {
  const files = fs.existsSync(WORKFLOW_DIR)
    ? fs
        .readdirSync(WORKFLOW_DIR)
        .filter((f) => /\.ya?ml$/.test(f))
        .sort()
    : []
  return files.map((file) => {
    const text = fs.readFileSync(path.join(WORKFLOW_DIR, file), 'utf8')
    const doc = YAML.parseDocument(text, { uniqueKeys: true, prettyErrors: true })
    return { file, doc, data: doc.errors.length ? null : doc.toJS() }
  })
}
const workflows = readWorkflows()
const ci = workflows.find((w) => w.file === 'CI.yml')
function jobsOf(w) {
  assert.ok(w, 'workflow missing')
  assert.ok(w.data, `${w.file} does not parse: ${w.doc.errors.map(String).join('\n')}`)
  return Object.entries(w.data.jobs || {})
}

function stringLeaves(value, out = []) {
  if (typeof value === 'string') out.push(value)
  else if (Array.isArray(value)) value.forEach((v) => stringLeaves(v, out))
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => stringLeaves(v, out))
  return out
}
// Every shell command a job can run: its `run:` steps plus string values of its matrix (`build:` entries).
function commandsOf(job) {
  const runs = (job.steps || []).filter((s) => typeof s.run === 'string').map((s) => s.run)
  const matrix = job.strategy && job.strategy.matrix ? stringLeaves(job.strategy.matrix) : []
  return [...runs, ...matrix]
}
// Split shell text into simple commands (newlines, &&, ||, ;, |, and `bash -c "..."` bodies).
function simpleCommands(text) {
  return text
    .replace(/\\\n/g, ' ')
    .split(/\n|&&|\|\||;|\|/)
    .map((c) => c.replace(/^[\s'"(]+|[\s'")]+$/g, '').trim())
    .filter(Boolean)
}
function tokens(cmd) {
  return cmd.split(/\s+/).filter(Boolean)
}

function findMatrixTargets(job) {
  const m = (job.strategy && job.strategy.matrix) || {}
  if (Array.isArray(m.settings)) return m.settings.map((s) => s.target)
  if (Array.isArray(m.target)) return m.target
  return []
}
function usesStep(job, action) {
  return (job.steps || []).filter((s) => typeof s.uses === 'string' && s.uses.split('@')[0] === action)
}

// ---------------------------------------------------------------------------------------------------
// napi CLI: subcommands and flags are checked against the installed CLI's own --help.
function napiBin() {
  try {
    const cliPkgPath = require.resolve('@napi-rs/cli/package.json', { paths: [ROOT] })
    const cliPkg = JSON.parse(fs.readFileSync(cliPkgPath, 'utf8'))
    const bin = typeof cliPkg.bin === 'string' ? cliPkg.bin : cliPkg.bin.napi
    return path.join(path.dirname(cliPkgPath), bin)
  } catch {
    return null
  }
}
const NAPI = napiBin()
const helpCache = new Map()
function napiHelp(sub) {
  if (!helpCache.has(sub)) {
    const r = spawnSync(process.execPath, [NAPI, sub, '--help'], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    })
    // eslint-disable-next-line no-control-regex
    const text = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '')
    helpCache.set(sub, { ok: r.status === 0, text })
  }
  return helpCache.get(sub)
}
function checkNapiInvocation(args, where, problems) {
  const [sub, ...rest] = args
  if (!sub) return problems.push(`${where}: \`napi\` without a subcommand`)
  const help = napiHelp(sub)
  if (!help.ok) return problems.push(`${where}: \`napi ${sub}\` is not a napi CLI subcommand`)
  for (const t of rest) {
    if (!t.startsWith('-') || t.includes('${{') || t === '--') continue
    const flag = t.split('=')[0]
    const re = new RegExp(`(^|[\\s,])${flag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=[\\s,]|$)`, 'm')
    if (!re.test(help.text)) problems.push(`${where}: \`napi ${sub}\` has no option ${flag}`)
  }
}

const YARN_BUILTINS = new Set([
  'install',
  'add',
  'remove',
  'run',
  'dlx',
  'exec',
  'config',
  'set',
  'workspace',
  'workspaces',
  'up',
  'why',
  'info',
  'pack',
  'npm',
  'version',
  'cache',
  'node',
  'bin',
  'plugin',
  'constraints',
])
const NPM_LIFECYCLE = new Set(['test', 'start', 'stop', 'restart'])

// ---------------------------------------------------------------------------------------------------

test('every workflow file parses as YAML and every job is well formed', () => {
  assert.ok(workflows.length > 0, `no workflow files in ${path.relative(ROOT, WORKFLOW_DIR)}`)
  assert.ok(ci, '.github/workflows/CI.yml is missing')
  for (const w of workflows) {
    assert.deepEqual(w.doc.errors.map(String), [], `${w.file} does not parse`)
    assert.ok(w.data.on, `${w.file}: no "on" trigger`)
    for (const [name, job] of jobsOf(w)) {
      assert.ok(job['runs-on'], `${w.file} job ${name}: no runs-on`)
      assert.ok(Array.isArray(job.steps) && job.steps.length, `${w.file} job ${name}: no steps`)
      for (const [i, step] of job.steps.entries()) {
        assert.ok('uses' in step !== 'run' in step, `${w.file} job ${name} step ${i}: needs exactly one of uses/run`)
      }
      for (const need of [].concat(job.needs || [])) {
        assert.ok(w.data.jobs[need], `${w.file} job ${name}: needs unknown job ${need}`)
      }
    }
  }
})

test('every npm run / yarn / npx napi command in the workflows exists', (t) => {
  if (!NAPI) return t.skip('@napi-rs/cli is not installed (run `npm install --ignore-scripts`)')
  const problems = []
  let checked = 0
  let inWorkflows = 0
  for (const w of workflows) {
    for (const [name, job] of jobsOf(w)) {
      for (const text of commandsOf(job)) {
        for (const cmd of simpleCommands(text)) {
          const where = `${w.file} job ${name}: \`${cmd}\``
          const tk = tokens(cmd)
          for (let i = 0; i < tk.length; i++) {
            if (tk[i] === 'npm' && (tk[i + 1] === 'run' || tk[i + 1] === 'run-script')) {
              const script = tk[i + 2]
              checked++
              if (!script || !(script in scripts)) {
                problems.push(`${where}: package.json has no script "${script}"`)
                continue
              }
              const sep = tk.indexOf('--', i + 3)
              const body = tokens(scripts[script])
              if (body[0] === 'napi')
                checkNapiInvocation([...body.slice(1), ...(sep >= 0 ? tk.slice(sep + 1) : [])], where, problems)
            } else if (tk[i] === 'npm' && NPM_LIFECYCLE.has(tk[i + 1])) {
              checked++
              if (!(tk[i + 1] in scripts)) problems.push(`${where}: package.json has no script "${tk[i + 1]}"`)
            } else if (tk[i] === 'yarn' && tk[i + 1] && !tk[i + 1].startsWith('-')) {
              checked++
              if (tk[i + 1] === 'napi') checkNapiInvocation(tk.slice(i + 2), where, problems)
              else if (!YARN_BUILTINS.has(tk[i + 1]) && !(tk[i + 1] in scripts))
                problems.push(`${where}: package.json has no script "${tk[i + 1]}"`)
            } else if (tk[i] === 'npx') {
              let j = i + 1
              while (tk[j] && tk[j].startsWith('-')) j++
              if (tk[j] === 'napi') {
                checked++
                checkNapiInvocation(tk.slice(j + 1), where, problems)
              }
            }
          }
        }
      }
    }
  }
  inWorkflows = checked
  // package.json scripts that call napi are part of the pipeline too.
  for (const [name, body] of Object.entries(scripts)) {
    for (const cmd of simpleCommands(body)) {
      const tk = tokens(cmd)
      if (tk[0] === 'napi') {
        checked++
        checkNapiInvocation(tk.slice(1), `package.json scripts.${name}`, problems)
      }
    }
  }
  assert.ok(inWorkflows >= 5, `only ${inWorkflows} workflow commands found: the command scanner is broken`)
  assert.deepEqual(problems, [])
})

test('files and scripts referenced by workflow commands exist', () => {
  const problems = []
  for (const w of workflows) {
    for (const [name, job] of jobsOf(w)) {
      for (const text of commandsOf(job)) {
        for (const m of text.matchAll(/\b(?:node|bash|sh)\s+(?:--test\s+)?((?:scripts|__test__)\/[\w./-]+)/g)) {
          if (!fs.existsSync(path.join(ROOT, m[1]))) problems.push(`${w.file} job ${name}: ${m[1]} does not exist`)
        }
      }
    }
  }
  assert.deepEqual(problems, [])
})

test('build matrix builds exactly napi.targets, each with the right toolchain', () => {
  assert.ok(targets.length > 0, 'package.json napi.targets is empty')
  const buildJobs = jobsOf(ci).filter(([, job]) =>
    usesStep(job, 'actions/upload-artifact').some((s) => String(s.with && s.with.name).startsWith('bindings-')),
  )
  assert.equal(buildJobs.length, 1, 'expected exactly one job uploading bindings-<target> artifacts')
  const [, build] = buildJobs[0]
  const settings = build.strategy.matrix.settings
  const built = settings.map((s) => s.target)
  assert.equal(new Set(built).size, built.length, `duplicate targets in the build matrix: ${built}`)
  assert.deepEqual([...built].sort(), [...targets].sort(), 'build matrix targets != package.json napi.targets')
  const upload = usesStep(build, 'actions/upload-artifact')[0].with
  assert.equal(upload.name, 'bindings-${{ matrix.settings.target }}')
  assert.equal(upload['if-no-files-found'], 'error')
  for (const s of settings) {
    const cmd = s.build
    assert.match(
      cmd,
      new RegExp(`--target ${s.target}(\\s|$)`),
      `${s.target}: build command does not pass --target ${s.target}`,
    )
    if (/linux-gnu/.test(s.target)) {
      assert.match(cmd, /--use-napi-cross/, `${s.target}: linux-gnu must use --use-napi-cross (glibc 2.17 floor)`)
      assert.match(s.host, /^ubuntu/)
    } else if (/linux-musl/.test(s.target)) {
      assert.match(cmd, /(\s-x|--cross-compile)(\s|$)/, `${s.target}: musl must build with -x (cargo-zigbuild)`)
      assert.match(s.host, /^ubuntu/)
    } else {
      assert.doesNotMatch(
        cmd,
        /--use-napi-cross|\s-x(\s|$)|--cross-compile|--use-cross/,
        `${s.target}: must build natively`,
      )
      assert.match(s.host, /apple-darwin/.test(s.target) ? /^macos/ : /^windows/, `${s.target}: wrong host ${s.host}`)
    }
  }
  const stepsText = JSON.stringify(build.steps)
  assert.match(stepsText, /check-glibc\.sh/, 'the build job must check the glibc floor of linux-gnu binaries')
  assert.match(stepsText, /setup-zig/, 'the musl build needs zig')
  assert.match(stepsText, /cargo-zigbuild/, 'the musl build needs cargo-zigbuild')
})

test('every target binary is tested on its own platform', () => {
  const tested = new Set()
  for (const [name, job] of jobsOf(ci)) {
    const dl = usesStep(job, 'actions/download-artifact')
    if (!dl.length || name === 'publish') continue
    const ts = findMatrixTargets(job)
    assert.ok(ts.length, `${name}: downloads artifacts but has no target matrix`)
    for (const step of dl)
      assert.match(String(step.with && step.with.name), /^bindings-\$\{\{ matrix\.(settings\.)?target \}\}$/)
    assert.ok(
      commandsOf(job).some((c) => /npm run test:js/.test(c)),
      `${name}: does not run the JS tests`,
    )
    ts.forEach((x) => tested.add(x))
    if (name === 'test-linux-binding') {
      const text = commandsOf(job).join('\n')
      assert.match(text, /-slim/, 'glibc binaries are tested in a node slim image')
      assert.match(text, /-alpine/, 'musl binaries are tested in a node alpine image')
      assert.match(text, /dbus-run-session/, 'Linux keychain tests need a D-Bus session')
      assert.match(text, /gnome-keyring-daemon --unlock/, 'Linux keychain tests need an unlocked gnome-keyring')
    }
  }
  assert.deepEqual([...tested].sort(), [...targets].sort(), 'tested targets != napi.targets')
})

test('publish job: version commit gate, provenance, dist-tags', () => {
  const publish = ci.data.jobs.publish
  assert.ok(publish, 'CI.yml has no publish job')
  assert.equal(publish.permissions && publish.permissions['id-token'], 'write', 'provenance needs id-token: write')
  assert.equal(publish.permissions && publish.permissions.contents, 'write', 'napi prepublish creates a GitHub release')
  const needs = [].concat(publish.needs || [])
  for (const [name, job] of jobsOf(ci)) {
    if (name !== 'publish' && /^test|^lint/.test(name)) assert.ok(needs.includes(name), `publish must wait for ${name}`)
    if (name !== 'publish' && job.permissions)
      assert.notEqual(job.permissions['id-token'], 'write', `${name} must not get id-token`)
  }
  const run = commandsOf(publish).join('\n')
  assert.ok(run.includes('^[0-9]+\\.[0-9]+\\.[0-9]+$'), 'plain x.y.z commit message -> latest')
  assert.match(run, /npm publish --provenance --access public\s*\n/, 'latest publish with provenance')
  assert.match(run, /npm publish --provenance --access public --tag next/, 'prerelease -> --tag next')
  assert.match(run, /npx napi create-npm-dirs/)
  assert.match(run, /npm run artifacts/)
  assert.equal(scripts.prepublishOnly, 'napi prepublish -t npm', 'prepublishOnly wires the optionalDependencies')
  const dl = usesStep(publish, 'actions/download-artifact')[0].with
  assert.equal(dl.path, 'artifacts')
  assert.equal(dl.pattern, 'bindings-*')
  // Version-commit regex behaves as documented.
  const latest = /^[0-9]+\.[0-9]+\.[0-9]+$/
  assert.ok(latest.test('1.2.3') && !latest.test('1.2.3-rc.1') && !latest.test('fix: 1.2.3'))
})

test('CI installs with a lockfile in sync with package.json and never runs the install script', () => {
  // `npm install`, not `npm ci`: the committed lockfile lacks other platforms' optional packages of
  // @napi-rs/cli's own native deps (the registry it was written against does not serve them), and `npm ci`
  // rejects such a lockfile while `npm install` completes it.
  const installs = workflows
    .flatMap((w) => jobsOf(w).flatMap(([, job]) => commandsOf(job)))
    .filter((c) => /\bnpm (?:ci|install)\b/.test(c))
  assert.ok(installs.length > 0, 'workflows are expected to install JS dependencies')
  for (const c of installs) assert.doesNotMatch(c, /\bnpm ci\b/, `\`${c.trim()}\` would reject the lockfile`)
  const lockPath = path.join(ROOT, 'package-lock.json')
  assert.ok(fs.existsSync(lockPath), 'package-lock.json must be committed')
  const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'))
  const rootEntry = (lock.packages && lock.packages['']) || {}
  // (optionalDependencies are written at publish time by `napi prepublish`, so they are not compared.)
  for (const field of ['dependencies', 'devDependencies']) {
    assert.deepEqual(
      rootEntry[field] || {},
      pkg[field] || {},
      `package-lock.json ${field} out of sync (run npm install --ignore-scripts)`,
    )
  }
  for (const c of workflows.flatMap((w) => jobsOf(w).flatMap(([, job]) => commandsOf(job)))) {
    for (const m of c.matchAll(/\bnpm (?:ci|install)\b[^\n;&|'"]*/g)) {
      assert.match(m[0], /--ignore-scripts/, `\`${m[0]}\` would run the install script (which may build Rust)`)
    }
  }
})

test('npm/<platform> packages match their targets', () => {
  const npmDir = path.join(ROOT, 'npm')
  const dirs = fs
    .readdirSync(npmDir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort()
  const expectedDirs = targets.map((t) => {
    assert.ok(TARGET_TABLE[t], `no expectation for target ${t} in release.test.js TARGET_TABLE`)
    return TARGET_TABLE[t].dir
  })
  assert.deepEqual(dirs, [...expectedDirs].sort(), 'npm/ dirs != napi.targets')
  for (const t of targets) {
    const e = TARGET_TABLE[t]
    const p = JSON.parse(fs.readFileSync(path.join(npmDir, e.dir, 'package.json'), 'utf8'))
    const main = `${binaryName}.${e.dir}.node`
    assert.equal(p.name, `${pkg.name}-${e.dir}`, `${e.dir}: name`)
    assert.equal(
      p.version,
      pkg.version,
      `${e.dir}: version must equal the root version (npm version runs napi version)`,
    )
    assert.deepEqual(p.os, [e.os], `${e.dir}: os`)
    assert.deepEqual(p.cpu, [e.cpu], `${e.dir}: cpu`)
    assert.deepEqual(p.libc, e.libc ? [e.libc] : undefined, `${e.dir}: libc`)
    assert.equal(p.main, main, `${e.dir}: main`)
    assert.deepEqual(p.files, [main], `${e.dir}: files`)
    assert.equal(p.license, pkg.license, `${e.dir}: license`)
    assert.deepEqual(p.engines, pkg.engines, `${e.dir}: engines`)
    assert.ok(!p.scripts, `${e.dir}: a platform package must not have scripts`)
    assert.ok(fs.existsSync(path.join(npmDir, e.dir, 'README.md')), `${e.dir}: README.md`)
  }
})

test('committed npm/ dirs are exactly what `napi create-npm-dirs` generates now', (t) => {
  if (!NAPI) return t.skip('@napi-rs/cli is not installed (run `npm install --ignore-scripts`)')
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kimi-npm-dirs-'))
  try {
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(tmp, 'package.json'))
    execFileSync(process.execPath, [NAPI, 'create-npm-dirs', '--cwd', tmp], { stdio: 'pipe' })
    for (const t2 of targets) {
      const dir = TARGET_TABLE[t2].dir
      for (const f of ['package.json', 'README.md']) {
        const want = fs.readFileSync(path.join(tmp, 'npm', dir, f), 'utf8')
        const have = fs.readFileSync(path.join(ROOT, 'npm', dir, f), 'utf8')
        assert.equal(have, want, `npm/${dir}/${f} is stale: rerun \`npx napi create-npm-dirs\``)
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
})

test('root package ships only what users need', () => {
  const files = pkg.files || []
  assert.ok(files.length, 'package.json needs a files list')
  const covered = (p) =>
    files.some((f) => {
      const norm = f.replace(/^\.\//, '').replace(/\/$/, '')
      return p === norm || p.startsWith(`${norm}/`)
    })
  const entries = new Set(['index.js', 'index.d.ts'])
  const add = (p) => typeof p === 'string' && entries.add(p.replace(/^\.\//, ''))
  add(pkg.main)
  add(pkg.types)
  Object.values(pkg.bin || {}).forEach(add)
  stringLeaves(pkg.exports || {}).forEach(add)
  const install = /node\s+(\S+)/.exec(scripts.install || '')
  if (install) add(install[1])
  entries.delete('package.json') // npm always packs it
  for (const e of entries) assert.ok(covered(e), `files does not ship ${e}`)
  const FORBIDDEN =
    /(^|\/)(src|target|__test__|npm|\.github|\.ci|docs|bench|node_modules|\.test-cache)(\/|$)|\.node$|^Cargo\.(toml|lock)$|^build\.rs$|\.tgz$/
  for (const f of files) {
    const norm = f.replace(/^\.\//, '').replace(/\/$/, '')
    assert.doesNotMatch(norm, FORBIDDEN, `files must not ship ${f}`)
    assert.notEqual(norm, 'scripts', 'ship scripts/install.js only, not the whole scripts/ dir')
  }
  // What npm would actually pack right now (no scripts run).
  const out = execSync('npm pack --dry-run --json --ignore-scripts', {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const packed = JSON.parse(out.slice(out.indexOf('[')))[0].files.map((f) => f.path)
  for (const p of packed) assert.doesNotMatch(p, FORBIDDEN, `npm pack would ship ${p}`)
  for (const e of entries) {
    if (fs.existsSync(path.join(ROOT, e))) assert.ok(packed.includes(e), `npm pack would not ship ${e}`)
  }
})

test('.cargo/config.toml links the Windows CRT statically', () => {
  const text = fs.readFileSync(path.join(ROOT, '.cargo', 'config.toml'), 'utf8')
  for (const t of targets.filter((x) => x.endsWith('-pc-windows-msvc'))) {
    const section = new RegExp(
      `\\[target\\.${t.replace(/[.-]/g, '\\$&')}\\]\\s*\\nrustflags\\s*=\\s*\\[[^\\]]*"target-feature=\\+crt-static"`,
    )
    assert.match(text, section, `${t}: needs rustflags target-feature=+crt-static`)
  }
})

test('release shell scripts parse, and check-glibc.sh really enforces the floor', (t) => {
  const bash = spawnSync('bash', ['--version'])
  if (bash.status !== 0) return t.skip('bash is not available on this machine')
  for (const s of ['scripts/verify-release.sh', 'scripts/check-glibc.sh']) {
    const r = spawnSync('bash', ['-n', path.join(ROOT, s)], { encoding: 'utf8' })
    assert.equal(r.status, 0, `${s}: ${r.stderr}`)
  }
  if (process.platform !== 'linux' || fs.existsSync('/etc/alpine-release'))
    return t.skip('glibc floor check needs a glibc Linux host')
  // The running node binary is a glibc ELF needing more than GLIBC_2.2.5 (x64) / 2.17 (arm64).
  const script = path.join(ROOT, 'scripts', 'check-glibc.sh')
  const high = spawnSync('bash', [script, process.execPath, '99.0'], { encoding: 'utf8' })
  assert.equal(high.status, 0, high.stderr)
  const m = /highest GLIBC_([0-9.]+)/.exec(high.stdout)
  assert.ok(m, high.stdout)
  const low = spawnSync('bash', [script, process.execPath, '2.0'], { encoding: 'utf8' })
  assert.notEqual(low.status, 0, 'check-glibc.sh accepted a binary above the floor')
  assert.match(low.stderr, /FAIL/)
})

// ---------------------------------------------------------------------------------------------------
// What the test jobs promise: cargo test everywhere, real keychains per platform, host e2e suites that
// fail (not skip) in CI, golden bytes that live in the repo.

const OS_OF_HOST = (host) =>
  /^macos/.test(host) ? 'darwin' : /^windows/.test(host) ? 'win32' : /^ubuntu/.test(host) ? 'linux' : null
/** The runner hosts a job runs on (a literal runs-on, or every value of the matrix key it names). */
function hostsOf(job) {
  const runsOn = String(job['runs-on'])
  const m = /^\$\{\{\s*matrix\.([\w.]+)\s*\}\}$/.exec(runsOn)
  if (!m) {
    // e.g. ${{ contains(matrix.target, 'aarch64') && 'ubuntu-24.04-arm' || 'ubuntu-latest' }}
    const literals = [...runsOn.matchAll(/'([\w.-]+)'/g)].map((x) => x[1]).filter((h) => OS_OF_HOST(h))
    return literals.length ? literals : [runsOn]
  }
  const [first, second] = m[1].split('.')
  const matrix = (job.strategy && job.strategy.matrix) || {}
  const values = [].concat(matrix[first] || [])
  return values.map((v) => (second ? v[second] : v))
}

test('cargo test runs in the workflow on Linux, macOS and Windows, and publish waits for it', () => {
  const oses = new Set()
  const jobs = []
  for (const [name, job] of jobsOf(ci)) {
    if (!commandsOf(job).some((c) => /(^|\s)cargo test(\s|$)/m.test(c))) continue
    jobs.push(name)
    for (const h of hostsOf(job)) oses.add(OS_OF_HOST(h))
  }
  assert.ok(jobs.length, 'no job runs `cargo test`')
  assert.deepEqual([...oses].sort(), ['darwin', 'linux', 'win32'], `cargo test runs on ${[...oses]}`)
  const needs = [].concat(ci.data.jobs.publish.needs || [])
  for (const j of jobs) assert.ok(needs.includes(j), `publish must wait for ${j}`)
})

test("keychain jobs: KIMI_NATIVE_TEST_KEYCHAIN=1 runs a real-keychain test for that platform; other platforms' tests skip", () => {
  const required = new Set()
  for (const [name, job] of jobsOf(ci)) {
    const viaEnv = job.env && String(job.env.KIMI_NATIVE_TEST_KEYCHAIN) === '1'
    const viaDocker = commandsOf(job).some((c) => /-e KIMI_NATIVE_TEST_KEYCHAIN=1\b/.test(c))
    if (!viaEnv && !viaDocker) continue
    const oses = viaDocker ? ['linux'] : hostsOf(job).map(OS_OF_HOST)
    assert.ok(oses.every(Boolean), `${name}: unknown runner ${hostsOf(job)}`)
    oses.forEach((o) => required.add(o))
  }
  assert.deepEqual([...required].sort(), ['darwin', 'linux', 'win32'], 'the real keychain is required on every OS')
  // keychain.test.js declares tests for each of those platforms...
  const src = fs.readFileSync(path.join(__dirname, 'keychain.test.js'), 'utf8')
  const declared = new Set()
  for (const m of src.matchAll(/gate\(t, \{ platforms: (\[[^\]]*\]|LINUX)/g)) {
    const list = m[1] === 'LINUX' ? ['linux'] : JSON.parse(m[1].replace(/'/g, '"'))
    list.forEach((p) => declared.add(p))
  }
  for (const os_ of required) assert.ok(declared.has(os_), `keychain.test.js has no test for ${os_}`)
  // ...and off Linux, with the flag set, its Linux (Secret Service) tests skip instead of failing (shown for
  // darwin: faking win32 on Linux breaks Node's own path handling; the gate treats every non-Linux OS alike).
  const preload = path.join(os.tmpdir(), `kimi-native-fake-platform-${process.pid}.js`)
  // Run as a plain script with TAP output, not as a child of this test runner.
  const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'))
  fs.writeFileSync(preload, "Object.defineProperty(process, 'platform', { value: process.env.KIMI_FAKE_PLATFORM })\n")
  try {
    for (const platform of ['darwin']) {
      const r = spawnSync(
        process.execPath,
        [
          '--require',
          preload,
          '--test-reporter=tap',
          '--test-name-pattern=^(keychain store|auto store|locked keyring|hung D-Bus|Secret Service)',
          path.join(__dirname, 'keychain.test.js'),
        ],
        {
          encoding: 'utf8',
          timeout: 60000,
          env: { ...childEnv, KIMI_FAKE_PLATFORM: platform, KIMI_NATIVE_TEST_KEYCHAIN: '1' },
        },
      )
      assert.equal(
        r.status,
        0,
        `${platform}: the Linux keychain tests failed instead of skipping\n${r.stdout}\n${r.stderr}`,
      )
      const skips = (r.stdout.match(/# SKIP runs on linux only/g) || []).length
      assert.ok(
        skips >= 5,
        `${platform}: expected the Secret Service tests to skip as Linux-only (${skips})\n${r.stdout}`,
      )
    }
  } finally {
    fs.rmSync(preload, { force: true })
  }
})

test('host e2e suites run with CI=true on linux x64 glibc (failing when a host cannot be installed); every other job skips them explicitly', () => {
  const list = (...a) =>
    spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'run-tests.js'), '--list', ...a], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
  const all = list()
  const e2e = all.filter((f) => /\.e2e\.test\.js$/.test(f))
  assert.ok(e2e.length >= 2, `host e2e suites: ${e2e}`)
  assert.deepEqual(
    list('--no-e2e'),
    all.filter((f) => !e2e.includes(f)),
    '--no-e2e leaves out exactly the e2e suites',
  )
  let e2eTargets = []
  for (const [name, job] of jobsOf(ci)) {
    for (const c of commandsOf(job).filter((x) => /npm run test:js/.test(x))) {
      if (name === 'test-linux-binding' && /node:\$\{\{ matrix\.node \}\}-slim/.test(c)) {
        assert.match(c, /-e CI=true/, 'the e2e container must see CI=true (an uninstallable host fails the run)')
        assert.match(
          c,
          /\$\{\{ matrix\.target != 'x86_64-unknown-linux-gnu' && '--no-e2e' \|\| '' \}\}/,
          `${name}: e2e on x64 glibc only`,
        )
        e2eTargets = findMatrixTargets(job).filter((t) => t === 'x86_64-unknown-linux-gnu')
      } else {
        assert.match(c, /npm run test:js -- --no-e2e/, `${name}: runs the JS tests without saying --no-e2e: ${c}`)
      }
    }
    assert.ok(!(job.env && /^(false|0)$/.test(String(job.env.CI))), `${name}: CI must not be switched off`)
  }
  assert.deepEqual(e2eTargets, ['x86_64-unknown-linux-gnu'], 'one target runs the host e2e suites')
})

test('golden bytes the tests compare with are vendored in __test__/golden (nothing outside the repo)', () => {
  const GOLDEN = path.join(__dirname, 'golden')
  const saved = process.env.KIMI_REFERENCE_DIR
  delete process.env.KIMI_REFERENCE_DIR
  try {
    assert.equal(require('./helpers/golden').goldenDir(), GOLDEN)
  } finally {
    if (saved !== undefined) process.env.KIMI_REFERENCE_DIR = saved
  }
  const wanted = new Set()
  const read = (dir, ext) =>
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(ext))
      .map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')])
  for (const [f, text] of read(__dirname, '.js')) {
    for (const m of text.matchAll(/(?:loadGolden|readGoldenFile)\('([^']+)'\)/g))
      wanted.add(m[1].endsWith('.jsonl') || m[1].includes('/') || m[1].includes('_') ? m[1] : `${m[1]}.jsonl`)
    if (f !== path.basename(__filename))
      assert.doesNotMatch(
        text,
        /['"]\.\.\/(\.\.\/)?shared\/|'shared', 'reference'/,
        `${f} reads files outside the repo`,
      )
  }
  const srcDir = path.join(ROOT, 'src')
  for (const [f, text] of read(srcDir, '.rs')) {
    for (const m of text.matchAll(/__test__\/golden\/([\w./-]+)/g)) wanted.add(m[1])
    assert.doesNotMatch(text, /\.\.\/shared\/|shared\/reference\/golden/, `src/${f} reads files outside the repo`)
  }
  assert.ok(wanted.size >= 3, `golden references found: ${[...wanted]}`)
  for (const w of wanted) assert.ok(fs.existsSync(path.join(GOLDEN, w)), `__test__/golden/${w} is missing`)
})

// ---------------------------------------------------------------------------------------------------
// First-run traps: what breaks a GitHub-hosted leg (macOS, Windows, slim/alpine containers) although every
// test passes on the Linux machine this suite usually runs on.

/** The shell a step runs under: its own `shell:`, else the job's, else the workflow's `defaults.run.shell`. */
function shellOf(w, job, step) {
  const dflt = (o) => o && o.defaults && o.defaults.run && o.defaults.run.shell
  return step.shell || dflt(job) || dflt(w.data) || null
}

test('no pipeline into `head` where bash runs with pipefail (an explicit `shell: bash` is `bash -eo pipefail`)', () => {
  // `big | head` under pipefail: head exits, the producer dies of SIGPIPE and the step fails with 141.
  const problems = []
  for (const w of workflows) {
    for (const [name, job] of jobsOf(w)) {
      for (const step of job.steps) {
        if (typeof step.run !== 'string') continue
        const pipefail = shellOf(w, job, step) === 'bash' || /\bset\s+-\w*o\s+pipefail\b|-o\s+pipefail\b/.test(step.run)
        if (pipefail && /\|\s*head\b/.test(step.run))
          problems.push(`${w.file} job ${name}, step "${step.name || step.run.trim()}"`)
      }
    }
  }
  assert.deepEqual(problems, [], 'use a command that reads all its input (sed -n 1p, a glob, ls -l ./*.node)')
})

test('steps passing `npm run <script> -- <args>` on Windows run under bash (npm.ps1 before npm 11.4 drops the `--`)', () => {
  const problems = []
  let checked = 0
  for (const w of workflows) {
    for (const [name, job] of jobsOf(w)) {
      if (!hostsOf(job).some((h) => OS_OF_HOST(h) === 'win32')) continue
      for (const step of job.steps) {
        if (typeof step.run !== 'string' || !/\bnpm run(?:-script)? \S+ -- /.test(step.run)) continue
        checked++
        if (shellOf(w, job, step) !== 'bash')
          problems.push(`${w.file} job ${name}, step "${step.name || step.run.trim()}"`)
      }
    }
  }
  assert.ok(checked > 0, 'no Windows job passes arguments to an npm script: the scanner is broken')
  assert.deepEqual(problems, [])
})

test('the Rust toolchain is pinned to one exact version for every job, at or above Cargo.toml rust-version', () => {
  const pin = String((ci.data.env || {}).RUST_TOOLCHAIN || '')
  assert.match(
    pin,
    /^\d+\.\d+\.\d+$/,
    'CI.yml env.RUST_TOOLCHAIN must be an exact x.y.z (a newer stable can add clippy lints)',
  )
  const cargo = fs.readFileSync(path.join(ROOT, 'Cargo.toml'), 'utf8')
  const msrv = (/^rust-version\s*=\s*"([\d.]+)"/m.exec(cargo) || [])[1]
  assert.ok(msrv, 'Cargo.toml has no rust-version')
  const num = (v) => v.split('.').map(Number).concat(0, 0).slice(0, 3)
  const [a, b] = [num(pin), num(msrv)]
  assert.ok(
    a[0] > b[0] || (a[0] === b[0] && (a[1] > b[1] || (a[1] === b[1] && a[2] >= b[2]))),
    `RUST_TOOLCHAIN ${pin} < rust-version ${msrv}`,
  )
  let steps = 0
  for (const [name, job] of jobsOf(ci)) {
    for (const step of usesStep(job, 'dtolnay/rust-toolchain')) {
      steps++
      assert.equal(
        step.uses,
        'dtolnay/rust-toolchain@master',
        `${name}: @master takes an explicit toolchain; @stable moves`,
      )
      assert.equal(
        step.with && step.with.toolchain,
        '${{ env.RUST_TOOLCHAIN }}',
        `${name}: toolchain must be env.RUST_TOOLCHAIN`,
      )
    }
    if (commandsOf(job).some((c) => /\bcargo (test|clippy|build)\b|npm run (lint|build)\b/.test(c))) {
      assert.ok(
        usesStep(job, 'dtolnay/rust-toolchain').length,
        `${name} runs cargo without installing the pinned toolchain`,
      )
    }
  }
  assert.ok(steps >= 3, `dtolnay/rust-toolchain steps: ${steps}`)
})

test('one failed build leg does not silently skip the other test legs; one job sums up every result', () => {
  const jobs = ci.data.jobs
  const needsOf = (j) => [].concat(j.needs || [])
  const legs = Object.entries(jobs).filter(
    ([, j]) => needsOf(j).includes('build') && usesStep(j, 'actions/download-artifact').length,
  )
  assert.ok(legs.length >= 2, 'test legs not found')
  for (const [name, j] of legs) {
    if (name === 'publish') continue
    assert.match(
      String(j.if || ''),
      /!cancelled\(\)|always\(\)/,
      `${name}: without if: !cancelled() one failed build leg skips it`,
    )
  }
  const summaries = Object.entries(jobs).filter(
    ([, j]) => /always\(\)/.test(String(j.if || '')) && !usesStep(j, 'actions/download-artifact').length,
  )
  assert.equal(summaries.length, 1, 'expected one `if: always()` job that sums up the results')
  const [sumName, sum] = summaries[0]
  const expected = Object.keys(jobs)
    .filter((n) => n !== sumName && n !== 'publish')
    .sort()
  assert.deepEqual(needsOf(sum).sort(), expected, `${sumName} must need every job but publish`)
  assert.match(commandsOf(sum).join('\n'), /success/, `${sumName} must fail unless every result is success`)
  const publishNeeds = needsOf(jobs.publish)
  for (const n of expected) assert.ok(publishNeeds.includes(n), `publish must need ${n}`)
  assert.doesNotMatch(
    String(jobs.publish.if || ''),
    /always\(\)|!cancelled\(\)|failure\(\)/,
    'publish must run only when everything passed',
  )
  // Every matrix job keeps its other legs running when one fails.
  for (const [name, j] of Object.entries(jobs)) {
    if (j.strategy && j.strategy.matrix) assert.equal(j.strategy['fail-fast'], false, `${name}: fail-fast: false`)
  }
})

test('TLS backend: ring (no aws-lc), and the Windows on Arm build puts clang on PATH for it', () => {
  const lock = fs.readFileSync(path.join(ROOT, 'Cargo.lock'), 'utf8')
  assert.match(lock, /^name = "ring"$/m, 'rustls uses the ring provider')
  assert.doesNotMatch(
    lock,
    /^name = "aws-lc-(rs|sys)"$/m,
    'aws-lc fails with --use-napi-cross on aarch64 (docs/release.md)',
  )
  if (!targets.includes('aarch64-pc-windows-msvc')) return
  const build = ci.data.jobs.build
  const clang = build.steps.filter(
    (s) => /aarch64-pc-windows-msvc/.test(String(s.if || '')) && /\bclang\b/.test(String(s.run || '')),
  )
  assert.equal(
    clang.length,
    1,
    "ring's build.rs compiles with `clang` for aarch64-pc-windows-msvc: the build job must make sure it is there",
  )
  const i = build.steps.indexOf(clang[0])
  const b = build.steps.findIndex((s) => s.name === 'Build')
  assert.ok(i >= 0 && i < b, 'the clang step must come before the build')
})

// Commands the tests run (directly, or through a scripts/*.sh they run) and the package that provides each in
// the Linux leg images: null = already in that base image. A new command fails the scan below until it is
// added here (and to the workflow's install line).
const TOOL_PACKAGES = {
  objdump: { debian: 'binutils', alpine: 'binutils' },
  readelf: { debian: 'binutils', alpine: 'binutils' },
  strip: { debian: 'binutils', alpine: 'binutils' },
  ps: { debian: 'procps', alpine: 'procps-ng' },
  git: { debian: 'git', alpine: 'git' },
  script: { debian: null /* bsdutils, Essential */, alpine: 'util-linux-misc' },
  flock: { debian: 'util-linux', alpine: 'flock' },
  // refresh.test.js as root; docker's default capabilities lack CAP_LINUX_IMMUTABLE, so in the containers
  // `chattr +i` is refused and those tests skip, saying so. Alpine: busybox's applet, if any.
  chattr: { debian: 'e2fsprogs', alpine: null },
  openssl: { debian: 'openssl', alpine: 'openssl' },
  'secret-tool': { debian: 'libsecret-tools', alpine: 'libsecret' },
  'dbus-run-session': { debian: 'dbus', alpine: 'dbus' },
  'gnome-keyring-daemon': { debian: 'gnome-keyring', alpine: 'gnome-keyring' },
  bash: { debian: null, alpine: 'bash' },
  tar: { debian: null, alpine: null },
  cp: { debian: null, alpine: null },
  node: { debian: null, alpine: null },
  npm: { debian: null, alpine: null },
  npx: { debian: null, alpine: null },
}
// Not needed in the workflow: the OS ships them (keychain.test.js: macOS `security`, Windows `cmdkey`), or only
// the parity tests use them (helpers/real-clients.js, with KIMI_REAL_CLIENTS=1, which .ci/run sets and CI.yml
// does not: it finds a Python for the official kimi-cli).
const NOT_IN_LEGS = new Set(['security', 'cmdkey', 'pyenv', 'uv', 'ldd'])

/** The commands a test file runs, following its local require()s and the scripts it runs via path.join. */
function commandsCalledBy(file, seen = new Set()) {
  const out = new Set()
  if (seen.has(file) || !fs.existsSync(file)) return out
  seen.add(file)
  let text = fs.readFileSync(file, 'utf8')
  // This file names every tool in the tables above: only what it runs counts.
  if (file === __filename)
    text = text.replace(/\/\/ Commands the tests run \(directly[\s\S]*?\nfunction commandsCalledBy/, '')
  // spawn(<command>, [<args>]) and the like, and execSync(<command line>).
  for (const m of text.matchAll(
    /\b(?:spawn|spawnSync|execFile|execFileSync|run|runTree)\(\s*['"`]([\w.-]+)['"`]\s*,\s*\[/g,
  ))
    out.add(m[1])
  for (const m of text.matchAll(/\bexecSync\(\s*['"`]([\w.-]+)\s/g)) out.add(m[1])
  for (const tool of Object.keys(TOOL_PACKAGES)) {
    const t = tool.replace(/[.-]/g, '\\$&')
    // A quoted command name, or a command inside a shell string (`… | gnome-keyring-daemon --unlock`).
    if (new RegExp(`['"\`]${t}['"\`]|\\|\\s*${t}\\s`).test(text)) out.add(tool)
  }
  for (const m of text.matchAll(/path\.join\(ROOT, 'scripts', '([\w.-]+\.sh)'\)/g)) {
    const sh = fs.readFileSync(path.join(ROOT, 'scripts', m[1]), 'utf8')
    out.add('bash')
    for (const tool of Object.keys(TOOL_PACKAGES))
      if (new RegExp(`(^|[\\s|;&($])${tool}(\\s|$)`, 'm').test(sh)) out.add(tool)
  }
  for (const m of text.matchAll(/require\('(\.{1,2}\/[^']+)'\)/g)) {
    let dep = path.resolve(path.dirname(file), m[1])
    if (!dep.endsWith('.js')) dep += '.js'
    for (const c of commandsCalledBy(dep, seen)) out.add(c)
  }
  return out
}

test('every command a test runs is installed in its Linux container leg, and the CA roots the native client needs', () => {
  const list = (...a) =>
    spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'run-tests.js'), '--list', ...a], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
  const called = (files) => {
    const all = new Set()
    for (const f of files) for (const c of commandsCalledBy(path.join(ROOT, f))) all.add(c)
    return all
  }
  const unknown = [...called(list())].filter((c) => !(c in TOOL_PACKAGES) && !NOT_IN_LEGS.has(c))
  assert.deepEqual(
    unknown,
    [],
    'tests run commands release.test.js TOOL_PACKAGES does not know: add them (and install them in CI.yml)',
  )
  const legs = []
  for (const [name, job] of jobsOf(ci)) {
    for (const c of commandsOf(job).filter((x) => /\bdocker run\b/.test(x) && /npm run test:js/.test(x))) {
      const image = /node:\$\{\{ matrix\.node \}\}-(slim|alpine)\b/.exec(c)
      assert.ok(image, `${name}: unknown container image in ${c}`)
      const family = image[1] === 'slim' ? 'debian' : 'alpine'
      const install = /(?:apt-get install|apk add)\s([^;>]*)/.exec(c)
      const packages = new Set(install ? tokens(install[1]).filter((x) => !x.startsWith('-')) : [])
      const noE2e = /npm run test:js -- --no-e2e\b/.test(c)
      const problems = []
      for (const cmd of called(noE2e ? list('--no-e2e') : list())) {
        const pkgName = TOOL_PACKAGES[cmd] && TOOL_PACKAGES[cmd][family]
        if (pkgName && !packages.has(pkgName)) problems.push(`${cmd} (${pkgName})`)
      }
      // rustls-platform-verifier loads the system roots when the HTTP client is built: with none, every
      // call fails with KIMI_NETWORK "No CA certificates were loaded from the system", even to 127.0.0.1.
      if (!packages.has('ca-certificates')) problems.push('CA roots (ca-certificates)')
      assert.deepEqual(problems, [], `${name} (${image[0]}) does not install what its tests call`)
      legs.push(`${name}:${family}`)
    }
  }
  assert.deepEqual([...new Set(legs)].sort(), ['test-linux-binding:alpine', 'test-linux-binding:debian'])
})

test('.gitattributes keeps every byte-compared file LF in every checkout (Windows runners use core.autocrlf=true)', (t) => {
  const git = (args) => spawnSync('git', ['-c', 'safe.directory=*', ...args], { cwd: ROOT, encoding: 'utf8' })
  if (git(['rev-parse', '--is-inside-work-tree']).stdout.trim() !== 'true') {
    if (process.env.CI) assert.fail('git (and a git checkout) is needed for this check: install git in the job image')
    return t.skip('not a git checkout, or git is not installed')
  }
  const walk = (dir) =>
    fs
      .readdirSync(path.join(ROOT, dir), { withFileTypes: true })
      .flatMap((e) => (e.isDirectory() ? walk(`${dir}/${e.name}`) : [`${dir}/${e.name}`]))
  const files = [
    'README.md',
    ...walk('docs'),
    'package.json',
    'index.js',
    'index.d.ts',
    ...walk('npm').filter((f) => !f.endsWith('.node')),
    ...walk('__test__/golden'),
  ]
  const r = git(['check-attr', 'text', 'eol', '--', ...files])
  assert.equal(r.status, 0, r.stderr)
  const attrs = {}
  for (const line of r.stdout.trim().split('\n')) {
    const m = /^(.*): (text|eol): (.*)$/.exec(line)
    if (m) (attrs[m[1]] = attrs[m[1]] || {})[m[2]] = m[3]
  }
  const loose = files.filter((f) => !(attrs[f] && (attrs[f].eol === 'lf' || attrs[f].text === 'unset')))
  assert.deepEqual(
    loose,
    [],
    'these would be checked out with CRLF on Windows: set eol=lf (or -text) in .gitattributes',
  )
})

test('no unconditional POSIX-mode assertion in any test file (Windows reports 0o666): gate by platform', () => {
  const problems = []
  const files = fs
    .readdirSync(__dirname, { recursive: true })
    .filter((f) => f.endsWith('.js') && !f.includes('node_modules'))
    .map(String)
  const ASSERTS_MODE = /\bassert(?:\.\w+)?\([^;]*\bmodes?\b[^;]*0o[0-7]{3}/
  const POSIX_GATE = /process\.platform\s*!==\s*'win32'|process\.platform\s*===\s*'(linux|darwin)'/
  const SKIPS_WINDOWS =
    /process\.platform\s*===\s*'win32'[^\n]*(return|skip)|process\.platform\s*!==\s*'(linux|darwin)'[^\n]*(return|skip)|gate\(t, \{ platforms: (LINUX|\[[^\]]*\])/
  for (const f of files) {
    if (path.join(__dirname, f) === __filename) continue
    const lines = fs.readFileSync(path.join(__dirname, f), 'utf8').split('\n')
    lines.forEach((line, i) => {
      // The gate on the same line, or an `if (...)` without braces on the line before (the formatter wraps there).
      const gatedAbove = i > 0 && /^\s*if \(.*\)\s*$/.test(lines[i - 1]) && POSIX_GATE.test(lines[i - 1])
      if (!ASSERTS_MODE.test(line) || POSIX_GATE.test(line) || gatedAbove) return
      // Else the test (or subtest) around it must skip off POSIX before it gets there.
      let start = i
      while (start > 0 && !/^\s*(?:await\s+)?(?:t\.)?test\(|^\s*(?:async\s+)?function\s/.test(lines[start])) start--
      const body = lines.slice(start, i).join('\n')
      const gate = SKIPS_WINDOWS.exec(body)
      if (!gate || /win32/.test(gate[0].replace(/process\.platform\s*===\s*'win32'/, '')))
        problems.push(`__test__/${f}:${i + 1}: ${line.trim()}`)
    })
  }
  assert.deepEqual(problems, [], "wrap in `if (process.platform !== 'win32')` as platform.test.js does")
})

test('every published manifest names the repository (npm refuses a provenance publish without it), and publish checks it', () => {
  const repo = pkg.repository
  const url = repo && (typeof repo === 'string' ? repo : repo.url)
  assert.match(String(url), /^git\+https:\/\/github\.com\/[\w.-]+\/[\w.-]+\.git$/, 'package.json repository.url')
  for (const t2 of targets) {
    const dir = TARGET_TABLE[t2].dir
    const p = JSON.parse(fs.readFileSync(path.join(ROOT, 'npm', dir, 'package.json'), 'utf8'))
    assert.deepEqual(
      p.repository,
      pkg.repository,
      `npm/${dir}/package.json repository (napi create-npm-dirs copies it)`,
    )
  }
  const run = commandsOf(ci.data.jobs.publish).join('\n')
  assert.match(run, /repository/, 'the publish job must compare repository.url with the repository it runs in')
  assert.match(run, /GITHUB_REPOSITORY/, 'the publish job must compare repository.url with GITHUB_REPOSITORY')
})

test('actionlint (with shellcheck when installed) finds nothing in the workflows', (t) => {
  const bin = process.env.ACTIONLINT || 'actionlint'
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' })
  if (probe.error || probe.status !== 0)
    return t.skip(`actionlint not found (set ACTIONLINT=<path> or put it on PATH; docs/release.md says how to get it)`)
  const files = workflows.map((w) => path.join(WORKFLOW_DIR, w.file))
  const r = spawnSync(bin, ['-no-color', ...files], { cwd: ROOT, encoding: 'utf8' })
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
})
