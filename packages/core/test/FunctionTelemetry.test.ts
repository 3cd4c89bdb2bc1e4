import {
  FunctionTelemetry,
  Instrument,
  PrometheusMetrics,
  Telemetry,
  TelemetryOptionsError
} from "@effect-telemetry/core"
import { OtlpReceiver, TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"

class OutOfStock extends Data.TaggedError("OutOfStock")<{ readonly sku: string }> {}

const placeOrder = Telemetry.fn("orders.place")(function*(sku: string) {
  yield* Effect.sleep("1 millis")
  if (sku === "none") return yield* new OutOfStock({ sku })
  return `order-${sku}`
})

const control = Instrument.counter({
  name: "test.function.env.control",
  unit: "{call}",
  description: "Updated beside the traced function, so its absence from an export means something."
})

/**
 * Calls a traced function `name` once under `Telemetry.layer`, configured by `env` alone (no
 * override in code), exporting spans and metrics to a real OTLP receiver; what arrived once
 * the layer closed, and the Prometheus scrape taken just before.
 */
const callUnderEnvironment = (name: string, env: Record<string, string>) =>
  Effect.scoped(Effect.gen(function*() {
    const receiver = yield* OtlpReceiver.make()
    const checkout = Telemetry.fn(name)(function*(sku: string) {
      yield* control.add(1)
      return `checked-out-${sku}`
    })
    const [result, scrape] = yield* Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(Telemetry.layer())
      const result = yield* checkout("c3").pipe(Effect.withSpan("request"), Effect.provide(context))
      const scrape = yield* Context.get(context, PrometheusMetrics.PrometheusMetrics).scrape()
      return [result, scrape.body] as const
    })).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(
      new Map(Object.entries({
        OTEL_SERVICE_NAME: "function-env",
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_METRICS_EXPORTER: "otlp",
        // Far longer than the test: the collection at shutdown delivers the points.
        OTEL_METRIC_EXPORT_INTERVAL: "600000",
        ...env
      }))
    )))
    return { result, scrape, spans: receiver.spans(), points: receiver.dataPoints() }
  }))

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
      const missing = yield* Effect.flip(
        TestTelemetry.metricValue("function.calls", { function: "orders.place", result: "ok" })
      )
      expect(missing.message).toMatch(/no metric named "function.calls"/)
    }).pipe(Effect.provide(TestTelemetry.layer({ functionTelemetry: false }))))

  it.live("EFFECT_TELEMETRY_FUNCTIONS=false in the environment alone: Telemetry.layer records no span and no function.* metric", () =>
    Effect.gen(function*() {
      const off = yield* callUnderEnvironment("env.off.checkout", { EFFECT_TELEMETRY_FUNCTIONS: "false" })
      expect(off.result).toBe("checked-out-c3")
      // The caller's span and the control counter arrived: the pipeline ran, only functions are off.
      expect(off.spans.map((s) => s.name)).toEqual(["request"])
      expect(off.points.filter((p) => p.name === "test.function.env.control").map((p) => p.value)).toEqual([1])
      expect(off.points.filter((p) => p.name.startsWith("function."))).toEqual([])
      expect(off.scrape).toMatch(/^test_function_env_control_total\b.* 1$/m)
      expect(off.scrape).not.toContain("env.off.checkout")
    }))

  it.live("with EFFECT_TELEMETRY_FUNCTIONS unset, the same call under Telemetry.layer records its span and metrics", () =>
    Effect.gen(function*() {
      const on = yield* callUnderEnvironment("env.on.checkout", {})
      expect(on.result).toBe("checked-out-c3")
      const span = on.spans.find((s) => s.name === "env.on.checkout")
      const parent = on.spans.find((s) => s.name === "request")
      expect(span?.kind).toBe("internal")
      expect(span?.parentSpanId).toBe(parent?.spanId)
      const own = on.points.filter((p) => p.attributes["function"] === "env.on.checkout")
      expect(own.map((p) => p.name).sort()).toEqual(["function.active", "function.calls", "function.duration"])
      expect(own.find((p) => p.name === "function.calls")).toMatchObject({ value: 1, attributes: { result: "ok" } })
      expect(on.scrape).toMatch(/^function_calls_total\{[^}]*function="env\.on\.checkout"[^}]*\} 1$/m)
    }))
})

describe("FunctionTelemetry names", () => {
  it("a blank name throws the TelemetryOptionsError naming it where the function is declared", () => {
    const message = `FunctionTelemetry: option name must be a non-empty string, got " "`
    expect(() => FunctionTelemetry.fn(" ")).toThrow(message)
    expect(() => FunctionTelemetry.fnEffect(" ")).toThrow(message)
    expect(() => FunctionTelemetry.traced(" ")).toThrow(message)
    expect(() => FunctionTelemetry.traced(Effect.void, "")).toThrow(TelemetryOptionsError.TelemetryOptionsError)
  })
})
