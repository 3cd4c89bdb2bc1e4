/**
 * Prometheus exposition (text 0.0.4 and OpenMetrics 1.0) rendered straight from Effect's metric
 * registry in one pass, following the OpenTelemetry "Prometheus and OpenMetrics compatibility"
 * specification for names. prom-client still renders its default Node.js metrics and whatever
 * a user registers on the exporter's registries.
 */
import type * as Resources from "@opentelemetry/resources"
import type * as MetricKey from "effect/MetricKey"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as PromClient from "prom-client"
import * as AttributeSets from "./attributes.js"
import type { FamilyKind } from "./collect.js"
import * as Collect from "./collect.js"
import type { Attributes, Descriptor } from "./instrument.js"
import * as Instrument from "./instrument.js"

// --- names ---------------------------------------------------------------------------------

const unitWords: Record<string, string> = {
  // time
  d: "days",
  h: "hours",
  min: "minutes",
  s: "seconds",
  ms: "milliseconds",
  us: "microseconds",
  ns: "nanoseconds",
  // bytes
  By: "bytes",
  KiBy: "kibibytes",
  MiBy: "mebibytes",
  GiBy: "gibibytes",
  TiBy: "tibibytes",
  KBy: "kilobytes",
  MBy: "megabytes",
  GBy: "gigabytes",
  TBy: "terabytes",
  // SI
  m: "meters",
  V: "volts",
  A: "amperes",
  J: "joules",
  W: "watts",
  g: "grams",
  Cel: "celsius",
  Hz: "hertz",
  "%": "percent"
}

const perWords: Record<string, string> = {
  s: "second",
  m: "minute",
  h: "hour",
  d: "day",
  w: "week",
  mo: "month",
  y: "year"
}

/**
 * `s` → `seconds`, `By/s` → `bytes_per_second`, `{request}` → `` (annotations carry no unit),
 * `1` → `ratio` for gauges only, as the compatibility specification says.
 *
 * @internal
 */
export const unitSuffix = (unit: string, prometheusType: string): string => {
  const withoutAnnotations = unit.replace(/\{[^}]*\}/g, "").trim()
  if (withoutAnnotations === "") return ""
  if (withoutAnnotations === "1") return prometheusType === "gauge" ? "ratio" : ""
  const [main, per] = withoutAnnotations.split("/", 2) as [string, string | undefined]
  const mainWord = main === "" || main === "1" ? "" : (unitWords[main] ?? main)
  const perWord = per === undefined ? "" : (perWords[per] ?? per)
  const suffix = perWord === "" ? mainWord : mainWord === "" ? `per_${perWord}` : `${mainWord}_per_${perWord}`
  return sanitizeName(suffix)
}

/** Replaces characters Prometheus does not allow and collapses runs of underscores. @internal */
export const sanitizeName = (name: string): string => {
  let out = name.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/_+/g, "_")
  if (/^[0-9]/.test(out)) out = "_" + out
  return out
}

/** Label names may not contain `:` either, and may not start with `__` (reserved). @internal */
export const sanitizeLabelName = (name: string): string => {
  let out = name.replace(/[^a-zA-Z0-9_]/g, "_").replace(/_+/g, "_")
  if (/^[0-9]/.test(out)) out = "key_" + out
  if (out.startsWith("__")) out = "key" + out
  return out
}

/** What the names and headers of a family depend on. @internal */
export interface Family {
  readonly name: string
  readonly kind: FamilyKind
  readonly unit: string
  readonly description: string
}

/** @internal */
export const prometheusType = (family: Family): "counter" | "gauge" | "histogram" | "summary" => {
  switch (family.kind) {
    case "counter":
      return "counter"
    case "upDownCounter":
    case "gauge":
      return "gauge"
    case "histogram":
      return "histogram"
    case "summary":
      return "summary"
  }
}

/**
 * The exposed name without the `_total` suffix: prom-client adds `_total` itself in
 * OpenMetrics mode, so the counter suffix is added by the caller for the text format only.
 *
 * @internal
 */
export const baseName = (family: Family): string => {
  const type = prometheusType(family)
  let name = sanitizeName(family.name)
  if (type === "counter") name = name.replace(/_total$/, "")
  const suffix = unitSuffix(family.unit, type)
  if (suffix !== "" && !name.endsWith("_" + suffix)) name = `${name}_${suffix}`
  return name
}

