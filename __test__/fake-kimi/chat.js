'use strict'
// Chat surface of the fake Kimi server: the OpenAI-compatible /chat/completions and the Anthropic-compatible
// /messages (wire §6, §8), replies (canned, queued or computed), SSE streaming with back-pressure, mid-stream resets.
// Methods are mixed into FakeKimi (server.js).

const { hex, sleep } = require('./util')

const DEFAULT_REPLY = Object.freeze({ reasoning: 'hm', text: 'hi' })

function bigChunk(index, size) {
  const head = `[${String(index).padStart(8, '0')}]`
  const fill = 'The quick brown fox jumps over the lazy dog. 0123456789\n'
  let s = head
  while (s.length < size) s += fill
  return s.slice(0, size)
}

/** Content pieces of a bigStreamBytes reply (deterministic, so tests can rebuild the expected text). */
function makeBigChunks(bytes, chunkSize = 4096) {
  const out = []
  let total = 0
  for (let i = 0; total < bytes; i++) {
    const size = Math.min(chunkSize, bytes - total)
    out.push(bigChunk(i, size))
    total += size
  }
  return out
}

function splitText(text, size) {
  if (!text) return []
  if (!size || size <= 0 || text.length <= size) return [text]
  const out = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out
}

function drainOrClose(res) {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done)
      res.off('close', done)
      res.off('error', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
    res.on('error', done)
  })
}

/** Write and wait until the data has been handed to the socket (or the response is gone). */
function writeAndWait(res, data) {
  return new Promise((resolve) => {
    const done = () => {
      res.off('close', done)
      resolve()
    }
    res.on('close', done)
    res.write(data, done)
  })
}

const estimateTokens = (s) => Math.max(1, Math.ceil(Buffer.byteLength(s || '') / 4))

class Chat {
  setReply(spec) {
    this.reply = spec ?? DEFAULT_REPLY
  }

  /** One-shot replies, consumed (FIFO) by the next chat/messages requests before the default reply. */
  enqueueReply(spec) {
    this.replyQueue.push(spec)
  }

  _checkModel(res, model) {
    if (typeof model !== 'string' || !model) {
      this._invalidRequest(res, 'Invalid request: model is required')
      return false
    }
    if (!this.models.some((m) => m.id === model)) {
      // Moonshot's wording for unknown models on its public API; for the coding endpoint UNCONFIRMED.
      this._apiError(res, {
        status: 404,
        body: {
          error: { message: `Not found the model ${model} or Permission denied`, type: 'resource_not_found_error' },
        },
      })
      return false
    }
    return true
  }

  _nextReply(body, record) {
    let spec = this.replyQueue.length ? this.replyQueue.shift() : this.reply
    if (typeof spec === 'function') spec = spec(body, record)
    spec = { ...(spec || DEFAULT_REPLY) } // a given spec replaces the default reply entirely
    let contentChunks
    if (spec.bigStreamBytes) contentChunks = makeBigChunks(spec.bigStreamBytes, spec.chunkSize || 4096)
    else if (Array.isArray(spec.chunks)) contentChunks = spec.chunks.map(String)
    else contentChunks = splitText(spec.text == null ? '' : String(spec.text), spec.chunkSize ?? 0)
    const reasoningChunks = Array.isArray(spec.reasoningChunks)
      ? spec.reasoningChunks.map(String)
      : spec.reasoning
        ? [String(spec.reasoning)]
        : []
    const toolCalls = (spec.toolCalls || []).map((t, i) => ({
      id: t.id || `tool_${hex(6)}`,
      name: t.name,
      arguments: typeof t.arguments === 'string' ? t.arguments : JSON.stringify(t.arguments ?? {}),
      index: i,
    }))
    return { spec, contentChunks, reasoningChunks, toolCalls }
  }

  _validateMessages(res, messages) {
    if (!Array.isArray(messages) || messages.length === 0) {
      this._invalidRequest(res, 'Invalid request: messages must be a non-empty array')
      return false
    }
    for (const m of messages) {
      if (!m || typeof m !== 'object' || typeof m.role !== 'string') {
        this._invalidRequest(res, 'Invalid request: every message needs a role')
        return false
      }
      // wire §6.7: an ms://<id> media reference must name a file uploaded to this server
      if (Array.isArray(m.content)) {
        for (const p of m.content) {
          const media = p && (p.image_url || p.video_url)
          const ref = typeof media === 'string' ? media : media && media.url
          if (typeof ref === 'string' && ref.startsWith('ms://') && !this.files.has(ref.slice(5))) {
            this._invalidRequest(res, `Invalid request: file ${ref.slice(5)} not found`)
            return false
          }
        }
      }
      // wire §6.2/§7: the server rejects an assistant message whose content has an empty text part
      if (m.role === 'assistant' && Array.isArray(m.content)) {
        if (m.content.some((p) => p && p.type === 'text' && (p.text === '' || p.text === undefined))) {
          this._invalidRequest(res, 'text content is empty')
          return false
        }
      }
    }
    return true
  }

