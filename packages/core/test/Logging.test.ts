/**
 * The logs signal through the real OTel logs SDK and our OTLP/HTTP transport into a real
 * receiver: what a record carries, how `log.records` counts, the bounded queue, the shutdown
 * flush and deadline, and `OTEL_LOGS_EXPORTER=none|console`.
 */
import { Logging, Telemetry } from "@effect-telemetry/core"
import type { TelemetryConfig } from "@effect-telemetry/core"
import { OtlpReceiver, TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

class PaymentDeclined extends Data.TaggedError("PaymentDeclined")<{ readonly reason: string }> {
  override get message() {
    return `declined: ${this.reason}`
  }
}

/**
 * Runs `program` under `Telemetry.layer` (logs to the receiver, batches that only the shutdown
 * flush sends) and closes the layer; returns what the app's own logger printed, the shutdown
 * line included.
 */
const runWithTelemetry = <A, E>(
  receiver: OtlpReceiver.OtlpReceiver,
  overrides: TelemetryConfig.Overrides,
  program: Effect.Effect<A, E, Telemetry.Telemetry>
) =>
  Effect.gen(function*() {
    const printed: Array<string> = []
    const collector = Logger.make(({ message }) => {
      printed.push(Array.isArray(message) ? message.join(" ") : String(message))
    })
    const result = yield* Effect.scoped(
      program.pipe(Effect.provide(Telemetry.layer({
        serviceName: "logs-test",
        tracesExporter: "otlp",
        otlpTraces: { url: receiver.endpoints.traces },
        metricsExporters: [],
        logsExporter: "otlp",
        otlpLogs: { url: receiver.endpoints.logs },
        batchLogRecordProcessor: { scheduleDelayMillis: 600_000 },
        ...overrides
      })))
    ).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, collector)))
    return { result, printed }
  })

