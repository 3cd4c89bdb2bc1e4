/**
 * The server span and metrics around one request.
 *
 * The middleware sits in the slot `HttpServer.serve` gives middleware, which wraps the whole
 * chain including writing the response: the span therefore lasts until a streamed body has
 * been written or cancelled. What was really sent is observed in a pre-response handler (the
 * only place that sees the final response, error responses included), which also adds the
 * response trace context.
 */
import { Propagation, Tracing } from "@effect-telemetry/core"
import * as Headers from "@effect/platform/Headers"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerError from "@effect/platform/HttpServerError"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as FiberId from "effect/FiberId"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import { constTrue, identity } from "effect/Function"
import * as HashMap from "effect/HashMap"
import * as HashSet from "effect/HashSet"
import * as Option from "effect/Option"
import type * as Predicate from "effect/Predicate"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as Tracer from "effect/Tracer"
import * as semantics from "./semantics.js"
import * as Semconv from "./semconv.js"
import * as ServerSeries from "./serverSeries.js"

export interface Options {
  readonly captureRequestHeaders?: ReadonlyArray<string> | undefined
  readonly captureResponseHeaders?: ReadonlyArray<string> | undefined
  readonly excludePaths?: ReadonlyArray<string | RegExp> | undefined
  readonly exclude?: Predicate.Predicate<HttpServerRequest.HttpServerRequest> | undefined
  readonly responseTraceContext?: boolean | undefined
  readonly sensitiveQueryParams?: ReadonlyArray<string> | undefined
  readonly unmatchedRoute?: string | undefined
}

interface Resolved {
  readonly requestHeaders: ReadonlySet<string>
  readonly responseHeaders: ReadonlySet<string>
  readonly excluded: (request: HttpServerRequest.HttpServerRequest, path: string) => boolean
  readonly responseTraceContext: boolean
  readonly sensitiveQuery: ReadonlySet<string>
  readonly unmatchedRoute: string
  readonly address: HttpServer.Address | undefined
  /** The server's shared pre-response handler, when the server installed one: requests register with it. */
  readonly serverHandler: ServerHandler | undefined
  /**
   * Whether the context from before the middleware comes back without our help. Installed by
   * the server (`instrument`), the middleware is the outermost in `toHandled`, inside the
   * request scope (`Scope.extend`, a `locally` of the context), which puts the context back as
   * soon as the middleware returns, before the response-handling steps (they read only the
   * request) and before the scope's finalizers: the span may then be written into the
   * request's own context (see `putInContext`). As a plain middleware
   * (`HttpServerTelemetry.middleware`) outer middleware may follow in the same fiber: put back.
   */
  readonly contextRestoredAfter: boolean
  /** Captured header names whose values are hidden, for the platform's redaction list. */
  readonly redacted: (platformNames: ReadonlyArray<string | RegExp>) => Redacted
}

interface Redacted {
  readonly request: ReadonlySet<string>
  readonly response: ReadonlySet<string>
}

const resolve = (
  options: Options | undefined,
  address: HttpServer.Address | undefined,
  platformDisabled: Predicate.Predicate<HttpServerRequest.HttpServerRequest> | undefined,
  serverHandler: ServerHandler | undefined
): Resolved => {
  const paths = options?.excludePaths ?? []
  const exclude = options?.exclude
  const requestHeaders = semantics.lowerSet(options?.captureRequestHeaders ?? [])
  const responseHeaders = semantics.lowerSet(options?.captureResponseHeaders ?? [])
  // The platform's list is a fiber ref that almost never changes: derive the sets once per list.
  let lastNames: ReadonlyArray<string | RegExp> | undefined
  let lastRedacted: Redacted = { request: new Set(), response: new Set() }
  const redacted = (platformNames: ReadonlyArray<string | RegExp>): Redacted => {
    if (platformNames !== lastNames) {
      const redaction = semantics.redactionSet(platformNames)
      lastRedacted = {
        request: semantics.redactedAmong(requestHeaders, redaction),
        response: semantics.redactedAmong(responseHeaders, redaction)
      }
      lastNames = platformNames
    }
    return lastRedacted
  }
  return {
    requestHeaders,
    responseHeaders,
    redacted,
    excluded: (request, path) =>
      paths.some((p) => typeof p === "string" ? p === path : p.test(path)) ||
      (exclude !== undefined && exclude(request)) ||
      (platformDisabled !== undefined && platformDisabled(request)),
    responseTraceContext: options?.responseTraceContext ?? true,
    sensitiveQuery: semantics.lowerSet(options?.sensitiveQueryParams ?? semantics.DEFAULT_SENSITIVE_QUERY_PARAMS),
    unmatchedRoute: options?.unmatchedRoute ?? Semconv.HTTP_ROUTE_UNMATCHED,
    address,
    serverHandler,
    contextRestoredAfter: serverHandler !== undefined
  }
}

