'use strict'
// Platform services of the fake Kimi server (wire §6.5-§6.8): models, usages, web search, URL fetch, files, /tools.
// Methods are mixed into FakeKimi (server.js).

const crypto = require('node:crypto')
const { hex, getHeader } = require('./util')

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
])

/** A second model with other metadata (no reasoning, no images, a smaller context): a test that lists it shows the
 * host got the account's live /models answer, not a built-in list. */
const SMALL_MODEL = Object.freeze({
  id: 'kimi-test-small',
  object: 'model',
  context_length: 131072,
  display_name: 'Small',
  supports_reasoning: false,
  supports_image_in: false,
})

/**
 * /usages. wire §6.5 documents `usage` (weekly) + `limits` (kimi-cli and the kimi-code 0.38 snapshot parse that).
 * The published kimi-code 2.1.0 bundle instead parses `usages.{limit_5h,limit_7d,limit_month_total,
 * limit_month_code}.{used_ratio,reset_time}`. The fake answers a superset so both clients find their fields.
 */
function defaultUsages(now = Date.now()) {
  const week = new Date(now + 5 * 86400e3).toISOString().replace(/\.\d{3}Z$/, 'Z')
  const fiveH = new Date(now + 3 * 3600e3).toISOString().replace(/\.\d{3}Z$/, 'Z')
  const month = new Date(now + 20 * 86400e3).toISOString().replace(/\.\d{3}Z$/, 'Z')
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
  }
}

/** Parses a multipart/form-data body into parts { name, filename, contentType, data }, or { error }. */
function parseMultipart(buf, contentType) {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)
  if (!/^multipart\/form-data/i.test(contentType) || !m)
    return { error: 'content type must be multipart/form-data with a boundary' }
  const delim = Buffer.from(`--${m[1] || m[2]}`)
  const next = Buffer.concat([Buffer.from('\r\n'), delim])
  const parts = []
  let pos = buf.indexOf(delim)
  if (pos !== 0) return { error: 'malformed multipart body' }
  for (;;) {
    pos += delim.length
    const tail = buf.subarray(pos, pos + 2).toString('latin1')
    if (tail === '--') return parts.length ? { parts } : { error: 'empty multipart body' }
    if (tail !== '\r\n') return { error: 'malformed multipart body' }
    pos += 2
    const headEnd = buf.indexOf('\r\n\r\n', pos)
    if (headEnd < 0) return { error: 'malformed multipart part headers' }
    const end = buf.indexOf(next, headEnd + 4)
    if (end < 0) return { error: 'multipart body is truncated' }
    const head = buf.subarray(pos, headEnd).toString('utf8')
    const disp = /^content-disposition:\s*form-data(.*)$/im.exec(head)
    if (!disp) return { error: 'a multipart part has no Content-Disposition: form-data' }
    const name = /;\s*name="([^"]*)"/i.exec(disp[1])
    const filename = /;\s*filename="([^"]*)"/i.exec(disp[1])
    const type = /^content-type:\s*(.+)$/im.exec(head)
    parts.push({
      name: name ? name[1] : null,
      filename: filename ? filename[1] : null,
      contentType: type ? type[1].trim() : null,
      data: buf.subarray(headEnd + 4, end),
    })
    pos = end + 2
  }
}

class Platform {
  setModels(models) {
    this.models = models
  }

  setUsages(usages) {
    this.usages = usages
  }

  /* ---------------------------------------------------------------- platform services (wire §6.6-§6.8) -- */

  /** Uploaded files of this server: id -> { id, bytes, mime, purpose, filename, sha256, data }. */
  get files() {
    if (!this._uploads) this._uploads = new Map()
    return this._uploads
  }

