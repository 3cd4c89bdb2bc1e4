import { Propagation, TelemetryOptionsError } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { HttpClientTelemetry } from "../src/index.js"
import { allAttributeText, eventually, serve, serverSpan, start } from "./servers.js"

const withTelemetry = (overrides?: Parameters<typeof TestTelemetry.layer>[0]) =>
  Effect.provide(TestTelemetry.layer(overrides))

const ClientLive = HttpClientTelemetry.layer().pipe(Layer.provide(NodeHttpClient.layerUndici))
const NodeClientLive = HttpClientTelemetry.layer().pipe(Layer.provide(NodeHttpClient.layer))

/** A plain node server answering `/status/<code>` and remembering the headers it received. */
const recordingServer = Effect.acquireRelease(
  Effect.async<
    { readonly base: string; readonly received: Array<Http.IncomingHttpHeaders>; readonly server: Http.Server }
  >(
    (resume) => {
      const received: Array<Http.IncomingHttpHeaders> = []
      const server = Http.createServer((req, res) => {
        received.push(req.headers)
        const status = Number(/\/status\/(\d+)/.exec(req.url ?? "")?.[1] ?? 200)
        res.writeHead(status, { "content-type": "text/plain" }).end("body")
      })
      server.listen(
        0,
        "127.0.0.1",
        () =>
          resume(
            Effect.succeed({ base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, server })
          )
      )
    }
  ),
  ({ server }) =>
    Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
    })
)

const call = (url: string) =>
  Effect.flatMap(HttpClient.HttpClient, (client) => Effect.flatMap(client.get(url), (response) => response.text))

