import { TestTelemetry } from "@effect-telemetry/testing"
import * as Effect from "effect/Effect"

/**
 * Waits until every ended span reached the in-memory exporter. The harness's exporter confirms
 * each export on a timer and the delivery accounting runs two exports at a time, so a span
 * ended by another fiber can still be queued when the test looks for it.
 */
export const flushed: Effect.Effect<void, never, TestTelemetry.TestTelemetry> = Effect.flatMap(
  TestTelemetry.TestTelemetry,
  (t) => Effect.promise(() => t.tracerProvider.provider.forceFlush())
)
