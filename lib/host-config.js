'use strict'
// Ready-to-paste host configuration printed by `kimi-native login`. The README/docs show the
// same text between markers, and __test__/host-config.test.js keeps the two identical.
const { PROVIDER } = require('./index.js')

const VARIANTS = ['off', 'auto', 'low', 'medium', 'high']

function opencodeConfig() {
  const variants = {}
  for (const v of VARIANTS) variants[v] = { reasoningEffort: v }
  return {
    $schema: 'https://opencode.ai/config.json',
    plugin: ['kimi-native'],
    provider: {
      [PROVIDER.opencodeId]: {
        name: 'Kimi For Coding',
        npm: '@ai-sdk/openai-compatible',
        models: {
          [PROVIDER.defaultModel]: {
            name: 'Kimi For Coding',
            reasoning: true,
            tool_call: true,
            attachment: true,
            interleaved: { field: 'reasoning_content' },
            modalities: { input: ['text', 'image'], output: ['text'] },
            // Fixed rather than taken from /models: opencode's catalogue disagrees (1M), and
            // 262144 is what the plan serves today.
            limit: { context: 262144, output: 32768 },
            variants,
          },
        },
      },
    },
  }
}

function piSetup() {
  return [
    `pi install npm:kimi-native                    # adds "npm:kimi-native" to ~/.pi/agent/settings.json`,
    `pi --model ${PROVIDER.piId}/${PROVIDER.defaultModel}        # or pick it with /model; --thinking off|minimal|low|medium|high`,
  ]
}

const PI_NOTE = `Already logged in with \`npx kimi-native login\`: nothing else to do. Otherwise run \`/login ${PROVIDER.piId}\` inside pi.`

module.exports = { opencodeConfig, piSetup, PI_NOTE, VARIANTS }