  async _chat(req, res, record) {
    const body = this._parseJsonBody(res, record)
    if (!body) return
    if (!this._checkModel(res, body.model)) return
    if (!this._validateMessages(res, body.messages)) return
    const plan = this._nextReply(body, record)
    const id = `chatcmpl-${hex(12)}`
    const created = Math.floor(Date.now() / 1000)
    const model = body.model
    const promptTokens = plan.spec.promptTokens ?? estimateTokens(record.body)
    const text = plan.contentChunks.join('')
    const reasoning = plan.reasoningChunks.join('')
    const completionTokens = plan.spec.completionTokens ?? estimateTokens(text + reasoning)
    const cached = Math.min(plan.spec.cachedTokens ?? 0, promptTokens)
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      cached_tokens: cached,
      prompt_tokens_details: { cached_tokens: cached },
    }
    const finish = plan.spec.finishReason || (plan.toolCalls.length ? 'tool_calls' : 'stop')
    const traceId = `fk-trace-${hex(8)}`

    if (!body.stream) {
      const message = { role: 'assistant', content: text }
      if (reasoning) message.reasoning_content = reasoning
      if (plan.toolCalls.length) {
        message.tool_calls = plan.toolCalls.map((t) => ({
          index: t.index,
          id: t.id,
          type: 'function',
          function: { name: t.name, arguments: t.arguments },
        }))
      }
      return this._json(
        res,
        200,
        {
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [{ index: 0, message, finish_reason: finish }],
          usage,
        },
        { 'x-trace-id': traceId },
      )
    }

