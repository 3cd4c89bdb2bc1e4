/**
 * OTLP/gRPC on the wire: one unary `Export` call per batch, made with `@grpc/grpc-js`.
 *
 * We do not use the official `@opentelemetry/exporter-*-otlp-grpc`: it cannot cancel a call in
 * flight nor a retry waiting on its timer, so a collector that hangs or refuses kept the
 * process alive past our shutdown deadline, and its exports could not be counted as abandoned
 * (the same reason `export.ts` owns the HTTP transport). Here every attempt is a
 * `client.makeUnaryRequest` whose `call.cancel()` the transport calls at the deadline, and the
 * channel is closed with it. The request bytes are the SDK's protobuf serialization of the
 * `Export*ServiceRequest`, which is exactly the gRPC message, so the (de)serializers are the
 * identity.
 *
 * `@grpc/grpc-js` is an optional peer dependency, loaded by a dynamic import only when a signal
 * uses `grpc`; without it every export fails with a message saying what to install.
 */
import type * as Grpc from "@grpc/grpc-js"
import type { Compression } from "../TelemetryConfig.js"
import * as Diagnostics from "./diagnostics.js"
import type { AttemptResult, OtlpSignal, TlsMaterial, Wire } from "./export.js"

const SERVICES: { readonly [S in OtlpSignal]: string } = {
  TRACES: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
  METRICS: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
  LOGS: "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
}

const USER_AGENT = "effect-telemetry OTel-OTLP-Exporter-JavaScript"

/** The message an export fails with when `@grpc/grpc-js` cannot be loaded. @internal */
export const MISSING_GRPC = "OTLP over gRPC needs the optional peer dependency @grpc/grpc-js, which could not be " +
  "loaded: run `npm install @grpc/grpc-js` (or set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)"

// gRPC status codes (stable wire values), so that classifying a status needs no loaded module.
const CANCELLED = 1
const DEADLINE_EXCEEDED = 4
const RESOURCE_EXHAUSTED = 8
const ABORTED = 10
const OUT_OF_RANGE = 11
const UNAVAILABLE = 14
const DATA_LOSS = 15
const STATUS_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED"
]

/**
 * The codes the OTLP specification calls retryable ("OTLP/gRPC Response", failures):
 * RESOURCE_EXHAUSTED only when the server sent a `RetryInfo`, every other code not listed is final.
 */
const RETRYABLE = new Set([CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS])

/** A failed OTLP/gRPC export: the gRPC status code and details. @internal */
export class OtlpGrpcError extends Error {
  override readonly name = "OTLPExporterError"
  constructor(readonly code: number, details: string) {
    super(`${code} ${STATUS_NAMES[code] ?? "UNKNOWN"}${details === "" ? "" : `: ${details.slice(0, 300)}`}`)
  }
}

// -----------------------------------------------------------------------------
// google.rpc.RetryInfo from `grpc-status-details-bin`
// -----------------------------------------------------------------------------

/** The fields of one protobuf message: number → last value (varints as bigint, the rest as bytes). */
const fields = (bytes: Uint8Array): Map<number, Array<bigint | Uint8Array>> => {
  const out = new Map<number, Array<bigint | Uint8Array>>()
  let at = 0
  const varint = (): bigint => {
    let value = 0n
    let shift = 0n
    for (;;) {
      if (at >= bytes.length) throw new Error("truncated varint")
      const byte = bytes[at++]!
      value |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return value
      shift += 7n
    }
  }
  while (at < bytes.length) {
    const key = Number(varint())
    const field = key >>> 3
    let value: bigint | Uint8Array
    switch (key & 7) {
      case 0:
        value = varint()
        break
      case 1:
        value = bytes.subarray(at, at += 8)
        break
      case 2: {
        const length = Number(varint())
        value = bytes.subarray(at, at += length)
        break
      }
      case 5:
        value = bytes.subarray(at, at += 4)
        break
      default:
        throw new Error("unsupported wire type")
    }
    if (at > bytes.length) throw new Error("truncated field")
    const list = out.get(field) ?? []
    list.push(value)
    out.set(field, list)
  }
  return out
}

const RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"

/**
 * The delay of a `google.rpc.RetryInfo` in the status details (`google.rpc.Status.details`,
 * an `Any` list), in milliseconds; `undefined` when there is none or it cannot be read.
 *
 * @internal
 */
export const retryInfoMillis = (details: ReadonlyArray<Uint8Array>): number | undefined => {
  try {
    for (const status of details) {
      for (const any of fields(status).get(3) ?? []) {
        if (!(any instanceof Uint8Array)) continue
        const parts = fields(any)
        const typeUrl = parts.get(1)?.[0]
        if (!(typeUrl instanceof Uint8Array) || Buffer.from(typeUrl).toString("utf8") !== RETRY_INFO) continue
        const info = parts.get(2)?.[0]
        const delay = info instanceof Uint8Array ? fields(info).get(1)?.[0] : undefined
        if (!(delay instanceof Uint8Array)) return 0
        const duration = fields(delay)
        const seconds = duration.get(1)?.[0]
        const nanos = duration.get(2)?.[0]
        return Math.max(
          0,
          Number(typeof seconds === "bigint" ? BigInt.asIntN(64, seconds) : 0n) * 1000 +
            Math.floor(Number(typeof nanos === "bigint" ? BigInt.asIntN(32, nanos) : 0n) / 1e6)
        )
      }
    }
  } catch {
    return undefined
  }
  return undefined
}

// -----------------------------------------------------------------------------
// endpoint
// -----------------------------------------------------------------------------

