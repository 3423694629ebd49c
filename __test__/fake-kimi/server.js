#!/usr/bin/env node
'use strict'
/*
 * Fake Kimi For Coding server (OAuth device flow + coding API) for tests.
 *
 * Faithful to docs/kimi-wire.md (§1 OAuth, §2 refresh, §5 identity, §6 API, §7 errors) and to the
 * golden request logs. Everything listens on loopback only. No npm dependencies; Node >= 18.
 *
 * Library use:
 *   const { startFakeKimi, ERRORS } = require('./fake-kimi/server');
 *   const kimi = await startFakeKimi({ deviceInterval: 1, autoApprove: 1 });
 *   // kimi.url, kimi.oauthHost, kimi.baseUrl ... await kimi.close();
 *
 * Test API of the returned object (methods of FakeKimi, defined by surface in this directory):
 *   requests, requestsTo(prefix|RegExp), waitForRequest(match, {timeoutMs}), reset({state}), stats(),
 *   approve/deny/expire(userCode?), deviceCodes(), issueTokens({accessTtl}), issuedTokens(), revokeAll(),
 *   expireAccessTokens(token?), setAccessTtl(s), refreshTokenInfo(rt), accessTokenInfo(at), isAccessTokenValid(t),
 *   refreshCount, invalidGrantCount, lostRefreshAnswers, refreshLog, setReply(spec|fn), enqueueReply(spec), setModels(), setUsages(),
 *   setIdentityGate(gate, {gateModelsAndUsages}), setSuspended(kind), inject(rule), clearInjections(); events 'request', 'device', 'login', 'refresh'.
 *   files (Map id -> uploaded file), dataSources (override of the /tools data sources); parseMultipart() is exported.
 *   Each recorded request also has a non-enumerable `raw` Buffer of its body (multipart uploads are binary).
 *   GET /code/authorize_device?user_code=X[&action=approve|deny] stands in for the browser page.
 *
 * Standalone use (for other processes / real clients):
 *   node __test__/fake-kimi/server.js [--port N] [--access-ttl S] [--interval S] [--expires-in S]
 *        [--auto-approve [N]] [--api-key KEY]... [--log FILE] [--no-identity-gate] [--gate-models-usages]
 *   prints ONE JSON line {"url","oauthHost","baseUrl","controlUrl","pid"} on stdout, then serves until SIGINT/SIGTERM
 *   (or POST /__control/shutdown). With --log FILE every request is appended as JSONL in the golden format
 *   {"method","path","request_version","headers":[[name,value],...],"body"} plus "time".
 *
 * Control endpoints (enabled standalone, or with opts.control = true; never recorded in `requests`):
 *   GET  /__control/requests[?prefix=/coding/v1&since=N]  -> recorded requests (array, golden format + time)
 *   GET  /__control/state                                 -> counters, device codes, token stats
 *   GET  /__control/device-codes                          -> deviceCodes()
 *   GET  /__control/tokens                                -> issuedTokens()
 *   POST /__control/approve   {"userCode"?}               -> approve (latest code when omitted)
 *   POST /__control/deny      {"userCode"?}
 *   POST /__control/expire    {"userCode"?}
 *   POST /__control/inject    {rule}  (rule as inject(); "pathRegex":"<source>" instead of a RegExp; "error":"<ERRORS
 *                                      key>" for a canned answer, e.g. {"path":"/api/oauth/token","error":
 *                                      "proxyForbidden403Html","times":1e9})
 *   POST /__control/clear-injections                     -> clearInjections()
 *   POST /__control/suspend   {"kind"?}                   -> setSuspended(kind) (null lifts it)
 *   POST /__control/identity-gate {"gate"?, "gateModelsAndUsages"?} -> setIdentityGate()
 *   POST /__control/reply     {spec}  -> setReply(spec)
 *   POST /__control/access-ttl {"seconds":N}
 *   POST /__control/issue     {"accessTtl"?}              -> issueTokens()
 *   POST /__control/revoke-all
 *   POST /__control/expire-access-tokens
 *   POST /__control/reset     {"state"?:true}             -> reset()
 *   POST /__control/shutdown                              -> closes the server (standalone: exits)
 *
 * Layout: server.js (this file) listens, records each request, applies injected faults and routes it; the surfaces
 * add their methods to FakeKimi: oauth.js (device flow, refresh, token ledger), chat.js (/chat/completions and
 * /messages), platform.js (models, usages, search, fetch, files, /tools), identity.js (the client-identity gate),
 * control.js (injections, counters, /__control/). errors.js holds the canned error answers, util.js small helpers.
 *
 * Behaviour choices that the reference does NOT confirm (documented so tests know what they rely on):
 *   - Old access tokens stay valid until their own expiry after a refresh (opts.revokeOldAccessOnRefresh flips it).
 *   - A refresh token is rotated (and the old one burnt) when the request ARRIVES; refreshDelayMs only delays the
 *     answer. So of two concurrent refreshes with the same token the second gets invalid_grant while the first
 *     answer is still in flight, and a client that aborts during the delay loses the new pair.
 *   - slow_down is enforced (RFC 8628 §3.5; wire §11 says enforcement by the real server is UNCONFIRMED).
 *     opts.enforceSlowDown = false turns it off.
 *   - A device code that already produced tokens answers invalid_grant.
 *   - Authentication (401) is checked before the client-identity gate (403).
 *   - Form bodies are parsed strictly: content type must be x-www-form-urlencoded, no duplicate or unexpected
 *     parameters (so a stray `scope` or PKCE field is rejected with invalid_request). opts.strictForm = false relaxes.
 */