/**
 * What the pre-response handler saw. The first response is what went on the wire. A second
 * call means writing the first failed (a stream broke, the client left): the platform answers
 * the failure again with the response already sent.
 */
interface Observed {
  first: HttpServerResponse.HttpServerResponse | undefined
  calls: number
  upgraded: boolean
}

// `toHandled` marks the request it finds in the context as answered; with a wrapped request
// in the context the mark must be copied back, or the platform answers a second time.
const handledSymbol = Symbol.for("@effect/platform/HttpApp/handled")

/** A request whose `upgrade` records that the connection switched protocols. */
const watchUpgrade = (
  request: HttpServerRequest.HttpServerRequest,
  observed: Observed
): HttpServerRequest.HttpServerRequest =>
  Object.create(request, {
    upgrade: {
      get: () => Effect.tap(request.upgrade, () => Effect.sync(() => void (observed.upgraded = true)))
    },
    modify: {
      value: (options: Parameters<HttpServerRequest.HttpServerRequest["modify"]>[0]) =>
        watchUpgrade(request.modify(options), observed)
    }
  })

const isClientAbortId = (id: FiberId.FiberId) => Equal.equals(id, HttpServerError.clientAbortFiberId)

/**
 * The client went away: the platform interrupts the request fiber with its client-abort id.
 * Once the response has started it absorbs that interruption into a success, so the fiber's
 * own interruptors are read as well as the exit.
 */
const isClientAbort = (exit: Exit.Exit<unknown, unknown>, fiberInterruption: Cause.Cause<never>) =>
  // A fiber nobody interrupted (nearly every request) has an empty cause: no interruptor set built.
  (!Cause.isEmpty(fiberInterruption) && HashSet.some(Cause.interruptors(fiberInterruption), isClientAbortId)) ||
  (Exit.isFailure(exit) && HashSet.some(Cause.interruptors(exit.cause), isClientAbortId))

/** The failure or defect that is not the platform's own response-carrying defect. */
const realFailure = (cause: Cause.Cause<unknown>): Option.Option<unknown> => {
  const failure = Chunk.head(Cause.failures(cause))
  if (Option.isSome(failure)) return failure
  return Chunk.findFirst(Cause.defects(cause), (d) => !HttpServerResponse.isServerResponse(d))
}

const isRouteNotFound = (cause: Cause.Cause<unknown>) =>
  Chunk.some(Cause.failures(cause), (e) => HttpServerError.isServerError(e) && e._tag === "RouteNotFound")

/**
 * Non-empty segments of a path, counted without splitting it (this runs per request), a
 * segment at a time: no more than `limit` are counted.
 */
const segmentCount = (path: string, limit = Infinity): number => {
  let count = 0
  let i = 0
  while (i < path.length && count < limit) {
    if (path.charCodeAt(i) === 47) {
      i++
      continue
    }
    count++
    const slash = path.indexOf("/", i)
    if (slash === -1) break
    i = slash + 1
  }
  return count
}

// An app has few route templates: each one's segments counted once. Cleared when full, so
// reported templates cannot grow it without a bound.
const templateSegments = new Map<string, number>()

const segmentsOfTemplate = (template: string): number => {
  let count = templateSegments.get(template)
  if (count === undefined) {
    count = segmentCount(template)
    if (templateSegments.size >= 1024) templateSegments.clear()
    templateSegments.set(template, count)
  }
  return count
}

/**
 * The route relative to a mount (`HttpRouter.mount("/api", router)` reports `/users/:id`)
 * completed with the mount's literal prefix taken from the path. Templates with wildcards are
 * kept as reported: their segment count says nothing.
 */
export const fullRoute = (template: string, path: string): string => {
  if (template.includes("*")) return template
  const own = segmentsOfTemplate(template)
  // Counting the path stops one segment past the template's: most requests are not mounted.
  if (segmentCount(path, own + 1) <= own) return template
  const p = path.split("/").filter((s) => s !== "")
  const prefix = "/" + p.slice(0, p.length - own).join("/")
  return template === "/" ? prefix : prefix + template
}

