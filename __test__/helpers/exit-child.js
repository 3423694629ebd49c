'use strict'
// Child process for the exit race (refresh.test.js under Node, opencode-exit.e2e.test.js under opencode's Bun): one
// getAccessToken() that finds its token due and starts a refresh, then process.exit(0) `argv[2]` ms later, the way a
// print mode or a key helper ends. Prints JSON lines, never the token: {got, ok, code?, message?} when the call
// resolves, then {exitCalledAt} from an `exit` listener registered before kimi-native's own (listeners run in order).

const fs = require('node:fs')
const path = require('node:path')

const line = (o) => fs.writeSync(1, JSON.stringify(o) + '\n')
process.on('exit', () => line({ exitCalledAt: Date.now() }))

const kimi = require(path.join(__dirname, '..', '..', 'lib'))
const delay = Number(process.argv[2] || 0)

kimi.getAccessToken().then(
  (token) => {
    line({ got: Date.now(), ok: true, length: token.length })
    setTimeout(() => process.exit(0), delay)
  },
  (err) => {
    line({ got: Date.now(), ok: false, code: err && err.code, message: String(err && err.message) })
    process.exit(0)
  },
)
