#!/usr/bin/env node
'use strict';
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
 * Test API of the returned object (see the methods of FakeKimi below):
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
 * Behaviour choices that the reference does NOT confirm (documented so tests know what they rely on):
 *   - Old access tokens stay valid until their own expiry after a refresh (opts.revokeOldAccessOnRefresh flips it).
 *   - A refresh token is rotated (and the old one burnt) when the request ARRIVES; refreshDelayMs only delays the
 *     answer. So of two concurrent refreshes with the same token the second gets invalid_grant while the first
 *     answer is still in flight, and a client that aborts during the delay loses the new pair.
 *   - slow_down is enforced (RFC 8628 §3.5; docs/kimi-wire.md §11 says enforcement by the real server is UNCONFIRMED).
 *     opts.enforceSlowDown = false turns it off.
 *   - A device code that already produced tokens answers invalid_grant.
 *   - Authentication (401) is checked before the client-identity gate (403).
 *   - Form bodies are parsed strictly: content type must be x-www-form-urlencoded, no duplicate or unexpected
 *     parameters (so a stray `scope` or PKCE field is rejected with invalid_request). opts.strictForm = false relaxes.
 */

const http = require('node:http');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { EventEmitter } = require('node:events');

const CLIENT_ID = '17e5f671-d194-4dfb-9706-5516cb48c098';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const API_PREFIX = '/coding/v1';
const CONTROL_PREFIX = '/__control/';

const MSG_INVALID_AUTH =
  'The API Key appears to be invalid or may have expired. Please verify your credentials and try again.';
const MSG_ONLY_CODING_AGENTS =
  'Kimi For Coding is currently only available for Coding Agents such as Kimi CLI, Claude Code, Roo Code, Kilo Code, etc.';

/** Canned error answers (docs/kimi-wire.md §7). Each is { status, body[, headers] } and can be spread into inject(). */
const ERRORS = Object.freeze({
  // docs/kimi-wire.md §7 (bodies from MoonshotAI/kimi-cli#1088, kimi-agent-sdk#133)
  invalidAuth401: Object.freeze({
    status: 401,
    body: { error: { message: MSG_INVALID_AUTH, type: 'invalid_authentication_error' } },
  }),
  // docs/kimi-wire.md §7: the client-identity gate
  accessTerminated403: Object.freeze({
    status: 403,
    body: { error: { message: MSG_ONLY_CODING_AGENTS, type: 'access_terminated_error' } },
  }),
  // docs/identity.md: account suspension as reported by pi users (pi#5009), type permission_error, top-level type
  accountSuspended403: Object.freeze({
    status: 403,
    body: {
      error: {
        type: 'permission_error',
        message:
          'Access terminated. Review our Community Guidelines(https://www.kimi.com/code/docs/kimi-code/community-guidelines.html) or contact support@moonshot.cn for assistance.',
      },
      type: 'error',
    },
  }),
  // docs/kimi-wire.md §7: account ban (community report), the access_terminated_error variant of the same text
  accountBanned403: Object.freeze({
    status: 403,
    body: {
      error: {
        message:
          'Access terminated. Review our Community Guidelines (https://www.kimi.com/code/docs/kimi-code/community-guidelines.html) or contact support@moonshot.cn for assistance.',
        type: 'access_terminated_error',
      },
    },
  }),
  // docs/kimi-wire.md §7: the 402 body is UNCONFIRMED. The message is the one reported in MoonshotAI/kimi-code#2624;
  // the envelope and `type` are a guess (OpenAI-style envelope like every other Kimi error).
  membership402: Object.freeze({
    status: 402,
    body: {
      error: {
        message:
          "We're unable to verify your membership benefits at this time. Please ensure your membership is active.",
        type: 'membership_error',
      },
    },
  }),
  // docs/kimi-wire.md §7 and golden ts-err-429-quota.jsonl
  quota429: Object.freeze({
    status: 429,
    body: {
      error: {
        message: 'You exceeded your current token quota: please check your account balance',
        type: 'exceeded_current_quota_error',
      },
    },
  }),
  // golden py-429.jsonl (type engine_overloaded_error, Retry-After: 1)
  overloaded429: Object.freeze({
    status: 429,
    headers: { 'retry-after': '1' },
    body: {
      error: {
        message:
          'Your account org-x request reached max organization concurrency: 4, please try again after 1 seconds',
        type: 'engine_overloaded_error',
      },
    },
  }),
  // No 500 body is documented; OpenAI-style envelope (UNCONFIRMED).
  server500: Object.freeze({
    status: 500,
    body: { error: { message: 'Internal server error, please try again later', type: 'server_error' } },
  }),
  // Not Kimi's answer at all: a corporate proxy or WAF refusing the request with its own HTML page (the request never
  // reached the OAuth server, so a refresh token sent with it is not spent).
  proxyForbidden403Html: Object.freeze({
    status: 403,
    body: '<!DOCTYPE html><html><head><title>403 Forbidden</title></head><body><h1>Access denied</h1><p>Blocked by corporate policy.</p></body></html>',
    headers: { 'content-type': 'text/html; charset=utf-8' },
  }),
});

const DEFAULT_MODELS = Object.freeze([
  Object.freeze({
    id: 'kimi-for-coding',
    object: 'model',
    context_length: 262144,
    display_name: 'Kimi-k2.6',
    supports_reasoning: true,
    supports_image_in: true,
    supports_video_in: true,
    supports_tool_use: true,
    supports_thinking_type: 'both',
    think_efforts: Object.freeze({ support: true, valid_efforts: ['low', 'high', 'max'], default_effort: 'high' }),
  }),
]);

/**
 * /usages. docs/kimi-wire.md §6.5 documents `usage` (weekly) + `limits` (kimi-cli and the kimi-code 0.38 snapshot parse that).
 * The published kimi-code 2.1.0 bundle instead parses `usages.{limit_5h,limit_7d,limit_month_total,
 * limit_month_code}.{used_ratio,reset_time}`. The fake answers a superset so both clients find their fields.
 */
function defaultUsages(now = Date.now()) {
  const week = new Date(now + 5 * 86400e3).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const fiveH = new Date(now + 3 * 3600e3).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const month = new Date(now + 20 * 86400e3).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return {
    usage: { used: '40', limit: '1000', remaining: '960', resetTime: week },
    limits: [
      {
        window: { duration: 300, timeUnit: 'TIME_UNIT_MINUTE' },
        detail: { used: '1', limit: '100', remaining: '99', resetTime: fiveH },
      },
    ],
    usages: {
      limit_5h: { used_ratio: 0.01, reset_time: fiveH },
      limit_7d: { used_ratio: 0.04, reset_time: week },
      limit_month_total: { used_ratio: 0.02, reset_time: month },
      limit_month_code: { used_ratio: 0.02, reset_time: month },
    },
    boosterWallet: {
      // fixed point: amount / 1e6 = cents
      balance: { type: 'BOOSTER', amount: '500000000', amountLeft: '350000000' },
      monthlyChargeLimitEnabled: false,
      monthlyChargeLimit: { priceInCents: '0', currency: 'USD' },
      monthlyUsed: { priceInCents: '150', currency: 'USD' },
      currency: 'USD',
    },
  };
}

const DEFAULT_REPLY = Object.freeze({ reasoning: 'hm', text: 'hi' });

/* ----------------------------------------------------------------------------------------------- helpers -- */

const hex = (n) => crypto.randomBytes(n).toString('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const USER_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

function randomUserCode() {
  const bytes = crypto.randomBytes(8);
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === 4) s += '-';
    s += USER_CODE_ALPHABET[bytes[i] % USER_CODE_ALPHABET.length];
  }
  return s;
}