const bodySize = (response: HttpServerResponse.HttpServerResponse): number | undefined => {
  const body = response.body
  switch (body._tag) {
    case "Empty":
      return 0
    case "Uint8Array":
      return body.contentLength
    case "Raw":
    case "Stream":
      return body.contentLength
    case "FormData":
      return undefined
  }
}

const contentLength = (headers: Headers.Headers): number | undefined => {
  const raw = headers["content-length"]
  if (raw === undefined) return undefined
  const n = Number(raw)
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

/** What the request line and `Host` header say: the parts of a URL the attributes need. */
interface Target {
  readonly scheme: string
  readonly path: string
  readonly search: string
  readonly address: string | undefined
  readonly port: number | undefined
}

// An origin-form target that `new URL` would leave as it is (no dot segments, nothing to
// escape) is split by hand: a URL per request was a measurable part of the server's cost.
const plainTarget = /^\/(?!\/)[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*)?$/
// `%2e` is a dot to URL too.
const dotSegment = /\/(?:\.|%2e){1,2}(?:[/?]|$)/i
// An absolute-form target (what a web handler's `fromWeb` request carries: the whole URL), its
// authority without userinfo and a path that starts at once: the same split, its host cached.
const absoluteForm = /^(https?):\/\/([^/?#@\\]+)(?=\/)/

interface Host {
  readonly address: string
  readonly port: number | undefined
}

// A server sees few distinct Host values; parsing each once keeps `new URL`'s exact rules
// (IPv6 brackets, case, default ports). Cleared when full, so hostile values cannot grow it.
// One map per scheme, keyed by the header itself: no key string built per request.
const httpHosts = new Map<string, Host | null>()
const httpsHosts = new Map<string, Host | null>()

const hostOf = (scheme: string, host: string): Host | undefined => {
  const hosts = scheme === "https" ? httpsHosts : httpHosts
  let parsed = hosts.get(host)
  if (parsed === undefined) {
    try {
      const url = new URL(`${scheme}://${host}`)
      parsed = url.pathname === "/" && url.search === "" && url.username === "" && url.password === ""
        ? { address: url.hostname, port: semantics.portOf(url) }
        : null
    } catch {
      parsed = null
    }
    if (hosts.size >= 256) hosts.clear()
    hosts.set(host, parsed)
  }
  return parsed ?? undefined
}

/** @internal */
export const targetOf = (
  request: HttpServerRequest.HttpServerRequest,
  fallback: HttpServer.Address | undefined
): Target => {
  const raw = request.url
  const scheme = request.headers["x-forwarded-proto"] === "https" ? "https" : "http"
  const listening = fallback?._tag === "TcpAddress" ? { address: fallback.hostname, port: fallback.port } : undefined
  if (plainTarget.test(raw) && !dotSegment.test(raw)) {
    const host = request.headers.host
    const parsedHost = host !== undefined ? hostOf(scheme, host) : undefined
    if (host === undefined || parsedHost !== undefined) {
      const q = raw.indexOf("?")
      const { address, port } = parsedHost ?? listening ?? { address: undefined, port: undefined }
      return { scheme, path: q === -1 ? raw : raw.slice(0, q), search: q === -1 ? "" : raw.slice(q), address, port }
    }
  } else if (raw.charCodeAt(0) === 104 /* h */) {
    const absolute = absoluteForm.exec(raw)
    const rest = absolute !== null ? raw.slice(absolute[0].length) : ""
    if (absolute !== null && plainTarget.test(rest) && !dotSegment.test(rest)) {
      // The URL's own scheme and authority win over the header's, as `new URL(raw, base)` decides.
      // A Host header that is no valid base fails `new URL(raw, base)` even so: left to it.
      const urlScheme = absolute[1]!
      const parsedHost = hostOf(urlScheme, absolute[2]!)
      const header = request.headers.host
      if (parsedHost !== undefined && (header === undefined || hostOf(scheme, header) !== undefined)) {
        const q = rest.indexOf("?")
        const fromHost = header !== undefined
        return {
          scheme: urlScheme,
          path: q === -1 ? rest : rest.slice(0, q),
          search: q === -1 ? "" : rest.slice(q),
          address: fromHost ? parsedHost.address : listening?.address,
          port: fromHost ? parsedHost.port : listening?.port
        }
      }
    }
  }
  const url = Option.getOrUndefined(HttpServerRequest.toURL(request))
  if (url === undefined) {
    return { scheme: "http", path: raw.split("?")[0]!, search: "", address: listening?.address, port: listening?.port }
  }
  const fromHost = request.headers.host !== undefined
  return {
    scheme: url.protocol.slice(0, -1),
    path: url.pathname,
    search: url.search,
    address: fromHost ? url.hostname : listening?.address,
    port: fromHost ? semantics.portOf(url) : listening?.port
  }
}

const protocolVersion = (request: HttpServerRequest.HttpServerRequest): string | undefined => {
  const version = (request.source as { httpVersion?: unknown } | undefined)?.httpVersion
  return typeof version === "string" ? version : undefined
}

/**
 * A copy of a map made entry by entry. The request's context (every service the app's context
 * holds) and the fiber's refs are copied per request; `new Map(iterable)`, what `Context.add`
 * and `FiberRefs` do, builds an entry array per entry through the iterator protocol: about a
 * third longer for a 20-service context, twice for a fiber's few refs.
 */
const copied = <K, V>(map: ReadonlyMap<K, V>): Map<K, V> => {
  const copy = new Map<K, V>()
  map.forEach((value, key) => copy.set(key, value))
  return copy
}

/**
 * The fiber's refs with its context replaced, as `FiberRef.set` leaves them, without the
 * equality check `FiberRefs.updateAs` makes first: it hashes both contexts (a
 * `defineProperty` on the context made for this request) to learn whether the value changed,
 * and ours always has.
 */
const withContext = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  refs: FiberRefs.FiberRefs,
  context: Context.Context<never>
): FiberRefs.FiberRefs => {
  const locals = copied(refs.locals)
  const id = fiber.id()
  const stack = locals.get(FiberRef.currentContext)
  if (stack === undefined) {
    locals.set(FiberRef.currentContext, [[id, context]])
  } else {
    const owner = stack[0][0]
    locals.set(
      FiberRef.currentContext,
      owner === id || Equal.equals(owner, id) ? [[id, context], ...stack.slice(1)] : [[id, context], ...stack]
    )
  }
  return FiberRefs.unsafeMake(locals)
}

/** What the runtime fiber has beyond its public type. */
interface FiberInternals {
  readonly _fiberRefs?: FiberRefs.FiberRefs
  readonly currentRuntimeFlags?: RuntimeFlags.RuntimeFlags
  setFiberRefs(refs: FiberRefs.FiberRefs): void
}

/**
 * The fiber's refs as they are. `getFiberRefs` first stores the fiber's runtime flags in its
 * refs, a `FiberRef` set that copies them all, for forks to inherit; the runtime reads its
 * flags from the fiber, not from that ref, so the middleware reads the refs without it.
 */
const fiberRefsOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): FiberRefs.FiberRefs =>
  (fiber as unknown as FiberInternals)._fiberRefs ?? fiber.getFiberRefs()

/**
 * Replaces the fiber's refs from inside `withFiberRuntime`, as the runtime does in its own
 * steps. The runtime fiber has the method; its public type does not say so.
 */
const setFiberRefs = (fiber: Fiber.RuntimeFiber<unknown, unknown>, refs: FiberRefs.FiberRefs): void =>
  (fiber as unknown as FiberInternals).setFiberRefs(refs)

/**
 * Whether the fiber's context is this request's own: it holds the request (made for it) and
 * was set in this fiber (not inherited from one that may still use it). `toHandled`'s request
 * scope gives every request such a context (`Scope.extend` merges a new map), which only this
 * fiber's refs hold: the middleware can write into it instead of copying it.
 */
const isRequestsOwnContext = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  request: HttpServerRequest.HttpServerRequest,
  context: Context.Context<never>
): boolean => {
  if (context.unsafeMap.get(HttpServerRequest.HttpServerRequest.key) !== request) return false
  const stack = fiberRefsOf(fiber).locals.get(FiberRef.currentContext)
  if (stack === undefined || stack[0][1] !== context) return false
  const owner = stack[0][0]
  const id = fiber.id()
  return owner === id || Equal.equals(owner, id)
}