describe("Logging", () => {
  it.scopedLive("records carry the active span's trace and span id, severity, annotations, cause and resource", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      yield* runWithTelemetry(
        receiver,
        {},
        Effect.gen(function*() {
          yield* Effect.logWarning("payment slow").pipe(Effect.annotateLogs({ "order.id": "o-1", "order.items": 3 }))
          yield* Effect.logError("charge failed", Cause.fail(new PaymentDeclined({ reason: "card expired" })))
        }).pipe(Effect.withSpan("checkout"), Effect.zipRight(Effect.logInfo("outside any span")))
      )
      const span = receiver.spans().find((s) => s.name === "checkout")!
      const records = receiver.logRecords()
      const warning = records.find((r) => r.body === "payment slow")!
      expect(warning).toMatchObject({
        severityNumber: 13,
        severityText: "WARN",
        traceId: span.traceId,
        spanId: span.spanId,
        attributes: { "order.id": "o-1", "order.items": 3 }
      })
      expect(warning.resource["service.name"]).toBe("logs-test")
      expect(warning.resource).toEqual(span.resource)
      const error = records.find((r) => r.body === "charge failed")!
      expect(error).toMatchObject({ severityNumber: 17, severityText: "ERROR", spanId: span.spanId })
      expect(error.attributes).toMatchObject({
        "exception.type": "PaymentDeclined",
        "exception.message": "declined: card expired"
      })
      expect(String(error.attributes["exception.stacktrace"])).toContain("PaymentDeclined")
      const outside = records.find((r) => r.body === "outside any span")!
      expect(outside).toMatchObject({ severityText: "INFO", traceId: undefined, spanId: undefined })
      expect(records).toHaveLength(3)
    }))

  it.scopedLive("with only OTEL_* variables set, Telemetry.layer() exports the app's logs (no logging code of ours)", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      const env = (vars: Record<string, string>) =>
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(vars))))
      const app = Effect.logInfo("from the environment").pipe(Effect.withSpan("env-driven"))
      const base = {
        OTEL_SERVICE_NAME: "env-logs",
        OTEL_TRACES_EXPORTER: "none",
        OTEL_METRICS_EXPORTER: "none",
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: receiver.endpoints.logs,
        OTEL_BLRP_SCHEDULE_DELAY: "600000"
      }
      yield* Effect.scoped(app.pipe(Effect.provide(Telemetry.layer()))).pipe(env(base))
      yield* Effect.scoped(app.pipe(Effect.provide(Telemetry.layer()))).pipe(
        env({ ...base, OTEL_LOGS_EXPORTER: "none" })
      )
      expect(receiver.logRecords().map((r) => [r.body, r.resource["service.name"]])).toEqual([
        ["from the environment", "env-logs"]
      ])
      expect(receiver.requestCount({ signal: "logs" })).toBe(1)
    }))

  it.effect("a record in a span that was not sampled carries its ids with the sampled flag off", () =>
    Effect.gen(function*() {
      const spanIds = yield* Effect.logInfo("unsampled").pipe(
        Effect.zipRight(Effect.map(Effect.currentSpan, (span) => [span.traceId, span.spanId])),
        Effect.withSpan("not sampled")
      )
      const record = yield* TestTelemetry.logMatching({ body: "unsampled" })
      expect([record.spanContext?.traceId, record.spanContext?.spanId]).toEqual(spanIds)
      expect(record.spanContext?.traceFlags).toBe(0)
      expect(yield* TestTelemetry.spans).toEqual([])
    }).pipe(Effect.provide(TestTelemetry.layer({ sampler: "always_off" }))))

  it("maps every Effect level to the OTel severity number and short name", () => {
    const levels = [LogLevel.Trace, LogLevel.Debug, LogLevel.Info, LogLevel.Warning, LogLevel.Error, LogLevel.Fatal]
    expect(levels.map((level) => Logging.severityOf(level))).toEqual([
      { number: 1, text: "TRACE" },
      { number: 5, text: "DEBUG" },
      { number: 9, text: "INFO" },
      { number: 13, text: "WARN" },
      { number: 17, text: "ERROR" },
      { number: 21, text: "FATAL" }
    ])
    expect(Logging.severityOf(LogLevel.All)).toBeUndefined()
    expect(Logging.severityOf(LogLevel.None)).toBeUndefined()
  })

  it.effect("several messages are one list body; a defect's class is the exception type; an interruption is flagged", () =>
    Effect.gen(function*() {
      yield* Effect.log("total", 3, { sku: "a1" })
      yield* Effect.logFatal("crashed", Cause.die(new TypeError("undefined is not a function")))
      yield* Effect.logWarning("cancelled", Cause.interrupt(FiberId.none))
      const [several, defect, interrupted] = yield* TestTelemetry.logs
      expect(several!.body).toEqual(["total", 3, `{"sku":"a1"}`])
      expect(defect!.attributes).toMatchObject({
        "exception.type": "TypeError",
        "exception.message": "undefined is not a function"
      })
      expect(defect!.severityText).toBe("FATAL")
      expect(interrupted!.attributes).toEqual({ "effect.interrupted": true })
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("log.records counts each message once by severity, however often the logs layer is provided", () =>
    Effect.gen(function*() {
      const twice = Layer.merge(Logging.layer({ logsExporter: "none" }), Logging.layer())
      yield* Effect.logInfo("once").pipe(Effect.provide(twice))
      yield* Effect.logError("once more").pipe(Effect.provide(twice))
      expect(yield* TestTelemetry.metricValue("log.records", { "log.severity": "INFO" })).toBe(1)
      expect(yield* TestTelemetry.metricValue("log.records", { "log.severity": "ERROR" })).toBe(1)
      // The harness's own in-memory logger saw each message once as well.
      expect((yield* TestTelemetry.logs).map(TestTelemetry.bodyText)).toEqual(["once", "once more"])
    }).pipe(Effect.provide(TestTelemetry.layer({ logsExporter: "none" }))))

  it.scopedLive("a full queue drops records and counts them; the shutdown line adds up", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      const { printed, result } = yield* runWithTelemetry(
        receiver,
        { tracesExporter: "none", batchLogRecordProcessor: { scheduleDelayMillis: 600_000, maxQueueSize: 5 } },
        Effect.gen(function*() {
          for (let i = 0; i < 20; i++) yield* Effect.logInfo(`record ${i}`)
          return yield* Effect.flatMap(Telemetry.Telemetry, (telemetry) => telemetry.logs.stats)
        })
      )
      expect(result).toMatchObject({ ended: 20, dropped: 15 })
      expect(receiver.logRecords().map((r) => r.body)).toEqual([
        "record 0",
        "record 1",
        "record 2",
        "record 3",
        "record 4"
      ])
      const line = printed.find((text) => text.includes("effect-telemetry: shutdown"))
      expect(line).toContain("logs 20 = 5 exported + 15 dropped + 0 failed + 0 abandoned")
      expect(line).toContain("OTEL_BLRP_MAX_QUEUE_SIZE")
    }))

  it.scopedLive("the shutdown ends at its deadline when the collector hangs, the records counted as abandoned", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make({ behaviour: { hang: true } })
      const { printed } = yield* runWithTelemetry(
        receiver,
        { tracesExporter: "none", shutdownTimeoutMillis: 500 },
        Effect.forEach([1, 2, 3], (i) => Effect.logInfo(`stuck ${i}`), { discard: true })
      )
      const line = printed.find((text) => text.includes("effect-telemetry: shutdown"))
      expect(line).toContain("reached its deadline")
      expect(line).toContain("logs 3 = 0 exported + 0 dropped + 0 failed + 3 abandoned")
      expect(receiver.logRecordCount()).toBe(0)
    }))

  it.scopedLive("OTEL_LOGS_EXPORTER=none builds no log pipeline and sends nothing", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      const { result } = yield* runWithTelemetry(
        receiver,
        { tracesExporter: "none", logsExporter: "none" },
        Effect.zipRight(
          Effect.logInfo("kept local"),
          Effect.flatMap(Telemetry.Telemetry, (telemetry) => telemetry.logs.stats)
        )
      )
      expect(result.ended).toBe(0)
      expect(receiver.requestCount({ signal: "logs" })).toBe(0)
    }))

  it.scopedLive("OTEL_SDK_DISABLED=true adds no logger: nothing is exported or counted", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      const { printed, result } = yield* runWithTelemetry(
        receiver,
        { disabled: true },
        Effect.zipRight(
          Effect.logInfo("while off"),
          Effect.flatMap(Telemetry.Telemetry, (telemetry) => telemetry.logs.stats)
        )
      )
      expect(result.ended).toBe(0)
      expect(receiver.requestCount()).toBe(0)
      expect(printed).toContain(
        "effect-telemetry: telemetry is off (OTEL_SDK_DISABLED=true): no spans, logs or metrics are recorded or exported"
      )
    }))

  it.scopedLive("OTEL_LOGS_EXPORTER=console prints each record with its severity and body", () =>
    Effect.gen(function*() {
      const receiver = yield* OtlpReceiver.make()
      const dir = console.dir
      const printed: Array<unknown> = []
      console.dir = (value: unknown) => void printed.push(value)
      yield* Effect.addFinalizer(() => Effect.sync(() => (console.dir = dir)))
      yield* runWithTelemetry(
        receiver,
        { tracesExporter: "none", logsExporter: "console" },
        Effect.logWarning("to the console").pipe(Effect.withSpan("printing"))
      )
      console.dir = dir
      expect(printed).toContainEqual(
        expect.objectContaining({ body: "to the console", severityText: "WARN", severityNumber: 13 })
      )
      expect(receiver.requestCount({ signal: "logs" })).toBe(0)
    }))
})
