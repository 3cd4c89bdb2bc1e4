/**
 * Traced functions: an Internal span that is a child of the caller's span, and three metrics
 * (`function.calls`, `function.duration`, `function.active`), from one constructor in the
 * style of `Effect.fn`.
 *
 * @example
 * ```ts
 * const placeOrder = FunctionTelemetry.fn("orders.place")(function*(id: string) {
 *   yield* Effect.log(`placing ${id}`)
 *   return id
 * })
 * ```
 *
 * On by default; `EFFECT_TELEMETRY_FUNCTIONS=false` (or the `functionTelemetry` override)
 * turns spans and metrics off without code changes: the function then runs bare.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import type { YieldWrap } from "effect/Utils"
import * as Instrument from "./Instrument.js"
import * as SpanFunctionMetrics from "./internal/spanFunctionMetrics.js"
import * as Semconv from "./Semconv.js"
import type { Catalogue } from "./Signals.js"
import { TelemetryConfig } from "./TelemetryConfig.js"
import { TelemetryOptionsError } from "./TelemetryOptionsError.js"

/** @since 0.1.0 @category metrics */
export const calls = Instrument.counter({
  name: Semconv.METRIC_FUNCTION_CALLS,
  unit: "{call}",
  description: "Calls of traced functions, by function and result (ok, error, interrupted)."
})

/** @since 0.1.0 @category metrics */
export const duration = Instrument.histogram({
  name: Semconv.METRIC_FUNCTION_DURATION,
  unit: "s",
  description: "Duration of traced function calls."
})

/** @since 0.1.0 @category metrics */
export const active = Instrument.upDownCounter({
  name: Semconv.METRIC_FUNCTION_ACTIVE,
  unit: "{call}",
  description: "Traced function calls in progress."
})

/**
 * Whether function telemetry is on for the current fiber (default true).
 *
 * @since 0.1.0
 * @category references
 */
export class Enabled extends Context.Reference<Enabled>()("@effect-telemetry/core/FunctionTelemetry/Enabled", {
  defaultValue: () => true
}) {}

// Built once: every call returns this value, so a layer provided in two places is still one
// layer (Effect memoizes layers by reference). On (the reference's default) it adds nothing:
// every service in the app's context is copied by the router and each `provideService` on
// every request.
const layerInstance: Layer.Layer<never, never, TelemetryConfig> = Layer.effectContext(
  Effect.map(TelemetryConfig, (config) => config.functionTelemetry ? Context.empty() : Context.make(Enabled, false))
)

/**
 * Sets {@link Enabled} from `EFFECT_TELEMETRY_FUNCTIONS`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (): Layer.Layer<never, never, TelemetryConfig> => layerInstance

/** @since 0.1.0 @category models */
export interface Options {
  /** Span attributes added to every call. */
  readonly attributes?: Record<string, unknown> | undefined
}

const resultOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isSuccess(exit) ? "ok" : Exit.isInterrupted(exit) ? "interrupted" : "error"

/**
 * Wraps one effect as a call of the traced function `name`.
 *
 * @since 0.1.0
 * @category combinators
 */
export const traced: {
  (name: string, options?: Options): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options?: Options): Effect.Effect<A, E, R>
} = function() {
  if (!Effect.isEffect(arguments[0])) {
    const [name, options] = arguments as unknown as [string, Options | undefined]
    checkName(name)
    return (self: Effect.Effect<any, any, any>) => tracedImpl(self, name, options)
  }
  const [self, name, options] = arguments as unknown as [Effect.Effect<any, any, any>, string, Options | undefined]
  checkName(name)
  return tracedImpl(self, name, options)
} as any

// A blank name would merge every function into one series and one span name; refuse it where
// the function is declared.
const checkName = (name: unknown): void => {
  if (typeof name !== "string" || name.trim() === "") {
    throw new TelemetryOptionsError({
      surface: "FunctionTelemetry",
      option: "name",
      expected: "a non-empty string",
      value: name
    })
  }
}

const tracedImpl = <A, E, R>(self: Effect.Effect<A, E, R>, name: string, options: Options | undefined) => {
  const attributes = { [Semconv.ATTR_FUNCTION_NAME]: name }
  return Effect.flatMap(Enabled, (enabled) => {
    if (!enabled) return self
    return Effect.suspend(() => {
      const start = performance.now()
      active.unsafeAdd(1, attributes)
      return self.pipe(
        Effect.withSpan(name, {
          kind: "internal",
          attributes: { [Semconv.ATTR_FUNCTION_NAME]: name, ...options?.attributes }
        }),
        Effect.onExit((exit) =>
          Effect.sync(() => {
            active.unsafeAdd(-1, attributes)
            duration.unsafeRecord((performance.now() - start) / 1000, attributes)
            calls.unsafeAdd(1, { [Semconv.ATTR_FUNCTION_NAME]: name, [Semconv.ATTR_RESULT]: resultOf(exit) })
          })
        )
      )
    })
  })
}

