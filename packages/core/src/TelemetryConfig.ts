/**
 * One place for every telemetry setting: the standard `OTEL_*` variables read through Effect
 * `Config`, merged with programmatic overrides.
 *
 * An invalid value never fails the program: it is reported once (variable, value, what was
 * used instead) and the OpenTelemetry default is used, as the OTel SDK specification asks.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as internal from "./internal/config.js"

/** @since 0.1.0 @category models */
export type SamplerName =
  | "always_on"
  | "always_off"
  | "traceidratio"
  | "parentbased_always_on"
  | "parentbased_always_off"
  | "parentbased_traceidratio"

/** @since 0.1.0 @category models */
export type PropagatorName = "tracecontext" | "baggage" | "b3" | "b3multi"

/** @since 0.1.0 @category models */
export type TracesExporterName = "otlp" | "console" | "none"

/** @since 0.1.0 @category models */
export type MetricsExporterName = "otlp" | "prometheus" | "console" | "none"

/** `OTEL_LOGS_EXPORTER` @since 0.1.0 @category models */
export type LogsExporterName = "otlp" | "console" | "none"

/** `OTEL_EXPORTER_OTLP_PROTOCOL`; `grpc` needs the optional peer `@grpc/grpc-js`. @since 0.1.0 @category models */
export type OtlpProtocol = "http/protobuf" | "http/json" | "grpc"

/** @since 0.1.0 @category models */
export type Compression = "gzip" | "none"

/** @since 0.1.0 @category models */
export type TemporalityPreference = "cumulative" | "delta" | "lowmemory"

/** Settings of one OTLP exporter (traces, metrics or logs), after per-signal overrides. @since 0.1.0 @category models */
export interface OtlpExporterSettings {
  /**
   * Full URL of the signal endpoint, e.g. `http://127.0.0.1:4318/v1/traces`; for `grpc` the
   * endpoint as given (`http://host:4317`, `https://host:4317` or `host:4317`).
   */
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly protocol: OtlpProtocol
  readonly timeoutMillis: number
  readonly compression: Compression
  /** `OTEL_EXPORTER_OTLP_INSECURE`: plaintext gRPC to an endpoint given without a scheme. */
  readonly insecure: boolean
  /** `OTEL_EXPORTER_OTLP_CERTIFICATE`: PEM file of the CA(s) trusted for the server's certificate. */
  readonly certificate: string | undefined
  /** `OTEL_EXPORTER_OTLP_CLIENT_KEY`: PEM file of the client's private key (mTLS). */
  readonly clientKey: string | undefined
  /** `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE`: PEM file of the client's certificate chain (mTLS). */
  readonly clientCertificate: string | undefined
}

/** `OTEL_BSP_*`: the batch span processor. @since 0.1.0 @category models */
export interface BatchSpanProcessorSettings {
  readonly scheduleDelayMillis: number
  readonly exportTimeoutMillis: number
  readonly maxQueueSize: number
  readonly maxExportBatchSize: number
}

/** `OTEL_BLRP_*`: the batch log record processor. @since 0.1.0 @category models */
export interface BatchLogRecordProcessorSettings {
  readonly scheduleDelayMillis: number
  readonly exportTimeoutMillis: number
  readonly maxQueueSize: number
  readonly maxExportBatchSize: number
}

