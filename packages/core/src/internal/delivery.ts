/**
 * Delivery accounting, one for spans and log records: every sampled span that ends (every
 * record logged) is either handed to the exporter or counted as dropped, and every handed one
 * is either exported or counted as failed. At shutdown the counts add up, so "nothing lost
 * silently" is a checked equation, not a hope. The signals differ only in their SDK interfaces
 * and their two counters (`otel.sdk.processor.*.processed`, `otel.sdk.exporter.*.exported`).
 */
import type { Context } from "@opentelemetry/api"
import { TraceFlags } from "@opentelemetry/api"
import type { ExportResult } from "@opentelemetry/core"
import { ExportResultCode } from "@opentelemetry/core"
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Instrument from "../Instrument.js"
import * as Semconv from "../Semconv.js"
import type { Abortable } from "./export.js"
import { ExportAbandoned, isAbandoned } from "./export.js"
import type { EncodedSpans } from "./otlpTraceEncoder.js"
import { errorTypeOf } from "./tracer.js"

/** @internal */
export const processed = Instrument.counter({
  name: Semconv.METRIC_SDK_SPAN_PROCESSED,
  unit: "{span}",
  description: "Spans that ended and were offered to the span processor; error.type=queue_full when it dropped them."
})

/** @internal */
export const exported = Instrument.counter({
  name: Semconv.METRIC_SDK_SPAN_EXPORTED,
  unit: "{span}",
  description: "Spans handed to the span exporter; error.type is set when the export failed."
})

const queueFull = { [Semconv.ATTR_ERROR_TYPE]: Semconv.ERROR_TYPE_QUEUE_FULL }

/** @internal */
export interface DeliveryStats {
  /** Sampled spans that ended while the processor was open. */
  readonly ended: number
  /** Ended spans refused because the queue was full. */
  readonly dropped: number
  /** Spans handed to the exporter. */
  readonly handed: number
  /** Spans the exporter confirmed. */
  readonly exported: number
  /** Spans whose export failed for good (after the exporter's own retries). */
  readonly failed: number
  /**
   * Spans neither exported, dropped nor failed when the shutdown deadline passed (still queued,
   * or in an export that was aborted). Zero until then.
   */
  readonly abandoned: number
  readonly lastError: string | undefined
}

/** @internal */
export class DeliveryAccounting {
  ended = 0
  dropped = 0
  handed = 0
  exported = 0
  failed = 0
  /** Counted once, when the deadline passes (see `abandonRest`). */
  abandoned = 0
  /** Of `dropped`: spans that ended after the shutdown began (the rest found the queue full). */
  droppedAfterClose = 0
  lastError: string | undefined = undefined
  /** Set by `abandonRest`: the counts are final. */
  private final: DeliveryStats | undefined = undefined
  private readonly idleWaiters: Array<() => void> = []
  private inFlight = 0
  private readonly pending: Array<() => void> = []

  constructor(readonly maxQueueSize: number, readonly exportConcurrency: number) {}

  stats(): DeliveryStats {
    if (this.final !== undefined) return this.final
    return {
      ended: this.ended,
      dropped: this.dropped,
      handed: this.handed,
      exported: this.exported,
      failed: this.failed,
      abandoned: this.abandoned,
      lastError: this.lastError
    }
  }

  /** Spans accepted but neither exported, failed nor abandoned yet (queued or in an export). */
  outstanding(): number {
    return this.ended - this.dropped - this.exported - this.failed - this.abandoned
  }

  /**
   * The deadline passed: every span not yet accounted for is abandoned, and the counts are
   * final (a late settlement cannot change them).
   */
  abandonRest(): DeliveryStats {
    if (this.final !== undefined) return this.final
    this.abandoned += this.outstanding()
    const stats = this.stats()
    this.final = stats
    return stats
  }

  /** Starts every export still waiting for its turn (after an abort, each settles at once as abandoned). */
  drainPending(): void {
    const waiting = this.pending.splice(0)
    for (const start of waiting) start()
  }

  /** Resolves when no export is running or waiting. */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.pending.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /**
   * Counts an export as running when one more may run now; else the caller queues it with
   * `wait`. Split from the queueing so that an export that starts at once (every export of the
   * simple processor, one per span) allocates no closure for its turn.
   *
   * @internal
   */
  tryStart(): boolean {
    if (this.inFlight >= this.exportConcurrency) return false
    this.inFlight++
    return true
  }

  /** Queues an export until a running one finishes; `start` runs once it counts as running. @internal */
  wait(start: () => void): void {
    this.pending.push(() => {
      this.inFlight++
      start()
    })
  }

  /** A running export finished: the next waiting one starts. @internal */
  finish(): void {
    this.inFlight--
    const next = this.pending.shift()
    if (next !== undefined) next()
    else if (this.inFlight === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve())
  }
}

/** One export's state until its result is counted. */
interface Settlement {
  settled: boolean
  readonly count: number
  readonly resultCallback: (result: ExportResult) => void
}

/** What the accounting wrappers need of an SDK exporter (spans' or log records'). @internal */
export interface Exporter<A> {
  export(items: Array<A>, resultCallback: (result: ExportResult) => void): void
  /** Our OTLP span exporter's: a request encoded as its spans ended (`EncodedBatchSpanProcessor`). */
  exportEncoded?(batch: EncodedSpans, resultCallback: (result: ExportResult) => void): void
  shutdown(): Promise<void>
  forceFlush?(): Promise<void>
}

/**
 * Wraps the SDK's exporter: counts what it is handed and what it confirms (into `exported`,
 * the signal's `otel.sdk.exporter.*.exported`), and runs exports a few at a time. The batch
 * processor's flush starts one export per batch at once, which past the OTLP exporter's
 * concurrency limit (30) fails batches outright; queueing them here turns a 100,000-span flush
 * into a steady stream instead of a loss.
 *
 * @internal
 */
