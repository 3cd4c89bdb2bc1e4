/**
 * Declaring metrics: the one helper every surface uses.
 *
 * An instrument carries its OpenTelemetry name (`http.server.request.duration`), unit,
 * description and kind, and stores its values in Effect's `Metric` registry, which stays the
 * single source of truth: the Prometheus and OTLP exporters both read that state, so one
 * update is counted once in each.
 *
 * @example
 * ```ts
 * import { Instrument } from "@effect-telemetry/core"
 *
 * const requests = Instrument.counter({
 *   name: "orders.placed",
 *   unit: "{order}",
 *   description: "Orders accepted by the API."
 * })
 *
 * // in an Effect
 * yield* requests.add(1, { "order.channel": "web" })
 * // on a hot path outside Effect
 * requests.unsafeAdd(1, { "order.channel": "web" })
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as MetricKeyType from "effect/MetricKeyType"
import * as internal from "./internal/instrument.js"
import * as Semconv from "./Semconv.js"

/** @since 0.1.0 @category models */
export type Kind = internal.Kind

/** Attribute values as OpenTelemetry accepts them; Prometheus labels get their string form. @since 0.1.0 @category models */
export type AttributeValue = internal.AttributeValue

/** @since 0.1.0 @category models */
export type Attributes = internal.Attributes

/** @since 0.1.0 @category models */
export type Descriptor = internal.Descriptor

/** What every declaration takes. @since 0.1.0 @category models */
export interface Options {
  /** OpenTelemetry-style name: dotted, lower case (`db.client.operation.duration`). */
  readonly name: string
  /** UCUM unit: `s`, `By`, `1`, or an annotation like `{request}`. */
  readonly unit?: string | undefined
  readonly description?: string | undefined
}

/** @since 0.1.0 @category models */
export interface HistogramOptions extends Options {
  /** Explicit bucket upper bounds, strictly increasing; defaults to the OTel duration boundaries (seconds). */
  readonly boundaries?: ReadonlyArray<number> | undefined
}

interface Common {
  readonly descriptor: Descriptor
  /** The Effect metric behind the instrument, for `Metric.*` combinators. */
  readonly metric: Metric.Metric<MetricKeyType.MetricKeyType.Untyped, number, unknown>
}

/** A monotonic sum: exported as a Prometheus `counter` (`_total`) and an OTLP monotonic sum. @since 0.1.0 @category models */
export interface Counter extends Common {
  readonly add: (value: number, attributes?: Attributes) => Effect.Effect<void>
  /** Adds outside Effect, for hot paths. Negative values are ignored, as the OTel API requires. */
  readonly unsafeAdd: (value: number, attributes?: Attributes) => void
  /**
   * One attribute set, looked up once: each `unsafeAdd` of the result skips the lookup of
   * the set. For a hot path that updates the same set many times; binding alone records
   * nothing and adds no series.
   *
   * @example
   * ```ts
   * const webOrders = placed.bind({ "order.channel": "web" })
   * webOrders.unsafeAdd(1)
   * ```
   */
  readonly bind: (attributes?: Attributes) => { readonly unsafeAdd: (value: number) => void }
}

/** A sum that goes up and down (in-flight requests): a Prometheus `gauge` and an OTLP non-monotonic sum. @since 0.1.0 @category models */
export interface UpDownCounter extends Common {
  readonly add: (value: number, attributes?: Attributes) => Effect.Effect<void>
  readonly unsafeAdd: (value: number, attributes?: Attributes) => void
  /** One attribute set, looked up once (see {@link Counter.bind}). */
  readonly bind: (attributes?: Attributes) => { readonly unsafeAdd: (value: number) => void }
  /**
   * Adds 1 while `effect` runs and removes it when it ends, whatever the exit (success,
   * failure, defect or interruption), so the value returns to where it was.
   */
  readonly track: {
    (attributes?: Attributes): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  }
}

/** An absolute value, set rather than added: a Prometheus `gauge` and an OTLP gauge. @since 0.1.0 @category models */
export interface Gauge extends Common {
  readonly set: (value: number, attributes?: Attributes) => Effect.Effect<void>
  readonly unsafeSet: (value: number, attributes?: Attributes) => void
  /** One attribute set, looked up once (see {@link Counter.bind}). */
  readonly bind: (attributes?: Attributes) => { readonly unsafeSet: (value: number) => void }
}

/** A distribution with explicit boundaries, identical in Prometheus and OTLP. @since 0.1.0 @category models */
export interface Histogram extends Common {
  readonly boundaries: ReadonlyArray<number>
  readonly record: (value: number, attributes?: Attributes) => Effect.Effect<void>
  readonly unsafeRecord: (value: number, attributes?: Attributes) => void
  /** One attribute set, looked up once (see {@link Counter.bind}). */
  readonly bind: (attributes?: Attributes) => { readonly unsafeRecord: (value: number) => void }
}

