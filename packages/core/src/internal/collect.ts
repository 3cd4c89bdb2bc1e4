/**
 * Reads Effect's metric registry into one neutral model that both exporters translate, so
 * Prometheus and OTLP can never disagree about what a metric is, only about how to spell it.
 */
import * as Metric from "effect/Metric"
import type * as MetricKey from "effect/MetricKey"
import * as MetricKeyType from "effect/MetricKeyType"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as AttributeSets from "./attributes.js"
import type { Attributes, Descriptor, Kind } from "./instrument.js"
import * as Instrument from "./instrument.js"

/** @internal */
export type FamilyKind = Kind | "summary"

/** @internal */
export interface HistogramValue {
  /** Finite upper bounds, in order (no +Inf). */
  readonly boundaries: ReadonlyArray<number>
  /** Per-bucket (not cumulative) counts, `boundaries.length + 1` of them; the last is +Inf. */
  readonly counts: ReadonlyArray<number>
  readonly count: number
  readonly sum: number
  /** Absent when nothing was recorded (Effect's state holds ±MAX_VALUE sentinels then). */
  readonly min: number | undefined
  readonly max: number | undefined
}

/** @internal */
export interface SummaryValue {
  readonly quantiles: ReadonlyArray<readonly [number, number | undefined]>
  readonly count: number
  readonly sum: number
}

/** @internal */
export interface Point {
  readonly attributes: Attributes
  /** Epoch nanoseconds of the series' first update, when known. */
  readonly startTimeNanos: bigint | undefined
  /** Stable identity of the series across collections (for delta temporality). */
  readonly id: string
  readonly value: number | HistogramValue | SummaryValue
}

/** @internal */
export interface Family {
  readonly name: string
  readonly kind: FamilyKind
  readonly unit: string
  readonly description: string
  readonly points: Array<Point>
}

/** @internal */
export interface CollectOptions {
  /** Include Effect's own `effect_fiber_*` runtime metrics. */
  readonly effectRuntimeMetrics: boolean
}

// Effect's runtime metrics carry no unit; their lifetimes are milliseconds, which Prometheus
// lint rejects, so they are translated to seconds here, once, for both sinks.
const effectRuntimeUnits: Record<string, { readonly unit: string; readonly scale: number }> = {
  effect_fiber_lifetimes: { unit: "s", scale: 1 / 1000 }
}

/** Effect's own `effect_fiber_*` runtime metrics. @internal */
export const isEffectRuntimeMetric = (name: string): boolean => name.startsWith("effect_fiber_")

/** The factor that converts a metric's recorded values into its exported unit (1 but for lifetimes). @internal */
export const scaleOf = (name: string): number => effectRuntimeUnits[name]?.scale ?? 1

const seriesIdOf = (key: MetricKey.MetricKey.Untyped) => {
  let id = key.name
  for (const tag of key.tags) id += "\u0000" + tag.key + "\u0001" + tag.value
  return id
}

/** The attributes of an Effect key not declared through Instrument (its tags). @internal */
export const attributesOfTags = (key: MetricKey.MetricKey.Untyped): Attributes => {
  // Effect tags its lifetimes time_unit="milliseconds": once scaled to seconds, that label lies.
  const translated = effectRuntimeUnits[key.name] !== undefined
  const attributes: Record<string, string> = {}
  for (const tag of key.tags) {
    if (!(translated && tag.key === "time_unit")) attributes[tag.key] = tag.value
  }
  return attributes
}

/** Kind, unit and description of an Effect key not declared through Instrument. @internal */
export const inferredDescriptor = (key: MetricKey.MetricKey.Untyped): Descriptor => {
  const description = Option.getOrElse(key.description, () => "")
  const known = effectRuntimeUnits[key.name]
  const unit = known?.unit ?? ""
  const keyType = key.keyType as MetricKeyType.MetricKeyType.Untyped
  let kind: Kind
  if (MetricKeyType.isCounterKey(keyType)) {
    kind = keyType.incremental ? "counter" : "upDownCounter"
  } else if (MetricKeyType.isGaugeKey(keyType)) {
    kind = "gauge"
  } else if (MetricKeyType.isHistogramKey(keyType)) {
    kind = "histogram"
  } else if (MetricKeyType.isFrequencyKey(keyType)) {
    kind = "counter"
  } else {
    return { name: key.name, kind: "gauge", unit, description, boundaries: undefined }
  }
  return { name: key.name, kind, unit, description, boundaries: undefined }
}

