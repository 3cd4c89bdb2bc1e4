/**
 * The kit a surface is built from: the `error.type` of a failed exit, an operation timed and
 * recorded as its span and metrics, and the layer that decorates a service in context. Every
 * package of this repository builds its instrumentation from these, so one failure has one
 * name everywhere and turning tracing off never turns the metrics off.
 *
 * Hot paths: an {@link operation} is built once per kind of operation (per store and method,
 * per prepared statement) and then costs per call what hand-written code would: one
 * `useSpan` (when spans are on) or one `suspend` (when off), one `onExit`, the closures they
 * need, and the attribute set the caller builds for a failure.
 *
 * @example
 * ```ts
 * import { Attributes, Instrument, Instrumentation } from "@effect-telemetry/core"
 * import * as Effect from "effect/Effect"
 *
 * const duration = Instrument.histogram({ name: "cache.operation.duration", unit: "s" })
 * const base = { "cache.operation": "get" }
 * const ok = Attributes.extend(base, { "cache.result": "ok" })
 *
 * const timedGet = Instrumentation.operation<string, Error>({
 *   span: { name: "get cache", kind: "client", attributes: base },
 *   duration,
 *   attributes: (_exit, errorType) =>
 *     errorType === undefined ? ok : Attributes.extend(base, { "cache.result": "error", "error.type": errorType })
 * })
 *
 * const value = timedGet(Effect.succeed("cached"))
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"
import type * as Instrument from "./Instrument.js"
import { errorTypeOf } from "./internal/tracer.js"
import { ATTR_ERROR_TYPE } from "./Semconv.js"
import * as TelemetryOptionsError from "./TelemetryOptionsError.js"

// --- error.type ------------------------------------------------------------------------------

/**
 * `error.type` of an operation whose fiber was interrupted before it completed. Semantic
 * conventions leave the value to the instrumentation; this is the one spelling every surface
 * records on its metrics. A span never carries it: interruption is cancellation, which the
 * tracer leaves Unset and marks `effect.interrupted=true`.
 *
 * @since 0.1.0
 * @category error.type
 */
export const ERROR_TYPE_INTERRUPTED = "interrupted"

/**
 * `error.type` of a failed exit's cause, following the semantic conventions' rule (the class
 * of the error, `_OTHER` when it has none):
 * - a failure: `ofFailure(error)` when given (a surface's own classification, an SQLSTATE, a
 *   platform error's reason), else the error's `_tag`, its class name, or `_OTHER`;
 * - a defect (no failure in the cause): the thrown value's `_tag` or class name, or `_OTHER`;
 * - an interruption and nothing else: {@link ERROR_TYPE_INTERRUPTED}.
 *
 * @since 0.1.0
 * @category error.type
 */
export const errorTypeOfCause = <E>(cause: Cause.Cause<E>, ofFailure?: ((error: E) => string) | undefined): string => {
  if (Cause.isInterruptedOnly(cause)) return ERROR_TYPE_INTERRUPTED
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) return ofFailure === undefined ? errorTypeOf(failure.value) : ofFailure(failure.value)
  return errorTypeOf(Option.getOrUndefined(Cause.dieOption(cause)))
}

/**
 * `error.type` of an exit: `undefined` for a success, else {@link errorTypeOfCause}.
 *
 * @since 0.1.0
 * @category error.type
 */
export const errorTypeOfExit = <A, E>(
  exit: Exit.Exit<A, E>,
  ofFailure?: ((error: E) => string) | undefined
): string | undefined => Exit.isSuccess(exit) ? undefined : errorTypeOfCause(exit.cause, ofFailure)

// --- a timed and recorded operation ----------------------------------------------------------

/**
 * The span of an {@link operation}. `attributes` are the span's at its start, shared by every
 * call (never copied). `asParent: false` leaves the effect's own spans unparented by this one,
 * for an effect whose tracing is silenced anyway (it saves a context update per call).
 *
 * @since 0.1.0
 * @category models
 */
export interface SpanOptions {
  readonly name: string
  readonly kind: Tracer.SpanKind
  readonly attributes?: Readonly<Record<string, unknown>> | undefined
  readonly links?: ReadonlyArray<Tracer.SpanLink> | undefined
  readonly parent?: Tracer.AnySpan | undefined
  readonly root?: boolean | undefined
  readonly asParent?: boolean | undefined
}

/**
 * What an {@link operation} records.
 *
 * - `span`: the span around it; `undefined` for metrics only (a surface's `spans: false`).
 *   With the tracer disabled the span is a no-op and the metrics are still recorded.
 * - `duration` (seconds) and `count` (1 per operation): either or both, recorded with
 *   `attributes(exit, errorType)`, or the counter with `countAttributes` when it carries more
 *   (a `result` the histogram has not).
 * - `errorType`: the classification of a failure (default: the error's `_tag` or class).
 * - `onEnd`: anything more about the ended operation (a status code on the span).
 *
 * The attribute functions run once per operation: return a set built in advance for the
 * common outcome (see `Attributes.extend`) rather than a new object.
 *
 * @since 0.1.0
 * @category models
 */
export interface OperationOptions<A, E> {
  readonly span?: SpanOptions | undefined
  readonly duration?: Instrument.Histogram | undefined
  readonly count?: Instrument.Counter | undefined
  readonly attributes: (exit: Exit.Exit<A, E>, errorType: string | undefined) => Instrument.Attributes
  readonly countAttributes?:
    | ((exit: Exit.Exit<A, E>, errorType: string | undefined) => Instrument.Attributes)
    | undefined
  readonly errorType?: ((error: E) => string) | undefined
  readonly onEnd?:
    | ((exit: Exit.Exit<A, E>, errorType: string | undefined, span: Tracer.Span | undefined) => void)
    | undefined
}

