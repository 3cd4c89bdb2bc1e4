/**
 * Every attribute, metric and span name the project emits, in one place.
 *
 * Surfaces import these constants instead of retyping strings, so a rename is one edit and
 * `docs/SIGNALS.md` can be checked against a single list. Names follow the OpenTelemetry
 * semantic conventions where they exist; the rest are ours and documented as such.
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
/** @since 0.1.0 @category attributes */
export const ATTR_SERVER_ADDRESS = "server.address"
/** @since 0.1.0 @category attributes */
export const ATTR_SERVER_PORT = "server.port"

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

// --- http (names used by @effect-telemetry/http) ---
// (end http)

// --- process (names used by @effect-telemetry/process) ---
// (end process)

// --- sql (names used by @effect-telemetry/sql) ---
// (end sql)

// --- kv (names used by @effect-telemetry/kv) ---
// (end kv)

// --- queue (names used by @effect-telemetry/queue) ---
// (end queue)

// --- cdc (names used by @effect-telemetry/cdc) ---
// (end cdc)

// --- workflow (names used by @effect-telemetry/workflow) ---
// (end workflow)

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

/**
 * Boundaries for payload sizes in bytes (0 B to 64 MiB by powers of four).
 *
 * @since 0.1.0
 * @category boundaries
 */
export const SIZE_BYTES_BOUNDARIES: ReadonlyArray<number> = [
  0,
  64,
  256,
  1024,
  4096,
  16384,
  65536,
  262144,
  1048576,
  4194304,
  16777216,
  67108864
]
