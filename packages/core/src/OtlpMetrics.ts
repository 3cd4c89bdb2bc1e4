/**
 * OTLP (and console) export of every Effect metric through the OpenTelemetry SDK's
 * `MeterProvider` and `PeriodicExportingMetricReader`.
 *
 * Effect's registry is read by a `MetricProducer` of ours rather than by
 * `@effect/opentelemetry`'s bridge, which starts every series at the first collection,
 * reports ±1.8e308 as the min/max of an empty histogram, exports non-incremental counters as
 * monotonic and knows only cumulative temporality. Ours honours
 * `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`.
 *
 * @since 0.1.0
 */
import { Resource } from "@effect/opentelemetry/Resource"
import type { ExportResult } from "@opentelemetry/core"
import { ExportResultCode } from "@opentelemetry/core"
import type {
  AggregationTemporality,
  InstrumentType,
  MetricProducer,
  PushMetricExporter,
  ResourceMetrics
} from "@opentelemetry/sdk-metrics"
import { ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Export from "./internal/export.js"
import * as internal from "./internal/otlpMetrics.js"
import * as Shutdown from "./internal/shutdown.js"
import { TelemetryConfig } from "./TelemetryConfig.js"
import type { Resolved, TemporalityPreference } from "./TelemetryConfig.js"

/**
 * A producer reading Effect's metric registry, to register on any SDK `MetricReader`
 * (`new PeriodicExportingMetricReader({ exporter, metricProducers: [producer] })`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeProducer: (options: {
  readonly temporality: TemporalityPreference
  readonly effectRuntimeMetrics: boolean
}) => MetricProducer = internal.makeProducer

/** The SDK meter provider owning the metric readers. @since 0.1.0 @category tags */
export class OtlpMeterProvider extends Context.Tag("@effect-telemetry/core/OtlpMeterProvider")<
  OtlpMeterProvider,
  MeterProvider
>() {}

const makeExporter = (config: Resolved, name: "otlp" | "console"): PushMetricExporter =>
  name === "console"
    ? new ConsoleMetricExporter()
    // The SDK's serializers over our transport, which can be aborted at the shutdown deadline.
    : new Export.OtlpMetricExporter(config.otlpMetrics, config.temporalityPreference)

/** How the export at shutdown ended. */
type FinalExport =
  | { readonly _tag: "none" }
  | { readonly _tag: "pending"; readonly points: number }
  | { readonly _tag: "delivered"; readonly points: number }
  | { readonly _tag: "failed"; readonly points: number; readonly error: string }
  | { readonly _tag: "abandoned"; readonly points: number }

const pointsOf = (metrics: ResourceMetrics): number => {
  let points = 0
  for (const scope of metrics.scopeMetrics) for (const metric of scope.metrics) points += metric.dataPoints.length
  return points
}

/**
 * Records the outcome of the exports that run once the shutdown began (the final collection),
 * so the shutdown report can say whether the last metrics were delivered.
 */
class FinalExportRecorder implements PushMetricExporter {
  closing = false
  final: FinalExport = { _tag: "none" }

  constructor(readonly inner: PushMetricExporter & Partial<Export.Abortable>) {}

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    if (!this.closing) return this.inner.export(metrics, resultCallback)
    const points = pointsOf(metrics)
    this.final = { _tag: "pending", points }
    this.inner.export(metrics, (result) => {
      this.final = result.code === ExportResultCode.SUCCESS
        ? { _tag: "delivered", points }
        : Export.isAbandoned(result.error)
        ? { _tag: "abandoned", points }
        : { _tag: "failed", points, error: result.error?.message ?? "export failed" }
      resultCallback(result)
    })
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return this.inner.selectAggregationTemporality!(instrumentType)
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush()
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown()
  }

  abort(): void {
    if (this.final._tag === "pending") this.final = { _tag: "abandoned", points: this.final.points }
    this.inner.abort?.()
  }
}

