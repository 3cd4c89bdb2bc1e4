/**
 * The batch span processor of an OTLP/protobuf export (HTTP or gRPC): the SDK's
 * `BatchSpanProcessor` as it behaves (batches of `maxExportBatchSize`, one cut as soon as a batch
 * is full, else after `scheduledDelayMillis`; one batch exporting at a time, given up on after
 * `exportTimeoutMillis`; everything flushed by `forceFlush` and `shutdown`; exports made with
 * tracing suppressed), except that it encodes spans as they end, a run of 128 at a time, and
 * queues their bytes instead of the spans (see {@link EncodedSpanQueue}).
 *
 * @internal
 */
import * as OtelApi from "@opentelemetry/api"
import { ExportResultCode, globalErrorHandler, suppressTracing } from "@opentelemetry/core"
import type { ExportResult } from "@opentelemetry/core"
import type { ReadableSpan, SpanProcessor } from "@opentelemetry/sdk-trace-base"
import type { EncodedSpans } from "./otlpTraceEncoder.js"
import { EncodedSpanQueue } from "./otlpTraceEncoder.js"
import type { BatchOptions } from "./signalPipeline.js"

/** Where the batches go: the accounting exporter around our OTLP span exporter. @internal */
export interface EncodedSpanExporter {
  readonly exportEncoded: (batch: EncodedSpans, resultCallback: (result: ExportResult) => void) => void
  readonly shutdown: () => Promise<void>
}

const ignore = (): void => {}

// Spans are encoded in runs of this many: one at a time, as each ended, the encoder ran on cold
// caches between requests and took ~1.7% of an HTTP server's CPU samples against ~0.9% for
// whole batches; in runs of 128, ~1.1%. A run's spans are kept as objects only until it is full
// (or the batch is cut), far less than the batch delay that made queued span objects old.
const ENCODE_RUN = 128

/** `count` spans that could not be encoded, as a batch the accounting counts as failed. */
const unencoded = (count: number, error: unknown): EncodedSpans => ({
  length: count,
  body: new Uint8Array(0),
  failure: error instanceof Error ? error : new Error(String(error))
})

/** @internal */
export class EncodedBatchSpanProcessor implements SpanProcessor {
  private readonly queue = new EncodedSpanQueue()
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private exporting = false
  private shutdownOnce: Promise<void> | undefined = undefined
  /** Ended spans not encoded yet: fewer than `encodeRun`. */
  private ended: Array<ReadableSpan> = []
  private readonly encodeRun: number

  constructor(private readonly exporter: EncodedSpanExporter, private readonly options: BatchOptions) {
    this.encodeRun = Math.min(ENCODE_RUN, options.maxExportBatchSize)
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.shutdownOnce !== undefined) return
    if ((span.spanContext().traceFlags & OtelApi.TraceFlags.SAMPLED) === 0) return
    this.ended.push(span)
    if (this.ended.length >= this.encodeRun) this.encodeEnded()
    this.maybeStartTimer()
  }

  forceFlush(): Promise<void> {
    return this.shutdownOnce ?? this.flushAll()
  }

  shutdown(): Promise<void> {
    if (this.shutdownOnce === undefined) {
      this.shutdownOnce = this.flushAll().then(() => this.exporter.shutdown())
    }
    return this.shutdownOnce
  }

  /** Encodes the spans ended since the last run into the queue. */
  private encodeEnded(): void {
    const ended = this.ended
    if (ended.length === 0) return
    this.ended = []
    for (let i = 0; i < ended.length; i++) {
      try {
        this.queue.push(ended[i]!)
      } catch (error) {
        // A span that cannot be encoded is handed over as a failed export of one, so it is counted.
        this.exporter.exportEncoded(unencoded(1, error), ignore)
      }
    }
  }

  /** Every queued span, in batches exported together; rejects at the first batch that fails. */
  private flushAll(): Promise<void> {
    this.encodeEnded()
    const batches = Math.ceil(this.queue.length / this.options.maxExportBatchSize)
    const exports: Array<Promise<void>> = []
    for (let i = 0; i < batches; i++) exports.push(this.exportOneBatch())
    return Promise.all(exports).then(ignore)
  }

  private exportOneBatch(): Promise<void> {
    this.encodeEnded()
    this.clearTimer()
    if (this.queue.length === 0) return Promise.resolve()
    const pending = this.queue.pendingResources()
    // Resources still detecting attributes are waited for before their request is written.
    if (pending.length > 0) return Promise.all(pending.map((r) => r.waitForAsyncAttributes!())).then(() => this.cut())
    return this.cut()
  }

  private cut(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      // Not waited for past the export timeout, so that the next batch can start (as the SDK).
      const timer = setTimeout(() => reject(new Error("Timeout")), this.options.exportTimeoutMillis)
      timer.unref()
      const done = (result: ExportResult) => {
        clearTimeout(timer)
        if (result.code === ExportResultCode.SUCCESS) resolve()
        else reject(result.error ?? new Error("BatchSpanProcessor: span export failed"))
      }
      const count = Math.min(this.queue.length, this.options.maxExportBatchSize)
      let batch: EncodedSpans
      try {
        batch = this.queue.take(count)
      } catch (error) {
        // The queue let the batch's spans go: handed over as a failed export, so they are counted.
        batch = unencoded(count, error)
      }
      // The export's own requests (an instrumented http module) make no spans.
      OtelApi.context.with(suppressTracing(OtelApi.context.active()), () => this.exporter.exportEncoded(batch, done))
    })
  }

  private maybeStartTimer(): void {
    if (this.exporting) return
    if (this.queue.length + this.ended.length >= this.options.maxExportBatchSize) return this.flushOne()
    if (this.timer !== undefined) return
    this.timer = setTimeout(() => this.flushOne(), this.options.scheduledDelayMillis)
    this.timer.unref()
  }

  private flushOne(): void {
    this.exporting = true
    this.exportOneBatch().then(
      () => {
        this.exporting = false
        if (this.queue.length + this.ended.length > 0) {
          this.clearTimer()
          this.maybeStartTimer()
        }
      },
      (error) => {
        this.exporting = false
        globalErrorHandler(error)
        if (this.queue.length + this.ended.length > 0) {
          this.clearTimer()
          this.maybeStartTimer()
        }
      }
    )
  }

  private clearTimer(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
  }
}
