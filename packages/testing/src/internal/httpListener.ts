/**
 * The OTLP/HTTP side of the receiver: `POST /v1/{traces,metrics,logs}` as protobuf or JSON,
 * optionally compressed, answered as the behaviour says (status, delay, hang); over TLS when
 * the receiver has a certificate.
 */
import * as Http from "node:http"
import * as Https from "node:https"
import type * as Net from "node:net"
import * as Zlib from "node:zlib"
import type { Behaviour, Encoding, Signal, TlsOptions } from "../OtlpReceiver.js"
import { decodeProtobuf } from "./decode.js"
import type { MutableRequest, ReceiverState } from "./store.js"

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

/** @internal */
export class HttpListener {
  readonly server: Http.Server

  constructor(readonly state: ReceiverState, tls: TlsOptions | undefined) {
    const handler = (req: Http.IncomingMessage, res: Http.ServerResponse) => this.handle(req, res)
    this.server = tls === undefined
      ? Http.createServer(handler)
      : Https.createServer({
        cert: Buffer.from(tls.cert),
        key: Buffer.from(tls.key),
        ...(tls.ca === undefined ? {} : { ca: Buffer.from(tls.ca) }),
        requestCert: tls.requireClientCertificate === true,
        rejectUnauthorized: tls.requireClientCertificate === true
      }, handler)
    this.server.keepAliveTimeout = 5_000
  }

  /** Serves a connection the TCP front accepted. */
  handoff(socket: Net.Socket): void {
    this.server.emit("connection", socket)
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
      protocol: "http",
      headers: Object.fromEntries(
        Object.entries(req.headers).flatMap(([name, value]) => {
          const first = headerValue(value)
          return first === undefined ? [] : [[name, first]]
        })
      ),
      grpcCode: undefined,
      bodyBytes: body.length,
      receivedAtMillis: Date.now(),
      status: undefined,
      outcome: "pending",
      error: undefined
    }
    this.state.requests.push(request)
    res.on("close", () => {
      if (!res.writableFinished && request.outcome === "pending") request.outcome = "abandoned"
    })
    if (signal === undefined) return this.answer(res, request, 404, { error: `no OTLP endpoint at ${path}` })
    if (request.method !== "POST") {
      return this.answer(res, request, 405, { error: "only POST is accepted" }, { allow: "POST" })
    }

    const behaviour = this.state.nextBehaviour()
    if (behaviour.hang === true) {
      request.outcome = "hung"
      this.state.notify()
      return
    }
    this.state.later(behaviour.delayMillis ?? 0, () => this.process(res, request, signal, body, behaviour))
  }

  process(res: Http.ServerResponse, request: MutableRequest, signal: Signal, body: Buffer, behaviour: Behaviour): void {
    if (this.state.closed || request.outcome !== "pending") return
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
    this.state.store(signal, decoded, encoding)
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
    this.state.notify()
  }

  /** Nothing to release: the TCP front owns the listening socket and the connections. */
  close(): Promise<void> {
    this.server.close()
    return Promise.resolve()
  }
}
