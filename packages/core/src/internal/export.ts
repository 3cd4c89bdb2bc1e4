/**
 * Our OTLP export path: the SDK's serializers (our own encoder for protobuf traces), our own
 * transports (HTTP here, gRPC in `grpcTransport.ts`), one exporter for every signal.
 *
 * The SDK's transports cannot be stopped: their retries wait on plain `setTimeout`s, their
 * requests on sockets of a keep-alive agent or on a gRPC call nobody cancels, and `shutdown()`
 * of the exporter waits for both. A collector that hangs, refuses or throttles therefore kept
 * the process alive for up to the export timeout (and its retries) after our shutdown deadline.
 * {@link OtlpTransport} follows the SDK's retry policy (5 retries, 1 s backoff ×1.5 up to 5 s,
 * ±20% jitter, a server's retry delay honoured when it fits the export timeout), but owns every
 * timer, request, call and socket it creates, so `abort` settles every pending export at once
 * (as {@link ExportAbandoned}), cancels the retry timers and the calls, and closes the
 * connections. What a retryable failure is depends on the wire: see each {@link Wire}.
 */
import { ExportResultCode } from "@opentelemetry/core"
import type { ExportResult } from "@opentelemetry/core"
import {
  CumulativeTemporalitySelector,
  DeltaTemporalitySelector,
  LowMemoryTemporalitySelector
} from "@opentelemetry/exporter-metrics-otlp-http"
import {
  JsonLogsSerializer,
  JsonMetricsSerializer,
  JsonTraceSerializer,
  ProtobufLogsSerializer,
  ProtobufMetricsSerializer
} from "@opentelemetry/otlp-transformer"
import type { LogRecordExporter, ReadableLogRecord } from "@opentelemetry/sdk-logs"
import type {
  AggregationTemporality,
  InstrumentType,
  PushMetricExporter,
  ResourceMetrics
} from "@opentelemetry/sdk-metrics"
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import type { OtlpExporterSettings, TemporalityPreference } from "../TelemetryConfig.js"
import * as Diagnostics from "./diagnostics.js"
import { GrpcWire } from "./grpcTransport.js"
import { serializeTraceRequest } from "./otlpTraceEncoder.js"
import type { EncodedSpans } from "./otlpTraceEncoder.js"

/** The OTLP signals, as the per-signal variables spell them. @internal */
export type OtlpSignal = "TRACES" | "METRICS" | "LOGS"

// -----------------------------------------------------------------------------
// TLS material
// -----------------------------------------------------------------------------

/** Client TLS material (PEM), read from the files the configuration names. @internal */
export interface TlsMaterial {
  readonly ca: Buffer | undefined
  readonly cert: Buffer | undefined
  readonly key: Buffer | undefined
}

/**
 * Reads the PEM files of `OTEL_EXPORTER_OTLP_[SIGNAL_]CERTIFICATE`, `…CLIENT_CERTIFICATE` and
 * `…CLIENT_KEY` (paths relative to the working directory). The configuration already checked
 * them; a file that went away since is warned about and left out, as the configuration would.
 *
 * @internal
 */
export const readTls = (settings: OtlpExporterSettings): TlsMaterial => {
  const read = (variable: string, file: string | undefined): Buffer | undefined => {
    if (file === undefined) return undefined
    try {
      return Fs.readFileSync(Path.resolve(process.cwd(), file))
    } catch (error) {
      Diagnostics.warn(`cannot read ${variable} file ${file}: ${String(error)}`)
      return undefined
    }
  }
  return {
    ca: read("OTEL_EXPORTER_OTLP_CERTIFICATE", settings.certificate),
    cert: read("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", settings.clientCertificate),
    key: read("OTEL_EXPORTER_OTLP_CLIENT_KEY", settings.clientKey)
  }
}

// -----------------------------------------------------------------------------
// the transport: retries and abort, whatever the wire
// -----------------------------------------------------------------------------

/**
 * The error an export settles with when the shutdown deadline passed before it completed: its
 * items are counted as abandoned, not failed.
 *
 * @internal
 */
export class ExportAbandoned extends Error {
  override readonly name = "ExportAbandoned"
  constructor() {
    super("abandoned at the shutdown deadline")
  }
}

/** @internal */
export const isAbandoned = (error: unknown): boolean => error instanceof ExportAbandoned

/** How one attempt ended. @internal */
export type AttemptResult =
  | { readonly status: "success" }
  | { readonly status: "failure"; readonly error: Error }
  | { readonly status: "retryable"; readonly error: Error; readonly retryInMillis: number | undefined }

/**
 * One way of putting a serialized request on the wire (HTTP, gRPC). An attempt reports once
 * through `done` and can be cancelled; `close` releases every connection.
 *
 * @internal
 */
