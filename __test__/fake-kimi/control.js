'use strict'
// Control API of the fake Kimi server: fault injection, counters and recorded requests for tests, and the
// /__control/ endpoints that expose them to other processes. Methods are mixed into FakeKimi (server.js).

const { ERRORS } = require('./errors')
const { DEFAULT_REPLY } = require('./chat')

const CONTROL_PREFIX = '/__control/'

class Control {
  _resetCounters() {
    this.refreshCount = 0
    this.invalidGrantCount = 0
    // Refreshes that rotated here but whose answer the client never received (it went away first): each one is a
    // login lost, since the old refresh token is spent and the new one was never seen.
    this.lostRefreshAnswers = 0
    this.deviceAuthorizationCount = 0
    this.tokenIssueCount = 0
    this.refreshLog = []
  }

  /** Clears recorded requests, pending injections, reply queue and counters. With {state:true} also forgets
   *  every device code and token and restores the default reply. */
  reset({ state = false } = {}) {
    this.requests.length = 0
    this.injections.length = 0
    this.replyQueue.length = 0
    this._resetCounters()
    if (state) {
      this._resetState()
      this.reply = this.opts.reply ?? DEFAULT_REPLY
    }
  }

  requestsTo(prefix) {
    if (prefix instanceof RegExp) return this.requests.filter((r) => prefix.test(r.path))
    return this.requests.filter((r) => r.path.startsWith(prefix))
  }

  /** Resolves with the first recorded request (already recorded or future) matching prefix/RegExp/function. */
  waitForRequest(match, { timeoutMs = 10000, since = 0 } = {}) {
    const test =
      typeof match === 'function'
        ? match
        : match instanceof RegExp
          ? (r) => match.test(r.path)
          : (r) => r.path.startsWith(match)
    const found = this.requests.slice(since).find(test)
    if (found) return Promise.resolve(found)
    return new Promise((resolve, reject) => {
      const onReq = (r) => {
        if (test(r)) {
          clearTimeout(timer)
          this.off('request', onReq)
          resolve(r)
        }
      }
      const timer = setTimeout(() => {
        this.off('request', onReq)
        reject(new Error(`fake-kimi: no request matching ${String(match)} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.on('request', onReq)
    })
  }

  /** Every API request answers this account-suspension 403 ('accountSuspended403' | 'accountBanned403'), or null. */
  setSuspended(kind = 'accountSuspended403') {
    if (kind && !ERRORS[kind]) throw new Error(`unknown error ${kind}`)
    this.suspended = kind || null
  }

  /**
   * Queue a fault. rule: { path (prefix string or RegExp; matched against the path incl. query), method?,
   *   status?, body? (object -> JSON, string -> as is), headers?, delayMs?, times? (default 1; Infinity ok),
   *   resetMidStream? (true or number of SSE events to send before destroying the socket),
   *   hang? (never answer) }. Without status/resetMidStream/hang the request is handled normally after delayMs.
   */
  inject(rule) {
    const r = { times: 1, ...rule }
    if (typeof r.pathRegex === 'string') r.path = new RegExp(r.pathRegex)
    if (r.path === undefined) r.path = '/'
    this.injections.push(r)
    return r
  }

  clearInjections() {
    this.injections.length = 0
  }

  _takeInjection(method, path) {
    for (let i = 0; i < this.injections.length; i++) {
      const r = this.injections[i]
      if (r.method && r.method.toUpperCase() !== method) continue
      const hit = r.path instanceof RegExp ? r.path.test(path) : path.startsWith(r.path)
      if (!hit) continue
      r.times -= 1
      if (!(r.times > 0)) this.injections.splice(i, 1)
      return r
    }
    return null
  }

  stats() {
    let active = 0
    for (const i of this.refreshTokens.values()) if (i.status === 'active') active++
    return {
      requests: this.requests.length,
      deviceAuthorizationCount: this.deviceAuthorizationCount,
      tokenIssueCount: this.tokenIssueCount,
      refreshCount: this.refreshCount,
      invalidGrantCount: this.invalidGrantCount,
      lostRefreshAnswers: this.lostRefreshAnswers,
      activeRefreshTokens: active,
      accessTtl: this.accessTtl,
      pendingInjections: this.injections.length,
    }
  }

  /* ------------------------------------------------------------------------------------- control -- */

  async _control(req, res, pathname, buf) {
    const action = pathname.slice(CONTROL_PREFIX.length)
    let args = {}
    if (buf.length) {
      try {
        args = JSON.parse(buf.toString('utf8'))
      } catch {
        return this._json(res, 400, { error: 'control body must be JSON' })
      }
    }
    const q = new URL(req.url, this.url).searchParams
    try {
      switch (action) {
        case 'requests': {
          const since = Number(q.get('since') || 0)
          const prefix = q.get('prefix')
          let list = this.requests.slice(since)
          if (prefix) list = list.filter((r) => r.path.startsWith(prefix))
          return this._json(res, 200, list)
        }
        case 'state':
          return this._json(res, 200, { ...this.stats(), deviceCodes: this.deviceCodes(), refreshLog: this.refreshLog })
        case 'device-codes':
          return this._json(res, 200, this.deviceCodes())
        case 'tokens':
          return this._json(res, 200, this.issuedTokens())
        case 'approve':
          return this._json(res, 200, this.approve(args.userCode))
        case 'deny':
          return this._json(res, 200, this.deny(args.userCode))
        case 'expire':
          return this._json(res, 200, this.expire(args.userCode))
        case 'inject': {
          // `"error": "<ERRORS key>"` takes a canned answer (e.g. proxyForbidden403Html); the rule's own fields win.
          const canned = args.error ? ERRORS[args.error] : {}
          if (args.error && !canned) return this._json(res, 400, { error: `unknown canned error ${args.error}` })
          const rule = this.inject({ ...canned, ...args })
          return this._json(res, 200, { ok: true, path: String(rule.path), times: rule.times })
        }
        case 'clear-injections':
          this.clearInjections()
          return this._json(res, 200, { ok: true })
        case 'suspend':
          this.setSuspended(args.kind === undefined ? 'accountSuspended403' : args.kind)
          return this._json(res, 200, { ok: true, suspended: this.suspended })
        case 'identity-gate':
          this.setIdentityGate(args.gate, { gateModelsAndUsages: args.gateModelsAndUsages })
          return this._json(res, 200, { ok: true, gate: this.identityGate })
        case 'reply':
          this.setReply(args && Object.keys(args).length ? args : null)
          return this._json(res, 200, { ok: true })
        case 'access-ttl':
          this.setAccessTtl(Number(args.seconds))
          return this._json(res, 200, { ok: true, accessTtl: this.accessTtl })
        case 'issue':
          return this._json(res, 200, this.issueTokens(args))
        case 'revoke-all':
          this.revokeAll()
          return this._json(res, 200, { ok: true })
        case 'expire-access-tokens':
          this.expireAccessTokens(args.token)
          return this._json(res, 200, { ok: true })
        case 'reset':
          this.reset({ state: !!args.state })
          return this._json(res, 200, { ok: true })
        case 'shutdown':
          this._json(res, 200, { ok: true })
          setImmediate(() => this.close().then(() => this.emit('shutdown')))
          return
        default:
          return this._json(res, 404, { error: `unknown control action ${action}` })
      }
    } catch (e) {
      return this._json(res, 400, { error: e.message })
    }
  }
}

module.exports = { Control, CONTROL_PREFIX }
