/**
 * @since 0.1.0
 */

/** Server spans, metrics and response trace context for `@effect/platform` HTTP servers. @since 0.1.0 */
export * as HttpServerTelemetry from "./HttpServerTelemetry.js"

/** Client spans, trace context injection and duration for `@effect/platform` HttpClient. @since 0.1.0 */
export * as HttpClientTelemetry from "./HttpClientTelemetry.js"
