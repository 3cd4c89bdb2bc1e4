/**
 * A real OTLP/HTTP receiver for tests and benchmarks: a `node:http` server on
 * `127.0.0.1` (ephemeral port) that accepts `POST /v1/traces`, `/v1/metrics` and `/v1/logs`
 * as `application/x-protobuf` or `application/json`, optionally gzip-compressed, decodes them
 * and keeps the decoded spans, metric data points and log records in memory.
 *
 * Protobuf payloads are decoded with `protobufjs` from the official opentelemetry-proto
 * `.proto` schema (the copy shipped by `@elastic/mockotlpserver`); JSON payloads follow the
 * OTLP/JSON mapping (hex ids, camelCase). Both end up in the same flattened shape.
 *
 * Data counts as received once the receiver has answered it with a 2xx: a request answered
 * with an injected error status, left hanging, or abandoned by the client before the answer
 * is counted as a request but its data is not kept, so a retried export is seen exactly once.
 *
 * The accessors are synchronous snapshots, so the same object serves Effect tests and plain
 * scripts; waiting is an `Effect` that uses real timers (it works under `TestClock`).
 *
 * @example
 * ```ts
 * it.scoped("spans arrive", () =>
 *   Effect.gen(function*() {
 *     const receiver = yield* OtlpReceiver.make()
 *     const exporter = new OTLPTraceExporter({ url: receiver.endpoints.traces })
 *     // ... export spans ...
 *     const spans = yield* receiver.awaitSpans(3)
 *     expect(spans.map((s) => s.name)).toContain("checkout")
 *   }))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Http from "node:http"
import { createRequire } from "node:module"
import * as Net from "node:net"
import type { AddressInfo } from "node:net"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import type * as Protobuf from "protobufjs"

// -----------------------------------------------------------------------------
// models
// -----------------------------------------------------------------------------

/**
 * An attribute (or log body) value: OTLP `AnyValue` as plain JavaScript. Integers are numbers,
 * or bigints when they do not fit a safe integer; `kvlistValue` becomes a nested record;
 * `bytesValue` a `Uint8Array`; an empty `AnyValue` is `null`.
 *
 * @since 0.1.0
 * @category models
 */
export type AttributeValue =
  | string
  | number
  | bigint
  | boolean
  | Uint8Array
  | null
  | ReadonlyArray<AttributeValue>
  | { readonly [key: string]: AttributeValue }

/** Attributes as a plain record. @since 0.1.0 @category models */
export type Attributes = { readonly [key: string]: AttributeValue }

/** Which payload format a signal arrived in. @since 0.1.0 @category models */
export type Encoding = "protobuf" | "json"

/** The signal a request path stands for. @since 0.1.0 @category models */
export type Signal = "traces" | "metrics" | "logs"

/** The instrumentation scope of a span, data point or log record. @since 0.1.0 @category models */
export interface InstrumentationScope {
  readonly name: string
  readonly version: string | undefined
  readonly attributes: Attributes
}

/** @since 0.1.0 @category models */
export type SpanKind = "unspecified" | "internal" | "server" | "client" | "producer" | "consumer"

/** @since 0.1.0 @category models */
export type StatusCode = "unset" | "ok" | "error"

/** A span event. @since 0.1.0 @category models */
export interface ReceivedSpanEvent {
  readonly name: string
  readonly timeUnixNano: bigint
  readonly attributes: Attributes
}

/** A span link. Ids are lowercase hex. @since 0.1.0 @category models */
export interface ReceivedSpanLink {
  readonly traceId: string
  readonly spanId: string
  readonly attributes: Attributes
}

/**
 * A received span, flattened with its resource and scope. Ids are lowercase hex strings;
 * `parentSpanId` is `undefined` for a root span. Times are Unix nanoseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceivedSpan {
  readonly resource: Attributes
  readonly scope: InstrumentationScope
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | undefined
  readonly traceState: string | undefined
  readonly name: string
  readonly kind: SpanKind
  readonly status: { readonly code: StatusCode; readonly message: string | undefined }
  readonly attributes: Attributes
  readonly startTimeUnixNano: bigint
  readonly endTimeUnixNano: bigint
  readonly events: ReadonlyArray<ReceivedSpanEvent>
  readonly links: ReadonlyArray<ReceivedSpanLink>
  readonly encoding: Encoding
}

/** @since 0.1.0 @category models */
export type MetricType = "sum" | "gauge" | "histogram" | "exponentialHistogram" | "summary"