/** Parses a multipart/form-data body into parts { name, filename, contentType, data }, or { error }. */
function parseMultipart(buf, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (!/^multipart\/form-data/i.test(contentType) || !m) return { error: 'content type must be multipart/form-data with a boundary' };
  const delim = Buffer.from(`--${m[1] || m[2]}`);
  const next = Buffer.concat([Buffer.from('\r\n'), delim]);
  const parts = [];
  let pos = buf.indexOf(delim);
  if (pos !== 0) return { error: 'malformed multipart body' };
  for (;;) {
    pos += delim.length;
    const tail = buf.subarray(pos, pos + 2).toString('latin1');
    if (tail === '--') return parts.length ? { parts } : { error: 'empty multipart body' };
    if (tail !== '\r\n') return { error: 'malformed multipart body' };
    pos += 2;
    const headEnd = buf.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) return { error: 'malformed multipart part headers' };
    const end = buf.indexOf(next, headEnd + 4);
    if (end < 0) return { error: 'multipart body is truncated' };
    const head = buf.subarray(pos, headEnd).toString('utf8');
    const disp = /^content-disposition:\s*form-data(.*)$/im.exec(head);
    if (!disp) return { error: 'a multipart part has no Content-Disposition: form-data' };
    const name = /;\s*name="([^"]*)"/i.exec(disp[1]);
    const filename = /;\s*filename="([^"]*)"/i.exec(disp[1]);
    const type = /^content-type:\s*(.+)$/im.exec(head);
    parts.push({
      name: name ? name[1] : null,
      filename: filename ? filename[1] : null,
      contentType: type ? type[1].trim() : null,
      data: buf.subarray(headEnd + 4, end),
    });
    pos = end + 2;
  }
}

function headerPairs(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i], raw[i + 1]]);
  return out;
}

/** Case-insensitive single header lookup on [[name, value]] pairs. */
function getHeader(pairs, name) {
  const lower = name.toLowerCase();
  for (const [k, v] of pairs) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function bigChunk(index, size) {
  const head = `[${String(index).padStart(8, '0')}]`;
  const fill = 'The quick brown fox jumps over the lazy dog. 0123456789\n';
  let s = head;
  while (s.length < size) s += fill;
  return s.slice(0, size);
}

/** Content pieces of a bigStreamBytes reply (deterministic, so tests can rebuild the expected text). */
function makeBigChunks(bytes, chunkSize = 4096) {
  const out = [];
  let total = 0;
  for (let i = 0; total < bytes; i++) {
    const size = Math.min(chunkSize, bytes - total);
    out.push(bigChunk(i, size));
    total += size;
  }
  return out;
}

function splitText(text, size) {
  if (!text) return [];
  if (!size || size <= 0 || text.length <= size) return [text];
  const out = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function drainOrClose(res) {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      res.off('error', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
    res.on('error', done);
  });
}

/** Write and wait until the data has been handed to the socket (or the response is gone). */
function writeAndWait(res, data) {
  return new Promise((resolve) => {
    const done = () => {
      res.off('close', done);
      resolve();
    };
    res.on('close', done);
    res.write(data, done);
  });
}

const estimateTokens = (s) => Math.max(1, Math.ceil(Buffer.byteLength(s || '') / 4));

/**
 * The client gate (docs/identity.md): prefix-based on the User-Agent. The accepted prefixes are the known coding agents:
 * the official clients, Claude Code, and the hosts Kimi names or allowlisted (pi: MoonshotAI/kimi-code#2185).
 * kimi-native's own `kimi-native/` (the CLI alone) is NOT in the list: whether Kimi accepts it is UNCONFIRMED, so
 * tests see the refusal. Claude Code itself sends `claude-cli/<version> (external, sdk-cli)` (docs/claude-code.md); Kimi
 * names Claude Code first among the agents it serves and documents its setup, so that prefix passes too.
 */
const ALLOWED_UA_PREFIXES = Object.freeze(['KimiCLI/', 'kimi-code-cli/', 'claude-code/', 'claude-cli/', 'pi/', 'opencode/', 'openclaw/']);

function checkUserAgent(pairs, prefixes = ALLOWED_UA_PREFIXES) {
  const ua = getHeader(pairs, 'user-agent') || '';
  return prefixes.some((p) => ua.startsWith(p)) ? null : `User-Agent ${JSON.stringify(ua)} is not an accepted coding agent`;
}

/**
 * The full official identity (docs/kimi-wire.md §5), for the opt-in 'strict' mode. Returns null when acceptable, else a reason.
 * kimi-code: `User-Agent: kimi-code-cli/<ver>[ (web)]` + `X-Msh-Platform: kimi_code_cli`;
 * kimi-cli:  `User-Agent: KimiCLI/<ver>` + `X-Msh-Platform: kimi_cli`;
 * both with non-empty X-Msh-Version / -Device-Id / -Device-Name / -Device-Model / -Os-Version.
 */
const DEFAULT_IDENTITIES = Object.freeze([
  { ua: /^kimi-code-cli\/\d[^\s]*( \([^)]*\))?$/, platform: 'kimi_code_cli' },
  { ua: /^KimiCLI\/\d[^\s]*$/, platform: 'kimi_cli' },
]);
const MSH_REQUIRED = ['X-Msh-Version', 'X-Msh-Device-Id', 'X-Msh-Device-Name', 'X-Msh-Device-Model', 'X-Msh-Os-Version'];

function checkIdentity(pairs, identities = DEFAULT_IDENTITIES) {
  const ua = getHeader(pairs, 'user-agent') || '';
  const platform = getHeader(pairs, 'x-msh-platform') || '';
  const ok = identities.some((id) => id.ua.test(ua) && id.platform === platform);
  if (!ok) return `unrecognised identity (User-Agent ${JSON.stringify(ua)}, X-Msh-Platform ${JSON.stringify(platform)})`;
  for (const h of MSH_REQUIRED) {
    const v = getHeader(pairs, h);
    if (v === undefined || String(v).trim() === '') return `missing ${h}`;
  }
  return null;
}

/*
 * Identity-gate modes per API route:
 *   'prefix' - the User-Agent must start with an accepted coding agent's prefix (opts.allowedUserAgents, default
 *              ALLOWED_UA_PREFIXES), else 403 access_terminated_error "only available for Coding Agents".
 *   'strict' - the full official identity (checkIdentity) is required.
 *   'off'    - no check.
 * Default: the coding routes are gated; /models and /usages are not (both official clients send no identity on
 * /usages, kimi-cli none on /models, docs/kimi-wire.md §5.2). Whether Kimi gates those two for other UAs is UNCONFIRMED:
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
});

/* ------------------------------------------------------------------------------------------------ server -- */

class FakeKimi extends EventEmitter {
  constructor(opts = {}) {
    super();
    this.opts = opts;
    this.host = opts.host || '127.0.0.1';
    this.clientId = opts.clientId || CLIENT_ID;
    this.deviceInterval = opts.deviceInterval ?? 5;
    this.deviceExpiresIn = opts.deviceExpiresIn ?? 1800;
    this.slowDownToleranceMs = opts.slowDownToleranceMs ?? 200;
    this.enforceSlowDown = opts.enforceSlowDown !== false;
    this.autoApprove = opts.autoApprove ?? false;
    this.accessTtl = opts.accessTtl ?? 900;
    this.refreshTtl = opts.refreshTtl ?? 30 * 86400;
    this.refreshDelayMs = opts.refreshDelayMs ?? 0;
    // 0: short tokens. N: tokens of N characters shaped like a JWT (OAuth-sized, e.g. to exceed the
    // 2,560-byte Windows Credential Manager blob when stored).
    this.tokenLength = opts.tokenLength ?? 0;
    this.revokeOldAccessOnRefresh = !!opts.revokeOldAccessOnRefresh;
    this.strictForm = opts.strictForm !== false;
    this.scope = opts.scope ?? 'kimi-code';
    this.apiKeys = new Set(opts.apiKeys || []);
    this.models = opts.models || DEFAULT_MODELS.map((m) => JSON.parse(JSON.stringify(m)));
    this.usages = opts.usages || null; // null -> defaultUsages() at request time
    this.identities = opts.identities || DEFAULT_IDENTITIES;
    this.allowedUserAgents = opts.allowedUserAgents || ALLOWED_UA_PREFIXES;
    this.gateModelsAndUsages = !!opts.gateModelsAndUsages;
    this.suspended = opts.suspended || null; // null | ERRORS key answered to every API request
    this.control = !!opts.control;
    this.logFile = opts.logFile || null;
    this.verificationUri = opts.verificationUri || null; // default: <url>/code/authorize_device
    this.setIdentityGate(opts.identityGate);
    this.reply = opts.reply ?? DEFAULT_REPLY;
    this.replyQueue = [];
    this._sockets = new Set();
    this._connSeq = 0;
    this._resetState();
    this.requests = [];
    this.injections = [];
    this._resetCounters();
  }

