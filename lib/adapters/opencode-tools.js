'use strict'
// opencode `tool` hook for the kimi-native agent tools (lib/tools.js), opt-in through the user's own
// `{ "tools": true | ["search", ...] }` in ~/.kimi-native/config.json. The plugin option
//   "plugin": [["kimi-native", { "tools": ["search"] }]]
// and a project's .kimi-native.json only narrow that choice (lib/tools.js toolsSetting): opencode merges a
// project's opencode.json into plugin options, so neither can tell the user's choice from a repository's.
//
// opencode 1.18.33 takes a plugin tool's `args` either as zod schemas or, when they are not zod, as plain JSON
// Schema properties that all become required (observed in its bundled ToolRegistry; no zod dependency needed
// here). Optional parameters are therefore sent as nullable and a null means "not given".

const { enabledTools, toolsSetting } = require('../tools.js')

function nullable(schema) {
  const type = schema.type
  if (typeof type === 'string') return { ...schema, type: [type, 'null'] }
  if (Array.isArray(type)) return type.includes('null') ? schema : { ...schema, type: [...type, 'null'] }
  return { anyOf: [schema, { type: 'null' }] }
}

function withoutNulls(args) {
  const out = {}
  for (const [k, v] of Object.entries(args || {})) if (v !== null && v !== undefined) out[k] = v
  return out
}

/** `{ tool: {...} }` for the enabled tools, or `{}`. Never throws: a plugin must not stop opencode from starting. */
function opencodeTools(input, pluginOptions, coreOptions) {
  try {
    const setting = toolsSetting({
      directory: input && input.directory,
      options: coreOptions,
      hostValue: pluginOptions && pluginOptions.tools,
    })
    const list = enabledTools(setting.value, coreOptions)
    if (!list.length) return {}
    const tool = {}
    for (const t of list) {
      const required = new Set(t.parameters.required || [])
      const args = {}
      for (const [name, schema] of Object.entries(t.parameters.properties)) {
        args[name] = required.has(name) ? schema : nullable(schema)
      }
      tool[t.name] = {
        description: t.description,
        args,
        async execute(input, ctx) {
          const clean = withoutNulls(input)
          const r = await t.execute(clean, { signal: ctx && ctx.abort })
          const subject = clean.query || clean.url || clean.name || ''
          return { title: `${t.label}${subject ? `: ${subject}` : ''}`, output: r.text, metadata: {} }
        },
      }
    }
    return { tool }
  } catch {
    return {}
  }
}

module.exports = { opencodeTools }
