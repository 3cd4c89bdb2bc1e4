/**
 * Named, supervised background work: a fiber the app spawns (a mailer, a cache warmer, a
 * cron job) gets one span `process {name}` over its whole life, from spawn to exit, and the
 * `process.*` metrics.
 *
 * The span is a child of the spawning span when there is one and a root span otherwise, so a
 * daemon forked at boot or a scheduled job is never invisible. Scheduled and repeating work
 * gets one span per run; each run starts its own trace linked to the spawner, because a job
 * that runs every minute for a week would otherwise pile ten thousand spans into one trace
 * that never ends (`trace: "child"` keeps them in the spawner's trace).
 *
 * @example
 * ```ts
 * import { ProcessTelemetry } from "@effect-telemetry/process"
 *
 * // forked into the current scope, one span over the mailer's whole life
 * yield* sendQueuedMail.pipe(ProcessTelemetry.forkScoped("mailer"))
 *
 * // one span (and one trace) per run, every five minutes
 * yield* cleanup.pipe(ProcessTelemetry.schedule("cleanup", Schedule.cron("*\/5 * * * *")), Effect.forkScoped)
 * ```
 *
 * @since 0.1.0
 */
import type { Signals } from "@effect-telemetry/core"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import { dual } from "effect/Function"
import type * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/process.js"
import * as internalSignals from "./internal/signals.js"

/** `process.started{process.name}`: counter. @since 0.1.0 @category metrics */
export const started = internal.started

/** `process.terminated{process.name, result}`: counter, result `completed` | `error` | `interrupted`. @since 0.1.0 @category metrics */
export const terminated = internal.terminated

/** `process.active{process.name}`: up-down counter. @since 0.1.0 @category metrics */
export const active = internal.active

/** `process.duration{process.name, result}`: histogram in seconds. @since 0.1.0 @category metrics */
export const duration = internal.duration

/** @since 0.1.0 @category models */
export interface Options {
  /** Extra span attributes (not metric attributes: those stay `process.name` and `result`). */
  readonly attributes?: Record<string, unknown> | undefined
  /**
   * `"child"`: the span is a child of the spawning span (default for `fork*`).
   * `"linked"`: a new trace with a link to the spawning span (default for `schedule`/`repeat`).
   */
  readonly trace?: "child" | "linked" | undefined
}

/** @since 0.1.0 @category models */
export type Result = internal.Result

/**
 * Runs `self` in place as the process `name` (span and metrics, no fork), for runners that
 * fork themselves (`FiberSet.run`, `Effect.forkIn`). A blank name throws a
 * `TelemetryOptionsError` when the combinator is called, as every combinator here does.
 *
 * @since 0.1.0
 * @category combinators
 */
export const instrument: {
  (name: string, options?: Options): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options?: Options): Effect.Effect<A, E, R>
} = dual((args) => Effect.isEffect(args[0]), internal.instrument)

/**
 * The shape of the `fork*` combinators: data-last or data-first, the forked fiber needing
 * what `self` needs plus `RS` (the `Scope` for `forkScoped`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Fork<RS = never> {
  (name: string, options?: Options): <A, E, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<Fiber.RuntimeFiber<A, E>, never, R | RS>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    name: string,
    options?: Options
  ): Effect.Effect<Fiber.RuntimeFiber<A, E>, never, R | RS>
}

const forkWith = <RS>(
  forkEffect: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Fiber.RuntimeFiber<A, E>, never, R | RS>
): Fork<RS> =>
  dual(
    (args) => Effect.isEffect(args[0]),
    <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options?: Options) =>
      forkEffect(internal.instrument(self, name, options))
  )

/**
 * Forks `self` as the process `name`, supervised by the current fiber (interrupted with it).
 *
 * @since 0.1.0
 * @category forking
 */
export const fork: Fork = forkWith(Effect.fork)

/**
 * Forks `self` as the process `name` into the current `Scope`: it runs until it ends or the
 * scope closes (then its span ends with `effect.interrupted=true`).
 *
 * @since 0.1.0
 * @category forking
 */
export const forkScoped: Fork<Scope.Scope> = forkWith(Effect.forkScoped)

/**
 * Forks `self` as the process `name` into `scope`: it outlives its spawner and runs until it
 * ends or `scope` closes (then it is interrupted, its span ending with
 * `effect.interrupted=true`). For background work a request starts that the application's
 * shutdown must end before the telemetry layer's final flush, which a daemon does not.
 *
 * @example
 * ```ts
 * // `background`: a Scope the app's layer owns (closed before Telemetry.layer's)
 * yield* audit(order).pipe(ProcessTelemetry.forkIn(background)("order-audit"))
 * ```
 *
 * @since 0.1.0
 * @category forking
 */
export const forkIn = (scope: Scope.Scope): Fork => forkWith((self) => Effect.forkIn(self, scope))

/**
 * Forks `self` as the process `name` in the global scope: it outlives its spawner, and is
 * still traced (a child of the spawning span if any, else a root).
 *
 * @since 0.1.0
 * @category forking
 */
export const forkDaemon: Fork = forkWith(Effect.forkDaemon)

/**
 * Runs `self` on `schedule` like `Effect.schedule` (first run after the first delay: a cron
 * schedule waits for its first tick), each run a process run with its own span carrying
 * `process.run` (1-based). A failed run ends the loop, as in `Effect.schedule`; catch inside
 * `self` to keep going.
 *
 * @since 0.1.0
 * @category scheduling
 */
export const schedule: {
  <Out, R2>(
    name: string,
    schedule: Schedule.Schedule<Out, unknown, R2>,
    options?: Options
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Out, E, R | R2>
  <A, E, R, Out, R2>(
    self: Effect.Effect<A, E, R>,
    name: string,
    schedule: Schedule.Schedule<Out, unknown, R2>,
    options?: Options
  ): Effect.Effect<Out, E, R | R2>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R, Out, R2>(
    self: Effect.Effect<A, E, R>,
    name: string,
    schedule: Schedule.Schedule<Out, unknown, R2>,
    options?: Options
  ) => internal.perRun(self, name, options, (once) => Effect.schedule(once, schedule))
)

/**
 * Runs `self` now and again on `schedule` like `Effect.repeat`, one span per run.
 *
 * @since 0.1.0
 * @category scheduling
 */
export const repeat: {
  <Out, A, R2>(
    name: string,
    schedule: Schedule.Schedule<Out, A, R2>,
    options?: Options
  ): <E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<Out, E, R | R2>
  <A, E, R, Out, R2>(
    self: Effect.Effect<A, E, R>,
    name: string,
    schedule: Schedule.Schedule<Out, A, R2>,
    options?: Options
  ): Effect.Effect<Out, E, R | R2>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R, Out, R2>(
    self: Effect.Effect<A, E, R>,
    name: string,
    schedule: Schedule.Schedule<Out, A, R2>,
    options?: Options
  ) => internal.perRun(self, name, options, (once) => Effect.repeat(once, schedule))
)

/**
 * Every span and metric `@effect-telemetry/process` (background processes and `CommandTelemetry`'s commands) emits, with its attributes and meaning: the declaration
 * docs/SIGNALS.md is generated from.
 *
 * @since 0.1.0
 * @category signals
 */
export const signals: Signals.Catalogue = internalSignals.signals
