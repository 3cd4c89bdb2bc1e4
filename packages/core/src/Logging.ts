/**
 * The logs signal: what the application logs through Effect (`Effect.log`, `logWarning`,
 * `logError`, …) becomes OpenTelemetry log records, through the OTel logs SDK, batched
 * (`OTEL_BLRP_*`) and exported as `OTEL_LOGS_EXPORTER` says (`otlp` by default, `console`,
 * `none`). Each record carries the current span's trace and span id (and its sampled flag),
 * the severity, the message as body, the fiber's annotations as attributes, the cause as
 * `exception.*` attributes, and the resource. Effect's own loggers keep working: this one is
 * added next to them.
 *
 * **Delivery.** The queue is bounded (`OTEL_BLRP_MAX_QUEUE_SIZE`); records logged while it is
 * full are dropped and counted (`otel.sdk.processor.log.processed{error.type="queue_full"}`).
 * Closing the layer flushes within the same shutdown deadline as the spans of the same
 * `Telemetry` layer, and the one shutdown line says how many records were exported, dropped,
 * failed or abandoned. `log.records` counts every message by severity, exported or not.
 *
 * @example
 * ```ts
 * import { Logging, TelemetryConfig, TelemetryResource } from "@effect-telemetry/core"
 * import { Effect, Layer } from "effect"
 *
 * const LogsLive = Logging.layer().pipe(
 *   Layer.provide(TelemetryResource.layer()),
 *   Layer.provide(TelemetryConfig.layer({ serviceName: "orders", logsExporter: "otlp" }))
 * )
 * Effect.logInfo("order placed").pipe(Effect.annotateLogs("order.id", "o-1"), Effect.provide(LogsLive))
 * ```
 *
 * @since 0.1.0
 */
import { Resource } from "@effect/opentelemetry/Resource"
import type * as Resources from "@opentelemetry/resources"
import type { LogRecordExporter, LogRecordProcessor as SdkLogRecordProcessor } from "@opentelemetry/sdk-logs"
import {
  BatchLogRecordProcessor,
  ConsoleLogRecordExporter,
  LoggerProvider,
  SimpleLogRecordProcessor
} from "@opentelemetry/sdk-logs"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import type * as Delivery from "./internal/delivery.js"
import * as Export from "./internal/export.js"
import * as internal from "./internal/logs.js"
import * as SignalPipeline from "./internal/signalPipeline.js"
import * as internalSignals from "./internal/signals.js"
import type { Catalogue } from "./Signals.js"
import type { Overrides, Resolved } from "./TelemetryConfig.js"
import { TelemetryConfig } from "./TelemetryConfig.js"

/** `log.records`: messages logged, by `log.severity`. @since 0.1.0 @category names */
export const METRIC_LOG_RECORDS = internal.METRIC_LOG_RECORDS
/** `otel.sdk.processor.log.processed`: records offered to the batch processor. @since 0.1.0 @category names */
export const METRIC_SDK_LOG_PROCESSED = internal.METRIC_SDK_LOG_PROCESSED
/** `otel.sdk.exporter.log.exported`: records handed to the exporter, by outcome. @since 0.1.0 @category names */
export const METRIC_SDK_LOG_EXPORTED = internal.METRIC_SDK_LOG_EXPORTED
/** `log.severity` (ours): `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` or `FATAL`. @since 0.1.0 @category names */
export const ATTR_LOG_SEVERITY = internal.ATTR_LOG_SEVERITY

/** A processor of the OTel logs SDK (re-exported so viewers need not depend on the SDK). @since 0.1.0 @category models */
export type LogRecordProcessor = SdkLogRecordProcessor

/** The OTel severity number and text of an Effect log level. @since 0.1.0 @category models */
export type Severity = internal.Severity

/**
 * The OTel severity of an Effect `LogLevel` (`Warning` → 13 `WARN`); `undefined` for `All`
 * and `None`.
 *
 * @since 0.1.0
 * @category severity
 */
