'use strict'
// The config `kimi-native login` prints must be exactly what the docs show (and what the
// opencode / pi e2e tests prove works).
const test = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const hosts = require('../lib/host-config')

const raw = (file, begin, end) => {
  const text = fs.readFileSync(path.join(__dirname, '..', file), 'utf8')
  assert.ok(text.includes(begin) && text.includes(end), `${file} lacks the ${begin} markers`)
  return text.slice(text.indexOf(begin) + begin.length, text.indexOf(end))
}
const fenced = (block) => block.slice(block.indexOf('\n', block.indexOf('```')) + 1, block.lastIndexOf('```'))

for (const file of ['docs/opencode.md']) {
  test(`opencode.json printed by login equals the template in ${file}`, () => {
    const doc = JSON.parse(fenced(raw(file, '<!-- opencode-json:begin -->', '<!-- opencode-json:end -->')))
    assert.deepEqual(hosts.opencodeConfig(), doc)
  })
}

test('the Anthropic-mode opencode.json in docs/opencode.md is the block lib/host-config builds', () => {
  const doc = JSON.parse(
    fenced(raw('docs/opencode.md', '<!-- opencode-anthropic-json:begin -->', '<!-- opencode-anthropic-json:end -->')),
  )
  assert.deepEqual(doc, { plugin: ['kimi-native'], provider: hosts.opencodeAnthropicProvider() })
  assert.deepEqual(Object.keys(doc.provider), [hosts.OPENCODE_ANTHROPIC_ID])
})

for (const file of ['docs/pi.md']) {
  test(`pi setup printed by login equals the commands in ${file}`, () => {
    const doc = raw(file, '<!-- pi-setup:begin -->', '<!-- pi-setup:end -->')
    for (const line of hosts.piSetup()) assert.ok(doc.includes(line), `${file} lacks: ${line}`)
    assert.ok(doc.includes(hosts.PI_NOTE))
  })
}
