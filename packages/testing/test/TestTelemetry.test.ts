/**
 * The harness's own promises: each build of the layer starts from nothing, and a missing span
 * or metric point fails with what is there instead.
 */
import { Instrument } from "@effect-telemetry/core"
import * as TestTelemetry from "@effect-telemetry/testing/TestTelemetry"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"

const jobs = Instrument.counter({ name: "harness.jobs", unit: "{job}", description: "Jobs run by the harness test." })

/** One "test": a span and a counter increment under a fresh layer; what it then sees. */
const oneTest = Effect.gen(function*() {
  yield* jobs.add(1, { queue: "q" }).pipe(Effect.withSpan("job"))
  return {
    spans: (yield* TestTelemetry.spans).map((s) => s.name),
    otlp: yield* TestTelemetry.metricValue("harness.jobs", { queue: "q" }),
    prometheus: yield* TestTelemetry.prometheusValue("harness_jobs_total", { queue: "q" })
  }
}).pipe(Effect.provide(TestTelemetry.layer()))

// A plain Effect metric, declared once per module as applications do.
const plainEffectCounter = Metric.counter("harness_plain_effect_total")

const plainEffectValue = Effect.gen(function*() {
  yield* Metric.increment(plainEffectCounter)
  return yield* TestTelemetry.prometheusValue("harness_plain_effect_total")
}).pipe(Effect.provide(TestTelemetry.layer()))

describe("TestTelemetry", () => {
  it.effect("a plain Effect metric stays visible in every build (its storage is kept, so its values accumulate)", () =>
    Effect.gen(function*() {
      const first = yield* plainEffectValue
      const second = yield* plainEffectValue
      expect(second).toBe(first + 1)
    }))

  it.effect("each build of the layer sees only its own spans and metric values", () =>
    Effect.gen(function*() {
      expect(yield* oneTest).toEqual({ spans: ["job"], otlp: 1, prometheus: 1 })
      expect(yield* oneTest).toEqual({ spans: ["job"], otlp: 1, prometheus: 1 })
    }))

  it.effect("spanNamed fails listing the names present; metricPoint lists the attribute sets present", () =>
    Effect.gen(function*() {
      yield* Effect.void.pipe(Effect.withSpan("a"), Effect.withSpan("b"))
      yield* jobs.add(1, { queue: "q" })
      const span = yield* Effect.flip(TestTelemetry.spanNamed("c"))
      expect(span.message).toBe(`no span named "c"; spans present: ["a", "b"]`)
      const point = yield* Effect.flip(TestTelemetry.metricPoint("harness.jobs", { queue: "other" }))
      expect(point.message).toContain(`present: {"queue":"q"}`)
      const a = yield* TestTelemetry.spanNamed("a")
      const b = yield* TestTelemetry.spanNamed("b")
      expect(TestTelemetry.parentSpanId(a)).toBe(b.spanContext().spanId)
      expect((yield* TestTelemetry.childrenOf(b)).map((s) => s.name)).toEqual(["a"])
    }).pipe(Effect.provide(TestTelemetry.layer())))
})

const requests = Instrument.counter({
  name: "harness.requests",
  unit: "{request}",
  description: "Requests seen by the harness test."
})
const latency = Instrument.histogram({
  name: "harness.latency",
  unit: "s",
  description: "Latency seen by the harness test."
})

describe("TestTelemetry assertions for shared layers", () => {
  it.effect("metricTotal matches a subset of the attributes and sums the series it covers", () =>
    Effect.gen(function*() {
      yield* requests.add(1, { route: "/a", status: 200 })
      yield* requests.add(2, { route: "/b", status: 200 })
      yield* requests.add(5, { route: "/b", status: 500 })
      expect(yield* TestTelemetry.metricTotal("harness.requests", { status: 200 })).toBe(3)
      expect(yield* TestTelemetry.metricTotal("harness.requests", { route: "/b" })).toBe(7)
      expect(yield* TestTelemetry.metricTotal("harness.requests")).toBe(8)
      expect(yield* TestTelemetry.metricTotal("harness.requests", { route: "/c" })).toBe(0)
      expect(
        (yield* TestTelemetry.metricPoints("harness.requests", { route: "/b" })).map((p) => p.attributes.status).sort()
      )
        .toEqual([200, 500])
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("either name of an instrument works: OTel's dotted one or the one Prometheus exposes", () =>
    Effect.gen(function*() {
      yield* requests.add(4, { route: "/a" })
      yield* latency.record(0.25, { route: "/a" })
      yield* latency.record(0.5, { route: "/a" })
      expect(TestTelemetry.otelNameOf("harness_requests_total")).toBe("harness.requests")
      expect(TestTelemetry.otelNameOf("harness_latency_seconds")).toBe("harness.latency")
      expect(yield* TestTelemetry.metricTotal("harness_requests_total", { route: "/a" })).toBe(4)
      expect(yield* TestTelemetry.prometheusValue("harness_requests_total", { route: "/a" })).toBe(4)
      // A histogram's total is its count of recordings.
      expect(yield* TestTelemetry.metricTotal("harness_latency_seconds")).toBe(2)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("metricChange reads the change one effect made, whatever earlier work left in a shared layer", () =>
    Effect.gen(function*() {
      yield* requests.add(10, { route: "/a" })
      const [result, change] = yield* TestTelemetry.metricChange(
        "harness_requests_total",
        { route: "/a" },
        Effect.as(requests.add(3, { route: "/a", status: 201 }), "done")
      )
      expect(result).toBe("done")
      expect(change).toBe(3)
      expect(yield* TestTelemetry.metricTotal("harness.requests", { route: "/a" })).toBe(13)
    }).pipe(Effect.provide(TestTelemetry.layer())))
})

describe("TestTelemetry logs", () => {
  it.effect("logsMatching finds a record by severity, span and annotations; log.records counts it once", () =>
    Effect.gen(function*() {
      yield* Effect.logWarning("payment slow").pipe(
        Effect.annotateLogs({ "order.id": "o-1", attempt: 2 }),
        Effect.withSpan("checkout")
      )
      yield* Effect.logInfo("outside any span")
      const span = yield* TestTelemetry.spanNamed("checkout")
      const [warning, ...others] = yield* TestTelemetry.logsMatching({
        severity: "WARN",
        span,
        attributes: { "order.id": "o-1" }
      })
      expect(others).toEqual([])
      expect(TestTelemetry.bodyText(warning!)).toBe("payment slow")
      expect(warning!.severityNumber).toBe(13)
      expect(warning!.attributes).toMatchObject({ "order.id": "o-1", attempt: 2 })
      expect(warning!.spanContext?.traceId).toBe(span.spanContext().traceId)
      const outside = yield* TestTelemetry.logMatching({ body: /outside/ })
      expect(outside.spanContext).toBeUndefined()
      expect(outside.resource.attributes["service.name"]).toBe("test-service")
      expect(yield* TestTelemetry.metricValue("log.records", { "log.severity": "WARN" })).toBe(1)
      expect(yield* TestTelemetry.metricValue("log.records", { "log.severity": "INFO" })).toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("logMatching fails listing the records present; resetLogs forgets them", () =>
    Effect.gen(function*() {
      yield* Effect.logError("disk full")
      const missing = yield* Effect.flip(TestTelemetry.logMatching({ severity: "FATAL" }))
      expect(missing.message).toContain(`ERROR "disk full"`)
      yield* TestTelemetry.resetLogs
      expect(yield* TestTelemetry.logs).toEqual([])
    }).pipe(Effect.provide(TestTelemetry.layer())))
})