export const severityOf: (level: LogLevel.LogLevel) => Severity | undefined = internal.severityOf

/** @since 0.1.0 @category models */
export type DeliveryStats = Delivery.DeliveryStats

/** What the {@link LogDelivery} Tag serves. @since 0.1.0 @category models */
export interface LogDeliveryService {
  /** Counts so far: emitted (`ended`), dropped, handed to the exporter, exported, failed. */
  readonly stats: Effect.Effect<DeliveryStats>
}

/**
 * Delivery counts of the running logger provider (for health endpoints and tests).
 *
 * @since 0.1.0
 * @category tags
 */
export class LogDelivery extends Context.Tag("@effect-telemetry/core/LogDelivery")<
  LogDelivery,
  LogDeliveryService
>() {}

/**
 * Log record processors `layer` adds to the provider next to the exporter's, outside delivery
 * accounting (the trace viewer). Default: none.
 *
 * @since 0.1.0
 * @category references
 */
export class ExtraLogRecordProcessors extends Context.Reference<ExtraLogRecordProcessors>()(
  "@effect-telemetry/core/Logging/ExtraLogRecordProcessors",
  { defaultValue: (): ReadonlyArray<SdkLogRecordProcessor> => [] }
) {}

/**
 * The settings `layer` takes over the configuration's (each wins over its `OTEL_*` variable).
 *
 * @since 0.1.0
 * @category models
 */
export type Options = Pick<Overrides, "logsExporter" | "otlpLogs" | "batchLogRecordProcessor">

/**
 * The exporter for a configuration, or `undefined` for `none`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeExporter = (config: Resolved): LogRecordExporter | undefined =>
  SignalPipeline.exporterFor<LogRecordExporter>(config.logsExporter, {
    console: () => new ConsoleLogRecordExporter(),
    // The SDK's serializers over our transport, which can be aborted at the shutdown deadline.
    otlp: () => new Export.OtlpLogExporter(config.otlpLogs)
  })

/** Log records in the shared export pipeline (internal/signalPipeline). */
const logs: SignalPipeline.Signal<LogRecordExporter, SdkLogRecordProcessor, internal.AccountingLogRecordExporter> = {
  // The batch processor exports one batch at a time.
  exportConcurrency: 1,
  account: (exporter, accounting) => new internal.AccountingLogRecordExporter(exporter, accounting),
  simpleProcessor: (exporter) => new SimpleLogRecordProcessor({ exporter }),
  batchProcessor: (exporter, options) => new BatchLogRecordProcessor({ exporter, ...options }),
  accountProcessor: (processor, accounting) => new internal.AccountingLogRecordProcessor(processor, accounting),
  wording: {
    noun: "logs",
    total: "emitted",
    queueFull: (maxQueueSize) =>
      ` (log queue of ${maxQueueSize} full during the run: raise OTEL_BLRP_MAX_QUEUE_SIZE or log less)`,
    late: (count) => ` (${count} dropped records logged after the shutdown began)`
  }
}

/** @since 0.1.0 @category models */
export interface ProviderOptions {
  readonly config: Resolved
  readonly resource: Resources.Resource
  /** Overrides the exporter the configuration names (tests pass an in-memory exporter). */
  readonly exporter?: LogRecordExporter | undefined
  /** Export each record as it is logged instead of batching (tests). */
  readonly simple?: boolean | undefined
  /** Processors added next to the exporter's, outside delivery accounting (an in-process viewer). */
  readonly processors?: ReadonlyArray<SdkLogRecordProcessor> | undefined
}

/** @since 0.1.0 @category models */
export interface Provider {
  readonly provider: LoggerProvider
  readonly accounting: Delivery.DeliveryAccounting
  /** The accounting exporter around the configured one, if any. */
  readonly exporter?: internal.AccountingLogRecordExporter | undefined
}

