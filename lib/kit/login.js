'use strict'
// What every host does around the shared login: say how to log in again in the host's own words, hold a marker
// instead of a token, and offer a login another plugin left before starting a device login.

const { hasCode } = require('./core.js')

// The core errors a new login cures (keys of ERROR_CODES).
const NEEDS_LOGIN = ['NOT_LOGGED_IN', 'RELOGIN_REQUIRED', 'LOGIN_DENIED', 'LOGIN_EXPIRED']

const needsLogin = (err) => hasCode(err, NEEDS_LOGIN)

/** `text`, followed by the host's own way to log in (`hint`) when `err` is cured by a new login. The core's
 * messages already say `npx kimi-native login`; the hint adds the host's way. */
function withLoginHint(text, err, hint) {
  return needsLogin(err) ? `${text} ${hint}` : text
}

// A host holds the marker for a year: far enough ahead that it never asks for an early refresh (the core refreshes).
const YEAR_MS = 365 * 24 * 3600 * 1000

/** What a host's auth store gets instead of a token: `access` as both tokens, expiring a year from now. */
function heldMarker(access) {
  return { access, refresh: access, expires: Date.now() + YEAR_MS }
}

/** The Kimi logins other plugins hold that can be taken over, freshest first; none when they cannot be listed
 * (finding other logins never blocks signing in). `list` gives the core's importSources. */
async function importableLogins(list) {
  try {
    const sources = await list()
    return sources.filter((s) => s.importable).sort((a, b) => (b.expiresAt || 0) - (a.expiresAt || 0))
  } catch {
    return []
  }
}

/**
 * Offers each of `sources` in turn for takeover (the core's import: one refresh, the old owner handed over) before a
 * device login. `ask(source)` says yes or no (a no ends the offer), `take(source)` imports it, `failed(source, err)`
 * reports a takeover that failed (and may throw to end the offer). Returns `{ result }` of the takeover, `{ declined:
 * true }` when the user said no, or `{}` when every takeover failed.
 */
async function offerImport(sources, { ask, take, failed }) {
  for (const s of sources) {
    if (!(await ask(s))) return { declined: true }
    try {
      return { result: await take(s) }
    } catch (err) {
      await failed(s, err)
    }
  }
  return {}
}

module.exports = { needsLogin, withLoginHint, heldMarker, importableLogins, offerImport }