  _resetState() {
    this.devices = new Map(); // device_code -> state
    this.accessTokens = new Map(); // token -> { expiresAt, revoked, issuedAt, refreshToken }
    this.refreshTokens = new Map(); // token -> { status, uses, issuedAt, expiresAt, usedAt, replacedBy }
    this._issuedOrder = [];
  }

  _resetCounters() {
    this.refreshCount = 0;
    this.invalidGrantCount = 0;
    // Refreshes that rotated here but whose answer the client never received (it went away first): each one is a
    // login lost, since the old refresh token is spent and the new one was never seen.
    this.lostRefreshAnswers = 0;
    this.deviceAuthorizationCount = 0;
    this.tokenIssueCount = 0;
    this.refreshLog = [];
  }

  /* ------------------------------------------------------------------------------------ lifecycle -- */

  async listen(port = this.opts.port ?? 0) {
    const server = http.createServer({ keepAlive: true }, (req, res) => this._onRequest(req, res));
    server.keepAliveTimeout = this.opts.keepAliveTimeoutMs ?? 30000;
    server.headersTimeout = Math.max(server.keepAliveTimeout + 1000, 60000);
    server.requestTimeout = 0; // hang faults and slow streams must not be cut by Node
    server.on('connection', (sock) => {
      sock._fkId = ++this._connSeq;
      this._sockets.add(sock);
      sock.on('close', () => this._sockets.delete(sock));
      sock.on('error', () => {});
    });
    server.on('clientError', (err, sock) => {
      if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else sock.destroy();
    });
    this.server = server;
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    this.port = addr.port;
    this.url = `http://${this.host}:${this.port}`;
    this.oauthHost = this.url;
    this.baseUrl = this.url + API_PREFIX;
    this.controlUrl = this.url + CONTROL_PREFIX.slice(0, -1);
    return this;
  }

  async close() {
    if (!this.server) return;
    const server = this.server;
    this.server = null;
    this._closed = true;
    const done = new Promise((r) => server.close(() => r()));
    for (const s of this._sockets) s.destroy();
    this._sockets.clear();
    await done;
    this.emit('close');
  }

  /* ----------------------------------------------------------------------------------- test API -- */

  /** Clears recorded requests, pending injections, reply queue and counters. With {state:true} also forgets
   *  every device code and token and restores the default reply. */
  reset({ state = false } = {}) {
    this.requests.length = 0;
    this.injections.length = 0;
    this.replyQueue.length = 0;
    this._resetCounters();
    if (state) {
      this._resetState();
      this.reply = this.opts.reply ?? DEFAULT_REPLY;
    }
  }

  requestsTo(prefix) {
    if (prefix instanceof RegExp) return this.requests.filter((r) => prefix.test(r.path));
    return this.requests.filter((r) => r.path.startsWith(prefix));
  }

