// Public API of kimi-native. The native binding (generated ../index.d.ts) is wrapped here only where JS
// objects have to be built (Response, AbortSignal wiring); every decision is made in the Rust core.
// The result types come from the generated file; this one adds what JS adds: the options objects,
// the fetch, the exported constants, and `Profile` where the binding says `string`.
import type * as native from '../index'
export type {
  AccountInfo,
  DeviceCode,
  HandedOutToken,
  IdentityReport,
  ImportSource,
  LoginEvent,
  LogoutResult,
  ModelInfo,
  SearchResult,
  UploadedFile,
  Usage,
  UsageWindow,
} from '../index'
export { renderQr, openBrowser } from '../index'

export type Profile = 'native' | 'kimi-code' | 'kimi-cli'
export type Region = 'cn' | 'global'
export type StoreKind = 'auto' | 'keychain' | 'file'
export type Effort = 'off' | 'auto' | 'low' | 'medium' | 'high' | (string & {})

/** Every option is optional; each has an environment override (see README "Configuration"). */
export interface KimiOptions {
  /**
   * Identity to present (env KIMI_NATIVE_PROFILE). 'native' (default): `User-Agent: <host> kimi-native/<version>
   * (<platform>; <runtime>; <arch>)` and no X-Msh-* headers. 'kimi-code' / 'kimi-cli' (opt-in) impersonate
   * Moonshot's official clients byte for byte; Kimi's guidelines forbid that and it can get a subscription
   * suspended, so each process that uses one shows a warning once (`onWarning`).
   */
  profile?: Profile
  /** The host's own product token, read from the running host: 'pi/1.6.0', 'opencode/1.18.33'. Sent first in the User-Agent. */
  host?: string
  /** Official profiles only: the client version to claim (env KIMI_NATIVE_CLIENT_VERSION). */
  version?: string
  /** Receives the official-profile warning (once per process); without it the warning is a Node process warning. */
  onWarning?: (message: string) => void
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

/** The identity requests carry. */
export interface Identity extends native.IdentitySummary {
  profile: Profile
}

export interface LoginResult extends native.LoginResult {
  /** The identity profile the login used. */
  profile: Profile
  identity: Identity
}

export interface Status extends native.Status {
  profile: Profile
  identity: Identity
}

export interface ShapeOptions {
  profile?: Profile
  /** Model id to send (default: the discovered default model). */
  model?: string
  effort?: Effort
  /** Host session id → prompt_cache_key (session_<id> for the kimi-code profile). */
  sessionId?: string
  /** Model metadata to shape against (default: the cached /models entry for the model). */
  modelInfo?: native.ModelInfo
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
    /** 403 "only available for Coding Agents": the server did not accept this client identity. */
    | 'KIMI_CLIENT_NOT_ALLOWED'
    /** 403 "Access terminated. Review our Community Guidelines": never retried; contact Kimi support. */
    | 'KIMI_ACCOUNT_SUSPENDED'
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
    /** The host's options name a server that is not Kimi's: no credential is sent there (docs/security.md). */
    | 'KIMI_UNTRUSTED_ORIGIN'
    /** The CLI: a change to another program's files needs `--yes` off a terminal. */
    | 'KIMI_CONFIRMATION_REQUIRED'
    /** The pi extension: the running pi lacks its pi-ai. */
    | 'KIMI_PI_HOST'
    /** The openclaw plugin: the host's provider failed without a kimi-native code. */
    | 'KIMI_PROVIDER_ERROR'
  /** Seconds, for KIMI_RATE_LIMITED when the server sent Retry-After. */
  retryAfter?: number
  status?: number
}

/** The identity headers: the User-Agent alone for 'native'; the 7 official headers in the client's order otherwise. */
export function buildHeaders(options?: KimiOptions): Array<[string, string]>
export function getDeviceId(options?: KimiOptions): string
/** Each part of the identity and where it came from; for `kimi-native identity`. */
export function identity(options?: KimiOptions): native.IdentityReport

export function login(
  options?: KimiOptions & {
    onDeviceCode?: (code: native.DeviceCode) => void
    /** Called on slow_down / restart events. */
    onEvent?: (event: native.LoginEvent) => void
    signal?: AbortSignal
  },
): Promise<LoginResult>
export function logout(options?: KimiOptions): Promise<native.LogoutResult>
export function status(options?: KimiOptions): Promise<Status>
export function getAccessToken(options?: KimiOptions & { force?: boolean }): Promise<string>
/**
 * A token for another program's key command (`kimi-native token`): valid for at least `minValidSecs`
 * (default `DEFAULTS.tokenMinValidSecs`; refreshed when it would not last), and, when the same `caller`
 * asks again before `CLAUDE_CODE_API_KEY_HELPER_TTL_MS` ran out (it was refused), never the token the
 * server rejects. Rejects with KIMI_NOT_LOGGED_IN, KIMI_RELOGIN_REQUIRED, or KIMI_BAD_INPUT when no
 * token lives that long.
 */
export function handOutToken(
  options?: KimiOptions & { minValidSecs?: number; caller?: string },
): Promise<native.HandedOutToken>
/**
 * Resolves once no token refresh is in flight in this process. The event loop is held open
 * while a refresh runs, so a process that ends naturally never loses a rotated token, and a
 * `process.exit()` waits (bounded) for a refresh whose request already went out; awaiting this
 * first lets the process end without that wait.
 */
export function settle(): Promise<void>
export function models(options?: KimiOptions & { refresh?: boolean }): Promise<native.ModelInfo[]>
export function usage(options?: KimiOptions): Promise<native.Usage>

export interface ImportResult extends native.ImportResult {
  profile: Profile
}

export function importSources(options?: KimiOptions): Promise<native.ImportSource[]>
/** Rejects with KIMI_RELOGIN_REQUIRED (nothing changed) when the source's refresh token is dead, KIMI_BAD_INPUT when it cannot be imported. */
export function importLogin(source: string, options?: KimiOptions): Promise<ImportResult>
/** kimi-native's own directory for these options (env KIMI_NATIVE_HOME, default ~/.kimi-native). */
export function homeDir(options?: KimiOptions): string
/**
 * Throws an Error with `code` KIMI_BAD_INPUT (its message names both origins) unless `url` may receive the
 * credential of the login these options select: only the Kimi API origin may. For adapters that hand a bearer to
 * a host's own HTTP code, where kimi-native's fetch and its origin check do not run.
 */
export function checkCredentialTarget(url: string | URL, options?: KimiOptions): void
/** File names of the per-user (in homeDir) and per-project host-feature settings, e.g. `{ "tools": true }`. */
export const CONFIG_FILES: native.ConfigFiles
/** Per-call options of the platform functions. */
export interface PlatformOptions extends KimiOptions {
  /** Time limit of the whole call in ms (KIMI_TIMEOUT when exceeded). */
  timeoutMs?: number
  /** Aborts the call (rejects with the signal's reason). */
  signal?: AbortSignal
}
/** POST {base}/files (multipart); cached by content hash per account. `purpose` defaults to image/video by mime type. */
export function uploadFile(
  data: Uint8Array | ArrayBuffer | ArrayBufferView | string, // a Buffer is a Uint8Array
  options: PlatformOptions & { mimeType: string; purpose?: string },
): Promise<native.UploadedFile>
/** POST {base}/search. */
export function search(query: string, options?: PlatformOptions & { limit?: number }): Promise<native.SearchResult[]>
/** POST {base}/fetch: the page as markdown. A refused URL rejects with KIMI_REFUSED. */
export function fetchUrl(url: string | URL, options?: PlatformOptions): Promise<string>
/** POST {base}/tools: a data source's description, or with `api` a call of that api with `params`. */
export function datasource(
  name: string,
  options?: PlatformOptions & { api?: string; params?: Record<string, unknown> },
): Promise<any>
/** GET {base}/me, without ids, email or phone. */
export function me(options?: PlatformOptions): Promise<native.AccountInfo>
/** Bytes of JSON (a Buffer) are shaped as bytes and come back as new bytes (a Buffer; not JSON: the same bytes). */
export function shapeRequest(body: Uint8Array, options?: ShapeOptions): Uint8Array
/** Pure: returns a new body; does not mutate the input. A string is shaped as JSON text (returned as a string; not JSON: unchanged). */
export function shapeRequest(body: any, options?: ShapeOptions): any
/** Classifies an error response a host received itself (status, body text, Retry-After seconds). */
export function classifyResponse(
  status: number,
  body: string,
  retryAfter?: number | null,
  options?: KimiOptions,
): native.ClassifiedError | null
/**
 * A fetch for the Kimi API: fresh bearer, identity headers, shaping, one retry after a forced refresh on
 * 401, streaming body. Only URLs on the configured `baseUrl` origin are accepted. As WHATWG fetch: HTTP
 * errors resolve (with ERROR_HEADER set); a transport failure rejects with `TypeError('fetch failed')`
 * whose `code` and `cause` (the coded error) say what failed; a bad URL or origin rejects with a TypeError
 * coded KIMI_BAD_INPUT; `redirect` 'follow' | 'manual' | 'error' is honoured, and a redirect to another
 * origin is never followed (the 3xx is returned), so credentials never leave the API.
 */
export function createKimiFetch(options?: KimiFetchOptions): typeof fetch
/** Header names a host may set on a request to pass per-request shaping hints to createKimiFetch (stripped before sending). */
export const HINT_HEADERS: Readonly<native.HintHeaders>
export const PROVIDER: Readonly<native.ProviderIds>
/** Response header that carries the kimi-native error code of a non-2xx response from createKimiFetch. */
export const ERROR_HEADER: string
/** Every stable `err.code` (and the official-profile warning's code), keyed without the `KIMI_` prefix. */
export const ERROR_CODES: Readonly<Record<string, string>>
/** What a host's auth store holds for kimi-native instead of a token. */
export const AUTH_MARKERS: Readonly<native.AuthMarkers>
/** Response header (may repeat) carrying a warning from the request path, e.g. an image upload that fell back to inline. */
export const WARNING_HEADER: string
/** The keys of KimiOptions the core reads (hosts copy these from their own config). */
export const OPTION_KEYS: ReadonlyArray<keyof KimiOptions>
/** 'native' (default), then the opt-in official-client profiles. */
export const PROFILES: ReadonlyArray<Profile>
/** The runtime named in the User-Agent comment: 'node/v22.23.3' or 'bun/1.3.14'. */
export const RUNTIME: string
/** The keys createKimiFetch reads besides OPTION_KEYS. */
export const FETCH_OPTION_KEYS: ReadonlyArray<Exclude<keyof KimiFetchOptions, keyof KimiOptions>>
/** The default OAuth host, API base URL and client versions (what the core uses with no options and no env). */
export const DEFAULTS: Readonly<native.Defaults>
/** Valid values of the options with a fixed set (the CLI's --profile, --region, --store choices). */
export const CHOICES: Readonly<{
  profile: ReadonlyArray<Profile>
  region: ReadonlyArray<Region>
  store: ReadonlyArray<StoreKind>
}>
/** Context window and output cap hosts configure for the default model. */
export const LIMITS: Readonly<native.Limits>
/** What hosts show for the default model until the account's own list can be read (not logged in, offline). */
export const DEFAULT_MODEL_INFO: Readonly<native.ModelInfo>
/** The device login's overall time budget in seconds (across expired codes). */
export const LOGIN_BUDGET_SECS: number
