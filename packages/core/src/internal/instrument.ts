import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type * as MetricHook from "effect/MetricHook"
import * as MetricKey from "effect/MetricKey"
import type * as MetricKeyType from "effect/MetricKeyType"
import * as MetricLabel from "effect/MetricLabel"
import * as MutableHashMap from "effect/MutableHashMap"
import * as Semconv from "../Semconv.js"
import { TelemetryOptionsError } from "../TelemetryOptionsError.js"
import * as Diagnostics from "./diagnostics.js"

/** @internal */
export type Kind = "counter" | "upDownCounter" | "gauge" | "histogram"

/** @internal */
export type AttributeValue = string | number | boolean

/** @internal */
export type Attributes = Readonly<Record<string, AttributeValue>>

/** @internal */
export interface Descriptor {
  readonly name: string
  readonly kind: Kind
  readonly unit: string
  readonly description: string
  readonly boundaries: ReadonlyArray<number> | undefined
}

/**
 * One attribute set of one instrument: the Effect hook that holds its state, the attributes
 * with their original types (Effect labels are strings, OTLP keeps ints and booleans) and
 * the time of its first update, which is the OTLP start time of a cumulative series.
 *
 * @internal
 */
export interface Series {
  readonly descriptor: Descriptor
  readonly attributes: Attributes
  readonly hook: MetricHook.MetricHook<number, unknown>
  readonly startTimeNanos: bigint
  /**
   * The series as the Prometheus exposition writes it, rendered by the first scrape that
   * reads the series and reused by every later one, so a scrape neither sanitizes nor escapes
   * per series: the sample prefix `name{a="x",b="y"} ` of a counter, up-down counter or gauge,
   * the label pairs `a="x",b="y"` of a histogram (whose samples add `le` and suffixes). Unset
   * while no Prometheus exporter has read it.
   */
  exposition: string | undefined
}

// Shared by every copy of this module (a bundler may load two): the registry of declared
// names must be one, or "one name, one kind" could not be enforced.
const globalState: {
  readonly descriptors: Map<string, { readonly descriptor: Descriptor; readonly instrument: unknown }>
  seriesByKey: WeakMap<object, Series>
  generation: number
  cardinalityLimit: number
} = (globalThis as any)[Symbol.for("@effect-telemetry/core/instrument")] ??= {
  descriptors: new Map(),
  seriesByKey: new WeakMap(),
  generation: 0,
  cardinalityLimit: 2000
}

/** @internal */
export const descriptorOf = (name: string): Descriptor | undefined => globalState.descriptors.get(name)?.descriptor

/** @internal */
export const declared = (): ReadonlyArray<Descriptor> =>
  Array.from(globalState.descriptors.values(), (entry) => entry.descriptor)

/** @internal */
export const seriesOf = (key: MetricKey.MetricKey.Untyped): Series | undefined => globalState.seriesByKey.get(key)

/** @internal */
export const setCardinalityLimit = (limit: number): void => {
  globalState.cardinalityLimit = limit
}

/** @internal */
export const cardinalityLimit = (): number => globalState.cardinalityLimit

/**
 * Forgets the values of every declared instrument: their keys leave Effect's global registry
 * and every instrument's series cache starts over. Only the test harness calls this, so that
 * no test sees another test's values. Other Effect metrics keep their storage: an Effect
 * `Metric` caches its hook, so dropping its key would leave it updating storage no exporter
 * reads (their values therefore accumulate across tests in one process).
 *
 * @internal
 */
export const resetAll = (): void => {
  const registry = Metric.globalMetricRegistry as unknown as {
    map?: MutableHashMap.MutableHashMap<MetricKey.MetricKey.Untyped, unknown>
  }
  if (registry.map !== undefined) {
    const owned: Array<MetricKey.MetricKey.Untyped> = []
    for (const [key] of registry.map) {
      if (globalState.descriptors.has(key.name)) owned.push(key)
    }
    for (const key of owned) MutableHashMap.remove(registry.map, key)
  }
  globalState.seriesByKey = new WeakMap()
  globalState.generation++
}

