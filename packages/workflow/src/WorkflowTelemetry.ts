/**
 * Telemetry for `@effect/workflow`: a Layer that wraps the `WorkflowEngine` service, so every
 * workflow registered on it gets a span per run and per activity attempt, one trace per
 * execution across suspend and resume, and the `workflow.*` and `activity.*` metrics.
 *
 * @example
 * ```ts
 * import { WorkflowTelemetry } from "@effect-telemetry/workflow"
 * import { WorkflowEngine } from "@effect/workflow"
 * import { Layer } from "effect"
 *
 * // the one line: an instrumented engine wherever the engine was provided
 * const Engine = WorkflowTelemetry.layer().pipe(Layer.provide(WorkflowEngine.layerMemory))
 *
 * const Workflows = SendEmailWorkflowLive.pipe(Layer.provideMerge(Engine))
 * ```
 *
 * @since 0.1.0
 */
import { Instrumentation, TelemetryOptionsError } from "@effect-telemetry/core"
import type { Signals } from "@effect-telemetry/core"
import type { WorkflowEngine as WorkflowEngineNs } from "@effect/workflow"
import { WorkflowEngine } from "@effect/workflow/WorkflowEngine"
import * as internal from "./internal/engine.js"
import * as metrics from "./internal/metrics.js"
import * as internalSignals from "./internal/signals.js"

/** `workflow.started{workflow.name}`: counter, once per execution. @since 0.1.0 @category metrics */
export const started = metrics.workflowStarted

/** `workflow.completed{workflow.name}`: counter. @since 0.1.0 @category metrics */
export const completed = metrics.workflowCompleted

/** `workflow.failed{workflow.name, error.type}`: counter (failures, defects, and interruptions as `error.type=interrupted`). @since 0.1.0 @category metrics */
export const failed = metrics.workflowFailed

/** `workflow.suspended{workflow.name}`: counter, once per run that suspends. @since 0.1.0 @category metrics */
export const suspended = metrics.workflowSuspended

/** `workflow.duration{workflow.name, result}`: histogram, start to completion in seconds. @since 0.1.0 @category metrics */
export const duration = metrics.workflowDuration

/** `activity.attempts{workflow.name, activity.name, result}`: counter. @since 0.1.0 @category metrics */
export const activityAttempts = metrics.activityAttempts

/** `activity.retries{workflow.name, activity.name}`: counter of attempts after the first. @since 0.1.0 @category metrics */
export const activityRetries = metrics.activityRetries

/** `activity.duration{workflow.name, activity.name, result}`: histogram in seconds. @since 0.1.0 @category metrics */
export const activityDuration = metrics.activityDuration

/** @since 0.1.0 @category models */
export interface Options {
  /**
   * Where the runs after a suspension go. `"child"` (default): children of the span that
   * started the execution, so one execution is one trace. `"linked"`: each resumed run
   * starts its own trace, linked to that span, for workflows that live for weeks.
   */
  readonly resumeTrace?: "child" | "linked" | undefined
}

const resolve = (options: Options | undefined): internal.Options => ({
  resumeTrace: TelemetryOptionsError.literal(
    "WorkflowTelemetry",
    "resumeTrace",
    options?.resumeTrace,
    ["child", "linked"],
    "child"
  )
})

/**
 * Wraps an engine's service value. Throws a `TelemetryOptionsError` on an unknown
 * `resumeTrace`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  engine: WorkflowEngineNs.WorkflowEngine["Type"],
  options?: Options
): WorkflowEngineNs.WorkflowEngine["Type"] => internal.make(engine, resolve(options))

/**
 * Replaces the `WorkflowEngine` it is given with an instrumented one (by default resumed runs
 * are children of the execution's first span). Fails with a `TelemetryOptionsError` on an
 * unknown `resumeTrace`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = Instrumentation.decorate(WorkflowEngine, make)

/**
 * {@link layer} with options read from Effect `Config`.
 *
 * @example
 * ```ts
 * WorkflowTelemetry.layerConfig({
 *   resumeTrace: Config.literal("child", "linked")("WORKFLOW_RESUME_TRACE").pipe(Config.withDefault("child"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = Instrumentation.decorateConfig(WorkflowEngine, make)

/**
 * Every span and metric this surface emits, with its attributes and meaning: the declaration
 * docs/SIGNALS.md is generated from.
 *
 * @since 0.1.0
 * @category signals
 */
export const signals: Signals.Catalogue = internalSignals.signals
