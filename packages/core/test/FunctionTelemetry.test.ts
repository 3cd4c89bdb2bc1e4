import { FunctionTelemetry, Telemetry } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"

class OutOfStock extends Data.TaggedError("OutOfStock")<{ readonly sku: string }> {}

const placeOrder = Telemetry.fn("orders.place")(function*(sku: string) {
  yield* Effect.sleep("1 millis")
  if (sku === "none") return yield* new OutOfStock({ sku })
  return `order-${sku}`
})

describe("FunctionTelemetry", () => {
  it.live("a traced function is an Internal child of the caller's span and counts an ok call", () =>
    Effect.gen(function*() {
      const result = yield* placeOrder("a1").pipe(Effect.withSpan("request", { kind: "server" }))
      expect(result).toBe("order-a1")
      const span = yield* TestTelemetry.spanNamed("orders.place")
      const parent = yield* TestTelemetry.spanNamed("request")
      expect(TestTelemetry.kindOf(span)).toBe("internal")
      expect(TestTelemetry.parentSpanId(span)).toBe(parent.spanContext().spanId)
      expect(TestTelemetry.traceId(span)).toBe(TestTelemetry.traceId(parent))
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      expect(span.attributes["function"]).toBe("orders.place")
      expect(yield* TestTelemetry.metricValue("function.calls", { function: "orders.place", result: "ok" })).toBe(1)
      expect(yield* TestTelemetry.metricValue("function.active", { function: "orders.place" })).toBe(0)
      const duration = yield* TestTelemetry.metricPoint("function.duration", { function: "orders.place" })
      expect(duration.value).toMatchObject({ count: 1 })
      expect((duration.value as any).sum).toBeGreaterThan(0)
      expect(yield* TestTelemetry.prometheusValue("function_calls_total", { function: "orders.place", result: "ok" }))
        .toBe(1)
      expect(yield* TestTelemetry.prometheusValue("function_duration_seconds_count", { function: "orders.place" }))
        .toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.live("a failure marks the span Error with error.type and counts result=error", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(placeOrder("none"))
      expect(exit._tag).toBe("Failure")
      const span = yield* TestTelemetry.spanNamed("orders.place")
      expect(TestTelemetry.statusOf(span)).toBe("error")
      expect(span.attributes["error.type"]).toBe("OutOfStock")
      expect(span.events.some((e) => e.name === "exception")).toBe(true)
      expect(TestTelemetry.parentSpanId(span)).toBeUndefined()
      expect(yield* TestTelemetry.metricValue("function.calls", { function: "orders.place", result: "error" })).toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.live("an interrupted call counts result=interrupted, leaves status Unset and gives back function.active", () =>
    Effect.gen(function*() {
      const slow = FunctionTelemetry.fnEffect("jobs.slow")(() => Effect.never)
      const fiber = yield* Effect.fork(slow())
      yield* Effect.sleep("5 millis")
      expect(yield* TestTelemetry.metricValue("function.active", { function: "jobs.slow" })).toBe(1)
      yield* Fiber.interrupt(fiber)
      const span = yield* TestTelemetry.spanNamed("jobs.slow")
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      expect(span.attributes["effect.interrupted"]).toBe(true)
      expect(yield* TestTelemetry.metricValue("function.calls", { function: "jobs.slow", result: "interrupted" }))
        .toBe(1)
      expect(yield* TestTelemetry.metricValue("function.active", { function: "jobs.slow" })).toBe(0)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.live("switched off by configuration, the function runs bare: no span, no metric", () =>
    Effect.gen(function*() {
      expect(yield* placeOrder("b2")).toBe("order-b2")
      expect((yield* TestTelemetry.spans).length).toBe(0)
      const missing = yield* Effect.flip(TestTelemetry.metricValue("function.calls", { function: "orders.place", result: "ok" }))
      expect(missing.message).toMatch(/no metric named "function.calls"/)
    }).pipe(Effect.provide(TestTelemetry.layer({ functionTelemetry: false }))))
})
