/**
 * FunctionTelemetry.layerFromSpans: code written with Effect's own `Effect.fn`/`withSpan` gets
 * the function metrics without changing a call site, through the real tracer and the real
 * OTel metric reader and Prometheus scrape of the test layer.
 */
import { FunctionTelemetry, Telemetry, TelemetryOptionsError } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"

const placeOrder = Effect.fn("orders.place")(function*(sku: string) {
  if (sku === "bad") return yield* Effect.fail("out of stock")
  return `order-${sku}`
})

const fromSpans = FunctionTelemetry.layerFromSpans({ include: ["orders.*", /^billing\.(charge|refund)$/] })

const calls = (fn: string, result: string) =>
  Effect.orElseSucceed(TestTelemetry.metricValue("function.calls", { function: fn, result }), () => 0)

describe("FunctionTelemetry.layerFromSpans", () => {
  it.effect("Effect.fn calls whose span name is included count as function calls, by result, with durations", () =>
    Effect.gen(function*() {
      yield* placeOrder("a1")
      yield* placeOrder("a2")
      yield* Effect.exit(placeOrder("bad"))
      expect(yield* calls("orders.place", "ok")).toBe(2)
      expect(yield* calls("orders.place", "error")).toBe(1)
      const duration = yield* TestTelemetry.metricPoint("function.duration", { function: "orders.place" })
      expect(duration.type).toBe("histogram")
      expect(typeof duration.value === "number" ? -1 : duration.value.count).toBe(3)
      expect(yield* TestTelemetry.metricValue("function.active", { function: "orders.place" })).toBe(0)
      expect(yield* TestTelemetry.prometheusValue("function_calls_total", { function: "orders.place", result: "ok" }))
        .toBe(2)
      // The spans themselves are unchanged.
      expect((yield* TestTelemetry.spansNamed("orders.place")).length).toBe(3)
    }).pipe(Effect.provide(fromSpans), Effect.provide(TestTelemetry.layer())))

  it.effect("names the filter does not admit, and spans that are not Internal, make no series", () =>
    Effect.gen(function*() {
      yield* Effect.void.pipe(Effect.withSpan("inventory.check"))
      yield* Effect.void.pipe(Effect.withSpan("orders.fetch", { kind: "client" }))
      yield* Effect.void.pipe(Effect.withSpan("billing.charge"))
      yield* Effect.void.pipe(Effect.withSpan("billing.chargeback"))
      expect(yield* TestTelemetry.metricPoints("function.calls", { function: "inventory.check" })).toEqual([])
      expect(yield* TestTelemetry.metricPoints("function.calls", { function: "orders.fetch" })).toEqual([])
      expect(yield* TestTelemetry.metricPoints("function.calls", { function: "billing.chargeback" })).toEqual([])
      expect(yield* calls("billing.charge", "ok")).toBe(1)
    }).pipe(Effect.provide(fromSpans), Effect.provide(TestTelemetry.layer())))

  it.effect("a Telemetry.fn span is counted once, by Telemetry.fn, not again from its span", () =>
    Effect.gen(function*() {
      const pay = Telemetry.fn("orders.pay")(function*() {
        return yield* placeOrder("inner")
      })
      yield* pay()
      expect(yield* calls("orders.pay", "ok")).toBe(1)
      expect(yield* calls("orders.place", "ok")).toBe(1)
    }).pipe(Effect.provide(fromSpans), Effect.provide(TestTelemetry.layer())))

  it.effect("sampled-out spans are counted too: metrics do not depend on sampling", () =>
    Effect.gen(function*() {
      yield* placeOrder("a1")
      expect(yield* TestTelemetry.spans).toEqual([])
      expect(yield* calls("orders.place", "ok")).toBe(1)
    }).pipe(Effect.provide(fromSpans), Effect.provide(TestTelemetry.layer({ sampler: "always_off" }))))

  it.live("an interrupted call counts as interrupted, and function.active covers the call while it runs", () =>
    Effect.gen(function*() {
      const slow = Effect.never.pipe(Effect.withSpan("orders.wait"))
      const fiber = yield* Effect.fork(slow)
      yield* Effect.yieldNow()
      yield* Effect.sleep("10 millis")
      expect(yield* TestTelemetry.metricValue("function.active", { function: "orders.wait" })).toBe(1)
      yield* Fiber.interrupt(fiber)
      expect(yield* TestTelemetry.metricValue("function.active", { function: "orders.wait" })).toBe(0)
      expect(yield* calls("orders.wait", "interrupted")).toBe(1)
    }).pipe(Effect.provide(fromSpans), Effect.provide(TestTelemetry.layer())))

  it.effect("an include that is not names, globs, patterns or a predicate fails the layer with TelemetryOptionsError", () =>
    Effect.gen(function*() {
      for (const include of [undefined, "orders.*", [""], [42]]) {
        const error = yield* Effect.flip(
          Layer.build(FunctionTelemetry.layerFromSpans({ include } as unknown as FunctionTelemetry.FromSpansOptions))
            .pipe(Effect.scoped)
        )
        expect(error).toBeInstanceOf(TelemetryOptionsError.TelemetryOptionsError)
        expect(error.message).toContain("FunctionTelemetry: option include must be")
      }
    }))
})
