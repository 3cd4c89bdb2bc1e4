/**
 * @since 0.1.0
 */

/** Building per-operation attribute sets from a shared base. @since 0.1.0 */
export * as Attributes from "./Attributes.js"

/** Traced functions: an Internal span and the `function.*` metrics. @since 0.1.0 */
export * as FunctionTelemetry from "./FunctionTelemetry.js"

/** The kit surfaces are built from: error.type of a cause, timed operations, decorating layers. @since 0.1.0 */
export * as Instrumentation from "./Instrumentation.js"

/** Declaring metrics: counters, up-down counters, gauges and histograms. @since 0.1.0 */
export * as Instrument from "./Instrument.js"

/** The logs signal: Effect's log output as OTLP log records. @since 0.1.0 */
export * as Logging from "./Logging.js"

/** OTLP and console metric export through the SDK's MeterProvider. @since 0.1.0 */
export * as OtlpMetrics from "./OtlpMetrics.js"

/** Prometheus exposition through prom-client. @since 0.1.0 */
export * as PrometheusMetrics from "./PrometheusMetrics.js"

/** Trace context propagation with the configured global propagator. @since 0.1.0 */
export * as Propagation from "./Propagation.js"

/** Keeping credentials out of recorded URLs, command lines and messages. @since 0.1.0 */
export * as Redaction from "./Redaction.js"

/** Shared semantic names. @since 0.1.0 */
export * as Semconv from "./Semconv.js"

/** A surface's signal declaration and the docs/SIGNALS.md tables generated from it. @since 0.1.0 */
export * as Signals from "./Signals.js"

/** Everything as one Layer. @since 0.1.0 */
export * as Telemetry from "./Telemetry.js"

/** The `OTEL_*` configuration. @since 0.1.0 */
export * as TelemetryConfig from "./TelemetryConfig.js"

/** The one error a bad option is rejected with, and the checks that raise it. @since 0.1.0 */
export * as TelemetryOptionsError from "./TelemetryOptionsError.js"

/** The OpenTelemetry resource shared by every signal. @since 0.1.0 */
export * as TelemetryResource from "./TelemetryResource.js"

/** The Tracer layer with its shutdown guarantee. @since 0.1.0 */
export * as Tracing from "./Tracing.js"
