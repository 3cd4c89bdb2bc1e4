/**
 * OS child processes run through `@effect/platform` `Command`: a Client span per command from
 * spawn to exit with its exit code, the `process.command.duration` histogram, and the trace
 * context handed to the child in `TRACEPARENT` / `TRACESTATE` (the OpenTelemetry convention
 * for environment carriers), so a child that reads it continues the trace.
 *
 * The layer decorates the `CommandExecutor` in context, so `Command.string`, `Command.lines`,
 * `Command.exitCode` and `Command.start` are all traced without changing call sites.
 *
 * @example
 * ```ts
 * import { NodeContext } from "@effect/platform-node"
 * import { CommandTelemetry } from "@effect-telemetry/process"
 *
 * const PlatformLive = CommandTelemetry.layer().pipe(Layer.provideMerge(NodeContext.layer))
 *
 * // in the child program: its spans continue the parent's trace
 * main.pipe(CommandTelemetry.withParentFromEnv, Effect.provide(Telemetry.layer()))
 * ```
 *
 * @since 0.1.0
 */
import { Instrumentation, type Propagation, TelemetryOptionsError } from "@effect-telemetry/core"
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import * as internal from "./internal/command.js"

/** `process.command.duration{process.executable.name, process.exit.code, error.type}`: histogram in seconds. @since 0.1.0 @category metrics */
export const duration = internal.commandDuration

/** @since 0.1.0 @category models */
export interface Options {
  /** Record `process.command_args` (credentials in URLs redacted). Default `false`: arguments can hold secrets. */
  readonly recordArgs?: boolean | undefined
  /** Which exit codes mark the span Error and set `error.type`. Default: any non-zero code. */
  readonly isError?: ((exitCode: number) => boolean) | undefined
  /** Pass the trace context to the child in its environment. Default `true`. */
  readonly propagate?: boolean | undefined
}

/**
 * The options {@link layerConfig} can read from Effect `Config` (everything but the
 * `isError` function).
 *
 * @since 0.1.0
 * @category models
 */
export interface ConfigOptions extends Omit<Options, "isError"> {}

const resolve = (options: Options | undefined): Options => ({
  recordArgs: TelemetryOptionsError.boolean("CommandTelemetry", "recordArgs", options?.recordArgs, false),
  propagate: TelemetryOptionsError.boolean("CommandTelemetry", "propagate", options?.propagate, true),
  isError: TelemetryOptionsError.func<(exitCode: number) => boolean>("CommandTelemetry", "isError", options?.isError)
})

/**
 * A traced executor over `underlying`. Throws a `TelemetryOptionsError` on a non-boolean
 * `recordArgs` or `propagate`, or an `isError` that is not a function.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (underlying: CommandExecutor.CommandExecutor, options?: Options): CommandExecutor.CommandExecutor =>
  internal.make(underlying, resolve(options))

/**
 * Replaces the `CommandExecutor` in context with a traced one (by default arguments not
 * recorded, the trace context passed to the child, any non-zero exit code an error). Fails
 * with a `TelemetryOptionsError` on a bad option.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = Instrumentation.decorate(CommandExecutor.CommandExecutor, make)

/**
 * {@link layer} with options read from Effect `Config`.
 *
 * @example
 * ```ts
 * CommandTelemetry.layerConfig({ recordArgs: Config.boolean("COMMAND_RECORD_ARGS").pipe(Config.withDefault(false)) })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = Instrumentation.decorateConfig<
  CommandExecutor.CommandExecutor,
  CommandExecutor.CommandExecutor,
  ConfigOptions
>(CommandExecutor.CommandExecutor, make)

/**
 * The environment variables carrying `span`'s context (`TRACEPARENT`, `TRACESTATE`, ...), for
 * children spawned without `Command`. Carrier variables with nothing to carry are set to `""`
 * so the child never inherits a stale context from this process's environment.
 *
 * @since 0.1.0
 * @category propagation
 */
export const envOf: (span: Tracer.AnySpan) => Record<string, string> = internal.envOf

/**
 * The propagation carrier read from environment variables (`TRACEPARENT` → `traceparent`).
 *
 * @since 0.1.0
 * @category propagation
 */
export const carrierFromEnv: (env: Readonly<Record<string, string | undefined>>) => Propagation.Carrier =
  internal.carrierFromEnv

/**
 * The parent span passed by the spawning process, read from `env` (default `process.env`) with
 * the installed propagator; `None` when absent or invalid.
 *
 * @since 0.1.0
 * @category propagation
 */
export const parentFromEnv = (
  env: Readonly<Record<string, string | undefined>> = process.env
): Effect.Effect<Option.Option<Tracer.ExternalSpan>> => internal.parentFromEnv(env)

/**
 * Runs `self` as a continuation of the spawning process's trace (from `process.env`). Apply
 * it inside the telemetry layer, so the configured propagator is installed when it reads.
 *
 * @since 0.1.0
 * @category propagation
 */
export const withParentFromEnv = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  internal.withParentFromEnv(self)