  /** Web search (wire §6.8): `text_query` required; `limit` (kimi-cli) caps the results (default 5). */
  _search(res, record) {
    const body = this._parseJsonBody(res, record)
    if (!body) return
    const q = body.text_query
    if (typeof q !== 'string' || !q.trim()) return this._invalidRequest(res, 'Invalid request: text_query is required')
    if (body.limit !== undefined && !(Number.isInteger(body.limit) && body.limit > 0)) {
      return this._invalidRequest(res, 'Invalid request: limit must be a positive integer')
    }
    const n = Math.min(body.limit ?? 5, 20)
    const search_results = []
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
      })
    }
    return this._json(res, 200, { search_results })
  }

  /**
   * URL fetch (wire §6.8): `{"url"}` -> the page as text/markdown. Hosts ending in `.unsafe.test` get the
   * community-reported refusal 403 {"error":{"type":"security_risk",...}}; hosts ending in `.missing.test` a 404
   * (that body is this fake's choice, UNCONFIRMED).
   */
  _fetchUrl(res, record) {
    const body = this._parseJsonBody(res, record)
    if (!body) return
    let url
    try {
      url = new URL(body.url)
      if (!/^https?:$/.test(url.protocol)) throw new Error('scheme')
    } catch {
      return this._invalidRequest(res, 'Invalid request: url must be an absolute http(s) URL')
    }
    if (url.hostname.endsWith('.unsafe.test')) {
      return this._apiError(res, {
        status: 403,
        body: {
          error: {
            type: 'security_risk',
            message: 'We consider the current URL poses a security risk and cannot access it.',
          },
        },
      })
    }
    if (url.hostname.endsWith('.missing.test')) {
      return this._apiError(res, {
        status: 404,
        body: { error: { type: 'resource_not_found_error', message: `Failed to fetch ${url.href}: 404` } },
      })
    }
    const page = `# Page at ${url.href}\n\nFetched by the fake Kimi server.\n`
    res.writeHead(200, { 'content-type': 'text/markdown; charset=utf-8', 'content-length': Buffer.byteLength(page) })
    return res.end(page)
  }

  /**
   * Files API (wire §6.7, golden py-chat): multipart/form-data with a `purpose` part and a `file` part that has
   * a filename and a content type. The id answers as `{"id","object":"file",...}` and is then usable in a chat as
   * `ms://<id>` (image_url / video_url). Accepted purposes: image, video, file-extract (UNCONFIRMED list).
   */
  _files(res, record) {
    const ct = getHeader(record.headers, 'content-type') || ''
    const parsed = parseMultipart(record.raw || Buffer.from(record.body), ct)
    if (parsed.error) return this._invalidRequest(res, `Invalid request: ${parsed.error}`)
    const purposePart = parsed.parts.find((p) => p.name === 'purpose')
    const filePart = parsed.parts.find((p) => p.name === 'file')
    if (!purposePart) return this._invalidRequest(res, 'Invalid request: purpose is required')
    const purpose = purposePart.data.toString('utf8')
    if (!['image', 'video', 'file-extract'].includes(purpose)) {
      return this._invalidRequest(res, `Invalid request: unsupported purpose ${JSON.stringify(purpose)}`)
    }
    if (!filePart || !filePart.filename) return this._invalidRequest(res, 'Invalid request: file is required')
    if (!filePart.contentType) return this._invalidRequest(res, 'Invalid request: file needs a content type')
    if (filePart.data.length === 0) return this._invalidRequest(res, 'Invalid request: file is empty')
    const id = `file-${hex(8)}`
    const file = {
      id,
      bytes: filePart.data.length,
      mime: filePart.contentType,
      purpose,
      filename: filePart.filename,
      sha256: crypto.createHash('sha256').update(filePart.data).digest('hex'),
      data: filePart.data,
    }
    this.files.set(id, file)
    return this._json(res, 200, {
      id,
      object: 'file',
      bytes: file.bytes,
      created_at: Math.floor(Date.now() / 1000),
      filename: file.filename,
      purpose,
      status: 'ok',
    })
  }

  /**
   * /tools (wire §6.6): `chat_title`, and kimi-datasource's `get_data_source_desc` / `call_data_source_tool`.
   * The data-source answers' shapes are this fake's choice (UNCONFIRMED): one source `fake_weather` with api `now`.
   */
  _tools(res, record) {
    const body = this._parseJsonBody(res, record)
    if (!body) return
    const params = body.params && typeof body.params === 'object' ? body.params : {}
    const sources = this.dataSources || {
      fake_weather: {
        description: 'Current weather (fake)',
        apis: { now: { description: 'Weather now', params: { city: 'string' } } },
      },
    }
    const notFound = (what) =>
      this._apiError(res, {
        status: 404,
        body: { error: { type: 'resource_not_found_error', message: `${what} not found` } },
      })
    switch (body.method) {
      case 'chat_title':
        return this._json(res, 200, { title: 'Fake title' })
      case 'get_data_source_desc': {
        const src = sources[params.name]
        if (!src) return notFound(`data source ${JSON.stringify(params.name)}`)
        return this._json(res, 200, { name: params.name, description: src.description, apis: src.apis })
      }
      case 'call_data_source_tool': {
        const src = sources[params.data_source_name]
        if (!src) return notFound(`data source ${JSON.stringify(params.data_source_name)}`)
        if (!src.apis[params.api_name]) return notFound(`api ${JSON.stringify(params.api_name)}`)
        return this._json(res, 200, {
          data_source_name: params.data_source_name,
          api_name: params.api_name,
          result: { echo: params.params ?? null, summary: 'sunny (fake)' },
        })
      }
      default:
        return this._invalidRequest(res, `Invalid request: unknown method ${JSON.stringify(body.method)}`)
    }
  }
}

module.exports = { Platform, DEFAULT_MODELS, SMALL_MODEL, defaultUsages, parseMultipart }
