/**
 * The instrumented WorkflowEngine: a wrapper around any engine's service value.
 *
 * Three hooks are enough, because every workflow run goes through the function given to
 * `register`, and every activity attempt that actually executes goes through the activity's
 * `executeEncoded` as the engine's `activityExecute` calls it:
 *
 * - `register` wraps the workflow body: one span per run, run outcome metrics, and our engine
 *   provided to the body (the in-memory engine provides its raw self to runs, which would
 *   bypass the activity hook and child workflows).
 * - `activityExecute` hands the engine a view of the activity whose `executeEncoded` is
 *   instrumented, so replays served from the journal emit nothing and real attempts (first
 *   tries and retries) each get a span and metrics.
 * - `execute` annotates the caller's span with the workflow name and execution id.
 *
 * `scheduleClock` and `deferredDone` only change the span they run under (see
 * `underPropagatedSpan`).
 */
import { Attributes, Instrumentation, Propagation, Semconv } from "@effect-telemetry/core"
import * as Activity from "@effect/workflow/Activity"
import * as DurableDeferred from "@effect/workflow/DurableDeferred"
import * as Workflow from "@effect/workflow/Workflow"
import { WorkflowEngine, WorkflowInstance } from "@effect/workflow/WorkflowEngine"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"
import * as Metrics from "./metrics.js"

/** @internal */
export interface Options {
  readonly resumeTrace: "child" | "linked"
}

/** @internal */
export type Engine = WorkflowEngine["Type"]

/**
 * Name of the activity that journals where an execution started (trace context and start
 * time). Journaled like any activity, so a resume, in this process or another one after a
 * restart of a durable engine, reads the same origin the first run recorded.
 *
 * @internal
 */
export const ORIGIN_ACTIVITY = "@effect-telemetry/workflow/origin"

/** What the origin activity journals. Decoded leniently: telemetry must never fail a workflow. */
interface Origin {
  readonly carrier: Record<string, string>
  readonly startedAtMillis: number | undefined
}

const decodeOrigin = (value: unknown): Origin => {
  const record = typeof value === "object" && value !== null ? value as Record<string, unknown> : {}
  const carrier: Record<string, string> = {}
  if (typeof record.carrier === "object" && record.carrier !== null) {
    for (const [key, entry] of Object.entries(record.carrier)) {
      if (typeof entry === "string") carrier[key] = entry
    }
  }
  return {
    carrier,
    startedAtMillis: typeof record.startedAtMillis === "number" ? record.startedAtMillis : undefined
  }
}

const emptyOrigin: Origin = { carrier: {}, startedAtMillis: undefined }

/** The run outcome, from the body's exit and what the workflow told its instance. */
type RunResult = "completed" | "failed" | "suspended" | "interrupted" | "abandoned"

const runResultOf = (exit: Exit.Exit<unknown, unknown>, instance: WorkflowInstance["Type"]): RunResult => {
  if (Exit.isSuccess(exit)) return "completed"
  if (Cause.isInterruptedOnly(exit.cause)) {
    // An interrupted execution is resumed once more and then interrupted where it waits, so
    // it can look suspended too; the interrupt request wins.
    if (instance.interrupted) return "interrupted"
    if (instance.suspended) return "suspended"
    // Interrupted from outside without a suspend or interrupt request (the engine is shutting
    // down): the execution is neither finished nor suspended, a later run continues it.
    return "abandoned"
  }
  return Context.get(instance.workflow.annotations, Workflow.SuspendOnFailure) ? "suspended" : "failed"
}

/**
 * The cluster engine records an interrupt request as this deferred and acts on it only after
 * the run suspended, outside the wrapper; reading it here makes such a run `interrupted`
 * instead of `suspended`. Engines without it (the in-memory one) answer undefined.
 */
const InterruptSignal = DurableDeferred.make("Workflow/InterruptSignal")

const interruptRequested = (engine: Engine): Effect.Effect<boolean, never, WorkflowInstance> =>
  engine.deferredResult(InterruptSignal).pipe(
    Effect.map((exit) => exit !== undefined),
    Effect.catchAllCause(() => Effect.succeed(false))
  )

const attemptResultOf = (
  exit: Exit.Exit<unknown, unknown>,
  instance: WorkflowInstance["Type"]
): Metrics.AttemptResult =>
  Exit.isSuccess(exit)
    ? "ok"
    : Cause.isInterruptedOnly(exit.cause)
    ? (instance.suspended ? "suspended" : "interrupted")
    : "error"

const randomHex = (bytes: number) => {
  let out = ""
  for (let i = 0; i < bytes; i++) out += Math.floor(Math.random() * 256).toString(16).padStart(2, "0")
  return out
}

const unsampledParent = () => Tracer.externalSpan({ traceId: randomHex(16), spanId: randomHex(8), sampled: false })

const spanName = (prefix: string, name: string) => `${prefix} ${name}`