/**
 * Puts the server span (and the request watching for an upgrade) in the request fiber's
 * context; returns what puts the context from before back, when that is ours to do.
 *
 * Installed by the server (`restoredAfter`, see {@link Resolved}) in a context that is the
 * request's own, it writes into that context: no copy of the app's services, no fiber-ref
 * write, nothing to put back (the request scope's restore drops the context itself). That was
 * two map copies and two fiber-ref writes per request. Otherwise (a plain middleware, or a
 * server that did not give the request its own context, which may not restore it either) it
 * copies the context and the refs, and puts them back afterwards.
 */
const putInContext = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  request: HttpServerRequest.HttpServerRequest,
  span: Tracer.Span,
  inContext: HttpServerRequest.HttpServerRequest,
  restoredAfter: boolean
): (() => void) | undefined => {
  const previousContext = fiber.currentContext
  const own = restoredAfter && isRequestsOwnContext(fiber, request, previousContext)
  // A context is immutable by contract; the request's own is seen by nobody else. Effect caches
  // a context's hash from its size: once stale, it can only make an equal context compare
  // unequal (one more fiber-ref update), never two different ones equal (maps are compared).
  const services = own ? previousContext.unsafeMap as Map<string, unknown> : copied(previousContext.unsafeMap)
  services.set(Tracer.ParentSpan.key, span)
  if (inContext !== request) services.set(HttpServerRequest.HttpServerRequest.key, inContext)
  if (own) {
    // The runtime caches the context's span on the fiber (what a failure's trace is captured
    // with) and refreshes it at each fiber-ref write: this write is none.
    const cached: { currentSpan?: Tracer.AnySpan } = fiber as never
    cached.currentSpan = span
    return undefined
  }
  const previousRefs = fiberRefsOf(fiber)
  const requestRefs = withContext(fiber, previousRefs, Context.unsafeMake(services))
  setFiberRefs(fiber, requestRefs)
  return () => {
    // Refs nobody changed since ours (an app that sets no fiber ref; behind a router some ref
    // always changed) are the ones before with the context put back: no copy.
    const refs = fiberRefsOf(fiber)
    setFiberRefs(fiber, refs === requestRefs ? previousRefs : withContext(fiber, refs, previousContext))
  }
}

