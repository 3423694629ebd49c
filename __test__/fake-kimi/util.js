'use strict'
// Small helpers every surface of the fake Kimi server uses: random ids, sleeps, header pairs.

const crypto = require('node:crypto')

const hex = (n) => crypto.randomBytes(n).toString('hex')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function headerPairs(raw) {
  const out = []
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i], raw[i + 1]])
  return out
}

/** Case-insensitive single header lookup on [[name, value]] pairs. */
function getHeader(pairs, name) {
  const lower = name.toLowerCase()
  for (const [k, v] of pairs) if (k.toLowerCase() === lower) return v
  return undefined
}

module.exports = { hex, sleep, headerPairs, getHeader }