export interface Wire {
  /** Where the exports go, for messages (`http://host:port`). */
  readonly origin: string
  readonly attempt: (body: Uint8Array, timeoutMillis: number, done: (result: AttemptResult) => void) => () => void
  readonly close: () => void
}

const MAX_RETRIES = 5
const INITIAL_BACKOFF = 1_000
const MAX_BACKOFF = 5_000
const BACKOFF_MULTIPLIER = 1.5
const JITTER = 0.2

/** One pending export: whatever it waits on (an attempt or a retry timer) and how to settle it. */
interface Pending {
  cancel: (() => void) | undefined
  timer: ReturnType<typeof setTimeout> | undefined
  readonly settle: (result: AttemptResult) => void
}

/**
 * Sends payloads over a {@link Wire} with the SDK's retry policy, and can be aborted.
 *
 * @internal
 */
export class OtlpTransport {
  private readonly pending = new Set<Pending>()
  private aborted = false
  /** The error of the last attempt that did not succeed (retried or not), for the shutdown report. */
  lastError: string | undefined = undefined

  constructor(readonly wire: Wire, readonly timeoutMillis: number) {}

  /** Exports in flight or waiting for a retry. */
  get inFlight(): number {
    return this.pending.size
  }

  /** Sends with retries until success, a final failure, the export timeout or `abort`. */
  send(body: Uint8Array): Promise<{ readonly ok: true } | { readonly ok: false; readonly error: Error }> {
    return new Promise((resolve) => {
      if (this.aborted) return resolve({ ok: false, error: new ExportAbandoned() })
      const deadline = Date.now() + this.timeoutMillis
      let retries = 0
      let backoff = INITIAL_BACKOFF
      const entry: Pending = {
        cancel: undefined,
        timer: undefined,
        settle: (result) => {
          if (!this.pending.delete(entry)) return
          if (entry.timer !== undefined) clearTimeout(entry.timer)
          resolve(result.status === "success" ? { ok: true } : { ok: false, error: result.error })
        }
      }
      this.pending.add(entry)
      const attempt = (): void => {
        entry.timer = undefined
        entry.cancel = this.wire.attempt(body, Math.max(1, deadline - Date.now()), (result) => {
          entry.cancel = undefined
          // Settled already (aborted): the cancelled attempt's error must not start a retry.
          if (!this.pending.has(entry)) return
          if (result.status !== "success") this.lastError = result.error.message
          if (result.status !== "retryable" || retries >= MAX_RETRIES) return entry.settle(result)
          retries++
          const jittered = Math.min(backoff * (1 + (Math.random() * 2 - 1) * JITTER), MAX_BACKOFF)
          backoff *= BACKOFF_MULTIPLIER
          const wait = result.retryInMillis ?? jittered
          // A retry that would start after the export's deadline is not attempted (SDK rule).
          if (wait > deadline - Date.now()) return entry.settle(result)
          entry.timer = setTimeout(attempt, wait)
        })
      }
      attempt()
    })
  }

  /**
   * Settles every pending export as abandoned, cancels retry timers and attempts, closes the
   * connections; later sends are abandoned at once. Nothing of this transport keeps the process up.
   */
  abort(): void {
    this.aborted = true
    if (this.lastError === undefined && Array.from(this.pending).some((entry) => entry.cancel !== undefined)) {
      this.lastError = `no answer from ${this.wire.origin} before the shutdown deadline`
    }
    for (const entry of Array.from(this.pending)) {
      if (entry.timer !== undefined) clearTimeout(entry.timer)
      entry.cancel?.()
      entry.settle({ status: "failure", error: new ExportAbandoned() })
    }
    this.wire.close()
  }

  /** Closes idle connections (after a shutdown that completed). */
  close(): void {
    this.wire.close()
  }
}

// -----------------------------------------------------------------------------
// OTLP/HTTP
// -----------------------------------------------------------------------------

const MAX_RESPONSE_BYTES = 4 * 1024 * 1024
const RETRYABLE_STATUS = new Set([429, 502, 503, 504])
const RETRYABLE_NETWORK = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENOTFOUND",
  "ENETUNREACH",
  "EHOSTUNREACH"
])
/** @internal */
export const USER_AGENT = "effect-telemetry OTel-OTLP-Exporter-JavaScript"

/** `Retry-After` as milliseconds: seconds or an HTTP date; `undefined` when absent or unreadable. */
const retryAfterMillis = (header: string | undefined): number | undefined => {
  if (header === undefined) return undefined
  const seconds = Number.parseInt(header, 10)
  if (Number.isInteger(seconds)) return Math.max(0, seconds * 1000)
  const at = new Date(header).getTime()
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now())
}

