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
import * as Delivery from "./internal/delivery.js"
import * as Export from "./internal/export.js"
import * as internal from "./internal/logs.js"
import * as Shutdown from "./internal/shutdown.js"
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
export const makeExporter = (config: Resolved): LogRecordExporter | undefined => {
  switch (config.logsExporter) {
    case "none":
      return undefined
    case "console":
      return new ConsoleLogRecordExporter()
    case "otlp":
      // The SDK's serializers over our transport, which can be aborted at the shutdown deadline.
      return new Export.OtlpLogExporter(config.otlpLogs)
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
  const blrp = config.batchLogRecordProcessor
  // The batch processor exports one batch at a time.
  const accounting = new Delivery.DeliveryAccounting(blrp.maxQueueSize, 1)
  const exporter = options.exporter ?? makeExporter(config)
  const processors: Array<SdkLogRecordProcessor> = []
  let accounted: internal.AccountingLogRecordExporter | undefined
  if (exporter !== undefined) {
    accounted = new internal.AccountingLogRecordExporter(exporter, accounting)
    const processor = options.simple === true || config.logsExporter === "console"
      ? new SimpleLogRecordProcessor({ exporter: accounted })
      : new BatchLogRecordProcessor({
        exporter: accounted,
        maxQueueSize: blrp.maxQueueSize,
        maxExportBatchSize: Math.min(blrp.maxExportBatchSize, blrp.maxQueueSize),
        scheduledDelayMillis: blrp.scheduleDelayMillis,
        exportTimeoutMillis: blrp.exportTimeoutMillis
      })
    processors.push(new internal.AccountingLogRecordProcessor(processor, accounting))
  }
  if (options.processors !== undefined) processors.push(...options.processors)
  return { provider: new LoggerProvider({ resource: options.resource, processors }), accounting, exporter: accounted }
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

/** The records' part of the telemetry shutdown (as the spans'). */
const shutdownParticipant = (provider: Provider): Shutdown.Participant => ({
  close: () =>
    provider.provider.shutdown().then(
      () => provider.accounting.idle(),
      () => provider.accounting.idle().then(() => provider.exporter?.shutdown())
    ),
  abort: () => {
    provider.exporter?.abort()
    provider.accounting.abandonRest()
  },
  outcome: (): Shutdown.Outcome => {
    const stats = provider.accounting.abandonRest()
    if (provider.exporter === undefined) return { text: "", fields: {}, lastError: undefined, clean: true }
    const late = provider.accounting.droppedAfterClose
    const queueFull = stats.dropped - late
    const hint = (queueFull > 0
      ? ` (log queue of ${provider.accounting.maxQueueSize} full during the run: raise OTEL_BLRP_MAX_QUEUE_SIZE or log less)`
      : "") + (late > 0 ? ` (${late} dropped records logged after the shutdown began)` : "")
    return {
      text: `logs ${stats.ended} = ${stats.exported} exported + ${stats.dropped} dropped + ` +
        `${stats.failed} failed + ${stats.abandoned} abandoned${hint}`,
      fields: {
        "logs.emitted": stats.ended,
        "logs.exported": stats.exported,
        "logs.dropped": stats.dropped,
        "logs.failed": stats.failed,
        "logs.abandoned": stats.abandoned
      },
      lastError: stats.failed + stats.abandoned > 0
        ? stats.lastError ?? provider.exporter?.lastAttemptError
        : undefined,
      clean: stats.dropped + stats.failed + stats.abandoned === 0
    }
  }
})

/**
 * Flushes and shuts down within the timeout, then reports in one line what was exported,
 * dropped, failed and abandoned (for a provider outside a `Telemetry` layer).
 *
 * @since 0.1.0
 * @category shutdown
 */
export const shutdown = (provider: Provider, timeoutMillis: number): Effect.Effect<DeliveryStats> =>
  Effect.suspend(() => {
    const group = new Shutdown.ShutdownGroup()
    group.register(shutdownParticipant(provider))
    return Shutdown.finalizer(group, timeoutMillis)
  }).pipe(Effect.zipRight(Effect.sync(() => provider.accounting.stats())))

const emptyStats: DeliveryStats = {
  ended: 0,
  dropped: 0,
  handed: 0,
  exported: 0,
  failed: 0,
  abandoned: 0,
  lastError: undefined
}

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
      const empty = Layer.succeed(LogDelivery, { stats: Effect.succeed(emptyStats) })
      if (config.disabled) return empty
      const counting = Logger.add(internal.countingLogger)
      const processors = yield* ExtraLogRecordProcessors
      if (config.logsExporter === "none" && processors.length === 0) return Layer.merge(counting, empty)
      const resource = yield* Resource
      const group = yield* Shutdown.group
      const provider = yield* Effect.acquireRelease(
        Effect.sync(() => {
          const provider = makeProvider({ config, resource, processors })
          group.register(shutdownParticipant(provider))
          return provider
        }),
        // One deadline with the other signals of the same Telemetry layer (see internal/shutdown).
        () => Shutdown.finalizer(group, config.shutdownTimeoutMillis)
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
