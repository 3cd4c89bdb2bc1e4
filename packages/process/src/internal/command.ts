import { Instrument, Instrumentation, Propagation, Redaction, Tracing } from "@effect-telemetry/core"
import * as Command from "@effect/platform/Command"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as PlatformError from "@effect/platform/Error"
import * as OtelApi from "@opentelemetry/api"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import * as Semconv from "./semconv.js"

/** @internal */
export const commandDuration = Instrument.histogram({
  name: Semconv.METRIC_PROCESS_COMMAND_DURATION,
  unit: "s",
  description:
    "Duration of child process commands, from spawn to exit, by process.executable.name and process.exit.code."
})

/** @internal */
export interface Options {
  readonly recordArgs?: boolean | undefined
  readonly isError?: ((exitCode: number) => boolean) | undefined
  readonly propagate?: boolean | undefined
}

// --- environment carrier ---------------------------------------------------------------------

/**
 * The environment variable name of a propagator field, per the OTel spec for environment
 * carriers: upper case, every character outside `[A-Z0-9_]` replaced by `_`.
 *
 * @internal
 */
export const envNameOf = (field: string): string => field.toUpperCase().replace(/[^A-Z0-9_]/g, "_")

/** Fields the installed propagator reads and writes, plus the W3C ones a child may expect. */
const carrierFields = (): ReadonlyArray<string> => {
  const fields = new Set(OtelApi.propagation.fields())
  for (const name of Semconv.ENV_CARRIER_VARIABLES) fields.add(name.toLowerCase())
  return [...fields]
}

/**
 * Environment variables carrying `span`'s context. Every carrier variable the propagator did not
 * write is set to the empty string, so a child never inherits a stale `TRACEPARENT` from this
 * process's own environment (an empty value is invalid and ignored on extraction).
 *
 * @internal
 */
export const envOf = (span: Tracer.AnySpan): Record<string, string> => {
  const injected = Propagation.inject(span)
  const env: Record<string, string> = {}
  for (const field of carrierFields()) env[envNameOf(field)] = ""
  for (const [key, value] of Object.entries(injected)) env[envNameOf(key)] = value
  return env
}

/** @internal */
export const carrierFromEnv = (env: Readonly<Record<string, string | undefined>>): Propagation.Carrier => {
  const carrier: Record<string, string> = {}
  for (const field of carrierFields()) {
    const value = env[envNameOf(field)]
    if (value !== undefined && value !== "") carrier[field] = value
  }
  return carrier
}

/** @internal */
export const parentFromEnv = (env: Readonly<Record<string, string | undefined>>) =>
  Effect.sync(() => Propagation.extract(carrierFromEnv(env)))

/** @internal */
export const withParentFromEnv = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  env: Readonly<Record<string, string | undefined>> = process.env
): Effect.Effect<A, E, R> =>
  Effect.flatMap(
    parentFromEnv(env),
    Option.match({ onNone: () => self, onSome: (parent) => Effect.withParentSpan(self, parent) })
  )

// --- span attributes -------------------------------------------------------------------------

const basename = (path: string): string => {
  const parts = path.split(/[\\/]/)
  return parts[parts.length - 1] || path
}

const errorTypeOfPlatformError = (error: PlatformError.PlatformError): string => {
  // A signal exit only shows in the message; its name is the useful class (SIGKILL vs SIGTERM).
  const signal = /signal: (SIG[A-Z0-9]+)/.exec(error.message)
  if (signal !== null) return signal[1]!
  return error._tag === "SystemError" ? error.reason : error._tag
}

// --- the executor ----------------------------------------------------------------------------

/**
 * Wraps `start`: a Client span per command from spawn to exit, trace context in the child's
 * environment, the duration metric. The span ends when the process exits (watched by a fiber)
 * or, at the latest, when the command's scope closes, after the executor has killed the process
 * and awaited its exit; a flag makes sure it ends once.
 *
 * @internal
 */
