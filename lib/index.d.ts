// Public API of kimi-native. The native binding (generated ../index.d.ts) is wrapped here only where JS
// objects have to be built (Response, AbortSignal wiring); every decision is made in the Rust core.

export type Profile = 'kimi-code' | 'kimi-cli'
export type Region = 'cn' | 'global'
export type StoreKind = 'auto' | 'keychain' | 'file'
export type Effort = 'off' | 'auto' | 'low' | 'medium' | 'high' | (string & {})

/** Every option is optional; each has an environment override (see README "Configuration"). */
export interface KimiOptions {
  /** Identity to present: 'kimi-code' (default, env KIMI_NATIVE_PROFILE) or 'kimi-cli'. */
  profile?: Profile
  /** Client version to claim (env KIMI_NATIVE_CLIENT_VERSION); defaults to the version this release was checked against. */
  version?: string
  /** 'cn' (auth.kimi.com / api.kimi.com, default) or 'global' (auth.kimi.ai / api.kimi.ai). Env KIMI_NATIVE_REGION. */
  region?: Region
  /** OAuth host (env KIMI_CODE_OAUTH_HOST, then KIMI_OAUTH_HOST). */
  oauthHost?: string
  /** API base URL (env KIMI_CODE_BASE_URL). */
  baseUrl?: string
  /** Credential store (env KIMI_NATIVE_STORE). */
  store?: StoreKind
  /** Directory for kimi-native's own files (env KIMI_NATIVE_HOME, default ~/.kimi-native). */
  home?: string
}

export interface DeviceCode {
  userCode: string
  verificationUri: string
  verificationUriComplete: string
  expiresIn?: number
  interval: number
}

export interface ModelInfo {
  id: string
  displayName?: string
  contextLength: number
  supportsReasoning: boolean
  supportsImageIn: boolean
  supportsVideoIn: boolean
  supportsToolUse: boolean
  /** 'only' | 'both' | 'no' when the server says so. */
  thinkingType?: string
  /** Valid effort levels when the model declares them (think_efforts.support === true). */
  thinkEfforts?: string[]
  defaultEffort?: string
  protocol?: string
}

export interface LoginResult {
  source: string
  store: 'keychain' | 'file'
  storeReason: string
  expiresAt: number
  models: ModelInfo[]
}

export interface Status {
  loggedIn: boolean
  /** 'kimi-native' | 'env:KIMI_API_KEY' | 'kimi-code' | 'kimi-cli' | 'none' */
  source: string
  store: 'keychain' | 'file' | 'none'
  storeReason: string
  /** Epoch seconds, when a token is known. */
  expiresAt?: number
  profile: Profile
  model?: ModelInfo
  reloginRequired: boolean
  oauthHost: string
  baseUrl: string
}

export interface UsageWindow {
  /** e.g. "weekly", "5h" */
  label: string
  durationSeconds?: number
  used: number
  limit: number
  remaining: number
  resetTime?: string
}
export interface Usage {
  windows: UsageWindow[]
  raw: any
}

export interface ShapeOptions {
  profile?: Profile
  /** Model id to send (default: the discovered default model). */
  model?: string
  effort?: Effort
  /** Host session id → prompt_cache_key (session_<id> for the kimi-code profile). */
  sessionId?: string
  /** Model metadata to shape against (default: the cached /models entry for the model). */
  modelInfo?: ModelInfo
}

export interface KimiFetchOptions extends KimiOptions {
  /** Apply request shaping to JSON chat bodies (default true). */
  shape?: boolean
  effort?: Effort
  sessionId?: string
  /** Connect timeout in ms (default 30000). */
  connectTimeoutMs?: number
  /** Max silence between body chunks in ms (default 300000). */
  readTimeoutMs?: number
}

export interface KimiError extends Error {
  code:
    | 'KIMI_NOT_LOGGED_IN'
    | 'KIMI_RELOGIN_REQUIRED'
    | 'KIMI_ACCESS_TERMINATED'
    | 'KIMI_MEMBERSHIP'
    | 'KIMI_QUOTA_EXCEEDED'
    | 'KIMI_RATE_LIMITED'
    | 'KIMI_NETWORK'
    | 'KIMI_LOGIN_DENIED'
    | 'KIMI_LOGIN_EXPIRED'
    | 'KIMI_CANCELLED'
    | 'KIMI_OAUTH'
    | 'KIMI_SERVER'
    | 'KIMI_STORE'
    | 'KIMI_KEYCHAIN_UNAVAILABLE'
    | 'KIMI_BAD_INPUT'
    | 'KIMI_INTERNAL'
  /** Seconds, for KIMI_RATE_LIMITED when the server sent Retry-After. */
  retryAfter?: number
  status?: number
}

/** The 7 identity headers, in the official client's order. */
export function buildHeaders(options?: KimiOptions): Array<[string, string]>
export function getDeviceId(options?: KimiOptions): string
export function identity(options?: KimiOptions): any

export function login(
  options?: KimiOptions & {
    onDeviceCode?: (code: DeviceCode) => void
    /** Called on slow_down / restart events: { kind: 'slow_down' | 'restart', interval?: number } */
    onEvent?: (event: { kind: string; interval?: number }) => void
    signal?: AbortSignal
  },
): Promise<LoginResult>
export function logout(options?: KimiOptions): Promise<{ removed: boolean }>
export function status(options?: KimiOptions): Promise<Status>
export function getAccessToken(options?: KimiOptions & { force?: boolean }): Promise<string>
export function models(options?: KimiOptions & { refresh?: boolean }): Promise<ModelInfo[]>
export function usage(options?: KimiOptions): Promise<Usage>
/** Pure: returns a new body; does not mutate the input. A string is shaped as JSON text (returned as a string; not JSON: unchanged). */
export function shapeRequest(body: any, options?: ShapeOptions): any
/**
 * A fetch for the Kimi API: fresh bearer, identity headers, shaping, one retry after a forced refresh on
 * 401, streaming body. Only URLs on the configured `baseUrl` origin are accepted (KIMI_BAD_INPUT otherwise).
 */
export function createKimiFetch(options?: KimiFetchOptions): typeof fetch
/** Header names a host may set on a request to pass per-request shaping hints to createKimiFetch (stripped before sending). */
export const HINT_HEADERS: { effort: string; sessionId: string }
export const PROVIDER: { opencodeId: string; piId: string; openclawId: string; defaultModel: string }
/** Response header that carries the kimi-native error code of a non-2xx response from createKimiFetch. */
export const ERROR_HEADER: string
/** The keys of KimiOptions the core reads (hosts copy these from their own config). */
export const OPTION_KEYS: ReadonlyArray<keyof KimiOptions>
/** The default OAuth host, API base URL and client versions (what the core uses with no options and no env). */
export const DEFAULTS: Readonly<Record<string, string>>
