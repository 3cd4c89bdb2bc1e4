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
import { OTLPMetricExporter as OTLPMetricExporterJson } from "@opentelemetry/exporter-metrics-otlp-http"
import { OTLPMetricExporter as OTLPMetricExporterProto } from "@opentelemetry/exporter-metrics-otlp-proto"
import type { MetricProducer, PushMetricExporter } from "@opentelemetry/sdk-metrics"
import { AggregationTemporality, ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as internal from "./internal/otlpMetrics.js"
import { TelemetryConfigTag } from "./TelemetryConfig.js"
import type { TelemetryConfig, TemporalityPreference } from "./TelemetryConfig.js"

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

const makeExporter = (config: TelemetryConfig, name: "otlp" | "console"): PushMetricExporter => {
  if (name === "console") return new ConsoleMetricExporter()
  const settings = config.otlpMetrics
  const options = {
    url: settings.url,
    headers: { ...settings.headers },
    timeoutMillis: settings.timeoutMillis,
    compression: settings.compression as any,
    // Only matters for SDK instruments; ours report the temporality the producer computed.
    temporalityPreference: config.temporalityPreference === "cumulative"
      ? AggregationTemporality.CUMULATIVE
      : AggregationTemporality.DELTA
  }
  return settings.protocol === "http/json" ? new OTLPMetricExporterJson(options) : new OTLPMetricExporterProto(options)
}

/**
 * A `MeterProvider` with one periodic reader per configured push exporter (`otlp`,
 * `console`; `prometheus` is served by {@link PrometheusMetrics}). Closing the layer runs a
 * final collection and export, then shuts the provider down, within the shutdown timeout.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<OtlpMeterProvider, never, TelemetryConfigTag | Resource> = Layer.scoped(
  OtlpMeterProvider,
  Effect.gen(function*() {
    const config = yield* TelemetryConfigTag
    const resource = yield* Resource
    const exporters = config.disabled
      ? []
      : config.metricsExporters.filter((name): name is "otlp" | "console" => name === "otlp" || name === "console")
    const readers = exporters.map((name) =>
      new PeriodicExportingMetricReader({
        exporter: makeExporter(config, name),
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
    yield* Effect.addFinalizer(() =>
      Effect.tryPromise(() => provider.shutdown({ timeoutMillis: config.shutdownTimeoutMillis })).pipe(
        Effect.catchAll((error) =>
          Effect.logWarning(`effect-telemetry: metrics shutdown did not complete: ${String(error.error ?? error)}`)
        )
      )
    )
    return provider
  })
)
