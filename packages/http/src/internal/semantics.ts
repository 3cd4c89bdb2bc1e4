/**
 * What the server and the client share: method normalisation, URL and header redaction,
 * header capture and the `error.type` of a transport failure.
 */
import { Redaction } from "@effect-telemetry/core"
import type * as Headers from "@effect/platform/Headers"
import type * as Tracer from "effect/Tracer"
import * as Semconv from "./semconv.js"

const knownMethods = new Set(["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"])

/** The semconv method value (`_OTHER` outside the known set) and the original when it differs. */
// The result for a known method as sent: one object per method, not one per request.
const asSent = new Map(Array.from(knownMethods, (method) => [method, { method, original: undefined }] as const))

export const normalizeMethod = (method: string): { readonly method: string; readonly original: string | undefined } => {
  const known = asSent.get(method)
  if (known !== undefined) return known
  const upper = method.toUpperCase()
  // A lower-case `get` is a known method spelled differently: keep the original beside it.
  if (knownMethods.has(upper)) return { method: upper, original: method }
  return { method: Semconv.HTTP_METHOD_OTHER, original: method }
}

/** The `{method}` part of a span name (`HTTP` for `_OTHER`, as semconv requires). */
export const spanMethod = (method: string) => method === Semconv.HTTP_METHOD_OTHER ? "HTTP" : method

/**
 * Query parameters whose values are replaced: semconv's defaults (signed-URL signatures)
 * plus the usual places credentials travel.
 */
export const DEFAULT_SENSITIVE_QUERY_PARAMS: ReadonlyArray<string> = [
  "AWSAccessKeyId",
  "Signature",
  "sig",
  "X-Goog-Signature",
  "access_token",
  "refresh_token",
  "id_token",
  "token",
  "api_key",
  "apikey",
  "password",
  "secret",
  "client_secret"
]

/** Headers whose values are never recorded, whatever the allow-list says. */
export const ALWAYS_REDACTED_HEADERS: ReadonlyArray<string> = [
  "authorization",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "x-api-key"
]

export const lowerSet = (names: ReadonlyArray<string>): ReadonlySet<string> =>
  new Set(names.map((n) => n.toLowerCase()))

/** `Redaction.query`, under the name the server reads it by. */
export const redactQuery: (search: string, sensitive: ReadonlySet<string>) => string | undefined = Redaction.query

/** The port of a URL, defaulted from the scheme as semconv asks. */
export const portOf = (url: URL): number | undefined => {
  if (url.port !== "") return Number(url.port)
  switch (url.protocol) {
    case "http:":
    case "ws:":
      return 80
    case "https:":
    case "wss:":
      return 443
  }
  return undefined
}

/** Captured headers as span attributes (`prefix<name>` → string array); values of redacted names become `REDACTED`. */
export const captureHeaders = (
  headers: Headers.Headers,
  allow: ReadonlySet<string>,
  redacted: ReadonlySet<string>,
  prefix: string,
  span: Tracer.Span
): void => {
  if (allow.size === 0) return
  for (const name of allow) {
    const value = (headers as Record<string, string | ReadonlyArray<string> | undefined>)[name]
    if (value === undefined) continue
    const values = typeof value === "string" ? [value] : [...value]
    span.attribute(prefix + name, redacted.has(name) ? values.map(() => Semconv.REDACTED) : values)
  }
}

/** Platform redaction names (strings only; patterns are applied by {@link isRedacted}). */
export const redactionSet = (platformNames: ReadonlyArray<string | RegExp>) => {
  const names = new Set(ALWAYS_REDACTED_HEADERS)
  const patterns: Array<RegExp> = []
  for (const name of platformNames) {
    if (typeof name === "string") names.add(name.toLowerCase())
    else patterns.push(name)
  }
  return { names, patterns }
}

/** The allow-list filtered through the redaction patterns into the names whose values are hidden. */
export const redactedAmong = (
  allow: ReadonlySet<string>,
  redaction: { readonly names: ReadonlySet<string>; readonly patterns: ReadonlyArray<RegExp> }
): ReadonlySet<string> => {
  const out = new Set<string>()
  for (const name of allow) {
    if (redaction.names.has(name) || redaction.patterns.some((p) => p.test(name))) out.add(name)
  }
  return out
}

/**
 * `error.type` for a failure before any status: the system error code when there is one
 * (`ECONNREFUSED`, low cardinality and actionable), else the error's class.
 */
export const transportErrorType = (error: unknown, fallback: (error: unknown) => string): string => {
  let current: unknown = error
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string" && /^[A-Z][A-Z0-9_]*$/.test(code)) return code
    current = (current as { cause?: unknown }).cause
  }
  return fallback(error)
}