const sameBoundaries = (a: ReadonlyArray<number> | undefined, b: ReadonlyArray<number> | undefined) =>
  a === b || (a !== undefined && b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]))

const validateName = (name: string) => {
  // OTel instrument name syntax: ASCII letter first, then letters, digits, `_ . - /`, at most 255.
  if (!/^[A-Za-z][A-Za-z0-9_.\-/]{0,254}$/.test(name)) {
    throw new TelemetryOptionsError({
      surface: "Instrument",
      option: "name",
      expected: "an instrument name: a letter, then letters, digits, '_', '.', '-' or '/' (at most 255 characters)",
      value: name
    })
  }
}

const validateBoundaries = (name: string, boundaries: ReadonlyArray<number>) => {
  for (let i = 0; i < boundaries.length; i++) {
    const b = boundaries[i]!
    if (!Number.isFinite(b) || (i > 0 && b <= boundaries[i - 1]!)) {
      throw new TelemetryOptionsError({
        surface: "Instrument",
        option: `boundaries of ${name}`,
        expected: "finite and strictly increasing",
        value: boundaries
      })
    }
  }
}

/**
 * Registers a descriptor, or returns the instrument already declared under that name when
 * the declaration is identical. A second declaration that differs is a programming error
 * and throws at declaration, long before two exporters could disagree about the name.
 *
 * @internal
 */
export const declare = <I>(descriptor: Descriptor, build: (descriptor: Descriptor) => I): I => {
  validateName(descriptor.name)
  if (descriptor.boundaries !== undefined) validateBoundaries(descriptor.name, descriptor.boundaries)
  const existing = globalState.descriptors.get(descriptor.name)
  if (existing !== undefined) {
    const d = existing.descriptor
    if (
      d.kind !== descriptor.kind || d.unit !== descriptor.unit ||
      !sameBoundaries(d.boundaries, descriptor.boundaries)
    ) {
      throw new TypeError(
        `Metric ${JSON.stringify(descriptor.name)} is already declared as ${d.kind} (unit ${JSON.stringify(d.unit)}` +
          (d.boundaries ? `, boundaries [${d.boundaries.join(", ")}]` : "") +
          `); it cannot be declared again as ${descriptor.kind} (unit ${JSON.stringify(descriptor.unit)}` +
          (descriptor.boundaries ? `, boundaries [${descriptor.boundaries.join(", ")}]` : "") +
          `). One name has one kind, unit and set of boundaries.`
      )
    }
    return existing.instrument as I
  }
  const instrument = build(descriptor)
  globalState.descriptors.set(descriptor.name, { descriptor, instrument })
  return instrument
}

/** @internal */
export const baseMetricKey = (descriptor: Descriptor): MetricKey.MetricKey.Untyped => {
  const description = descriptor.description === "" ? undefined : descriptor.description
  switch (descriptor.kind) {
    case "counter":
      return MetricKey.counter(descriptor.name, { description, incremental: true })
    case "upDownCounter":
      return MetricKey.counter(descriptor.name, { description })
    case "gauge":
      return MetricKey.gauge(descriptor.name, { description })
    case "histogram":
      return MetricKey.histogram(
        descriptor.name,
        MetricBoundaries.fromIterable(descriptor.boundaries ?? Semconv.DURATION_SECONDS_BOUNDARIES),
        description
      )
  }
}

const overflowAttributes: Attributes = { [Semconv.ATTR_METRIC_OVERFLOW]: "true" }

const nowNanos = (): bigint => BigInt(Date.now()) * 1_000_000n

/**
 * A node of the series trie: attribute names and values alternate along a path, so that the
 * series of an attribute set is found by one map lookup per name and per value, with no key
 * string built per update (the dominant cost of a labelled update before).
 */
interface TrieNode {
  readonly next: Map<string, TrieNode>
  series: Series | undefined
}

const trieNode = (): TrieNode => ({ next: new Map(), series: undefined })

/**
 * The series of one instrument, cached per attribute set so that a hot-path update is a few
 * map lookups and one hook update: Effect metric keys (hashing, label arrays) are built only
 * on a series' first update. Property order matters to the trie, not to the series: two
 * spellings of one set reach the same series through two paths.
 *
 * @internal
 */