/** An error with an HTTP status, like the SDK's `OTLPExporterError`. @internal */
export class OtlpHttpError extends Error {
  override readonly name = "OTLPExporterError"
  constructor(readonly code: number, statusMessage: string | undefined, readonly data: string) {
    super(`${code} ${statusMessage ?? ""}`.trim() + (data === "" ? "" : `: ${data.slice(0, 200)}`))
  }
}

/**
 * POSTs to one OTLP/HTTP endpoint: 429/502/503/504 (with `Retry-After`), timeouts and network
 * errors are retryable, any other non-2xx status is final.
 *
 * @internal
 */
export class HttpWire implements Wire {
  private readonly url: URL
  private readonly agent: Http.Agent
  readonly origin: string

  constructor(
    readonly settings: {
      readonly url: string
      readonly headers: Readonly<Record<string, string>>
      readonly contentType: string
      readonly compression: OtlpExporterSettings["compression"]
      readonly tls: TlsMaterial
    }
  ) {
    this.url = new URL(settings.url)
    this.origin = this.url.origin
    const { ca, cert, key } = settings.tls
    this.agent = this.url.protocol === "https:"
      ? new Https.Agent({
        keepAlive: true,
        ...(ca === undefined ? {} : { ca }),
        ...(cert === undefined ? {} : { cert }),
        ...(key === undefined ? {} : { key })
      })
      : new Http.Agent({ keepAlive: true })
  }

  attempt(body: Uint8Array, timeoutMillis: number, done: (result: AttemptResult) => void): () => void {
    let finished = false
    const finish = (result: AttemptResult) => {
      if (finished) return
      finished = true
      done(result)
    }
    const headers: Record<string, string> = {
      ...this.settings.headers,
      "content-type": this.settings.contentType,
      "user-agent": USER_AGENT
    }
    let payload: Uint8Array = body
    if (this.settings.compression === "gzip") {
      payload = Zlib.gzipSync(body)
      headers["content-encoding"] = "gzip"
    }
    headers["content-length"] = String(payload.byteLength)
    const request = (this.url.protocol === "https:" ? Https.request : Http.request)(this.url, {
      method: "POST",
      headers,
      agent: this.agent
    }, (response) => {
      const chunks: Array<Buffer> = []
      let size = 0
      response.on("data", (chunk: Buffer) => {
        size += chunk.length
        if (size > MAX_RESPONSE_BYTES) {
          finish({ status: "failure", error: new Error(`OTLP response body exceeded ${MAX_RESPONSE_BYTES} bytes`) })
          response.destroy()
          return
        }
        chunks.push(chunk)
      })
      const status = response.statusCode ?? 0
      const ended = () => {
        if (status >= 200 && status <= 299) return finish({ status: "success" })
        const error = new OtlpHttpError(status, response.statusMessage, Buffer.concat(chunks).toString("utf8"))
        finish(
          RETRYABLE_STATUS.has(status)
            ? { status: "retryable", error, retryInMillis: retryAfterMillis(response.headers["retry-after"]) }
            : { status: "failure", error }
        )
      }
      response.on("end", ended)
      // The payload was delivered once a 2xx status arrived, even if its body breaks off.
      response.on("error", ended)
    })
    request.setTimeout(timeoutMillis, () => {
      request.destroy()
      finish({ status: "retryable", error: new Error("Request timed out"), retryInMillis: undefined })
    })
    request.on("error", (error: NodeJS.ErrnoException) => {
      finish(
        typeof error.code === "string" && RETRYABLE_NETWORK.has(error.code)
          ? { status: "retryable", error, retryInMillis: undefined }
          : { status: "failure", error }
      )
    })
    request.end(payload)
    return () => request.destroy()
  }

  close(): void {
    this.agent.destroy()
  }
}

/**
 * The transport a signal's settings name: OTLP/HTTP (protobuf or JSON) or OTLP/gRPC.
 *
 * @internal
 */
export const makeTransport = (signal: OtlpSignal, settings: OtlpExporterSettings): OtlpTransport => {
  const tls = readTls(settings)
  const wire: Wire = settings.protocol === "grpc"
    ? new GrpcWire({
      signal,
      endpoint: settings.url,
      headers: settings.headers,
      compression: settings.compression,
      insecure: settings.insecure,
      tls
    })
    : new HttpWire({
      url: settings.url,
      headers: settings.headers,
      contentType: settings.protocol === "http/json" ? "application/json" : "application/x-protobuf",
      compression: settings.compression,
      tls
    })
  return new OtlpTransport(wire, settings.timeoutMillis)
}

// -----------------------------------------------------------------------------
// exporters
// -----------------------------------------------------------------------------