const http = require('node:http')
const fs = require('node:fs')
const { EventEmitter } = require('node:events')
const { hex, sleep, headerPairs, getHeader } = require('./util')
const { ERRORS, MSG_INVALID_AUTH, MSG_ONLY_CODING_AGENTS } = require('./errors')
const { OAuth, CLIENT_ID, DEVICE_GRANT } = require('./oauth')
const { Chat, DEFAULT_REPLY, makeBigChunks } = require('./chat')
const { Platform, DEFAULT_MODELS, SMALL_MODEL, defaultUsages, parseMultipart } = require('./platform')
const { IdentityGate, ALLOWED_UA_PREFIXES, DEFAULT_IDENTITIES, checkIdentity, checkUserAgent } = require('./identity')
const { Control, CONTROL_PREFIX } = require('./control')

const API_PREFIX = '/coding/v1'

/* ------------------------------------------------------------------------------------------------ server -- */

class FakeKimi extends EventEmitter {
  constructor(opts = {}) {
    super()
    this.opts = opts
    this.host = opts.host || '127.0.0.1'
    this.clientId = opts.clientId || CLIENT_ID
    this.deviceInterval = opts.deviceInterval ?? 5
    this.deviceExpiresIn = opts.deviceExpiresIn ?? 1800
    this.slowDownToleranceMs = opts.slowDownToleranceMs ?? 200
    this.enforceSlowDown = opts.enforceSlowDown !== false
    this.autoApprove = opts.autoApprove ?? false
    this.accessTtl = opts.accessTtl ?? 900
    this.refreshTtl = opts.refreshTtl ?? 30 * 86400
    this.refreshDelayMs = opts.refreshDelayMs ?? 0
    // 0: short tokens. N: tokens of N characters shaped like a JWT (OAuth-sized, e.g. to exceed the
    // 2,560-byte Windows Credential Manager blob when stored).
    this.tokenLength = opts.tokenLength ?? 0
    this.revokeOldAccessOnRefresh = !!opts.revokeOldAccessOnRefresh
    this.strictForm = opts.strictForm !== false
    this.scope = opts.scope ?? 'kimi-code'
    this.apiKeys = new Set(opts.apiKeys || [])
    this.models = opts.models || DEFAULT_MODELS.map((m) => JSON.parse(JSON.stringify(m)))
    this.usages = opts.usages || null // null -> defaultUsages() at request time
    this.identities = opts.identities || DEFAULT_IDENTITIES
    this.allowedUserAgents = opts.allowedUserAgents || ALLOWED_UA_PREFIXES
    this.gateModelsAndUsages = !!opts.gateModelsAndUsages
    this.suspended = opts.suspended || null // null | ERRORS key answered to every API request
    this.control = !!opts.control
    this.logFile = opts.logFile || null
    this.verificationUri = opts.verificationUri || null // default: <url>/code/authorize_device
    this.setIdentityGate(opts.identityGate)
    this.reply = opts.reply ?? DEFAULT_REPLY
    this.replyQueue = []
    this._sockets = new Set()
    this._connSeq = 0
    this._resetState()
    this.requests = []
    this.injections = []
    this._resetCounters()
  }

  /* ------------------------------------------------------------------------------------ lifecycle -- */

