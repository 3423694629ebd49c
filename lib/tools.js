'use strict'
// Host-neutral agent tools over Kimi's platform services: `kimi_search`, `kimi_fetch`, `kimi_datasource`.
// Each is { name, label, description, parameters (JSON Schema), execute(args, { signal }) -> { text, details } }.
// Hosts wrap them in their own tool API (pi: JSON-Schema parameters; opencode: zod args); the behaviour
// and the text the model sees live here once. Off by default: a host exposes them only when its user opts in.

// The core on first use: an adapter loading this file must load without the native binding.
const { core: kimi } = require('./kit/core.js')

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
          limit: {
            type: 'integer',
            minimum: 1,
            maximum: 20,
            description: `How many results (default ${DEFAULT_RESULTS})`,
          },
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

/** Tool names (`kimi_…`) a `tools` value names: `true` / 'all' → all, an array → those, anything else → none. */
function namesOf(setting) {
  const all = TOOL_NAMES
  if (setting === true || setting === 'all') return all
  if (!Array.isArray(setting)) return []
  const want = new Set(setting.map((s) => (String(s).startsWith('kimi_') ? String(s) : `kimi_${s}`)))
  return all.filter((n) => want.has(n))
}
const TOOL_NAMES = kimiTools().map((t) => t.name)

/**
 * Which tools a user enabled: `true` / 'all' → all, an array of names (with or without the `kimi_` prefix) → those,
 * anything else → none. Unknown names are ignored.
 */
function enabledTools(setting, options) {
  const want = new Set(namesOf(setting))
  return kimiTools(options).filter((t) => want.has(t.name))
}

/** The settings file `file` as an object: `{ obj }`, `{}` when absent, `{ warning }` when broken. Never throws. */
function readFile(file) {
  const fs = require('node:fs')
  let text
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return {}
  }
  try {
    const obj = JSON.parse(text)
    return obj && typeof obj === 'object' && !Array.isArray(obj)
      ? { obj }
      : { warning: `${file} is not a JSON object; ignored` }
  } catch (err) {
    return { warning: `${file} is not valid JSON (${err.message}); ignored` }
  }
}

/**
 * One key of kimi-native's settings for a host, from each place that can hold it: the user's own file
 * `<kimi-native home>/config.json`, the host's option `hostValue` (an opencode plugin option: opencode merges a
 * project's opencode.json into plugin options, so a repository can set it) and the project file
 * `<directory>/.kimi-native.json`. Each file is a JSON object, e.g. `{ "tools": ["search"] }`.
 * Returns `{ user: { value, source, file? }, host: { value } | null, project: { value, file } | null, warnings }`:
 * what each place says; the caller decides what each may change (see toolsSetting, protocolSetting). A missing or
 * broken file counts as absent and is reported in `warnings`; this never throws (a host must start whatever the
 * files say).
 */
function readSetting(key, { directory, options, hostValue } = {}) {
  const path = require('node:path')
  const warnings = []
  const files = kimi.CONFIG_FILES
  let project = null
  if (directory) {
    const file = path.join(directory, files.project)
    const r = readFile(file)
    if (r.warning) warnings.push(r.warning)
    if (r.obj && r.obj[key] !== undefined) project = { value: r.obj[key], file }
  }
  const host = hostValue !== undefined && hostValue !== null ? { value: hostValue } : null
  let user = { value: undefined, source: 'default' }
  let file = null
  try {
    file = path.join(kimi.homeDir(options), files.user)
  } catch (err) {
    warnings.push(`kimi-native home unknown: ${err.message}`)
  }
  const r = file ? readFile(file) : {}
  if (r.warning) warnings.push(r.warning)
  if (r.obj && r.obj[key] !== undefined) user = { value: r.obj[key], source: 'user', file }
  return { user, host, project, warnings }
}

/**
 * The agent tools to expose: `{ value, source, warnings }` with `value` a list of tool names (`kimi_…`) for
 * enabledTools. The network tools send data out, so turning them on is the user's choice alone, made in the user's
 * own config.json in the kimi-native home. Everything a project can write may only narrow that choice (`false`, or
 * a shorter list), never widen it: the project's .kimi-native.json, and the host's option (opencode merges a
 * project's opencode.json into plugin options). A cloned repository, or a model talked into writing one of those
 * files, turns no tool on.
 */
function toolsSetting(args) {
  const { user, host, project, warnings } = readSetting('tools', args)
  const configFile = user.file || `${kimi.CONFIG_FILES.user} in the kimi-native home`
  let value = namesOf(user.value)
  let source = user.source
  const narrowers = [
    [host, "the kimi-native plugin option (a project's opencode.json can set it)"],
    [project, project && project.file],
  ]
  for (const [place, where] of narrowers) {
    if (!place) continue
    const asked = namesOf(place.value)
    const refused = asked.filter((n) => !value.includes(n))
    if (refused.length) {
      warnings.push(
        `${where} asks for ${refused.join(', ')}, which you have not enabled; a project can only turn tools off. ` +
          `Enable them in ${configFile} ({ "tools": true } or a list) if you want them.`,
      )
    }
    const narrowed = value.filter((n) => asked.includes(n))
    if (narrowed.length < value.length) source = place === host ? 'option' : 'project'
    value = narrowed
  }
  return { value, source, warnings }
}

/**
 * The wire protocol a host should use: 'anthropic' when the `protocol` setting says so (case-insensitive), else
 * 'openai' (the default, also for unknown values, which are reported in `warnings`). First found wins: the host's
 * option, the project's .kimi-native.json, the user's config.json.
 */
function protocolSetting(args) {
  const { user, host, project, warnings } = readSetting('protocol', args)
  // A project may choose the wire format (the host's option still wins): both go to the same Kimi API through the
  // core's fetch (same origin check, same credential), so the choice opens no destination and gives the model nothing.
  const r = host
    ? { value: host.value, source: 'option', warnings }
    : project
      ? { value: project.value, source: 'project', file: project.file, warnings }
      : { ...user, warnings }
  const v = typeof r.value === 'string' ? r.value.trim().toLowerCase() : r.value
  if (v === undefined || v === 'openai') return { ...r, value: 'openai' }
  if (v === 'anthropic') return { ...r, value: 'anthropic' }
  return {
    ...r,
    value: 'openai',
    warnings: [...r.warnings, `unknown protocol ${JSON.stringify(r.value)}; using openai`],
  }
}

module.exports = {
  kimiTools,
  enabledTools,
  readSetting,
  toolsSetting,
  protocolSetting,
  formatResults,
  MAX_FETCH_CHARS,
  TOOL_NAMES,
}
