#!/usr/bin/env node
'use strict'
// `kimi-native` command line: a thin shell over the native core. The commands are in cli/, one file each; cli/io.js
// holds the terminal handling they share.
const { main } = require('./cli/main.js')
const { fail } = require('./cli/io.js')

main(process.argv).then(
  (code) => process.exit(code),
  (err) => process.exit(fail(err)),
)