  async listen(port = this.opts.port ?? 0) {
    const server = http.createServer({ keepAlive: true }, (req, res) => this._onRequest(req, res))
    server.keepAliveTimeout = this.opts.keepAliveTimeoutMs ?? 30000
    server.headersTimeout = Math.max(server.keepAliveTimeout + 1000, 60000)
    server.requestTimeout = 0 // hang faults and slow streams must not be cut by Node
    server.on('connection', (sock) => {
      sock._fkId = ++this._connSeq
      this._sockets.add(sock)
      sock.on('close', () => this._sockets.delete(sock))
      sock.on('error', () => {})
    })
    server.on('clientError', (err, sock) => {
      if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n')
      else sock.destroy()
    })
    this.server = server
    await new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, this.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
    const addr = server.address()
    this.port = addr.port
    this.url = `http://${this.host}:${this.port}`
    this.oauthHost = this.url
    this.baseUrl = this.url + API_PREFIX
    this.controlUrl = this.url + CONTROL_PREFIX.slice(0, -1)
    return this
  }

  async close() {
    if (!this.server) return
    const server = this.server
    this.server = null
    this._closed = true
    const done = new Promise((r) => server.close(() => r()))
    for (const s of this._sockets) s.destroy()
    this._sockets.clear()
    await done
    this.emit('close')
  }

  /* ------------------------------------------------------------------------------------ dispatch -- */

  _onRequest(req, res) {
    req.on('error', () => {})
    res.on('error', () => {})
    const chunks = []
    let size = 0
    req.on('data', (c) => {
      size += c.length
      if (size <= (this.opts.maxBodyBytes ?? 64 * 1024 * 1024)) chunks.push(c)
    })
    req.on('end', () => {
      const buf = Buffer.concat(chunks)
      this._handle(req, res, buf).catch((err) => {
        if (!res.headersSent && !res.destroyed) {
          this._json(res, 500, { error: { message: `fake-kimi internal error: ${err.message}`, type: 'server_error' } })
        } else if (!res.destroyed) res.destroy()
        if (this.opts.debug) console.error(err)
      })
    })
  }

  async _handle(req, res, buf) {
    const path = req.url || '/'
    const pathname = path.split('?')[0]
    const method = req.method.toUpperCase()

    if (pathname.startsWith(CONTROL_PREFIX) && this.control) return this._control(req, res, pathname, buf)

    const record = {
      method,
      path,
      request_version: `HTTP/${req.httpVersion}`,
      headers: headerPairs(req.rawHeaders),
      body: buf.toString('utf8'),
      time: Date.now(),
      connectionId: req.socket && req.socket._fkId,
    }
    Object.defineProperty(record, 'raw', { value: buf, enumerable: false })
    this.requests.push(record)
    const writeHead = res.writeHead
    res.writeHead = function (status, ...rest) {
      record.status = status // known as soon as the head goes out (streams may still be running)
      return writeHead.call(this, status, ...rest)
    }
    if (this.logFile) {
      try {
        const { connectionId, ...logged } = record // eslint-disable-line no-unused-vars
        fs.appendFileSync(this.logFile, JSON.stringify(logged) + '\n')
      } catch {
        /* logging must never break serving */
      }
    }
    this.emit('request', record)

    const inj = this._takeInjection(method, path)
    if (inj) {
      record.injected = true
      if (inj.hang) {
        // never answer; close() destroys the socket
        return
      }
      if (inj.delayMs) {
        await sleep(inj.delayMs)
        if (res.destroyed || this._closed) return
      }
      if (inj.resetMidStream) return this._resetMidStream(req, res, record, inj)
      if (inj.status) {
        const body = inj.body === undefined ? '' : typeof inj.body === 'string' ? inj.body : JSON.stringify(inj.body)
        const headers = {
          'content-type': typeof inj.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
        }
        if (pathname.startsWith(API_PREFIX)) headers['x-trace-id'] = `fk-trace-${hex(8)}`
        Object.assign(headers, inj.headers || {})
        res.writeHead(inj.status, headers)
        res.end(body)
        return
      }
    }

    if (pathname === '/api/oauth/device_authorization') return this._deviceAuthorization(req, res, record)
    if (pathname === '/api/oauth/token') return this._token(req, res, record)
    if (pathname === '/code/authorize_device') return this._authorizePage(req, res, record)
    if (pathname.startsWith(API_PREFIX + '/')) return this._api(req, res, record, pathname.slice(API_PREFIX.length))
    return this._json(res, 404, { error: { message: `Not found: ${pathname}`, type: 'resource_not_found_error' } })
  }

