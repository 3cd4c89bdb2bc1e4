/**
 * The export pipeline of a signal with an SDK provider (spans, log records): the exporter the
 * configuration names, wrapped in delivery accounting, behind a simple or batch processor
 * whose queue the accounting bounds, next to extra processors outside the accounting; its part
 * in the telemetry shutdown and the one-line report of its counts; the scoped acquisition a
 * signal layer makes. The signals differ only in their SDK classes and their wording, which
 * each passes in as a {@link Signal}.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { BatchLogRecordProcessorSettings, BatchSpanProcessorSettings } from "../TelemetryConfig.js"
import * as Delivery from "./delivery.js"
import * as Shutdown from "./shutdown.js"

/** The batch processor's options, as both SDK batch processors name them. */
export interface BatchOptions {
  readonly maxQueueSize: number
  readonly maxExportBatchSize: number
  readonly scheduledDelayMillis: number
  readonly exportTimeoutMillis: number
}

/** How one signal's shutdown clause and fields read (`spans 10 = 9 exported + …`). */
export interface Wording {
  /** The clause's first word and the fields' prefix: `spans`, `logs`. */
  readonly noun: string
  /** The field of the total: `ended` (`spans.ended`), `emitted` (`logs.emitted`). */
  readonly total: string
  /** The hint when the queue was full during the run. */
  readonly queueFull: (maxQueueSize: number) => string
  /** The hint when items came after the shutdown began. */
  readonly late: (count: number) => string
}

/**
 * What a signal brings to the pipeline: its SDK exporter (`X`), processor (`P`) and accounting
 * exporter (`E`) types, how to build them, how many exports may run at once, its wording.
 */
export interface Signal<X, P, E> {
  readonly exportConcurrency: number
  readonly account: (exporter: X, accounting: Delivery.DeliveryAccounting) => E
  readonly simpleProcessor: (exporter: E) => P
  readonly batchProcessor: (exporter: E, options: BatchOptions) => P
  readonly accountProcessor: (processor: P, accounting: Delivery.DeliveryAccounting) => P
  readonly wording: Wording
}

/** The exporter a configuration names: `undefined` for `none`. */
export const exporterFor = <X>(
  name: "otlp" | "console" | "none",
  make: { readonly console: () => X; readonly otlp: () => X }
): X | undefined => name === "none" ? undefined : make[name]()

/** The processors of a provider, with the accounting and the accounting exporter they feed. */
export interface Processors<P, E> {
  readonly accounting: Delivery.DeliveryAccounting
  /** The accounting exporter around the configured one, if any. */
  readonly exporter: E | undefined
  readonly processors: Array<P>
}

/**
 * The processors for a provider: the exporter's (simple, or batch with the settings' bounds),
 * with delivery accounting around it and its exporter, then the extra ones outside it.
 */
export const makeProcessors = <X, P, E>(
  signal: Signal<X, P, E>,
  options: {
    readonly settings: BatchSpanProcessorSettings | BatchLogRecordProcessorSettings
    readonly exporter: X | undefined
    readonly simple: boolean
    readonly extra: ReadonlyArray<P> | undefined
  }
): Processors<P, E> => {
  const { settings } = options
  const accounting = new Delivery.DeliveryAccounting(settings.maxQueueSize, signal.exportConcurrency)
  const processors: Array<P> = []
  let accounted: E | undefined
  if (options.exporter !== undefined) {
    accounted = signal.account(options.exporter, accounting)
    const processor = options.simple
      ? signal.simpleProcessor(accounted)
      : signal.batchProcessor(accounted, {
        maxQueueSize: settings.maxQueueSize,
        maxExportBatchSize: Math.min(settings.maxExportBatchSize, settings.maxQueueSize),
        scheduledDelayMillis: settings.scheduleDelayMillis,
        exportTimeoutMillis: settings.exportTimeoutMillis
      })
    processors.push(signal.accountProcessor(processor, accounting))
  }
  if (options.extra !== undefined) processors.push(...options.extra)
  return { accounting, exporter: accounted, processors }
}

