/**
 * Every span and metric `@effect-telemetry/process` emits, declared once: docs/SIGNALS.md's tables for it are
 * generated from this (`npx tsx scripts/signals.ts`).
 *
 * @internal
 */
import { Signals } from "@effect-telemetry/core"
import * as command from "./command.js"
import * as process from "./process.js"

/** @internal */
export const signals: Signals.Catalogue = Signals.make({
  surface: "process",
  spans: [
    {
      name: "process {name}",
      ours: true,
      kind: "Internal",
      attributes:
        "`process.name` *(ours)*, the `attributes` option; `process.run` *(ours, 1-based)* for scheduled runs; `error.type` on failure, `effect.interrupted` when interrupted",
      meaning:
        "One span from spawn to exit of a forked process (`fork`, `forkScoped`, `forkDaemon`, `instrument`), or one per run of scheduled work (`schedule`, `repeat`). Child of the spawning span, a root when there is none. Scheduled runs (and `trace: \"linked\"` processes) are roots linked to the spawning span by default; `trace: \"child\"` keeps them in its trace. Error on failure or defect; Unset on success and interruption."
    },
    {
      name: "exec {executable}",
      nameNote: "(`exec a \\| b` for pipelines)",
      ours: true,
      kind: "Client",
      attributes:
        "Of the last command: `process.command`, `process.executable.name`, `process.args_count` (executable included); `process.pid` once spawned; `process.exit.code` when it exited; `process.command_args` only with `recordArgs: true` (credentials in URLs redacted); `error.type` on Error",
      meaning:
        "One span per command from spawn to exit, child of the current span. Error when the exit code is an error (default: non-zero, option `isError`; `error.type` = the code), when the child dies of a signal (`error.type` = `SIGKILL`, ...) or cannot be spawned (`error.type` = the platform reason, `NotFound`, ...). A child killed because its scope closed is Unset with `effect.interrupted=true`."
    }
  ],
  metrics: [
    {
      instrument: process.started,
      ours: true,
      attributes: "always `process.name`",
      meaning: "Processes (or scheduled runs) started."
    },
    {
      instrument: process.terminated,
      ours: true,
      attributes: "always `process.name`, `result` = `completed` \\| `error` \\| `interrupted`",
      meaning: "Processes (or runs) ended, by outcome; always pairs with `process.started`."
    },
    {
      instrument: process.active,
      ours: true,
      attributes: "always `process.name`",
      meaning: "Processes running now; returns to 0 after every exit, interruption included."
    },
    {
      instrument: process.duration,
      ours: true,
      attributes: "always `process.name`, `result`",
      meaning: "Lifetime of a process, or duration of one scheduled run."
    },
    {
      instrument: command.commandDuration,
      ours: true,
      attributes: "always `process.executable.name`; `process.exit.code` when it exited; `error.type` when an error",
      meaning: "Child process commands from spawn to exit."
    }
  ]
})