export class SeriesCache {
  private root = trieNode()
  private size = 0
  private generation = globalState.generation
  private warnedOverflow = false
  private overflowSeries: Series | undefined

  constructor(
    readonly descriptor: Descriptor,
    readonly baseKey: MetricKey.MetricKey.Untyped
  ) {}

  get(attributes: Attributes | undefined): Series {
    if (this.generation !== globalState.generation) {
      this.root = trieNode()
      this.size = 0
      this.overflowSeries = undefined
      this.warnedOverflow = false
      this.generation = globalState.generation
    }
    let node = this.root
    if (attributes !== undefined) {
      for (const k in attributes) {
        const v = attributes[k]
        const next = node.next.get(k)?.next.get(typeof v === "string" ? v : String(v))
        if (next === undefined) return this.insert(attributes)
        node = next
      }
    }
    return node.series ?? this.insert(attributes)
  }

  /**
   * An update of one attribute set, its series looked up once: for a hot path that updates the
   * same set over and over. The set is copied, so the caller may reuse its object. After
   * `resetAll` (a new generation) the series is looked up again, and the set is only entered
   * at its first update, as with `get`, so binding alone adds no series.
   */
  bind(attributes: Attributes | undefined): (value: number) => void {
    const own = attributes === undefined ? undefined : Object.freeze({ ...attributes })
    let series: Series | undefined
    let generation = -1
    return (value) => {
      if (generation !== globalState.generation) {
        series = this.get(own)
        generation = globalState.generation
      }
      series!.hook.update(value)
    }
  }

  /** A new attribute set: a new path and series, or the overflow series past the limit. */
  private insert(attributes: Attributes | undefined): Series {
    // Past the limit nothing is added, not even trie nodes: memory stays bounded by the limit.
    if (this.size >= globalState.cardinalityLimit) return this.overflow()
    let node = this.root
    if (attributes !== undefined) {
      for (const k in attributes) {
        const v = attributes[k]
        let byName = node.next.get(k)
        if (byName === undefined) node.next.set(k, byName = trieNode())
        const value = typeof v === "string" ? v : String(v)
        let byValue = byName.next.get(value)
        if (byValue === undefined) byName.next.set(value, byValue = trieNode())
        node = byValue
      }
    }
    this.size++
    return node.series = this.create(attributes ?? {})
  }

  private overflow(): Series {
    const series = this.overflowSeries ??= this.create(overflowAttributes)
    if (!this.warnedOverflow) {
      this.warnedOverflow = true
      Diagnostics.warn(
        `Metric ${JSON.stringify(this.descriptor.name)} reached its cardinality limit of ` +
          `${globalState.cardinalityLimit} attribute sets; further new attribute sets are recorded in one ` +
          `series with ${Semconv.ATTR_METRIC_OVERFLOW}="true"`
      )
    }
    return series
  }

  private create(attributes: Attributes): Series {
    // Sorted labels make the Effect key independent of the caller's property order, so two
    // call sites that spell the same attributes differently share one series.
    const names = Object.keys(attributes).sort()
    const copy: Record<string, AttributeValue> = {}
    const labels: Array<MetricLabel.MetricLabel> = []
    for (const name of names) {
      const value = attributes[name]!
      copy[name] = value
      labels.push(MetricLabel.make(name, String(value)))
    }
    const key = labels.length === 0 ? this.baseKey : MetricKey.taggedWithLabels(this.baseKey, labels)
    const hook = Metric.globalMetricRegistry.get(
      key as MetricKey.MetricKey<MetricKeyType.MetricKeyType.Untyped>
    ) as MetricHook.MetricHook<number, unknown>
    let series = globalState.seriesByKey.get(key)
    if (series === undefined) {
      series = {
        descriptor: this.descriptor,
        attributes: Object.freeze(copy),
        hook,
        startTimeNanos: nowNanos(),
        exposition: undefined
      }
      globalState.seriesByKey.set(key, series)
    }
    return series
  }
}
