/**
 * The bounded store behind the viewer: finished spans grouped by trace, in a Map used as a
 * ring (insertion order = least recently updated first). Each `onEnd` is O(1) amortised: one
 * Map delete + set to move the trace to the newest end, one push, and eviction pops from the
 * oldest end; every span is evicted at most once. Log records logged inside a span are kept the
 * same way, by trace, bounded by `maxLogs` in all and evicted with their trace.
 */
import type { Context } from "@opentelemetry/api"
import { SpanStatusCode } from "@opentelemetry/api"
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace-base"

/** @internal */
export interface Limits {
  readonly maxTraces: number
  readonly maxSpansPerTrace: number
  readonly maxSpans: number
  readonly maxLogs: number
}

/** @internal */
export const defaultLimits: Limits = { maxTraces: 200, maxSpansPerTrace: 1000, maxSpans: 20_000, maxLogs: 10_000 }

/**
 * What the store reads of a log record: the SDK's `ReadableLogRecord` has these fields, so the
 * store is a log record processor without depending on the logs SDK.
 *
 * @internal
 */
export interface LogRecordView {
  readonly hrTime: readonly [number, number]
  readonly spanContext?: { readonly traceId: string; readonly spanId: string } | undefined
  readonly severityText?: string | undefined
  readonly severityNumber?: number | undefined
  readonly body?: unknown
  readonly attributes: Readonly<Record<string, unknown>>
}

/** @internal */
export class TraceEntry {
  readonly spans: Array<ReadableSpan> = []
  /** Spans that ended after the trace reached `maxSpansPerTrace`. */
  droppedSpans = 0
  errors = 0
  /** Earliest start and latest end, in epoch nanoseconds (as numbers: microsecond precision is enough to draw). */
  startNanos = Number.POSITIVE_INFINITY
  endNanos = Number.NEGATIVE_INFINITY
  /** The earliest-starting span without a parent in this process (no parent, or a remote one). */
  root: ReadableSpan | undefined = undefined
  readonly services = new Set<string>()
  /** Monotonic sequence of the last update, for "newest first". */
  updated = 0
  constructor(readonly traceId: string) {}
}

/** @internal */
export const hrToNanos = (time: readonly [number, number]): number => time[0] * 1e9 + time[1]

const isLocalRoot = (span: ReadableSpan) =>
  span.parentSpanContext === undefined || span.parentSpanContext.isRemote === true

/** @internal */
export const serviceOf = (span: ReadableSpan): string => {
  const name = span.resource.attributes["service.name"]
  return typeof name === "string" ? name : "unknown_service"
}

/** @internal */
export class TraceStore implements SpanProcessor {
  private readonly traces = new Map<string, TraceEntry>()
  /** Log records by trace, least recently logged first (the order they are evicted in). */
  private readonly logs = new Map<string, Array<LogRecordView>>()
  private logCount = 0
  /** Log records evicted so far to stay within `maxLogs`. */
  evictedLogs = 0
  private spanCount = 0
  private sequence = 0
  /** Traces evicted so far (shown on the list page, so an empty view is explainable). */
  evictedTraces = 0

  constructor(readonly limits: Limits) {}

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    const traceId = span.spanContext().traceId
    let entry = this.traces.get(traceId)
    if (entry === undefined) {
      entry = new TraceEntry(traceId)
    } else {
      this.traces.delete(traceId)
    }
    this.traces.set(traceId, entry)
    entry.updated = ++this.sequence
    if (entry.spans.length >= this.limits.maxSpansPerTrace) {
      entry.droppedSpans++
    } else {
      entry.spans.push(span)
      this.spanCount++
      const start = hrToNanos(span.startTime)
      const end = hrToNanos(span.endTime)
      if (start < entry.startNanos) entry.startNanos = start
      if (end > entry.endNanos) entry.endNanos = end
      if (span.status.code === SpanStatusCode.ERROR) entry.errors++
      if (isLocalRoot(span) && (entry.root === undefined || start < hrToNanos(entry.root.startTime))) entry.root = span
      entry.services.add(serviceOf(span))
    }
    this.evict(entry)
  }

  private evict(keep: TraceEntry): void {
    while (this.traces.size > this.limits.maxTraces || this.spanCount > this.limits.maxSpans) {
      const oldest = this.traces.values().next().value as TraceEntry
      // The trace just updated is the newest; it is only evicted when it alone exceeds maxSpans,
      // which maxSpansPerTrace <= maxSpans rules out.
      if (oldest === keep) break
      this.traces.delete(oldest.traceId)
      this.spanCount -= oldest.spans.length
      this.evictedTraces++
      this.dropLogsOf(oldest.traceId)
    }
  }

  private dropLogsOf(traceId: string): void {
    const records = this.logs.get(traceId)
    if (records === undefined) return
    this.logs.delete(traceId)
    this.logCount -= records.length
  }

  /**
   * A log record processor's `onEmit`: keeps records logged inside a span (others have no trace
   * to be shown in). O(1) amortised, like `onEnd`.
   */
  onEmit(record: LogRecordView): void {
    const traceId = record.spanContext?.traceId
    if (traceId === undefined) return
    let records = this.logs.get(traceId)
    if (records === undefined) {
      records = []
    } else {
      this.logs.delete(traceId)
    }
    this.logs.set(traceId, records)
    records.push(record)
    this.logCount++
    while (this.logCount > this.limits.maxLogs) {
      const [oldestTrace, oldest] = this.logs.entries().next().value as [string, Array<LogRecordView>]
      // The oldest record of the least recently logged trace goes first.
      oldest.shift()
      this.logCount--
      this.evictedLogs++
      if (oldest.length === 0) this.logs.delete(oldestTrace)
    }
  }

  /** The log records of a trace kept now, in the order they were logged. */
  logsOf(traceId: string): ReadonlyArray<LogRecordView> {
    return this.logs.get(traceId) ?? []
  }

  forceFlush(): Promise<void> {
    return Promise.resolve()
  }

  shutdown(): Promise<void> {
    return Promise.resolve()
  }

  /** Newest (most recently updated) first. */
  list(): Array<TraceEntry> {
    return Array.from(this.traces.values()).reverse()
  }

  get(traceId: string): TraceEntry | undefined {
    return this.traces.get(traceId)
  }

  get size(): { readonly traces: number; readonly spans: number; readonly logs: number } {
    return { traces: this.traces.size, spans: this.spanCount, logs: this.logCount }
  }

  clear(): void {
    this.traces.clear()
    this.spanCount = 0
    this.logs.clear()
    this.logCount = 0
  }
}
