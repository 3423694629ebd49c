'use strict'
// OAuth surface of the fake Kimi server (wire §1 device flow, §2 refresh) and its token ledger: device codes,
// issued access/refresh tokens, rotation at arrival. Methods are mixed into FakeKimi (server.js).

const crypto = require('node:crypto')
const { hex, sleep, getHeader } = require('./util')

const CLIENT_ID = '17e5f671-d194-4dfb-9706-5516cb48c098'
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
const USER_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'

function randomUserCode() {
  const bytes = crypto.randomBytes(8)
  let s = ''
  for (let i = 0; i < 8; i++) {
    if (i === 4) s += '-'
    s += USER_CODE_ALPHABET[bytes[i] % USER_CODE_ALPHABET.length]
  }
  return s
}

class OAuth {
  _resetState() {
    this.devices = new Map() // device_code -> state
    this.accessTokens = new Map() // token -> { expiresAt, revoked, issuedAt, refreshToken }
    this.refreshTokens = new Map() // token -> { status, uses, issuedAt, expiresAt, usedAt, replacedBy }
    this._issuedOrder = []
  }

  setAccessTtl(seconds) {
    this.accessTtl = seconds
  }

  /* device codes */

  _findDevice(userCode) {
    if (userCode === undefined || userCode === null) {
      let last = null
      for (const d of this.devices.values()) last = d
      if (!last) throw new Error('fake-kimi: no device code issued yet')
      return last
    }
    for (const d of this.devices.values()) if (d.user_code === userCode || d.device_code === userCode) return d
    throw new Error(`fake-kimi: unknown user code ${userCode}`)
  }

  approve(userCode) {
    const d = this._findDevice(userCode)
    if (d.status === 'pending') d.status = 'approved'
    return this._deviceView(d)
  }

  deny(userCode) {
    const d = this._findDevice(userCode)
    if (d.status === 'pending' || d.status === 'approved') d.status = 'denied'
    return this._deviceView(d)
  }

  expire(userCode) {
    const d = this._findDevice(userCode)
    d.expiresAt = Date.now() - 1
    return this._deviceView(d)
  }

  deviceCodes() {
    return [...this.devices.values()].map((d) => this._deviceView(d))
  }

  _deviceView(d) {
    return {
      device_code: d.device_code,
      user_code: d.user_code,
      status: d.status !== 'consumed' && Date.now() >= d.expiresAt ? 'expired' : d.status,
      polls: d.polls,
      interval: d.interval,
      createdAt: d.createdAt,
      expiresAt: d.expiresAt,
      slowDowns: d.slowDowns,
    }
  }

  /* tokens */

  /** Mint a valid pair directly (as a successful login would). */
  issueTokens({ accessTtl } = {}) {
    return this._mint(accessTtl ?? this.accessTtl)
  }

  _newToken(prefix) {
    if (!this.tokenLength) return `${prefix}${hex(16)}`
    const head = `${prefix}eyJhbGciOiJSUzI1NiJ9.`
    const sig = crypto.randomBytes(32).toString('base64url')
    const n = Math.max(8, this.tokenLength - head.length - sig.length - 1)
    return `${head}${crypto.randomBytes(n).toString('base64url').slice(0, n)}.${sig}`
  }

  _mint(ttl) {
    const now = Date.now()
    const at = this._newToken('fk-at-')
    const rt = this._newToken('fk-rt-')
    this.accessTokens.set(at, { expiresAt: now + ttl * 1000, revoked: false, issuedAt: now, refreshToken: rt })
    this.refreshTokens.set(rt, {
      status: 'active',
      uses: 0,
      invalidUses: 0,
      issuedAt: now,
      expiresAt: now + this.refreshTtl * 1000,
      usedAt: null,
      replacedBy: null,
      accessToken: at,
    })
    this._issuedOrder.push(at, rt)
    this.tokenIssueCount += 1
    return { access_token: at, refresh_token: rt, expires_in: ttl, scope: this.scope, token_type: 'Bearer' }
  }

  /** Every access and refresh token ever issued (for secret-leak greps). */
  issuedTokens() {
    return this._issuedOrder.slice()
  }

  refreshTokenInfo(rt) {
    const info = this.refreshTokens.get(rt)
    return info ? { ...info } : null
  }

  accessTokenInfo(at) {
    const info = this.accessTokens.get(at)
    return info ? { ...info, valid: this.isAccessTokenValid(at) } : null
  }

  isAccessTokenValid(token) {
    if (this.apiKeys.has(token)) return true
    const info = this.accessTokens.get(token)
    return !!info && !info.revoked && Date.now() < info.expiresAt
  }

