/**
 * The names `@effect-telemetry/workflow` emits. OpenTelemetry has no semantic conventions for
 * workflow engines: all names are ours except the stable `error.type` and its `_OTHER`
 * value, imported from `@opentelemetry/semantic-conventions`.
 *
 * @internal
 */
import { Semconv } from "@effect-telemetry/core"

export { ATTR_ERROR_TYPE, ERROR_TYPE_VALUE_OTHER as ERROR_TYPE_OTHER } from "@opentelemetry/semantic-conventions"

/** The outcome attribute of the kit, shared with core's function metrics. @internal */
export const ATTR_RESULT = Semconv.ATTR_RESULT

/** The workflow's registered name. @internal */
export const ATTR_WORKFLOW_NAME = "workflow.name"
/** The deterministic execution id the engine derives from the payload. @internal */
export const ATTR_WORKFLOW_EXECUTION_ID = "workflow.execution.id"
/** Whether a run continues an execution that suspended before (a resume). @internal */
export const ATTR_WORKFLOW_RESUMED = "workflow.resumed"
/** How a run ended: `completed` | `failed` | `suspended` | `interrupted`. @internal */
export const ATTR_WORKFLOW_RUN_RESULT = "workflow.run.result"
/** @internal */
export const ATTR_ACTIVITY_NAME = "activity.name"
/** The attempt number, 1 for the first (`Activity.CurrentAttempt`). @internal */
export const ATTR_ACTIVITY_ATTEMPT = "activity.attempt"
/** Span name prefix of a workflow run: `workflow {workflow.name}`. @internal */
export const SPAN_WORKFLOW_RUN = "workflow"
/** Span name prefix of an activity attempt: `activity {activity.name}`. @internal */
export const SPAN_ACTIVITY_ATTEMPT = "activity"
/** @internal */
export const METRIC_WORKFLOW_STARTED = "workflow.started"
/** @internal */
export const METRIC_WORKFLOW_COMPLETED = "workflow.completed"
/** @internal */
export const METRIC_WORKFLOW_FAILED = "workflow.failed"
/** @internal */
export const METRIC_WORKFLOW_SUSPENDED = "workflow.suspended"
/** @internal */
export const METRIC_WORKFLOW_DURATION = "workflow.duration"
/** @internal */
export const METRIC_ACTIVITY_ATTEMPTS = "activity.attempts"
/** @internal */
export const METRIC_ACTIVITY_RETRIES = "activity.retries"
/** @internal */
export const METRIC_ACTIVITY_DURATION = "activity.duration"
/**
 * Boundaries for whole-workflow durations in seconds: workflows sleep and wait for signals,
 * so they run from milliseconds to days (10 ms to 7 days).
 *
 * @internal
 */
export const WORKFLOW_DURATION_SECONDS_BOUNDARIES: ReadonlyArray<number> = [
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
  10,
  30,
  60,
  300,
  900,
  1800,
  3600,
  10800,
  21600,
  43200,
  86400,
  259200,
  604800
]
