/**
 * The batch span processor of an OTLP/protobuf export (HTTP or gRPC): the SDK's
 * `BatchSpanProcessor` as it behaves (batches of `maxExportBatchSize`, one cut as soon as a batch
 * is full, else after `scheduledDelayMillis`; one batch exporting at a time, given up on after
 * `exportTimeoutMillis`; everything flushed by `forceFlush` and `shutdown`; exports made with
 * tracing suppressed), except that it encodes each span when it ends and queues its bytes
 * instead of the span (see {@link EncodedSpanQueue}).
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

const asError = (error: unknown): Error => error instanceof Error ? error : new Error(String(error))

/** @internal */
export class EncodedBatchSpanProcessor implements SpanProcessor {
  private readonly queue = new EncodedSpanQueue()
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private exporting = false
  private shutdownOnce: Promise<void> | undefined = undefined

  constructor(private readonly exporter: EncodedSpanExporter, private readonly options: BatchOptions) {}

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if (this.shutdownOnce !== undefined) return
    if ((span.spanContext().traceFlags & OtelApi.TraceFlags.SAMPLED) === 0) return
    try {
      this.queue.push(span)
    } catch (error) {
      // A span that cannot be encoded is handed over as a failed export of one, so it is counted.
      this.exporter.exportEncoded({ length: 1, body: new Uint8Array(0), failure: asError(error) }, ignore)
      return
    }
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

  /** Every queued span, in batches exported together; rejects at the first batch that fails. */
  private flushAll(): Promise<void> {
    const batches = Math.ceil(this.queue.length / this.options.maxExportBatchSize)
    const exports: Array<Promise<void>> = []
    for (let i = 0; i < batches; i++) exports.push(this.exportOneBatch())
    return Promise.all(exports).then(ignore)
  }

  private exportOneBatch(): Promise<void> {
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
        batch = { length: count, body: new Uint8Array(0), failure: asError(error) }
      }
      // The export's own requests (an instrumented http module) make no spans.
      OtelApi.context.with(suppressTracing(OtelApi.context.active()), () => this.exporter.exportEncoded(batch, done))
    })
  }

  private maybeStartTimer(): void {
    if (this.exporting) return
    if (this.queue.length >= this.options.maxExportBatchSize) return this.flushOne()
    if (this.timer !== undefined) return
    this.timer = setTimeout(() => this.flushOne(), this.options.scheduledDelayMillis)
    this.timer.unref()
  }

  private flushOne(): void {
    this.exporting = true
    this.exportOneBatch().then(
      () => {
        this.exporting = false
        if (this.queue.length > 0) {
          this.clearTimer()
          this.maybeStartTimer()
        }
      },
      (error) => {
        this.exporting = false
        globalErrorHandler(error)
        if (this.queue.length > 0) {
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