// The span options of every server span: without a remote parent, a root.
const rootSpanOptions: Tracer.SpanOptions = { kind: "server", captureStackTrace: false, root: true }

const spanOptionsOf = (parent: Option.Option<Tracer.ExternalSpan>): Tracer.SpanOptions =>
  Option.isSome(parent) ? { kind: "server", captureStackTrace: false, parent: parent.value } : rootSpanOptions

/**
 * The server span started in the fiber step the middleware runs anyway, as `Effect.makeSpan`
 * starts it (the fiber's tracer, clock and timing setting): `makeSpan` and the `flatMap` on it
 * were three more fiber operations per request. `undefined` when the fiber's tracer is
 * disabled or it carries span annotations or links: `makeSpan` itself handles those.
 */
const startSpan = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  name: string,
  options: Tracer.SpanOptions
): Tracer.Span | undefined => {
  if (!fiber.getFiberRef(FiberRef.currentTracerEnabled)) return undefined
  if (HashMap.size(fiber.getFiberRef(FiberRef.currentTracerSpanAnnotations)) > 0) return undefined
  if (Chunk.isNonEmpty(fiber.getFiberRef(FiberRef.currentTracerSpanLinks))) return undefined
  const services = fiber.getFiberRef(DefaultServices.currentServices)
  const startTime = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
    ? Context.get(services, Clock.Clock).unsafeCurrentTimeNanos()
    : 0n
  return Context.get(services, Tracer.Tracer).span(
    name,
    options.parent !== undefined ? Option.some(options.parent) : Option.none(),
    Context.empty(),
    [],
    startTime,
    "server",
    options
  )
}

