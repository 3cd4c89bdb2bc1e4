/**
 * The exposition `/metrics` renders itself from Effect's registry (issue 12): HELP and TYPE
 * lines, escaping, family order, the per-series cache, histogram buckets against the OTLP
 * ones, label-name collisions, Effect metrics not declared through Instrument, names prom-client
 * already exposes, both formats; promtool lints the text format and a real Prometheus scrapes
 * both formats.
 */
import { Instrument, PrometheusMetrics } from "@effect-telemetry/core"
import { TestServices, TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import { resourceFromAttributes } from "@opentelemetry/resources"
import type { Histogram } from "@opentelemetry/sdk-metrics"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as RuntimeFlags from "effect/RuntimeFlags"
import * as RuntimeFlagsPatch from "effect/RuntimeFlagsPatch"
import * as Schedule from "effect/Schedule"
import * as EffectTestServices from "effect/TestServices"
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import * as Path from "node:path"
import * as PromClient from "prom-client"

const OPEN_METRICS = "application/openmetrics-text; version=1.0.0"

const helpful = Instrument.counter({
  name: "test.expo.help",
  unit: "{call}",
  description: "Calls with a back\\slash, a \"quote\"\nand a second line."
})
const requests = Instrument.counter({ name: "test.expo.requests", unit: "{request}", description: "Requests." })
const level = Instrument.gauge({ name: "test.expo.level", unit: "1", description: "Level." })
const active = Instrument.upDownCounter({ name: "test.expo.active", unit: "{request}", description: "Active." })
const latency = Instrument.histogram({
  name: "test.expo.latency",
  unit: "s",
  description: "Latency.",
  boundaries: [0.1, 0.5, 2]
})
// A name prom-client's default Node.js metrics already expose (`nodejs_eventloop_lag_seconds`).
const lag = Instrument.gauge({ name: "nodejs.eventloop.lag", unit: "s", description: "Ours, shadowed." })

const samplesOf = (text: string, name: string) => TestTelemetry.parseExposition(text).filter((s) => s.name === name)

/** The families of an exposition in order: each TYPE line's name with the sample lines under it. */
const familiesOf = (text: string) => {
  const families: Array<{ readonly name: string; readonly type: string; readonly samples: Array<string> }> = []
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) families.push({ name: type[1]!, type: type[2]!, samples: [] })
    else if (line !== "" && !line.startsWith("#")) families.at(-1)!.samples.push(line)
  }
  return families
}

