/**
 * In-memory telemetry for tests: a real SDK tracer provider with an in-memory span exporter,
 * a real SDK logger provider with an in-memory log record exporter (what the app logs through
 * Effect), a real SDK metric reader over our metric producer, and a real Prometheus registry. Each
 * layer build starts from nothing (spans and metric values of earlier tests are gone), so
 * provide the layer per test.
 *
 * @example
 * ```ts
 * it.effect("a traced function is a child of its caller", () =>
 *   Effect.gen(function*() {
 *     yield* placeOrder("o-1").pipe(Effect.withSpan("request"))
 *     const span = yield* TestTelemetry.spanNamed("orders.place")
 *     const parent = yield* TestTelemetry.spanNamed("request")
 *     expect(TestTelemetry.parentSpanId(span)).toBe(parent.spanContext().spanId)
 *   }).pipe(Effect.provide(TestTelemetry.layer())))
 * ```
 *
 * @since 0.1.0
 */
import {
  FunctionTelemetry,
  Instrument,
  Logging,
  OtlpMetrics,
  PrometheusMetrics,
  Propagation,
  Telemetry,
  TelemetryConfig,
  TelemetryResource,
  Tracing
} from "@effect-telemetry/core"
import { Resource } from "@effect/opentelemetry/Resource"
import type { HrTime } from "@opentelemetry/api"
import type { ReadableLogRecord } from "@opentelemetry/sdk-logs"
import { InMemoryLogRecordExporter } from "@opentelemetry/sdk-logs"
import type { DataPoint, Histogram, MetricData, ResourceMetrics } from "@opentelemetry/sdk-metrics"
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { execFileSync } from "node:child_process"

/** A reader collected on demand (the SDK has no public manual reader). @since 0.1.0 @category models */
export class ManualMetricReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve()
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve()
  }
}

/** @since 0.1.0 @category models */
export interface TestTelemetryService {
  readonly spanExporter: InMemorySpanExporter
  readonly metricReader: ManualMetricReader
  readonly prometheus: PrometheusMetrics.PrometheusExporter
  readonly config: TelemetryConfig.Resolved
  readonly tracerProvider: Tracing.Provider
  /** Every record logged through Effect while the layer is up (exported one by one). */
  readonly logExporter: InMemoryLogRecordExporter
  readonly loggerProvider: Logging.Provider
}

/** @since 0.1.0 @category tags */
export class TestTelemetry extends Context.Tag("@effect-telemetry/testing/TestTelemetry")<
  TestTelemetry,
  TestTelemetryService
>() {}

/** Raised by the assertion helpers, with what was present instead. @since 0.1.0 @category errors */
export class TelemetryAssertionError extends Data.TaggedError("TelemetryAssertionError")<{
  readonly message: string
}> {}

