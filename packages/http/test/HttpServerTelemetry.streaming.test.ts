import { TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import WebSocket from "ws"
import { eventually, serve, serverSpan } from "./servers.js"

const withTelemetry = Effect.provide(TestTelemetry.layer())
const encoder = new TextEncoder()
const active = { "http.request.method": "GET", "url.scheme": "http" }
const hrMillis = (t: readonly [number, number]) => t[0] * 1000 + t[1] / 1e6

class StreamBroke extends Schema.TaggedError<StreamBroke>()("StreamBroke", {}) {}

/** A raw request that is destroyed as soon as `destroyWhen` resolves or the first body byte arrives. */
const abortingRequest = (url: string, destroyOnFirstByte: boolean) =>
  Effect.sync(() => {
    const request = Http.request(url)
    request.on("error", () => {})
    request.on("response", (response) => {
      response.on("error", () => {})
      response.once("data", () => {
        if (destroyOnFirstByte) request.destroy()
      })
    })
    request.end()
    return request
  })

const activeIsZero = Effect.gen(function*() {
  expect(yield* TestTelemetry.metricValue("http.server.active_requests", active)).toBe(0)
  expect(yield* TestTelemetry.prometheusValue("http_server_active_requests", {
    http_request_method: "GET",
    url_scheme: "http"
  })).toBe(0)
})

describe("HttpServerTelemetry active requests", () => {
  it.scopedLive("counts concurrent requests and returns to 0", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const app = HttpRouter.empty.pipe(
        HttpRouter.get("/slow", Effect.as(Deferred.await(gate), HttpServerResponse.text("done"))),
        HttpRouter.toHttpApp,
        Effect.runSync
      )
      const base = yield* serve(app)
      const requests = Effect.forEach(
        Array.from({ length: 5 }, (_, i) => i),
        () => Effect.promise(() => fetch(`${base}/slow`).then((r) => r.text())),
        { concurrency: "unbounded" }
      )
      const fiber = yield* Effect.fork(requests)
      yield* eventually(Effect.flatMap(TestTelemetry.metricValue("http.server.active_requests", active), (n) =>
        n === 5 ? Effect.void : Effect.fail(`active_requests is ${n}`)))
      yield* Deferred.succeed(gate, undefined)
      expect(yield* fiber.await.pipe(Effect.flatten)).toEqual(Array(5).fill("done"))
      yield* eventually(activeIsZero)
      const point = yield* TestTelemetry.metricPoint("http.server.request.duration", {
        ...active,
        "http.route": "/slow",
        "http.response.status_code": 200,
        "network.protocol.version": "1.1"
      })
      expect((point.value as { count: number }).count).toBe(5)
    }).pipe(withTelemetry))

  it.scopedLive("returns to 0 after failures and defects", () =>
    Effect.gen(function*() {
      const app = HttpRouter.empty.pipe(
        HttpRouter.get("/fail", Effect.fail(new StreamBroke())),
        HttpRouter.get("/die", Effect.die("boom")),
        HttpRouter.toHttpApp,
        Effect.runSync
      )
      const base = yield* serve(app)
      for (const path of ["/fail", "/die", "/nothing-here"]) {
        yield* Effect.promise(() => fetch(`${base}${path}`).then((r) => r.text()))
      }
      yield* eventually(Effect.flatMap(TestTelemetry.spans, (s) => s.length === 3 ? Effect.void : Effect.fail("spans")))
      yield* eventually(activeIsZero)
    }).pipe(withTelemetry))

  it.scopedLive("a client that disconnects before the response is not an error and leaves the count at 0", () =>
    Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const app = HttpRouter.empty.pipe(
        HttpRouter.get("/hang", Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)),
        HttpRouter.toHttpApp,
        Effect.runSync
      )
      const base = yield* serve(app)
      const request = yield* abortingRequest(`${base}/hang`, false)
      yield* Deferred.await(started)
      request.destroy()
      const span = yield* serverSpan("GET /hang")
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      expect(span.attributes["effect.interrupted"]).toBe(true)
      expect(span.attributes["http.response.status_code"]).toBeUndefined()
      expect(span.attributes["error.type"]).toBeUndefined()
      expect(span.events.filter((e) => e.name === "exception")).toEqual([])
      yield* eventually(activeIsZero)
    }).pipe(withTelemetry))

  it.scopedLive("a client that disconnects mid-stream ends the span with the status it was sent, not an error", () =>
    Effect.gen(function*() {
      const app = HttpRouter.empty.pipe(
        HttpRouter.get(
          "/forever",
          Effect.succeed(HttpServerResponse.stream(
            Stream.concat(Stream.make(encoder.encode("data: first\n\n")), Stream.never),
            { contentType: "text/event-stream" }
          ))
        ),
        HttpRouter.toHttpApp,
        Effect.runSync
      )
      const base = yield* serve(app)
      yield* abortingRequest(`${base}/forever`, true)
      const span = yield* serverSpan("GET /forever")
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      expect(span.attributes["http.response.status_code"]).toBe(200)
      expect(span.attributes["effect.interrupted"]).toBe(true)
      yield* eventually(activeIsZero)
    }).pipe(withTelemetry))
})