  _json(res, status, obj, extraHeaders = {}) {
    if (res.destroyed) return
    const body = JSON.stringify(obj)
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      ...extraHeaders,
    })
    res.end(body)
  }

  /* ------------------------------------------------------------------------------------------- API -- */

  _apiError(res, { status, body, headers }) {
    return this._json(res, status, body, { 'x-trace-id': `fk-trace-${hex(8)}`, ...(headers || {}) })
  }

  _bearer(record, route) {
    const auth = getHeader(record.headers, 'authorization')
    if (auth) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
      if (m) return m[1]
    }
    if (route === '/messages') {
      const k = getHeader(record.headers, 'x-api-key')
      if (k) return k.trim()
    }
    return null
  }

  async _api(req, res, record, route) {
    const routes = {
      '/models': ['GET'],
      '/chat/completions': ['POST'],
      '/messages': ['POST'],
      '/usages': ['GET'],
      '/me': ['GET'],
      '/search': ['POST'],
      '/fetch': ['POST'],
      '/files': ['POST'],
      '/tools': ['POST'],
      '/client_configs': ['POST'],
    }
    const allowed = routes[route]
    if (!allowed) {
      return this._apiError(res, {
        status: 404,
        body: { error: { message: `Not found: ${API_PREFIX}${route}`, type: 'resource_not_found_error' } },
      })
    }
    if (!allowed.includes(record.method)) {
      return this._apiError(res, {
        status: 405,
        body: { error: { message: `Method ${record.method} not allowed`, type: 'invalid_request_error' } },
      })
    }
    const token = this._bearer(record, route)
    if (!token || !this.isAccessTokenValid(token)) return this._apiError(res, ERRORS.invalidAuth401)
    record.token = token

    if (this.suspended) return this._apiError(res, ERRORS[this.suspended])
    const why = this._gateRejects(route, record.headers)
    if (why) {
      record.gateRejected = why
      return this._apiError(res, ERRORS.accessTerminated403)
    }

    switch (route) {
      case '/models':
        return this._json(res, 200, { object: 'list', data: this.models }, { 'x-trace-id': `fk-trace-${hex(8)}` })
      case '/usages': {
        const u = typeof this.usages === 'function' ? this.usages() : this.usages || defaultUsages()
        return this._json(res, 200, u)
      }
      case '/me':
        return this._json(res, 200, {
          user_id: 'fk-user-1',
          nickname: 'Fake User',
          status: 'USER_STATUS_NORMAL',
          region: 'REGION_CN',
          user_level: 'LEVEL_BASIC',
          user_level_name: 'Fake',
        })
      case '/search':
        return this._search(res, record)
      case '/fetch':
        return this._fetchUrl(res, record)
      case '/files':
        return this._files(res, record)
      case '/tools':
        return this._tools(res, record)
      case '/client_configs':
        return this._json(res, 200, { name: 'unknown', config: null })
      case '/chat/completions':
        return this._chat(req, res, record)
      case '/messages':
        return this._messages(req, res, record)
    }
  }

  _invalidRequest(res, message, status = 400) {
    return this._apiError(res, { status, body: { error: { message, type: 'invalid_request_error' } } })
  }

  _parseJsonBody(res, record) {
    const ct = (getHeader(record.headers, 'content-type') || '').toLowerCase()
    if (!ct.includes('application/json')) {
      this._invalidRequest(res, `Invalid request: content type must be application/json`)
      return null
    }
    try {
      const body = JSON.parse(record.body)
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('body must be a JSON object')
      return body
    } catch (e) {
      this._invalidRequest(res, `Invalid request: failed to parse JSON body: ${e.message}`)
      return null
    }
  }
}

// One server, its surfaces in their own files: their methods join FakeKimi's prototype.
for (const surface of [OAuth, Chat, Platform, IdentityGate, Control]) {
  for (const [name, desc] of Object.entries(Object.getOwnPropertyDescriptors(surface.prototype))) {
    if (name === 'constructor') continue
    if (Object.prototype.hasOwnProperty.call(FakeKimi.prototype, name))
      throw new Error(`fake-kimi: two surfaces define ${name}`)
    Object.defineProperty(FakeKimi.prototype, name, desc)
  }
}

