/**
 * The production layer exporting over real OTLP/HTTP to a local receiver that misbehaves on
 * purpose: down, refusing, throttling, hanging. The delivery equation (exported + dropped +
 * failed + abandoned = ended) is checked after every shutdown.
 */
import type { TelemetryConfig, Tracing } from "@effect-telemetry/core"
import { PrometheusMetrics, Telemetry } from "@effect-telemetry/core"
import { OtlpReceiver, TestServices, TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"

interface Outcome<A> {
  readonly result: A
  readonly stats: Tracing.DeliveryStats
  /** Wall time of closing the layer (flush + shutdown). */
  readonly shutdownMillis: number
  readonly warnings: ReadonlyArray<string>
}

/**
 * Builds the production layer exporting traces to `url`, runs `body` with it, closes it and
 * reports the delivery counts, the shutdown's wall time and the warnings logged.
 */
const withTelemetry = <A, E>(
  url: string,
  overrides: TelemetryConfig.Overrides,
  body: Effect.Effect<A, E, Telemetry.Telemetry | PrometheusMetrics.PrometheusMetrics>
): Effect.Effect<Outcome<A>, E> =>
  Effect.gen(function*() {
    const warnings: Array<string> = []
    const logger = Logger.make(({ logLevel, message }) => {
      if (logLevel._tag === "Warning") {
        warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
      }
    })
    const run = Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        Telemetry.layer({
          serviceName: "reliability",
          tracesExporter: "otlp",
          metricsExporters: ["prometheus"],
          ...overrides,
          otlpTraces: { url, ...overrides.otlpTraces },
          prometheusServer: false
        }),
        scope
      )
      const result = yield* body.pipe(
        Effect.provide(context),
        Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
      )
      const started = Date.now()
      yield* Scope.close(scope, Exit.void)
      const shutdownMillis = Date.now() - started
      const stats = yield* Context.get(context, Telemetry.Telemetry).spans.stats
      return { result, stats, shutdownMillis, warnings }
    })
    return yield* run.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
  })

const spans = (count: number, name = "work") =>
  Effect.forEach(
    Array.from({ length: count }, (_, i) => i),
    (i) => Effect.void.pipe(Effect.withSpan(name, { attributes: { "work.index": i } })),
    { discard: true }
  )

const stats = Effect.flatMap(Telemetry.Telemetry, (telemetry) => telemetry.spans.stats)

/** Polls the delivery counts (real time) until `predicate` holds. */
const statsUntil = (predicate: (stats: Tracing.DeliveryStats) => boolean) =>
  stats.pipe(
    Effect.filterOrFail(predicate),
    Effect.retry({ times: 200, schedule: Schedule.spaced("50 millis") }),
    Effect.orDie
  )

const accountedFor = (s: Tracing.DeliveryStats) => s.exported + s.dropped + s.failed + s.abandoned

/** The counts of the one shutdown line: `spans N = E exported + D dropped + F failed + A abandoned`. */
const reportedSpans = (warnings: ReadonlyArray<string>) => {
  const lines = warnings.filter((w) => w.startsWith("effect-telemetry: shutdown"))
  expect(lines).toHaveLength(1)
  const match = /spans (\d+) = (\d+) exported \+ (\d+) dropped \+ (\d+) failed \+ (\d+) abandoned/.exec(lines[0]!)
  expect(match).not.toBeNull()
  const [ended, exported, dropped, failed, abandoned] = match!.slice(1).map(Number)
  return { line: lines[0]!, ended, exported, dropped, failed, abandoned }
}

const queueFullSample = (prometheus: PrometheusMetrics.PrometheusExporter) =>
  Effect.map(
    prometheus.scrape(),
    (scrape) =>
      TestTelemetry.parseExposition(scrape.body).find((sample) =>
        sample.name === "otel_sdk_processor_span_processed_total" && sample.labels["error_type"] === "queue_full"
      )?.value ?? 0
  )