  /** Server-side logout: every token ever issued becomes invalid (static apiKeys stay valid). */
  revokeAll() {
    for (const i of this.accessTokens.values()) i.revoked = true
    for (const i of this.refreshTokens.values()) if (i.status === 'active') i.status = 'revoked'
  }

  /** Make one (or every) access token expired now, refresh tokens untouched. */
  expireAccessTokens(token) {
    const now = Date.now() - 1
    if (token) {
      const i = this.accessTokens.get(token)
      if (i) i.expiresAt = now
    } else for (const i of this.accessTokens.values()) i.expiresAt = now
  }

  /* ----------------------------------------------------------------------------------------- OAuth -- */

  _oauthError(res, status, error, description) {
    return this._json(res, status, { error, error_description: description }, { 'cache-control': 'no-store' })
  }

  /** Strict x-www-form-urlencoded parse. Returns Map or sends an error and returns null. */
  _parseForm(res, record, allowed) {
    const ct = (getHeader(record.headers, 'content-type') || '').split(';')[0].trim().toLowerCase()
    if (record.method !== 'POST') {
      this._oauthError(res, 405, 'invalid_request', 'method not allowed')
      return null
    }
    if (ct !== 'application/x-www-form-urlencoded') {
      this._oauthError(
        res,
        400,
        'invalid_request',
        `content type must be application/x-www-form-urlencoded, got ${ct || 'none'}`,
      )
      return null
    }
    const params = new Map()
    for (const [k, v] of new URLSearchParams(record.body)) {
      if (params.has(k)) {
        this._oauthError(res, 400, 'invalid_request', `parameter ${k} included more than once`)
        return null
      }
      params.set(k, v)
    }
    if (this.strictForm && allowed) {
      for (const k of params.keys()) {
        if (!allowed.includes(k)) {
          this._oauthError(res, 400, 'invalid_request', `unexpected parameter: ${k}`)
          return null
        }
      }
    }
    const cid = params.get('client_id')
    if (cid === undefined || cid === '') {
      this._oauthError(res, 400, 'invalid_request', 'missing client_id')
      return null
    }
    if (cid !== this.clientId) {
      this._oauthError(res, 401, 'invalid_client', 'Client authentication failed: unknown client_id')
      return null
    }
    return params
  }

  _deviceAuthorization(req, res, record) {
    const params = this._parseForm(res, record, ['client_id'])
    if (!params) return
    const now = Date.now()
    const device_code = `fk-dc-${hex(16)}`
    let user_code = randomUserCode()
    while ([...this.devices.values()].some((d) => d.user_code === user_code)) user_code = randomUserCode()
    const base = this.verificationUri || `${this.url}/code/authorize_device`
    const d = {
      device_code,
      user_code,
      status: 'pending',
      createdAt: now,
      expiresAt: now + this.deviceExpiresIn * 1000,
      interval: this.deviceInterval,
      lastPollAt: null,
      polls: 0,
      slowDowns: 0,
      pendingBeforeApprove: null,
    }
    if (this.autoApprove === true) d.status = 'approved'
    else if (typeof this.autoApprove === 'number' && this.autoApprove >= 0) {
      if (this.autoApprove === 0) d.status = 'approved'
      else d.pendingBeforeApprove = this.autoApprove
    }
    this.devices.set(device_code, d)
    this.deviceAuthorizationCount += 1
    this.emit('device', this._deviceView(d))
    return this._json(
      res,
      200,
      {
        device_code,
        user_code,
        verification_uri: base,
        verification_uri_complete: `${base}?user_code=${encodeURIComponent(user_code)}`,
        expires_in: this.deviceExpiresIn,
        interval: this.deviceInterval,
      },
      { 'cache-control': 'no-store' },
    )
  }

  async _token(req, res, record) {
    const ct = (getHeader(record.headers, 'content-type') || '').split(';')[0].trim().toLowerCase()
    const grant = ct === 'application/x-www-form-urlencoded' ? new URLSearchParams(record.body).get('grant_type') : null
    if (grant === DEVICE_GRANT) return this._devicePoll(res, record)
    if (grant === 'refresh_token') return this._refresh(res, record)
    const params = this._parseForm(res, record, null)
    if (!params) return
    if (!grant) return this._oauthError(res, 400, 'invalid_request', 'missing grant_type')
    return this._oauthError(res, 400, 'unsupported_grant_type', `unsupported grant_type: ${grant}`)
  }