describe("Prometheus exposition", () => {
  it.effect("HELP and TYPE once per family, before its samples; HELP escaped as each format requires", () =>
    Effect.gen(function*() {
      yield* helpful.add(1)
      const text = yield* TestTelemetry.scrape()
      expect(text).toContain(
        "# HELP test_expo_help_total Calls with a back\\\\slash, a \"quote\"\\nand a second line.\n" +
          "# TYPE test_expo_help_total counter\ntest_expo_help_total 1\n"
      )
      const open = yield* TestTelemetry.scrape(OPEN_METRICS)
      // OpenMetrics' escaped strings have no bare `"`.
      expect(open).toContain(
        "# HELP test_expo_help Calls with a back\\\\slash, a \\\"quote\\\"\\nand a second line.\n" +
          "# TYPE test_expo_help counter\ntest_expo_help_total 1\n"
      )
      expect(TestTelemetry.promtoolCheck(text)).toEqual({ status: 0, output: "" })
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("every family once, in the order it first appeared, the same on every scrape; text and OpenMetrics layouts", () =>
    Effect.gen(function*() {
      yield* requests.add(1, { route: "/a" })
      yield* level.set(0.5)
      yield* latency.record(0.2)
      yield* active.add(1)
      const first = yield* TestTelemetry.scrape()
      const names = familiesOf(first).map((f) => f.name)
      expect(names[0]).toBe("target_info")
      expect(new Set(names).size).toBe(names.length)
      for (const family of familiesOf(first)) {
        for (const sample of family.samples) expect(sample.startsWith(family.name)).toBe(true)
      }
      // A blank line between families, none inside one, one line feed at the end.
      expect(first.split("\n\n").every((block) => block.startsWith("# HELP "))).toBe(true)
      expect(first.endsWith("\n") && !first.endsWith("\n\n")).toBe(true)
      yield* requests.add(1, { route: "/b" })
      yield* latency.record(3)
      expect(familiesOf(yield* TestTelemetry.scrape()).map((f) => f.name)).toEqual(names)

      const open = yield* TestTelemetry.scrape(OPEN_METRICS)
      expect(open).not.toContain("\n\n")
      expect(open.endsWith("\n# EOF\n")).toBe(true)
      expect(open.indexOf("# EOF")).toBe(open.length - "# EOF\n".length)
      const openFamilies = familiesOf(open)
      // OpenMetrics names a counter family without `_total`; its samples keep it.
      expect(openFamilies.map((f) => f.name)).toEqual(
        names.map((n) => n === "test_expo_requests_total" ? "test_expo_requests" : n)
      )
      expect(openFamilies.find((f) => f.name === "test_expo_requests")!.samples.sort()).toEqual([
        "test_expo_requests_total{route=\"/a\"} 1",
        "test_expo_requests_total{route=\"/b\"} 1"
      ])
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("the cache holds label sets, not values: later updates and new series appear in the next scrape", () =>
    Effect.gen(function*() {
      const hostile = "a \"q\" \\ b\nc"
      yield* requests.add(1, { note: hostile })
      yield* level.set(1, { note: hostile })
      expect(yield* TestTelemetry.prometheusValue("test_expo_requests_total", { note: hostile })).toBe(1)
      yield* requests.add(2, { note: hostile })
      yield* requests.add(5, { note: "plain" })
      yield* level.set(-3, { note: hostile })
      const text = yield* TestTelemetry.scrape()
      expect(text).toContain("test_expo_requests_total{note=\"a \\\"q\\\" \\\\ b\\nc\"} 3\n")
      expect(text).toContain("test_expo_requests_total{note=\"plain\"} 5\n")
      expect(text).toContain("test_expo_level_ratio{note=\"a \\\"q\\\" \\\\ b\\nc\"} -3\n")
      expect(TestTelemetry.promtoolCheck(text)).toEqual({ status: 0, output: "" })
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("histogram buckets, sum and count are the OTLP point's, in both formats", () =>
    Effect.gen(function*() {
      for (const value of [0.05, 0.1, 0.2, 0.7, 1.5, 9]) yield* latency.record(value, { route: "/h" })
      const point = yield* TestTelemetry.metricPoint("test.expo.latency", { route: "/h" })
      const otlp = point.value as Histogram
      expect(otlp.buckets.boundaries).toEqual([0.1, 0.5, 2])
      let cumulative = 0
      const expected = otlp.buckets.counts.map((count, i) => ({
        le: i < otlp.buckets.boundaries.length ? otlp.buckets.boundaries[i]! : Number.POSITIVE_INFINITY,
        value: (cumulative += count)
      }))
      for (const accept of [undefined, OPEN_METRICS]) {
        const text = yield* TestTelemetry.scrape(accept)
        const buckets = samplesOf(text, "test_expo_latency_seconds_bucket").filter((s) => s.labels.route === "/h")
        expect(buckets.map((s) => ({ le: Number(s.labels.le === "+Inf" ? Infinity : s.labels.le), value: s.value })))
          .toEqual(expected)
        expect(samplesOf(text, "test_expo_latency_seconds_sum")[0]!.value).toBeCloseTo(otlp.sum!, 12)
        expect(samplesOf(text, "test_expo_latency_seconds_count")[0]!.value).toBe(otlp.count)
        expect(expected.at(-1)!.value).toBe(6)
      }
      expect(TestTelemetry.promtoolCheck(yield* TestTelemetry.scrape())).toEqual({ status: 0, output: "" })
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("an attribute named like the bucket label: every bucket has one le, its own", () =>
    Effect.gen(function*() {
      yield* latency.record(0.3, { le: "mine", route: "/x" })
      const text = yield* TestTelemetry.scrape()
      const buckets = text.split("\n").filter((l) => l.startsWith("test_expo_latency_seconds_bucket{"))
      expect(buckets).toEqual([
        "test_expo_latency_seconds_bucket{route=\"/x\",le=\"0.1\"} 0",
        "test_expo_latency_seconds_bucket{route=\"/x\",le=\"0.5\"} 1",
        "test_expo_latency_seconds_bucket{route=\"/x\",le=\"2\"} 1",
        "test_expo_latency_seconds_bucket{route=\"/x\",le=\"+Inf\"} 1"
      ])
      expect(text).toContain("test_expo_latency_seconds_count{le=\"mine\",route=\"/x\"} 1\n")
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("attributes that sanitize to one label name are joined with ';'; NaN and infinities are spelt for both formats", () =>
    Effect.gen(function*() {
      yield* requests.add(1, { "a.b": "x", "a_b": "y" })
      // Names an object's prototype has: read as attributes, never inherited.
      yield* requests.add(1, { constructor: "c" })
      yield* level.set(Number.NaN, { v: "nan" })
      yield* level.set(Number.POSITIVE_INFINITY, { v: "inf" })
      yield* level.set(Number.NEGATIVE_INFINITY, { v: "-inf" })
      const text = yield* TestTelemetry.scrape()
      expect(text).toContain("test_expo_requests_total{a_b=\"x;y\"} 1\n")
      expect(text).toContain("test_expo_requests_total{constructor=\"c\"} 1\n")
      expect(text).toContain("test_expo_level_ratio{v=\"nan\"} NaN\n")
      expect(text).toContain("test_expo_level_ratio{v=\"inf\"} +Inf\n")
      expect(text).toContain("test_expo_level_ratio{v=\"-inf\"} -Inf\n")
      expect(TestTelemetry.promtoolCheck(text)).toEqual({ status: 0, output: "" })
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("Effect metrics not declared through Instrument: tagged counter, gauge, frequency and summary", () =>
    Effect.gen(function*() {
      const calls = Metric.counter("test_expo_effect_calls", { incremental: true }).pipe(Metric.tagged("kind", "a\"b"))
      yield* Metric.update(calls, 1)
      yield* Metric.set(Metric.gauge("test_expo_effect_depth"), 4)
      const words = Metric.frequency("test_expo_effect_words")
      yield* Metric.update(words, "yes")
      yield* Metric.update(words, "yes")
      yield* Metric.update(words, "no")
      const summary = Metric.summary({
        name: "test_expo_effect_sizes",
        maxAge: "1 minute",
        maxSize: 100,
        error: 0.01,
        quantiles: [0.5, 0.99]
      })
      for (const value of [1, 2, 3, 4]) yield* Metric.update(summary, value)
      const text = yield* TestTelemetry.scrape()
      expect(text).toContain(
        "# TYPE test_expo_effect_calls_total counter\ntest_expo_effect_calls_total{kind=\"a\\\"b\"} 1\n"
      )
      expect(text).toContain("# TYPE test_expo_effect_depth gauge\ntest_expo_effect_depth 4\n")
      expect(samplesOf(text, "test_expo_effect_words_total").map((s) => [s.labels.key, s.value]).sort()).toEqual([
        ["no", 1],
        ["yes", 2]
      ])
      expect(text).toContain("# TYPE test_expo_effect_sizes summary\n")
      expect(samplesOf(text, "test_expo_effect_sizes").map((s) => s.labels.quantile)).toEqual(["0.5", "0.99"])
      expect(samplesOf(text, "test_expo_effect_sizes_count")[0]!.value).toBe(4)
      expect(samplesOf(text, "test_expo_effect_sizes_sum")[0]!.value).toBe(10)
      expect(TestTelemetry.promtoolCheck(text)).toEqual({ status: 0, output: "" })
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("effectRuntimeMetrics: false leaves Effect's fiber metrics out of every scrape; true keeps them, in seconds", () =>
    Effect.gen(function*() {
      yield* Effect.forEach([1, 2], () => Effect.fork(Effect.sleep("2 millis"))).pipe(
        Effect.flatMap(Fiber.joinAll),
        Effect.withRuntimeFlagsPatch(RuntimeFlagsPatch.enable(RuntimeFlags.RuntimeMetrics)),
        EffectTestServices.provideLive
      )
      yield* requests.add(1)
      const resource = resourceFromAttributes({ "service.name": "expo" })
      const without = PrometheusMetrics.make({ resource, effectRuntimeMetrics: false, defaultMetrics: false })
      for (let i = 0; i < 2; i++) {
        const { body } = yield* without.scrape()
        expect(body).not.toContain("effect_fiber_")
        expect(body).toContain("test_expo_requests_total 1\n")
      }
      const withRuntime = PrometheusMetrics.make({ resource, effectRuntimeMetrics: true, defaultMetrics: false })
      const { body } = yield* withRuntime.scrape()
      expect(body).toContain("# TYPE effect_fiber_lifetimes_seconds histogram")
      expect(body).not.toMatch(/effect_fiber_lifetimes_seconds_bucket\{[^}]*milliseconds/)
      expect(TestTelemetry.promtoolCheck(body)).toEqual({ status: 0, output: "" })
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("a family gone from the registry (reset) leaves no HELP or TYPE line behind", () =>
    Effect.gen(function*() {
      yield* active.add(1)
      expect(yield* TestTelemetry.scrape()).toContain("# TYPE test_expo_active gauge")
      Instrument.resetAll()
      expect(yield* TestTelemetry.scrape()).not.toContain("test_expo_active")
      yield* active.add(2)
      expect(yield* TestTelemetry.scrape()).toContain("# TYPE test_expo_active gauge\ntest_expo_active 2\n")
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("with prom-client's Node.js metrics: a name they expose stays theirs, each family once, one # EOF", () =>
    Effect.gen(function*() {
      yield* lag.set(123)
      yield* requests.add(1)
      const exporter = PrometheusMetrics.make({ resource: resourceFromAttributes({ "service.name": "expo" }) })
      for (const accept of [undefined, OPEN_METRICS]) {
        const { body, contentType } = yield* exporter.scrape(accept)
        expect(contentType).toMatch(
          accept === undefined ? /^text\/plain; version=0\.0\.4/ : /^application\/openmetrics-text/
        )
        const names = familiesOf(body).map((f) => f.name)
        expect(new Set(names).size).toBe(names.length)
        expect(names).toContain(accept === undefined ? "process_cpu_seconds_total" : "process_cpu_seconds")
        expect(names.indexOf("target_info")).toBe(0)
        // prom-client's gauge, not ours (which would read 123).
        const lagSamples = samplesOf(body, "nodejs_eventloop_lag_seconds")
        expect(lagSamples).toHaveLength(1)
        expect(lagSamples[0]!.value).not.toBe(123)
        expect(samplesOf(body, "test_expo_requests_total")).toHaveLength(1)
        if (accept === undefined) expect(TestTelemetry.promtoolCheck(body)).toEqual({ status: 0, output: "" })
        else expect(body.split("# EOF")).toHaveLength(2)
      }
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("prom-client's Node.js metrics are collected once per process: every exporter built reads the same monitors", () =>
    Effect.gen(function*() {
      // Each collection starts an event-loop delay monitor and a GC observer that run until the
      // process exits: an exporter per layer build (a test, a runtime) must not add its own.
      const resource = resourceFromAttributes({ "service.name": "expo" })
      const exporters = Array.from({ length: 3 }, () => PrometheusMetrics.make({ resource }))
      const lag = exporters.map((e) => e.registry.getSingleMetric("nodejs_eventloop_lag_seconds"))
      expect(lag[0]).toBeDefined()
      expect(new Set(lag).size).toBe(1)
      expect(new Set(exporters.map((e) => e.registry)).size).toBe(3)
      for (const exporter of exporters) {
        for (const accept of [undefined, OPEN_METRICS]) {
          const { body } = yield* exporter.scrape(accept)
          expect(samplesOf(body, "nodejs_eventloop_lag_seconds")).toHaveLength(1)
          expect(familiesOf(body).map((f) => f.name)).toContain(
            accept === undefined ? "process_cpu_seconds_total" : "process_cpu_seconds"
          )
        }
      }
      // A user's own metric stays in the registry it was registered on.
      const mine = new PromClient.Counter({
        name: "expo_mine_total",
        help: "mine",
        registers: [exporters[0]!.registry]
      })
      mine.inc()
      expect((yield* exporters[0]!.scrape(undefined)).body).toContain("expo_mine_total 1")
      expect((yield* exporters[1]!.scrape(undefined)).body).not.toContain("expo_mine_total")
    }).pipe(Effect.provide(TestTelemetry.layer())))
})

// --- a real Prometheus scraping both formats ------------------------------------------------

const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? "/usr/bin/prometheus"
const prometheusMissing = !existsSync(PROMETHEUS_BIN)
if (prometheusMissing && process.env.CI === "true") {
  throw new Error(`Prometheus binary not found at ${PROMETHEUS_BIN} (set PROMETHEUS_BIN); required in CI`)
}

// A failure (Prometheus not listening yet) is an error the callers retry, not a defect.
const fetchJson = (url: string) => Effect.tryPromise(() => fetch(url).then((r) => r.json() as Promise<any>))

describe("Prometheus exposition scraped by a real Prometheus", () => {
  it.scopedLive.skipIf(prometheusMissing)(
    "both formats scrape cleanly and read the same values (the text format forced by a path that ignores Accept)",
    () =>
      Effect.gen(function*() {
        yield* helpful.add(2)
        for (const value of [0.05, 0.2, 0.7, 9]) yield* latency.record(value, { route: "/p\"q" })
        yield* requests.add(3, { note: "line\nbreak \\ \"quoted\"" })
        const exporter = PrometheusMetrics.make({
          resource: resourceFromAttributes({ "service.name": "expo-real" })
        })
        const served = new Set<string>()
        const server = createServer((request, response) => {
          // `/text` answers the text format whatever Prometheus asks; `/metrics` negotiates.
          const accept = request.url === "/text" ? undefined : request.headers["accept"]
          Effect.runPromise(exporter.scrape(accept)).then((scrape) => {
            served.add(`${request.url} ${scrape.contentType.split(";")[0]}`)
            response.writeHead(200, { "content-type": scrape.contentType }).end(scrape.body)
          })
        })
        yield* Effect.acquireRelease(
          Effect.async<void>((resume) => {
            server.listen(0, "127.0.0.1", () => resume(Effect.void))
          }),
          () =>
            Effect.async<void>((resume) => {
              server.close(() => resume(Effect.void))
              server.closeAllConnections()
            })
        )
        const address = server.address()
        if (typeof address !== "object" || address === null) return yield* Effect.dieMessage("no address")
        const target = `127.0.0.1:${address.port}`
        const port = yield* Effect.promise(TestServices.freePort)
        const dir = mkdtempSync(Path.join(tmpdir(), "prometheus-expo-"))
        writeFileSync(
          Path.join(dir, "prometheus.yml"),
          [
            "global:",
            "  scrape_interval: 1s",
            "scrape_configs:",
            "  - job_name: negotiated",
            "    static_configs:",
            `      - targets: ["${target}"]`,
            "  - job_name: text",
            "    metrics_path: /text",
            "    static_configs:",
            `      - targets: ["${target}"]`
          ].join("\n")
        )
        const child = spawn(PROMETHEUS_BIN, [
          `--config.file=${Path.join(dir, "prometheus.yml")}`,
          `--storage.tsdb.path=${Path.join(dir, "data")}`,
          `--web.listen-address=127.0.0.1:${port}`
        ], { stdio: ["ignore", "ignore", "ignore"] })
        yield* Effect.addFinalizer(() =>
          Effect.promise(() =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null) return resolve()
              child.once("exit", () => resolve())
              child.kill("SIGTERM")
            })
          ).pipe(Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
        )
        const prometheus = `http://127.0.0.1:${port}`
        const targets = yield* fetchJson(`${prometheus}/api/v1/targets`).pipe(
          Effect.map((body) => (body?.data?.activeTargets ?? []) as Array<any>),
          Effect.filterOrFail((active) =>
            active.length === 2 && active.every((t) => t.health === "up" || t.lastError !== "")
          ),
          Effect.retry({ times: 300, schedule: Schedule.spaced("100 millis") }),
          Effect.orDie
        )
        expect(targets.map((t) => [t.labels.job, t.health, t.lastError]).sort()).toEqual([
          ["negotiated", "up", ""],
          ["text", "up", ""]
        ])
        const query = (expr: string) =>
          fetchJson(`${prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`).pipe(
            Effect.map((body) =>
              ((body?.data?.result ?? []) as Array<any>)
                .map((r) => [r.metric.job, r.metric.le ?? r.metric.note ?? "", Number(r.value[1])])
                .sort()
            ),
            Effect.filterOrFail((rows) => rows.length > 0),
            Effect.retry({ times: 100, schedule: Schedule.spaced("100 millis") }),
            Effect.orDie
          )
        const buckets = yield* query("test_expo_latency_seconds_bucket")
        for (const job of ["negotiated", "text"]) {
          expect(buckets.filter((row) => row[0] === job)).toEqual(
            [["0.1", 1], ["0.5", 2], ["2", 3], ["+Inf", 4]].map(([le, v]) => [job, le, v]).sort()
          )
        }
        expect(yield* query("test_expo_requests_total")).toEqual([
          ["negotiated", "line\nbreak \\ \"quoted\"", 3],
          ["text", "line\nbreak \\ \"quoted\"", 3]
        ])
        // Prometheus asked for OpenMetrics on the negotiated path and got it.
        expect([...served].sort()).toEqual(["/metrics application/openmetrics-text", "/text text/plain"])
        // The HELP text read back from either format (OpenMetrics names the family without `_total`).
        for (const family of ["test_expo_help", "test_expo_help_total"]) {
          const metadata = yield* fetchJson(`${prometheus}/api/v1/metadata?metric=${family}`).pipe(
            Effect.map((body) => body?.data ?? {}),
            Effect.filterOrFail((data) => Object.keys(data).length > 0),
            Effect.retry({ times: 100, schedule: Schedule.spaced("100 millis") }),
            Effect.orDie
          )
          expect(metadata[family]?.[0]).toMatchObject({
            type: "counter",
            help: "Calls with a back\\slash, a \"quote\"\nand a second line."
          })
        }
      }).pipe(Effect.provide(TestTelemetry.layer())),
    60_000
  )
})