/**
 * The in-memory layer. It also provides `Telemetry.Telemetry` (the configuration, the
 * resource, the delivery counts, the meter provider) and the Prometheus exporter, like the
 * production layer, and its parts' own Tags (`Telemetry.layerParts`), for tests that compose
 * layers needing them (`PrometheusMetrics.layerServer`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  overrides?: TelemetryConfig.Overrides
): Layer.Layer<
  | TestTelemetry
  | Telemetry.Telemetry
  | TelemetryConfig.TelemetryConfig
  | Resource
  | PrometheusMetrics.PrometheusMetrics
  | Tracing.SpanDelivery
  | Logging.LogDelivery
  | OtlpMetrics.OtlpMeterProvider
> => {
  const config = TelemetryConfig.layerStatic({ serviceName: "test-service", ...overrides })
  const resource = TelemetryResource.layer().pipe(Layer.provideMerge(config))
  const main = Layer.scopedContext(Effect.gen(function*() {
    const config = yield* TelemetryConfig.TelemetryConfig
    const resource = yield* Resource
    // A fresh metric state per build: no test sees another's values.
    Instrument.resetAll()
    Instrument.setCardinalityLimit(config.metricCardinalityLimit)
    const spanExporter = new InMemorySpanExporter()
    const provider = yield* Effect.acquireRelease(
      Effect.sync(() => Tracing.makeProvider({ config, resource, exporter: spanExporter, simple: true })),
      // In memory nothing is lost: the shutdown line would only repeat "all exported" per test.
      (provider) =>
        Tracing.shutdown(provider, config.shutdownTimeoutMillis).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))
    )
    const metricReader = new ManualMetricReader({
      metricProducers: [
        OtlpMetrics.makeProducer({
          temporality: config.temporalityPreference,
          effectRuntimeMetrics: config.effectRuntimeMetrics
        })
      ]
    })
    const meterProvider = new MeterProvider({ resource, readers: [metricReader] })
    yield* Effect.addFinalizer(() => Effect.promise(() => meterProvider.shutdown()))
    yield* Effect.acquireRelease(
      Effect.sync(() => Propagation.install(Propagation.make(config.propagators))),
      () => Effect.void
    )
    const prometheus = PrometheusMetrics.make({ resource, effectRuntimeMetrics: false, defaultMetrics: false })
    const logExporter = new InMemoryLogRecordExporter()
    const loggerProvider = yield* Effect.acquireRelease(
      Effect.sync(() => Logging.makeProvider({ config, resource, exporter: logExporter, simple: true })),
      (provider) =>
        Logging.shutdown(provider, config.shutdownTimeoutMillis).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))
    )
    const service: TestTelemetryService = {
      spanExporter,
      metricReader,
      prometheus,
      config,
      tracerProvider: provider,
      logExporter,
      loggerProvider
    }
    return Context.make(TestTelemetry, service).pipe(
      Context.add(Telemetry.Telemetry, {
        config,
        resource,
        spans: { stats: Effect.sync(() => provider.accounting.stats()) },
        logs: { stats: Effect.sync(() => loggerProvider.accounting.stats()) },
        meterProvider
      }),
      Context.add(PrometheusMetrics.PrometheusMetrics, prometheus),
      Context.add(FunctionTelemetry.Enabled, config.functionTelemetry)
    )
  }))
  const tracer = Layer.unwrapEffect(
    Effect.map(
      Effect.all([TestTelemetry, Resource]),
      ([service, resource]) =>
        Layer.mergeAll(
          Layer.setTracer(Tracing.makeTracer(service.tracerProvider.provider, resource)),
          // Added next to the app's loggers, as Telemetry.layer does: Effect's output is unchanged.
          Logger.add(Logging.make(service.loggerProvider.provider, resource)),
          Logger.add(Logging.countingLogger)
        )
    )
  )
  return Layer.merge(tracer, Telemetry.layerParts).pipe(Layer.provideMerge(main), Layer.provide(resource))
}

// --- spans ----------------------------------------------------------------------------------

/**
 * Waits until every span that has ended is through the exporter (the in-memory exporter
 * confirms asynchronously, so a span ended a moment ago may still be in flight).
 *
 * @since 0.1.0
 * @category spans
 */
export const flushed: Effect.Effect<void, never, TestTelemetry> = Effect.flatMap(
  TestTelemetry,
  (t) =>
    Effect.promise(async () => {
      await t.tracerProvider.provider.forceFlush()
      await t.tracerProvider.accounting.idle()
    })
)

/** Every finished span so far, in end order (after {@link flushed}). @since 0.1.0 @category spans */
export const spans: Effect.Effect<ReadonlyArray<ReadableSpan>, never, TestTelemetry> = Effect.zipRight(
  flushed,
  Effect.map(TestTelemetry, (t) => t.spanExporter.getFinishedSpans())
)

/** Finished spans with this name. @since 0.1.0 @category spans */
export const spansNamed = (name: string): Effect.Effect<ReadonlyArray<ReadableSpan>, never, TestTelemetry> =>
  Effect.map(spans, (all) => all.filter((s) => s.name === name))

/**
 * The one finished span with this name; fails listing the names present when there is none
 * (or more than one).
 *
 * @since 0.1.0
 * @category spans
 */