/**
 * The gRPC target and whether it is plaintext, from an endpoint as the spec allows it: an
 * `http://` URL is plaintext, `https://` is TLS, and a bare `host:port` is TLS unless
 * `OTEL_EXPORTER_OTLP_INSECURE=true`. A path is ignored (gRPC routes by service name); a
 * missing port is the scheme's (80 or 443).
 *
 * @internal
 */
export const parseEndpoint = (
  endpoint: string,
  insecure: boolean
): { readonly target: string; readonly plaintext: boolean } => {
  const hasScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)
  const url = new URL(hasScheme ? endpoint : `grpc://${endpoint}`)
  const plaintext = hasScheme ? url.protocol === "http:" : insecure
  const port = url.port !== "" ? url.port : plaintext && hasScheme ? "80" : "443"
  return { target: `${url.hostname}:${port}`, plaintext }
}

// -----------------------------------------------------------------------------
// the wire
// -----------------------------------------------------------------------------

let loading: Promise<typeof Grpc> | undefined

const loadGrpc = (): Promise<typeof Grpc> =>
  loading ??= import("@grpc/grpc-js").then((module) => {
    // A CommonJS module: its exports may sit on `default` only, depending on the loader.
    const loaded = module as unknown as typeof Grpc & { readonly default?: typeof Grpc }
    return loaded.default?.Client !== undefined ? loaded.default : loaded
  })

const identity = (bytes: Buffer): Buffer => bytes

/**
 * One OTLP/gRPC endpoint: a lazily created `@grpc/grpc-js` client; each attempt is one
 * cancellable unary call with the export's remaining time as its deadline.
 *
 * @internal
 */
export class GrpcWire implements Wire {
  readonly origin: string
  private readonly endpoint: { readonly target: string; readonly plaintext: boolean }
  private client: Grpc.Client | undefined
  private readonly ready: Promise<{ readonly grpc: typeof Grpc; readonly client: Grpc.Client } | Error>
  private closed = false

  constructor(
    readonly settings: {
      readonly signal: OtlpSignal
      readonly endpoint: string
      readonly headers: Readonly<Record<string, string>>
      readonly compression: Compression
      readonly insecure: boolean
      readonly tls: TlsMaterial
    }
  ) {
    this.endpoint = parseEndpoint(settings.endpoint, settings.insecure)
    this.origin = `${this.endpoint.plaintext ? "http" : "https"}://${this.endpoint.target}`
    this.ready = loadGrpc().then(
      (grpc) => {
        if (this.closed) return new Error("closed")
        const { ca, cert, key } = settings.tls
        // Both throw on material they cannot use (a key without its chain, a malformed PEM):
        // every export then fails with why, rather than never settling.
        try {
          const credentials = this.endpoint.plaintext
            ? grpc.credentials.createInsecure()
            : grpc.credentials.createSsl(ca ?? null, key ?? null, cert ?? null)
          this.client = new grpc.Client(this.endpoint.target, credentials, {
            "grpc.primary_user_agent": USER_AGENT,
            ...(settings.compression === "gzip" ? { "grpc.default_compression_algorithm": 2 } : {})
          })
          return { grpc, client: this.client }
        } catch (error) {
          const message = `cannot open the OTLP/gRPC channel to ${this.origin}: ${String(error)}`
          Diagnostics.warn(message)
          return new Error(message)
        }
      },
      (error: unknown) => {
        Diagnostics.warn(`${MISSING_GRPC} (${String(error)})`)
        return new Error(MISSING_GRPC)
      }
    )
  }

  attempt(body: Uint8Array, timeoutMillis: number, done: (result: AttemptResult) => void): () => void {
    let call: Grpc.ClientUnaryCall | undefined
    let cancelled = false
    const deadline = new Date(Date.now() + timeoutMillis)
    void this.ready.then((loaded) => {
      if (cancelled) return
      if (loaded instanceof Error) return done({ status: "failure", error: loaded })
      const { client, grpc } = loaded
      // A header gRPC does not allow as metadata (a name with `!`, a `-bin` suffix) and a closed
      // channel throw rather than call back: the export must still settle.
      try {
        const metadata = new grpc.Metadata()
        for (const [name, value] of Object.entries(this.settings.headers)) metadata.set(name, value)
        call = client.makeUnaryRequest<Buffer, Buffer>(
          SERVICES[this.settings.signal],
          identity,
          identity,
          Buffer.from(body.buffer, body.byteOffset, body.byteLength),
          metadata,
          { deadline },
          (error) => {
            call = undefined
            // Cancelled at the deadline: the transport settled the export already.
            if (cancelled) return
            if (error === null) return done({ status: "success" })
            const failure = new OtlpGrpcError(error.code, error.details)
            if (RETRYABLE.has(error.code)) {
              return done({ status: "retryable", error: failure, retryInMillis: undefined })
            }
            if (error.code === RESOURCE_EXHAUSTED) {
              const details = error.metadata?.get("grpc-status-details-bin") ?? []
              const retryIn = retryInfoMillis(details.filter((d): d is Buffer => Buffer.isBuffer(d)))
              if (retryIn !== undefined) return done({ status: "retryable", error: failure, retryInMillis: retryIn })
            }
            done({ status: "failure", error: failure })
          }
        )
      } catch (error) {
        done({ status: "failure", error: error instanceof Error ? error : new Error(String(error)) })
      }
    })
    return () => {
      cancelled = true
      call?.cancel()
    }
  }

  close(): void {
    this.closed = true
    this.client?.close()
  }
}
