/**
 * Everything the foundation offers, as one Layer: configuration, resource, propagator,
 * Tracer, logs (`OTEL_LOGS_EXPORTER`), OTLP metrics, Prometheus metrics (served on its own port when `prometheus` is among
 * `OTEL_METRICS_EXPORTER`) and function telemetry.
 *
 * @example
 * ```ts
 * import { Telemetry } from "@effect-telemetry/core"
 *
 * const placeOrder = Telemetry.fn("orders.place")(function*(id: string) { ... })
 *
 * program.pipe(Effect.provide(Telemetry.layer({ serviceName: "orders" })))
 * ```
 *
 * @since 0.1.0
 */
import type { Resource } from "@effect/opentelemetry/Resource"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as FunctionTelemetry from "./FunctionTelemetry.js"
import * as Instrument from "./Instrument.js"
import * as Diagnostics from "./internal/diagnostics.js"
import * as Shutdown from "./internal/shutdown.js"
import * as Logging from "./Logging.js"
import * as OtlpMetrics from "./OtlpMetrics.js"
import * as PrometheusMetrics from "./PrometheusMetrics.js"
import * as Propagation from "./Propagation.js"
import * as TelemetryConfig from "./TelemetryConfig.js"
import * as TelemetryResource from "./TelemetryResource.js"
import * as Tracing from "./Tracing.js"

// Built once: every call returns this value, so a layer provided in two places is still one
// layer (Effect memoizes layers by reference).
const layerDiagnosticsInstance: Layer.Layer<never, never, TelemetryConfig.TelemetryConfig> = Layer.scopedDiscard(
  Effect.gen(function*() {
    const config = yield* TelemetryConfig.TelemetryConfig
    Instrument.setCardinalityLimit(config.metricCardinalityLimit)
    const runtime = yield* Effect.runtime<never>()
    const runSync = Runtime.runSync(runtime)
    yield* Effect.acquireRelease(
      Effect.sync(() => Diagnostics.setSink((message) => runSync(Effect.logWarning(`effect-telemetry: ${message}`)))),
      (previous) => Effect.sync(() => Diagnostics.setSink(previous))
    )
  })
)

/**
 * Routes hot-path warnings (cardinality overflow) to the application's Effect logger and
 * applies the configured cardinality limit, for the lifetime of the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerDiagnostics = (): Layer.Layer<never, never, TelemetryConfig.TelemetryConfig> =>
  layerDiagnosticsInstance

/**
 * The configuration overrides (each wins over its `OTEL_*` variable; see
 * {@link TelemetryConfig.Overrides}) and what the layer serves. Like the environment, an
 * override that is not allowed is reported as a warning and replaced by its default: the
 * telemetry layer never fails.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends TelemetryConfig.Overrides {
  /** Serve `/metrics` on `OTEL_EXPORTER_PROMETHEUS_HOST:PORT` when `prometheus` is configured. Default true. */
  readonly prometheusServer?: boolean | undefined
}

/** @since 0.1.0 @category models */
export type Services =
  | TelemetryConfig.TelemetryConfig
  | Resource
  | Tracing.SpanDelivery
  | Logging.LogDelivery
  | OtlpMetrics.OtlpMeterProvider
  | PrometheusMetrics.PrometheusMetrics

/**
 * All signals from an already provided configuration (`TelemetryConfig.layer`,
 * `TelemetryConfig.layerStatic`); {@link layer} is this with the configuration included.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSignals = (
  options?: { readonly prometheusServer?: boolean | undefined }
): Layer.Layer<Exclude<Services, TelemetryConfig.TelemetryConfig>, never, TelemetryConfig.TelemetryConfig> => {
  const signals = Layer.mergeAll(
    Tracing.layer(),
    Logging.layer(),
    OtlpMetrics.layer(),
    PrometheusMetrics.layer(),
    Propagation.layer(),
    FunctionTelemetry.layer(),
    layerDiagnostics()
  )
  const server = Layer.unwrapEffect(
    Effect.map(
      TelemetryConfig.TelemetryConfig,
      (config) =>
        (options?.prometheusServer ?? true) && !config.disabled && config.metricsExporters.includes("prometheus")
          ? Layer.orDie(Layer.discard(PrometheusMetrics.layerServer()))
          : Layer.empty
    )
  )
  // With OTEL_SDK_DISABLED nothing is recorded or exported; say so once instead of going quiet.
  const disabledNotice = Layer.effectDiscard(Effect.flatMap(TelemetryConfig.TelemetryConfig, (config) =>
    config.disabled
      ? Effect.logInfo(
        "effect-telemetry: telemetry is off (OTEL_SDK_DISABLED=true): no spans, logs or metrics are recorded or exported"
      )
      : Effect.void))
  return server.pipe(
    Layer.provideMerge(signals),
    Layer.provideMerge(TelemetryResource.layer()),
    Layer.merge(disabledNotice),
    // One shutdown deadline for spans, logs and metrics: the first of their finalizers closes both.
    Layer.provide(Layer.sync(Shutdown.TelemetryShutdown, () => new Shutdown.ShutdownGroup()))
  )
}

/**
 * All signals, configured from the environment and `options`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<Services> => {
  const { prometheusServer, ...overrides } = options ?? {}
  return layerSignals({ prometheusServer }).pipe(Layer.provideMerge(TelemetryConfig.layer(overrides)))
}

/**
 * {@link layer} with options read from Effect `Config`; it fails only when a value cannot be
 * read.
 *
 * @example
 * ```ts
 * Telemetry.layerConfig({ serviceName: Config.string("APP_NAME") })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (config: Config.Config.Wrap<Options>): Layer.Layer<Services, ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))

/**
 * A traced function (see {@link FunctionTelemetry.fn}).
 *
 * @since 0.1.0
 * @category constructors
 */
export const fn = FunctionTelemetry.fn

/**
 * Wraps an effect as a call of a traced function (see {@link FunctionTelemetry.traced}).
 *
 * @since 0.1.0
 * @category combinators
 */
export const traced = FunctionTelemetry.traced