export const spanNamed = (name: string): Effect.Effect<ReadableSpan, TelemetryAssertionError, TestTelemetry> =>
  Effect.flatMap(spans, (all) => {
    const found = all.filter((s) => s.name === name)
    if (found.length === 1) return Effect.succeed(found[0]!)
    return Effect.fail(
      new TelemetryAssertionError({
        message: found.length === 0
          ? `no span named ${JSON.stringify(name)}; spans present: [${
            all.map((s) => JSON.stringify(s.name)).join(", ")
          }]`
          : `${found.length} spans named ${JSON.stringify(name)}, expected one`
      })
    )
  })

/** The parent span id of a span, or undefined for a root. @since 0.1.0 @category spans */
export const parentSpanId = (span: ReadableSpan): string | undefined => span.parentSpanContext?.spanId

/** The trace id of a span. @since 0.1.0 @category spans */
export const traceId = (span: ReadableSpan): string => span.spanContext().traceId

/** The finished children of a span. @since 0.1.0 @category spans */
export const childrenOf = (span: ReadableSpan): Effect.Effect<ReadonlyArray<ReadableSpan>, never, TestTelemetry> =>
  Effect.map(spans, (all) => all.filter((s) => parentSpanId(s) === span.spanContext().spanId))

/** `"internal" | "server" | "client" | "producer" | "consumer"` @since 0.1.0 @category spans */
export const kindOf = (span: ReadableSpan): "internal" | "server" | "client" | "producer" | "consumer" =>
  (["internal", "server", "client", "producer", "consumer"] as const)[span.kind]!

/** `"unset" | "ok" | "error"` @since 0.1.0 @category spans */
export const statusOf = (span: ReadableSpan): "unset" | "ok" | "error" =>
  (["unset", "ok", "error"] as const)[span.status.code]!

/** Forgets finished spans (within one test). @since 0.1.0 @category spans */
export const resetSpans: Effect.Effect<void, never, TestTelemetry> = Effect.map(
  TestTelemetry,
  (t) => t.spanExporter.reset()
)

// --- metrics (OTLP side) ---------------------------------------------------------------------

/** One collection by the in-memory reader, as the OTLP exporter would receive it. @since 0.1.0 @category metrics */
export const collect: Effect.Effect<ResourceMetrics, never, TestTelemetry> = Effect.flatMap(
  TestTelemetry,
  (t) => Effect.promise(() => t.metricReader.collect().then((r) => r.resourceMetrics))
)

/** The collected metric named `name` (OTel name), if any. @since 0.1.0 @category metrics */
export const metricData = (name: string): Effect.Effect<MetricData | undefined, never, TestTelemetry> =>
  Effect.map(collect, (rm) => rm.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === name))

const matches = (actual: Record<string, unknown>, expected: Record<string, unknown> | undefined) => {
  const e = expected ?? {}
  const ka = Object.keys(actual)
  const ke = Object.keys(e)
  return ka.length === ke.length && ke.every((k) => String(actual[k]) === String(e[k]))
}

/** A plain view of a data point. @since 0.1.0 @category metrics */
export interface PointView {
  readonly type: "sum" | "gauge" | "histogram"
  readonly monotonic: boolean | undefined
  readonly temporality: "cumulative" | "delta"
  readonly attributes: Record<string, unknown>
  readonly value: number | Histogram
  readonly startTime: HrTime
  readonly endTime: HrTime
}

const viewOf = (data: MetricData, point: DataPoint<unknown>): PointView => ({
  type: data.dataPointType === DataPointType.HISTOGRAM
    ? "histogram"
    : data.dataPointType === DataPointType.GAUGE
    ? "gauge"
    : "sum",
  monotonic: data.dataPointType === DataPointType.SUM ? data.isMonotonic : undefined,
  temporality: data.aggregationTemporality === AggregationTemporality.DELTA ? "delta" : "cumulative",
  attributes: point.attributes as Record<string, unknown>,
  value: point.value as number | Histogram,
  startTime: point.startTime,
  endTime: point.endTime
})