const histogramValue = (state: MetricState.MetricState.Histogram, scale: number): HistogramValue => {
  const boundaries: Array<number> = []
  const counts: Array<number> = []
  let previous = 0
  for (const [bound, cumulative] of state.buckets) {
    if (bound !== Number.POSITIVE_INFINITY) boundaries.push(bound * scale)
    counts.push(cumulative - previous)
    previous = cumulative
  }
  // Effect's buckets end at +Inf; keep the n+1 shape even if a registry ever omits it.
  if (counts.length === boundaries.length) counts.push(state.count - previous)
  const empty = state.count === 0
  return {
    boundaries,
    counts,
    count: state.count,
    sum: state.sum * scale,
    min: empty ? undefined : state.min * scale,
    max: empty ? undefined : state.max * scale
  }
}

/**
 * Calls `visit` with every key of Effect's global metric registry and its current state, read
 * from the registry's map in place: `Metric.unsafeSnapshot()` would first build an array of
 * one pair object per series, which a scrape of tens of thousands of series pays for twice
 * (allocation, then garbage collection).
 *
 * @internal
 */
export const forEachMetric = (
  visit: (key: MetricKey.MetricKey.Untyped, state: MetricState.MetricState.Untyped) => void
): void => {
  const map = (Metric.globalMetricRegistry as unknown as {
    readonly map?: Iterable<readonly [MetricKey.MetricKey.Untyped, { readonly get: () => unknown }]>
  }).map
  if (map === undefined) {
    // Another registry implementation: the public snapshot is the same data.
    for (const pair of Metric.unsafeSnapshot()) visit(pair.metricKey, pair.metricState)
    return
  }
  for (const [key, hook] of map) visit(key, hook.get() as MetricState.MetricState.Untyped)
}

/**
 * One pass over the registry. Families are keyed by name; a family's kind and unit come from
 * the declared descriptor when there is one and are inferred from the Effect key otherwise.
 *
 * @internal
 */
export const collect = (options: CollectOptions): Array<Family> => {
  const families = new Map<string, Family>()
  forEachMetric((key, state) => {
    if (!options.effectRuntimeMetrics && isEffectRuntimeMetric(key.name)) return
    const series = Instrument.seriesOf(key)
    const descriptor = series?.descriptor ?? Instrument.descriptorOf(key.name) ?? inferredDescriptor(key)
    let family = families.get(key.name)
    if (family === undefined) {
      family = {
        name: key.name,
        kind: MetricState.isSummaryState(state) ? "summary" : descriptor.kind,
        unit: descriptor.unit,
        description: descriptor.description,
        points: []
      }
      families.set(key.name, family)
    }
    const attributes = series?.attributes ?? attributesOfTags(key)
    const startTimeNanos = series?.startTimeNanos
    const id = seriesIdOf(key)
    if (MetricState.isCounterState(state)) {
      family.points.push({ attributes, startTimeNanos, id, value: Number(state.count) })
    } else if (MetricState.isGaugeState(state)) {
      family.points.push({ attributes, startTimeNanos, id, value: Number(state.value) })
    } else if (MetricState.isHistogramState(state)) {
      const scale = scaleOf(key.name)
      family.points.push({ attributes, startTimeNanos, id, value: histogramValue(state, scale) })
    } else if (MetricState.isFrequencyState(state)) {
      for (const [word, count] of state.occurrences) {
        family.points.push({
          attributes: AttributeSets.extend(attributes, { key: word }),
          startTimeNanos,
          id: id + "\u0002" + word,
          value: count
        })
      }
    } else if (MetricState.isSummaryState(state)) {
      family.points.push({
        attributes,
        startTimeNanos,
        id,
        value: {
          quantiles: state.quantiles.map(([q, v]) => [q, Option.getOrUndefined(v)] as const),
          count: state.count,
          sum: state.sum
        }
      })
    }
  })
  return [...families.values()]
}