describe("Reliability: export to a collector that misbehaves", () => {
  it.live("collector down: spans are counted as failed and shutdown finishes within its timeout", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(TestServices.freePort)
      const outcome = yield* withTelemetry(
        `http://127.0.0.1:${port}/v1/traces`,
        {
          otlpTraces: { timeoutMillis: 1_500 },
          batchSpanProcessor: { scheduleDelayMillis: 100 },
          shutdownTimeoutMillis: 2_000
        },
        spans(50)
      )
      expect(outcome.stats).toMatchObject({ ended: 50, exported: 0, dropped: 0, failed: 50 })
      expect(accountedFor(outcome.stats)).toBe(outcome.stats.ended)
      // A bound, not a speed claim: the configured timeout is 2 s.
      expect(outcome.shutdownMillis).toBeLessThan(5_000)
      const reported = reportedSpans(outcome.warnings)
      expect(reported).toMatchObject({ ended: 50, exported: 0, dropped: 0, failed: 50, abandoned: 0 })
      expect(reported.line).toContain("last error:")
    }))

  it.scopedLive("collector answering 503, then recovering: every span arrives exactly once", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      receiver.queueBehaviours({ status: 503 }, { status: 503 })
      const outcome = yield* withTelemetry(receiver.endpoints.traces, {}, spans(20))
      const received = receiver.spans()
      expect(received).toHaveLength(20)
      expect(new Set(received.map((s) => s.spanId)).size).toBe(20)
      expect(receiver.requestCount({ status: 503 })).toBe(2)
      expect(receiver.requestCount({ status: 200 })).toBe(1)
      expect(outcome.stats).toMatchObject({ ended: 20, exported: 20, dropped: 0, failed: 0 })
    }))

  it.scopedLive("collector answering 429 with Retry-After: the retry waits as long as asked", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      receiver.queueBehaviours({ status: 429, retryAfter: 2 })
      const outcome = yield* withTelemetry(receiver.endpoints.traces, {}, spans(5))
      const [throttled, retried] = receiver.requests()
      expect(throttled?.status).toBe(429)
      expect(retried?.status).toBe(200)
      // The exporter's own backoff is at most 1.2 s for the first retry; 2 s is Retry-After's.
      expect(retried!.receivedAtMillis - throttled!.receivedAtMillis).toBeGreaterThanOrEqual(1_950)
      expect(receiver.spans()).toHaveLength(5)
      expect(outcome.stats).toMatchObject({ ended: 5, exported: 5, failed: 0 })
    }))

  it.scopedLive("collector back after refusing: export resumes with the spans that follow", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      receiver.setBehaviour({ status: 500 })
      const outcome = yield* withTelemetry(
        receiver.endpoints.traces,
        { batchSpanProcessor: { scheduleDelayMillis: 50 } },
        Effect.gen(function*() {
          yield* spans(10, "while-down")
          yield* statsUntil((s) => s.failed === 10)
          receiver.setBehaviour({})
          yield* spans(10, "after")
          return yield* receiver.awaitSpans(10)
        })
      )
      expect(outcome.result.map((s) => s.name)).toEqual(Array.from({ length: 10 }, () => "after"))
      expect(outcome.stats).toMatchObject({ ended: 20, exported: 10, failed: 10, dropped: 0 })
      expect(receiver.spanCount()).toBe(10)
    }))

  it.scopedLive("collector slower than the export timeout: the spans count as failed, nothing waits for the late answer", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      receiver.setBehaviour({ delayMillis: 30_000 })
      const outcome = yield* withTelemetry(
        receiver.endpoints.traces,
        { otlpTraces: { timeoutMillis: 1_000 }, shutdownTimeoutMillis: 5_000 },
        spans(5)
      )
      expect(outcome.stats).toMatchObject({ ended: 5, exported: 0, failed: 5, dropped: 0 })
      expect(outcome.shutdownMillis).toBeLessThan(5_000)
      expect(receiver.requestCount()).toBeGreaterThanOrEqual(1)
      expect(receiver.spanCount()).toBe(0)
    }))

  it.scopedLive("a batch refused at once does not end the shutdown early: the other batches are still delivered and counted", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      // The first export is refused for good at once; the others take a moment.
      receiver.queueBehaviours({ status: 400 })
      receiver.setBehaviour({ delayMillis: 200 })
      const outcome = yield* withTelemetry(
        receiver.endpoints.traces,
        // Everything waits for the flush at shutdown: 4 batches of 512.
        { batchSpanProcessor: { scheduleDelayMillis: 60_000, maxExportBatchSize: 512 }, shutdownTimeoutMillis: 10_000 },
        spans(2_048)
      )
      expect(outcome.stats).toMatchObject({ ended: 2_048, exported: 1_536, failed: 512, dropped: 0, abandoned: 0 })
      expect(receiver.spanCount()).toBe(1_536)
      const reported = reportedSpans(outcome.warnings)
      expect(reported).toMatchObject({ ended: 2_048, exported: 1_536, dropped: 0, failed: 512, abandoned: 0 })
      expect(reported.line).toContain("last error: 400")
    }))

  it.scopedLive("collector hanging: the app is not held up, and shutdown returns at its timeout naming the abandoned spans", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      receiver.setBehaviour({ hang: true })
      const outcome = yield* withTelemetry(
        receiver.endpoints.traces,
        { batchSpanProcessor: { scheduleDelayMillis: 50 }, shutdownTimeoutMillis: 1_000 },
        Effect.gen(function*() {
          yield* spans(10, "before")
          yield* statsUntil((s) => s.handed === 10)
          yield* Effect.sync(() => receiver.requestCount()).pipe(
            Effect.filterOrFail((n) => n >= 1),
            Effect.retry({ times: 200, schedule: Schedule.spaced("20 millis") }),
            Effect.orDie
          )
          // An export is in flight and unanswered; the application goes on regardless.
          const work = yield* spans(200, "during").pipe(Effect.as("done"), Effect.timeout("5 seconds"))
          const pending = receiver.requests().filter((r) => r.status === undefined)
          return { work, pending: pending.length, answered: receiver.requestCount() - pending.length }
        })
      )
      expect(outcome.result).toEqual({ work: "done", pending: outcome.result.pending, answered: 0 })
      expect(outcome.result.pending).toBeGreaterThanOrEqual(1)
      expect(outcome.shutdownMillis).toBeGreaterThanOrEqual(900)
      expect(outcome.shutdownMillis).toBeLessThan(5_000)
      const reported = reportedSpans(outcome.warnings)
      expect(reported.line).toContain("reached its deadline")
      expect(reported).toMatchObject({ ended: 210, exported: 0, dropped: 0, failed: 0, abandoned: 210 })
      expect(outcome.stats.abandoned).toBe(210)
      expect(accountedFor(outcome.stats)).toBe(outcome.stats.ended)
    }))

  it.scopedLive("queue full: a 1,000-span burst into a 100-span queue drops and counts, and the queue stays bounded", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      receiver.setBehaviour({ hang: true })
      const outcome = yield* withTelemetry(
        receiver.endpoints.traces,
        {
          batchSpanProcessor: { maxQueueSize: 100 },
          // Hung exports fail after 1 s, well within the shutdown timeout, so all are accounted.
          otlpTraces: { timeoutMillis: 1_000 },
          shutdownTimeoutMillis: 15_000
        },
        Effect.gen(function*() {
          const prometheus = yield* PrometheusMetrics.PrometheusMetrics
          const before = yield* queueFullSample(prometheus)
          let maxQueued = 0
          for (let i = 0; i < 1_000; i++) {
            yield* Effect.void.pipe(Effect.withSpan("burst"))
            const s = yield* stats
            maxQueued = Math.max(maxQueued, s.ended - s.dropped - s.handed)
          }
          const queueFull = (yield* queueFullSample(prometheus)) - before
          return { maxQueued, queueFull }
        })
      )
      const { maxQueued, queueFull } = outcome.result
      expect(outcome.stats.ended).toBe(1_000)
      // One batch is in the exporter, one queue's worth waits: everything else is dropped.
      expect(outcome.stats.dropped).toBeGreaterThanOrEqual(800)
      expect(accountedFor(outcome.stats)).toBe(1_000)
      expect(queueFull).toBe(outcome.stats.dropped)
      expect(maxQueued).toBeLessThanOrEqual(100)
      const reported = reportedSpans(outcome.warnings)
      expect(reported.line).toContain("span queue of 100 full")
      expect(reported.dropped).toBe(outcome.stats.dropped)
    }))
})
