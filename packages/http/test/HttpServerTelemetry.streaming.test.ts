import { TestTelemetry } from "@effect-telemetry/testing"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import WebSocket from "ws"
import { instrument, makeServerHandler } from "../src/internal/server.js"
import type { ServerHandler } from "../src/internal/server.js"
import { eventually, serve, serverSpan, start, startWith } from "./servers.js"

const withTelemetry = Effect.provide(TestTelemetry.layer())
const encoder = new TextEncoder()
const active = { "http.request.method": "GET", "url.scheme": "http" }
const hrMillis = (t: readonly [number, number]) => t[0] * 1000 + t[1] / 1e6

class StreamBroke extends Schema.TaggedError<StreamBroke>()("StreamBroke", {}) {}

// Span times come from Effect's clock, whose origin can differ from performance.timeOrigin by
// up to a millisecond: compare with that same clock or an "after" check fails at random.
const now = () => Number(Effect.runSync(Clock.currentTimeNanos)) / 1e6

/** A stream that fails after its first chunk, so after the headers were sent. */
const brokenStream = Effect.sync(() =>
  HttpServerResponse.stream(Stream.concat(Stream.make(encoder.encode("part")), Stream.fail(new StreamBroke())))
)

/** `GET /broken`: {@link brokenStream}. */
const brokenStreamApp = HttpRouter.empty.pipe(
  HttpRouter.get("/broken", brokenStream),
  HttpRouter.toHttpApp,
  Effect.runSync
)