const endSpan = (span: Tracer.Span, exit: Exit.Exit<unknown, unknown>) =>
  Effect.flatMap(Clock.currentTimeNanos, (now) => Effect.sync(() => span.end(now, exit)))

/**
 * Runs `effect` under the nearest span that propagates. A durable engine stores the current
 * span's ids with the messages it sends (the cluster's clock wake-up, a deferred's
 * completion); in a body written as an anonymous `Effect.fn` that span is Effect's
 * non-propagating `<anonymous>` span, whose ids lead nowhere, and the wake-up started a trace
 * of its own. Under the run span (or a span of the user's) the execution stays one trace.
 */
const underPropagatedSpan = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    Effect.option(Effect.currentPropagatedSpan),
    (span) => Option.isSome(span) ? Effect.withParentSpan(effect, span.value) : effect
  )

/**
 * Reads the execution's origin from the journal, recording it on the first run. On the first
 * run the run span is created here, inside the activity, so that an execution started outside
 * any span still has one trace: its first run span becomes the origin of the later runs.
 */
const runSpan = (
  underlying: Engine,
  options: Options,
  workflowName: string,
  executionId: string,
  restore: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
): Effect.Effect<
  { readonly span: Tracer.Span; readonly origin: Origin; readonly first: boolean },
  never,
  WorkflowInstance
> =>
  Effect.gen(function*() {
    const trigger = Option.getOrUndefined(yield* Effect.option(Effect.currentParentSpan))
    const attributes = {
      [Semconv.ATTR_WORKFLOW_NAME]: workflowName,
      [Semconv.ATTR_WORKFLOW_EXECUTION_ID]: executionId
    }
    let firstSpan: Tracer.Span | undefined
    const record = Activity.make({
      name: ORIGIN_ACTIVITY,
      success: Schema.Unknown,
      execute: Effect.gen(function*() {
        const span = yield* Effect.makeSpan(spanName(Semconv.SPAN_WORKFLOW_RUN, workflowName), {
          kind: "internal",
          attributes: Attributes.extend(attributes, { [Semconv.ATTR_WORKFLOW_RESUMED]: false }),
          ...(trigger === undefined ? { root: true } : { parent: trigger }),
          captureStackTrace: false
        })
        firstSpan = span
        return {
          carrier: Propagation.inject(trigger ?? span),
          startedAtMillis: yield* Clock.currentTimeMillis
        }
      })
    })
    const origin = yield* restore(record).pipe(
      Effect.onExit((exit) =>
        // Suspended or interrupted while journaling: the first run ends here, not unended.
        Exit.isFailure(exit) && firstSpan !== undefined ? endSpan(firstSpan, exit) : Effect.void
      ),
      Effect.map(decodeOrigin),
      // A journal or decoding problem loses the trace link, never the workflow; suspension
      // and interruption are control flow and pass through.
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.failCause(cause) : Effect.succeed(emptyOrigin)
      ),
      Effect.provideService(WorkflowEngine, underlying),
      // The origin activity is ours, so the spans around it (the library's, and a durable
      // engine's client and server spans) are parented to a context marked unsampled: the
      // parent-based sampler drops them everywhere the flag propagates, and they start no
      // stray traces. Disabling the tracer instead would send no context at all, and the
      // engine's server side would start a new sampled root.
      Effect.withParentSpan(unsampledParent())
    )
    if (firstSpan !== undefined) return { span: firstSpan, origin, first: true }
    const parent = Propagation.extract(origin.carrier)
    const links: Array<Tracer.SpanLink> = []
    if (trigger !== undefined && (Option.isNone(parent) || trigger.spanId !== parent.value.spanId)) {
      links.push({ _tag: "SpanLink", span: trigger, attributes: {} })
    }
    if (options.resumeTrace === "linked" && Option.isSome(parent)) {
      links.unshift({ _tag: "SpanLink", span: parent.value, attributes: {} })
    }
    const span = yield* Effect.makeSpan(spanName(Semconv.SPAN_WORKFLOW_RUN, workflowName), {
      kind: "internal",
      attributes: Attributes.extend(attributes, { [Semconv.ATTR_WORKFLOW_RESUMED]: true }),
      links,
      ...(options.resumeTrace === "child" && Option.isSome(parent) ? { parent: parent.value } : { root: true }),
      captureStackTrace: false
    })
    return { span, origin, first: false }
  })