  _devicePoll(res, record) {
    const params = this._parseForm(res, record, ['client_id', 'device_code', 'grant_type'])
    if (!params) return
    const dc = params.get('device_code')
    if (!dc) return this._oauthError(res, 400, 'invalid_request', 'missing device_code')
    const d = this.devices.get(dc)
    if (!d) {
      this.invalidGrantCount += 1
      return this._oauthError(res, 400, 'invalid_grant', 'unknown device_code')
    }
    const now = Date.now()
    d.polls += 1
    if (d.status === 'consumed') {
      this.invalidGrantCount += 1
      return this._oauthError(res, 400, 'invalid_grant', 'device_code has already been used')
    }
    if (now >= d.expiresAt) {
      d.lastPollAt = now
      return this._oauthError(res, 400, 'expired_token', 'The device code has expired. Please start a new login.')
    }
    if (d.status === 'denied') {
      d.lastPollAt = now
      return this._oauthError(res, 400, 'access_denied', 'The user denied the authorization request.')
    }
    if (
      this.enforceSlowDown &&
      d.lastPollAt !== null &&
      now - d.lastPollAt < d.interval * 1000 - this.slowDownToleranceMs
    ) {
      d.lastPollAt = now
      d.interval += 5 // RFC 8628 §3.5: +5 s for this and all subsequent requests
      d.slowDowns += 1
      return this._oauthError(
        res,
        400,
        'slow_down',
        `Polling too fast; wait at least ${d.interval} seconds between requests.`,
      )
    }
    d.lastPollAt = now
    if (d.status === 'pending' && d.pendingBeforeApprove !== null) {
      if (d.pendingBeforeApprove <= 0) d.status = 'approved'
      else d.pendingBeforeApprove -= 1
    }
    if (d.status === 'approved') {
      d.status = 'consumed'
      const tokens = this._mint(this.accessTtl)
      this.emit('login', { user_code: d.user_code, ...tokens })
      return this._json(res, 200, tokens, { 'cache-control': 'no-store' })
    }
    return this._oauthError(res, 400, 'authorization_pending', 'The authorization request is still pending.')
  }

  async _refresh(res, record) {
    const params = this._parseForm(res, record, ['client_id', 'grant_type', 'refresh_token'])
    if (!params) return
    const rt = params.get('refresh_token')
    if (!rt) return this._oauthError(res, 400, 'invalid_request', 'missing refresh_token')
    const info = this.refreshTokens.get(rt)
    const now = Date.now()
    let reason = null
    if (!info) reason = 'unknown refresh token'
    else if (info.status === 'used') reason = 'refresh token has already been used'
    else if (info.status === 'revoked') reason = 'refresh token has been revoked'
    else if (now >= info.expiresAt) reason = 'refresh token has expired'
    if (reason) {
      this.invalidGrantCount += 1
      if (info) info.invalidUses += 1
      this.refreshLog.push({ refresh_token: rt, ok: false, error: 'invalid_grant', time: now })
      if (this.refreshDelayMs) await sleep(this.refreshDelayMs)
      return this._oauthError(res, 400, 'invalid_grant', `The refresh token is invalid: ${reason}.`)
    }
    // rotate at arrival (see header comment)
    info.status = 'used'
    info.uses += 1
    info.usedAt = now
    if (this.revokeOldAccessOnRefresh) {
      const old = this.accessTokens.get(info.accessToken)
      if (old) old.revoked = true
    }
    const tokens = this._mint(this.accessTtl)
    info.replacedBy = tokens.refresh_token
    this.refreshCount += 1
    const entry = { refresh_token: rt, ok: true, newRefreshToken: tokens.refresh_token, time: now, delivered: false }
    this.refreshLog.push(entry)
    this.emit('refresh', { old: rt, ...tokens })
    // Delivered once the whole answer was handed to the client's connection; a close before that loses it.
    res.on('close', () => {
      if (!res.writableFinished) this.lostRefreshAnswers += 1
      else entry.delivered = true
    })
    if (this.refreshDelayMs) await sleep(this.refreshDelayMs)
    return this._json(res, 200, tokens, { 'cache-control': 'no-store' })
  }

  /** Stand-in for the browser page at verification_uri. `?user_code=X&action=approve|deny` acts on the code. */
  _authorizePage(req, res, record) {
    const u = new URL(record.path, this.url)
    const code = u.searchParams.get('user_code')
    const action = u.searchParams.get('action')
    let msg = 'Fake Kimi device authorization.'
    try {
      if (code && action === 'approve') msg = `approved ${this.approve(code).user_code}`
      else if (code && action === 'deny') msg = `denied ${this.deny(code).user_code}`
      else if (code) msg = `code ${this._findDevice(code).user_code} is waiting`
    } catch (e) {
      msg = e.message
    }
    const body = `<!doctype html><title>Fake Kimi</title><p>${msg.replace(/[<>&]/g, '')}</p>`
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  }
}

module.exports = { OAuth, CLIENT_ID, DEVICE_GRANT }
