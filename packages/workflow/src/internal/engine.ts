/**
 * The instrumented WorkflowEngine: a wrapper around any engine's service value.
 *
 * Three hooks carry the signals, because every workflow run goes through the function given to
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
 * `underPropagatedSpan`); `deferredResult` and `activityExecute` also note when a run is
 * served from the journal, which tells a resume from a first run where nothing else can.
 *
 * Nothing is journaled for telemetry: the trace context an execution's runs belong to is the
 * one the engine already keeps with the execution (see `runSpan`).
 */
import { Attributes, Instrumentation } from "@effect-telemetry/core"
import type * as Activity from "@effect/workflow/Activity"
import * as DurableDeferred from "@effect/workflow/DurableDeferred"
import * as Workflow from "@effect/workflow/Workflow"
import { WorkflowEngine, WorkflowInstance } from "@effect/workflow/WorkflowEngine"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import * as Metrics from "./metrics.js"
import * as Semconv from "./semconv.js"

/** @internal */
export interface Options {
  readonly resumeTrace: "child" | "linked"
}

/** @internal */
export type Engine = WorkflowEngine["Type"]

/**
 * Where an execution's runs belong: the span context every run is parented to, and when the
 * execution started (for `workflow.duration`). Nothing of it is journaled: see `runSpan`.
 */
interface Origin {
  readonly parent: Tracer.AnySpan | undefined
  readonly startedAtMillis: number | undefined
}

/**
 * How many origins one engine remembers. Suspended executions stay until they finish; past
 * this bound the oldest is forgotten, and a later run of it falls back to what the engine
 * delivers it with (the cluster's stored request context), as on another runner.
 */
const MAX_KNOWN_ORIGINS = 10_000

/** The epoch of `@effect/cluster`'s Snowflake ids (its public `Snowflake.constEpochMillis`). */
const SNOWFLAKE_EPOCH_MILLIS = Date.UTC(2025, 0, 1)

/**
 * A run the engine delivered from a stored request: `@effect/cluster` persists the trace
 * context of the caller's span with the workflow's `run` request and re-delivers that request,
 * with the same context, for every resume on any runner; the RPC server's span for the
 * delivery (`Workflow/{name}({executionId}).run`, attribute `requestId`) is a child of it. That
 * stored context is the execution's origin, and the request's Snowflake id holds when it was
 * sent. Returns undefined for a run invoked in-process (the in-memory engine).
 */
const deliveredOrigin = (trigger: Tracer.AnySpan | undefined): Origin | undefined => {
  if (trigger === undefined || trigger._tag !== "Span") return undefined
  const requestId = trigger.attributes.get("requestId")
  if (Option.isNone(trigger.parent) || trigger.parent.value._tag !== "ExternalSpan") return undefined
  if (typeof requestId !== "string" || !/^\d+$/.test(requestId)) return undefined
  const sentAt = Number(BigInt(requestId) >> 22n) + SNOWFLAKE_EPOCH_MILLIS
  return { parent: trigger.parent.value, startedAtMillis: Number.isFinite(sentAt) ? sentAt : undefined }
}

/** Per run: whether the engine served anything of this execution's journal back to it. */
interface RunState {
  replayed: boolean
}

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

/** Remembers an execution's origin, forgetting the oldest past {@link MAX_KNOWN_ORIGINS}. */
const remember = (known: Map<string, Origin>, executionId: string, origin: Origin) => {
  known.delete(executionId)
  known.set(executionId, origin)
  if (known.size > MAX_KNOWN_ORIGINS) known.delete(known.keys().next().value!)
}

/**
 * The run span, parented to the execution's origin:
 * - a run of an execution this engine ran before: the origin it remembered (resumed);
 * - a run a durable engine delivered from its stored request: that request's stored context
 *   (see `deliveredOrigin`); whether it is a resume is known only once the run replays
 *   something of the journal, so `resumed` is undefined here and decided when it ends;
 * - otherwise the first run: a child of the caller's span, or a root when there is none, in
 *   which case the run span itself becomes the origin of the later runs.
 */
