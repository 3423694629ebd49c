'use strict'
// Ready-to-paste host configuration, printed by `kimi-native login` and shown in the README.
// One place, so the CLI, the docs and the tests agree.
const { PROVIDER } = require('./index.js')

const VARIANTS = ['off', 'auto', 'low', 'medium', 'high']

function opencodeConfig(model) {
  const id = (model && model.id) || PROVIDER.defaultModel
  const variants = {}
  for (const v of VARIANTS) variants[v] = { reasoningEffort: v }
  return {
    $schema: 'https://opencode.ai/config.json',
    plugin: ['kimi-native'],
    provider: {
      [PROVIDER.opencodeId]: {
        name: 'Kimi For Coding (kimi-native)',
        npm: '@ai-sdk/openai-compatible',
        models: {
          [id]: {
            name: (model && model.displayName) || 'Kimi For Coding',
            reasoning: true,
            attachment: Boolean(model && model.supportsImageIn),
            limit: { context: (model && model.contextLength) || 262144, output: 32768 },
            variants,
          },
        },
      },
    },
  }
}

function piSetup(model) {
  const id = (model && model.id) || PROVIDER.defaultModel
  return [
    'pi install npm:kimi-native',
    `pi --model ${PROVIDER.piId}/${id}`,
    `# or inside pi: /model ${PROVIDER.piId}/${id}   (thinking levels: /thinking off|low|medium|high)`,
  ]
}

module.exports = { opencodeConfig, piSetup, VARIANTS }
