import { Instrument, Semconv, Telemetry, TelemetryOptionsError } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"

const requests = Instrument.counter({ name: "test.requests", unit: "{request}", description: "Requests seen." })
const inFlight = Instrument.upDownCounter({
  name: "test.in_flight",
  unit: "{request}",
  description: "Requests in flight."
})
const temperature = Instrument.gauge({ name: "test.temperature", unit: "Cel", description: "Last temperature read." })
const latency = Instrument.histogram({
  name: "test.latency",
  unit: "s",
  description: "Latency.",
  boundaries: [0.1, 0.5, 2]
})
const payload = Instrument.histogram({ name: "test.payload.size", unit: "By", description: "Payload size." })

describe("Instrument", () => {
  it.effect("one counter increment reads 1 in the Prometheus scrape and 1 in the OTLP reader", () =>
    Effect.gen(function*() {
      yield* requests.add(1, { route: "/a" })
      expect(yield* TestTelemetry.metricValue("test.requests", { route: "/a" })).toBe(1)
      expect(yield* TestTelemetry.prometheusValue("test_requests_total", { route: "/a" })).toBe(1)
      const point = yield* TestTelemetry.metricPoint("test.requests", { route: "/a" })
      expect(point.type).toBe("sum")
      expect(point.monotonic).toBe(true)
      // Reading twice must not count twice: collection is a read, never an update.
      expect(yield* TestTelemetry.metricValue("test.requests", { route: "/a" })).toBe(1)
      expect(yield* TestTelemetry.prometheusValue("test_requests_total", { route: "/a" })).toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.live("a balanced increment and decrement of an up-down counter reads 0 in both sinks", () =>
    Effect.gen(function*() {
      const attributes = { method: "GET" }
      const fibers = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => Effect.sleep(`${i % 5} millis`).pipe(inFlight.track(attributes), Effect.fork)
      )
      yield* Fiber.joinAll(fibers)
      // an interrupted tracked effect gives its unit back too
      const hung = yield* Effect.fork(Effect.never.pipe(inFlight.track(attributes)))
      yield* Effect.yieldNow()
      expect(yield* TestTelemetry.metricValue("test.in_flight", attributes)).toBe(1)
      yield* Fiber.interrupt(hung)
      const point = yield* TestTelemetry.metricPoint("test.in_flight", attributes)
      expect(point).toMatchObject({ type: "sum", monotonic: false, value: 0 })
      expect(yield* TestTelemetry.prometheusValue("test_in_flight", attributes)).toBe(0)
      expect(yield* TestTelemetry.scrape()).toContain("# TYPE test_in_flight gauge")
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("a gauge set stays an absolute value", () =>
    Effect.gen(function*() {
      yield* temperature.set(21.5, { room: "a" })
      yield* temperature.set(19, { room: "a" })
      expect(yield* TestTelemetry.metricPoint("test.temperature", { room: "a" })).toMatchObject({
        type: "gauge",
        value: 19
      })
      expect(yield* TestTelemetry.prometheusValue("test_temperature_celsius", { room: "a" })).toBe(19)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("declared histogram boundaries appear unchanged in both sinks", () =>
    Effect.gen(function*() {
      for (const v of [0.05, 0.1, 0.3, 1, 5]) yield* latency.record(v)
      const point = yield* TestTelemetry.metricPoint("test.latency")
      const histogram = point.value as { buckets: { boundaries: Array<number>; counts: Array<number> } } & {
        count: number
        sum: number
        min?: number
        max?: number
      }
      expect(histogram.buckets.boundaries).toEqual([0.1, 0.5, 2])
      // (-inf, 0.1] has 0.05 and 0.1; (0.1, 0.5] has 0.3; (0.5, 2] has 1; (2, +inf) has 5
      expect(histogram.buckets.counts).toEqual([2, 1, 1, 1])
      expect(histogram).toMatchObject({ count: 5, min: 0.05, max: 5 })
      expect(histogram.sum).toBeCloseTo(6.45)
      const text = yield* TestTelemetry.scrape()
      const les = TestTelemetry.parseExposition(text)
        .filter((s) => s.name === "test_latency_seconds_bucket")
        .map((s) => [s.labels.le, s.value])
      expect(les).toEqual([["0.1", 2], ["0.5", 3], ["2", 4], ["+Inf", 5]])
      expect(yield* TestTelemetry.prometheusValue("test_latency_seconds_count")).toBe(5)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("the default duration boundaries are the OTel advised ones", () =>
    Effect.gen(function*() {
      const h = Instrument.histogram({ name: "test.default.duration", unit: "s" })
      expect(h.boundaries).toEqual([0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10])
      yield* h.record(0.2)
      const point = yield* TestTelemetry.metricPoint("test.default.duration")
      expect((point.value as any).buckets.boundaries).toEqual(Semconv.DURATION_SECONDS_BOUNDARIES)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.live("an empty histogram series carries no min or max, and start time is the first update", () =>
    Effect.gen(function*() {
      const before = Date.now()
      yield* Effect.sleep("20 millis")
      yield* payload.record(512, { kind: "json" })
      const point = yield* TestTelemetry.metricPoint("test.payload.size", { kind: "json" })
      const startMillis = point.startTime[0] * 1000 + point.startTime[1] / 1e6
      expect(startMillis).toBeGreaterThanOrEqual(before + 15)
      expect(point.value).toMatchObject({ min: 512, max: 512, count: 1 })
      const endMillis = point.endTime[0] * 1000 + point.endTime[1] / 1e6
      expect(endMillis).toBeGreaterThanOrEqual(startMillis)
      // A histogram declared through Effect's own API that was never recorded: its state holds
      // ±Number.MAX_VALUE, which must not reach the OTLP point.
      const untouched = Metric.histogram("test.untouched", MetricBoundaries.fromIterable([1, 2]))
      yield* Metric.value(untouched)
      const empty = yield* TestTelemetry.metricPoint("test.untouched")
      expect(empty.value).toMatchObject({ count: 0, sum: 0 })
      expect(empty.value).not.toHaveProperty("min")
      expect(empty.value).not.toHaveProperty("max")
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("delta temporality reports counters and histograms per interval, up-down counters cumulatively", () =>
    Effect.gen(function*() {
      yield* requests.add(3)
      yield* inFlight.add(2)
      yield* latency.record(1)
      expect(yield* TestTelemetry.metricPoint("test.requests")).toMatchObject({ temporality: "delta", value: 3 })
      yield* requests.add(2)
      yield* inFlight.add(-1)
      yield* latency.record(1)
      // One collection for all three: each collection closes an interval.
      const metrics = (yield* TestTelemetry.collect).scopeMetrics.flatMap((s) => s.metrics)
      const byName = (name: string) => metrics.find((m) => m.descriptor.name === name)!
      expect(byName("test.requests").dataPoints[0]!.value).toBe(2)
      expect(byName("test.requests").aggregationTemporality).toBe(0) // DELTA
      expect(byName("test.in_flight").dataPoints[0]!.value).toBe(1)
      expect(byName("test.in_flight").aggregationTemporality).toBe(1) // CUMULATIVE
      expect(byName("test.latency").dataPoints[0]!.value).toMatchObject({ count: 1, sum: 1 })
      // Prometheus is always cumulative.
      expect(yield* TestTelemetry.prometheusValue("test_requests_total")).toBe(5)
    }).pipe(Effect.provide(TestTelemetry.layer({ temporalityPreference: "delta" }))))

  it.effect("past the cardinality limit new attribute sets go to one overflow series", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 8; i++) requests.unsafeAdd(1, { user: `u${i}` })
      expect(yield* TestTelemetry.metricValue("test.requests", { user: "u0" })).toBe(1)
      expect(yield* TestTelemetry.metricValue("test.requests", { [Semconv.ATTR_METRIC_OVERFLOW]: "true" })).toBe(3)
      expect(yield* TestTelemetry.prometheusValue("test_requests_total", { otel_metric_overflow: "true" })).toBe(3)
      // an attribute set seen before the limit keeps its own series
      requests.unsafeAdd(1, { user: "u1" })
      expect(yield* TestTelemetry.metricValue("test.requests", { user: "u1" })).toBe(2)
    }).pipe(Effect.provide(TestTelemetry.layer({ metricCardinalityLimit: 5 }))))

  it.effect("a frozen attribute object reused across updates is its set's series; past the limit, the overflow's", () =>
    Effect.gen(function*() {
      const get = Object.freeze({ method: "GET" })
      const post = Object.freeze({ method: "POST" })
      for (let i = 0; i < 3; i++) {
        inFlight.unsafeAdd(1, get)
        inFlight.unsafeAdd(1, post)
        inFlight.unsafeAdd(-1, get)
      }
      // Another object spelling the same set, frozen or not, is the same series.
      inFlight.unsafeAdd(1, { method: "GET" })
      inFlight.unsafeAdd(1, Object.freeze({ method: "POST" }))
      expect(yield* TestTelemetry.metricValue("test.in_flight", { method: "GET" })).toBe(1)
      expect(yield* TestTelemetry.metricValue("test.in_flight", { method: "POST" })).toBe(4)
      // Two sets is the limit here: a third frozen set goes to the overflow series every time.
      const put = Object.freeze({ method: "PUT" })
      inFlight.unsafeAdd(1, put)
      inFlight.unsafeAdd(1, put)
      expect(yield* TestTelemetry.metricValue("test.in_flight", { [Semconv.ATTR_METRIC_OVERFLOW]: "true" })).toBe(2)
      expect(yield* TestTelemetry.metricValue("test.in_flight", { method: "GET" })).toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer({ metricCardinalityLimit: 2 }))))

  it.effect("the overflow is reported in one warning per metric, through the application's logger", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel._tag === "Warning") warnings.push(String(Array.isArray(message) ? message[0] : message))
      })
      yield* Effect.gen(function*() {
        for (let i = 0; i < 10; i++) requests.unsafeAdd(1, { user: `u${i}` })
        for (let i = 0; i < 10; i++) inFlight.unsafeAdd(1, { user: `u${i}` })
      }).pipe(
        Effect.provide(Telemetry.layerDiagnostics()),
        Effect.provide(Logger.replace(Logger.defaultLogger, logger))
      )
      expect(warnings).toHaveLength(2)
      expect(warnings[0]).toContain(`"test.requests" reached its cardinality limit of 2`)
      expect(warnings[1]).toContain(`"test.in_flight" reached its cardinality limit of 2`)
    }).pipe(Effect.provide(TestTelemetry.layer({ metricCardinalityLimit: 2 }))))

  it.effect("one attribute set is one series whatever the property order and value type; subsets are their own series", () =>
    Effect.gen(function*() {
      requests.unsafeAdd(1, { method: "GET", status: 200 })
      requests.unsafeAdd(1, { status: "200", method: "GET" })
      requests.unsafeAdd(1, { method: "GET" })
      requests.unsafeAdd(1, { method: "GET", status: 200, route: "/a" })
      expect(yield* TestTelemetry.metricValue("test.requests", { method: "GET", status: "200" })).toBe(2)
      expect(yield* TestTelemetry.prometheusValue("test_requests_total", { method: "GET", status: "200" })).toBe(2)
      expect(yield* TestTelemetry.metricValue("test.requests", { method: "GET" })).toBe(1)
      expect(yield* TestTelemetry.metricValue("test.requests", { method: "GET", status: "200", route: "/a" })).toBe(1)
      const series = TestTelemetry.parseExposition(yield* TestTelemetry.scrape()).filter((s) =>
        s.name === "test_requests_total"
      )
      expect(series).toHaveLength(3)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("past the limit, a new set counted again still goes to the overflow series (it is never remembered)", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 2; i++) requests.unsafeAdd(1, { user: `u${i}` })
      for (let round = 0; round < 3; round++) requests.unsafeAdd(1, { user: "late" })
      expect(yield* TestTelemetry.metricValue("test.requests", { [Semconv.ATTR_METRIC_OVERFLOW]: "true" })).toBe(3)
      const samples = TestTelemetry.parseExposition(yield* TestTelemetry.scrape()).filter((s) =>
        s.name === "test_requests_total"
      )
      expect(samples.map((s) => s.labels.user ?? "overflow").sort()).toEqual(["overflow", "u0", "u1"])
    }).pipe(Effect.provide(TestTelemetry.layer({ metricCardinalityLimit: 2 }))))

  it.effect("a bound attribute set records into the set's one series, in both sinks; binding alone adds none", () =>
    Effect.gen(function*() {
      const attributes: Record<string, string | number> = { method: "GET", status: 200 }
      const bound = requests.bind(attributes)
      const boundLatency = latency.bind({ route: "/a" })
      const boundTemperature = temperature.bind({ room: "b" })
      // The caller's object is copied: changing it afterwards changes nothing bound.
      attributes.status = 500
      const unused = requests.bind({ method: "unused" })
      expect(unused.unsafeAdd).toBeTypeOf("function")
      bound.unsafeAdd(1)
      bound.unsafeAdd(2)
      requests.unsafeAdd(1, { status: "200", method: "GET" })
      boundLatency.unsafeRecord(0.3)
      latency.unsafeRecord(1, { route: "/a" })
      boundTemperature.unsafeSet(19)
      boundTemperature.unsafeSet(18.5)
      expect(yield* TestTelemetry.metricValue("test.requests", { method: "GET", status: "200" })).toBe(4)
      expect(yield* TestTelemetry.prometheusValue("test_requests_total", { method: "GET", status: "200" })).toBe(4)
      const series = TestTelemetry.parseExposition(yield* TestTelemetry.scrape()).filter((s) =>
        s.name === "test_requests_total"
      )
      expect(series.map((s) => s.labels)).toEqual([{ method: "GET", status: "200" }])
      const point = yield* TestTelemetry.metricPoint("test.latency", { route: "/a" })
      expect(point).toMatchObject({ type: "histogram", value: { count: 2, sum: 1.3 } })
      expect(yield* TestTelemetry.metricValue("test.temperature", { room: "b" })).toBe(18.5)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  const boundAcrossResets = inFlight.bind({ method: "PATCH" })

  it.effect("a set bound before a reset records into the fresh state after it (first layer)", () =>
    Effect.gen(function*() {
      boundAcrossResets.unsafeAdd(1)
      boundAcrossResets.unsafeAdd(1)
      expect(yield* TestTelemetry.metricValue("test.in_flight", { method: "PATCH" })).toBe(2)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("a set bound before a reset records into the fresh state after it (second layer)", () =>
    Effect.gen(function*() {
      // The layer reset every value: the handle looks its series up again instead of
      // updating storage no exporter reads any more.
      boundAcrossResets.unsafeAdd(1)
      expect(yield* TestTelemetry.metricValue("test.in_flight", { method: "PATCH" })).toBe(1)
      expect(yield* TestTelemetry.prometheusValue("test_in_flight", { method: "PATCH" })).toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("past the limit a bound new set records into the overflow series", () =>
    Effect.gen(function*() {
      requests.unsafeAdd(1, { user: "u0" })
      requests.unsafeAdd(1, { user: "u1" })
      const late = requests.bind({ user: "late" })
      late.unsafeAdd(1)
      late.unsafeAdd(1)
      expect(yield* TestTelemetry.metricValue("test.requests", { [Semconv.ATTR_METRIC_OVERFLOW]: "true" })).toBe(2)
    }).pipe(Effect.provide(TestTelemetry.layer({ metricCardinalityLimit: 2 }))))

  it("declaring one name with two kinds fails at declaration with a clear error", () => {
    expect(() => Instrument.gauge({ name: "test.requests", unit: "{request}" })).toThrow(
      /already declared as counter.*cannot be declared again as gauge/
    )
    expect(() => Instrument.histogram({ name: "test.latency", unit: "s", boundaries: [1, 2] })).toThrow(/boundaries/)
    expect(() => Instrument.counter({ name: "9bad name" })).toThrow(TelemetryOptionsError.TelemetryOptionsError)
    expect(() => Instrument.counter({ name: "9bad name" })).toThrow(
      /^Instrument: option name must be an instrument name.*got "9bad name"$/
    )
    expect(() => Instrument.histogram({ name: "test.bad.bounds", boundaries: [2, 1] })).toThrow(
      "Instrument: option boundaries of test.bad.bounds must be finite and strictly increasing, got [2,1]"
    )
    // the same declaration again is the same instrument
    expect(Instrument.counter({ name: "test.requests", unit: "{request}", description: "Requests seen." })).toBe(
      requests
    )
  })

  it.effect("label values with quotes, backslashes and newlines are escaped and read back unchanged", () =>
    Effect.gen(function*() {
      const hostile = "a \"quoted\" \\ back\nslash \u00e9\u{1F600}"
      yield* requests.add(1, { note: hostile })
      const text = yield* TestTelemetry.scrape()
      expect(text).not.toMatch(/note="[^"\n]*\n/)
      expect(yield* TestTelemetry.prometheusValue("test_requests_total", { note: hostile })).toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("names follow the Prometheus compatibility rules and the exposition passes promtool", () =>
    Effect.gen(function*() {
      yield* requests.add(1, { "http.route": "/users/:id" })
      yield* inFlight.add(1)
      yield* temperature.set(3)
      yield* latency.record(0.2)
      yield* payload.record(100)
      const text = yield* TestTelemetry.scrape()
      expect(text).toContain("# HELP test_requests_total Requests seen.")
      expect(text).toContain("# TYPE test_requests_total counter")
      expect(text).toContain("test_requests_total{http_route=\"/users/:id\"} 1")
      expect(text).toContain("# TYPE test_latency_seconds histogram")
      expect(text).toContain("# TYPE test_payload_size_bytes histogram")
      expect(text).toContain("# TYPE target_info gauge")
      expect(text).toMatch(/target_info\{[^}]*service_name="test-service"/)
      const open = yield* TestTelemetry.scrape("application/openmetrics-text; version=1.0.0")
      expect(open).toContain("# TYPE test_requests counter")
      expect(open).toContain("test_requests_total{http_route=\"/users/:id\"} 1")
      expect(open.trimEnd().endsWith("# EOF")).toBe(true)
      expect(TestTelemetry.promtoolCheck(text)).toEqual({ status: 0, output: "" })
    }).pipe(Effect.provide(TestTelemetry.layer())))
})
