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
  /**
   * Inline `data:` images larger than this many bytes are uploaded through Kimi's Files API and sent as
   * `ms://` references by createKimiFetch (default 1048576; 0 turns it off). Env KIMI_NATIVE_UPLOAD_THRESHOLD_BYTES.
   */
  uploadThresholdBytes?: number
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
    | 'KIMI_TIMEOUT'
    | 'KIMI_REFUSED'
    | 'KIMI_NOT_FOUND'
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
/**
 * Resolves once no token refresh is in flight in this process. The event loop is held open
 * while a refresh runs, so a process that ends naturally never loses a rotated token; call
 * this before `process.exit()`, which cannot be held.
 */
export function settle(): Promise<void>
export function models(options?: KimiOptions & { refresh?: boolean }): Promise<ModelInfo[]>
export function usage(options?: KimiOptions): Promise<Usage>
/** kimi-native's own directory for these options (env KIMI_NATIVE_HOME, default ~/.kimi-native). */
export function homeDir(options?: KimiOptions): string
/** File names of the per-user (in homeDir) and per-project host-feature settings, e.g. `{ "tools": true }`. */
export const CONFIG_FILES: { user: string; project: string }
/** Per-call options of the platform functions. */
export interface PlatformOptions extends KimiOptions {
  /** Time limit of the whole call in ms (KIMI_TIMEOUT when exceeded). */
  timeoutMs?: number
  /** Aborts the call (rejects with the signal's reason). */
  signal?: AbortSignal
}
export interface UploadedFile {
  id: string
  /** `ms://<id>`, usable as an image_url / video_url in a chat message. */
  url: string
  /** True when the same bytes were uploaded before for this account and no request was made. */
  cached: boolean
}
export interface SearchResult {
  title: string
  url: string
  snippet: string
  date?: string
  siteName?: string
}
export interface AccountInfo {
  nickname?: string
  plan?: string
  planLevel?: string
  region?: string
  status?: string
}
/** POST {base}/files (multipart); cached by content hash per account. `purpose` defaults to image/video by mime type. */
export function uploadFile(
  data: Buffer | ArrayBuffer | ArrayBufferView | string,
  options: PlatformOptions & { mimeType: string; purpose?: string },
): Promise<UploadedFile>
/** POST {base}/search. */
export function search(query: string, options?: PlatformOptions & { limit?: number }): Promise<SearchResult[]>
/** POST {base}/fetch: the page as markdown. A refused URL rejects with KIMI_REFUSED. */
export function fetchUrl(url: string | URL, options?: PlatformOptions): Promise<string>
/** POST {base}/tools: a data source's description, or with `api` a call of that api with `params`. */
export function datasource(
  name: string,
  options?: PlatformOptions & { api?: string; params?: Record<string, unknown> },
): Promise<any>
/** GET {base}/me, without ids, email or phone. */
export function me(options?: PlatformOptions): Promise<AccountInfo>
/** Pure: returns a new body; does not mutate the input. A string is shaped as JSON text (returned as a string; not JSON: unchanged). */
export function shapeRequest(body: any, options?: ShapeOptions): any
/**
 * A fetch for the Kimi API: fresh bearer, identity headers, shaping, one retry after a forced refresh on
 * 401, streaming body. Only URLs on the configured `baseUrl` origin are accepted (KIMI_BAD_INPUT otherwise).
 */
export function createKimiFetch(options?: KimiFetchOptions): typeof fetch
/** Header names a host may set on a request to pass per-request shaping hints to createKimiFetch (stripped before sending). */
export const HINT_HEADERS: { effort: string; sessionId: string }
export const PROVIDER: { opencodeId: string; piId: string; defaultModel: string }
/** Response header that carries the kimi-native error code of a non-2xx response from createKimiFetch. */
export const ERROR_HEADER: string
/** Response header (may repeat) carrying a warning from the request path, e.g. an image upload that fell back to inline. */
export const WARNING_HEADER: string
/** The keys of KimiOptions the core reads (hosts copy these from their own config). */
export const OPTION_KEYS: ReadonlyArray<keyof KimiOptions>
/** The default OAuth host, API base URL and client versions (what the core uses with no options and no env). */
export const DEFAULTS: Readonly<Record<string, string>>