export const make = (
  underlying: CommandExecutor.CommandExecutor,
  options?: Options
): CommandExecutor.CommandExecutor => {
  const isError = options?.isError ?? ((code: number) => code !== 0)
  const propagate = options?.propagate ?? true
  const start: CommandExecutor.CommandExecutor["start"] = (command) =>
    Effect.gen(function*() {
      const commands = Command.flatten(command)
      const last = commands[commands.length - 1]!
      const executable = basename(last.command)
      const attributes: Record<string, unknown> = {
        [Semconv.ATTR_PROCESS_COMMAND]: last.command,
        [Semconv.ATTR_PROCESS_EXECUTABLE_NAME]: executable,
        [Semconv.ATTR_PROCESS_ARGS_COUNT]: last.args.length + 1
      }
      if (options?.recordArgs === true) {
        attributes[Semconv.ATTR_PROCESS_COMMAND_ARGS] = [last.command, ...last.args].map(Redaction.credentialsInText)
      }
      const span = yield* Effect.makeSpan(
        `${Semconv.SPAN_COMMAND_PREFIX} ${commands.map((c) => basename(c.command)).join(" | ")}`,
        { kind: "client", attributes }
      )
      const startedAt = performance.now()
      let ended = false
      const end = (exit: Exit.Exit<unknown, unknown>, exitCode: number | undefined, errorType: string | undefined) =>
        Effect.flatMap(Clock.currentTimeNanos, (now) =>
          Effect.sync(() => {
            if (ended) return
            ended = true
            const metricAttributes: Record<string, string | number> = {
              [Semconv.ATTR_PROCESS_EXECUTABLE_NAME]: executable
            }
            if (exitCode !== undefined) {
              span.attribute(Semconv.ATTR_PROCESS_EXIT_CODE, exitCode)
              metricAttributes[Semconv.ATTR_PROCESS_EXIT_CODE] = exitCode
            }
            if (errorType !== undefined) {
              span.attribute(Semconv.ATTR_ERROR_TYPE, errorType)
              metricAttributes[Semconv.ATTR_ERROR_TYPE] = errorType
            }
            if (exitCode !== undefined && errorType !== undefined) {
              Tracing.setSpanStatus(span, { code: "error", message: `${executable} exited with code ${exitCode}` })
            }
            commandDuration.unsafeRecord((performance.now() - startedAt) / 1000, metricAttributes)
            span.end(now, exit)
          }))
      // `killedByScope`: the scope closed while the child ran, so the executor terminated it;
      // a signal exit is then cancellation (Unset, `effect.interrupted`), not an error.
      const endWithExitCode = (process: CommandExecutor.Process, killedByScope: boolean) =>
        Effect.flatMap(Effect.exit(process.exitCode), (exit) =>
          Exit.match(exit, {
            onSuccess: (code) => end(exit, code, isError(code) ? String(code) : undefined),
            onFailure: (cause) =>
              killedByScope
                ? Effect.flatMap(Effect.fiberId, (id) => end(Exit.interrupt(id), undefined, undefined))
                : end(exit, undefined, Instrumentation.errorTypeOfCause(cause, errorTypeOfPlatformError))
          }))

      let child: CommandExecutor.Process | undefined = undefined
      let killedByScope = false
      // Registered before the executor's own finalizer, so it runs after the kill and the wait.
      yield* Effect.addFinalizer((scopeExit) =>
        Effect.suspend(() => {
          if (ended) return Effect.void
          if (child === undefined) return end(scopeExit, undefined, undefined)
          const process = child
          // Unknown counts as running: waiting on an exit code that never comes would hang the scope.
          return Effect.flatMap(
            Effect.orElseSucceed(process.isRunning, () => true),
            (running) => running ? end(scopeExit, undefined, undefined) : endWithExitCode(process, killedByScope)
          )
        })
      )
      const withContext = propagate ? Command.env(command, envOf(span)) : command
      const process = yield* underlying.start(withContext).pipe(
        Effect.tapError((error) => end(Exit.fail(error), undefined, errorTypeOfPlatformError(error)))
      )
      child = process
      span.attribute(Semconv.ATTR_PROCESS_PID, process.pid)
      // Runs before the executor's finalizer: notes whether the child outlived its scope.
      yield* Effect.addFinalizer(() =>
        Effect.map(Effect.orElseSucceed(process.isRunning, () => false), (running) => {
          killedByScope = running
        })
      )
      yield* Effect.forkScoped(endWithExitCode(process, false))
      return process
    })
  return CommandExecutor.makeExecutor(start)
}
