/**
 * A real OTLP receiver for tests and benchmarks, on `127.0.0.1` (ephemeral port). Over HTTP
 * (default) it accepts `POST /v1/traces`, `/v1/metrics` and `/v1/logs` as
 * `application/x-protobuf` or `application/json`, optionally gzip-compressed; with
 * `protocol: "grpc"` it is a `@grpc/grpc-js` server implementing the official OTLP collector
 * services (`TraceService`, `MetricsService`, `LogsService`). Either decodes every request and
 * keeps the decoded spans, metric data points and log records in memory, can serve TLS (and
 * require a client certificate), and injects the same collector faults.
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
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import { loadCodecs } from "./internal/decode.js"
import { TcpFront } from "./internal/faults.js"
import { GrpcListener } from "./internal/grpcListener.js"
import { HttpListener } from "./internal/httpListener.js"
import { ReceiverState } from "./internal/store.js"

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
  /** The wire: OTLP/HTTP, or OTLP/gRPC (`path` is then the method, `contentType` `application/grpc`). */
  readonly protocol: "http" | "grpc"
  /** The request headers (HTTP) or metadata (gRPC), names lower-cased, first value of each. */
  readonly headers: Readonly<Record<string, string>>
  /** The gRPC status code answered (gRPC only; `status` is then the HTTP status it stands for). */
  readonly grpcCode: number | undefined
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
 *   503 forever is `{ status: 503 }`; throttling is `{ status: 429, retryAfter: 60 }`. Over gRPC
 *   the status becomes its gRPC code (503/502 → UNAVAILABLE, 429 → RESOURCE_EXHAUSTED with a
 *   `RetryInfo` of `retryAfter` seconds when given, 504 → DEADLINE_EXCEEDED, 400 →
 *   INVALID_ARGUMENT, 401 → UNAUTHENTICATED, 403 → PERMISSION_DENIED, other → INTERNAL).
 * - `grpcCode`: over gRPC, answer with this status code instead (0 is OK).
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
  readonly grpcCode?: number
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

/**
 * TLS for the receiver (PEM contents): its certificate and key, and the CA its clients'
 * certificates must chain to when `requireClientCertificate` is set (mTLS).
 *
 * @since 0.1.0
 * @category models
 */
export interface TlsOptions {
  readonly cert: string | Uint8Array
  readonly key: string | Uint8Array
  readonly ca?: string | Uint8Array
  readonly requireClientCertificate?: boolean
}

/** Options of {@link make}, {@link layer} and {@link start}. @since 0.1.0 @category models */
export interface Options {
  /**
   * `"http"` (default): OTLP/HTTP. `"grpc"`: OTLP/gRPC (needs the optional peer
   * `@grpc/grpc-js`); the three signals share one endpoint, `url`.
   */
  readonly protocol?: "http" | "grpc"
  /** Serve over TLS (`https://localhost:PORT`), optionally requiring client certificates. */
  readonly tls?: TlsOptions
  /** The initial behaviour (default: answer 200 at once). */
  readonly behaviour?: Behaviour
  /**
   * Keep the decoded spans, data points and log records (default true). With `false` only the
   * counts are kept, for benchmarks that send more than memory should hold.
   */
  readonly retain?: boolean
}

/**
 * A running OTLP receiver (HTTP or gRPC).
 *
 * @since 0.1.0
 * @category models
 */
export interface OtlpReceiver {
  /**
   * The base URL: `http://127.0.0.1:PORT`, or `https://localhost:PORT` with TLS (for gRPC, the
   * endpoint for every signal).
   */
  readonly url: string
  readonly port: number
  /** Full URLs of the signal endpoints, ready for an exporter's `url` option (gRPC: `url` each). */
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
    const grpc = options.protocol === "grpc"
    const server = grpc ? new GrpcListener(state, options.tls) : new HttpListener(state, options.tls)
    const listener = new TcpFront(state, (socket) => server.handoff(socket))

    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          if (server instanceof GrpcListener) await server.start()
          await listener.start()
        },
        catch: (error) => error
      }).pipe(Effect.orDie),
      () =>
        Effect.promise(async () => {
          state.shutdown()
          await listener.close()
          await server.close()
        })
    )
    if (state.behaviour.refuse === true) listener.apply(state.behaviour)

    const port = listener.port
    // The test certificates name `localhost`; gRPC needs no path per signal.
    const url = options.tls === undefined ? `http://127.0.0.1:${port}` : `https://localhost:${port}`
    const receiver: OtlpReceiver = {
      url,
      port,
      endpoints: grpc
        ? { traces: url, metrics: url, logs: url }
        : { traces: `${url}/v1/traces`, metrics: `${url}/v1/metrics`, logs: `${url}/v1/logs` },
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
