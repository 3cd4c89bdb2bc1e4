/**
 * Decoding of OTLP requests into the receiver's flattened shape: protobuf through `protobufjs`
 * with the official opentelemetry-proto schema, OTLP/JSON by its mapping. Used by the HTTP and
 * the gRPC listener alike.
 */
import { createRequire } from "node:module"
import * as Path from "node:path"
import type * as Protobuf from "protobufjs"
import type {
  Attributes,
  AttributeValue,
  Encoding,
  InstrumentationScope,
  MetricType,
  ReceivedDataPoint,
  ReceivedLogRecord,
  ReceivedSpan,
  Signal,
  SpanKind,
  StatusCode,
  Temporality
} from "../OtlpReceiver.js"

// -----------------------------------------------------------------------------
// protobuf decoding (official opentelemetry-proto schema through protobufjs)
// -----------------------------------------------------------------------------

const requireCjs = createRequire(import.meta.url)

const PROTO_FILES = [
  "opentelemetry/proto/collector/trace/v1/trace_service.proto",
  "opentelemetry/proto/collector/metrics/v1/metrics_service.proto",
  "opentelemetry/proto/collector/logs/v1/logs_service.proto"
]

type Codecs = { readonly [S in Signal]: Protobuf.Type } & { readonly root: Protobuf.Root }

let codecs: Codecs | undefined

/** The `protobufjs` module (a CommonJS dependency). @internal */
export const loadProtobuf = (): typeof Protobuf => requireCjs("protobufjs")

/** Loads the schema once (a missing schema is a defect of the setup, not of a request). */
export const loadCodecs = (): Codecs => {
  if (codecs !== undefined) return codecs
  const protobuf = loadProtobuf()
  // The opentelemetry-proto schema, as published by open-telemetry/opentelemetry-proto.
  const protoDir = Path.dirname(requireCjs.resolve("@elastic/mockotlpserver/package.json"))
  const root = new protobuf.Root()
  root.resolvePath = (_origin, target) => Path.isAbsolute(target) ? target : Path.join(protoDir, target)
  root.loadSync(PROTO_FILES, { keepCase: false })
  codecs = {
    root,
    traces: root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"),
    metrics: root.lookupType("opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest"),
    logs: root.lookupType("opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest")
  }
  return codecs
}

/** @internal */
export const decodeProtobuf = (signal: Signal, bytes: Uint8Array): unknown => {
  const type = loadCodecs()[signal]
  // Int64s as decimal strings, bytes as number arrays, enums as numbers, absent fields absent.
  return type.toObject(type.decode(bytes), { longs: String, bytes: Array, enums: Number, defaults: false })
}

// -----------------------------------------------------------------------------
// normalisation of decoded protobuf objects and OTLP/JSON into one shape
// -----------------------------------------------------------------------------

type Raw = { readonly [key: string]: unknown }

const record = (u: unknown): Raw => (typeof u === "object" && u !== null && !Array.isArray(u) ? (u as Raw) : {})
const list = (u: unknown): ReadonlyArray<unknown> => (Array.isArray(u) ? u : [])
const text = (u: unknown): string | undefined => (typeof u === "string" ? u : undefined)
const has = (raw: Raw, key: string): boolean => Object.prototype.hasOwnProperty.call(raw, key) && raw[key] != null

const bigint = (u: unknown): bigint => {
  switch (typeof u) {
    case "bigint":
      return u
    case "number":
      return Number.isFinite(u) ? BigInt(Math.trunc(u)) : 0n
    case "string":
      return u === "" ? 0n : BigInt(u)
    case "object": {
      // { low, high } long bits (older JSON encoders, protobufjs Long)
      const r = record(u)
      if (typeof r.low === "number" && typeof r.high === "number") {
        const value = (BigInt(r.high >>> 0) << 32n) | BigInt(r.low >>> 0)
        return r.unsigned === true ? value : BigInt.asIntN(64, value)
      }
      return 0n
    }
    default:
      return 0n
  }
}

const number = (u: unknown): number => {
  switch (typeof u) {
    case "number":
      return u
    case "string":
      return Number(u)
    case "bigint":
      return Number(u)
    case "object":
      return Number(bigint(u))
    default:
      return 0
  }
}

const integer = (u: unknown): number | bigint => {
  const value = bigint(u)
  const asNumber = Number(value)
  return Number.isSafeInteger(asNumber) ? asNumber : value
}

/** Ids: protobuf bytes (number arrays) or OTLP/JSON hex strings; empty or all-zero is absent. */
const hexId = (u: unknown): string | undefined => {
  let hex: string
  if (typeof u === "string") hex = u.toLowerCase()
  else if (Array.isArray(u) || u instanceof Uint8Array) {
    hex = Buffer.from(Uint8Array.from(u as ArrayLike<number>)).toString("hex")
  } else return undefined
  return hex === "" || /^0+$/.test(hex) ? undefined : hex
}

