import { Instrument } from "@effect-telemetry/core"
import * as Semconv from "./semconv.js"

/** @internal */
export type AttemptResult = "ok" | "error" | "interrupted" | "suspended"

/** @internal */
export const workflowStarted = Instrument.counter({
  name: Semconv.METRIC_WORKFLOW_STARTED,
  unit: "{execution}",
  description: "Workflow executions started (first runs; resumes are not counted)."
})

/** @internal */
export const workflowCompleted = Instrument.counter({
  name: Semconv.METRIC_WORKFLOW_COMPLETED,
  unit: "{execution}",
  description: "Workflow executions that completed successfully."
})

/** @internal */
export const workflowFailed = Instrument.counter({
  name: Semconv.METRIC_WORKFLOW_FAILED,
  unit: "{execution}",
  description:
    "Workflow executions that completed with a failure, a defect or an interruption, by error.type (interrupted for an interruption)."
})

/** @internal */
export const workflowSuspended = Instrument.counter({
  name: Semconv.METRIC_WORKFLOW_SUSPENDED,
  unit: "{run}",
  description: "Workflow runs that ended suspended (waiting for a clock, a deferred, an activity or a manual resume)."
})

/** @internal */
export const workflowDuration = Instrument.histogram({
  name: Semconv.METRIC_WORKFLOW_DURATION,
  unit: "s",
  description: "Time from the start of a workflow execution to its completion, suspensions included.",
  boundaries: Semconv.WORKFLOW_DURATION_SECONDS_BOUNDARIES
})

/** @internal */
export const activityAttempts = Instrument.counter({
  name: Semconv.METRIC_ACTIVITY_ATTEMPTS,
  unit: "{attempt}",
  description: "Activity attempts executed (replays from the journal are not counted), by result."
})

/** @internal */
export const activityRetries = Instrument.counter({
  name: Semconv.METRIC_ACTIVITY_RETRIES,
  unit: "{attempt}",
  description: "Activity attempts after the first (attempt number above 1)."
})

/** @internal */
export const activityDuration = Instrument.histogram({
  name: Semconv.METRIC_ACTIVITY_DURATION,
  unit: "s",
  description: "Duration of executed activity attempts."
})