const instrumentRequest = <E, R>(
  app: HttpApp.Default<E, R>,
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  request: HttpServerRequest.HttpServerRequest,
  target: Target,
  config: Resolved,
  redactedHeaderNames: ReadonlyArray<string | RegExp>
): HttpApp.Default<E, R> => {
  const started = performance.now()
  const { method, original } = semantics.normalizeMethod(request.method)
  const { address, path, port, scheme } = target
  const version = protocolVersion(request)

  const requestSize = contentLength(request.headers)
  // The span's request attributes, set only on a sampled span: a sampled-out one records none.
  const addRequestAttributes = (span: Tracer.Span) => {
    span.attribute(Semconv.ATTR_HTTP_REQUEST_METHOD, method)
    span.attribute(Semconv.ATTR_URL_SCHEME, scheme)
    span.attribute(Semconv.ATTR_URL_PATH, path)
    if (original !== undefined) span.attribute(Semconv.ATTR_HTTP_REQUEST_METHOD_ORIGINAL, original)
    const query = semantics.redactQuery(target.search, config.sensitiveQuery)
    if (query !== undefined) span.attribute(Semconv.ATTR_URL_QUERY, query)
    if (address !== undefined) span.attribute(Semconv.ATTR_SERVER_ADDRESS, address)
    if (port !== undefined) span.attribute(Semconv.ATTR_SERVER_PORT, port)
    if (Option.isSome(request.remoteAddress)) span.attribute(Semconv.ATTR_CLIENT_ADDRESS, request.remoteAddress.value)
    const userAgent = request.headers["user-agent"]
    if (userAgent !== undefined) span.attribute(Semconv.ATTR_USER_AGENT_ORIGINAL, userAgent)
    if (version !== undefined) span.attribute(Semconv.ATTR_NETWORK_PROTOCOL_VERSION, version)
    if (requestSize !== undefined) span.attribute(Semconv.ATTR_HTTP_REQUEST_BODY_SIZE, requestSize)
    semantics.captureHeaders(
      request.headers,
      config.requestHeaders,
      config.redacted(redactedHeaderNames).request,
      Semconv.ATTR_HTTP_REQUEST_HEADER_PREFIX,
      span
    )
  }

  const series = ServerSeries.requestSeries(method, scheme)
  const parent = Propagation.extract(request.headers)
  const observed: Observed = { first: undefined, calls: 0, upgraded: false }
  const inContext = request.headers.upgrade !== undefined ? watchUpgrade(request, observed) : request

  const finish = (
    span: Tracer.Span,
    exit: Exit.Exit<HttpServerResponse.HttpServerResponse, E>,
    fiberInterruption: Cause.Cause<never>
  ) => {
    const failure = Exit.isFailure(exit) ? realFailure(exit.cause) : Option.none()
    const clientAbort = isClientAbort(exit, fiberInterruption)
    // A client that went away was answered with a synthetic 499 that nobody received.
    const sent = observed.upgraded
      ? 101
      : observed.first !== undefined && !(clientAbort && observed.first.status === 499)
      ? observed.first.status
      : !clientAbort
      ? HttpServerError.exitResponse(exit).status
      : undefined

    const reported = span.attributes.get(Semconv.ATTR_HTTP_ROUTE)
    const route = typeof reported === "string"
      ? fullRoute(reported, path)
      : Exit.isFailure(exit) && isRouteNotFound(exit.cause)
      ? config.unmatchedRoute
      : undefined

    // A sampled-out span records nothing: only what the metrics need is worked out.
    const sampled = span.sampled
    let errorType: string | undefined
    if (clientAbort) {
      if (sampled) {
        Tracing.setSpanStatus(span, { code: "unset" })
        span.attribute(Semconv.ATTR_EFFECT_INTERRUPTED, true)
      }
    } else if (sent !== undefined && sent >= 500) {
      errorType = String(sent)
      // With a real failure the tracer records the exception and sets Error itself.
      if (sampled && Option.isNone(failure)) Tracing.setSpanStatus(span, { code: "error" })
    } else if (Option.isSome(failure) && observed.calls > 1) {
      // The response had started (its status on the wire) when its stream failed.
      errorType = Tracing.errorTypeOf(failure.value)
    } else if (sampled && Exit.isFailure(exit)) {
      // A failure answered with a 4xx (RouteNotFound, a schema error) is the client's error.
      Tracing.setSpanStatus(span, { code: "unset" })
    }

    const responseSize = observed.first !== undefined && request.method !== "HEAD" && !clientAbort
      ? bodySize(observed.first)
      : undefined
    if (sampled) {
      // The unmatched value labels series; a span name carries only a route that matched.
      if (typeof reported === "string") Tracing.setSpanName(span, `${spanName} ${route}`)
      if (route !== undefined && route !== reported) span.attribute(Semconv.ATTR_HTTP_ROUTE, route)
      if (sent !== undefined) span.attribute(Semconv.ATTR_HTTP_RESPONSE_STATUS_CODE, sent)
      if (errorType !== undefined) span.attribute(Semconv.ATTR_ERROR_TYPE, errorType)
      if (responseSize !== undefined) span.attribute(Semconv.ATTR_HTTP_RESPONSE_BODY_SIZE, responseSize)
      if (observed.first !== undefined && config.responseHeaders.size > 0) {
        // Handlers the app appends (cors, HttpApi's security cookies) run after ours. On success
        // the app chain returns the response after every handler, the one written: its headers
        // are what was sent. On a failure path the chain returns the unhandled response instead.
        const written = observed.calls === 1 && Exit.isSuccess(exit) && HttpServerResponse.isServerResponse(exit.value)
          ? exit.value
          : observed.first
        semantics.captureHeaders(
          written.headers,
          config.responseHeaders,
          config.redacted(redactedHeaderNames).response,
          Semconv.ATTR_HTTP_RESPONSE_HEADER_PREFIX,
          span
        )
      }
    }

    const outcome = ServerSeries.outcomeOf(series, route, sent, errorType, version)
    outcome.duration.unsafeRecord((performance.now() - started) / 1000)
    if (requestSize !== undefined) outcome.requestSize.unsafeRecord(requestSize)
    if (responseSize !== undefined) outcome.responseSize.unsafeRecord(responseSize)
  }

  const spanOptions = spanOptionsOf(parent)
  const spanName = semantics.spanMethod(method)
  // Everything after the span's start runs in the fiber step that started it, the fiber kept
  // for the finalizer: the app's continuations run in the same fiber, and each fiber-runtime
  // step saved is one fewer fiber operation per request.
  const run = (
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    span: Tracer.Span,
    restore: <A, E2, R2>(effect: Effect.Effect<A, E2, R2>) => Effect.Effect<A, E2, R2>
  ) => {
    if (span.sampled) addRequestAttributes(span)
    series.active.unsafeAdd(1)
    const observe = (response: HttpServerResponse.HttpServerResponse) => {
      if (observed.first === undefined) observed.first = response
      observed.calls++
      if (!config.responseTraceContext) return response
      const carrier = Propagation.inject(span)
      // One header at a time: `setHeaders` rebuilds the whole header object (usually for
      // the single `traceparent`). Baggage is the caller's, not ours to echo back.
      let withContext = response
      for (const name in carrier) {
        if (name !== "baggage") withContext = HttpServerResponse.setHeader(withContext, name, carrier[name]!)
      }
      return withContext
    }
    const key = sourceKey(request)
    const pending = key !== undefined ? config.serverHandler?.pending : undefined
    pending?.set(key!, observe)
    const served = pending !== undefined
      ? app
      : HttpApp.withPreResponseHandler(app, (_request, response) => Effect.sync(() => observe(response)))

    // The span goes into the context in the step that runs anyway, not with `FiberRef.update`,
    // a `zipRight` or a `withFiberRuntime` around the finalizer (each more fiber operations per
    // request). The match's continuations run in this fiber.
    const restoreContext = putInContext(fiber, request, span, inContext, config.contextRestoredAfter)
    const exit = <A, E2>(result: Exit.Exit<A, E2>): Exit.Exit<A, E2> => {
      pending?.delete(key!)
      restoreContext?.()
      try {
        if (inContext !== request && handledSymbol in inContext) (request as any)[handledSymbol] = true
        finish(
          span,
          result as unknown as Exit.Exit<HttpServerResponse.HttpServerResponse, E>,
          fiber.getFiberRef(FiberRef.interruptedCause)
        )
      } finally {
        const timing = fiber.getFiberRef(FiberRef.currentTracerTimingEnabled)
        const clock = Context.get(fiber.getFiberRef(DefaultServices.currentServices), Clock.Clock)
        span.end(timing ? clock.unsafeCurrentTimeNanos() : 0n, result)
        series.active.unsafeAdd(-1)
      }
      return result
    }
    return Effect.matchCauseEffect(restore(served), {
      onFailure: (cause) => exit(Exit.failCause(cause)),
      onSuccess: (response) => exit(Exit.succeed(response))
    })
  }
  const begin = (
    fiber: Fiber.RuntimeFiber<unknown, unknown>,
    restore: <A, E2, R2>(effect: Effect.Effect<A, E2, R2>) => Effect.Effect<A, E2, R2>
  ): HttpApp.Default<E, R> => {
    const span = startSpan(fiber, spanName, spanOptions)
    return span !== undefined
      ? run(fiber, span, restore)
      : Effect.flatMap(
        Effect.makeSpan(spanName, spanOptions),
        (span) =>
          Effect.withFiberRuntime<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest>(
            (fiber) => run(fiber, span, restore)
          )
      )
  }
  // One uninterruptible region holds the in-flight increment, the span's start, the span put
  // in the fiber's context and the finalizer that records, ends the span, restores the context
  // and decrements: whatever ends the request (response, failure, defect, client abort), each
  // happens exactly once, and the app runs as interruptible as it was. `withParentSpan` (a
  // `locally`, itself an acquire-use-release) and `onExit` (a second mask) ran ~25 more fiber
  // operations per request. A served request is that region already: the platform's handled
  // app runs its middleware uninterruptibly (the routers make each handler interruptible
  // again), so the middleware starts there in the step it is in, with no region of its own
  // (its mask, the restore around the app, their reverts and a second runtime step were 6 fiber
  // operations per request).
  const flags = (fiber as unknown as FiberInternals).currentRuntimeFlags
  if (flags !== undefined && !RuntimeFlags.interruption(flags)) return begin(fiber, identity)
  return Effect.uninterruptibleMask((restore) =>
    Effect.withFiberRuntime<HttpServerResponse.HttpServerResponse, E, R | HttpServerRequest.HttpServerRequest>(
      (fiber) => begin(fiber, restore)
    )
  )
}