/**
 * A value that could not be used: which variable, the raw value, why, and what was used.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConfigIssue {
  readonly variable: string
  readonly value: string
  readonly reason: string
  readonly fallback: string
}

/**
 * The resolved configuration every layer reads (environment, overrides, defaults), as the
 * {@link TelemetryConfig} Tag serves it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Resolved {
  /** `OTEL_SDK_DISABLED`: when true, no provider is created and every signal is a no-op. */
  readonly disabled: boolean
  /** `OTEL_SERVICE_NAME` (wins over `service.name` in `OTEL_RESOURCE_ATTRIBUTES`). */
  readonly serviceName: string
  readonly serviceVersion: string | undefined
  /** `OTEL_RESOURCE_ATTRIBUTES`, percent-decoded. */
  readonly resourceAttributes: Readonly<Record<string, string>>
  readonly sampler: SamplerName
  /** `OTEL_TRACES_SAMPLER_ARG` for the ratio samplers, in [0, 1]. */
  readonly samplerRatio: number
  /** `OTEL_PROPAGATORS`; empty for `none`. */
  readonly propagators: ReadonlyArray<PropagatorName>
  readonly tracesExporter: TracesExporterName
  readonly metricsExporters: ReadonlyArray<MetricsExporterName>
  readonly otlpTraces: OtlpExporterSettings
  readonly otlpMetrics: OtlpExporterSettings
  readonly temporalityPreference: TemporalityPreference
  readonly batchSpanProcessor: BatchSpanProcessorSettings
  /** `OTEL_LOGS_EXPORTER` (default `otlp`): where Effect's log output goes as OTLP log records. */
  readonly logsExporter: LogsExporterName
  readonly otlpLogs: OtlpExporterSettings
  /** `OTEL_BLRP_*` */
  readonly batchLogRecordProcessor: BatchLogRecordProcessorSettings
  /** `OTEL_METRIC_EXPORT_INTERVAL` */
  readonly metricExportIntervalMillis: number
  /** `OTEL_METRIC_EXPORT_TIMEOUT` */
  readonly metricExportTimeoutMillis: number
  /** `OTEL_EXPORTER_PROMETHEUS_HOST` */
  readonly prometheusHost: string
  /** `OTEL_EXPORTER_PROMETHEUS_PORT` */
  readonly prometheusPort: number
  /** `EFFECT_TELEMETRY_SHUTDOWN_TIMEOUT` (ms): bound on flush + shutdown when the layer closes. */
  readonly shutdownTimeoutMillis: number
  /** `EFFECT_TELEMETRY_FUNCTIONS` (default true): function telemetry on/off without code changes. */
  readonly functionTelemetry: boolean
  /** `EFFECT_TELEMETRY_RUNTIME_METRICS` (default true): export Effect's own `effect_fiber_*` metrics. */
  readonly effectRuntimeMetrics: boolean
  /** `EFFECT_TELEMETRY_NODE_METRICS` (default true): prom-client's Node.js metrics (`nodejs_*`, `process_*`) in the Prometheus scrape. */
  readonly nodeMetrics: boolean
  /** `OTEL_ATTRIBUTE_COUNT_LIMIT`-style bound on distinct attribute sets per metric (`EFFECT_TELEMETRY_METRIC_CARDINALITY_LIMIT`, default 2000). */
  readonly metricCardinalityLimit: number
  /** Every value that was rejected while loading, in variable order. */
  readonly issues: ReadonlyArray<ConfigIssue>
}

/**
 * Programmatic overrides: each wins over the environment.
 *
 * @since 0.1.0
 * @category models
 */
export type Overrides =
  & {
    readonly [
      K in Exclude<
        keyof Resolved,
        "issues" | "otlpTraces" | "otlpMetrics" | "otlpLogs" | "batchSpanProcessor" | "batchLogRecordProcessor"
      >
    ]?: Resolved[K]
  }
  & {
    readonly otlpTraces?: Partial<OtlpExporterSettings>
    readonly otlpMetrics?: Partial<OtlpExporterSettings>
    readonly batchSpanProcessor?: Partial<BatchSpanProcessorSettings>
    readonly otlpLogs?: Partial<OtlpExporterSettings>
    readonly batchLogRecordProcessor?: Partial<BatchLogRecordProcessorSettings>
  }

/**
 * The resolved configuration as a service (`yield* TelemetryConfig.TelemetryConfig`).
 *
 * @since 0.1.0
 * @category tags
 */
export class TelemetryConfig extends Context.Tag("@effect-telemetry/core/TelemetryConfig")<
  TelemetryConfig,
  Resolved
>() {}

/**
 * Reads the environment through Effect's `ConfigProvider` and applies the overrides.
 * Never fails: rejected values are listed in `issues` and replaced by their defaults.
 *
 * @example
 * ```ts
 * const config = yield* TelemetryConfig.load({ serviceName: "orders" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const load: (overrides?: Overrides) => Effect.Effect<Resolved> = internal.load

/**
 * Logs each issue once, as a warning naming the variable, the value and the fallback.
 *
 * @since 0.1.0
 * @category reporting
 */
export const reportIssues: (config: Resolved) => Effect.Effect<void> = internal.reportIssues

/**
 * Loads the configuration, reports its issues once and provides it.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (overrides?: Overrides): Layer.Layer<TelemetryConfig> =>
  Layer.effect(TelemetryConfig, internal.loadAndReport(overrides))

/**
 * Whether the in-process trace view is on by default: `EFFECT_TELEMETRY_TRACEVIEW` when set,
 * else on unless `NODE_ENV` is `production`. A value that is not `true`/`false` is reported
 * once as a warning and that default is used; it never fails.
 *
 * @since 0.1.0
 * @category constructors
 */
export const traceViewEnabled: Effect.Effect<boolean> = internal.loadTraceView

/**
 * Provides a configuration built from defaults and overrides only, ignoring the environment
 * (for tests and embedded uses).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStatic = (overrides?: Overrides): Layer.Layer<TelemetryConfig> =>
  Layer.succeed(TelemetryConfig, internal.fromOverrides(overrides))