/**
 * A traced-function constructor in the style of `Effect.fn`: the body is a generator (or a
 * function returning an Effect); every call is wrapped by {@link traced}. A blank name throws
 * a `TelemetryOptionsError`, as every combinator taking a name does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fn = (name: string, options?: Options) => {
  checkName(name)
  return fnWith(name, options)
}

const fnWith =
  (name: string, options: Options | undefined) =>
  <Eff extends YieldWrap<Effect.Effect<any, any, any>>, AEff, Args extends Array<any>>(
    body: (...args: Args) => Generator<Eff, AEff, never>
  ): (
    ...args: Args
  ) => Effect.Effect<
    AEff,
    [Eff] extends [never] ? never
      : [Eff] extends [YieldWrap<Effect.Effect<infer _A, infer E, infer _R>>] ? E
      : never,
    [Eff] extends [never] ? never
      : [Eff] extends [YieldWrap<Effect.Effect<infer _A, infer _E, infer R>>] ? R
      : never
  > =>
  (...args: Args) => tracedImpl(Effect.gen(() => body(...args)) as any, name, options) as any

/**
 * Like {@link fn} for a function that already returns an Effect.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fnEffect = (name: string, options?: Options) => {
  checkName(name)
  return <Args extends Array<any>, A, E, R>(
    body: (...args: Args) => Effect.Effect<A, E, R>
  ): (...args: Args) => Effect.Effect<A, E, R> =>
  (...args: Args) => tracedImpl(Effect.suspend(() => body(...args)), name, options)
}

/** @since 0.1.0 @category models */
export interface FromSpansOptions {
  /**
   * The span names that get function metrics: exact names, `prefix*` globs, regular
   * expressions, or a predicate. Required: span names are not always bounded (a name built
   * from an id would make a series per id), so which ones become series is chosen here.
   */
  readonly include: ReadonlyArray<string | RegExp> | ((name: string) => boolean)
}

/**
 * Function metrics (`function.calls`, `function.duration`, `function.active`) for code that
 * already uses `Effect.fn` or `Effect.withSpan`: derived from every Internal span whose name
 * `include` admits, sampled or not, without touching the call sites. Spans of
 * {@link fn}/{@link traced} are recognised and not counted twice. Provide it inside the layer
 * that sets the tracer (`Telemetry.layer`), as below. Series beyond the cardinality limit go
 * to the overflow series as for every instrument.
 *
 * Cost (bench `span`, one run): a matching span pays the three metric updates, about 1 µs
 * over the span itself (`Telemetry.fn` adds about 10 µs, its own fiber operations); a span
 * that does not match pays one call of the filter, within noise.
 *
 * @example
 * ```ts
 * import { FunctionTelemetry, Telemetry } from "@effect-telemetry/core"
 * import { Effect, Layer } from "effect"
 *
 * const placeOrder = Effect.fn("orders.place")(function*(sku: string) {
 *   return `order-${sku}`
 * })
 *
 * const TelemetryLive = FunctionTelemetry.layerFromSpans({ include: ["orders.*"] }).pipe(
 *   Layer.provideMerge(Telemetry.layer({ serviceName: "orders" }))
 * )
 *
 * Effect.runPromise(placeOrder("a1").pipe(Effect.provide(TelemetryLive)))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerFromSpans = (options: FromSpansOptions): Layer.Layer<never, TelemetryOptionsError> =>
  Layer.unwrapEffect(
    Effect.gen(function*() {
      const include = options?.include
      const valid = typeof include === "function" ||
        (Array.isArray(include) &&
          include.every((e) => (typeof e === "string" && e.trim() !== "") || e instanceof RegExp))
      if (!valid) {
        return yield* new TelemetryOptionsError({
          surface: "FunctionTelemetry",
          option: "include",
          expected: "an array of span names, prefix* globs and RegExps, or a predicate",
          value: include
        })
      }
      const tracer = yield* Effect.tracer
      return Layer.setTracer(
        SpanFunctionMetrics.wrapTracer(tracer, SpanFunctionMetrics.matcherOf(include), { calls, duration, active })
      )
    })
  )

/**
 * Every span and metric of traced functions, with its attributes and meaning: the declaration
 * docs/SIGNALS.md's Core functions tables are generated from.
 *
 * @since 0.2.0
 * @category signals
 */
export const signals: Catalogue = {
  surface: "functions",
  spans: [
    {
      name: "{function name}",
      nameNote: "(`orders.place`)",
      kind: "Internal",
      attributes: "`function`, the `attributes` option; `error.type` on failure, `effect.interrupted` when interrupted",
      meaning: "One call, child of the caller's span. Error on failure or defect; Unset on success and interruption."
    }
  ],
  metrics: [
    {
      instrument: calls,
      ours: true,
      attributes: "always `function`, `result` = `ok` \\| `error` \\| `interrupted`",
      meaning: "Calls by outcome."
    },
    { instrument: duration, ours: true, attributes: "always `function`", meaning: "Call duration." },
    {
      instrument: active,
      ours: true,
      attributes: "always `function`",
      meaning: "Calls in progress; returns to 0 after every exit."
    }
  ]
}
