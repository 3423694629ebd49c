'use strict'
// Canned error answers of the fake Kimi server and the messages they carry (wire §7).

const MSG_INVALID_AUTH =
  'The API Key appears to be invalid or may have expired. Please verify your credentials and try again.'
const MSG_ONLY_CODING_AGENTS =
  'Kimi For Coding is currently only available for Coding Agents such as Kimi CLI, Claude Code, Roo Code, Kilo Code, etc.'

/** Canned error answers (wire §7). Each is { status, body[, headers] } and can be spread into inject(). */
const ERRORS = Object.freeze({
  // wire §7 (bodies from MoonshotAI/kimi-cli#1088, kimi-agent-sdk#133)
  invalidAuth401: Object.freeze({
    status: 401,
    body: { error: { message: MSG_INVALID_AUTH, type: 'invalid_authentication_error' } },
  }),
  // wire §7: the client-identity gate
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
  // wire §7: account ban (community report), the access_terminated_error variant of the same text
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
  // wire §7: the 402 body is UNCONFIRMED. The message is the one reported in MoonshotAI/kimi-code#2624;
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
  // wire §7 and golden ts-err-429-quota.jsonl
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
        message: 'Your account org-x request reached max organization concurrency: 4, please try again after 1 seconds',
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
})

module.exports = { MSG_INVALID_AUTH, MSG_ONLY_CODING_AGENTS, ERRORS }
