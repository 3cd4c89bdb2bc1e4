/**
 * @since 0.1.0
 */

/** Server spans, metrics and response trace context for `@effect/platform` HTTP servers. @since 0.1.0 */
export * as HttpServerTelemetry from "./HttpServerTelemetry.js"
