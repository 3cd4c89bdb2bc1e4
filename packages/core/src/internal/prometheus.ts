/**
 * Prometheus exposition of the collected families through prom-client registries, following
 * the OpenTelemetry "Prometheus and OpenMetrics compatibility" specification for names.
 */
import type * as Resources from "@opentelemetry/resources"
import * as PromClient from "prom-client"
import * as Attributes from "./attributes.js"
import type { Family, HistogramValue, SummaryValue } from "./collect.js"
import * as Collect from "./collect.js"

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

// --- registry -----------------------------------------------------------------------------

type PromValue = {
  value: number
  labels: Record<string, string | number>
  metricName?: string
}

// A scrape sanitizes the same few attribute keys once per series: remember them. Cleared when
// full, so a flood of distinct keys cannot grow it.
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

const labelsOf = (attributes: Family["points"][number]["attributes"]) => {
  const labels: Record<string, string> = {}
  for (const key in attributes) {
    const name = labelNameOf(key)
    const value = String(attributes[key])
    // Two attributes that sanitize to one label name are joined, as the specification says.
    labels[name] = name in labels ? `${labels[name]};${value}` : value
  }
  return labels
}

const formatBound = (bound: number) => String(bound)

const valuesOf = (family: Family, name: string): Array<PromValue> => {
  const values: Array<PromValue> = []
  for (const point of family.points) {
    const labels = labelsOf(point.attributes)
    if (typeof point.value === "number") {
      values.push({ value: point.value, labels })
    } else if ("boundaries" in point.value) {
      const h = point.value as HistogramValue
      let cumulative = 0
      for (let i = 0; i < h.counts.length; i++) {
        cumulative += h.counts[i]!
        const le = i < h.boundaries.length ? formatBound(h.boundaries[i]!) : "+Inf"
        values.push({ value: cumulative, labels: Attributes.extend(labels, { le }), metricName: `${name}_bucket` })
      }
      values.push({ value: h.sum, labels, metricName: `${name}_sum` })
      values.push({ value: h.count, labels, metricName: `${name}_count` })
    } else {
      const s = point.value as SummaryValue
      for (const [q, v] of s.quantiles) {
        if (v !== undefined) values.push({ value: v, labels: Attributes.extend(labels, { quantile: String(q) }) })
      }
      values.push({ value: s.sum, labels, metricName: `${name}_sum` })
      values.push({ value: s.count, labels, metricName: `${name}_count` })
    }
  }
  return values
}

/**
 * A prom-client metric whose values are whatever the last collection saw. prom-client calls
 * `get()` synchronously inside `registry.metrics()`, right after `refresh()` stores the
 * snapshot, so a scrape always reads one consistent collection.
 */
class FamilyMetric {
  current: Family | undefined
  constructor(
    public name: string,
    readonly help: string,
    readonly type: "counter" | "gauge" | "histogram" | "summary"
  ) {}
  get() {
    const family = this.current
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: family ? valuesOf(family, this.name) : [],
      aggregator: "sum" as const
    }
  }
}

/** @internal */
export interface PrometheusState {
  readonly text: PromClient.Registry
  readonly openMetrics: PromClient.Registry<any>
  readonly refresh: () => void
}

const helpOf = (family: Family) =>
  family.description !== "" ? family.description : `${family.name}${family.unit ? ` (${family.unit})` : ""}`

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
  const registries = [
    { registry: text, metrics: new Map<string, FamilyMetric>(), counterSuffix: true },
    { registry: openMetrics, metrics: new Map<string, FamilyMetric>(), counterSuffix: false }
  ]

  // target_info carries the resource, so a scrape says which service and host it came from.
  const targetLabels = labelsOf(
    Object.fromEntries(
      Object.entries(options.resource.attributes).filter(([, v]) =>
        typeof v === "string" || typeof v === "number" || typeof v === "boolean"
      )
    ) as Record<string, string | number | boolean>
  )
  for (const { registry } of registries) {
    registry.registerMetric({
      name: "target_info",
      help: "Target metadata",
      type: "gauge",
      get: () => ({
        name: "target_info",
        help: "Target metadata",
        type: "gauge",
        values: [{ value: 1, labels: targetLabels }],
        aggregator: "sum"
      })
    } as unknown as PromClient.Metric)
    if (options.defaultMetrics) {
      PromClient.collectDefaultMetrics({ register: registry })
      withoutGaugeTotals(registry)
    }
  }

  const refresh = () => {
    const families = Collect.collect({ effectRuntimeMetrics: options.effectRuntimeMetrics })
    for (const { counterSuffix, metrics, registry } of registries) {
      for (const metric of metrics.values()) metric.current = undefined
      for (const family of families) {
        const type = prometheusType(family)
        const name = counterSuffix ? exposedName(family) : baseName(family)
        let metric = metrics.get(family.name)
        if (metric === undefined) {
          metric = new FamilyMetric(name, helpOf(family), type)
          metrics.set(family.name, metric)
          try {
            registry.registerMetric(metric as unknown as PromClient.Metric)
          } catch {
            // A name already taken by a default Node.js metric: ours is skipped, theirs stays.
            continue
          }
        }
        metric.current = family
      }
    }
  }

  return { text, openMetrics, refresh }
}

/** Whether an `Accept` header asks for OpenMetrics. @internal */
export const wantsOpenMetrics = (accept: string | undefined): boolean =>
  accept !== undefined && accept.includes("application/openmetrics-text")
