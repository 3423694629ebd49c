'use strict'
// Ready-to-paste host configuration printed by `kimi-native login`. The README/docs show the
// same text between markers, and __test__/host-config.test.js keeps the two identical.
const { PROVIDER, LIMITS } = require('./index.js')

const VARIANTS = ['off', 'auto', 'low', 'medium', 'high']
// opencode provider id of the opt-in Anthropic-compatible route: a second provider next to the default one, so
// both can be configured at once. Derived from the core's id rather than a second fact.
const OPENCODE_ANTHROPIC_ID = `${PROVIDER.opencodeId}-anthropic`

function variantsBlock() {
  const variants = {}
  for (const v of VARIANTS) variants[v] = { reasoningEffort: v }
  return variants
}

function opencodeConfig() {
  const variants = variantsBlock()
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
            // Fixed rather than taken from /models: opencode's catalogue disagrees (1M).
            limit: { context: LIMITS.context, output: LIMITS.output },
            variants,
          },
        },
      },
    },
  }
}

/**
 * The opt-in Anthropic-compatible provider block for opencode.json (`@ai-sdk/anthropic`, bundled with opencode):
 * the plugin gives it the core's fetch, which sends it to `{base}/messages?beta=true` with `x-api-key`.
 */
function opencodeAnthropicProvider() {
  return {
    [OPENCODE_ANTHROPIC_ID]: {
      name: 'Kimi For Coding (Anthropic API)',
      npm: '@ai-sdk/anthropic',
      models: {
        [PROVIDER.defaultModel]: {
          name: 'Kimi For Coding (Anthropic API)',
          reasoning: true,
          tool_call: true,
          attachment: true,
          modalities: { input: ['text', 'image'], output: ['text'] },
          limit: { context: LIMITS.context, output: LIMITS.output },
          variants: variantsBlock(),
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

/** Where the README shows the same host setup (printed instead of the config blocks). */
const README_HOSTS = 'https://www.npmjs.com/package/kimi-native#use-it-from-a-host'

module.exports = {
  opencodeConfig,
  opencodeAnthropicProvider,
  OPENCODE_ANTHROPIC_ID,
  piSetup,
  PI_NOTE,
  VARIANTS,
  README_HOSTS,
}