describe("HttpClientTelemetry", () => {
  it.scopedLive("captured request and response headers are span attributes; authorization is redacted", () =>
    Effect.gen(function*() {
      const { base, received } = yield* recordingServer
      const client = yield* HttpClient.HttpClient
      yield* client.get(`${base}/status/200`, {
        headers: { "x-request-id": "r-42", authorization: "Bearer secret", "x-other": "not captured" }
      }).pipe(Effect.flatMap((response) => response.text))
      // The server really received the secret; only the span hides it.
      expect(received[0]!.authorization).toBe("Bearer secret")
      const span = yield* eventually(TestTelemetry.spanNamed("GET"))
      expect(span.attributes["http.request.header.x-request-id"]).toEqual(["r-42"])
      expect(span.attributes["http.request.header.authorization"]).toEqual(["REDACTED"])
      expect(span.attributes["http.request.header.x-other"]).toBeUndefined()
      expect(span.attributes["http.response.header.content-type"]).toEqual(["text/plain"])
      expect(allAttributeText([span])).not.toContain("secret")
    }).pipe(
      Effect.provide(
        HttpClientTelemetry.layer({
          captureRequestHeaders: ["X-Request-Id", "authorization"],
          captureResponseHeaders: ["content-type"]
        }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      ),
      withTelemetry()
    ))

  it.scopedLive("with tracing off the call makes no span but still records http.client.request.duration, error.type included", () =>
    Effect.gen(function*() {
      const { base } = yield* recordingServer
      yield* call(`${base}/status/200`).pipe(Effect.withTracerEnabled(false))
      yield* call(`${base}/status/503`).pipe(Effect.withTracerEnabled(false))
      expect((yield* TestTelemetry.spans).filter((s) => TestTelemetry.kindOf(s) === "client")).toEqual([])
      const port = Number(new URL(base).port)
      const common = {
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "server.port": port,
        "url.scheme": "http"
      }
      const ok = yield* TestTelemetry.metricPoint("http.client.request.duration", {
        ...common,
        "http.response.status_code": 200
      })
      expect(typeof ok.value === "number" ? -1 : ok.value.count).toBe(1)
      const failed = yield* TestTelemetry.metricPoint("http.client.request.duration", {
        ...common,
        "http.response.status_code": 503,
        "error.type": "503"
      })
      expect(typeof failed.value === "number" ? -1 : failed.value.count).toBe(1)
    }).pipe(Effect.provide(ClientLive), withTelemetry()))

  it.scopedLive("a call inside a server span is a client span of that trace, continued by the downstream server", () =>
    Effect.gen(function*() {
      const downstream = yield* serve(
        HttpRouter.empty.pipe(
          HttpRouter.get("/items/:id", HttpServerResponse.text("item")),
          HttpRouter.toHttpApp,
          Effect.runSync
        )
      )
      const upstreamApp = HttpRouter.empty.pipe(
        HttpRouter.get(
          "/front",
          Effect.map(call(`${downstream}/items/3`), (body) => HttpServerResponse.text(`front:${body}`))
        ),
        HttpRouter.toHttpApp,
        Effect.runSync
      )
      const upstream = yield* start(HttpServer.serve(upstreamApp).pipe(Layer.provide(ClientLive)))
      const body = yield* Effect.promise(() => fetch(`${upstream}/front`).then((r) => r.text()))
      expect(body).toBe("front:item")

      const front = yield* serverSpan("GET /front")
      const downstreamSpan = yield* serverSpan("GET /items/:id")
      const client = yield* eventually(TestTelemetry.spanNamed("GET"))
      expect(TestTelemetry.kindOf(client)).toBe("client")
      expect(TestTelemetry.traceId(client)).toBe(TestTelemetry.traceId(front))
      expect(TestTelemetry.parentSpanId(client)).toBe(front.spanContext().spanId)
      expect(TestTelemetry.traceId(downstreamSpan)).toBe(TestTelemetry.traceId(front))
      expect(TestTelemetry.parentSpanId(downstreamSpan)).toBe(client.spanContext().spanId)
      expect(client.attributes["server.address"]).toBe("127.0.0.1")
      expect(client.attributes["server.port"]).toBe(Number(new URL(downstream).port))
      expect(client.attributes["url.full"]).toBe(`${downstream}/items/3`)
      expect(client.attributes["http.response.status_code"]).toBe(200)
      expect(TestTelemetry.statusOf(client)).toBe("unset")
      // One client span: the platform's `http.client GET` is gone.
      const clients = (yield* TestTelemetry.spans).filter((s) => TestTelemetry.kindOf(s) === "client")
      expect(clients).toHaveLength(1)
      const point = yield* TestTelemetry.metricPoint("http.client.request.duration", {
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "server.port": Number(new URL(downstream).port),
        "url.scheme": "http",
        "http.response.status_code": 200
      })
      expect((point.value as { count: number }).count).toBe(1)
    }).pipe(withTelemetry()))

  for (const code of [404, 503]) {
    it.scopedLive(`a ${code} response marks the client span as Error with error.type ${code}`, () =>
      Effect.gen(function*() {
        const { base } = yield* recordingServer
        expect(yield* call(`${base}/status/${code}`).pipe(Effect.withSpan("caller"))).toBe("body")
        const span = yield* TestTelemetry.spanNamed("GET")
        expect(span.attributes["http.response.status_code"]).toBe(code)
        expect(TestTelemetry.statusOf(span)).toBe("error")
        expect(span.attributes["error.type"]).toBe(String(code))
      }).pipe(Effect.provide(ClientLive), withTelemetry()))
  }

  it.scopedLive("a transport failure marks the span as Error with the system error code", () =>
    Effect.gen(function*() {
      const { base, server } = yield* recordingServer
      yield* Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
      })
      const exit = yield* Effect.exit(call(`${base}/gone`))
      expect(exit._tag).toBe("Failure")
      const span = yield* TestTelemetry.spanNamed("GET")
      expect(TestTelemetry.statusOf(span)).toBe("error")
      expect(span.attributes["error.type"]).toBe("ECONNREFUSED")
      expect(span.attributes["http.response.status_code"]).toBeUndefined()
      yield* TestTelemetry.metricPoint("http.client.request.duration", {
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "server.port": Number(new URL(base).port),
        "url.scheme": "http",
        "error.type": "ECONNREFUSED"
      })
    }).pipe(Effect.provide(ClientLive), withTelemetry()))

  it.scopedLive("url.full never carries credentials or sensitive query values", () =>
    Effect.gen(function*() {
      const { base } = yield* recordingServer
      const url = base.replace("http://", "http://alice:pa55word@") + "/x?token=t0ken&sig=s1g&q=1"
      yield* call(url)
      const span = yield* TestTelemetry.spanNamed("GET")
      expect(span.attributes["url.full"]).toBe(
        base.replace("http://", "http://REDACTED:REDACTED@") + "/x?token=REDACTED&sig=REDACTED&q=1"
      )
      const text = allAttributeText(yield* TestTelemetry.spans)
      for (const secret of ["pa55word", "alice", "t0ken", "s1g"]) expect(text).not.toContain(secret)
    }).pipe(Effect.provide(NodeClientLive), withTelemetry()))

  it.scopedLive("only the configured propagators are written, tracestate included", () =>
    Effect.gen(function*() {
      const { base, received } = yield* recordingServer
      const parent = { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: "vendor=x" }
      yield* call(`${base}/ok`).pipe(Propagation.withParentFrom(parent))
      const span = yield* TestTelemetry.spanNamed("GET")
      expect(received[0]!.traceparent).toBe(`00-4bf92f3577b34da6a3ce929d0e0e4736-${span.spanContext().spanId}-01`)
      expect(received[0]!.tracestate).toBe("vendor=x")
      expect(received[0]!.b3).toBeUndefined()
    }).pipe(Effect.provide(ClientLive), withTelemetry({ propagators: ["tracecontext"] })))

  it.scopedLive("with OTEL_PROPAGATORS=b3 the client writes b3 and no traceparent", () =>
    Effect.gen(function*() {
      const { base, received } = yield* recordingServer
      yield* call(`${base}/ok`).pipe(Effect.withSpan("caller"))
      const span = yield* TestTelemetry.spanNamed("GET")
      expect(received[0]!.b3).toContain(span.spanContext().spanId)
      expect(received[0]!.traceparent).toBeUndefined()
    }).pipe(Effect.provide(ClientLive), withTelemetry({ propagators: ["b3"] })))

  it.scopedLive("retries produce one client span per attempt", () =>
    Effect.gen(function*() {
      const { base, received } = yield* recordingServer
      const client = (yield* HttpClient.HttpClient).pipe(HttpClient.filterStatusOk, HttpClient.retry({ times: 2 }))
      yield* Effect.exit(client.get(`${base}/status/500`))
      expect(received).toHaveLength(3)
      const spans = yield* TestTelemetry.spansNamed("GET")
      expect(spans).toHaveLength(3)
      expect(new Set(spans.map((s) => s.spanContext().spanId)).size).toBe(3)
    }).pipe(Effect.provide(ClientLive), withTelemetry()))
})

describe("HttpClientTelemetry options", () => {
  it.effect("an option of the wrong type fails the layer with the TelemetryOptionsError naming it; make throws it", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(
        HttpClientTelemetry.layer({ sensitiveQueryParams: "token" as any }).pipe(
          Layer.provide(NodeHttpClient.layerUndici)
        )
      ).pipe(Effect.scoped, Effect.flip)
      expect(error).toBeInstanceOf(TelemetryOptionsError.TelemetryOptionsError)
      expect(error.message).toBe(
        `HttpClientTelemetry: option sensitiveQueryParams must be an array of strings, got "token"`
      )
      const client = yield* HttpClient.HttpClient.pipe(Effect.provide(NodeHttpClient.layerUndici))
      expect(() => HttpClientTelemetry.make(client, { captureResponseHeaders: "etag" as any })).toThrow(
        `HttpClientTelemetry: option captureResponseHeaders must be an array of strings, got "etag"`
      )
    }))
})
