/**
 * Route handlers. The pages carry a strict Content-Security-Policy (scripts only with the
 * response's nonce): escaping is the defence, the policy is the second line if it ever slips.
 */
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { randomBytes } from "node:crypto"
import * as Html from "./html.js"
import type { TraceStore } from "./store.js"

interface Service {
  readonly enabled: boolean
  readonly store: TraceStore
}

const TRACE_ID = /^[0-9a-f]{32}$/

const pathOf = (url: string) => {
  const query = url.indexOf("?")
  return query === -1 ? url : url.slice(0, query)
}

/**
 * The path the router is mounted at, from the request as received and as the router sees it
 * (`HttpRouter.mount` strips its prefix from `url`, not from `originalUrl`).
 */
export const baseOf = (originalUrl: string, url: string): string => {
  let original = pathOf(originalUrl)
  const local = pathOf(url)
  try {
    // An absolute-form request target (`GET http://host/traces`) still has a path.
    if (!original.startsWith("/")) original = new URL(original).pathname
  } catch {
    return ""
  }
  const base = local !== "/" && original.endsWith(local)
    ? original.slice(0, original.length - local.length)
    : original
  return base.endsWith("/") ? base.slice(0, -1) : base
}

const html = (body: string, nonce: string, status = 200) =>
  HttpServerResponse.text(body, {
    status,
    contentType: "text/html; charset=utf-8",
    headers: {
      "content-security-policy":
        `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-store"
    }
  })

const notFound = HttpServerResponse.text("Not Found", { status: 404 })

const withPage = <S extends Service, R>(
  tag: Context.Tag<any, S>,
  render: (
    service: S,
    request: HttpServerRequest.HttpServerRequest,
    base: string,
    nonce: string
  ) => Effect.Effect<HttpServerResponse.HttpServerResponse, never, R>
) =>
  Effect.gen(function*() {
    const service = yield* tag
    if (!service.enabled) return notFound
    const request = yield* HttpServerRequest.HttpServerRequest
    return yield* render(service, request, baseOf(request.originalUrl, request.url), randomBytes(16).toString("base64"))
  })

/** @internal */
export const listHandler = <S extends Service>(tag: Context.Tag<any, S>) =>
  withPage(tag, (service, _request, base, nonce) =>
    Effect.map(HttpServerRequest.ParsedSearchParams, (params) => {
      const one = (key: string) => {
        const value = params[key]
        return typeof value === "string" ? value : Array.isArray(value) ? value[0] : undefined
      }
      const error = one("error")
      return html(
        Html.renderList(
          service.store,
          {
            service: one("service"),
            name: one("name"),
            errorsOnly: error === "1" || error === "true"
          },
          base,
          nonce
        ),
        nonce
      )
    }))

/** @internal */
export const traceHandler = <S extends Service>(tag: Context.Tag<any, S>) =>
  withPage(tag, (service, _request, base, nonce) =>
    Effect.map(HttpRouter.params, (params) => {
      const traceId = (params.traceId ?? "").toLowerCase()
      if (!TRACE_ID.test(traceId)) {
        return html(
          Html.renderMessage("Invalid trace id", "A trace id is 32 hexadecimal characters.", base, nonce),
          nonce,
          400
        )
      }
      const entry = service.store.get(traceId)
      if (entry === undefined) {
        return html(
          Html.renderMessage(
            "Trace not found",
            `Trace ${traceId} is not in memory: it was never recorded here (not sampled, or from another process) or has been evicted.`,
            base,
            nonce
          ),
          nonce,
          404
        )
      }
      return html(Html.renderTrace(service.store, entry, base, nonce), nonce)
    }))

/** @internal */
export const summaries = (store: TraceStore) =>
  Html.listTraces(store, {}).map((entry) => ({
    traceId: entry.traceId,
    rootName: entry.root?.name,
    services: Array.from(entry.services),
    startTime: new Date(entry.startNanos / 1e6),
    durationMillis: (entry.endNanos - entry.startNanos) / 1e6,
    spanCount: entry.spans.length,
    droppedSpans: entry.droppedSpans,
    errorCount: entry.errors
  }))