describe("HttpServerTelemetry streaming", () => {
  it.scopedLive("an SSE stream keeps working and its span ends when the stream ends", () =>
    Effect.gen(function*() {
      let lastEventAt = 0
      const events = Stream.make("one", "two", "three").pipe(
        Stream.tap(() => Effect.sleep("30 millis")),
        Stream.map((e) => {
          lastEventAt = performance.timeOrigin + performance.now()
          return encoder.encode(`data: ${e}\n\n`)
        })
      )
      const app = HttpRouter.empty.pipe(
        HttpRouter.get("/events", Effect.succeed(HttpServerResponse.stream(events, { contentType: "text/event-stream" }))),
        HttpRouter.toHttpApp,
        Effect.runSync
      )
      const base = yield* serve(app)
      const body = yield* Effect.promise(() => fetch(`${base}/events`).then((r) => r.text()))
      expect(body).toBe("data: one\n\ndata: two\n\ndata: three\n\n")
      const span = yield* serverSpan("GET /events")
      expect(hrMillis(span.endTime)).toBeGreaterThanOrEqual(lastEventAt)
      expect(span.attributes["http.response.status_code"]).toBe(200)
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      yield* eventually(activeIsZero)
    }).pipe(withTelemetry))

  it.scopedLive("a stream that fails after the headers were sent marks the span as Error", () =>
    Effect.gen(function*() {
      const app = HttpRouter.empty.pipe(
        HttpRouter.get(
          "/broken",
          Effect.succeed(HttpServerResponse.stream(
            Stream.concat(Stream.make(encoder.encode("part")), Stream.fail(new StreamBroke()))
          ))
        ),
        HttpRouter.toHttpApp,
        Effect.runSync
      )
      const base = yield* serve(app)
      yield* Effect.promise(() => fetch(`${base}/broken`).then((r) => r.text()).catch(() => "broken"))
      const span = yield* serverSpan("GET /broken")
      expect(span.attributes["http.response.status_code"]).toBe(200)
      expect(TestTelemetry.statusOf(span)).toBe("error")
      expect(span.attributes["error.type"]).toBe("StreamBroke")
      yield* eventually(activeIsZero)
    }).pipe(withTelemetry))

  it.scopedLive("a websocket upgrade through the middleware keeps working and its span ends with the socket", () =>
    Effect.gen(function*() {
      const app = HttpRouter.empty.pipe(
        HttpRouter.get(
          "/ws",
          Effect.gen(function*() {
            const request = yield* HttpServerRequest.HttpServerRequest
            const socket = yield* request.upgrade
            const write = yield* socket.writer
            yield* socket.runRaw((data) => write(`echo ${typeof data === "string" ? data : new TextDecoder().decode(data)}`))
            return HttpServerResponse.empty()
          })
        ),
        HttpRouter.toHttpApp,
        Effect.runSync
      )
      const base = yield* serve(app)
      const traceId = "0af7651916cd43dd8448eb211c80319c"
      const reply = yield* Effect.async<string>((resume) => {
        const ws = new WebSocket(`${base.replace("http", "ws")}/ws`, {
          headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` }
        })
        ws.on("open", () => ws.send("hello"))
        ws.on("message", (data) => {
          ws.close(1000)
          resume(Effect.succeed(String(data)))
        })
        ws.on("error", (e) => resume(Effect.die(e)))
      })
      expect(reply).toBe("echo hello")
      const span = yield* serverSpan("GET /ws")
      expect(span.attributes["http.response.status_code"]).toBe(101)
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      expect(TestTelemetry.traceId(span)).toBe(traceId)
      yield* eventually(activeIsZero)
    }).pipe(withTelemetry))
})
