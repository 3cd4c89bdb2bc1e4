/**
 * One deadline for the whole telemetry shutdown.
 *
 * Each signal's layer (spans, metrics) registers a participant. The first of their finalizers
 * to run closes every participant at once, under one deadline of `shutdownTimeoutMillis`; the
 * others find the work done. When the deadline passes, every participant aborts: exports in
 * flight settle as abandoned, retry timers are cleared, sockets destroyed, so nothing of ours
 * keeps the event loop alive. The outcome is reported once, in one line: a sentence for people
 * and `key=value` annotations for log parsers.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/** What one participant reports. @internal */
export interface Outcome {
  /** A clause of the one-line report, e.g. "spans 10000 = 9000 exported + …"; empty: nothing to report. */
  readonly text: string
  /** Log annotations (`spans.exported=9000`). */
  readonly fields: Readonly<Record<string, string | number>>
  readonly lastError: string | undefined
  /** Everything delivered: the report is a warning otherwise. */
  readonly clean: boolean
}

/** @internal */
export interface Participant {
  /** Flushes and shuts down; resolves when done (a failure is part of the outcome, not a rejection). */
  readonly close: () => Promise<void>
  /** The deadline passed: settle everything pending now, synchronously. */
  readonly abort: () => void
  /** The outcome, after `close` resolved or `abort` ran. */
  readonly outcome: () => Outcome
}

/** @internal */
export interface Report {
  readonly millis: number
  readonly timeoutMillis: number
  readonly timedOut: boolean
  readonly outcomes: ReadonlyArray<Outcome>
}

/** @internal */
export class ShutdownGroup {
  private readonly participants: Array<Participant> = []
  private running: Promise<Report> | undefined
  private reported = false

  register(participant: Participant): void {
    this.participants.push(participant)
  }

  /** Closes every participant within `timeoutMillis` (once; later calls get the same report). */
  close(timeoutMillis: number): Promise<Report> {
    if (this.running !== undefined) return this.running
    const started = Date.now()
    const participants = this.participants.slice()
    this.running = new Promise<Report>((resolve) => {
      let finished = false
      const finish = (timedOut: boolean) => {
        if (finished) return
        finished = true
        clearTimeout(timer)
        if (timedOut) { for (const participant of participants) participant.abort() }
        // Let the settlements of aborted exports reach the accounting before reading it.
        setImmediate(() =>
          resolve({
            millis: Date.now() - started,
            timeoutMillis,
            timedOut,
            outcomes: participants.map((participant) => participant.outcome())
          })
        )
      }
      const timer = setTimeout(() => finish(true), timeoutMillis)
      Promise.all(
        participants.map((participant) => Promise.resolve().then(() => participant.close()).catch(() => undefined))
      ).then(
        () => finish(false)
      )
    })
    return this.running
  }

  /** True the first time: the caller logs the report. */
  takeReport(): boolean {
    if (this.reported) return false
    this.reported = true
    return true
  }
}

/**
 * The shutdown group shared by the signal layers of one `Telemetry` layer. A signal layer used
 * on its own makes a group of its own.
 *
 * @internal
 */
export class TelemetryShutdown extends Context.Tag("@effect-telemetry/core/TelemetryShutdown")<
  TelemetryShutdown,
  ShutdownGroup
>() {}

/** The group from the context, or a new one for a layer used on its own. @internal */
export const group: Effect.Effect<ShutdownGroup> = Effect.map(
  Effect.serviceOption(TelemetryShutdown),
  Option.getOrElse(() => new ShutdownGroup())
)

/**
 * A finalizer for a participant's layer: closes the group (if no one did yet) and logs the
 * report once.
 *
 * @internal
 */
export const finalizer = (shutdownGroup: ShutdownGroup, timeoutMillis: number): Effect.Effect<void> =>
  Effect.flatMap(
    Effect.promise(() => shutdownGroup.close(timeoutMillis)),
    (report) => shutdownGroup.takeReport() ? log(report) : Effect.void
  )

/** The one line (none when no participant had anything to report). @internal */
export const log = (full: Report): Effect.Effect<void> => {
  const report = { ...full, outcomes: full.outcomes.filter((outcome) => outcome.text !== "") }
  if (report.outcomes.length === 0) return Effect.void
  const clean = !report.timedOut && report.outcomes.every((outcome) => outcome.clean)
  const lastError = report.outcomes.map((outcome) => outcome.lastError).filter((e) => e !== undefined).at(-1)
  const text =
    `effect-telemetry: shutdown ${report.timedOut ? "reached its deadline" : "finished"} in ${report.millis} ms ` +
    `(EFFECT_TELEMETRY_SHUTDOWN_TIMEOUT ${report.timeoutMillis} ms): ` +
    report.outcomes.map((outcome) => outcome.text).join("; ") +
    (lastError === undefined ? "" : `; last error: ${lastError}`)
  const annotations: Record<string, string | number> = {
    "telemetry.shutdown.millis": report.millis,
    "telemetry.shutdown.timeout_millis": report.timeoutMillis,
    "telemetry.shutdown.timed_out": String(report.timedOut)
  }
  for (const outcome of report.outcomes) Object.assign(annotations, outcome.fields)
  if (lastError !== undefined) annotations["telemetry.shutdown.last_error"] = lastError
  return (clean ? Effect.logInfo(text) : Effect.logWarning(text)).pipe(Effect.annotateLogs(annotations))
}