/** @since 0.1.0 @category models */
export type Temporality = "unspecified" | "delta" | "cumulative"

/** An explicit-bucket histogram point. @since 0.1.0 @category models */
export interface HistogramValue {
  readonly count: number
  readonly sum: number | undefined
  readonly bucketCounts: ReadonlyArray<number>
  readonly explicitBounds: ReadonlyArray<number>
  readonly min: number | undefined
  readonly max: number | undefined
}

/** An exponential histogram point. @since 0.1.0 @category models */
export interface ExponentialHistogramValue {
  readonly count: number
  readonly sum: number | undefined
  readonly scale: number
  readonly zeroCount: number
  readonly positive: { readonly offset: number; readonly bucketCounts: ReadonlyArray<number> }
  readonly negative: { readonly offset: number; readonly bucketCounts: ReadonlyArray<number> }
  readonly min: number | undefined
  readonly max: number | undefined
}

/** A summary point. @since 0.1.0 @category models */
export interface SummaryValue {
  readonly count: number
  readonly sum: number
  readonly quantiles: ReadonlyArray<{ readonly quantile: number; readonly value: number }>
}

/**
 * A received metric data point, flattened with its metric, resource and scope. `value` is set
 * for sums and gauges (`valueType` tells whether it was sent as `asInt` or `asDouble`),
 * `histogram` for histograms, and so on. `isMonotonic` is only ever true for sums; gauges have
 * temporality `"unspecified"`. Times are Unix nanoseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceivedDataPoint {
  readonly resource: Attributes
  readonly scope: InstrumentationScope
  readonly name: string
  readonly unit: string
  readonly description: string
  readonly type: MetricType
  readonly isMonotonic: boolean
  readonly temporality: Temporality
  readonly attributes: Attributes
  readonly value: number | undefined
  readonly valueType: "int" | "double" | undefined
  readonly histogram: HistogramValue | undefined
  readonly exponentialHistogram: ExponentialHistogramValue | undefined
  readonly summary: SummaryValue | undefined
  readonly startTimeUnixNano: bigint
  readonly timeUnixNano: bigint
  readonly encoding: Encoding
}

/** A received log record, flattened with its resource and scope. @since 0.1.0 @category models */
export interface ReceivedLogRecord {
  readonly resource: Attributes
  readonly scope: InstrumentationScope
  readonly timeUnixNano: bigint
  readonly observedTimeUnixNano: bigint
  readonly severityNumber: number
  readonly severityText: string | undefined
  readonly body: AttributeValue
  readonly attributes: Attributes
  readonly traceId: string | undefined
  readonly spanId: string | undefined
  readonly encoding: Encoding
}

/**
 * One HTTP request seen by the receiver. `contentType` is the media type without parameters,
 * lowercased. `status` is the status answered, `undefined` while no answer was sent
 * (`outcome` tells why: still pending or delayed, made to hang, or abandoned by the client).
 *
 * @since 0.1.0
 * @category models
 */
export interface ReceivedRequest {
  readonly method: string
  readonly path: string
  readonly signal: Signal | undefined
  readonly contentType: string | undefined
  readonly contentEncoding: string | undefined
  readonly bodyBytes: number
  readonly receivedAtMillis: number
  readonly status: number | undefined
  readonly outcome: "pending" | "answered" | "hung" | "abandoned"
  /** Why the payload was refused (bad encoding, undecodable body), if it was. */
  readonly error: string | undefined
}

/** Selects requests for {@link OtlpReceiver.requestCount}; every field given must match. @since 0.1.0 @category models */
export interface RequestFilter {
  readonly path?: string
  readonly signal?: Signal
  readonly contentType?: string
  readonly contentEncoding?: string
  readonly status?: number
}

