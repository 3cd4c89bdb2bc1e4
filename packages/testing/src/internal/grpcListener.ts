/**
 * The OTLP/gRPC side of the receiver: a `@grpc/grpc-js` server implementing the official
 * collector services (`TraceService`, `MetricsService`, `LogsService`, their paths and
 * response types taken from the opentelemetry-proto schema), each `Export` request decoded
 * with that schema. Behaviours map to gRPC: an HTTP status to its gRPC code (503 → UNAVAILABLE,
 * 429 → RESOURCE_EXHAUSTED with a `RetryInfo` when `retryAfter` is set), `delayMillis` and
 * `hang` as for HTTP. The server listens on a private loopback port behind the receiver's TCP
 * front, which implements `blackhole` and `refuse`.
 */
import type * as Grpc from "@grpc/grpc-js"
import * as Net from "node:net"
import type * as Protobuf from "protobufjs"
import type { Behaviour, Signal, TlsOptions } from "../OtlpReceiver.js"
import { decodeProtobuf, loadCodecs, loadProtobuf } from "./decode.js"
import { GrpcCode, grpcCodeOf } from "./faults.js"
import type { MutableRequest, ReceiverState } from "./store.js"

const SERVICES: ReadonlyArray<readonly [Signal, string]> = [
  ["traces", "opentelemetry.proto.collector.trace.v1.TraceService"],
  ["metrics", "opentelemetry.proto.collector.metrics.v1.MetricsService"],
  ["logs", "opentelemetry.proto.collector.logs.v1.LogsService"]
]

const loadGrpc = async (): Promise<typeof Grpc> => {
  try {
    const module = await import("@grpc/grpc-js") as unknown as typeof Grpc & { readonly default?: typeof Grpc }
    return module.default?.Server !== undefined ? module.default : module
  } catch (error) {
    throw new Error(`OtlpReceiver with protocol "grpc" needs @grpc/grpc-js: npm install @grpc/grpc-js (${error})`)
  }
}

/** `google.rpc.Status` with one `google.rpc.RetryInfo` detail, as `grpc-status-details-bin` carries it. */
const retryInfoStatus = (protobuf: typeof Protobuf, code: number, message: string, seconds: number): Buffer => {
  const duration = protobuf.Writer.create().uint32(8).int64(Math.floor(seconds)).finish()
  const retryInfo = protobuf.Writer.create().uint32(10).bytes(duration).finish()
  const any = protobuf.Writer.create()
    .uint32(10).string("type.googleapis.com/google.rpc.RetryInfo")
    .uint32(18).bytes(retryInfo)
    .finish()
  return Buffer.from(
    protobuf.Writer.create().uint32(8).int32(code).uint32(18).string(message).uint32(26).bytes(any).finish()
  )
}

/** @internal */
export class GrpcListener {
  private server: Grpc.Server | undefined
  private port = 0

  constructor(readonly state: ReceiverState, readonly tls: TlsOptions | undefined) {}