const outcomeOf = (name: string, final: FinalExport, lastAttemptError: string | undefined): Shutdown.Outcome => {
  const field = `metrics.${name}.final_export`
  switch (final._tag) {
    case "none":
      return {
        text: `metrics (${name}): nothing to export`,
        fields: { [field]: "none" },
        lastError: undefined,
        clean: true
      }
    case "delivered":
      return {
        text: `metrics (${name}): final export of ${final.points} points delivered`,
        fields: { [field]: "delivered", [`metrics.${name}.final_points`]: final.points },
        lastError: undefined,
        clean: true
      }
    case "failed":
      return {
        text: `metrics (${name}): final export of ${final.points} points failed`,
        fields: { [field]: "failed", [`metrics.${name}.final_points`]: final.points },
        lastError: final.error,
        clean: false
      }
    case "pending":
    case "abandoned":
      return {
        text: `metrics (${name}): final export of ${final.points} points abandoned`,
        fields: { [field]: "abandoned", [`metrics.${name}.final_points`]: final.points },
        lastError: lastAttemptError,
        clean: false
      }
  }
}

// Built once: every call returns this value, so a layer provided in two places is still one
// layer (Effect memoizes layers by reference).
const layerInstance: Layer.Layer<OtlpMeterProvider, never, TelemetryConfig | Resource> = Layer.scoped(
  OtlpMeterProvider,
  Effect.gen(function*() {
    const config = yield* TelemetryConfig
    const resource = yield* Resource
    const exporters = config.disabled
      ? []
      : config.metricsExporters.filter((name): name is "otlp" | "console" => name === "otlp" || name === "console")
    const recorders = exporters.map((name) => ({ name, recorder: new FinalExportRecorder(makeExporter(config, name)) }))
    const readers = recorders.map(({ recorder }) =>
      new PeriodicExportingMetricReader({
        exporter: recorder,
        exportIntervalMillis: config.metricExportIntervalMillis,
        exportTimeoutMillis: Math.min(config.metricExportTimeoutMillis, config.metricExportIntervalMillis),
        metricProducers: [
          internal.makeProducer({
            temporality: config.temporalityPreference,
            effectRuntimeMetrics: config.effectRuntimeMetrics
          })
        ]
      })
    )
    const provider = new MeterProvider({ resource, readers })
    if (readers.length === 0) return provider
    const group = yield* Shutdown.group
    group.register({
      close: () => {
        for (const { recorder } of recorders) recorder.closing = true
        // Bounded by the group's deadline, which aborts the exports; this is only a backstop.
        return provider.shutdown({ timeoutMillis: config.shutdownTimeoutMillis + 1_000 })
      },
      abort: () => {
        for (const { recorder } of recorders) recorder.abort()
      },
      outcome: () => {
        const outcomes = recorders.map(({ name, recorder }) =>
          outcomeOf(name, recorder.final, recorder.inner.transport?.lastError)
        )
        return {
          text: outcomes.map((outcome) => outcome.text).join("; "),
          fields: Object.assign({}, ...outcomes.map((outcome) => outcome.fields)),
          lastError: outcomes.map((outcome) => outcome.lastError).find((error) => error !== undefined),
          clean: outcomes.every((outcome) => outcome.clean)
        }
      }
    })
    // One deadline with the spans of the same Telemetry layer (see internal/shutdown).
    yield* Effect.addFinalizer(() => Shutdown.finalizer(group, config.shutdownTimeoutMillis))
    return provider
  })
)

/**
 * A `MeterProvider` with one periodic reader per configured push exporter (`otlp`,
 * `console`; `prometheus` is served by {@link PrometheusMetrics}). Closing the layer runs a
 * final collection and export, then shuts the provider down, within the shutdown timeout (one
 * deadline shared with the spans of the same `Telemetry` layer); the shutdown report says
 * whether that final export was delivered, failed or abandoned at the deadline.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (): Layer.Layer<OtlpMeterProvider, never, TelemetryConfig | Resource> => layerInstance