export class AccountingExporter<A> implements Exporter<A> {
  private aborted = false

  constructor(
    readonly inner: Exporter<A> & Partial<Abortable>,
    readonly accounting: DeliveryAccounting,
    private readonly exported: Instrument.Counter
  ) {}

  /** The last export error seen, retried ones included (for an abandoned export, why it was slow). */
  get lastAttemptError(): string | undefined {
    return this.inner.transport?.lastError
  }

  export(items: Array<A>, resultCallback: (result: ExportResult) => void): void {
    this.submit(items, resultCallback)
  }

  /**
   * A batch of spans encoded as they ended, counted as `length` spans; one whose encoding failed
   * is counted as failed at once.
   */
  exportEncoded(batch: EncodedSpans, resultCallback: (result: ExportResult) => void): void {
    this.submit(batch, resultCallback)
  }

  private submit(batch: Array<A> | EncodedSpans, resultCallback: (result: ExportResult) => void): void {
    this.accounting.handed += batch.length
    if (this.accounting.tryStart()) this.start(batch, resultCallback)
    else this.accounting.wait(() => this.start(batch, resultCallback))
  }

  private start(batch: Array<A> | EncodedSpans, resultCallback: (result: ExportResult) => void): void {
    const state: Settlement = { settled: false, count: batch.length, resultCallback }
    if (this.aborted) return this.settle(state, { code: ExportResultCode.FAILED, error: new ExportAbandoned() })
    try {
      if (Array.isArray(batch)) this.inner.export(batch, (result) => this.settle(state, result))
      else if (batch.failure !== undefined) this.settle(state, { code: ExportResultCode.FAILED, error: batch.failure })
      else if (this.inner.exportEncoded === undefined) throw new Error("the exporter takes no encoded spans")
      else this.inner.exportEncoded(batch, (result) => this.settle(state, result))
    } catch (error) {
      this.settle(state, {
        code: ExportResultCode.FAILED,
        error: error instanceof Error ? error : new Error(String(error))
      })
    }
  }

  /** Counts an export's result once (an exporter may call back twice, or throw after calling back). */
  private settle(state: Settlement, result: ExportResult): void {
    if (state.settled) return
    state.settled = true
    const accounting = this.accounting
    const count = state.count
    if (result.code === ExportResultCode.SUCCESS) {
      accounting.exported += count
      this.exported.unsafeAdd(count)
    } else if (isAbandoned(result.error)) {
      // Counted by abandonRest at the deadline, with everything else still outstanding.
    } else {
      accounting.failed += count
      accounting.lastError = result.error?.message ?? "export failed"
      this.exported.unsafeAdd(count, { [Semconv.ATTR_ERROR_TYPE]: errorTypeOf(result.error) })
    }
    accounting.finish()
    state.resultCallback(result)
  }

  /**
   * The shutdown deadline passed: exports waiting for their turn and exports in flight settle
   * at once as abandoned (which also clears the batch processor's timers waiting on them), and
   * the inner exporter drops its requests, retry timers and sockets.
   */
  abort(): void {
    this.aborted = true
    this.accounting.drainPending()
    this.inner.abort?.()
  }

  async shutdown(): Promise<void> {
    await this.accounting.idle()
    await this.inner.shutdown()
  }

  async forceFlush(): Promise<void> {
    await this.accounting.idle()
    await this.inner.forceFlush?.()
  }
}

/** The span exporter with delivery accounting (see {@link AccountingExporter}). @internal */
export class AccountingSpanExporter extends AccountingExporter<ReadableSpan> implements SpanExporter {
  constructor(inner: SpanExporter & Partial<Abortable>, accounting: DeliveryAccounting) {
    super(inner, accounting, exported)
  }
}

/**
 * Bounds the batch processor's queue itself, so that every drop is seen and counted here
 * (the SDK's processor drops silently past its queue size). The inner processor is given a
 * queue at least as large, so it never drops on its own. A signal's processor calls `admit`
 * for each span that ends (record logged) and passes it on only when it returns true.
 *
 * @internal
 */
export class AccountingProcessor<P extends { forceFlush(): Promise<void>; shutdown(): Promise<void> }> {
  private closed = false

  constructor(
    readonly inner: P,
    readonly accounting: DeliveryAccounting,
    private readonly processed: Instrument.Counter
  ) {}

  /** Counts one item in; whether the inner processor may take it (not dropped). */
  protected admit(): boolean {
    const accounting = this.accounting
    accounting.ended++
    if (this.closed) {
      // Ended after the shutdown began: refused, and counted so the equation still holds.
      accounting.dropped++
      accounting.droppedAfterClose++
      return false
    }
    // Queued = accepted but not yet handed to the exporter; the batch processor hands items
    // over synchronously when it cuts a batch, so this equals its buffer length.
    if (accounting.ended - accounting.dropped - 1 - accounting.handed >= accounting.maxQueueSize) {
      accounting.dropped++
      this.processed.unsafeAdd(1, queueFull)
      return false
    }
    this.processed.unsafeAdd(1)
    return true
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush()
  }

  shutdown(): Promise<void> {
    this.closed = true
    return this.inner.shutdown()
  }
}

/** The span processor with delivery accounting (see {@link AccountingProcessor}); sampled spans only. @internal */
export class AccountingSpanProcessor extends AccountingProcessor<SpanProcessor> implements SpanProcessor {
  constructor(inner: SpanProcessor, accounting: DeliveryAccounting) {
    super(inner, accounting, processed)
  }

  onStart(span: Span, parentContext: Context): void {
    this.inner.onStart(span, parentContext)
  }

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) return
    if (this.admit()) this.inner.onEnd(span)
  }
}
