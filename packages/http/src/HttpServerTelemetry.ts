/**
 * HTTP server telemetry for `@effect/platform` servers (HttpRouter, HttpLayerRouter and
 * HttpApi apps alike): one Server span per request named after the matched route template,
 * the semconv HTTP server metrics, and the trace context in the response.
 *
 * The layer decorates the `HttpServer` service, so every app it serves is instrumented with no
 * per-route code, websocket upgrades included, and the platform's own tracer is turned off
 * for those apps: there is exactly one server span per request.
 *
 * @example
 * ```ts
 * import { HttpServerTelemetry } from "@effect-telemetry/http"
 *
 * const ServerLive = HttpRouter.Default.serve().pipe(
 *   Layer.provide(HttpServerTelemetry.layer({ excludePaths: ["/health", "/metrics"] })),
 *   Layer.provide(NodeHttpServer.layer(createServer, { port: 3000 }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Instrumentation, TelemetryOptionsError } from "@effect-telemetry/core"
import type { Signals } from "@effect-telemetry/core"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpServer from "@effect/platform/HttpServer"
import { constTrue } from "effect/Function"
import * as Layer from "effect/Layer"
import * as metrics from "./internal/metrics.js"
import * as internal from "./internal/server.js"
import * as internalSignals from "./internal/signals.js"

/**
 * What the server telemetry records and skips, every field optional:
 * - `captureRequestHeaders`: request headers recorded as `http.request.header.<name>`
 *   (default none); credentials are recorded as `REDACTED`.
 * - `captureResponseHeaders`: response headers recorded as `http.response.header.<name>`
 *   (default none); `set-cookie` is recorded as `REDACTED`.
 * - `excludePaths`: paths served without any telemetry, exact strings or patterns (default
 *   none), e.g. `["/health", "/metrics"]`.
 * - `exclude`: requests served without any telemetry (default none).
 * - `responseTraceContext`: write the trace context (`traceparent`, per `OTEL_PROPAGATORS`)
 *   into responses (default true).
 * - `sensitiveQueryParams`: query parameters whose values `url.query` records as `REDACTED`
 *   (default: semconv's list plus token, password, api_key, secret...).
 * - `unmatchedRoute`: `http.route` of a request no route matched (default `_unmatched`).
 *
 * @since 0.1.0
 * @category models
 */
export type Options = internal.Options

/** The configurable part of {@link Options} (everything but the `exclude` predicate; paths are exact). @since 0.1.0 @category models */
export interface ConfigOptions extends Omit<Options, "exclude" | "excludePaths"> {
  readonly excludePaths?: ReadonlyArray<string> | undefined
}

/** `http.server.request.duration`: seconds, until the response (or its stream) ended. @since 0.1.0 @category metrics */
export const requestDuration = metrics.serverRequestDuration

/** `http.server.active_requests`: requests in progress, by method and scheme. @since 0.1.0 @category metrics */
export const activeRequests = metrics.serverActiveRequests

/** `http.server.request.body.size`: bytes, when the request declares its length. @since 0.1.0 @category metrics */
export const requestBodySize = metrics.serverRequestBodySize

/** `http.server.response.body.size`: bytes, when the size is known before sending. @since 0.1.0 @category metrics */
export const responseBodySize = metrics.serverResponseBodySize

const SURFACE = "HttpServerTelemetry"

const check = (options: Options | undefined): Options | undefined => {
  if (options === undefined) return undefined
  TelemetryOptionsError.stringArray(SURFACE, "captureRequestHeaders", options.captureRequestHeaders)
  TelemetryOptionsError.stringArray(SURFACE, "captureResponseHeaders", options.captureResponseHeaders)
  TelemetryOptionsError.stringArray(SURFACE, "sensitiveQueryParams", options.sensitiveQueryParams)
  const paths: unknown = options.excludePaths
  if (
    paths !== undefined &&
    !(Array.isArray(paths) && paths.every((path) => typeof path === "string" || path instanceof RegExp))
  ) {
    throw new TelemetryOptionsError.TelemetryOptionsError({
      surface: SURFACE,
      option: "excludePaths",
      expected: "an array of strings and regular expressions",
      value: paths
    })
  }
  TelemetryOptionsError.func(SURFACE, "exclude", options.exclude)
  TelemetryOptionsError.boolean(SURFACE, "responseTraceContext", options.responseTraceContext, true)
  TelemetryOptionsError.nonEmptyString(SURFACE, "unmatchedRoute", options.unmatchedRoute, "_unmatched")
  return options
}

/**
 * The instrumenting middleware alone, for hosts without an `HttpServer` service
 * (`HttpApp.toWebHandler`). Pass it as the handler's `middleware` (wrapped around the app
 * it would miss the final response and its trace context), and provide
 * {@link platformTracerOff} in the handler's layer, or requests get two server spans. Throws a
 * `TelemetryOptionsError` on an option of the wrong type.
 *
 * @example
 * ```ts
 * const { handler } = HttpApp.toWebHandlerLayer(
 *   router,
 *   Layer.mergeAll(Telemetry.layer(), HttpServerTelemetry.platformTracerOff),
 *   { middleware: HttpServerTelemetry.middleware() }
 * )
 * ```
 *
 * @since 0.1.0
 * @category middleware
 */
export const middleware = (options?: Options): HttpMiddleware.HttpMiddleware => internal.makeMiddleware(check(options))

/**
 * Turns the platform's own server span off for the runtime a layer builds (a web handler's).
 * `HttpMiddleware.withTracerDisabledWhen(layer, ...)` does not do that: it holds only while
 * its layer is built, so the handler's requests would still get the platform's span.
 *
 * @since 0.1.0
 * @category layers
 */
export const platformTracerOff: Layer.Layer<never> = Layer.locallyScoped(
  HttpMiddleware.currentTracerDisabledWhen,
  constTrue
)

/**
 * Wraps a server: everything it serves is instrumented and the platform tracer is off for it.
 * Throws a `TelemetryOptionsError` on an option of the wrong type.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (server: HttpServer.HttpServer, options?: Options): HttpServer.HttpServer =>
  internal.instrument(server, check(options))

/**
 * Decorates the `HttpServer` service provided below it. Provide it between your `serve` layer
 * and the platform server layer. Fails with a `TelemetryOptionsError` on an option of the
 * wrong type.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = Instrumentation.decorate(HttpServer.HttpServer, make)

/**
 * {@link layer} with options read from `Config` (e.g. `Config.array(Config.string(), "HTTP_EXCLUDE_PATHS")`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = Instrumentation.decorateConfig<HttpServer.HttpServer, HttpServer.HttpServer, ConfigOptions>(
  HttpServer.HttpServer,
  make
)

/**
 * Every span and metric the HTTP server instrumentation emits, with its attributes and meaning: the declaration
 * docs/SIGNALS.md is generated from.
 *
 * @since 0.1.0
 * @category signals
 */
export const signals: Signals.Catalogue = internalSignals.serverSignals