/**
 * Start a fake Kimi server. Options (all optional):
 *   port (0), host ('127.0.0.1'), deviceInterval (5 s), deviceExpiresIn (1800 s), slowDownToleranceMs (200),
 *   enforceSlowDown (true), autoApprove (false | true | N = answer N polls authorization_pending, then approve),
 *   accessTtl (900 s), refreshTtl (30 d), refreshDelayMs (0), revokeOldAccessOnRefresh (false), strictForm (true),
 *   tokenLength (0 = short tokens; N = JWT-shaped tokens of N characters),
 *   apiKeys ([]), models, usages (object | function), reply (spec | function(body, record) -> spec),
 *   identityGate (true | false | 'strict' | { '/models': 'prefix', ... }), gateModelsAndUsages (false),
 *   allowedUserAgents (ALLOWED_UA_PREFIXES), suspended (null | 'accountSuspended403' | 'accountBanned403'), identities,
 *   control (false), logFile, debug.
 * Reply spec: { text, reasoning, reasoningChunks, chunks, chunkSize, chunkDelayMs, bigStreamBytes, toolCalls:
 *   [{ id?, name, arguments }], finishReason, usageStyle ('moonshot' | 'openai'), promptTokens, completionTokens,
 *   cachedTokens, toolArgChunkSize }.
 */
async function startFakeKimi(opts = {}) {
  const s = new FakeKimi(opts)
  await s.listen()
  return s
}

module.exports = {
  startFakeKimi,
  parseMultipart,
  FakeKimi,
  ERRORS,
  CLIENT_ID,
  DEVICE_GRANT,
  DEFAULT_MODELS,
  SMALL_MODEL,
  defaultUsages,
  makeBigChunks,
  checkIdentity,
  checkUserAgent,
  ALLOWED_UA_PREFIXES,
  MSG_INVALID_AUTH,
  MSG_ONLY_CODING_AGENTS,
}

/* --------------------------------------------------------------------------------------- standalone -- */

function parseArgs(argv) {
  const o = { control: true, apiKeys: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`)
      return argv[++i]
    }
    switch (a) {
      case '--port':
        o.port = Number(next())
        break
      case '--host':
        o.host = next()
        break
      case '--access-ttl':
        o.accessTtl = Number(next())
        break
      case '--interval':
        o.deviceInterval = Number(next())
        break
      case '--expires-in':
        o.deviceExpiresIn = Number(next())
        break
      case '--auto-approve':
        if (argv[i + 1] !== undefined && /^\d+$/.test(argv[i + 1])) o.autoApprove = Number(argv[++i])
        else o.autoApprove = 1 // like the golden capture: first poll pending, second succeeds
        break
      case '--api-key':
        o.apiKeys.push(next())
        break
      case '--log':
        o.logFile = next()
        break
      case '--refresh-delay-ms':
        o.refreshDelayMs = Number(next())
        break
      case '--no-identity-gate':
        o.identityGate = false
        break
      case '--gate-models-usages':
        o.gateModelsAndUsages = true
        break
      case '--no-slow-down':
        o.enforceSlowDown = false
        break
      case '--reply-text':
        o.reply = { ...DEFAULT_REPLY, text: next() }
        break
      case '-h':
      case '--help':
        o.help = true
        break
      default:
        throw new Error(`unknown argument ${a}`)
    }
  }
  return o
}

if (require.main === module) {
  let o
  try {
    o = parseArgs(process.argv.slice(2))
  } catch (e) {
    process.stderr.write(`fake-kimi: ${e.message}\n`)
    process.exit(2)
  }
  if (o.help) {
    process.stdout.write(
      'usage: node server.js [--port N] [--access-ttl S] [--interval S] [--expires-in S] [--auto-approve [N]]\n' +
        '                      [--api-key K]... [--log FILE] [--refresh-delay-ms MS] [--no-identity-gate] [--gate-models-usages]\n' +
        '                      [--no-slow-down] [--reply-text TEXT]\n',
    )
    process.exit(0)
  }
  startFakeKimi(o).then(
    (s) => {
      process.stdout.write(
        JSON.stringify({
          url: s.url,
          oauthHost: s.oauthHost,
          baseUrl: s.baseUrl,
          controlUrl: s.controlUrl,
          pid: process.pid,
        }) + '\n',
      )
      const stop = () => s.close().then(() => process.exit(0))
      process.on('SIGINT', stop)
      process.on('SIGTERM', stop)
      s.on('shutdown', () => process.exit(0))
    },
    (e) => {
      process.stderr.write(`fake-kimi: ${e.message}\n`)
      process.exit(1)
    },
  )
}