const instrumentRun = <A, E, R>(
  underlying: Engine,
  self: () => Engine,
  options: Options,
  workflow: Workflow.Any,
  execute: (payload: any, executionId: string) => Effect.Effect<A, E, R>
) =>
(payload: any, executionId: string): Effect.Effect<A, E, R | WorkflowInstance> =>
  // Uninterruptible between creating the span and guarding its end, so no run span is left open.
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function*() {
      const instance = yield* WorkflowInstance
      const name = workflow.name
      const { first, origin, span } = yield* runSpan(underlying, options, name, executionId, restore)
      const metricAttributes = { [Semconv.ATTR_WORKFLOW_NAME]: name }
      if (first) Metrics.workflowStarted.unsafeAdd(1, metricAttributes)
      return yield* restore(execute(payload, executionId)).pipe(
        Effect.provideService(WorkflowEngine, self()),
        Effect.withParentSpan(span),
        Effect.onExit((exit) =>
          Effect.gen(function*() {
            let result = runResultOf(exit, instance)
            if (result === "suspended" && (yield* interruptRequested(underlying))) result = "interrupted"
            span.attribute(Semconv.ATTR_WORKFLOW_RUN_RESULT, result)
            const now = yield* Clock.currentTimeMillis
            const durationSeconds = origin.startedAtMillis === undefined
              ? undefined
              : Math.max(0, now - origin.startedAtMillis) / 1000
            switch (result) {
              case "completed":
                Metrics.workflowCompleted.unsafeAdd(1, metricAttributes)
                break
              case "failed":
              case "interrupted":
                Metrics.workflowFailed.unsafeAdd(
                  1,
                  Attributes.extend(metricAttributes, {
                    [Semconv.ATTR_ERROR_TYPE]: Instrumentation.errorTypeOfExit(exit) ?? Semconv.ERROR_TYPE_OTHER
                  })
                )
                break
              case "suspended":
                Metrics.workflowSuspended.unsafeAdd(1, metricAttributes)
                break
              case "abandoned":
                break
            }
            if (durationSeconds !== undefined && result !== "suspended" && result !== "abandoned") {
              Metrics.workflowDuration.unsafeRecord(
                durationSeconds,
                Attributes.extend(metricAttributes, {
                  [Semconv.ATTR_RESULT]: result === "completed" ? "ok" : result === "failed" ? "error" : "interrupted"
                })
              )
            }
            // A suspension is the workflow waiting, not a cancellation; the span says so by
            // its result and not by `effect.interrupted`. A suspension caused by a failure
            // (SuspendOnFailure) keeps the failure on the span.
            yield* endSpan(span, result === "suspended" && Exit.isInterrupted(exit) ? Exit.void : exit)
          })
        )
      )
    })
  )

/**
 * One executed attempt of `activity`: its span, `activity.attempts` and `activity.duration` by
 * result. Built when the engine runs it: an attempt replayed from the journal records nothing.
 */
const instrumentAttempt = (
  activity: Activity.Any,
  attempt: number,
  instance: WorkflowInstance["Type"]
): Effect.Effect<any, any, any> =>
  Effect.suspend(() => {
    const attributes = {
      [Semconv.ATTR_WORKFLOW_NAME]: instance.workflow.name,
      [Semconv.ATTR_ACTIVITY_NAME]: activity.name
    }
    if (attempt > 1) Metrics.activityRetries.unsafeAdd(1, attributes)
    const operation = Instrumentation.operation<any, any>({
      span: {
        name: spanName(Semconv.SPAN_ACTIVITY_ATTEMPT, activity.name),
        kind: "internal",
        attributes: Attributes.extend(attributes, {
          [Semconv.ATTR_WORKFLOW_EXECUTION_ID]: instance.executionId,
          [Semconv.ATTR_ACTIVITY_ATTEMPT]: attempt
        })
      },
      count: Metrics.activityAttempts,
      duration: Metrics.activityDuration,
      attributes: (exit) => Attributes.extend(attributes, { [Semconv.ATTR_RESULT]: attemptResultOf(exit, instance) })
    })
    return operation(activity.executeEncoded)
  })

/** @internal */
export const make = (underlying: Engine, options: Options): Engine => {
  const engine: Engine = WorkflowEngine.of({
    ...underlying,
    register: (workflow, execute) =>
      underlying.register(
        workflow,
        instrumentRun(underlying, () => engine, options, workflow, execute) as typeof execute
      ),
    execute: (workflow, opts) =>
      Effect.zipRight(
        Effect.annotateCurrentSpan({
          [Semconv.ATTR_WORKFLOW_NAME]: workflow.name,
          [Semconv.ATTR_WORKFLOW_EXECUTION_ID]: opts.executionId
        }),
        underlying.execute(workflow, opts)
      ),
    scheduleClock: (workflow, opts) => underPropagatedSpan(underlying.scheduleClock(workflow, opts)),
    deferredDone: (deferred, opts) => underPropagatedSpan(underlying.deferredDone(deferred, opts)),
    activityExecute: (activity, attempt) => {
      if (activity.name === ORIGIN_ACTIVITY) return underlying.activityExecute(activity, attempt)
      return Effect.flatMap(WorkflowInstance, (instance) => {
        // A view of the activity: same name, schemas and identity for the engine's journal,
        // only the execution instrumented.
        const view = Object.create(activity)
        view.executeEncoded = instrumentAttempt(activity, attempt, instance)
        return underlying.activityExecute(view, attempt)
      })
    }
  })
  return engine
}