/** The name as it appears in the Prometheus text format. @internal */
export const exposedName = (family: Family): string => {
  const name = baseName(family)
  return prometheusType(family) === "counter" ? `${name}_total` : name
}

// --- labels -------------------------------------------------------------------------------

// A label set is rendered once per series (then cached), but the same few attribute keys recur
// in every series: remember their sanitized names. Cleared when full, so a flood of distinct
// keys cannot grow it.
const labelNames = new Map<string, string>()

const labelNameOf = (key: string): string => {
  let name = labelNames.get(key)
  if (name === undefined) {
    name = sanitizeLabelName(key)
    if (labelNames.size >= 4096) labelNames.clear()
    labelNames.set(key, name)
  }
  return name
}

const labelValueSpecial = /[\\"\n]/
const labelValueSpecials = /[\\"\n]/g
const escapeLabelSpecial = (c: string) => (c === "\n" ? "\\n" : "\\" + c)

/** A label value as both formats write it: `\`, `"` and line feed escaped. @internal */
export const escapeLabelValue = (value: string): string =>
  labelValueSpecial.test(value) ? value.replace(labelValueSpecials, escapeLabelSpecial) : value

/**
 * HELP text: the text format escapes `\` and line feed; OpenMetrics escapes `"` as well (its
 * grammar has no bare `"` in an escaped string).
 *
 * @internal
 */
export const escapeHelp = (text: string, openMetrics: boolean): string =>
  text.replace(openMetrics ? /[\\"\n]/g : /[\\\n]/g, escapeLabelSpecial)

/**
 * An attribute set as label pairs, `a="x",b="y"` (no braces), in the attributes' order, less
 * a label `without` (a histogram's `le`, a summary's `quantile`, which each sample sets itself).
 * Two attributes that sanitize to one label name are joined with `;`, as the specification
 * says. A map, not an object, so that keys like `constructor` are not read from a prototype.
 *
 * @internal
 */
export const renderLabels = (attributes: Attributes, without?: string): string => {
  const labels = new Map<string, string>()
  for (const key of Object.keys(attributes)) {
    const name = labelNameOf(key)
    if (name === without) continue
    const value = String(attributes[key])
    const previous = labels.get(name)
    labels.set(name, previous === undefined ? value : `${previous};${value}`)
  }
  const pairs: Array<string> = []
  for (const [name, value] of labels) pairs.push(`${name}="${escapeLabelValue(value)}"`)
  // join makes one flat string; `+=` would keep a tree of concatenations alive in the cache.
  return pairs.join(",")
}

// Keys of Effect metrics not declared through Instrument (Effect's runtime metrics, a user's
// own `Metric`s) have no Series to cache their rendering on; their keys live as long as the
// registry holds them, so a weak map keyed by the key is their cache.
const keyExpositions = new WeakMap<MetricKey.MetricKey.Untyped, string>()

const attributesOf = (key: MetricKey.MetricKey.Untyped, series: Instrument.Series | undefined): Attributes =>
  series !== undefined ? series.attributes : Collect.attributesOfTags(key)

// --- samples ------------------------------------------------------------------------------

/** A sample value as both formats accept it. @internal */
export const formatValue = (value: number): string =>
  Number.isFinite(value) ? "" + value : Number.isNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf"

const formatBound = (bound: number): string => (bound === Number.POSITIVE_INFINITY ? "+Inf" : formatValue(bound))

/**
 * One exposed family: names and header lines computed once, kept across scrapes while the
 * family has series, and the lines of the scrape in progress.
 */
interface ExposedFamily {
  readonly family: Family
  readonly type: "counter" | "gauge" | "histogram" | "summary"
  /** The sample name: `_total` on counters in both formats. */
  readonly name: string
  /** The family name of OpenMetrics' HELP and TYPE lines (without `_total`). */
  readonly baseName: string
  readonly textHeader: string
  readonly openMetricsHeader: string
  readonly bucketName: string
  readonly sumName: string
  readonly countName: string
  /** Values recorded in Effect's unit times this give the exported unit (lifetimes: ms → s). */
  readonly scale: number
  readonly excluded: boolean
  /** `le="<bound>"} ` for the boundaries last seen, shared by the family's series. */
  leBounds: ReadonlyArray<number>
  leSuffixes: ReadonlyArray<string>
  scrape: number
  skipped: boolean
  lines: string
}

/**
 * The string itself as V8 keeps it internalized. The family's name is used as a property key
 * (prom-client's registry lookup), which turns it into a ThinString in place, and
 * `Array.prototype.join` makes a two-byte string of anything holding a ThinString: twice the
 * bytes for every series line built from the name, and a 1,000-series exposition (85 KB of
 * text, 170 KB two-byte) in the large-object space, fresh pages on every scrape. A property
 * key read back is the internalized string, which is never thin.
 */
const internalized = (text: string): string => {
  for (const key in { [text]: 0 }) return key
  return text
}

const helpOf = (family: Family) =>
  family.description !== "" ? family.description : `${family.name}${family.unit ? ` (${family.unit})` : ""}`

const exposedFamily = (
  key: MetricKey.MetricKey.Untyped,
  series: Instrument.Series | undefined,
  state: MetricState.MetricState.Untyped,
  effectRuntimeMetrics: boolean
): ExposedFamily => {
  const descriptor: Descriptor = series?.descriptor ?? Instrument.descriptorOf(key.name) ??
    Collect.inferredDescriptor(key)
  const family: Family = {
    name: key.name,
    kind: MetricState.isSummaryState(state) ? "summary" : descriptor.kind,
    unit: descriptor.unit,
    description: descriptor.description
  }
  const type = prometheusType(family)
  const name = internalized(exposedName(family))
  const base = baseName(family)
  const help = helpOf(family)
  return {
    family,
    type,
    name,
    baseName: base,
    textHeader: `# HELP ${name} ${escapeHelp(help, false)}\n# TYPE ${name} ${type}\n`,
    openMetricsHeader: `# HELP ${base} ${escapeHelp(help, true)}\n# TYPE ${base} ${type}\n`,
    bucketName: `${name}_bucket{`,
    sumName: `${name}_sum`,
    countName: `${name}_count`,
    scale: Collect.scaleOf(key.name),
    excluded: !effectRuntimeMetrics && Collect.isEffectRuntimeMetric(key.name),
    leBounds: [],
    leSuffixes: [],
    scrape: -1,
    skipped: false,
    lines: ""
  }
}

const line = (name: string, labels: string, value: number) =>
  labels === "" ? `${name} ${formatValue(value)}\n` : `${name}{${labels}} ${formatValue(value)}\n`

// May say yes for a value that contains `,le="` (then the labels are rendered again without
// `le`, correctly); never says no for a set that has the label.
const hasLabel = (labels: string, name: string) => labels.startsWith(`${name}="`) || labels.includes(`,${name}="`)

const sameBounds = (bounds: ReadonlyArray<number>, buckets: ReadonlyArray<readonly [number, number]>) => {
  if (bounds.length !== buckets.length) return false
  for (let i = 0; i < bounds.length; i++) if (bounds[i] !== buckets[i]![0]) return false
  return true
}

const histogramLines = (
  exposed: ExposedFamily,
  labels: string,
  state: MetricState.MetricState.Histogram,
  leLabels: () => string
): string => {
  const buckets = state.buckets
  const scale = exposed.scale
  if (!sameBounds(exposed.leBounds, buckets)) {
    exposed.leBounds = buckets.map(([bound]) => bound)
    exposed.leSuffixes = buckets.map(([bound]) => `le="${formatBound(bound * scale)}"} `)
  }
  const suffixes = exposed.leSuffixes
  // A user attribute that sanitizes to `le` would repeat the label: the bucket's own wins.
  const bucketLabels = hasLabel(labels, "le") ? leLabels() : labels
  const open = bucketLabels === "" ? exposed.bucketName : `${exposed.bucketName}${bucketLabels},`
  let out = ""
  let last = Number.NaN
  for (let i = 0; i < buckets.length; i++) {
    last = buckets[i]![0]
    out += `${open}${suffixes[i]}${formatValue(buckets[i]![1])}\n`
  }
  // Effect's buckets end at +Inf; the exposition must have that bucket even if one ever does not.
  if (last !== Number.POSITIVE_INFINITY) out += `${open}le="+Inf"} ${formatValue(state.count)}\n`
  return out + line(exposed.sumName, labels, state.sum * scale) + line(exposed.countName, labels, state.count)
}

const summaryLines = (
  exposed: ExposedFamily,
  labels: string,
  state: MetricState.MetricState.Summary,
  quantileLabels: () => string
): string => {
  const own = hasLabel(labels, "quantile") ? quantileLabels() : labels
  const open = own === "" ? `${exposed.name}{` : `${exposed.name}{${own},`
  let out = ""
  for (const [q, v] of state.quantiles) {
    if (Option.isSome(v)) out += `${open}quantile="${formatValue(q)}"} ${formatValue(v.value)}\n`
  }
  return out + line(exposed.sumName, labels, state.sum) + line(exposed.countName, labels, state.count)
}

// --- exporter -----------------------------------------------------------------------------

/** @internal */
export interface PrometheusState {
  readonly text: PromClient.Registry
  readonly openMetrics: PromClient.Registry<any>
  /** The exposition body; a promise only when prom-client's registry has metrics to render. */
  readonly render: (openMetrics: boolean) => string | Promise<string>
}

/**
 * prom-client adds `nodejs_active_{handles,requests,resources}_total` gauges, which promtool
 * rejects (`_total` on a non-counter). Each repeats the sum of its per-type sibling
 * (`sum(nodejs_active_handles)`), so they are left out rather than renamed.
 */
const withoutGaugeTotals = (registry: PromClient.Registry<any>) => {
  for (const metric of registry.getMetricsAsArray()) {
    const { name, type } = metric as unknown as { readonly name: string; readonly type: string }
    if (type === "gauge" && name.endsWith("_total")) registry.removeSingleMetric(name)
  }
}

// prom-client's default metrics start monitors nothing stops (an event-loop delay histogram
// sampling every 10 ms, a GC observer): collected into every exporter's registries, each
// exporter built (a layer per test, per runtime) added two of each for the life of the
// process. Collected once per process and format instead, their metric objects are registered
// in every exporter's registries: they measure the process, the same for all. One set per
// format, since rendering OpenMetrics renames prom-client's counter objects.
const defaultMetricsByFormat = new Map<string, ReadonlyArray<PromClient.Metric>>()

const defaultMetricsFor = (contentType: string): ReadonlyArray<PromClient.Metric> => {
  let metrics = defaultMetricsByFormat.get(contentType)
  if (metrics === undefined) {
    const Registry = PromClient.Registry as unknown as new(contentType: string) => PromClient.Registry<any>
    const registry = new Registry(contentType)
    PromClient.collectDefaultMetrics({ register: registry })
    withoutGaugeTotals(registry)
    // prom-client types the array's items as plain metric objects; they are its metric instances.
    metrics = registry.getMetricsAsArray() as unknown as ReadonlyArray<PromClient.Metric>
    defaultMetricsByFormat.set(contentType, metrics)
  }
  return metrics
}

const resourceLabels = (resource: Resources.Resource): string => {
  const attributes: Record<string, string | number | boolean> = {}
  for (const [key, value] of Object.entries(resource.attributes)) {
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") attributes[key] = value
  }
  return renderLabels(attributes)
}

/** @internal */
export const make = (options: {
  readonly resource: Resources.Resource
  readonly effectRuntimeMetrics: boolean
  readonly defaultMetrics: boolean
}): PrometheusState => {
  // prom-client's typings omit the constructor's content-type argument.
  const Registry = PromClient.Registry as unknown as new(contentType: string) => PromClient.Registry<any>
  const text = new Registry(PromClient.Registry.PROMETHEUS_CONTENT_TYPE) as PromClient.Registry
  const openMetrics = new Registry(PromClient.Registry.OPENMETRICS_CONTENT_TYPE)
  if (options.defaultMetrics) {
    for (const registry of [text, openMetrics]) {
      for (const metric of defaultMetricsFor(registry.contentType)) registry.registerMetric(metric)
    }
  }

  // target_info carries the resource, so a scrape says which service and host it came from.
  const targetLabels = resourceLabels(options.resource)
  const targetInfo = `# HELP target_info Target metadata\n# TYPE target_info gauge\n${
    line("target_info", targetLabels, 1)
  }`

  const families = new Map<string, ExposedFamily>()
  const exposedNames = new Set<string>()
  let scrape = 0
  let registry: PromClient.Registry<any> = text

  // A name prom-client (a default Node.js metric, a user's collector) or an earlier family of
  // this scrape already exposes: ours is skipped, theirs stays, so no family appears twice.
  const taken = (exposed: ExposedFamily) =>
    exposedNames.has(exposed.name) || exposedNames.has(exposed.baseName) ||
    registry.getSingleMetric(exposed.name) !== undefined || registry.getSingleMetric(exposed.baseName) !== undefined

  const visit = (key: MetricKey.MetricKey.Untyped, state: MetricState.MetricState.Untyped): void => {
    let exposed = families.get(key.name)
    if (exposed === undefined) {
      exposed = exposedFamily(key, Instrument.seriesOf(key), state, options.effectRuntimeMetrics)
      families.set(key.name, exposed)
    }
    if (exposed.scrape !== scrape) {
      exposed.scrape = scrape
      exposed.lines = ""
      exposed.skipped = exposed.excluded || taken(exposed)
      if (!exposed.skipped) {
        exposedNames.add(exposed.name)
        exposedNames.add(exposed.baseName)
      }
    }
    if (exposed.skipped) return
    const series = Instrument.seriesOf(key)
    if (MetricState.isFrequencyState(state)) {
      // Effect's frequencies: one series per word, rare enough to render uncached.
      const attributes = attributesOf(key, series)
      for (const [word, count] of state.occurrences) {
        exposed.lines += line(exposed.name, renderLabels(AttributeSets.extend(attributes, { key: word })), count)
      }
      return
    }
    const single = MetricState.isCounterState(state) || MetricState.isGaugeState(state)
    // Rendered on the series' first scrape and kept (see Series.exposition): the sample prefix
    // `name{labels} ` of a one-sample series, the label pairs of a histogram or summary.
    let exposition = series !== undefined ? series.exposition : keyExpositions.get(key)
    if (exposition === undefined) {
      const labels = renderLabels(attributesOf(key, series))
      // Joined, not concatenated: a flat string (a concatenation is a tree of pieces, several
      // times the characters' size, kept as long as the series).
      exposition = single ? (labels === "" ? [exposed.name, " "] : [exposed.name, "{", labels, "} "]).join("") : labels
      if (series !== undefined) series.exposition = exposition
      else keyExpositions.set(key, exposition)
    }
    if (MetricState.isCounterState(state)) {
      exposed.lines += exposition + formatValue(Number(state.count)) + "\n"
    } else if (MetricState.isGaugeState(state)) {
      exposed.lines += exposition + formatValue(Number(state.value)) + "\n"
    } else if (MetricState.isHistogramState(state)) {
      exposed.lines += histogramLines(exposed, exposition, state, () => renderLabels(attributesOf(key, series), "le"))
    } else if (MetricState.isSummaryState(state)) {
      exposed.lines += summaryLines(
        exposed,
        exposition,
        state,
        () => renderLabels(attributesOf(key, series), "quantile")
      )
    }
  }

  /** Our families in the order they first appeared, each block ending in a line feed. */
  const renderOurs = (openMetricsFormat: boolean, target: PromClient.Registry<any>): Array<string> => {
    scrape++
    registry = target
    exposedNames.clear()
    exposedNames.add("target_info")
    Collect.forEachMetric(visit)
    const blocks: Array<string> = []
    for (const [name, exposed] of families) {
      // A family gone from the registry (reset, or no longer recorded) is forgotten.
      if (exposed.scrape !== scrape) families.delete(name)
      else if (!exposed.skipped) {
        blocks.push((openMetricsFormat ? exposed.openMetricsHeader : exposed.textHeader) + exposed.lines)
        exposed.lines = ""
      }
    }
    return blocks
  }

  // prom-client's text format separates families with an empty line and OpenMetrics with
  // none, then ends with `# EOF`; ours follow prom-client's in the same layout.
  // One join, so the body is one flat string however the family lines were appended.
  const assemble = (openMetricsFormat: boolean, ours: Array<string>, theirs: string) =>
    openMetricsFormat
      ? [targetInfo, theirs.endsWith("# EOF\n") ? theirs.slice(0, -"# EOF\n".length) : theirs, ...ours, "# EOF\n"]
        .join("")
      : [targetInfo, ...(theirs === "" ? [] : [theirs]), ...ours].join("\n")

  const render = (openMetricsFormat: boolean): string | Promise<string> => {
    const target = openMetricsFormat ? openMetrics : text
    const ours = renderOurs(openMetricsFormat, target)
    if (target.getMetricsAsArray().length === 0) return assemble(openMetricsFormat, ours, "")
    return target.metrics().then((theirs) => assemble(openMetricsFormat, ours, theirs))
  }

  return { text, openMetrics, render }
}

/** Whether an `Accept` header asks for OpenMetrics. @internal */
export const wantsOpenMetrics = (accept: string | undefined): boolean =>
  accept !== undefined && accept.includes("application/openmetrics-text")