/** Waits for every export started so far. */
class Tracked {
  private readonly inFlight = new Set<Promise<void>>()
  track(promise: Promise<void>): void {
    this.inFlight.add(promise)
    promise.finally(() => this.inFlight.delete(promise))
  }
  async all(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(Array.from(this.inFlight))
  }
}

/** An exporter whose exports can be abandoned at a deadline. @internal */
export interface Abortable {
  readonly abort: () => void
  readonly transport: OtlpTransport
}

/** The SDK's request serializer of one signal (protobuf for HTTP/protobuf and gRPC). @internal */
export interface Serializer<Items> {
  readonly serializeRequest: (items: Items) => Uint8Array | undefined
}

/**
 * One OTLP exporter for any signal: serializes a batch with the SDK's serializer for the
 * protocol (JSON for `http/json`, protobuf otherwise: the gRPC message is the same
 * `Export*ServiceRequest`) and sends it over the signal's {@link OtlpTransport}.
 *
 * @internal
 */
export class OtlpExporter<Items> implements Abortable {
  readonly transport: OtlpTransport
  private readonly tracked = new Tracked()
  private readonly serializer: Serializer<Items>

  constructor(
    signal: OtlpSignal,
    settings: OtlpExporterSettings,
    serializers: { readonly protobuf: Serializer<Items>; readonly json: Serializer<Items> }
  ) {
    this.serializer = settings.protocol === "http/json" ? serializers.json : serializers.protobuf
    this.transport = makeTransport(signal, settings)
  }

  export(items: Items, resultCallback: (result: ExportResult) => void): void {
    let body: Uint8Array | undefined
    try {
      body = this.serializer.serializeRequest(items)
    } catch (error) {
      return resultCallback({ code: ExportResultCode.FAILED, error: error as Error })
    }
    if (body === undefined) {
      return resultCallback({ code: ExportResultCode.FAILED, error: new Error("nothing to send") })
    }
    this.send(body, resultCallback)
  }

  /** Sends a serialized request; its outcome goes to `resultCallback`. */
  protected send(body: Uint8Array, resultCallback: (result: ExportResult) => void): void {
    this.tracked.track(
      this.transport.send(body).then((outcome) =>
        resultCallback(
          outcome.ok ? { code: ExportResultCode.SUCCESS } : { code: ExportResultCode.FAILED, error: outcome.error }
        )
      )
    )
  }

  forceFlush(): Promise<void> {
    return this.tracked.all()
  }

  async shutdown(): Promise<void> {
    await this.tracked.all()
    this.transport.close()
  }

  abort(): void {
    this.transport.abort()
  }
}

/**
 * OTLP span exporter (HTTP or gRPC, by the protocol). Protobuf requests are written by our
 * encoder (the SDK's bytes, in a fraction of its time: see `otlpTraceEncoder.ts`); JSON ones by
 * the SDK's serializer.
 *
 * @internal
 */
export class OtlpSpanExporter extends OtlpExporter<Array<ReadableSpan>> implements SpanExporter {
  /** Whether requests are protobuf (HTTP or gRPC): then batches encoded as spans ended can be sent. */
  readonly encodes: boolean

  constructor(settings: OtlpExporterSettings) {
    super("TRACES", settings, { protobuf: { serializeRequest: serializeTraceRequest }, json: JsonTraceSerializer })
    this.encodes = settings.protocol !== "http/json"
  }

  /** Sends a request an `EncodedBatchSpanProcessor` encoded. */
  exportEncoded(batch: EncodedSpans, resultCallback: (result: ExportResult) => void): void {
    this.send(batch.body, resultCallback)
  }
}

/** OTLP log record exporter (HTTP or gRPC, by the protocol). @internal */
export class OtlpLogExporter extends OtlpExporter<Array<ReadableLogRecord>> implements LogRecordExporter {
  constructor(settings: OtlpExporterSettings) {
    super("LOGS", settings, { protobuf: ProtobufLogsSerializer, json: JsonLogsSerializer })
  }
}

/** OTLP metric exporter (HTTP or gRPC, by the protocol), with the configured temporality. @internal */
export class OtlpMetricExporter extends OtlpExporter<ResourceMetrics> implements PushMetricExporter {
  private readonly temporality: (instrumentType: InstrumentType) => AggregationTemporality

  constructor(settings: OtlpExporterSettings, preference: TemporalityPreference) {
    super("METRICS", settings, { protobuf: ProtobufMetricsSerializer, json: JsonMetricsSerializer })
    this.temporality = preference === "cumulative"
      ? CumulativeTemporalitySelector
      : preference === "delta"
      ? DeltaTemporalitySelector
      : LowMemoryTemporalitySelector
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return this.temporality(instrumentType)
  }
}
