/**
 * Our OTLP/HTTP export path: the SDK's serializers, our own transport.
 *
 * The SDK's transport cannot be stopped: its retries wait on plain `setTimeout`s, its requests
 * on sockets of a keep-alive agent, and `shutdown()` of the exporter waits for both. A
 * collector that hangs, refuses or throttles therefore kept the process alive for up to the
 * export timeout (and its retries) after our shutdown deadline. This transport follows the
 * same retry policy (5 retries, 1 s backoff ×1.5 up to 5 s, ±20% jitter, `Retry-After`
 * honoured when it fits the export timeout, 429/502/503/504 and network errors retryable), but
 * owns every timer, request and socket it creates, so `abort` settles every pending export at
 * once (as {@link ExportAbandoned}), cancels the retry timers and destroys the sockets.
 */
import { ExportResultCode } from "@opentelemetry/core"
import type { ExportResult } from "@opentelemetry/core"
import {
  CumulativeTemporalitySelector,
  DeltaTemporalitySelector,
  LowMemoryTemporalitySelector
} from "@opentelemetry/exporter-metrics-otlp-http"
import {
  JsonMetricsSerializer,
  JsonTraceSerializer,
  ProtobufMetricsSerializer,
  ProtobufTraceSerializer
} from "@opentelemetry/otlp-transformer"
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
import type { Compression, OtlpExporterSettings, TemporalityPreference } from "../TelemetryConfig.js"
import * as Diagnostics from "./diagnostics.js"

/**
 * TLS material from the environment, as the SDK's OTLP/HTTP exporters read it:
 * `OTEL_EXPORTER_OTLP_[SIGNAL_]CERTIFICATE` (root CA), `…CLIENT_CERTIFICATE`, `…CLIENT_KEY`, file
 * paths relative to the working directory.
 */
const tlsFromEnv = (signal: "TRACES" | "METRICS"): Https.AgentOptions => {
  const read = (name: string): Buffer | undefined => {
    const file = process.env[`OTEL_EXPORTER_OTLP_${signal}_${name}`] ?? process.env[`OTEL_EXPORTER_OTLP_${name}`]
    if (file === undefined || file === "") return undefined
    try {
      return Fs.readFileSync(Path.resolve(process.cwd(), file))
    } catch (error) {
      Diagnostics.warn(`cannot read OTEL_EXPORTER_OTLP_${name} file ${file}: ${String(error)}`)
      return undefined
    }
  }
  const options: Https.AgentOptions = {}
  const ca = read("CERTIFICATE")
  const cert = read("CLIENT_CERTIFICATE")
  const key = read("CLIENT_KEY")
  if (ca !== undefined) options.ca = ca
  if (cert !== undefined) options.cert = cert
  if (key !== undefined) options.key = key
  return options
}

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

type Response =
  | { readonly status: "success" }
  | { readonly status: "failure"; readonly error: Error }
  | { readonly status: "retryable"; readonly error: Error; readonly retryInMillis: number | undefined }

const MAX_RETRIES = 5
const INITIAL_BACKOFF = 1_000
const MAX_BACKOFF = 5_000
const BACKOFF_MULTIPLIER = 1.5
const JITTER = 0.2
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
const USER_AGENT = "effect-telemetry OTel-OTLP-Exporter-JavaScript"

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

/** One pending export: whatever it waits on (a request or a retry timer) and how to settle it. */
interface Pending {
  request: Http.ClientRequest | undefined
  timer: ReturnType<typeof setTimeout> | undefined
  readonly settle: (response: Response) => void
}

/**
 * POSTs payloads to one OTLP/HTTP endpoint with the SDK's retry policy, and can be aborted.
 *
 * @internal
 */
export class OtlpHttpTransport {
  private readonly url: URL
  private readonly agent: Http.Agent
  private readonly pending = new Set<Pending>()
  private aborted = false
  /** The error of the last attempt that did not succeed (retried or not), for the shutdown report. */
  lastError: string | undefined = undefined

  constructor(
    readonly settings: {
      readonly signal: "TRACES" | "METRICS"
      readonly url: string
      readonly headers: Readonly<Record<string, string>>
      readonly contentType: string
      readonly compression: Compression
      readonly timeoutMillis: number
    }
  ) {
    this.url = new URL(settings.url)
    this.agent = this.url.protocol === "https:"
      ? new Https.Agent({ keepAlive: true, ...tlsFromEnv(settings.signal) })
      : new Http.Agent({ keepAlive: true })
  }

  /** Exports in flight or waiting for a retry. */
  get inFlight(): number {
    return this.pending.size
  }

