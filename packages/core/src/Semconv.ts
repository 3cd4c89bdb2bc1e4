/**
 * The names core itself emits and the ones every surface shares through the kit (`error.type`,
 * `effect.interrupted`, `result`, the advised duration buckets).
 *
 * Each surface owns its own names (`packages/<surface>/src/internal/semconv.ts`): stable
 * OpenTelemetry names imported from `@opentelemetry/semantic-conventions`, experimental ones
 * and ours defined there (docs/ADDING-A-SURFACE.md).
 *
 * @since 0.1.0
 */

// --- general -----------------------------------------------------------------------------

/** @since 0.1.0 @category attributes */
export const ATTR_ERROR_TYPE = "error.type"
/** Value of `error.type` when no better class name is known (semconv `_OTHER`). @since 0.1.0 */
export const ERROR_TYPE_OTHER = "_OTHER"
/** Attribute of the one overflow series a metric gets past its cardinality limit. @since 0.1.0 @category attributes */
export const ATTR_METRIC_OVERFLOW = "otel.metric.overflow"
/** Set on a span whose fiber was interrupted: cancellation, which leaves the status Unset. @since 0.1.0 @category attributes */
export const ATTR_EFFECT_INTERRUPTED = "effect.interrupted"
/** The value that replaces a redacted header, query parameter or argument. @since 0.1.0 @category values */
export const REDACTED = "REDACTED"

// --- function telemetry (ours) -----------------------------------------------------------

/** @since 0.1.0 @category attributes */
export const ATTR_FUNCTION_NAME = "function"
/** `ok` | `error` | `interrupted` @since 0.1.0 @category attributes */
export const ATTR_RESULT = "result"
/** @since 0.1.0 @category metrics */
export const METRIC_FUNCTION_CALLS = "function.calls"
/** @since 0.1.0 @category metrics */
export const METRIC_FUNCTION_DURATION = "function.duration"
/** @since 0.1.0 @category metrics */
export const METRIC_FUNCTION_ACTIVE = "function.active"

// --- SDK self-observability (semconv `otel.sdk.*`) ----------------------------------------

/** Spans that ended and were offered to the span processor; `error.type=queue_full` when dropped. @since 0.1.0 @category metrics */
export const METRIC_SDK_SPAN_PROCESSED = "otel.sdk.processor.span.processed"
/** Spans handed to the exporter; `error.type` set when the export failed. @since 0.1.0 @category metrics */
export const METRIC_SDK_SPAN_EXPORTED = "otel.sdk.exporter.span.exported"
/** `error.type` value for a span dropped because the processor queue was full. @since 0.1.0 */
export const ERROR_TYPE_QUEUE_FULL = "queue_full"

// --- histogram boundaries ----------------------------------------------------------------

/**
 * The OpenTelemetry advised boundaries for durations in seconds, used by every duration
 * histogram unless it declares its own.
 *
 * @since 0.1.0
 * @category boundaries
 */
export const DURATION_SECONDS_BOUNDARIES: ReadonlyArray<number> = [
  0.005,
  0.01,
  0.025,
  0.05,
  0.075,
  0.1,
  0.25,
  0.5,
  0.75,
  1,
  2.5,
  5,
  7.5,
  10
]