/**
 * The pre-response handler a telemetry server installs once, in the fiber its request fibers
 * inherit from, with the requests in flight by their `source` (the node request or web
 * `Request`, the same when a middleware replaces the request with `modify`). Installed per
 * request instead, with `withPreResponseHandler`, it cost two fiber-ref updates per request
 * (each copies the fiber's refs and hashes the handlers). One per server: a server
 * instrumented twice keeps two independent sets.
 *
 * A `Map`, not a `WeakMap`: the request's finalizer deletes its entry whatever ends the
 * request, so it holds only the requests in flight, and a weak map's ephemeron table cost
 * every request its rehashing and the garbage collector's ephemeron barriers (~1,000
 * instructions per request over sockets).
 */
export interface ServerHandler {
  readonly pending: Map<
    object,
    (response: HttpServerResponse.HttpServerResponse) => HttpServerResponse.HttpServerResponse
  >
  readonly handler: HttpApp.PreResponseHandler
}

/** The key a request is pending under: its `source`, when that is an object. */
const sourceKey = (request: HttpServerRequest.HttpServerRequest): object | undefined => {
  const source = request.source
  return typeof source === "object" && source !== null ? source : undefined
}

export const makeServerHandler = (): ServerHandler => {
  const pending: ServerHandler["pending"] = new Map()
  return {
    pending,
    handler: (request, response) =>
      Effect.sync(() => {
        const key = sourceKey(request)
        const observe = key !== undefined ? pending.get(key) : undefined
        return observe === undefined ? response : observe(response)
      })
  }
}