/** `GET /ws`: upgrades and echoes every message as `echo <message>`. */
const echoSocketApp = HttpRouter.empty.pipe(
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
  expect(
    yield* TestTelemetry.prometheusValue("http_server_active_requests", {
      http_request_method: "GET",
      url_scheme: "http"
    })
  ).toBe(0)
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

describe("HttpServerTelemetry requests in flight", () => {
  it.scopedLive("the server's pending responses hold only requests in flight: none after successes, failures, aborts and broken streams", () =>
    Effect.gen(function*() {
      const handlers: Array<ServerHandler> = []
      const telemetry = Layer.effect(
        HttpServer.HttpServer,
        Effect.map(HttpServer.HttpServer, (server) =>
          instrument(server, undefined, () => {
            const handler = makeServerHandler()
            handlers.push(handler)
            return handler
          }))
      )
      const started = yield* Deferred.make<void>()
      const app = HttpRouter.empty.pipe(
        HttpRouter.get("/ok", HttpServerResponse.text("ok")),
        HttpRouter.get("/fail", Effect.fail(new StreamBroke())),
        HttpRouter.get("/die", Effect.die("boom")),
        HttpRouter.get("/hang", Effect.zipRight(Deferred.succeed(started, undefined), Effect.never)),
        HttpRouter.get("/broken", brokenStream),
        HttpRouter.toHttpApp,
        Effect.runSync
      )
      const base = yield* startWith(HttpServer.serve(app) as Layer.Layer<never>, telemetry)
      for (const path of ["/ok", "/fail", "/die", "/nothing-here", "/broken"]) {
        yield* Effect.promise(() => fetch(`${base}${path}`).then((r) => r.text()).catch(() => ""))
      }
      const hanging = yield* abortingRequest(`${base}/hang`, false)
      yield* Deferred.await(started)
      expect(handlers).toHaveLength(1)
      // The hanging request is the one in flight.
      expect(handlers[0]!.pending.size).toBe(1)
      hanging.destroy()
      yield* eventually(Effect.flatMap(TestTelemetry.spans, (s) => s.length === 6 ? Effect.void : Effect.fail("spans")))
      yield* eventually(activeIsZero)
      expect(handlers[0]!.pending.size).toBe(0)
    }).pipe(withTelemetry))
})

describe("HttpServerTelemetry streaming", () => {
  it.scopedLive("an SSE stream keeps working and its span ends when the stream ends", () =>
    Effect.gen(function*() {
      let lastEventAt = 0
      const events = Stream.make("one", "two", "three").pipe(
        Stream.tap(() => Effect.sleep("30 millis")),
        Stream.map((e) => {
          lastEventAt = now()
          return encoder.encode(`data: ${e}\n\n`)
        })
      )
      const app = HttpRouter.empty.pipe(
        HttpRouter.get(
          "/events",
          Effect.succeed(HttpServerResponse.stream(events, { contentType: "text/event-stream" }))
        ),
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
      const base = yield* serve(brokenStreamApp)
      yield* Effect.promise(() => fetch(`${base}/broken`).then((r) => r.text()).catch(() => "broken"))
      const span = yield* serverSpan("GET /broken")
      expect(span.attributes["http.response.status_code"]).toBe(200)
      expect(TestTelemetry.statusOf(span)).toBe("error")
      expect(span.attributes["error.type"]).toBe("StreamBroke")
      yield* eventually(activeIsZero)
    }).pipe(withTelemetry))

  it.scopedLive("a websocket upgrade through the middleware keeps working and its span ends with the socket", () =>
    Effect.gen(function*() {
      const base = yield* serve(echoSocketApp)
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

// --- through the platform's usual middleware ----------------------------------------------------

/**
 * An app served the way platform apps usually are: `xForwardedHeaders` and `cors()` around the
 * app, `logger` as the serve middleware. Our layer still wraps all of it.
 */
const serveWithPlatformMiddleware = <E, R>(app: HttpApp.Default<E, R>) =>
  start(
    HttpServer.serve(
      app.pipe(HttpMiddleware.xForwardedHeaders, HttpMiddleware.cors()),
      HttpMiddleware.logger
    ) as Layer.Layer<
      never,
      never,
      never
    >
  )

interface LogLine {
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** Collects what `HttpMiddleware.logger` writes, so a test can tell the middleware really ran. */
const capturingLogger = (lines: Array<LogLine>) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, message }) =>
      lines.push({
        message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
        annotations: Object.fromEntries(HashMap.toEntries(annotations))
      })
    )
  )

/** Reads a `fetch` SSE body one event at a time, as the client receives it (`undefined` at the end). */
const sseReader = (response: Response) => {
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let buffer = ""
  return Effect.promise(async () => {
    while (true) {
      const end = buffer.indexOf("\n\n")
      if (end >= 0) {
        const event = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        return event
      }
      const { done, value } = await reader.read()
      if (done) return undefined
      buffer += decoder.decode(value, { stream: true })
    }
  })
}

const activeIs = (n: number) =>
  Effect.flatMap(
    TestTelemetry.metricValue("http.server.active_requests", active),
    (value) => value === n ? Effect.void : Effect.fail(`active_requests is ${value}, expected ${n}`)
  )

const proxied = { origin: "http://app.example", "x-forwarded-for": "203.0.113.7", "x-forwarded-host": "api.example" }

describe("HttpServerTelemetry streaming through logger, cors and xForwardedHeaders", () => {
  it.scopedLive("an SSE stream arrives event by event, in order, and its span ends when the stream ends", () => {
    const logs: Array<LogLine> = []
    return Effect.gen(function*() {
      const feed = yield* Queue.unbounded<string>()
      let streamEndedAt = 0
      const events = Stream.fromQueue(feed).pipe(
        Stream.takeWhile((e) => e !== "end"),
        Stream.map((e) => encoder.encode(`data: ${e}\n\n`)),
        Stream.ensuring(Effect.sync(() => void (streamEndedAt = now())))
      )
      const app = HttpRouter.empty.pipe(
        HttpRouter.get(
          "/events",
          Effect.succeed(HttpServerResponse.stream(events, { contentType: "text/event-stream" }))
        ),
        HttpRouter.toHttpApp,
        Effect.runSync
      )
      const base = yield* serveWithPlatformMiddleware(app)

      yield* Queue.offer(feed, "one")
      const response = yield* Effect.promise(() => fetch(`${base}/events`, { headers: proxied }))
      expect(response.headers.get("access-control-allow-origin")).toBe("*")
      expect(response.headers.get("traceparent")).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
      const next = sseReader(response)
      const received: Array<string | undefined> = [yield* next]
      for (const event of ["two", "three"]) {
        // The stream is still open: the request is in progress and its span has not ended.
        expect(yield* TestTelemetry.spansNamed("GET /events")).toEqual([])
        yield* eventually(activeIs(1))
        // Each event is produced only after the previous one reached the client: a middleware
        // that buffered the body would leave this read hanging.
        yield* Queue.offer(feed, event)
        received.push(yield* next)
      }
      yield* Queue.offer(feed, "end")
      received.push(yield* next)
      expect(received).toEqual(["data: one", "data: two", "data: three", undefined])

      const span = yield* serverSpan("GET /events")
      expect(hrMillis(span.endTime)).toBeGreaterThanOrEqual(streamEndedAt)
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      expect(span.attributes["http.route"]).toBe("/events")
      expect(span.attributes["http.response.status_code"]).toBe(200)
      expect(span.attributes["error.type"]).toBeUndefined()
      expect(response.headers.get("traceparent")).toContain(span.spanContext().spanId)
      yield* eventually(activeIsZero)
      const logged = logs.find((l) => l.message === "Sent HTTP response" && l.annotations["http.url"] === "/events")
      expect(logged?.annotations["http.status"]).toBe(200)

      // A preflight answered by cors() itself, never reaching the router, is one span too.
      const preflight = yield* Effect.promise(() =>
        fetch(`${base}/events`, {
          method: "OPTIONS",
          headers: { ...proxied, "access-control-request-method": "GET" }
        }).then((r) => r.status)
      )
      expect(preflight).toBe(204)
      const options = yield* serverSpan("OPTIONS")
      expect(options.attributes["http.response.status_code"]).toBe(204)
      expect(TestTelemetry.statusOf(options)).toBe("unset")
      yield* eventually(activeIsZero)
    }).pipe(withTelemetry, Effect.provide(capturingLogger(logs)))
  })

  it.scopedLive("a stream that fails after its headers is still Error under the middleware", () =>
    Effect.gen(function*() {
      const base = yield* serveWithPlatformMiddleware(brokenStreamApp)
      yield* Effect.promise(() =>
        fetch(`${base}/broken`, { headers: proxied }).then((r) => r.text()).catch(() => "broken")
      )
      const span = yield* serverSpan("GET /broken")
      expect(span.attributes["http.response.status_code"]).toBe(200)
      expect(TestTelemetry.statusOf(span)).toBe("error")
      expect(span.attributes["error.type"]).toBe("StreamBroke")
      yield* eventually(activeIsZero)
    }).pipe(withTelemetry, Effect.provide(capturingLogger([]))))

  it.scopedLive("a websocket echoes in order and its span ends with 101 when the socket closes", () => {
    const logs: Array<LogLine> = []
    return Effect.gen(function*() {
      const base = yield* serveWithPlatformMiddleware(echoSocketApp)
      const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
      const messages = yield* Queue.unbounded<string>()
      const closed = yield* Deferred.make<number>()
      const ws = yield* Effect.async<WebSocket>((resume) => {
        const ws = new WebSocket(`${base.replace("http", "ws")}/ws`, {
          headers: { ...proxied, traceparent: `00-${traceId}-00f067aa0ba902b7-01` }
        })
        ws.on("open", () => resume(Effect.succeed(ws)))
        ws.on("message", (data) => Queue.unsafeOffer(messages, String(data)))
        ws.on("close", (code) => Deferred.unsafeDone(closed, Exit.succeed(code)))
        ws.on("error", (e) => resume(Effect.die(e)))
      })
      ws.send("hello")
      expect(yield* Queue.take(messages)).toBe("echo hello")
      // The socket is open: its request is in progress and the span has not ended.
      expect(yield* TestTelemetry.spansNamed("GET /ws")).toEqual([])
      yield* eventually(activeIs(1))
      ws.send("again")
      expect(yield* Queue.take(messages)).toBe("echo again")
      const closedAt = now()
      ws.close(1000)
      expect(yield* Deferred.await(closed)).toBe(1000)

      const span = yield* serverSpan("GET /ws")
      expect(hrMillis(span.endTime)).toBeGreaterThanOrEqual(closedAt)
      expect(span.attributes["http.response.status_code"]).toBe(101)
      expect(span.attributes["http.route"]).toBe("/ws")
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      expect(TestTelemetry.traceId(span)).toBe(traceId)
      expect(TestTelemetry.parentSpanId(span)).toBe("00f067aa0ba902b7")
      yield* eventually(activeIsZero)
      expect(logs.some((l) => l.message === "Sent HTTP response" && l.annotations["http.url"] === "/ws")).toBe(true)
    }).pipe(withTelemetry, Effect.provide(capturingLogger(logs)))
  })
})
