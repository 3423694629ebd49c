'use strict'
// Host-neutral agent tools over Kimi's platform services: `kimi_search`, `kimi_fetch`, `kimi_datasource`.
// Each is { name, label, description, parameters (JSON Schema), execute(args, { signal }) -> { text, details } }.
// Hosts wrap them in their own tool API (pi: JSON-Schema parameters; opencode: zod args); the behaviour
// and the text the model sees live here once. Off by default: a host exposes them only when its user opts in.

const kimi = require('./index.js')

/** Longest page text handed to the model; the rest is cut with a note (pages can be megabytes). */
const MAX_FETCH_CHARS = 100_000
const DEFAULT_RESULTS = 5

function clip(text, max) {
  if (text.length <= max) return text
  return `${text.slice(0, max)}\n\n[kimi_fetch: cut at ${max} of ${text.length} characters]`
}

function formatResults(results) {
  if (!results.length) return 'No results.'
  return results
    .map((r, i) => {
      const meta = [r.siteName, r.date].filter(Boolean).join(' · ')
      return `${i + 1}. ${r.title || r.url}${meta ? ` (${meta})` : ''}\n   ${r.url}${r.snippet ? `\n   ${r.snippet}` : ''}`
    })
    .join('\n')
}

/**
 * The tool definitions. `options` are kimi-native core options (profile, baseUrl, home, …) passed to every call.
 */
function kimiTools(options = {}) {
  const call = (extra, ctx) => ({ ...options, ...extra, ...(ctx && ctx.signal ? { signal: ctx.signal } : {}) })
  return [
    {
      name: 'kimi_search',
      label: 'Kimi web search',
      description:
        "Search the web with Kimi's search service. Returns titles, URLs, dates and snippets of the top results.",
      parameters: {
        type: 'object',
        properties: {
          query: { type: 'string', description: 'What to search for' },
          limit: { type: 'integer', minimum: 1, maximum: 20, description: `How many results (default ${DEFAULT_RESULTS})` },
        },
        required: ['query'],
        additionalProperties: false,
      },
      async execute(args, ctx) {
        const results = await kimi.search(String(args.query), call({ limit: args.limit ?? DEFAULT_RESULTS }, ctx))
        return { text: formatResults(results), details: { results } }
      },
    },
    {
      name: 'kimi_fetch',
      label: 'Kimi fetch URL',
      description: "Fetch a web page with Kimi's fetch service and return its content as markdown.",
      parameters: {
        type: 'object',
        properties: { url: { type: 'string', description: 'Absolute http(s) URL of the page' } },
        required: ['url'],
        additionalProperties: false,
      },
      async execute(args, ctx) {
        const text = await kimi.fetchUrl(String(args.url), call({}, ctx))
        return { text: clip(text, MAX_FETCH_CHARS), details: { url: String(args.url), chars: text.length } }
      },
    },
    {
      name: 'kimi_datasource',
      label: 'Kimi data source',
      description:
        "Query one of Kimi's data sources. Without `api` it describes the source and its apis; with `api` (and `params`) it calls that api.",
      parameters: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'Data source name' },
          api: { type: 'string', description: 'Api of the data source to call (omit to get its description)' },
          params: { type: 'object', description: 'Parameters of the api call', additionalProperties: true },
        },
        required: ['name'],
        additionalProperties: false,
      },
      async execute(args, ctx) {
        const out = await kimi.datasource(String(args.name), call({ api: args.api, params: args.params }, ctx))
        return { text: JSON.stringify(out, null, 2), details: { result: out } }
      },
    },
  ]
}

/**
 * Which tools a user enabled: `true` / 'all' → all, an array of names (with or without the `kimi_` prefix) → those,
 * anything else → none. Unknown names are ignored.
 */
function enabledTools(setting, options) {
  const all = kimiTools(options)
  if (setting === true || setting === 'all') return all
  if (!Array.isArray(setting)) return []
  const want = new Set(setting.map((s) => (String(s).startsWith('kimi_') ? String(s) : `kimi_${s}`)))
  return all.filter((t) => want.has(t.name))
}

/**
 * One key of the user's kimi-native settings for a host, read from (first found wins): the host's own option
 * (`hostValue`, e.g. an opencode plugin option), the project file `<directory>/.kimi-native.json`, the user file
 * `<kimi-native home>/config.json`. Each file is a JSON object, e.g. `{ "tools": ["search"], "protocol": "anthropic" }`.
 * A missing or broken file counts as absent and is reported in `warnings`; this never throws (a host must start
 * whatever the files say).
 */
function readSetting(key, { directory, options, hostValue } = {}) {
  const warnings = []
  if (hostValue !== undefined && hostValue !== null) return { value: hostValue, source: 'option', warnings }
  const fs = require('node:fs')
  const path = require('node:path')
  const files = kimi.CONFIG_FILES
  const candidates = []
  if (directory) candidates.push(['project', path.join(directory, files.project)])
  try {
    candidates.push(['user', path.join(kimi.homeDir(options), files.user)])
  } catch (err) {
    warnings.push(`kimi-native home unknown: ${err.message}`)
  }
  for (const [source, file] of candidates) {
    let text
    try {
      text = fs.readFileSync(file, 'utf8')
    } catch {
      continue
    }
    try {
      const obj = JSON.parse(text)
      if (obj && typeof obj === 'object' && obj[key] !== undefined) return { value: obj[key], source, file, warnings }
    } catch (err) {
      warnings.push(`${file} is not valid JSON (${err.message}); ignored`)
    }
  }
  return { value: undefined, source: 'default', warnings }
}

/** The user's `tools` setting (`true | ["search", "fetch", ...]`), see readSetting. */
function toolsSetting(args) {
  return readSetting('tools', args)
}

/**
 * The wire protocol a host should use: 'anthropic' when the `protocol` setting says so (case-insensitive), else
 * 'openai' (the default, also for unknown values, which are reported in `warnings`).
 */
function protocolSetting(args) {
  const r = readSetting('protocol', args)
  const v = typeof r.value === 'string' ? r.value.trim().toLowerCase() : r.value
  if (v === undefined || v === 'openai') return { ...r, value: 'openai' }
  if (v === 'anthropic') return { ...r, value: 'anthropic' }
  return { ...r, value: 'openai', warnings: [...r.warnings, `unknown protocol ${JSON.stringify(r.value)}; using openai`] }
}

module.exports = { kimiTools, enabledTools, readSetting, toolsSetting, protocolSetting, formatResults, MAX_FETCH_CHARS }
