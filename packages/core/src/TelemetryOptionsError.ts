/**
 * The one error every surface rejects a bad option with, and the checks that raise it.
 *
 * One rule, in every package:
 * - A call that wraps a value it is given checks its options when called and throws
 *   `TelemetryOptionsError`: the mistake is in the code at that line. These are a surface's
 *   `make(service, options?)`, `HttpServerTelemetry.middleware`, and the combinators that wrap
 *   an effect under a name (`FunctionTelemetry.fn`/`traced`, `ProcessTelemetry.fork`...).
 * - Everything that is built or run later fails with `TelemetryOptionsError` in its error
 *   channel and never throws: `layer(options?)`, `layerConfig(config)`, and the effects and
 *   streams that open a connection (`RedisKeyValueStore.make`, `RabbitMq.consume`,
 *   `Cdc.stream`). `layerConfig` fails with a `ConfigError` only when a value cannot be read
 *   (missing, not a number...); a value that reads but is not allowed is a
 *   `TelemetryOptionsError` there too.
 * - `Telemetry.layer` is the exception by design: its settings are the `OTEL_*`
 *   configuration, where a bad value is reported as a warning and replaced by its default.
 *
 * The message names the surface, the option, what it must be and the value given:
 * `SqlTelemetry: option spans must be a boolean, got "yes"`.
 *
 * @example
 * ```ts
 * import { TelemetryOptionsError } from "@effect-telemetry/core"
 *
 * const spans = TelemetryOptionsError.boolean("MyTelemetry", "spans", options?.spans, true)
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

const show = (value: unknown): string => {
  switch (typeof value) {
    case "undefined":
      return "undefined"
    case "function":
      return "a function"
    case "symbol":
    case "bigint":
      return String(value)
    case "number":
      // JSON.stringify would print NaN and Infinity as null.
      return String(value)
    default:
      try {
        return JSON.stringify(value) ?? String(value)
      } catch {
        return String(value)
      }
  }
}

/**
 * An option a surface does not accept. `surface` is the module whose entry point received it
 * (`SqlTelemetry`, `TraceView`...), `option` its name, `expected` what it must be.
 *
 * @since 0.1.0
 * @category errors
 */
export class TelemetryOptionsError extends Data.TaggedError("TelemetryOptionsError")<{
  readonly surface: string
  readonly option: string
  readonly expected: string
  readonly value: unknown
}> {
  /** @since 0.1.0 */
  override get message(): string {
    return `${this.surface}: option ${this.option} must be ${this.expected}, got ${show(this.value)}`
  }
}

/**
 * Whether `u` is a {@link TelemetryOptionsError}.
 *
 * @since 0.1.0
 * @category refinements
 */
export const isTelemetryOptionsError = (u: unknown): u is TelemetryOptionsError => u instanceof TelemetryOptionsError

/**
 * Runs a synchronous check (a surface's `make` or options resolution) as an Effect: a
 * {@link TelemetryOptionsError} it throws becomes the failure, anything else stays a defect.
 * This is how a `layer` turns the throwing check of its `make` into its error channel.
 *
 * @since 0.1.0
 * @category constructors
 */
export const attempt = <A>(check: () => A): Effect.Effect<A, TelemetryOptionsError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(check())
    } catch (error) {
      return isTelemetryOptionsError(error) ? Effect.fail(error) : Effect.die(error)
    }
  })

/**
 * `value` when it is a boolean, `fallback` when it is `undefined`; throws otherwise.
 *
 * @since 0.1.0
 * @category checks
 */
export const boolean = (surface: string, option: string, value: unknown, fallback: boolean): boolean => {
  if (value === undefined) return fallback
  if (typeof value !== "boolean") throw new TelemetryOptionsError({ surface, option, expected: "a boolean", value })
  return value
}

/**
 * `value` when it is a non-blank string, `fallback` when it is `undefined`; throws otherwise.
 *
 * @since 0.1.0
 * @category checks
 */
export const nonEmptyString = (surface: string, option: string, value: unknown, fallback: string): string => {
  if (value === undefined) return fallback
  if (typeof value !== "string" || value.trim() === "") {
    throw new TelemetryOptionsError({ surface, option, expected: "a non-empty string", value })
  }
  return value
}

/**
 * `value` when it is a positive safe integer, `fallback` when it is `undefined`; throws
 * otherwise.
 *
 * @since 0.1.0
 * @category checks
 */
export const positiveInteger = (surface: string, option: string, value: unknown, fallback: number): number => {
  if (value === undefined) return fallback
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new TelemetryOptionsError({ surface, option, expected: "a positive integer", value })
  }
  return value
}

/**
 * `value` when it is one of `choices`, `fallback` when it is `undefined`; throws otherwise.
 *
 * @since 0.1.0
 * @category checks
 */
export const literal = <const A extends string>(
  surface: string,
  option: string,
  value: unknown,
  choices: ReadonlyArray<A>,
  fallback: A
): A => {
  if (value === undefined) return fallback
  if (!choices.includes(value as A)) {
    throw new TelemetryOptionsError({
      surface,
      option,
      expected: `one of ${choices.map((choice) => JSON.stringify(choice)).join(", ")}`,
      value
    })
  }
  return value as A
}

/**
 * `value` when it is an array of strings, `undefined` when it is `undefined`; throws otherwise.
 *
 * @since 0.1.0
 * @category checks
 */
export const stringArray = (
  surface: string,
  option: string,
  value: unknown
): ReadonlyArray<string> | undefined => {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new TelemetryOptionsError({ surface, option, expected: "an array of strings", value })
  }
  return value
}

/**
 * `value` when it is a function, `undefined` when it is `undefined`; throws otherwise.
 *
 * @since 0.1.0
 * @category checks
 */
export const func = <F extends (...args: Array<any>) => any>(
  surface: string,
  option: string,
  value: unknown
): F | undefined => {
  if (value === undefined) return undefined
  if (typeof value !== "function") throw new TelemetryOptionsError({ surface, option, expected: "a function", value })
  return value as F
}