/**
 * How the receiver answers (fault injection), one collector fault per field:
 * - `status`: the status to answer with (default 200). A non-2xx status refuses the payload;
 *   `retryAfter` then sets `Retry-After` (seconds as a number, or the raw header value).
 *   503 forever is `{ status: 503 }`; throttling is `{ status: 429, retryAfter: 60 }`.
 * - `delayMillis`: a slow collector: wait this long before answering (and keeping the data).
 * - `hang`: read the request, never answer; the connection stays open until the client gives
 *   up or the receiver closes.
 * - `blackhole`: accept the TCP connection and never read from it or answer (a collector
 *   behind a dropping firewall or stuck before HTTP); applies to new connections.
 * - `refuse`: stop listening, so connecting to the port is refused (a collector that is down),
 *   and drop open connections; the receiver listens on the same port again as soon as a
 *   behaviour without `refuse` is set (a collector recovering mid-run).
 *
 * @since 0.1.0
 * @category models
 */
export interface Behaviour {
  readonly status?: number
  readonly retryAfter?: number | string
  readonly delayMillis?: number
  readonly hang?: boolean
  readonly blackhole?: boolean
  readonly refuse?: boolean
}

/** Options of {@link OtlpReceiver.awaitSpans} and {@link OtlpReceiver.awaitDataPoints}. @since 0.1.0 @category models */
export interface AwaitOptions<A> {
  /** How long to wait in all (default 10 seconds, real time). */
  readonly timeout?: Duration.DurationInput
  /** Count only the items that satisfy this predicate. */
  readonly filter?: (item: A) => boolean
}

/** Options of {@link make}, {@link layer} and {@link start}. @since 0.1.0 @category models */
export interface Options {
  /** The initial behaviour (default: answer 200 at once). */
  readonly behaviour?: Behaviour
  /**
   * Keep the decoded spans, data points and log records (default true). With `false` only the
   * counts are kept, for benchmarks that send more than memory should hold.
   */
  readonly retain?: boolean
}

/**
 * A running OTLP/HTTP receiver.
 *
 * @since 0.1.0
 * @category models
 */
export interface OtlpReceiver {
  /** The base URL, `http://127.0.0.1:PORT`. */
  readonly url: string
  readonly port: number
  /** Full URLs of the signal endpoints, ready for an exporter's `url` option. */
  readonly endpoints: { readonly traces: string; readonly metrics: string; readonly logs: string }
  /** The spans received so far, in arrival order. */
  readonly spans: () => ReadonlyArray<ReceivedSpan>
  readonly spanCount: () => number
  /** The metric data points received so far, in arrival order. */
  readonly dataPoints: () => ReadonlyArray<ReceivedDataPoint>
  readonly dataPointCount: () => number
  /** The log records received so far, in arrival order. */
  readonly logRecords: () => ReadonlyArray<ReceivedLogRecord>
  readonly logRecordCount: () => number
  /** Every request seen, in arrival order, whatever its outcome. */
  readonly requests: () => ReadonlyArray<ReceivedRequest>
  /** How many requests match the filter (all requests without one). */
  readonly requestCount: (filter?: RequestFilter) => number
  /** Answered requests by status code. */
  readonly statusCounts: () => Readonly<Record<number, number>>
  /**
   * Sets how the following requests are answered, until changed again. Setting or leaving
   * `refuse` stops or restarts listening (on the same port) in the background.
   */
  readonly setBehaviour: (behaviour: Behaviour) => void
  /**
   * Queues one-shot behaviours: each of the next requests to a signal path takes the next one,
   * after which the behaviour set with `setBehaviour` applies again.
   */
  readonly queueBehaviours: (...behaviours: ReadonlyArray<Behaviour>) => void
  /** Forgets all data and requests (the behaviour is kept). */
  readonly reset: () => void
  /**
   * Waits until at least `count` spans (matching `filter`, if given) have been received and
   * returns all received spans; fails with the count seen when the timeout passes.
   */
  readonly awaitSpans: (
    count: number,
    options?: AwaitOptions<ReceivedSpan>
  ) => Effect.Effect<ReadonlyArray<ReceivedSpan>, OtlpReceiverTimeoutError>
  /** Like `awaitSpans`, for metric data points. */
  readonly awaitDataPoints: (
    count: number,
    options?: AwaitOptions<ReceivedDataPoint>
  ) => Effect.Effect<ReadonlyArray<ReceivedDataPoint>, OtlpReceiverTimeoutError>
}

/**
 * An {@link OtlpReceiver} started outside Effect by {@link start}.
 *
 * @since 0.1.0
 * @category models
 */