  /** Resolves with the first recorded request (already recorded or future) matching prefix/RegExp/function. */
  waitForRequest(match, { timeoutMs = 10000, since = 0 } = {}) {
    const test =
      typeof match === 'function'
        ? match
        : match instanceof RegExp
          ? (r) => match.test(r.path)
          : (r) => r.path.startsWith(match);
    const found = this.requests.slice(since).find(test);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const onReq = (r) => {
        if (test(r)) {
          clearTimeout(timer);
          this.off('request', onReq);
          resolve(r);
        }
      };
      const timer = setTimeout(() => {
        this.off('request', onReq);
        reject(new Error(`fake-kimi: no request matching ${String(match)} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('request', onReq);
    });
  }

  /** false: no gate; true/undefined: the default; 'strict': full official identity everywhere gated; {route: mode}. */
  setIdentityGate(gate, { gateModelsAndUsages = this.gateModelsAndUsages } = {}) {
    this.gateModelsAndUsages = !!gateModelsAndUsages;
    const base = { ...DEFAULT_GATE };
    if (this.gateModelsAndUsages) Object.assign(base, { '/models': 'prefix', '/usages': 'prefix' });
    if (gate === false) this.identityGate = Object.fromEntries(Object.keys(DEFAULT_GATE).map((k) => [k, 'off']));
    else if (gate === 'strict') this.identityGate = Object.fromEntries(Object.entries(base).map(([k, m]) => [k, m === 'off' ? m : 'strict']));
    else if (gate === true || gate === undefined || gate === null) this.identityGate = base;
    else this.identityGate = { ...base, ...gate };
  }

  /** Every API request answers this account-suspension 403 ('accountSuspended403' | 'accountBanned403'), or null. */
  setSuspended(kind = 'accountSuspended403') {
    if (kind && !ERRORS[kind]) throw new Error(`unknown error ${kind}`);
    this.suspended = kind || null;
  }

  setAccessTtl(seconds) {
    this.accessTtl = seconds;
  }

  setReply(spec) {
    this.reply = spec ?? DEFAULT_REPLY;
  }

  /** One-shot replies, consumed (FIFO) by the next chat/messages requests before the default reply. */
  enqueueReply(spec) {
    this.replyQueue.push(spec);
  }

  setModels(models) {
    this.models = models;
  }

  setUsages(usages) {
    this.usages = usages;
  }

  /**
   * Queue a fault. rule: { path (prefix string or RegExp; matched against the path incl. query), method?,
   *   status?, body? (object -> JSON, string -> as is), headers?, delayMs?, times? (default 1; Infinity ok),
   *   resetMidStream? (true or number of SSE events to send before destroying the socket),
   *   hang? (never answer) }. Without status/resetMidStream/hang the request is handled normally after delayMs.
   */
  inject(rule) {
    const r = { times: 1, ...rule };
    if (typeof r.pathRegex === 'string') r.path = new RegExp(r.pathRegex);
    if (r.path === undefined) r.path = '/';
    this.injections.push(r);
    return r;
  }

  clearInjections() {
    this.injections.length = 0;
  }

  _takeInjection(method, path) {
    for (let i = 0; i < this.injections.length; i++) {
      const r = this.injections[i];
      if (r.method && r.method.toUpperCase() !== method) continue;
      const hit = r.path instanceof RegExp ? r.path.test(path) : path.startsWith(r.path);
      if (!hit) continue;
      r.times -= 1;
      if (!(r.times > 0)) this.injections.splice(i, 1);
      return r;
    }
    return null;
  }

  /* device codes */

  _findDevice(userCode) {
    if (userCode === undefined || userCode === null) {
      let last = null;
      for (const d of this.devices.values()) last = d;
      if (!last) throw new Error('fake-kimi: no device code issued yet');
      return last;
    }
    for (const d of this.devices.values()) if (d.user_code === userCode || d.device_code === userCode) return d;
    throw new Error(`fake-kimi: unknown user code ${userCode}`);
  }

  approve(userCode) {
    const d = this._findDevice(userCode);
    if (d.status === 'pending') d.status = 'approved';
    return this._deviceView(d);
  }

  deny(userCode) {
    const d = this._findDevice(userCode);
    if (d.status === 'pending' || d.status === 'approved') d.status = 'denied';
    return this._deviceView(d);
  }

  expire(userCode) {
    const d = this._findDevice(userCode);
    d.expiresAt = Date.now() - 1;
    return this._deviceView(d);
  }

  deviceCodes() {
    return [...this.devices.values()].map((d) => this._deviceView(d));
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
    };
  }

  /* tokens */

  /** Mint a valid pair directly (as a successful login would). */
  issueTokens({ accessTtl } = {}) {
    return this._mint(accessTtl ?? this.accessTtl);
  }

  _newToken(prefix) {
    if (!this.tokenLength) return `${prefix}${hex(16)}`;
    const head = `${prefix}eyJhbGciOiJSUzI1NiJ9.`;
    const sig = crypto.randomBytes(32).toString('base64url');
    const n = Math.max(8, this.tokenLength - head.length - sig.length - 1);
    return `${head}${crypto.randomBytes(n).toString('base64url').slice(0, n)}.${sig}`;
  }

  _mint(ttl) {
    const now = Date.now();
    const at = this._newToken('fk-at-');
    const rt = this._newToken('fk-rt-');
    this.accessTokens.set(at, { expiresAt: now + ttl * 1000, revoked: false, issuedAt: now, refreshToken: rt });
    this.refreshTokens.set(rt, {
      status: 'active',
      uses: 0,
      invalidUses: 0,
      issuedAt: now,
      expiresAt: now + this.refreshTtl * 1000,
      usedAt: null,
      replacedBy: null,
      accessToken: at,
    });
    this._issuedOrder.push(at, rt);
    this.tokenIssueCount += 1;
    return { access_token: at, refresh_token: rt, expires_in: ttl, scope: this.scope, token_type: 'Bearer' };
  }

  /** Every access and refresh token ever issued (for secret-leak greps). */
  issuedTokens() {
    return this._issuedOrder.slice();
  }

  refreshTokenInfo(rt) {
    const info = this.refreshTokens.get(rt);
    return info ? { ...info } : null;
  }

  accessTokenInfo(at) {
    const info = this.accessTokens.get(at);
    return info ? { ...info, valid: this.isAccessTokenValid(at) } : null;
  }

  isAccessTokenValid(token) {
    if (this.apiKeys.has(token)) return true;
    const info = this.accessTokens.get(token);
    return !!info && !info.revoked && Date.now() < info.expiresAt;
  }

  /** Server-side logout: every token ever issued becomes invalid (static apiKeys stay valid). */
  revokeAll() {
    for (const i of this.accessTokens.values()) i.revoked = true;
    for (const i of this.refreshTokens.values()) if (i.status === 'active') i.status = 'revoked';
  }

  /** Make one (or every) access token expired now, refresh tokens untouched. */
  expireAccessTokens(token) {
    const now = Date.now() - 1;
    if (token) {
      const i = this.accessTokens.get(token);
      if (i) i.expiresAt = now;
    } else for (const i of this.accessTokens.values()) i.expiresAt = now;
  }

  stats() {
    let active = 0;
    for (const i of this.refreshTokens.values()) if (i.status === 'active') active++;
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
    };
  }

  /* ------------------------------------------------------------------------------------ dispatch -- */

  _onRequest(req, res) {
    req.on('error', () => {});
    res.on('error', () => {});
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= (this.opts.maxBodyBytes ?? 64 * 1024 * 1024)) chunks.push(c);
    });
    req.on('end', () => {
      const buf = Buffer.concat(chunks);
      this._handle(req, res, buf).catch((err) => {
        if (!res.headersSent && !res.destroyed) {
          this._json(res, 500, { error: { message: `fake-kimi internal error: ${err.message}`, type: 'server_error' } });
        } else if (!res.destroyed) res.destroy();
        if (this.opts.debug) console.error(err);
      });
    });
  }

  async _handle(req, res, buf) {
    const path = req.url || '/';
    const pathname = path.split('?')[0];
    const method = req.method.toUpperCase();

    if (pathname.startsWith(CONTROL_PREFIX) && this.control) return this._control(req, res, pathname, buf);

    const record = {
      method,
      path,
      request_version: `HTTP/${req.httpVersion}`,
      headers: headerPairs(req.rawHeaders),
      body: buf.toString('utf8'),
      time: Date.now(),
      connectionId: req.socket && req.socket._fkId,
    };
    Object.defineProperty(record, 'raw', { value: buf, enumerable: false });
    this.requests.push(record);
    const writeHead = res.writeHead;
    res.writeHead = function (status, ...rest) {
      record.status = status; // known as soon as the head goes out (streams may still be running)
      return writeHead.call(this, status, ...rest);
    };
    if (this.logFile) {
      try {
        const { connectionId, ...logged } = record; // eslint-disable-line no-unused-vars
        fs.appendFileSync(this.logFile, JSON.stringify(logged) + '\n');
      } catch {
        /* logging must never break serving */
      }
    }
    this.emit('request', record);

    const inj = this._takeInjection(method, path);
    if (inj) {
      record.injected = true;
      if (inj.hang) {
        // never answer; close() destroys the socket
        return;
      }
      if (inj.delayMs) {
        await sleep(inj.delayMs);
        if (res.destroyed || this._closed) return;
      }
      if (inj.resetMidStream) return this._resetMidStream(req, res, record, inj);
      if (inj.status) {
        const body = inj.body === undefined ? '' : typeof inj.body === 'string' ? inj.body : JSON.stringify(inj.body);
        const headers = { 'content-type': typeof inj.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json' };
        if (pathname.startsWith(API_PREFIX)) headers['x-trace-id'] = `fk-trace-${hex(8)}`;
        Object.assign(headers, inj.headers || {});
        res.writeHead(inj.status, headers);
        res.end(body);
        return;
      }
    }

    if (pathname === '/api/oauth/device_authorization') return this._deviceAuthorization(req, res, record);
    if (pathname === '/api/oauth/token') return this._token(req, res, record);
    if (pathname === '/code/authorize_device') return this._authorizePage(req, res, record);
    if (pathname.startsWith(API_PREFIX + '/')) return this._api(req, res, record, pathname.slice(API_PREFIX.length));
    return this._json(res, 404, { error: { message: `Not found: ${pathname}`, type: 'resource_not_found_error' } });
  }

  _json(res, status, obj, extraHeaders = {}) {
    if (res.destroyed) return;
    const body = JSON.stringify(obj);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      ...extraHeaders,
    });
    res.end(body);
  }

  /* ----------------------------------------------------------------------------------------- OAuth -- */

  _oauthError(res, status, error, description) {
    return this._json(res, status, { error, error_description: description }, { 'cache-control': 'no-store' });
  }

  /** Strict x-www-form-urlencoded parse. Returns Map or sends an error and returns null. */
  _parseForm(res, record, allowed) {
    const ct = (getHeader(record.headers, 'content-type') || '').split(';')[0].trim().toLowerCase();
    if (record.method !== 'POST') {
      this._oauthError(res, 405, 'invalid_request', 'method not allowed');
      return null;
    }
    if (ct !== 'application/x-www-form-urlencoded') {
      this._oauthError(res, 400, 'invalid_request', `content type must be application/x-www-form-urlencoded, got ${ct || 'none'}`);
      return null;
    }
    const params = new Map();
    for (const [k, v] of new URLSearchParams(record.body)) {
      if (params.has(k)) {
        this._oauthError(res, 400, 'invalid_request', `parameter ${k} included more than once`);
        return null;
      }
      params.set(k, v);
    }
    if (this.strictForm && allowed) {
      for (const k of params.keys()) {
        if (!allowed.includes(k)) {
          this._oauthError(res, 400, 'invalid_request', `unexpected parameter: ${k}`);
          return null;
        }
      }
    }
    const cid = params.get('client_id');
    if (cid === undefined || cid === '') {
      this._oauthError(res, 400, 'invalid_request', 'missing client_id');
      return null;
    }
    if (cid !== this.clientId) {
      this._oauthError(res, 401, 'invalid_client', 'Client authentication failed: unknown client_id');
      return null;
    }
    return params;
  }

  _deviceAuthorization(req, res, record) {
    const params = this._parseForm(res, record, ['client_id']);
    if (!params) return;
    const now = Date.now();
    const device_code = `fk-dc-${hex(16)}`;
    let user_code = randomUserCode();
    while ([...this.devices.values()].some((d) => d.user_code === user_code)) user_code = randomUserCode();
    const base = this.verificationUri || `${this.url}/code/authorize_device`;
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
    };
    if (this.autoApprove === true) d.status = 'approved';
    else if (typeof this.autoApprove === 'number' && this.autoApprove >= 0) {
      if (this.autoApprove === 0) d.status = 'approved';
      else d.pendingBeforeApprove = this.autoApprove;
    }
    this.devices.set(device_code, d);
    this.deviceAuthorizationCount += 1;
    this.emit('device', this._deviceView(d));
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
    );
  }

  async _token(req, res, record) {
    const ct = (getHeader(record.headers, 'content-type') || '').split(';')[0].trim().toLowerCase();
    const grant = ct === 'application/x-www-form-urlencoded' ? new URLSearchParams(record.body).get('grant_type') : null;
    if (grant === DEVICE_GRANT) return this._devicePoll(res, record);
    if (grant === 'refresh_token') return this._refresh(res, record);
    const params = this._parseForm(res, record, null);
    if (!params) return;
    if (!grant) return this._oauthError(res, 400, 'invalid_request', 'missing grant_type');
    return this._oauthError(res, 400, 'unsupported_grant_type', `unsupported grant_type: ${grant}`);
  }

  _devicePoll(res, record) {
    const params = this._parseForm(res, record, ['client_id', 'device_code', 'grant_type']);
    if (!params) return;
    const dc = params.get('device_code');
    if (!dc) return this._oauthError(res, 400, 'invalid_request', 'missing device_code');
    const d = this.devices.get(dc);
    if (!d) {
      this.invalidGrantCount += 1;
      return this._oauthError(res, 400, 'invalid_grant', 'unknown device_code');
    }
    const now = Date.now();
    d.polls += 1;
    if (d.status === 'consumed') {
      this.invalidGrantCount += 1;
      return this._oauthError(res, 400, 'invalid_grant', 'device_code has already been used');
    }
    if (now >= d.expiresAt) {
      d.lastPollAt = now;
      return this._oauthError(res, 400, 'expired_token', 'The device code has expired. Please start a new login.');
    }
    if (d.status === 'denied') {
      d.lastPollAt = now;
      return this._oauthError(res, 400, 'access_denied', 'The user denied the authorization request.');
    }
    if (this.enforceSlowDown && d.lastPollAt !== null && now - d.lastPollAt < d.interval * 1000 - this.slowDownToleranceMs) {
      d.lastPollAt = now;
      d.interval += 5; // RFC 8628 §3.5: +5 s for this and all subsequent requests
      d.slowDowns += 1;
      return this._oauthError(res, 400, 'slow_down', `Polling too fast; wait at least ${d.interval} seconds between requests.`);
    }
    d.lastPollAt = now;
    if (d.status === 'pending' && d.pendingBeforeApprove !== null) {
      if (d.pendingBeforeApprove <= 0) d.status = 'approved';
      else d.pendingBeforeApprove -= 1;
    }
    if (d.status === 'approved') {
      d.status = 'consumed';
      const tokens = this._mint(this.accessTtl);
      this.emit('login', { user_code: d.user_code, ...tokens });
      return this._json(res, 200, tokens, { 'cache-control': 'no-store' });
    }
    return this._oauthError(res, 400, 'authorization_pending', 'The authorization request is still pending.');
  }

  async _refresh(res, record) {
    const params = this._parseForm(res, record, ['client_id', 'grant_type', 'refresh_token']);
    if (!params) return;
    const rt = params.get('refresh_token');
    if (!rt) return this._oauthError(res, 400, 'invalid_request', 'missing refresh_token');
    const info = this.refreshTokens.get(rt);
    const now = Date.now();
    let reason = null;
    if (!info) reason = 'unknown refresh token';
    else if (info.status === 'used') reason = 'refresh token has already been used';
    else if (info.status === 'revoked') reason = 'refresh token has been revoked';
    else if (now >= info.expiresAt) reason = 'refresh token has expired';
    if (reason) {
      this.invalidGrantCount += 1;
      if (info) info.invalidUses += 1;
      this.refreshLog.push({ refresh_token: rt, ok: false, error: 'invalid_grant', time: now });
      if (this.refreshDelayMs) await sleep(this.refreshDelayMs);
      return this._oauthError(res, 400, 'invalid_grant', `The refresh token is invalid: ${reason}.`);
    }
    // rotate at arrival (see header comment)
    info.status = 'used';
    info.uses += 1;
    info.usedAt = now;
    if (this.revokeOldAccessOnRefresh) {
      const old = this.accessTokens.get(info.accessToken);
      if (old) old.revoked = true;
    }
    const tokens = this._mint(this.accessTtl);
    info.replacedBy = tokens.refresh_token;
    this.refreshCount += 1;
    const entry = { refresh_token: rt, ok: true, newRefreshToken: tokens.refresh_token, time: now, delivered: false };
    this.refreshLog.push(entry);
    this.emit('refresh', { old: rt, ...tokens });
    // Delivered once the whole answer was handed to the client's connection; a close before that loses it.
    res.on('close', () => {
      if (!res.writableFinished) this.lostRefreshAnswers += 1;
      else entry.delivered = true;
    });
    if (this.refreshDelayMs) await sleep(this.refreshDelayMs);
    return this._json(res, 200, tokens, { 'cache-control': 'no-store' });
  }

  /** Stand-in for the browser page at verification_uri. `?user_code=X&action=approve|deny` acts on the code. */
  _authorizePage(req, res, record) {
    const u = new URL(record.path, this.url);
    const code = u.searchParams.get('user_code');
    const action = u.searchParams.get('action');
    let msg = 'Fake Kimi device authorization.';
    try {
      if (code && action === 'approve') msg = `approved ${this.approve(code).user_code}`;
      else if (code && action === 'deny') msg = `denied ${this.deny(code).user_code}`;
      else if (code) msg = `code ${this._findDevice(code).user_code} is waiting`;
    } catch (e) {
      msg = e.message;
    }
    const body = `<!doctype html><title>Fake Kimi</title><p>${msg.replace(/[<>&]/g, '')}</p>`;
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  /* ------------------------------------------------------------------------------------------- API -- */

  _apiError(res, { status, body, headers }) {
    return this._json(res, status, body, { 'x-trace-id': `fk-trace-${hex(8)}`, ...(headers || {}) });
  }

  _bearer(record, route) {
    const auth = getHeader(record.headers, 'authorization');
    if (auth) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (m) return m[1];
    }
    if (route === '/messages') {
      const k = getHeader(record.headers, 'x-api-key');
      if (k) return k.trim();
    }
    return null;
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
    };
    const allowed = routes[route];
    if (!allowed) {
      return this._apiError(res, { status: 404, body: { error: { message: `Not found: ${API_PREFIX}${route}`, type: 'resource_not_found_error' } } });
    }
    if (!allowed.includes(record.method)) {
      return this._apiError(res, { status: 405, body: { error: { message: `Method ${record.method} not allowed`, type: 'invalid_request_error' } } });
    }
    const token = this._bearer(record, route);
    if (!token || !this.isAccessTokenValid(token)) return this._apiError(res, ERRORS.invalidAuth401);
    record.token = token;

    if (this.suspended) return this._apiError(res, ERRORS[this.suspended]);
    const mode = this.identityGate[route] || 'off';
    const why =
      mode === 'prefix'
        ? checkUserAgent(record.headers, this.allowedUserAgents)
        : mode === 'strict'
          ? checkIdentity(record.headers, this.identities)
          : null;
    if (why) {
      record.gateRejected = why;
      return this._apiError(res, ERRORS.accessTerminated403);
    }

    switch (route) {
      case '/models':
        return this._json(res, 200, { object: 'list', data: this.models }, { 'x-trace-id': `fk-trace-${hex(8)}` });
      case '/usages': {
        const u = typeof this.usages === 'function' ? this.usages() : this.usages || defaultUsages();
        return this._json(res, 200, u);
      }
      case '/me':
        return this._json(res, 200, {
          user_id: 'fk-user-1',
          nickname: 'Fake User',
          status: 'USER_STATUS_NORMAL',
          region: 'REGION_CN',
          user_level: 'LEVEL_BASIC',
          user_level_name: 'Fake',
        });
      case '/search':
        return this._search(res, record);
      case '/fetch':
        return this._fetchUrl(res, record);
      case '/files':
        return this._files(res, record);
      case '/tools':
        return this._tools(res, record);
      case '/client_configs':
        return this._json(res, 200, { name: 'unknown', config: null });
      case '/chat/completions':
        return this._chat(req, res, record);
      case '/messages':
        return this._messages(req, res, record);
    }
  }

  /* ---------------------------------------------------------------- platform services (docs/kimi-wire.md §6.6-§6.8) -- */

  /** Uploaded files of this server: id -> { id, bytes, mime, purpose, filename, sha256, data }. */
  get files() {
    if (!this._uploads) this._uploads = new Map();
    return this._uploads;
  }

  /** Web search (docs/kimi-wire.md §6.8): `text_query` required; `limit` (kimi-cli) caps the results (default 5). */
  _search(res, record) {
    const body = this._parseJsonBody(res, record);
    if (!body) return;
    const q = body.text_query;
    if (typeof q !== 'string' || !q.trim()) return this._invalidRequest(res, 'Invalid request: text_query is required');
    if (body.limit !== undefined && !(Number.isInteger(body.limit) && body.limit > 0)) {
      return this._invalidRequest(res, 'Invalid request: limit must be a positive integer');
    }
    const n = Math.min(body.limit ?? 5, 20);
    const search_results = [];
    for (let i = 1; i <= n; i++) {
      search_results.push({
        site_name: `site ${i}`,
        title: `Result ${i} for ${q}`,
        url: `https://example.com/${i}?q=${encodeURIComponent(q)}`,
        snippet: `Snippet ${i} about ${q}`,
        content: '',
        date: i === 1 ? '2026-11-01' : '',
        icon: '',
        mime: 'text/html',
      });
    }
    return this._json(res, 200, { search_results });
  }

  /**
   * URL fetch (docs/kimi-wire.md §6.8): `{"url"}` -> the page as text/markdown. Hosts ending in `.unsafe.test` get the
   * community-reported refusal 403 {"error":{"type":"security_risk",...}}; hosts ending in `.missing.test` a 404
   * (that body is this fake's choice, UNCONFIRMED).
   */
  _fetchUrl(res, record) {
    const body = this._parseJsonBody(res, record);
    if (!body) return;
    let url;
    try {
      url = new URL(body.url);
      if (!/^https?:$/.test(url.protocol)) throw new Error('scheme');
    } catch {
      return this._invalidRequest(res, 'Invalid request: url must be an absolute http(s) URL');
    }
    if (url.hostname.endsWith('.unsafe.test')) {
      return this._apiError(res, {
        status: 403,
        body: { error: { type: 'security_risk', message: 'We consider the current URL poses a security risk and cannot access it.' } },
      });
    }
    if (url.hostname.endsWith('.missing.test')) {
      return this._apiError(res, { status: 404, body: { error: { type: 'resource_not_found_error', message: `Failed to fetch ${url.href}: 404` } } });
    }
    const page = `# Page at ${url.href}\n\nFetched by the fake Kimi server.\n`;
    res.writeHead(200, { 'content-type': 'text/markdown; charset=utf-8', 'content-length': Buffer.byteLength(page) });
    return res.end(page);
  }

  /**
   * Files API (docs/kimi-wire.md §6.7, golden py-chat): multipart/form-data with a `purpose` part and a `file` part that has
   * a filename and a content type. The id answers as `{"id","object":"file",...}` and is then usable in a chat as
   * `ms://<id>` (image_url / video_url). Accepted purposes: image, video, file-extract (UNCONFIRMED list).
   */
  _files(res, record) {
    const ct = getHeader(record.headers, 'content-type') || '';
    const parsed = parseMultipart(record.raw || Buffer.from(record.body), ct);
    if (parsed.error) return this._invalidRequest(res, `Invalid request: ${parsed.error}`);
    const purposePart = parsed.parts.find((p) => p.name === 'purpose');
    const filePart = parsed.parts.find((p) => p.name === 'file');
    if (!purposePart) return this._invalidRequest(res, 'Invalid request: purpose is required');
    const purpose = purposePart.data.toString('utf8');
    if (!['image', 'video', 'file-extract'].includes(purpose)) {
      return this._invalidRequest(res, `Invalid request: unsupported purpose ${JSON.stringify(purpose)}`);
    }
    if (!filePart || !filePart.filename) return this._invalidRequest(res, 'Invalid request: file is required');
    if (!filePart.contentType) return this._invalidRequest(res, 'Invalid request: file needs a content type');
    if (filePart.data.length === 0) return this._invalidRequest(res, 'Invalid request: file is empty');
    const id = `file-${hex(8)}`;
    const file = {
      id,
      bytes: filePart.data.length,
      mime: filePart.contentType,
      purpose,
      filename: filePart.filename,
      sha256: crypto.createHash('sha256').update(filePart.data).digest('hex'),
      data: filePart.data,
    };
    this.files.set(id, file);
    return this._json(res, 200, {
      id,
      object: 'file',
      bytes: file.bytes,
      created_at: Math.floor(Date.now() / 1000),
      filename: file.filename,
      purpose,
      status: 'ok',
    });
  }

  /**
   * /tools (docs/kimi-wire.md §6.6): `chat_title`, and kimi-datasource's `get_data_source_desc` / `call_data_source_tool`.
   * The data-source answers' shapes are this fake's choice (UNCONFIRMED): one source `fake_weather` with api `now`.
   */
  _tools(res, record) {
    const body = this._parseJsonBody(res, record);
    if (!body) return;
    const params = body.params && typeof body.params === 'object' ? body.params : {};
    const sources = this.dataSources || {
      fake_weather: { description: 'Current weather (fake)', apis: { now: { description: 'Weather now', params: { city: 'string' } } } },
    };
    const notFound = (what) =>
      this._apiError(res, { status: 404, body: { error: { type: 'resource_not_found_error', message: `${what} not found` } } });
    switch (body.method) {
      case 'chat_title':
        return this._json(res, 200, { title: 'Fake title' });
      case 'get_data_source_desc': {
        const src = sources[params.name];
        if (!src) return notFound(`data source ${JSON.stringify(params.name)}`);
        return this._json(res, 200, { name: params.name, description: src.description, apis: src.apis });
      }
      case 'call_data_source_tool': {
        const src = sources[params.data_source_name];
        if (!src) return notFound(`data source ${JSON.stringify(params.data_source_name)}`);
        if (!src.apis[params.api_name]) return notFound(`api ${JSON.stringify(params.api_name)}`);
        return this._json(res, 200, {
          data_source_name: params.data_source_name,
          api_name: params.api_name,
          result: { echo: params.params ?? null, summary: 'sunny (fake)' },
        });
      }
      default:
        return this._invalidRequest(res, `Invalid request: unknown method ${JSON.stringify(body.method)}`);
    }
  }

  _invalidRequest(res, message, status = 400) {
    return this._apiError(res, { status, body: { error: { message, type: 'invalid_request_error' } } });
  }

  _parseJsonBody(res, record) {
    const ct = (getHeader(record.headers, 'content-type') || '').toLowerCase();
    if (!ct.includes('application/json')) {
      this._invalidRequest(res, `Invalid request: content type must be application/json`);
      return null;
    }
    try {
      const body = JSON.parse(record.body);
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('body must be a JSON object');
      return body;
    } catch (e) {
      this._invalidRequest(res, `Invalid request: failed to parse JSON body: ${e.message}`);
      return null;
    }
  }

  _checkModel(res, model) {
    if (typeof model !== 'string' || !model) {
      this._invalidRequest(res, 'Invalid request: model is required');
      return false;
    }
    if (!this.models.some((m) => m.id === model)) {
      // Moonshot's wording for unknown models on its public API; for the coding endpoint UNCONFIRMED.
      this._apiError(res, {
        status: 404,
        body: { error: { message: `Not found the model ${model} or Permission denied`, type: 'resource_not_found_error' } },
      });
      return false;
    }
    return true;
  }

  _nextReply(body, record) {
    let spec = this.replyQueue.length ? this.replyQueue.shift() : this.reply;
    if (typeof spec === 'function') spec = spec(body, record);
    spec = { ...(spec || DEFAULT_REPLY) }; // a given spec replaces the default reply entirely
    let contentChunks;
    if (spec.bigStreamBytes) contentChunks = makeBigChunks(spec.bigStreamBytes, spec.chunkSize || 4096);
    else if (Array.isArray(spec.chunks)) contentChunks = spec.chunks.map(String);
    else contentChunks = splitText(spec.text == null ? '' : String(spec.text), spec.chunkSize ?? 0);
    const reasoningChunks = Array.isArray(spec.reasoningChunks)
      ? spec.reasoningChunks.map(String)
      : spec.reasoning
        ? [String(spec.reasoning)]
        : [];
    const toolCalls = (spec.toolCalls || []).map((t, i) => ({
      id: t.id || `tool_${hex(6)}`,
      name: t.name,
      arguments: typeof t.arguments === 'string' ? t.arguments : JSON.stringify(t.arguments ?? {}),
      index: i,
    }));
    return { spec, contentChunks, reasoningChunks, toolCalls };
  }

  _validateMessages(res, messages) {
    if (!Array.isArray(messages) || messages.length === 0) {
      this._invalidRequest(res, 'Invalid request: messages must be a non-empty array');
      return false;
    }
    for (const m of messages) {
      if (!m || typeof m !== 'object' || typeof m.role !== 'string') {
        this._invalidRequest(res, 'Invalid request: every message needs a role');
        return false;
      }
      // docs/kimi-wire.md §6.7: an ms://<id> media reference must name a file uploaded to this server
      if (Array.isArray(m.content)) {
        for (const p of m.content) {
          const media = p && (p.image_url || p.video_url);
          const ref = typeof media === 'string' ? media : media && media.url;
          if (typeof ref === 'string' && ref.startsWith('ms://') && !this.files.has(ref.slice(5))) {
            this._invalidRequest(res, `Invalid request: file ${ref.slice(5)} not found`);
            return false;
          }
        }
      }
      // docs/kimi-wire.md §6.2/§7: the server rejects an assistant message whose content has an empty text part
      if (m.role === 'assistant' && Array.isArray(m.content)) {
        if (m.content.some((p) => p && p.type === 'text' && (p.text === '' || p.text === undefined))) {
          this._invalidRequest(res, 'text content is empty');
          return false;
        }
      }
    }
    return true;
  }

  async _chat(req, res, record) {
    const body = this._parseJsonBody(res, record);
    if (!body) return;
    if (!this._checkModel(res, body.model)) return;
    if (!this._validateMessages(res, body.messages)) return;
    const plan = this._nextReply(body, record);
    const id = `chatcmpl-${hex(12)}`;
    const created = Math.floor(Date.now() / 1000);
    const model = body.model;
    const promptTokens = plan.spec.promptTokens ?? estimateTokens(record.body);
    const text = plan.contentChunks.join('');
    const reasoning = plan.reasoningChunks.join('');
    const completionTokens = plan.spec.completionTokens ?? estimateTokens(text + reasoning);
    const cached = Math.min(plan.spec.cachedTokens ?? 0, promptTokens);
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      cached_tokens: cached,
      prompt_tokens_details: { cached_tokens: cached },
    };
    const finish = plan.spec.finishReason || (plan.toolCalls.length ? 'tool_calls' : 'stop');
    const traceId = `fk-trace-${hex(8)}`;

    if (!body.stream) {
      const message = { role: 'assistant', content: text };
      if (reasoning) message.reasoning_content = reasoning;
      if (plan.toolCalls.length) {
        message.tool_calls = plan.toolCalls.map((t) => ({
          index: t.index,
          id: t.id,
          type: 'function',
          function: { name: t.name, arguments: t.arguments },
        }));
      }
      return this._json(
        res,
        200,
        { id, object: 'chat.completion', created, model, choices: [{ index: 0, message, finish_reason: finish }], usage },
        { 'x-trace-id': traceId },
      );
    }

    const base = { id, object: 'chat.completion.chunk', created, model };
    const events = [];
    const ev = (choice) => events.push(JSON.stringify({ ...base, choices: [{ index: 0, ...choice }] }));
    ev({ delta: { role: 'assistant', content: '' }, finish_reason: null });
    for (const r of plan.reasoningChunks) ev({ delta: { reasoning_content: r }, finish_reason: null });
    // content chunks are produced lazily (big streams)
    const contentStart = events.length;
    const tail = [];
    const tev = (choice) => tail.push(JSON.stringify({ ...base, choices: [{ index: 0, ...choice }] }));
    for (const t of plan.toolCalls) {
      tev({
        delta: { tool_calls: [{ index: t.index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } }] },
        finish_reason: null,
      });
      for (const piece of splitText(t.arguments, plan.spec.toolArgChunkSize ?? 16)) {
        tev({ delta: { tool_calls: [{ index: t.index, function: { arguments: piece } }] }, finish_reason: null });
      }
    }
    const usageStyle = plan.spec.usageStyle || 'moonshot';
    if (usageStyle === 'openai') {
      tev({ delta: {}, finish_reason: finish });
      tail.push(JSON.stringify({ ...base, choices: [], usage }));
    } else {
      tev({ delta: {}, finish_reason: finish, usage }); // Moonshot: usage inside choices[0]
    }