const bytesValue = (u: unknown): Uint8Array =>
  typeof u === "string"
    ? new Uint8Array(Buffer.from(u, "base64"))
    : Uint8Array.from(Array.isArray(u) ? (u as ReadonlyArray<number>) : [])

const enumIndex = (u: unknown, names: ReadonlyArray<string>): number => {
  if (typeof u === "number") return u
  if (typeof u === "string") {
    const index = names.indexOf(u)
    return index >= 0 ? index : Number.isInteger(Number(u)) ? Number(u) : 0
  }
  return 0
}

const SPAN_KINDS: ReadonlyArray<SpanKind> = ["unspecified", "internal", "server", "client", "producer", "consumer"]
const SPAN_KIND_NAMES = SPAN_KINDS.map((kind) => `SPAN_KIND_${kind.toUpperCase()}`)
const STATUS_CODES: ReadonlyArray<StatusCode> = ["unset", "ok", "error"]
const STATUS_CODE_NAMES = STATUS_CODES.map((code) => `STATUS_CODE_${code.toUpperCase()}`)
const TEMPORALITIES: ReadonlyArray<Temporality> = ["unspecified", "delta", "cumulative"]
const TEMPORALITY_NAMES = TEMPORALITIES.map((t) => `AGGREGATION_TEMPORALITY_${t.toUpperCase()}`)

const anyValue = (u: unknown): AttributeValue => {
  const v = record(u)
  if (has(v, "stringValue")) return String(v.stringValue)
  if (has(v, "boolValue")) return v.boolValue === true || v.boolValue === "true"
  if (has(v, "intValue")) return integer(v.intValue)
  if (has(v, "doubleValue")) return number(v.doubleValue)
  if (has(v, "arrayValue")) return list(record(v.arrayValue).values).map(anyValue)
  if (has(v, "kvlistValue")) return attributes(record(v.kvlistValue).values)
  if (has(v, "bytesValue")) return bytesValue(v.bytesValue)
  return null
}

const attributes = (u: unknown): Attributes => {
  const out: { [key: string]: AttributeValue } = {}
  for (const kv of list(u)) {
    const entry = record(kv)
    Object.defineProperty(out, String(entry.key ?? ""), {
      value: anyValue(entry.value),
      enumerable: true,
      writable: true,
      configurable: true
    })
  }
  return out
}

const scopeOf = (u: unknown): InstrumentationScope => {
  const scope = record(u)
  return { name: text(scope.name) ?? "", version: text(scope.version), attributes: attributes(scope.attributes) }
}

/** @internal */
export const decodeSpans = (request: unknown, encoding: Encoding): Array<ReceivedSpan> => {
  const out: Array<ReceivedSpan> = []
  for (const rs of list(record(request).resourceSpans)) {
    const resource = attributes(record(record(rs).resource).attributes)
    for (const ss of list(record(rs).scopeSpans)) {
      const scope = scopeOf(record(ss).scope)
      for (const s of list(record(ss).spans)) {
        const span = record(s)
        const status = record(span.status)
        out.push({
          resource,
          scope,
          traceId: hexId(span.traceId) ?? "",
          spanId: hexId(span.spanId) ?? "",
          parentSpanId: hexId(span.parentSpanId),
          traceState: text(span.traceState) || undefined,
          name: text(span.name) ?? "",
          kind: SPAN_KINDS[enumIndex(span.kind, SPAN_KIND_NAMES)] ?? "unspecified",
          status: {
            code: STATUS_CODES[enumIndex(status.code, STATUS_CODE_NAMES)] ?? "unset",
            message: text(status.message) || undefined
          },
          attributes: attributes(span.attributes),
          startTimeUnixNano: bigint(span.startTimeUnixNano),
          endTimeUnixNano: bigint(span.endTimeUnixNano),
          events: list(span.events).map((e) => {
            const event = record(e)
            return {
              name: text(event.name) ?? "",
              timeUnixNano: bigint(event.timeUnixNano),
              attributes: attributes(event.attributes)
            }
          }),
          links: list(span.links).map((l) => {
            const link = record(l)
            return {
              traceId: hexId(link.traceId) ?? "",
              spanId: hexId(link.spanId) ?? "",
              attributes: attributes(link.attributes)
            }
          }),
          encoding
        })
      }
    }
  }
  return out
}

const optionalNumber = (raw: Raw, key: string): number | undefined => (has(raw, key) ? number(raw[key]) : undefined)

const buckets = (u: unknown) => {
  const b = record(u)
  return { offset: number(b.offset ?? 0), bucketCounts: list(b.bucketCounts).map(number) }
}

type PointValues = Pick<ReceivedDataPoint, "value" | "valueType" | "histogram" | "exponentialHistogram" | "summary">

const noValues: PointValues = {
  value: undefined,
  valueType: undefined,
  histogram: undefined,
  exponentialHistogram: undefined,
  summary: undefined
}