export interface StartedOtlpReceiver extends OtlpReceiver {
  /** Stops the server, dropping open (hanging) connections. */
  readonly close: () => Promise<void>
}

/**
 * Raised when an await helper's timeout passes first; tells how many items were seen.
 *
 * @since 0.1.0
 * @category errors
 */
export class OtlpReceiverTimeoutError extends Data.TaggedError("OtlpReceiverTimeoutError")<{
  readonly message: string
  readonly what: "spans" | "dataPoints"
  readonly expected: number
  readonly seen: number
}> {}

// -----------------------------------------------------------------------------
// protobuf decoding (official opentelemetry-proto schema through protobufjs)
// -----------------------------------------------------------------------------

const requireCjs = createRequire(import.meta.url)

const PROTO_FILES = [
  "opentelemetry/proto/collector/trace/v1/trace_service.proto",
  "opentelemetry/proto/collector/metrics/v1/metrics_service.proto",
  "opentelemetry/proto/collector/logs/v1/logs_service.proto"
]

type Codecs = { readonly [S in Signal]: Protobuf.Type }

let codecs: Codecs | undefined

const loadCodecs = (): Codecs => {
  if (codecs !== undefined) return codecs
  const protobuf: typeof Protobuf = requireCjs("protobufjs")
  // The opentelemetry-proto schema, as published by open-telemetry/opentelemetry-proto.
  const protoDir = Path.dirname(requireCjs.resolve("@elastic/mockotlpserver/package.json"))
  const root = new protobuf.Root()
  root.resolvePath = (_origin, target) => Path.isAbsolute(target) ? target : Path.join(protoDir, target)
  root.loadSync(PROTO_FILES, { keepCase: false })
  codecs = {
    traces: root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"),
    metrics: root.lookupType("opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest"),
    logs: root.lookupType("opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest")
  }
  return codecs
}