    const base = { id, object: 'chat.completion.chunk', created, model }
    const events = []
    const ev = (choice) => events.push(JSON.stringify({ ...base, choices: [{ index: 0, ...choice }] }))
    ev({ delta: { role: 'assistant', content: '' }, finish_reason: null })
    for (const r of plan.reasoningChunks) ev({ delta: { reasoning_content: r }, finish_reason: null })
    // content chunks are produced lazily (big streams)
    const contentStart = events.length
    const tail = []
    const tev = (choice) => tail.push(JSON.stringify({ ...base, choices: [{ index: 0, ...choice }] }))
    for (const t of plan.toolCalls) {
      tev({
        delta: {
          tool_calls: [{ index: t.index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } }],
        },
        finish_reason: null,
      })
      for (const piece of splitText(t.arguments, plan.spec.toolArgChunkSize ?? 16)) {
        tev({ delta: { tool_calls: [{ index: t.index, function: { arguments: piece } }] }, finish_reason: null })
      }
    }
    const usageStyle = plan.spec.usageStyle || 'moonshot'
    if (usageStyle === 'openai') {
      tev({ delta: {}, finish_reason: finish })
      tail.push(JSON.stringify({ ...base, choices: [], usage }))
    } else {
      tev({ delta: {}, finish_reason: finish, usage }) // Moonshot: usage inside choices[0]
    }

    const self = this
    function* all() {
      for (const e of events.slice(0, contentStart)) yield e
      for (const c of plan.contentChunks)
        yield JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: c }, finish_reason: null }] })
      for (const e of tail) yield e
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-trace-id': traceId,
    })
    record.streamed = await self._pump(res, all(), (e) => `data: ${e}\n\n`, plan.spec.chunkDelayMs, {
      doneLine: 'data: [DONE]\n\n',
    })
  }

  /** Write SSE events with back-pressure and optional per-event delay; returns 'done' | 'aborted' | 'reset'.
   *  With resetAfter = N: after N events are flushed to the socket, the socket is destroyed (no terminator). */
  async _pump(res, iter, fmt, delayMs, { doneLine, resetAfter } = {}) {
    let n = 0
    const gone = () => res.destroyed || res.writableEnded || this._closed
    for (const e of iter) {
      if (gone()) return 'aborted'
      if (resetAfter !== undefined && n >= resetAfter) break
      if (delayMs && n > 0) {
        await sleep(delayMs)
        if (gone()) return 'aborted'
      }
      n++
      if (resetAfter !== undefined) await writeAndWait(res, fmt(e))
      else if (!res.write(fmt(e))) await drainOrClose(res)
    }
    if (resetAfter !== undefined) {
      if (res.socket) res.socket.destroy()
      res.destroy()
      return 'reset'
    }
    if (gone()) return 'aborted'
    if (doneLine) res.write(doneLine)
    res.end()
    return 'done'
  }

  async _resetMidStream(req, res, record, inj) {
    const after = typeof inj.resetMidStream === 'number' ? inj.resetMidStream : 2
    const pathname = record.path.split('?')[0]
    let body = {}
    try {
      body = JSON.parse(record.body || '{}')
    } catch {
      /* ignore */
    }
    res.writeHead(inj.status || 200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'x-trace-id': `fk-trace-${hex(8)}`,
      ...(inj.headers || {}),
    })
    const plan = this._nextReply(body, record)
    const model = body.model || 'kimi-for-coding'
    const base = {
      id: `chatcmpl-${hex(12)}`,
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model,
    }
    function* gen() {
      if (pathname.endsWith('/messages')) {
        yield `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: `msg_${hex(8)}`, type: 'message', role: 'assistant', model, content: [], stop_reason: null, usage: { input_tokens: 1, output_tokens: 0 } } })}\n\n`
        yield `event: content_block_start\ndata: ${JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })}\n\n`
        for (;;)
          yield `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'partial ' } })}\n\n`
      }
      yield `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] })}\n\n`
      for (const r of plan.reasoningChunks)
        yield `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { reasoning_content: r }, finish_reason: null }] })}\n\n`
      for (;;)
        for (const c of plan.contentChunks.length ? plan.contentChunks : ['partial '])
          yield `data: ${JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: c }, finish_reason: null }] })}\n\n`
    }
    record.streamed = await this._pump(res, gen(), (e) => e, inj.chunkDelayMs ?? 0, { resetAfter: after })
  }

  /* Anthropic-compatible route (wire §8): POST /coding/v1/messages?beta=true, x-api-key. */
  async _messages(req, res, record) {
    const body = this._parseJsonBody(res, record)
    if (!body) return
    if (!this._checkModel(res, body.model)) return
    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return this._invalidRequest(res, 'Invalid request: messages must be a non-empty array')
    }
    if (typeof body.max_tokens !== 'number') return this._invalidRequest(res, 'Invalid request: max_tokens is required')
    const plan = this._nextReply(body, record)
    const text = plan.contentChunks.join('')
    const reasoning = plan.reasoningChunks.join('')
    const inputTokens = plan.spec.promptTokens ?? estimateTokens(record.body)
    const outputTokens = plan.spec.completionTokens ?? estimateTokens(text + reasoning)
    const stop = plan.toolCalls.length ? 'tool_use' : 'end_turn'
    const id = `msg_${hex(12)}`
    const traceId = `fk-trace-${hex(8)}`
    const cached = Math.min(plan.spec.cachedTokens ?? 0, inputTokens)
    if (!body.stream) {
      const content = []
      if (reasoning) content.push({ type: 'thinking', thinking: reasoning, signature: '' })
      if (text) content.push({ type: 'text', text })
      for (const t of plan.toolCalls)
        content.push({ type: 'tool_use', id: t.id, name: t.name, input: JSON.parse(t.arguments || '{}') })
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
      )
    }
    const sse = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`
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
      })
      yield sse('ping', {})
      let index = 0
      if (plan.reasoningChunks.length) {
        yield sse('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } })
        for (const r of plan.reasoningChunks)
          yield sse('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: r } })
        yield sse('content_block_stop', { index })
        index++
      }
      if (plan.contentChunks.length) {
        yield sse('content_block_start', { index, content_block: { type: 'text', text: '' } })
        for (const c of plan.contentChunks)
          yield sse('content_block_delta', { index, delta: { type: 'text_delta', text: c } })
        yield sse('content_block_stop', { index })
        index++
      }
      for (const t of plan.toolCalls) {
        yield sse('content_block_start', {
          index,
          content_block: { type: 'tool_use', id: t.id, name: t.name, input: {} },
        })
        for (const piece of splitText(t.arguments, 16))
          yield sse('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } })
        yield sse('content_block_stop', { index })
        index++
      }
      yield sse('message_delta', {
        delta: { stop_reason: stop, stop_sequence: null },
        usage: { output_tokens: outputTokens },
      })
      yield sse('message_stop', {})
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-trace-id': traceId,
    })
    record.streamed = await this._pump(res, gen(), (e) => e, plan.spec.chunkDelayMs)
  }
}

module.exports = { Chat, DEFAULT_REPLY, makeBigChunks, splitText }