    const self = this;
    function* all() {
      for (const e of events.slice(0, contentStart)) yield e;
      for (const c of plan.contentChunks)
        yield JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: c }, finish_reason: null }] });
      for (const e of tail) yield e;
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-trace-id': traceId,
    });
    record.streamed = await self._pump(res, all(), (e) => `data: ${e}\n\n`, plan.spec.chunkDelayMs, {
      doneLine: 'data: [DONE]\n\n',
    });
  }

  /** Write SSE events with back-pressure and optional per-event delay; returns 'done' | 'aborted' | 'reset'.
   *  With resetAfter = N: after N events are flushed to the socket, the socket is destroyed (no terminator). */
  async _pump(res, iter, fmt, delayMs, { doneLine, resetAfter } = {}) {
    let n = 0;
    const gone = () => res.destroyed || res.writableEnded || this._closed;
    for (const e of iter) {
      if (gone()) return 'aborted';
      if (resetAfter !== undefined && n >= resetAfter) break;
      if (delayMs && n > 0) {
        await sleep(delayMs);
        if (gone()) return 'aborted';
      }
      n++;
      if (resetAfter !== undefined) await writeAndWait(res, fmt(e));
      else if (!res.write(fmt(e))) await drainOrClose(res);
    }
    if (resetAfter !== undefined) {
      if (res.socket) res.socket.destroy();
      res.destroy();
      return 'reset';
    }
    if (gone()) return 'aborted';
    if (doneLine) res.write(doneLine);
    res.end();
    return 'done';
  }

  async _resetMidStream(req, res, record, inj) {
    const after = typeof inj.resetMidStream === 'number' ? inj.resetMidStream : 2;
    const pathname = record.path.split('?')[0];
    let body = {};
    try {
      body = JSON.parse(record.body || '{}');
    } catch {
      /* ignore */
    }
    res.writeHead(inj.status || 200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'x-trace-id': `fk-trace-${hex(8)}`,
      ...(inj.headers || {}),
    });
    const plan = this._nextReply(body, record);
    const model = body.model || 'kimi-for-coding';
    const base = { id: `chatcmpl-${hex(12)}`, object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model };
    function* gen() {
      if (pathname.endsWith('/messages')) {
        yield `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: `msg_${hex(8)}`, type: 'message', role: 'assistant', model, content: [], stop_reason: null, usage: { input_tokens: 1, output_tokens: 0 } } })}\n\n`;
        yield `event: content_block_start\ndata: ${JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })}\n\n`;
        for (;;) yield `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'partial ' } })}\n\n`;
      }
      yield `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`;
      for (const r of plan.reasoningChunks) yield `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { reasoning_content: r }, finish_reason: null }] })}\n\n`;
      for (;;) for (const c of plan.contentChunks.length ? plan.contentChunks : ['partial ']) yield `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: c }, finish_reason: null }] })}\n\n`;
    }
    record.streamed = await this._pump(res, gen(), (e) => e, inj.chunkDelayMs ?? 0, { resetAfter: after });
  }

  /* Anthropic-compatible route (docs/kimi-wire.md §8): POST /coding/v1/messages?beta=true, x-api-key. */
  async _messages(req, res, record) {
    const body = this._parseJsonBody(res, record);
    if (!body) return;
    if (!this._checkModel(res, body.model)) return;
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return this._invalidRequest(res, 'Invalid request: messages must be a non-empty array');
    }
    if (typeof body.max_tokens !== 'number') return this._invalidRequest(res, 'Invalid request: max_tokens is required');
    const plan = this._nextReply(body, record);
    const text = plan.contentChunks.join('');
    const reasoning = plan.reasoningChunks.join('');
    const inputTokens = plan.spec.promptTokens ?? estimateTokens(record.body);
    const outputTokens = plan.spec.completionTokens ?? estimateTokens(text + reasoning);
    const stop = plan.toolCalls.length ? 'tool_use' : 'end_turn';
    const id = `msg_${hex(12)}`;
    const traceId = `fk-trace-${hex(8)}`;
    const cached = Math.min(plan.spec.cachedTokens ?? 0, inputTokens);
    if (!body.stream) {
      const content = [];
      if (reasoning) content.push({ type: 'thinking', thinking: reasoning, signature: '' });
      if (text) content.push({ type: 'text', text });
      for (const t of plan.toolCalls) content.push({ type: 'tool_use', id: t.id, name: t.name, input: JSON.parse(t.arguments || '{}') });
      return this._json(
        res,
        200,
        {
          id,
          type: 'message',
          role: 'assistant',
          model: body.model,
          content,
          stop_reason: stop,
          stop_sequence: null,
          usage: { input_tokens: inputTokens, output_tokens: outputTokens, cache_read_input_tokens: cached },
        },
        { 'x-trace-id': traceId },
      );
    }
    const sse = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    function* gen() {
      yield sse('message_start', {
        message: {
          id,
          type: 'message',
          role: 'assistant',
          model: body.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: inputTokens, output_tokens: 1, cache_read_input_tokens: cached },
        },
      });
      yield sse('ping', {});
      let index = 0;
      if (plan.reasoningChunks.length) {
        yield sse('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
        for (const r of plan.reasoningChunks) yield sse('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: r } });
        yield sse('content_block_stop', { index });
        index++;
      }
      if (plan.contentChunks.length) {
        yield sse('content_block_start', { index, content_block: { type: 'text', text: '' } });
        for (const c of plan.contentChunks) yield sse('content_block_delta', { index, delta: { type: 'text_delta', text: c } });
        yield sse('content_block_stop', { index });
        index++;
      }
      for (const t of plan.toolCalls) {
        yield sse('content_block_start', { index, content_block: { type: 'tool_use', id: t.id, name: t.name, input: {} } });
        for (const piece of splitText(t.arguments, 16)) yield sse('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } });
        yield sse('content_block_stop', { index });
        index++;
      }
      yield sse('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: outputTokens } });
      yield sse('message_stop', {});
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-trace-id': traceId });
    record.streamed = await this._pump(res, gen(), (e) => e, plan.spec.chunkDelayMs);
  }

  /* ------------------------------------------------------------------------------------- control -- */

  async _control(req, res, pathname, buf) {
    const action = pathname.slice(CONTROL_PREFIX.length);
    let args = {};
    if (buf.length) {
      try {
        args = JSON.parse(buf.toString('utf8'));
      } catch {
        return this._json(res, 400, { error: 'control body must be JSON' });
      }
    }
    const q = new URL(req.url, this.url).searchParams;
    try {
      switch (action) {
        case 'requests': {
          const since = Number(q.get('since') || 0);
          const prefix = q.get('prefix');
          let list = this.requests.slice(since);
          if (prefix) list = list.filter((r) => r.path.startsWith(prefix));
          return this._json(res, 200, list);
        }
        case 'state':
          return this._json(res, 200, { ...this.stats(), deviceCodes: this.deviceCodes(), refreshLog: this.refreshLog });
        case 'device-codes':
          return this._json(res, 200, this.deviceCodes());
        case 'tokens':
          return this._json(res, 200, this.issuedTokens());
        case 'approve':
          return this._json(res, 200, this.approve(args.userCode));
        case 'deny':
          return this._json(res, 200, this.deny(args.userCode));
        case 'expire':
          return this._json(res, 200, this.expire(args.userCode));
        case 'inject': {
          // `"error": "<ERRORS key>"` takes a canned answer (e.g. proxyForbidden403Html); the rule's own fields win.
          const canned = args.error ? ERRORS[args.error] : {};
          if (args.error && !canned) return this._json(res, 400, { error: `unknown canned error ${args.error}` });
          const rule = this.inject({ ...canned, ...args });
          return this._json(res, 200, { ok: true, path: String(rule.path), times: rule.times });
        }
        case 'clear-injections':
          this.clearInjections();
          return this._json(res, 200, { ok: true });
        case 'suspend':
          this.setSuspended(args.kind === undefined ? 'accountSuspended403' : args.kind);
          return this._json(res, 200, { ok: true, suspended: this.suspended });
        case 'identity-gate':
          this.setIdentityGate(args.gate, { gateModelsAndUsages: args.gateModelsAndUsages });
          return this._json(res, 200, { ok: true, gate: this.identityGate });
        case 'reply':
          this.setReply(args && Object.keys(args).length ? args : null);
          return this._json(res, 200, { ok: true });
        case 'access-ttl':
          this.setAccessTtl(Number(args.seconds));
          return this._json(res, 200, { ok: true, accessTtl: this.accessTtl });
        case 'issue':
          return this._json(res, 200, this.issueTokens(args));
        case 'revoke-all':
          this.revokeAll();
          return this._json(res, 200, { ok: true });
        case 'expire-access-tokens':
          this.expireAccessTokens(args.token);
          return this._json(res, 200, { ok: true });
        case 'reset':
          this.reset({ state: !!args.state });
          return this._json(res, 200, { ok: true });
        case 'shutdown':
          this._json(res, 200, { ok: true });
          setImmediate(() => this.close().then(() => this.emit('shutdown')));
          return;
        default:
          return this._json(res, 404, { error: `unknown control action ${action}` });
      }
    } catch (e) {
      return this._json(res, 400, { error: e.message });
    }
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
  const s = new FakeKimi(opts);
  await s.listen();
  return s;
}

module.exports = {
  startFakeKimi,
  parseMultipart,
  FakeKimi,
  ERRORS,
  CLIENT_ID,
  DEVICE_GRANT,
  DEFAULT_MODELS,
  defaultUsages,
  makeBigChunks,
  checkIdentity,
  checkUserAgent,
  ALLOWED_UA_PREFIXES,
  MSG_INVALID_AUTH,
  MSG_ONLY_CODING_AGENTS,
};

/* --------------------------------------------------------------------------------------- standalone -- */

function parseArgs(argv) {
  const o = { control: true, apiKeys: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`);
      return argv[++i];
    };
    switch (a) {
      case '--port':
        o.port = Number(next());
        break;
      case '--host':
        o.host = next();
        break;
      case '--access-ttl':
        o.accessTtl = Number(next());
        break;
      case '--interval':
        o.deviceInterval = Number(next());
        break;
      case '--expires-in':
        o.deviceExpiresIn = Number(next());
        break;
      case '--auto-approve':
        if (argv[i + 1] !== undefined && /^\d+$/.test(argv[i + 1])) o.autoApprove = Number(argv[++i]);
        else o.autoApprove = 1; // like the golden capture: first poll pending, second succeeds
        break;
      case '--api-key':
        o.apiKeys.push(next());
        break;
      case '--log':
        o.logFile = next();
        break;
      case '--refresh-delay-ms':
        o.refreshDelayMs = Number(next());
        break;
      case '--no-identity-gate':
        o.identityGate = false;
        break;
      case '--gate-models-usages':
        o.gateModelsAndUsages = true;
        break;
      case '--no-slow-down':
        o.enforceSlowDown = false;
        break;
      case '--reply-text':
        o.reply = { ...DEFAULT_REPLY, text: next() };
        break;
      case '-h':
      case '--help':
        o.help = true;
        break;
      default:
        throw new Error(`unknown argument ${a}`);
    }
  }
  return o;
}

if (require.main === module) {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`fake-kimi: ${e.message}\n`);
    process.exit(2);
  }
  if (o.help) {
    process.stdout.write(
      'usage: node server.js [--port N] [--access-ttl S] [--interval S] [--expires-in S] [--auto-approve [N]]\n' +
        '                      [--api-key K]... [--log FILE] [--refresh-delay-ms MS] [--no-identity-gate] [--gate-models-usages]\n' +
        '                      [--no-slow-down] [--reply-text TEXT]\n',
    );
    process.exit(0);
  }
  startFakeKimi(o).then(
    (s) => {
      process.stdout.write(
        JSON.stringify({ url: s.url, oauthHost: s.oauthHost, baseUrl: s.baseUrl, controlUrl: s.controlUrl, pid: process.pid }) + '\n',
      );
      const stop = () => s.close().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      s.on('shutdown', () => process.exit(0));
    },
    (e) => {
      process.stderr.write(`fake-kimi: ${e.message}\n`);
      process.exit(1);
    },
  );
}