/**
 * The data point of `name` whose attributes are exactly `attributes` (OTLP side); fails with
 * the attribute sets present when there is none.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metricPoint = (
  name: string,
  attributes?: Record<string, unknown>
): Effect.Effect<PointView, TelemetryAssertionError, TestTelemetry> =>
  Effect.flatMap(collect, (rm) => {
    const all = rm.scopeMetrics.flatMap((s) => s.metrics)
    const data = all.find((m) => m.descriptor.name === name)
    if (data === undefined) {
      return Effect.fail(
        new TelemetryAssertionError({
          message: `no metric named ${JSON.stringify(name)}; metrics present: [${
            all.map((m) => JSON.stringify(m.descriptor.name)).join(", ")
          }]`
        })
      )
    }
    const points = data.dataPoints as Array<DataPoint<unknown>>
    const point = points.find((p) => matches(p.attributes as Record<string, unknown>, attributes))
    if (point === undefined) {
      return Effect.fail(
        new TelemetryAssertionError({
          message: `metric ${JSON.stringify(name)} has no point with attributes ${JSON.stringify(attributes ?? {})}; ` +
            `present: ${points.map((p) => JSON.stringify(p.attributes)).join(" ")}`
        })
      )
    }
    return Effect.succeed(viewOf(data, point))
  })

/** The number value of a sum or gauge point (OTLP side). @since 0.1.0 @category metrics */
export const metricValue = (
  name: string,
  attributes?: Record<string, unknown>
): Effect.Effect<number, TelemetryAssertionError, TestTelemetry> =>
  Effect.flatMap(metricPoint(name, attributes), (p) =>
    typeof p.value === "number"
      ? Effect.succeed(p.value)
      : Effect.fail(new TelemetryAssertionError({ message: `metric ${name} is a histogram; use metricPoint` })))

// --- logs ---------------------------------------------------------------------------------

/**
 * Every record logged so far (through `Effect.log*` while the layer is up), in emission order.
 * Records are exported as they are logged, so there is nothing to wait for.
 *
 * @since 0.1.0
 * @category logs
 */
export const logs: Effect.Effect<ReadonlyArray<ReadableLogRecord>, never, TestTelemetry> = Effect.map(
  TestTelemetry,
  (t) => t.logExporter.getFinishedLogRecords()
)

/** What {@link logsMatching} selects by; every field given must match. @since 0.1.0 @category logs */
export interface LogFilter {
  /** The body: equal to a string, or matching a RegExp (a list body is matched as its parts joined by spaces). */
  readonly body?: string | RegExp
  /** `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` or `FATAL`. */
  readonly severity?: Logging.Severity["text"]
  /** Attributes the record has (others allowed). */
  readonly attributes?: Record<string, unknown>
  /** Logged inside this span (its span id), e.g. a span from {@link spanNamed}. */
  readonly span?: ReadableSpan
}

/** The body of a record as text (a list body joined by spaces). @since 0.1.0 @category logs */
export const bodyText = (record: ReadableLogRecord): string =>
  Array.isArray(record.body) ? record.body.map(String).join(" ") : String(record.body ?? "")

const logMatches = (record: ReadableLogRecord, filter: LogFilter): boolean => {
  if (filter.body !== undefined) {
    const text = bodyText(record)
    if (typeof filter.body === "string" ? text !== filter.body : !filter.body.test(text)) return false
  }
  if (filter.severity !== undefined && record.severityText !== filter.severity) return false
  if (filter.span !== undefined && record.spanContext?.spanId !== filter.span.spanContext().spanId) return false
  return includes(record.attributes as Record<string, unknown>, filter.attributes)
}

/**
 * The records matching `filter`, in emission order (empty when none does).
 *
 * @example
 * ```ts
 * const span = yield* TestTelemetry.spanNamed("checkout")
 * const [warning] = yield* TestTelemetry.logsMatching({ severity: "WARN", span, attributes: { "order.id": "o-1" } })
 * ```
 *
 * @since 0.1.0
 * @category logs
 */
