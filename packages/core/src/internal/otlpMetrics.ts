import { ValueType } from "@opentelemetry/api"
import type { HrTime } from "@opentelemetry/api"
import { emptyResource } from "@opentelemetry/resources"
import type { CollectionResult, MetricData, MetricProducer } from "@opentelemetry/sdk-metrics"
import { AggregationTemporality, DataPointType } from "@opentelemetry/sdk-metrics"
import type { TemporalityPreference } from "../TelemetryConfig.js"
import type { Family, HistogramValue, Point } from "./collect.js"
import * as Collect from "./collect.js"

const SCOPE = { name: "effect-telemetry", version: "0.1.0" }

const toHrTime = (nanos: bigint): HrTime => [Number(nanos / 1_000_000_000n), Number(nanos % 1_000_000_000n)]

const nowNanos = () => BigInt(Date.now()) * 1_000_000n

/** Which kinds are reported as deltas under each preference (OTel SDK exporter spec). */
const isDelta = (preference: TemporalityPreference, family: Family) =>
  preference !== "cumulative" && (family.kind === "counter" || family.kind === "histogram")

interface Previous {
  readonly timeNanos: bigint
  readonly value: number | HistogramValue
}

const subtractHistogram = (current: HistogramValue, previous: HistogramValue): HistogramValue => ({
  boundaries: current.boundaries,
  counts: current.counts.map((c, i) => c - (previous.counts[i] ?? 0)),
  count: current.count - previous.count,
  sum: current.sum - previous.sum,
  // The extremes of an interval cannot be derived from two cumulative states.
  min: undefined,
  max: undefined
})

const histogramPoint = (h: HistogramValue) => ({
  buckets: { boundaries: [...h.boundaries], counts: [...h.counts] },
  count: h.count,
  sum: h.sum,
  ...(h.min !== undefined && h.max !== undefined ? { min: h.min, max: h.max } : {})
})

/**
 * A `MetricProducer` reading Effect's registry at each collection. Each reader gets its own
 * producer, because delta temporality needs the state that reader last exported.
 *
 * Start times are the series' first update (not the first collection), and an empty
 * histogram carries no min/max (Effect's state holds ±Number.MAX_VALUE sentinels).
 *
 * @internal
 */
export const makeProducer = (options: {
  readonly temporality: TemporalityPreference
  readonly effectRuntimeMetrics: boolean
}): MetricProducer => {
  const previous = new Map<string, Previous>()
  // Series of metrics not declared through Instrument have no recorded start: the first
  // collection that sees them stands in.
  const firstSeen = new Map<string, bigint>()

  const startOf = (point: Point, now: bigint) => {
    if (point.startTimeNanos !== undefined) return point.startTimeNanos
    let seen = firstSeen.get(point.id)
    if (seen === undefined) {
      seen = now
      firstSeen.set(point.id, now)
    }
    return seen
  }

  const collectFamilies = (families: Array<Family>, now: bigint): Array<MetricData> => {
    const endTime = toHrTime(now)
    const metrics: Array<MetricData> = []
    for (const family of families) {
      if (family.kind === "summary") continue
      const delta = isDelta(options.temporality, family)
      const descriptor = {
        name: family.name,
        description: family.description,
        unit: family.unit,
        valueType: ValueType.DOUBLE
      }
      const temporality = delta ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE
      if (family.kind === "histogram") {
        metrics.push({
          descriptor,
          aggregationTemporality: temporality,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints: family.points.map((point) => {
            const current = point.value as HistogramValue
            const before = delta ? previous.get(point.id) : undefined
            if (delta) previous.set(point.id, { timeNanos: now, value: current })
            const value = before ? subtractHistogram(current, before.value as HistogramValue) : current
            return {
              startTime: toHrTime(before?.timeNanos ?? startOf(point, now)),
              endTime,
              attributes: point.attributes,
              value: histogramPoint(value)
            }
          })
        })
        continue
      }
      const dataPoints = family.points.map((point) => {
        const current = point.value as number
        const before = delta ? previous.get(point.id) : undefined
        if (delta) previous.set(point.id, { timeNanos: now, value: current })
        return {
          startTime: toHrTime(before?.timeNanos ?? startOf(point, now)),
          endTime,
          attributes: point.attributes,
          value: before ? current - (before.value as number) : current
        }
      })
      if (family.kind === "gauge") {
        metrics.push({
          descriptor,
          aggregationTemporality: temporality,
          dataPointType: DataPointType.GAUGE,
          dataPoints
        })
      } else {
        metrics.push({
          descriptor,
          aggregationTemporality: temporality,
          dataPointType: DataPointType.SUM,
          isMonotonic: family.kind === "counter",
          dataPoints
        })
      }
    }
    return metrics
  }

  return {
    collect: async (): Promise<CollectionResult> => {
      const now = nowNanos()
      const families = Collect.collect({ effectRuntimeMetrics: options.effectRuntimeMetrics })
      return {
        // The reader replaces this with its MeterProvider's resource, the one shared with traces.
        resourceMetrics: {
          resource: emptyResource(),
          scopeMetrics: [{ scope: SCOPE, metrics: collectFamilies(families, now) }]
        },
        errors: []
      }
    }
  }
}
