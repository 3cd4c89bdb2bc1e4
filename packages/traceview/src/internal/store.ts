/**
 * The bounded store behind the viewer: finished spans grouped by trace, in a Map used as a
 * ring (insertion order = least recently updated first). Each `onEnd` is O(1) amortised: one
 * Map delete + set to move the trace to the newest end, one push, and eviction pops from the
 * oldest end; every span is evicted at most once.
 */
import type { Context } from "@opentelemetry/api"
import { SpanStatusCode } from "@opentelemetry/api"
import type { ReadableSpan, Span, SpanProcessor } from "@opentelemetry/sdk-trace-base"

/** @internal */
export interface Limits {
  readonly maxTraces: number
  readonly maxSpansPerTrace: number
  readonly maxSpans: number
}

/** @internal */
export const defaultLimits: Limits = { maxTraces: 200, maxSpansPerTrace: 1000, maxSpans: 20_000 }

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
    }
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

  get size(): { readonly traces: number; readonly spans: number } {
    return { traces: this.traces.size, spans: this.spanCount }
  }

  clear(): void {
    this.traces.clear()
    this.spanCount = 0
  }
}