const decodeProtobuf = (signal: Signal, bytes: Uint8Array): unknown => {
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

const decodeSpans = (request: unknown, encoding: Encoding): Array<ReceivedSpan> => {
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

const decodeDataPoints = (request: unknown, encoding: Encoding): Array<ReceivedDataPoint> => {
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

const decodeLogRecords = (request: unknown, encoding: Encoding): Array<ReceivedLogRecord> => {
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

// -----------------------------------------------------------------------------
// the server
// -----------------------------------------------------------------------------

const SIGNAL_PATHS: { readonly [path: string]: Signal } = {
  "/v1/traces": "traces",
  "/v1/metrics": "metrics",
  "/v1/logs": "logs"
}

const PROTOBUF_TYPES = new Set(["application/x-protobuf", "application/protobuf"])
const JSON_TYPE = "application/json"

const headerValue = (h: string | ReadonlyArray<string> | undefined): string | undefined =>
  typeof h === "string" ? h : h?.[0]

const mediaType = (h: string | undefined): string | undefined => {
  const value = h?.split(";")[0]?.trim().toLowerCase()
  return value === "" ? undefined : value
}

type MutableRequest = { -readonly [K in keyof ReceivedRequest]: ReceivedRequest[K] }

class Refused {
  constructor(readonly status: number, readonly message: string) {}
}

const decompress = (body: Buffer, encoding: string | undefined): Buffer => {
  switch (encoding) {
    case undefined:
    case "identity":
      return body
    case "gzip":
    case "x-gzip":
      return Zlib.gunzipSync(body)
    case "deflate":
      return Zlib.inflateSync(body)
    default:
      throw new Refused(415, `unsupported content-encoding ${encoding}`)
  }
}

class ReceiverState {
  readonly spans: Array<ReceivedSpan> = []
  readonly dataPoints: Array<ReceivedDataPoint> = []
  readonly logRecords: Array<ReceivedLogRecord> = []
  readonly requests: Array<MutableRequest> = []
  spanCount = 0
  dataPointCount = 0
  logRecordCount = 0
  behaviour: Behaviour
  readonly queued: Array<Behaviour> = []
  readonly listeners = new Set<() => void>()
  readonly timers = new Set<ReturnType<typeof setTimeout>>()
  closed = false

  constructor(behaviour: Behaviour | undefined, readonly retain: boolean) {
    this.behaviour = behaviour ?? {}
  }

  notify(): void {
    for (const listener of Array.from(this.listeners)) listener()
  }

  reset(): void {
    this.spans.length = 0
    this.dataPoints.length = 0
    this.logRecords.length = 0
    this.requests.length = 0
    this.spanCount = 0
    this.dataPointCount = 0
    this.logRecordCount = 0
    this.notify()
  }

  shutdown(): void {
    this.closed = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }

  handle(req: Http.IncomingMessage, res: Http.ServerResponse): void {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("error", () => res.destroy())
    req.on("end", () => this.onRequest(req, res, Buffer.concat(chunks)))
  }

  onRequest(req: Http.IncomingMessage, res: Http.ServerResponse, body: Buffer): void {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname
    const signal = SIGNAL_PATHS[path]
    const request: MutableRequest = {
      method: req.method ?? "GET",
      path,
      signal,
      contentType: mediaType(headerValue(req.headers["content-type"])),
      contentEncoding: headerValue(req.headers["content-encoding"])?.trim().toLowerCase() || undefined,
      bodyBytes: body.length,
      receivedAtMillis: Date.now(),
      status: undefined,
      outcome: "pending",
      error: undefined
    }
    this.requests.push(request)
    res.on("close", () => {
      if (!res.writableFinished && request.outcome === "pending") request.outcome = "abandoned"
    })
    if (signal === undefined) return this.answer(res, request, 404, { error: `no OTLP endpoint at ${path}` })
    if (request.method !== "POST") {
      return this.answer(res, request, 405, { error: "only POST is accepted" }, { allow: "POST" })
    }

    const behaviour = this.queued.shift() ?? this.behaviour
    if (behaviour.hang === true) {
      request.outcome = "hung"
      this.notify()
      return
    }
    const delay = behaviour.delayMillis ?? 0
    if (delay <= 0) return this.process(res, request, signal, body, behaviour)
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      this.process(res, request, signal, body, behaviour)
    }, delay)
    this.timers.add(timer)
  }

  process(res: Http.ServerResponse, request: MutableRequest, signal: Signal, body: Buffer, behaviour: Behaviour): void {
    if (this.closed || request.outcome !== "pending") return
    const status = behaviour.status ?? 200
    if (status < 200 || status > 299) {
      const headers: Record<string, string> = {}
      if (behaviour.retryAfter !== undefined) headers["retry-after"] = String(behaviour.retryAfter)
      return this.answer(res, request, status, { code: status, message: "injected failure" }, headers)
    }
    let encoding: Encoding
    let decoded: unknown
    try {
      const payload = decompress(body, request.contentEncoding)
      if (request.contentType === JSON_TYPE) {
        encoding = "json"
        decoded = payload.length === 0 ? {} : JSON.parse(payload.toString("utf8"))
      } else if (request.contentType !== undefined && PROTOBUF_TYPES.has(request.contentType)) {
        encoding = "protobuf"
        decoded = decodeProtobuf(signal, payload)
      } else {
        throw new Refused(415, `unsupported content-type ${request.contentType ?? "(none)"}`)
      }
    } catch (error) {
      const refused = error instanceof Refused ? error : new Refused(400, `undecodable payload: ${String(error)}`)
      request.error = refused.message
      return this.answer(res, request, refused.status, { code: 3, message: refused.message })
    }
    if (res.destroyed || res.writableEnded) {
      request.outcome = "abandoned"
      return
    }
    // Answer first: the data counts as received once acknowledged.
    this.answer(res, request, status, encoding === "json" ? {} : undefined)
    this.store(signal, decoded, encoding)
  }

  store(signal: Signal, decoded: unknown, encoding: Encoding): void {
    switch (signal) {
      case "traces": {
        const spans = decodeSpans(decoded, encoding)
        this.spanCount += spans.length
        if (this.retain) { for (const span of spans) this.spans.push(span) }
        break
      }
      case "metrics": {
        const points = decodeDataPoints(decoded, encoding)
        this.dataPointCount += points.length
        if (this.retain) { for (const p of points) this.dataPoints.push(p) }
        break
      }
      case "logs": {
        const logs = decodeLogRecords(decoded, encoding)
        this.logRecordCount += logs.length
        if (this.retain) { for (const l of logs) this.logRecords.push(l) }
        break
      }
    }
    this.notify()
  }

  /** JSON bodies for JSON (and error) answers; an empty protobuf message otherwise. */
  answer(
    res: Http.ServerResponse,
    request: MutableRequest,
    status: number,
    json: object | undefined,
    headers: Record<string, string> = {}
  ): void {
    if (res.destroyed || res.writableEnded) {
      request.outcome = "abandoned"
      return
    }
    request.status = status
    request.outcome = "answered"
    const asJson = json !== undefined && (request.contentType === JSON_TYPE || status < 200 || status > 299)
    const body = asJson ? Buffer.from(JSON.stringify(json)) : Buffer.alloc(0)
    res.writeHead(status, {
      ...headers,
      "content-type": asJson ? JSON_TYPE : "application/x-protobuf",
      "content-length": String(body.length)
    })
    res.end(body)
    this.notify()
  }

  awaitItems<A>(
    what: "spans" | "dataPoints",
    items: () => ReadonlyArray<A>,
    total: () => number,
    count: number,
    options: AwaitOptions<A> | undefined
  ): Effect.Effect<ReadonlyArray<A>, OtlpReceiverTimeoutError> {
    const filter = options?.filter
    const seen = (): number => (filter === undefined ? total() : items().filter(filter).length)
    const timeoutMillis = Duration.toMillis(Duration.decode(options?.timeout ?? Duration.seconds(10)))
    return Effect.async<ReadonlyArray<A>, OtlpReceiverTimeoutError>((resume) => {
      let done = false
      const finish = (effect: Effect.Effect<ReadonlyArray<A>, OtlpReceiverTimeoutError>) => {
        if (done) return
        done = true
        clearTimeout(timer)
        clearInterval(poll)
        this.listeners.delete(check)
        resume(effect)
      }
      const check = () => {
        if (seen() >= count) finish(Effect.sync(() => items().slice()))
      }
      const timer = setTimeout(() => {
        const n = seen()
        finish(
          n >= count ? Effect.sync(() => items().slice()) : Effect.fail(
            new OtlpReceiverTimeoutError({
              message: `expected at least ${count} ${what} within ${timeoutMillis}ms, saw ${n}`,
              what,
              expected: count,
              seen: n
            })
          )
        )
      }, timeoutMillis)
      // Arrivals notify at once; the poll is a safety net.
      const poll = setInterval(check, 50)
      this.listeners.add(check)
      check()
      return Effect.sync(() => {
        done = true
        clearTimeout(timer)
        clearInterval(poll)
        this.listeners.delete(check)
      })
    })
  }
}

// -----------------------------------------------------------------------------
// constructors and layers
// -----------------------------------------------------------------------------

/**
 * The service tag, for programs that take the receiver from their context.
 *
 * @since 0.1.0
 * @category tags
 */
export const OtlpReceiver = Context.GenericTag<OtlpReceiver>("@effect-telemetry/testing/OtlpReceiver")

/**
 * The listening side: a TCP server that hands connections to the HTTP server, or holds them
 * unread (`blackhole`), and that stops and restarts listening for `refuse`.
 */
class Listener {
  readonly http: Http.Server
  readonly tcp: Net.Server
  readonly held = new Set<Net.Socket>()
  /** Connections handed to the HTTP server (it does not track them, as it never listens). */
  readonly open = new Set<Net.Socket>()
  port = 0
  private listening: Promise<void> = Promise.resolve()

  constructor(readonly state: ReceiverState) {
    this.http = Http.createServer((req, res) => state.handle(req, res))
    this.http.keepAliveTimeout = 5_000
    this.tcp = Net.createServer((socket) => {
      if (state.behaviour.blackhole === true) {
        // Accepted, never read, never answered.
        socket.pause()
        this.held.add(socket)
        socket.on("close", () => this.held.delete(socket))
        socket.on("error", () => undefined)
        return
      }
      this.open.add(socket)
      socket.on("close", () => this.open.delete(socket))
      this.http.emit("connection", socket)
    })
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.tcp.once("error", reject)
      this.tcp.listen(this.port, "127.0.0.1", () => {
        this.tcp.off("error", reject)
        this.port = (this.tcp.address() as AddressInfo).port
        resolve()
      })
    })
  }

  dropConnections(): void {
    for (const socket of this.held) socket.destroy()
    this.held.clear()
    for (const socket of this.open) socket.destroy()
    this.open.clear()
  }

  /** Follows `refuse`: stop listening (and drop connections) or listen again on the same port. */
  apply(behaviour: Behaviour): void {
    const refuse = behaviour.refuse === true
    this.listening = this.listening.then(() => {
      if (refuse && this.tcp.listening) {
        this.tcp.close()
        this.dropConnections()
      } else if (!refuse && !this.tcp.listening && !this.state.closed) {
        return this.start().catch(() => undefined)
      }
    })
  }

  close(): Promise<void> {
    return this.listening.then(() =>
      new Promise<void>((resolve) => {
        this.dropConnections()
        if (this.tcp.listening) this.tcp.close(() => resolve())
        else resolve()
      })
    )
  }
}

