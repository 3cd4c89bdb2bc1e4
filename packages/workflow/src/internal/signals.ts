/**
 * Every span and metric `@effect-telemetry/workflow` emits, declared once: docs/SIGNALS.md's tables for it are
 * generated from this (`npx tsx scripts/signals.ts`).
 *
 * @internal
 */
import { Signals } from "@effect-telemetry/core"
import * as metrics from "./metrics.js"

/** @internal */
export const signals: Signals.Catalogue = Signals.make({
  surface: "workflow",
  spans: [
    {
      name: "workflow {workflow.name}",
      ours: true,
      kind: "Internal",
      attributes:
        "`workflow.name`, `workflow.execution.id`, `workflow.resumed` (false on the first run, set at the run's end), `workflow.run.result` = `completed` \\| `failed` \\| `suspended` \\| `interrupted` \\| `abandoned`; `error.type` and an exception event on failure, `effect.interrupted` when interrupted",
      meaning:
        "One run of an execution: the first run, and one per resume. Every run of an execution is a child of the execution's origin (the caller's span; on the cluster engine the trace context it stores with the run request; the first run itself is a root when there was no caller span), so one execution is one trace, across engine restarts and runners on a durable engine; nothing is journaled for it. A resumed run links to what woke it up when that is another span. With `resumeTrace: \"linked\"`, resumed runs are roots linked to the origin and the trigger. Unset on completion and suspension; Error on failure or defect (also when `SuspendOnFailure` turns it into a suspension); Unset with `effect.interrupted` on interruption."
    },
    {
      name: "activity {activity.name}",
      ours: true,
      kind: "Internal",
      attributes:
        "`workflow.name`, `workflow.execution.id`, `activity.name`, `activity.attempt` (1 for the first); `error.type` and an exception event on failure",
      meaning:
        "One attempt that executes; replays from the journal emit none. Child of the library's `{Activity}` span inside the run. Error on failure or defect."
    }
  ],
  metrics: [
    {
      instrument: metrics.workflowStarted,
      ours: true,
      attributes: "always `workflow.name`",
      meaning: "Executions started, once each (resumes and replays do not count)."
    },
    {
      instrument: metrics.workflowCompleted,
      ours: true,
      attributes: "always `workflow.name`",
      meaning: "Executions that completed successfully."
    },
    {
      instrument: metrics.workflowFailed,
      ours: true,
      attributes: "always `workflow.name`, `error.type` (`interrupted` for an interrupted execution)",
      meaning: "Executions that completed with a failure, a defect or an interruption."
    },
    {
      instrument: metrics.workflowSuspended,
      ours: true,
      attributes: "always `workflow.name`",
      meaning: "Runs that ended suspended (clock, `DurableDeferred`, suspended activity or child, `SuspendOnFailure`)."
    },
    {
      instrument: metrics.workflowDuration,
      ours: true,
      attributes: "always `workflow.name`, `result` = `ok` \\| `error` \\| `interrupted`",
      meaning:
        "Start to completion, suspensions included (start time from the execution's stored run request on the cluster engine); recorded when an execution completes. Buckets 10 ms to 7 days."
    },
    {
      instrument: metrics.activityAttempts,
      ours: true,
      attributes:
        "always `workflow.name`, `activity.name`, `result` = `ok` \\| `error` \\| `interrupted` \\| `suspended`",
      meaning: "Activity attempts executed, by outcome (replays are not counted)."
    },
    {
      instrument: metrics.activityRetries,
      ours: true,
      attributes: "always `workflow.name`, `activity.name`",
      meaning: "Executed attempts after the first (`activity.attempt > 1`); a subset of `activity.attempts`."
    },
    {
      instrument: metrics.activityDuration,
      ours: true,
      attributes: "always `workflow.name`, `activity.name`, `result` (as `activity.attempts`)",
      meaning: "Duration of executed attempts."
    }
  ]
})