export const logsMatching = (
  filter: LogFilter
): Effect.Effect<ReadonlyArray<ReadableLogRecord>, never, TestTelemetry> =>
  Effect.map(logs, (all) => all.filter((record) => logMatches(record, filter)))

/**
 * The one record matching `filter`; fails listing the records present when there is none (or
 * more than one).
 *
 * @since 0.1.0
 * @category logs
 */
export const logMatching = (
  filter: LogFilter
): Effect.Effect<ReadableLogRecord, TelemetryAssertionError, TestTelemetry> =>
  Effect.flatMap(logs, (all) => {
    const found = all.filter((record) => logMatches(record, filter))
    if (found.length === 1) return Effect.succeed(found[0]!)
    return Effect.fail(
      new TelemetryAssertionError({
        message: found.length === 0
          ? `no log record matches; records present: [${
            all.map((r) => `${r.severityText ?? "?"} ${JSON.stringify(bodyText(r))}`).join(", ")
          }]`
          : `${found.length} log records match, expected one`
      })
    )
  })

/** Forgets the records logged so far (within one test). @since 0.1.0 @category logs */
export const resetLogs: Effect.Effect<void, never, TestTelemetry> = Effect.map(
  TestTelemetry,
  (t) => t.logExporter.reset()
)

// --- metrics (Prometheus side) -------------------------------------------------------------

/** The Prometheus text exposition (or OpenMetrics with `accept`). @since 0.1.0 @category prometheus */
export const scrape = (accept?: string): Effect.Effect<string, never, TestTelemetry> =>
  Effect.flatMap(TestTelemetry, (t) => Effect.map(t.prometheus.scrape(accept), (s) => s.body))

/** A sample parsed from the exposition. @since 0.1.0 @category prometheus */
export interface Sample {
  readonly name: string
  readonly labels: Record<string, string>
  readonly value: number
}

const unescape = (value: string) => value.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c))

/**
 * Parses the samples of a Prometheus text exposition (HELP/TYPE lines skipped), unescaping
 * label values.
 *
 * @since 0.1.0
 * @category prometheus
 */
export const parseExposition = (text: string): Array<Sample> => {
  const samples: Array<Sample> = []
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^]*)\})?\s+(\S+)/.exec(line)
    if (match === null) continue
    const labels: Record<string, string> = {}
    const body = match[3]
    if (body !== undefined) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g
      let m: RegExpExecArray | null
      while ((m = re.exec(body)) !== null) labels[m[1]!] = unescape(m[2]!)
    }
    const raw = match[4]!
    samples.push({
      name: match[1]!,
      labels,
      value: raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw)
    })
  }
  return samples
}

/** What `promtool check metrics` said: status 0 and no output is a clean exposition. @since 0.1.0 @category prometheus */
export interface PromtoolResult {
  readonly status: number
  readonly output: string
}

/**
 * Lints an exposition with Prometheus' own `promtool check metrics`. Throws when promtool is
 * not installed (`scripts/install-prometheus.sh`): a missing linter must not read as a pass.
 *
 * @example
 * ```ts
 * const text = yield* TestTelemetry.scrape()
 * expect(TestTelemetry.promtoolCheck(text)).toEqual({ status: 0, output: "" })
 * ```
 *
 * @since 0.1.0
 * @category prometheus
 */
export const promtoolCheck = (text: string): PromtoolResult => {
  try {
    const output = execFileSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8", stdio: "pipe" })
    return { status: 0, output: output.trim() }
  } catch (error: any) {
    if (error.code === "ENOENT") throw new Error("promtool is not installed: run scripts/install-prometheus.sh")
    return { status: error.status ?? 1, output: `${error.stdout ?? ""}${error.stderr ?? ""}`.trim() }
  }
}

