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
import { Resource } from "@effect/opentelemetry/Resource"
import type { Resource as OtelResource } from "@opentelemetry/resources"
import type { MeterProvider } from "@opentelemetry/sdk-metrics"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
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

/**
 * What the {@link Telemetry} Tag serves: the running signals of {@link layer}, for health
 * endpoints, tests and users who mount `/metrics` on their own router.
 *
 * @since 0.1.0
 * @category models
 */
export interface TelemetryService {
  /** The resolved configuration. */
  readonly config: TelemetryConfig.Resolved
  /** The OpenTelemetry resource every signal carries. */
  readonly resource: OtelResource
  /** Span delivery counts: ended, dropped, handed to the exporter, exported, failed. */
  readonly spans: Tracing.SpanDeliveryService
  /** Log record delivery counts. */
  readonly logs: Logging.LogDeliveryService
  /** The SDK meter provider owning the OTLP metric readers. */
  readonly meterProvider: MeterProvider
}

/**
 * The running telemetry of {@link layer}, as one service. One Tag rather than one per part:
 * every service in the app's context is copied (and hashed) by the router and each
 * `provideService` on every request, used or not. The parts' own Tags
 * (`TelemetryConfig.TelemetryConfig`, `Tracing.SpanDelivery`...) are what the parts' layers
 * provide when composed one by one; {@link layerParts} gives them back from this one.
 * `PrometheusMetrics.PrometheusMetrics` stays a service of its own next to it: its `handler`
 * serves `/metrics` requests on the app's router.
 *
 * @example
 * ```ts
 * import { Telemetry } from "@effect-telemetry/core"
 * import { Effect } from "effect"
 *
 * const health = Effect.flatMap(Telemetry.Telemetry, (telemetry) => telemetry.spans.stats)
 * ```
 *
 * @since 0.1.0
 * @category tags
 */
export class Telemetry extends Context.Tag("@effect-telemetry/core/Telemetry")<Telemetry, TelemetryService>() {}

// The parts' services gathered into the one service layer leaves in the app's context.
const gather: Layer.Layer<
  Telemetry,
  never,
  | TelemetryConfig.TelemetryConfig
  | Resource
  | Tracing.SpanDelivery
  | Logging.LogDelivery
  | OtlpMetrics.OtlpMeterProvider
> = Layer.effect(
  Telemetry,
  Effect.all({
    config: TelemetryConfig.TelemetryConfig,
    resource: Resource,
    spans: Tracing.SpanDelivery,
    logs: Logging.LogDelivery,
    meterProvider: OtlpMetrics.OtlpMeterProvider
  })
)

/**
 * The parts' own Tags, read from {@link Telemetry}: for a layer that needs one of them, such as
 * `PrometheusMetrics.layerServer`, next to {@link layer}. Provide it to that layer rather than
 * merging it into the app's, so that the app's context keeps the one service.
 *
 * @example
 * ```ts
 * import { PrometheusMetrics, Telemetry } from "@effect-telemetry/core"
 * import { Layer } from "effect"
 *
 * const TelemetryLive = Telemetry.layer({ serviceName: "orders", prometheusServer: false })
 * // `/metrics` on a port of its own, beside the app (which keeps the one Telemetry service)
 * const MetricsServer = PrometheusMetrics.layerServer({ port: 9464 }).pipe(Layer.provide(Telemetry.layerParts))
 * const MainLive = MetricsServer.pipe(Layer.provideMerge(TelemetryLive))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerParts: Layer.Layer<
  | TelemetryConfig.TelemetryConfig
  | Resource
  | Tracing.SpanDelivery
  | Logging.LogDelivery
  | OtlpMetrics.OtlpMeterProvider,
  never,
  Telemetry
> = Layer.effectContext(
  Effect.map(Telemetry, (telemetry) =>
    Context.make(TelemetryConfig.TelemetryConfig, telemetry.config).pipe(
      Context.add(Resource, telemetry.resource),
      Context.add(Tracing.SpanDelivery, telemetry.spans),
      Context.add(Logging.LogDelivery, telemetry.logs),
      Context.add(OtlpMetrics.OtlpMeterProvider, telemetry.meterProvider)
    ))
)

/**
 * All signals from an already provided configuration (`TelemetryConfig.layer`,
 * `TelemetryConfig.layerStatic`); {@link layer} is this with the configuration included.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSignals = (
  options?: { readonly prometheusServer?: boolean | undefined }
): Layer.Layer<Telemetry | PrometheusMetrics.PrometheusMetrics, never, TelemetryConfig.TelemetryConfig> => {
  // The parts whose services `gather` collects: provided, not merged, so that their Tags stay
  // out of the app's context. The tracer and loggers they install are fiber refs, which reach
  // the app either way.
  const parts = Layer.mergeAll(
    Tracing.layer(),
    Logging.layer(),
    OtlpMetrics.layer()
  ).pipe(Layer.provideMerge(PrometheusMetrics.layer()), Layer.provideMerge(TelemetryResource.layer()))
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
  return Layer.mergeAll(
    gather,
    server,
    // Merged: `PrometheusMetrics.handler` serves `/metrics` on the app's router. The same layer
    // value as in `parts`, so it is built once.
    PrometheusMetrics.layer(),
    disabledNotice,
    Propagation.layer(),
    // Merged: with function telemetry off it leaves `FunctionTelemetry.Enabled` in the context.
    FunctionTelemetry.layer(),
    layerDiagnostics()
  ).pipe(
    Layer.provide(parts),
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
export const layer = (options?: Options): Layer.Layer<Telemetry | PrometheusMetrics.PrometheusMetrics> => {
  const { prometheusServer, ...overrides } = options ?? {}
  return layerSignals({ prometheusServer }).pipe(Layer.provide(TelemetryConfig.layer(overrides)))
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
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<Telemetry | PrometheusMetrics.PrometheusMetrics, ConfigError.ConfigError> =>
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
