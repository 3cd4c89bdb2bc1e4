/**
 * What a receiver keeps whatever the protocol: the decoded data, every request with its
 * outcome, the behaviour (fault) to apply next, and waiting for arrivals.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type {
  AwaitOptions,
  Behaviour,
  Encoding,
  ReceivedDataPoint,
  ReceivedLogRecord,
  ReceivedRequest,
  ReceivedSpan,
  Signal
} from "../OtlpReceiver.js"
import { OtlpReceiverTimeoutError } from "../OtlpReceiver.js"
import { decodeDataPoints, decodeLogRecords, decodeSpans } from "./decode.js"

/** @internal */
export type MutableRequest = { -readonly [K in keyof ReceivedRequest]: ReceivedRequest[K] }

/** @internal */
export class ReceiverState {
  readonly spans: Array<ReceivedSpan> = []
  readonly dataPoints: Array<ReceivedDataPoint> = []
  readonly logRecords: Array<ReceivedLogRecord> = []
  readonly requests: Array<MutableRequest> = []
  spanCount = 0
  dataPointCount = 0
  logRecordCount = 0
  behaviour: Behaviour
  readonly queued: Array<Behaviour> = []
  readonly listeners = new Set<() => void>()
  readonly timers = new Set<ReturnType<typeof setTimeout>>()
  closed = false

  constructor(behaviour: Behaviour | undefined, readonly retain: boolean) {
    this.behaviour = behaviour ?? {}
  }

  notify(): void {
    for (const listener of Array.from(this.listeners)) listener()
  }

  /** The behaviour for the next request to a signal: a queued one-shot, else the current one. */
  nextBehaviour(): Behaviour {
    return this.queued.shift() ?? this.behaviour
  }

  /** Runs `f` after `millis` (at once for 0), unless the receiver closes first. */
  later(millis: number, f: () => void): void {
    if (millis <= 0) return f()
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      f()
    }, millis)
    this.timers.add(timer)
  }

  reset(): void {
    this.spans.length = 0
    this.dataPoints.length = 0
    this.logRecords.length = 0
    this.requests.length = 0
    this.spanCount = 0
    this.dataPointCount = 0
    this.logRecordCount = 0
    this.notify()
  }

  shutdown(): void {
    this.closed = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }

  store(signal: Signal, decoded: unknown, encoding: Encoding): void {
    switch (signal) {
      case "traces": {
        const spans = decodeSpans(decoded, encoding)
        this.spanCount += spans.length
        if (this.retain) { for (const span of spans) this.spans.push(span) }
        break
      }
      case "metrics": {
        const points = decodeDataPoints(decoded, encoding)
        this.dataPointCount += points.length
        if (this.retain) { for (const p of points) this.dataPoints.push(p) }
        break
      }
      case "logs": {
        const logs = decodeLogRecords(decoded, encoding)
        this.logRecordCount += logs.length
        if (this.retain) { for (const l of logs) this.logRecords.push(l) }
        break
      }
    }
    this.notify()
  }

  awaitItems<A>(
    what: "spans" | "dataPoints",
    items: () => ReadonlyArray<A>,
    total: () => number,
    count: number,
    options: AwaitOptions<A> | undefined
  ): Effect.Effect<ReadonlyArray<A>, OtlpReceiverTimeoutError> {
    const filter = options?.filter
    const seen = (): number => (filter === undefined ? total() : items().filter(filter).length)
    const timeoutMillis = Duration.toMillis(Duration.decode(options?.timeout ?? Duration.seconds(10)))
    return Effect.async<ReadonlyArray<A>, OtlpReceiverTimeoutError>((resume) => {
      let done = false
      const finish = (effect: Effect.Effect<ReadonlyArray<A>, OtlpReceiverTimeoutError>) => {
        if (done) return
        done = true
        clearTimeout(timer)
        clearInterval(poll)
        this.listeners.delete(check)
        resume(effect)
      }
      const check = () => {
        if (seen() >= count) finish(Effect.sync(() => items().slice()))
      }
      const timer = setTimeout(() => {
        const n = seen()
        finish(
          n >= count ? Effect.sync(() => items().slice()) : Effect.fail(
            new OtlpReceiverTimeoutError({
              message: `expected at least ${count} ${what} within ${timeoutMillis}ms, saw ${n}`,
              what,
              expected: count,
              seen: n
            })
          )
        )
      }, timeoutMillis)
      // Arrivals notify at once; the poll is a safety net.
      const poll = setInterval(check, 50)
      this.listeners.add(check)
      check()
      return Effect.sync(() => {
        done = true
        clearTimeout(timer)
        clearInterval(poll)
        this.listeners.delete(check)
      })
    })
  }
}