/**
 * Builds the SDK logger provider with delivery accounting around its processor and exporter.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeProvider = (options: ProviderOptions): Provider => {
  const { config } = options
  const { accounting, exporter, processors } = SignalPipeline.makeProcessors(logs, {
    settings: config.batchLogRecordProcessor,
    exporter: options.exporter ?? makeExporter(config),
    simple: options.simple === true || config.logsExporter === "console",
    extra: options.processors
  })
  return { provider: new LoggerProvider({ resource: options.resource, processors }), accounting, exporter }
}

/**
 * The Effect logger emitting into a provider's logger (the instrumentation scope is the
 * service, as for the tracer).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (provider: LoggerProvider, resource: Resources.Resource): Logger.Logger<unknown, void> =>
  internal.makeLogger(
    provider.getLogger(
      String(resource.attributes["service.name"] ?? "effect-telemetry"),
      resource.attributes["service.version"] as string | undefined
    )
  )

/**
 * Counts every message by severity into `log.records`, once however often it is added.
 *
 * @since 0.1.0
 * @category loggers
 */
export const countingLogger: Logger.Logger<unknown, void> = internal.countingLogger

/**
 * Flushes and shuts down within the timeout, then reports in one line what was exported,
 * dropped, failed and abandoned (for a provider outside a `Telemetry` layer).
 *
 * @since 0.1.0
 * @category shutdown
 */
export const shutdown = (provider: Provider, timeoutMillis: number): Effect.Effect<DeliveryStats> =>
  SignalPipeline.shutdown(provider, logs.wording, timeoutMillis)

const build = (options: Options | undefined): Layer.Layer<LogDelivery, never, TelemetryConfig | Resource> =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const loaded = yield* TelemetryConfig
      const config: Resolved = options === undefined ? loaded : {
        ...loaded,
        logsExporter: options.logsExporter ?? loaded.logsExporter,
        otlpLogs: { ...loaded.otlpLogs, ...options.otlpLogs },
        batchLogRecordProcessor: { ...loaded.batchLogRecordProcessor, ...options.batchLogRecordProcessor }
      }
      const empty = Layer.succeed(LogDelivery, { stats: Effect.succeed(SignalPipeline.emptyStats) })
      if (config.disabled) return empty
      const counting = Logger.add(internal.countingLogger)
      const processors = yield* ExtraLogRecordProcessors
      if (config.logsExporter === "none" && processors.length === 0) return Layer.merge(counting, empty)
      const resource = yield* Resource
      const provider = yield* SignalPipeline.acquire(
        () => makeProvider({ config, resource, processors }),
        logs.wording,
        config.shutdownTimeoutMillis
      )
      return Layer.mergeAll(
        counting,
        Logger.add(make(provider.provider, resource)),
        Layer.succeed(LogDelivery, { stats: Effect.sync(() => provider.accounting.stats()) })
      )
    })
  )

// Built once: every call without options returns this value, so a layer provided in two places
// is still one layer (Effect memoizes layers by reference).
const layerInstance = build(undefined)

/**
 * The logs layer: an SDK logger provider from the configuration, an Effect logger added that
 * emits into it, and `log.records` counted; flushed and shut down when the layer closes, within
 * the shutdown deadline shared with the other signals. With `OTEL_LOGS_EXPORTER=none` only
 * `log.records` is counted; with `OTEL_SDK_DISABLED=true` nothing is added.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<LogDelivery, never, TelemetryConfig | Resource> =>
  options === undefined ? layerInstance : build(options)

/**
 * {@link layer} with options read from Effect `Config`; it fails only when a value cannot be read.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<LogDelivery, ConfigError.ConfigError, TelemetryConfig | Resource> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))

/**
 * The logs layer's metrics, with their attributes and meaning: the declaration
 * docs/SIGNALS.md's Core logs table is generated from.
 *
 * @since 0.2.0
 * @category signals
 */
export const signals: Catalogue = internalSignals.logs
