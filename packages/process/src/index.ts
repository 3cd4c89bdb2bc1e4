/**
 * @since 0.1.0
 */

/** OS child processes through `@effect/platform` `Command`: Client spans, trace context in `TRACEPARENT`. @since 0.1.0 */
export * as CommandTelemetry from "./CommandTelemetry.js"

/** Named supervised background work: one span over its life, one per scheduled run, `process.*` metrics. @since 0.1.0 */
export * as ProcessTelemetry from "./ProcessTelemetry.js"