/**
 * Starts a receiver (default: answer 200 at once and keep everything received); the server
 * is closed (open connections dropped) when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<OtlpReceiver, never, Scope.Scope> =>
  Effect.gen(function*() {
    // Load the schema up front: a missing schema is a defect of the setup, not of a request.
    yield* Effect.sync(loadCodecs)
    const state = new ReceiverState(options.behaviour, options.retain ?? true)
    const listener = new Listener(state)

    yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => listener.start(), catch: (error) => error }).pipe(Effect.orDie),
      () =>
        Effect.promise(() => {
          state.shutdown()
          return listener.close()
        })
    )
    if (state.behaviour.refuse === true) listener.apply(state.behaviour)

    const port = listener.port
    const url = `http://127.0.0.1:${port}`
    const receiver: OtlpReceiver = {
      url,
      port,
      endpoints: { traces: `${url}/v1/traces`, metrics: `${url}/v1/metrics`, logs: `${url}/v1/logs` },
      spans: () => state.spans.slice(),
      spanCount: () => state.spanCount,
      dataPoints: () => state.dataPoints.slice(),
      dataPointCount: () => state.dataPointCount,
      logRecords: () => state.logRecords.slice(),
      logRecordCount: () => state.logRecordCount,
      requests: () => state.requests.map((r) => ({ ...r })),
      requestCount: (filter) =>
        filter === undefined ?
          state.requests.length :
          state.requests.filter((r) =>
            (filter.path === undefined || r.path === filter.path) &&
            (filter.signal === undefined || r.signal === filter.signal) &&
            (filter.contentType === undefined || r.contentType === filter.contentType.toLowerCase()) &&
            (filter.contentEncoding === undefined || r.contentEncoding === filter.contentEncoding.toLowerCase()) &&
            (filter.status === undefined || r.status === filter.status)
          ).length,
      statusCounts: () => {
        const counts: Record<number, number> = {}
        for (const r of state.requests) {
          if (r.status !== undefined) counts[r.status] = (counts[r.status] ?? 0) + 1
        }
        return counts
      },
      setBehaviour: (behaviour) => {
        state.behaviour = behaviour
        listener.apply(behaviour)
      },
      queueBehaviours: (...behaviours) => {
        state.queued.push(...behaviours)
      },
      reset: () => state.reset(),
      awaitSpans: (count, awaitOptions) =>
        state.awaitItems("spans", () => state.spans, () => state.spanCount, count, awaitOptions),
      awaitDataPoints: (count, awaitOptions) =>
        state.awaitItems("dataPoints", () => state.dataPoints, () => state.dataPointCount, count, awaitOptions)
    }
    return receiver
  })

/**
 * A layer providing a receiver started with the given options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<OtlpReceiver> => Layer.scoped(OtlpReceiver, make(options))

/**
 * Starts a receiver from plain (non-Effect) code, e.g. a benchmark script; call `close()`
 * when done.
 *
 * @example
 * ```ts
 * const receiver = await OtlpReceiver.start({ retain: false })
 * // ... point exporters at receiver.endpoints.traces ...
 * console.log(receiver.spanCount())
 * await receiver.close()
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = async (options?: Options): Promise<StartedOtlpReceiver> => {
  const scope = Effect.runSync(Scope.make())
  const receiver = await Effect.runPromise(Scope.extend(make(options), scope))
  return { ...receiver, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}