const descriptorFrom = (kind: Kind, options: HistogramOptions): Descriptor => ({
  name: options.name,
  kind,
  unit: options.unit ?? "",
  description: options.description ?? "",
  boundaries: kind === "histogram"
    ? Object.freeze([...(options.boundaries ?? Semconv.DURATION_SECONDS_BOUNDARIES)])
    : undefined
})

const common = (descriptor: Descriptor) => {
  const baseKey = internal.baseMetricKey(descriptor)
  const cache = new internal.SeriesCache(descriptor, baseKey)
  const update = (value: number, attributes?: Attributes) => cache.get(attributes).hook.update(value)
  const bind = (attributes?: Attributes) => cache.bind(attributes)
  const metric = Metric.fromMetricKey(baseKey as any) as unknown as Common["metric"]
  return { descriptor, metric, update, bind }
}

/**
 * Declares a monotonic counter. Declaring a name again returns the same instrument; declaring
 * it with another kind, unit or boundaries throws.
 *
 * @since 0.1.0
 * @category constructors
 */
export const counter = (options: Options): Counter =>
  internal.declare(descriptorFrom("counter", options), (descriptor) => {
    const { bind, metric, update } = common(descriptor)
    return {
      descriptor,
      metric,
      unsafeAdd: update,
      add: (value, attributes) => Effect.sync(() => update(value, attributes)),
      bind: (attributes) => ({ unsafeAdd: bind(attributes) })
    }
  })

/**
 * Declares an up-down counter (in-flight work, queue depth).
 *
 * @since 0.1.0
 * @category constructors
 */
export const upDownCounter = (options: Options): UpDownCounter =>
  internal.declare(descriptorFrom("upDownCounter", options), (descriptor) => {
    const { bind, metric, update } = common(descriptor)
    return {
      descriptor,
      metric,
      unsafeAdd: update,
      add: (value, attributes) => Effect.sync(() => update(value, attributes)),
      bind: (attributes) => ({ unsafeAdd: bind(attributes) }),
      track: (attributes) => (effect) =>
        Effect.acquireUseRelease(
          Effect.sync(() => update(1, attributes)),
          () => effect,
          () => Effect.sync(() => update(-1, attributes))
        )
    }
  })

/**
 * Declares a gauge: each `set` replaces the value of its attribute set.
 *
 * @since 0.1.0
 * @category constructors
 */
export const gauge = (options: Options): Gauge =>
  internal.declare(descriptorFrom("gauge", options), (descriptor) => {
    const { bind, metric, update } = common(descriptor)
    return {
      descriptor,
      metric,
      unsafeSet: update,
      set: (value, attributes) => Effect.sync(() => update(value, attributes)),
      bind: (attributes) => ({ unsafeSet: bind(attributes) })
    }
  })

/**
 * Declares a histogram with explicit boundaries (default: the OTel advised duration
 * boundaries in seconds).
 *
 * @since 0.1.0
 * @category constructors
 */
export const histogram = (options: HistogramOptions): Histogram =>
  internal.declare(descriptorFrom("histogram", options), (descriptor) => {
    const { bind, metric, update } = common(descriptor)
    return {
      descriptor,
      metric,
      boundaries: descriptor.boundaries!,
      unsafeRecord: update,
      record: (value, attributes) => Effect.sync(() => update(value, attributes)),
      bind: (attributes) => ({ unsafeRecord: bind(attributes) })
    }
  })

/**
 * The descriptor declared under a name, if any (exporters use it for unit and kind).
 *
 * @since 0.1.0
 * @category getters
 */
export const descriptorOf: (name: string) => Descriptor | undefined = internal.descriptorOf

/**
 * Every descriptor declared so far in this process, in declaration order: the instruments of
 * the modules loaded, since surfaces declare theirs when their module is imported (tests use
 * it to check that docs/SIGNALS.md lists them all).
 *
 * @since 0.1.0
 * @category getters
 */
export const declared: () => ReadonlyArray<Descriptor> = internal.declared

/**
 * Sets the per-metric limit on distinct attribute sets (default 2000). Past it, new sets are
 * recorded in one series with `otel.metric.overflow="true"` and a warning is logged once.
 *
 * @since 0.1.0
 * @category configuration
 */
export const setCardinalityLimit: (limit: number) => void = internal.setCardinalityLimit

/**
 * Forgets every value recorded by the instruments declared through this module (their
 * declarations stay), so that each test starts from zero; `TestTelemetry.layer` calls it.
 *
 * @since 0.1.0
 * @category testing
 */
export const resetAll: () => void = internal.resetAll