  /** Starts the gRPC server on a private loopback port. */
  async start(): Promise<void> {
    const grpc = await loadGrpc()
    const { root } = loadCodecs()
    const server = new grpc.Server()
    for (const [signal, name] of SERVICES) {
      const service = root.lookupService(name)
      const method = service.methods["Export"]!
      const response = root.lookupType(method.responseType)
      const empty = Buffer.from(response.encode(response.create({})).finish())
      server.addService({
        Export: {
          path: `/${name}/${method.name}`,
          requestStream: false,
          responseStream: false,
          requestSerialize: (bytes: Buffer) => bytes,
          requestDeserialize: (bytes: Buffer) => bytes,
          responseSerialize: (bytes: Buffer) => bytes,
          responseDeserialize: (bytes: Buffer) => bytes
        }
      }, {
        Export: (call: Grpc.ServerUnaryCall<Buffer, Buffer>, callback: Grpc.sendUnaryData<Buffer>) =>
          this.handle(grpc, signal, `/${name}/${method.name}`, empty, call, callback)
      })
    }
    const credentials = this.tls === undefined
      ? grpc.ServerCredentials.createInsecure()
      : grpc.ServerCredentials.createSsl(
        this.tls.ca === undefined ? null : Buffer.from(this.tls.ca),
        [{ cert_chain: Buffer.from(this.tls.cert), private_key: Buffer.from(this.tls.key) }],
        this.tls.requireClientCertificate === true
      )
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", credentials, (error, port) => error === null ? resolve(port) : reject(error))
    )
    this.server = server
  }

  /** Serves a connection the TCP front accepted: piped to the gRPC server's private port. */
  handoff(socket: Net.Socket): void {
    const upstream = Net.connect(this.port, "127.0.0.1")
    socket.pipe(upstream)
    upstream.pipe(socket)
    const destroy = () => {
      socket.destroy()
      upstream.destroy()
    }
    socket.on("error", destroy)
    upstream.on("error", destroy)
    socket.on("close", destroy)
    upstream.on("close", destroy)
  }

  private handle(
    grpc: typeof Grpc,
    signal: Signal,
    path: string,
    empty: Buffer,
    call: Grpc.ServerUnaryCall<Buffer, Buffer>,
    callback: Grpc.sendUnaryData<Buffer>
  ): void {
    const state = this.state
    const metadata = call.metadata.getMap()
    const headers: Record<string, string> = {}
    for (const [key, value] of Object.entries(metadata)) {
      headers[key] = typeof value === "string" ? value : Buffer.from(value).toString("base64")
    }
    const request: MutableRequest = {
      method: "POST",
      path,
      signal,
      contentType: "application/grpc",
      contentEncoding: headers["grpc-encoding"],
      protocol: "grpc",
      headers,
      grpcCode: undefined,
      bodyBytes: call.request.length,
      receivedAtMillis: Date.now(),
      status: undefined,
      outcome: "pending",
      error: undefined
    }
    state.requests.push(request)
    call.on("cancelled", () => {
      if (request.outcome === "pending" || request.outcome === "hung") request.outcome = "abandoned"
      state.notify()
    })
    const behaviour: Behaviour = state.nextBehaviour()
    if (behaviour.hang === true) {
      request.outcome = "hung"
      state.notify()
      return
    }
    state.later(behaviour.delayMillis ?? 0, () => {
      if (state.closed || request.outcome !== "pending") return
      const code = grpcCodeOf(behaviour)
      if (code !== GrpcCode.OK) {
        const trailer = new grpc.Metadata()
        if (code === GrpcCode.RESOURCE_EXHAUSTED && behaviour.retryAfter !== undefined) {
          const seconds = Number(behaviour.retryAfter)
          trailer.set(
            "grpc-status-details-bin",
            retryInfoStatus(loadProtobuf(), code, "injected failure", Number.isFinite(seconds) ? seconds : 0)
          )
        }
        return this.answer(
          request,
          behaviour.status ?? 500,
          code,
          () => callback({ code, details: "injected failure", metadata: trailer })
        )
      }
      let decoded: unknown
      try {
        decoded = decodeProtobuf(signal, call.request)
      } catch (error) {
        request.error = `undecodable payload: ${String(error)}`
        return this.answer(
          request,
          400,
          GrpcCode.INVALID_ARGUMENT,
          () => callback({ code: GrpcCode.INVALID_ARGUMENT, details: request.error! })
        )
      }
      // Answer first: the data counts as received once acknowledged.
      this.answer(request, 200, GrpcCode.OK, () => callback(null, empty))
      state.store(signal, decoded, "protobuf")
    })
  }

  private answer(request: MutableRequest, status: number, code: number, send: () => void): void {
    request.status = status
    request.grpcCode = code
    request.outcome = "answered"
    send()
    this.state.notify()
  }

  close(): Promise<void> {
    const server = this.server
    if (server === undefined) return Promise.resolve()
    server.forceShutdown()
    return Promise.resolve()
  }
}
