'use strict'
// The client-identity gate of the fake Kimi server (docs/identity.md, wire §5): which User-Agents and identity headers
// an API route accepts. Methods are mixed into FakeKimi (server.js).

const { getHeader } = require('./util')

/**
 * The client gate (docs/identity.md): prefix-based on the User-Agent. The accepted prefixes are the known coding agents:
 * the official clients, Claude Code, and the hosts Kimi names or allowlisted (pi: MoonshotAI/kimi-code#2185).
 * kimi-native's own `kimi-native/` (the CLI alone) is NOT in the list: whether Kimi accepts it is UNCONFIRMED, so
 * tests see the refusal. Claude Code itself sends `claude-cli/<version> (external, sdk-cli)` (docs/claude-code.md); Kimi
 * names Claude Code first among the agents it serves and documents its setup, so that prefix passes too.
 */
const ALLOWED_UA_PREFIXES = Object.freeze([
  'KimiCLI/',
  'kimi-code-cli/',
  'claude-code/',
  'claude-cli/',
  'pi/',
  'opencode/',
  'openclaw/',
])

function checkUserAgent(pairs, prefixes = ALLOWED_UA_PREFIXES) {
  const ua = getHeader(pairs, 'user-agent') || ''
  return prefixes.some((p) => ua.startsWith(p))
    ? null
    : `User-Agent ${JSON.stringify(ua)} is not an accepted coding agent`
}

/**
 * The full official identity (wire §5), for the opt-in 'strict' mode. Returns null when acceptable, else a reason.
 * kimi-code: `User-Agent: kimi-code-cli/<ver>[ (web)]` + `X-Msh-Platform: kimi_code_cli`;
 * kimi-cli:  `User-Agent: KimiCLI/<ver>` + `X-Msh-Platform: kimi_cli`;
 * both with non-empty X-Msh-Version / -Device-Id / -Device-Name / -Device-Model / -Os-Version.
 */
const DEFAULT_IDENTITIES = Object.freeze([
  { ua: /^kimi-code-cli\/\d[^\s]*( \([^)]*\))?$/, platform: 'kimi_code_cli' },
  { ua: /^KimiCLI\/\d[^\s]*$/, platform: 'kimi_cli' },
])
const MSH_REQUIRED = ['X-Msh-Version', 'X-Msh-Device-Id', 'X-Msh-Device-Name', 'X-Msh-Device-Model', 'X-Msh-Os-Version']

function checkIdentity(pairs, identities = DEFAULT_IDENTITIES) {
  const ua = getHeader(pairs, 'user-agent') || ''
  const platform = getHeader(pairs, 'x-msh-platform') || ''
  const ok = identities.some((id) => id.ua.test(ua) && id.platform === platform)
  if (!ok) return `unrecognised identity (User-Agent ${JSON.stringify(ua)}, X-Msh-Platform ${JSON.stringify(platform)})`
  for (const h of MSH_REQUIRED) {
    const v = getHeader(pairs, h)
    if (v === undefined || String(v).trim() === '') return `missing ${h}`
  }
  return null
}

/*
 * Identity-gate modes per API route:
 *   'prefix' - the User-Agent must start with an accepted coding agent's prefix (opts.allowedUserAgents, default
 *              ALLOWED_UA_PREFIXES), else 403 access_terminated_error "only available for Coding Agents".
 *   'strict' - the full official identity (checkIdentity) is required.
 *   'off'    - no check.
 * Default: the coding routes are gated; /models and /usages are not (both official clients send no identity on
 * /usages, kimi-cli none on /models, wire §5.2). Whether Kimi gates those two for other UAs is UNCONFIRMED:
 * opts.gateModelsAndUsages (--gate-models-usages) gates them too. opts.identityGate = false (--no-identity-gate)
 * turns every check off; an object sets modes per route.
 */
const DEFAULT_GATE = Object.freeze({
  '/chat/completions': 'prefix',
  '/messages': 'prefix',
  '/models': 'off',
  '/search': 'prefix',
  '/fetch': 'prefix',
  '/files': 'prefix',
  '/tools': 'prefix',
  '/usages': 'off',
  '/me': 'off',
  '/client_configs': 'off',
})

class IdentityGate {
  /** false: no gate; true/undefined: the default; 'strict': full official identity everywhere gated; {route: mode}. */
  setIdentityGate(gate, { gateModelsAndUsages = this.gateModelsAndUsages } = {}) {
    this.gateModelsAndUsages = !!gateModelsAndUsages
    const base = { ...DEFAULT_GATE }
    if (this.gateModelsAndUsages) Object.assign(base, { '/models': 'prefix', '/usages': 'prefix' })
    if (gate === false) this.identityGate = Object.fromEntries(Object.keys(DEFAULT_GATE).map((k) => [k, 'off']))
    else if (gate === 'strict')
      this.identityGate = Object.fromEntries(Object.entries(base).map(([k, m]) => [k, m === 'off' ? m : 'strict']))
    else if (gate === true || gate === undefined || gate === null) this.identityGate = base
    else this.identityGate = { ...base, ...gate }
  }

  /** Why `route`'s gate mode refuses a request with these headers, or null when it passes. */
  _gateRejects(route, headers) {
    const mode = this.identityGate[route] || 'off'
    return mode === 'prefix'
      ? checkUserAgent(headers, this.allowedUserAgents)
      : mode === 'strict'
        ? checkIdentity(headers, this.identities)
        : null
  }
}

module.exports = { IdentityGate, ALLOWED_UA_PREFIXES, DEFAULT_IDENTITIES, DEFAULT_GATE, checkUserAgent, checkIdentity }