/** A built provider with its accounting (`Tracing.Provider`, `Logging.Provider`). */
export interface Pipeline {
  readonly provider: { shutdown(): Promise<void> }
  readonly accounting: Delivery.DeliveryAccounting
  readonly exporter?: {
    readonly lastAttemptError: string | undefined
    abort(): void
    shutdown(): Promise<void>
  } | undefined
}

/**
 * A signal's part of the telemetry shutdown: flush and shut the provider down; at the deadline,
 * abort the exports and count everything not yet accounted for as abandoned. A flush that
 * rejects early (a batch failed) does not end it: it waits for every handed batch to settle.
 */
export const participant = (pipeline: Pipeline, wording: Wording): Shutdown.Participant => ({
  close: () =>
    pipeline.provider.shutdown().then(
      () => pipeline.accounting.idle(),
      // The batch processor gave up on its flush at the first failed batch, before shutting
      // the exporter down: wait for the other batches, then shut it down ourselves.
      () => pipeline.accounting.idle().then(() => pipeline.exporter?.shutdown())
    ),
  abort: () => {
    pipeline.exporter?.abort()
    pipeline.accounting.abandonRest()
  },
  outcome: (): Shutdown.Outcome => {
    const stats = pipeline.accounting.abandonRest()
    // No exporter (OTEL_*_EXPORTER=none): nothing to report.
    if (pipeline.exporter === undefined) return { text: "", fields: {}, lastError: undefined, clean: true }
    const late = pipeline.accounting.droppedAfterClose
    const queueFull = stats.dropped - late
    const hint = (queueFull > 0 ? wording.queueFull(pipeline.accounting.maxQueueSize) : "") +
      (late > 0 ? wording.late(late) : "")
    const { noun } = wording
    return {
      text: `${noun} ${stats.ended} = ${stats.exported} exported + ${stats.dropped} dropped + ` +
        `${stats.failed} failed + ${stats.abandoned} abandoned${hint}`,
      fields: {
        [`${noun}.${wording.total}`]: stats.ended,
        [`${noun}.exported`]: stats.exported,
        [`${noun}.dropped`]: stats.dropped,
        [`${noun}.failed`]: stats.failed,
        [`${noun}.abandoned`]: stats.abandoned
      },
      lastError: stats.failed + stats.abandoned > 0
        ? stats.lastError ?? pipeline.exporter?.lastAttemptError
        : undefined,
      clean: stats.dropped + stats.failed + stats.abandoned === 0
    }
  }
})

/** Flushes and shuts one pipeline down within the timeout, with its report (outside a `Telemetry` layer). */
export const shutdown = (
  pipeline: Pipeline,
  wording: Wording,
  timeoutMillis: number
): Effect.Effect<Delivery.DeliveryStats> =>
  Effect.suspend(() => {
    const group = new Shutdown.ShutdownGroup()
    group.register(participant(pipeline, wording))
    return Shutdown.finalizer(group, timeoutMillis)
  }).pipe(Effect.zipRight(Effect.sync(() => pipeline.accounting.stats())))

/**
 * Builds a pipeline for a signal layer's scope, registered in the shutdown group of the
 * `Telemetry` layer (or one of its own), closed with the group's one deadline.
 */
export const acquire = <X extends Pipeline>(
  make: () => X,
  wording: Wording,
  timeoutMillis: number
): Effect.Effect<X, never, Scope.Scope> =>
  Effect.flatMap(Shutdown.group, (group) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const pipeline = make()
        group.register(participant(pipeline, wording))
        return pipeline
      }),
      // One deadline with the other signals of the same Telemetry layer (see internal/shutdown).
      () => Shutdown.finalizer(group, timeoutMillis)
    ))

/** The counts of a layer whose signal is off (`OTEL_SDK_DISABLED`, no exporter). */
export const emptyStats: Delivery.DeliveryStats = {
  ended: 0,
  dropped: 0,
  handed: 0,
  exported: 0,
  failed: 0,
  abandoned: 0,
  lastError: undefined
}