/**
 * The value of the sample `name` (exposed Prometheus name, e.g. `http_server_request_duration_seconds_count`)
 * with exactly these labels; fails listing the label sets present.
 *
 * @since 0.1.0
 * @category prometheus
 */
export const prometheusValue = (
  name: string,
  labels?: Record<string, string>
): Effect.Effect<number, TelemetryAssertionError, TestTelemetry> =>
  Effect.flatMap(scrape(), (text) => {
    const samples = parseExposition(text).filter((s) => s.name === name)
    const sample = samples.find((s) => matches(s.labels, labels))
    return sample !== undefined
      ? Effect.succeed(sample.value)
      : Effect.fail(
        new TelemetryAssertionError({
          message: samples.length === 0
            ? `no sample named ${name} in the scrape`
            : `sample ${name} has no label set ${JSON.stringify(labels ?? {})}; present: ${
              samples.map((s) => JSON.stringify(s.labels)).join(" ")
            }`
        })
      )
  })

// --- assertions that tolerate other attributes, either name, and shared layers ---------------

const includes = (actual: Record<string, unknown>, subset: Record<string, unknown> | undefined) =>
  subset === undefined || Object.keys(subset).every((k) => k in actual && String(actual[k]) === String(subset[k]))

/**
 * The OTel name of an instrument given either of its names: the OTel one (`http.server.requests`)
 * or the one Prometheus exposes (`http_server_requests_total`, `…_seconds`), looked up among the
 * instruments declared in this process.
 *
 * @since 0.1.0
 * @category metrics
 */
export const otelNameOf = (name: string): string => {
  if (Instrument.descriptorOf(name) !== undefined) return name
  const declared = Instrument.declared().find((d) => PrometheusMetrics.exposedName(d) === name)
  return declared?.name ?? name
}

/**
 * Every data point of `name` (OTel or Prometheus name) whose attributes include `subset`
 * (other attributes allowed), OTLP side; an empty array when there is none.
 *
 * @since 0.1.0
 * @category metrics
 */
export const metricPoints = (
  name: string,
  subset?: Record<string, unknown>
): Effect.Effect<ReadonlyArray<PointView>, never, TestTelemetry> =>
  Effect.map(metricData(otelNameOf(name)), (data) =>
    data === undefined
      ? []
      : (data.dataPoints as Array<DataPoint<unknown>>)
        .filter((p) => includes(p.attributes as Record<string, unknown>, subset))
        .map((p) => viewOf(data, p)))

/**
 * The sum of the values of the sum and gauge points of `name` (OTel or Prometheus name) whose
 * attributes include `subset`, or of the counts of its histogram points; 0 when none matches.
 *
 * @example
 * ```ts
 * // every 200 response, whatever the route and method
 * expect(yield* TestTelemetry.metricTotal("http_server_request_duration_seconds", { "http.response.status_code": 200 })).toBe(3)
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const metricTotal = (
  name: string,
  subset?: Record<string, unknown>
): Effect.Effect<number, never, TestTelemetry> =>
  Effect.map(
    metricPoints(name, subset),
    (points) => points.reduce((sum, p) => sum + (typeof p.value === "number" ? p.value : p.value.count), 0)
  )

/**
 * Runs `self` and returns its result with the change it made to {@link metricTotal} of `name`
 * and `subset`: an assertion that holds when tests share one layer (`it.layer`), where values
 * recorded by earlier tests are still there.
 *
 * @example
 * ```ts
 * const [, placed] = yield* TestTelemetry.metricChange("orders.placed", { result: "ok" }, placeOrder("a1"))
 * expect(placed).toBe(1)
 * ```
 *
 * @since 0.1.0
 * @category metrics
 */
export const metricChange = <A, E, R>(
  name: string,
  subset: Record<string, unknown> | undefined,
  self: Effect.Effect<A, E, R>
): Effect.Effect<[A, number], E, R | TestTelemetry> =>
  Effect.gen(function*() {
    const before = yield* metricTotal(name, subset)
    const result = yield* self
    const after = yield* metricTotal(name, subset)
    return [result, after - before]
  })
