'use strict'
// The command line: the quick path for the commands another program runs often, commander for the rest. Each
// command is a file of its own here, loaded when it runs.
const { core: kimi, loadCore } = require('../kit/core.js')
const { EXIT, fail } = require('./io.js')
const { addCoreOptions } = require('./options.js')

/** The command in ./<name>.js, loaded when it runs (start-up time: `status` loads no other command). */
const command = (name) => require(`./${name}.js`).run

// Commands that skip commander when called with only their own flags (start-up time: `token`
// runs inside another program's agent loop). Each flag maps to whether it takes a value.
const QUICK = {
  status: { json: false },
  logout: { json: false },
  models: { json: false },
  usage: { json: false },
  token: { json: false, 'min-valid': true, caller: true },
}

const camel = (flag) => flag.replace(/-([a-z])/g, (_, ch) => ch.toUpperCase())

/** `kimi-native <quick command> [its flags] [--<core option> <choice>]...` as commander would read
 * it, or `null` for anything else (help, unknown flags, bad choices: commander explains those). */
function quickParse(args) {
  const [name, ...rest] = args
  if (!Object.hasOwn(QUICK, name)) return null
  const flags = QUICK[name]
  const opts = {}
  for (let i = 0; i < rest.length; i++) {
    const [flag, inline] = rest[i].split(/=(.*)/s)
    if (!flag.startsWith('--')) return null
    const key = flag.slice(2)
    if (Object.hasOwn(flags, key) && !flags[key]) {
      if (inline !== undefined) return null
      opts[camel(key)] = true
    } else if (Object.hasOwn(flags, key) || Object.hasOwn(kimi.CHOICES, key)) {
      const value = inline ?? rest[++i]
      if (value === undefined || (Object.hasOwn(kimi.CHOICES, key) && !kimi.CHOICES[key].includes(value))) return null
      opts[camel(key)] = value
    } else return null
  }
  return { run: command(name), opts }
}

const JSON_FLAG = ['--json', 'print JSON']
const TIMEOUT_FLAG = ['--timeout <ms>', 'give up after this many milliseconds']

/** The commands commander knows, in the order its help lists them (`./<first word of name>.js` runs each). */
const commands = () => [
  {
    name: 'login',
    description: 'sign in with a device code (opens your browser)',
    options: [
      ['--no-browser', 'do not open a browser'],
      ['--qr', 'show a QR code of the sign-in URL'],
      ['--print-config', 'print the opencode.json and pi setup afterwards'],
      ['--json', 'print the result as JSON'],
      ['--no-import', 'do not offer to take over a Kimi login another plugin holds'],
      ['-y, --yes', 'take over such a login without asking'],
    ],
  },
  {
    name: 'status',
    description: 'show the login state (exit 0 logged in, 1 not, 2 relogin required)',
    options: [JSON_FLAG],
  },
  { name: 'logout', description: 'remove the stored login', options: [] },
  { name: 'models', description: 'list the models your plan offers', options: [JSON_FLAG] },
  {
    name: 'import [source]',
    description: 'list Kimi logins other plugins hold, or take one over (no new sign-in)',
    options: [JSON_FLAG, ['-y, --yes', 'take it over without asking (required when stdin is not a terminal)']],
  },
  { name: 'usage', description: 'show quota windows and reset times', options: [JSON_FLAG] },
  {
    name: 'token',
    description: 'print a usable access token for other tools (exit 1 not logged in, 2 relogin required)',
    options: [
      [
        '--min-valid <duration>',
        `the token stays valid at least this long (default ${kimi.DEFAULTS.tokenMinValidSecs / 60}m)`,
      ],
      [
        '--caller <id>',
        'who asks (e.g. "$PPID"): the same caller asking again early gets a new token if the server refused its one',
      ],
      ['--json', 'print { token, expiresAt, source }'],
    ],
  },
  {
    name: 'setup',
    argument: ['<host>', require('./setup.js').SETUP_HOSTS.join(' | ')],
    description: 'set a host up to use this login (Claude Code: apiKeyHelper, base URL, models)',
    options: [
      ['--print', 'only show what would change'],
      ['--project', "this project's .claude/settings.local.json instead of ~/.claude/settings.json"],
      ['--remove', 'undo what setup changed'],
      ['-y, --yes', 'without asking (required when stdin is not a terminal)'],
      JSON_FLAG,
    ],
  },
  {
    name: 'search',
    argument: ['<query>'],
    description: "search the web with Kimi's search service",
    options: [['--limit <n>', 'at most this many results'], TIMEOUT_FLAG, JSON_FLAG],
  },
  {
    name: 'fetch',
    argument: ['<url>'],
    description: "fetch a page as markdown with Kimi's fetch service",
    options: [TIMEOUT_FLAG, JSON_FLAG],
  },
  {
    name: 'upload',
    argument: ['<file>'],
    description: "upload a file to Kimi's Files API; prints its ms:// reference",
    options: [
      ['--mime <type>', 'mime type (guessed from the extension otherwise)'],
      ['--purpose <purpose>', 'purpose (image / video by default)'],
      TIMEOUT_FLAG,
      JSON_FLAG,
    ],
  },
]

/** Runs the command `argv` names; resolves to the exit code. */
function main(argv) {
  try {
    loadCore()
  } catch (err) {
    return Promise.resolve(fail(err)) // no native binding: every command needs it, so say so once, coded
  }
  const quick = quickParse(argv.slice(2))
  if (quick) return quick.run(quick.opts).catch(fail)
  const { Command } = require('commander')
  const pkg = require('../../package.json')
  const program = new Command()
  program
    .name('kimi-native')
    .description('Sign in to Kimi For Coding once; opencode, pi, Claude Code and other hosts use the same login.')
    .version(pkg.version, '-v, --version')
    .showHelpAfterError()
  addCoreOptions(program)
  let exit = EXIT.ok
  // commander calls an action with the command's arguments, its options and the command itself.
  const run =
    (name) =>
    async (...args) => {
      const cmd = args.at(-1)
      try {
        exit = await command(name)(...args.slice(0, -2), { ...program.opts(), ...cmd.opts() })
      } catch (err) {
        exit = fail(err)
      }
    }
  for (const c of commands()) {
    const cmd = addCoreOptions(program.command(c.name).description(c.description))
    if (c.argument) cmd.argument(...c.argument)
    for (const o of c.options) cmd.option(...o)
    cmd.action(run(c.name.split(' ')[0]))
  }
  return program.parseAsync(argv).then(() => exit)
}

module.exports = { main }