/**
 * The middleware. `platformDisabled`: the platform tracer's predicate it replaces, kept as an
 * exclusion. `serverHandler`: the one the server installed (see {@link ServerHandler}).
 */
export const makeMiddleware = (
  options: Options | undefined,
  address?: HttpServer.Address,
  platformDisabled?: Predicate.Predicate<HttpServerRequest.HttpServerRequest>,
  serverHandler?: ServerHandler
): HttpMiddleware.HttpMiddleware => {
  const config = resolve(options, address, platformDisabled, serverHandler)
  return HttpMiddleware.make((app) =>
    Effect.withFiberRuntime((fiber) => {
      const request = Context.unsafeGet(fiber.currentContext, HttpServerRequest.HttpServerRequest)
      const target = targetOf(request, config.address)
      if (config.excluded(request, target.path)) return app
      return instrumentRequest(app, fiber, request, target, config, fiber.getFiberRef(Headers.currentRedactedNames))
    })
  )
}

/**
 * The server with our middleware outermost and the platform's tracer off for what it serves.
 * `makeHandler`: one pre-response handler per `serve` (the tests read what it holds).
 */
export const instrument = (
  server: HttpServer.HttpServer,
  options: Options | undefined,
  makeHandler: () => ServerHandler = makeServerHandler
): HttpServer.HttpServer =>
  HttpServer.make({
    address: server.address,
    serve: (app, middleware) =>
      Effect.flatMap(FiberRef.get(HttpMiddleware.currentTracerDisabledWhen), (platformDisabled) => {
        const shared = makeHandler()
        const ours = makeMiddleware(options, server.address, platformDisabled, shared)
        const composed = middleware === undefined ? ours : (inner: any) => ours(middleware(inner))
        // The platform reads the predicate and the handlers in each request fiber, which
        // inherits them from here. Ours runs before any handler the app adds.
        return (server.serve as any)(app, composed).pipe(
          Effect.locally(HttpMiddleware.currentTracerDisabledWhen, constTrue),
          HttpApp.withPreResponseHandler(shared.handler)
        ) as Effect.Effect<void, never, never>
      }) as any
  })