const numberValue = (p: Raw): Partial<PointValues> =>
  has(p, "asDouble")
    ? { value: number(p.asDouble), valueType: "double" }
    : has(p, "asInt")
    ? { value: number(p.asInt), valueType: "int" }
    : { value: 0, valueType: undefined }

const temporalityOf = (data: Raw): Temporality =>
  TEMPORALITIES[enumIndex(data.aggregationTemporality, TEMPORALITY_NAMES)] ?? "unspecified"

const notMonotonic = () => false
const unspecified = (): Temporality => "unspecified"

/**
 * How each metric type is read: the OTLP field holding it is named as its `type`, and only its
 * values differ from one type to the next. In OTLP's order, the first field present wins.
 */
const metricTypes: ReadonlyArray<{
  readonly type: MetricType
  readonly isMonotonic: (data: Raw) => boolean
  readonly temporality: (data: Raw) => Temporality
  readonly values: (p: Raw) => Partial<PointValues>
}> = [
  { type: "sum", isMonotonic: (sum) => sum.isMonotonic === true, temporality: temporalityOf, values: numberValue },
  { type: "gauge", isMonotonic: notMonotonic, temporality: unspecified, values: numberValue },
  {
    type: "histogram",
    isMonotonic: notMonotonic,
    temporality: temporalityOf,
    values: (p) => ({
      histogram: {
        count: number(p.count ?? 0),
        sum: optionalNumber(p, "sum"),
        bucketCounts: list(p.bucketCounts).map(number),
        explicitBounds: list(p.explicitBounds).map(number),
        min: optionalNumber(p, "min"),
        max: optionalNumber(p, "max")
      }
    })
  },
  {
    type: "exponentialHistogram",
    isMonotonic: notMonotonic,
    temporality: temporalityOf,
    values: (p) => ({
      exponentialHistogram: {
        count: number(p.count ?? 0),
        sum: optionalNumber(p, "sum"),
        scale: number(p.scale ?? 0),
        zeroCount: number(p.zeroCount ?? 0),
        positive: buckets(p.positive),
        negative: buckets(p.negative),
        min: optionalNumber(p, "min"),
        max: optionalNumber(p, "max")
      }
    })
  },
  {
    type: "summary",
    isMonotonic: notMonotonic,
    temporality: unspecified,
    values: (p) => ({
      summary: {
        count: number(p.count ?? 0),
        sum: number(p.sum ?? 0),
        quantiles: list(p.quantileValues).map((q) => ({
          quantile: number(record(q).quantile ?? 0),
          value: number(record(q).value ?? 0)
        }))
      }
    })
  }
]

/** @internal */
export const decodeDataPoints = (request: unknown, encoding: Encoding): Array<ReceivedDataPoint> => {
  const out: Array<ReceivedDataPoint> = []
  for (const rm of list(record(request).resourceMetrics)) {
    const resource = attributes(record(record(rm).resource).attributes)
    for (const sm of list(record(rm).scopeMetrics)) {
      const scope = scopeOf(record(sm).scope)
      for (const m of list(record(sm).metrics)) {
        const metric = record(m)
        const metricType = metricTypes.find(({ type }) => has(metric, type))
        if (metricType === undefined) continue
        const data = record(metric[metricType.type])
        const base = {
          resource,
          scope,
          name: text(metric.name) ?? "",
          unit: text(metric.unit) ?? "",
          description: text(metric.description) ?? "",
          encoding,
          ...noValues,
          type: metricType.type,
          isMonotonic: metricType.isMonotonic(data),
          temporality: metricType.temporality(data)
        }
        for (const dp of list(data.dataPoints)) {
          const p = record(dp)
          out.push({
            ...base,
            attributes: attributes(p.attributes),
            startTimeUnixNano: bigint(p.startTimeUnixNano),
            timeUnixNano: bigint(p.timeUnixNano),
            ...metricType.values(p)
          })
        }
      }
    }
  }
  return out
}

/** @internal */
export const decodeLogRecords = (request: unknown, encoding: Encoding): Array<ReceivedLogRecord> => {
  const out: Array<ReceivedLogRecord> = []
  for (const rl of list(record(request).resourceLogs)) {
    const resource = attributes(record(record(rl).resource).attributes)
    for (const sl of list(record(rl).scopeLogs)) {
      const scope = scopeOf(record(sl).scope)
      for (const r of list(record(sl).logRecords)) {
        const log = record(r)
        out.push({
          resource,
          scope,
          timeUnixNano: bigint(log.timeUnixNano),
          observedTimeUnixNano: bigint(log.observedTimeUnixNano),
          severityNumber: typeof log.severityNumber === "number" ? log.severityNumber : 0,
          severityText: text(log.severityText) || undefined,
          body: anyValue(log.body),
          attributes: attributes(log.attributes),
          traceId: hexId(log.traceId),
          spanId: hexId(log.spanId),
          encoding
        })
      }
    }
  }
  return out
}