const runSpan = (
  known: Map<string, Origin>,
  options: Options,
  workflowName: string,
  executionId: string
): Effect.Effect<{
  readonly span: Tracer.Span
  readonly origin: Origin
  readonly resumed: boolean | undefined
}> =>
  Effect.gen(function*() {
    const trigger = Option.getOrUndefined(yield* Effect.option(Effect.currentParentSpan))
    const remembered = known.get(executionId)
    const delivered = remembered === undefined ? deliveredOrigin(trigger) : undefined
    const resumed = remembered !== undefined ? true : delivered !== undefined ? undefined : false
    const origin: Origin = remembered ?? delivered ??
      { parent: trigger, startedAtMillis: yield* Clock.currentTimeMillis }
    const parent = origin.parent
    const links: Array<Tracer.SpanLink> = []
    if (trigger !== undefined && (parent === undefined || trigger.spanId !== parent.spanId)) {
      links.push({ _tag: "SpanLink", span: trigger, attributes: {} })
    }
    const linked = options.resumeTrace === "linked" && resumed === true
    if (linked && parent !== undefined) links.unshift({ _tag: "SpanLink", span: parent, attributes: {} })
    const attributes = {
      [Semconv.ATTR_WORKFLOW_NAME]: workflowName,
      [Semconv.ATTR_WORKFLOW_EXECUTION_ID]: executionId
    }
    const span = yield* Effect.makeSpan(spanName(Semconv.SPAN_WORKFLOW_RUN, workflowName), {
      kind: "internal",
      attributes: resumed === undefined
        ? attributes
        : Attributes.extend(attributes, { [Semconv.ATTR_WORKFLOW_RESUMED]: resumed }),
      links,
      ...(linked || parent === undefined ? { root: true } : { parent }),
      captureStackTrace: false
    })
    remember(known, executionId, parent === undefined ? { ...origin, parent: span } : origin)
    return { span, origin, resumed }
  })

const instrumentRun = <A, E, R>(
  underlying: Engine,
  self: () => Engine,
  state: EngineState,
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
      const { origin, resumed, span } = yield* runSpan(state.known, options, name, executionId)
      const run: RunState = { replayed: false }
      state.runs.set(instance, run)
      const metricAttributes = { [Semconv.ATTR_WORKFLOW_NAME]: name }
      if (resumed === false) Metrics.workflowStarted.unsafeAdd(1, metricAttributes)
      return yield* restore(execute(payload, executionId)).pipe(
        Effect.provideService(WorkflowEngine, self()),
        Effect.withParentSpan(span),
        Effect.onExit((exit) =>
          Effect.gen(function*() {
            let result = runResultOf(exit, instance)
            if (result === "suspended" && (yield* interruptRequested(underlying))) result = "interrupted"
            span.attribute(Semconv.ATTR_WORKFLOW_RUN_RESULT, result)
            if (resumed === undefined) {
              // Delivered by a durable engine to a runner that had not run it: a resume exactly
              // when the run was served something of the journal.
              span.attribute(Semconv.ATTR_WORKFLOW_RESUMED, run.replayed)
              if (!run.replayed && result !== "abandoned") Metrics.workflowStarted.unsafeAdd(1, metricAttributes)
            }
            if (result !== "suspended" && result !== "abandoned") state.known.delete(executionId)
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

/** What one instrumented engine keeps: origins of executions it ran, and each live run's state. */
interface EngineState {
  readonly known: Map<string, Origin>
  readonly runs: WeakMap<WorkflowInstance["Type"], RunState>
}

/** @internal */
export const make = (underlying: Engine, options: Options): Engine => {
  const state: EngineState = { known: new Map(), runs: new WeakMap() }
  const replayed = (instance: WorkflowInstance["Type"]) => {
    const run = state.runs.get(instance)
    if (run !== undefined) run.replayed = true
  }
  const engine: Engine = WorkflowEngine.of({
    ...underlying,
    register: (workflow, execute) =>
      underlying.register(
        workflow,
        instrumentRun(underlying, () => engine, state, options, workflow, execute) as typeof execute
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
    deferredResult: (deferred) =>
      Effect.flatMap(WorkflowInstance, (instance) =>
        Effect.tap(underlying.deferredResult(deferred), (exit) => {
          if (exit !== undefined) replayed(instance)
        })),
    activityExecute: (activity, attempt) =>
      Effect.flatMap(WorkflowInstance, (instance) => {
        // A view of the activity: same name, schemas and identity for the engine's journal,
        // only the execution instrumented.
        let executed = false
        const view = Object.create(activity)
        view.executeEncoded = Effect.suspend(() => {
          executed = true
          return instrumentAttempt(activity, attempt, instance)
        })
        return Effect.tap(underlying.activityExecute(view, attempt), (result) => {
          // Answered without running the attempt: served from the journal.
          if (!executed && result._tag === "Complete") replayed(instance)
        })
      })
  })
  return engine
}