/**
 * The wrapper {@link operation} builds. `spanAttributes`, when given, replace the span's
 * attributes for that call (a message id). `end` records an operation the caller timed itself,
 * such as a stream from its start to the close of its scope: `started` is `performance.now()`
 * at its start, `span` the span it ran in, if any.
 *
 * @since 0.1.0
 * @category models
 */
export interface Operation<A, E> {
  <R>(effect: Effect.Effect<A, E, R>, spanAttributes?: Readonly<Record<string, unknown>>): Effect.Effect<A, E, R>
  readonly end: (exit: Exit.Exit<A, E>, started: number, span: Tracer.Span | undefined) => void
}

/**
 * Builds the wrapper of one kind of operation: each effect it wraps runs in the span (when
 * `span` is given), and when it ends, however it ends, its duration and count are recorded
 * with its `error.type` ({@link errorTypeOfCause}). The span gets the same `error.type` for a
 * failure or defect, so one failure has one name on the trace and the dashboard; an
 * interruption only marks the span `effect.interrupted` (cancellation is not an error).
 *
 * @since 0.1.0
 * @category constructors
 */
export const operation = <A, E>(options: OperationOptions<A, E>): Operation<A, E> => {
  const { count, duration, onEnd } = options
  const attributesOf = options.attributes
  const countAttributesOf = options.countAttributes ?? attributesOf
  const classify = options.errorType
  const end = (exit: Exit.Exit<A, E>, started: number, span: Tracer.Span | undefined) => {
    const seconds = (performance.now() - started) / 1000
    let errorType: string | undefined
    if (Exit.isFailure(exit)) {
      errorType = errorTypeOfCause(exit.cause, classify)
      if (span !== undefined && errorType !== ERROR_TYPE_INTERRUPTED) span.attribute(ATTR_ERROR_TYPE, errorType)
    }
    const attributes = attributesOf(exit, errorType)
    if (duration !== undefined) duration.unsafeRecord(seconds, attributes)
    if (count !== undefined) {
      count.unsafeAdd(1, countAttributesOf === attributesOf ? attributes : countAttributesOf(exit, errorType))
    }
    if (onEnd !== undefined) onEnd(exit, errorType, span)
  }
  const spanOptions = options.span
  if (spanOptions === undefined) {
    const unspanned = <R>(effect: Effect.Effect<A, E, R>) =>
      Effect.suspend(() => {
        const started = performance.now()
        return Effect.onExit(effect, (exit) => Effect.sync(() => end(exit, started, undefined)))
      })
    return Object.assign(unspanned, { end })
  }
  const name = spanOptions.name
  // The call site is always the surface's own code: a stack capture would be pure cost.
  const effectSpanOptions: Tracer.SpanOptions = {
    kind: spanOptions.kind,
    attributes: spanOptions.attributes,
    links: spanOptions.links,
    parent: spanOptions.parent,
    root: spanOptions.root,
    captureStackTrace: false
  }
  const withAttributes = (attributes: Readonly<Record<string, unknown>>): Tracer.SpanOptions => ({
    kind: spanOptions.kind,
    attributes,
    links: spanOptions.links,
    parent: spanOptions.parent,
    root: spanOptions.root,
    captureStackTrace: false
  })
  const asParent = spanOptions.asParent !== false
  const spanned = <R>(effect: Effect.Effect<A, E, R>, spanAttributes?: Readonly<Record<string, unknown>>) =>
    Effect.useSpan(name, spanAttributes === undefined ? effectSpanOptions : withAttributes(spanAttributes), (span) => {
      const started = performance.now()
      const timed = Effect.onExit(effect, (exit) => Effect.sync(() => end(exit, started, span)))
      return asParent ? Effect.withParentSpan(timed, span) : timed
    })
  return Object.assign(spanned, { end })
}

// --- a layer decorating a service --------------------------------------------------------------

/**
 * A surface's `layer(options?)`: a function of the options returning the layer that replaces
 * the service `tag` holds with `make(service, options)`, the wrapped one. `make` is the
 * surface's constructor, which checks its options and throws a `TelemetryOptionsError`: the
 * layer fails with it instead (see `TelemetryOptionsError.attempt`).
 *
 * @example
 * ```ts
 * import { Instrumentation } from "@effect-telemetry/core"
 * import * as KeyValueStore from "@effect/platform/KeyValueStore"
 *
 * const make = (store: KeyValueStore.KeyValueStore, _options?: { readonly spans?: boolean }) => store
 *
 * // (options?) => Layer<KeyValueStore, TelemetryOptionsError, KeyValueStore>
 * export const layer = Instrumentation.decorate(KeyValueStore.KeyValueStore, make)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const decorate = <I, S, O>(
  tag: Context.Tag<I, S>,
  make: (service: S, options?: O) => S
) =>
(options?: O): Layer.Layer<I, TelemetryOptionsError.TelemetryOptionsError, I> =>
  Layer.effect(tag, Effect.flatMap(tag, (service) => TelemetryOptionsError.attempt(() => make(service, options))))

/**
 * A surface's `layerConfig(config)`: {@link decorate} with the options read from Effect
 * `Config`. A value that cannot be read is a `ConfigError`; one that reads but is not allowed,
 * a `TelemetryOptionsError`.
 *
 * @since 0.1.0
 * @category layers
 */
export const decorateConfig = <I, S, O>(
  tag: Context.Tag<I, S>,
  make: (service: S, options?: O) => S
) =>
(
  config: Config.Config.Wrap<O>
): Layer.Layer<I, ConfigError.ConfigError | TelemetryOptionsError.TelemetryOptionsError, I> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), decorate(tag, make)))