  /** Sends with retries until success, a final failure, the export timeout or `abort`. */
  send(body: Uint8Array): Promise<{ readonly ok: true } | { readonly ok: false; readonly error: Error }> {
    return new Promise((resolve) => {
      if (this.aborted) return resolve({ ok: false, error: new ExportAbandoned() })
      const deadline = Date.now() + this.settings.timeoutMillis
      let retries = 0
      let backoff = INITIAL_BACKOFF
      const entry: Pending = {
        request: undefined,
        timer: undefined,
        settle: (response) => {
          if (!this.pending.delete(entry)) return
          if (entry.timer !== undefined) clearTimeout(entry.timer)
          resolve(response.status === "success" ? { ok: true } : { ok: false, error: response.error })
        }
      }
      this.pending.add(entry)
      const attempt = (): void => {
        entry.timer = undefined
        this.post(entry, body, Math.max(1, deadline - Date.now()), (response) => {
          entry.request = undefined
          // Settled already (aborted): the destroyed request's error must not start a retry.
          if (!this.pending.has(entry)) return
          if (response.status !== "success") this.lastError = response.error.message
          if (response.status !== "retryable" || retries >= MAX_RETRIES) return entry.settle(response)
          retries++
          const jittered = Math.min(backoff * (1 + (Math.random() * 2 - 1) * JITTER), MAX_BACKOFF)
          backoff *= BACKOFF_MULTIPLIER
          const wait = response.retryInMillis ?? jittered
          // A retry that would start after the export's deadline is not attempted (SDK rule).
          if (wait > deadline - Date.now()) return entry.settle(response)
          entry.timer = setTimeout(attempt, wait)
        })
      }
      attempt()
    })
  }

  private post(entry: Pending, body: Uint8Array, timeoutMillis: number, done: (response: Response) => void): void {
    let finished = false
    const finish = (response: Response) => {
      if (finished) return
      finished = true
      done(response)
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
    entry.request = request
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
  }

  /**
   * Settles every pending export as abandoned, cancels retry timers, destroys requests and
   * sockets; later sends are abandoned at once. Nothing of this transport keeps the process up.
   */
  abort(): void {
    this.aborted = true
    if (this.lastError === undefined && Array.from(this.pending).some((entry) => entry.request !== undefined)) {
      this.lastError = `no answer from ${this.url.origin} before the shutdown deadline`
    }
    for (const entry of Array.from(this.pending)) {
      if (entry.timer !== undefined) clearTimeout(entry.timer)
      entry.request?.destroy()
      entry.settle({ status: "failure", error: new ExportAbandoned() })
    }
    this.agent.destroy()
  }

  /** Closes idle keep-alive sockets (after a shutdown that completed). */
  close(): void {
    this.agent.destroy()
  }
}

/** Calls `body` and settles `resultCallback` from the transport's outcome. */
const exportWith = (
  transport: OtlpHttpTransport,
  body: Uint8Array | undefined,
  resultCallback: (result: ExportResult) => void
): Promise<void> => {
  if (body === undefined) {
    resultCallback({ code: ExportResultCode.FAILED, error: new Error("nothing to send") })
    return Promise.resolve()
  }
  return transport.send(body).then((outcome) =>
    resultCallback(
      outcome.ok ? { code: ExportResultCode.SUCCESS } : { code: ExportResultCode.FAILED, error: outcome.error }
    )
  )
}

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
  readonly transport: OtlpHttpTransport
}

/**
 * OTLP/HTTP span exporter over {@link OtlpHttpTransport} (protobuf or JSON, by the protocol).
 *
 * @internal
 */
export class OtlpSpanExporter implements SpanExporter, Abortable {
  readonly transport: OtlpHttpTransport
  private readonly tracked = new Tracked()
  private readonly json: boolean

  constructor(settings: OtlpExporterSettings) {
    this.json = settings.protocol === "http/json"
    this.transport = new OtlpHttpTransport({
      signal: "TRACES",
      url: settings.url,
      headers: settings.headers,
      contentType: this.json ? "application/json" : "application/x-protobuf",
      compression: settings.compression,
      timeoutMillis: settings.timeoutMillis
    })
  }

  export(spans: Array<ReadableSpan>, resultCallback: (result: ExportResult) => void): void {
    const body = this.json
      ? JsonTraceSerializer.serializeRequest(spans)
      : ProtobufTraceSerializer.serializeRequest(spans)
    this.tracked.track(exportWith(this.transport, body, resultCallback))
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
 * OTLP/HTTP metric exporter over {@link OtlpHttpTransport}.
 *
 * @internal
 */
export class OtlpMetricExporter implements PushMetricExporter, Abortable {
  readonly transport: OtlpHttpTransport
  private readonly tracked = new Tracked()
  private readonly json: boolean
  private readonly temporality: (instrumentType: InstrumentType) => AggregationTemporality

  constructor(settings: OtlpExporterSettings, preference: TemporalityPreference) {
    this.json = settings.protocol === "http/json"
    this.temporality = preference === "cumulative"
      ? CumulativeTemporalitySelector
      : preference === "delta"
      ? DeltaTemporalitySelector
      : LowMemoryTemporalitySelector
    this.transport = new OtlpHttpTransport({
      signal: "METRICS",
      url: settings.url,
      headers: settings.headers,
      contentType: this.json ? "application/json" : "application/x-protobuf",
      compression: settings.compression,
      timeoutMillis: settings.timeoutMillis
    })
  }

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    const body = this.json
      ? JsonMetricsSerializer.serializeRequest(metrics)
      : ProtobufMetricsSerializer.serializeRequest(metrics)
    this.tracked.track(exportWith(this.transport, body, resultCallback))
  }

  selectAggregationTemporality(instrumentType: InstrumentType): AggregationTemporality {
    return this.temporality(instrumentType)
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
