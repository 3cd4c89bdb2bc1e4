import { TelemetryOptionsError } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Tracer from "effect/Tracer"
import { HttpServerTelemetry } from "../src/index.js"
import { allAttributeText, eventually, serve, serverSpan, start, startWith } from "./servers.js"

class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", {}) {}

const router = HttpRouter.empty.pipe(
  HttpRouter.get("/users", HttpServerResponse.text("all")),
  HttpRouter.get("/users/:id", Effect.map(HttpRouter.params, (p) => HttpServerResponse.text(`user ${p.id}`))),
  HttpRouter.get("/ok", HttpServerResponse.text("ok")),
  HttpRouter.get("/missing", HttpServerResponse.text("gone", { status: 404 })),
  HttpRouter.get("/boom-value", HttpServerResponse.text("boom", { status: 500 })),
  HttpRouter.get("/boom-failure", Effect.fail(new Unavailable())),
  HttpRouter.get("/boom-defect", Effect.die(new Error("invariant broken"))),
  HttpRouter.get("/cookie", HttpServerResponse.text("c", { headers: { "set-cookie": "session=s3cr3t-cookie" } })),
  HttpRouter.all("/any", HttpServerResponse.text("any"))
)

const withTelemetry = Effect.provide(TestTelemetry.layer())

const get = (url: string, init?: RequestInit) =>
  Effect.promise(() =>
    fetch(url, init).then(async (r) => ({ status: r.status, headers: r.headers, body: await r.text() }))
  )

describe("HttpServerTelemetry route naming", () => {
  it.scopedLive("a static route names the span {METHOD} {route}", () =>
    Effect.gen(function*() {
      const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync))
      const res = yield* get(`${base}/users`, { headers: { "user-agent": "orders-client/1.0" } })
      expect(res.body).toBe("all")
      const span = yield* serverSpan("GET /users")
      expect(TestTelemetry.kindOf(span)).toBe("server")
      expect(span.attributes["http.route"]).toBe("/users")
      expect(span.attributes["http.request.method"]).toBe("GET")
      expect(span.attributes["http.response.status_code"]).toBe(200)
      expect(span.attributes["url.path"]).toBe("/users")
      expect(span.attributes["url.scheme"]).toBe("http")
      expect(span.attributes["server.address"]).toBe("127.0.0.1")
      expect(typeof span.attributes["server.port"]).toBe("number")
      expect(span.attributes["client.address"]).toMatch(/127\.0\.0\.1/)
      expect(span.attributes["network.protocol.version"]).toBe("1.1")
      expect(span.attributes["user_agent.original"]).toBe("orders-client/1.0")
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      // Exactly one server span: the platform's `http.server GET` is gone.
      const servers = (yield* TestTelemetry.spans).filter((s) => TestTelemetry.kindOf(s) === "server")
      expect(servers.map((s) => s.name)).toEqual(["GET /users"])
    }).pipe(withTelemetry))

  it.scopedLive("a parameterised route is named by its template, never the raw path", () =>
    Effect.gen(function*() {
      const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync))
      yield* get(`${base}/users/42?token=abc&page=2`)
      const span = yield* serverSpan("GET /users/:id")
      expect(span.attributes["http.route"]).toBe("/users/:id")
      expect(span.attributes["url.path"]).toBe("/users/42")
      expect(span.attributes["url.query"]).toBe("token=REDACTED&page=2")
      expect(allAttributeText(yield* TestTelemetry.spans)).not.toContain("abc")
      const names = (yield* TestTelemetry.spans).map((s) => s.name)
      expect(names.some((n) => n.includes("42"))).toBe(false)
    }).pipe(withTelemetry))

  it.scopedLive("an unmatched request gets {METHOD} and the fixed unmatched route", () =>
    Effect.gen(function*() {
      const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync))
      const res = yield* get(`${base}/no/such/path/123`)
      expect(res.status).toBe(404)
      const span = yield* serverSpan("GET")
      expect(span.attributes["http.route"]).toBe("_unmatched")
      expect(span.attributes["http.response.status_code"]).toBe(404)
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      expect(span.events.filter((e) => e.name === "exception")).toEqual([])
      const point = yield* eventually(TestTelemetry.metricPoint("http.server.request.duration", {
        "http.request.method": "GET",
        "url.scheme": "http",
        "http.route": "_unmatched",
        "http.response.status_code": 404,
        "network.protocol.version": "1.1"
      }))
      expect(point.type).toBe("histogram")
    }).pipe(withTelemetry))

  it.scopedLive("an unknown method is recorded as _OTHER with its original, and the span is named HTTP", () =>
    Effect.gen(function*() {
      const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync))
      yield* get(`${base}/any`, { method: "PURGE" })
      const span = yield* serverSpan("HTTP /any")
      expect(span.attributes["http.request.method"]).toBe("_OTHER")
      expect(span.attributes["http.request.method_original"]).toBe("PURGE")
    }).pipe(withTelemetry))
})

describe("HttpServerTelemetry status", () => {
  const cases = [
    { path: "/ok", route: "/ok", code: 200, status: "unset", errorType: undefined },
    { path: "/missing", route: "/missing", code: 404, status: "unset", errorType: undefined },
    { path: "/boom-value", route: "/boom-value", code: 500, status: "error", errorType: "500" },
    { path: "/boom-failure", route: "/boom-failure", code: 500, status: "error", errorType: "500" },
    { path: "/boom-defect", route: "/boom-defect", code: 500, status: "error", errorType: "500" }
  ] as const
  for (const c of cases) {
    it.scopedLive(`GET ${c.path} answered ${c.code} leaves the span ${c.status}`, () =>
      Effect.gen(function*() {
        const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync))
        const res = yield* get(`${base}${c.path}`)
        expect(res.status).toBe(c.code)
        const span = yield* serverSpan(`GET ${c.route}`)
        expect(span.attributes["http.response.status_code"]).toBe(c.code)
        expect(TestTelemetry.statusOf(span)).toBe(c.status)
        expect(span.attributes["error.type"]).toBe(c.errorType)
        const attributes: Record<string, unknown> = {
          "http.request.method": "GET",
          "url.scheme": "http",
          "http.route": c.route,
          "http.response.status_code": c.code,
          "network.protocol.version": "1.1"
        }
        if (c.errorType !== undefined) attributes["error.type"] = c.errorType
        const point = yield* eventually(TestTelemetry.metricPoint("http.server.request.duration", attributes))
        expect((point.value as { count: number }).count).toBe(1)
      }).pipe(withTelemetry))
  }

  it.scopedLive("a handler failure records the exception of the failure", () =>
    Effect.gen(function*() {
      const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync))
      yield* get(`${base}/boom-defect`)
      const span = yield* serverSpan("GET /boom-defect")
      const exception = span.events.find((e) => e.name === "exception")
      expect(exception?.attributes?.["exception.message"]).toBe("invariant broken")
    }).pipe(withTelemetry))

  it.scopedLive("a defect of an app that sets no fiber ref carries the server span in its stack", () =>
    Effect.gen(function*() {
      // No router: nothing between the middleware and the defect writes a fiber ref, so the
      // span the runtime captures for it is the one the middleware put in the context.
      const base = yield* serve(Effect.die(new Error("kaboom")))
      const res = yield* get(`${base}/anything`)
      expect(res.status).toBe(500)
      const span = yield* serverSpan("GET")
      const exception = span.events.find((e) => e.name === "exception")
      expect(exception?.attributes?.["exception.message"]).toBe("kaboom")
      expect(String(exception?.attributes?.["exception.stacktrace"])).toMatch(/\n\s+at GET$/m)
    }).pipe(withTelemetry))
})

describe("HttpServerTelemetry trace context", () => {
  const parentTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
  const parentSpan = "00f067aa0ba902b7"

  it.scopedLive("continues the incoming traceparent and returns the server span's context", () =>
    Effect.gen(function*() {
      const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync))
      const res = yield* get(`${base}/ok`, {
        headers: { traceparent: `00-${parentTrace}-${parentSpan}-01`, tracestate: "vendor=x" }
      })
      const span = yield* serverSpan("GET /ok")
      expect(TestTelemetry.traceId(span)).toBe(parentTrace)
      expect(TestTelemetry.parentSpanId(span)).toBe(parentSpan)
      expect(span.spanContext().traceState?.get("vendor")).toBe("x")
      expect(res.headers.get("traceparent")).toBe(`00-${parentTrace}-${span.spanContext().spanId}-01`)
    }).pipe(withTelemetry))

  it.scopedLive("concurrent requests each get their own span's context in their response", () =>
    Effect.gen(function*() {
      const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync))
      const ids = Array.from({ length: 24 }, (_, i) => i)
      const responses = yield* Effect.forEach(ids, (i) => get(`${base}/users/${i}`), { concurrency: "unbounded" })
      const spans = yield* eventually(Effect.flatMap(TestTelemetry.spans, (all) => {
        const servers = all.filter((s) => s.name === "GET /users/:id")
        return servers.length === ids.length ? Effect.succeed(servers) : Effect.fail("waiting")
      }))
      const spanIdByPath = new Map(spans.map((s) => [s.attributes["url.path"], s.spanContext().spanId]))
      responses.forEach((res, i) => {
        expect(res.body).toBe(`user ${i}`)
        expect(res.headers.get("traceparent")?.split("-")[2]).toBe(spanIdByPath.get(`/users/${i}`))
      })
    }).pipe(withTelemetry))

  it.scopedLive("requests one after another on a kept-alive connection share nothing of each other's trace", () =>
    Effect.gen(function*() {
      const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync))
      // fetch keeps the connection alive: the second and third requests reuse the first's socket.
      yield* get(`${base}/users/1`, { headers: { traceparent: `00-${parentTrace}-${parentSpan}-01` } })
      const second = yield* get(`${base}/users/2`)
      const third = yield* get(`${base}/users/3`)
      const spans = yield* eventually(Effect.flatMap(TestTelemetry.spans, (all) => {
        const servers = all.filter((s) => s.name === "GET /users/:id")
        return servers.length === 3 ? Effect.succeed(servers) : Effect.fail("waiting")
      }))
      const byPath = new Map(spans.map((s) => [s.attributes["url.path"], s]))
      expect(TestTelemetry.traceId(byPath.get("/users/1")!)).toBe(parentTrace)
      for (const [path, res] of [["/users/2", second], ["/users/3", third]] as const) {
        const span = byPath.get(path)!
        expect(span.parentSpanContext).toBeUndefined()
        expect(TestTelemetry.traceId(span)).not.toBe(parentTrace)
        expect(res.headers.get("traceparent")).toBe(`00-${TestTelemetry.traceId(span)}-${span.spanContext().spanId}-01`)
      }
      expect(TestTelemetry.traceId(byPath.get("/users/2")!)).not.toBe(TestTelemetry.traceId(byPath.get("/users/3")!))
    }).pipe(withTelemetry))

  it.scopedLive("the request scope's finalizers run outside the server span, as without telemetry", () =>
    Effect.gen(function*() {
      let inHandler: string | undefined
      let inFinalizer: Option.Option<unknown> | undefined
      // A plain app (a router scopes each handler on its own): its Scope is the request's.
      const app = Effect.gen(function*() {
        inHandler = (yield* Effect.currentSpan).name
        // `Scope.addFinalizer` runs in the context of the scope's closing (`Effect.addFinalizer`
        // would restore the one it was added in): what the fiber holds after the middleware.
        yield* Scope.addFinalizer(
          yield* Effect.scope,
          Effect.serviceOption(Tracer.ParentSpan).pipe(
            Effect.tap((parent) => void (inFinalizer = parent)),
            Effect.zipRight(Effect.withSpan(Effect.void, "cleanup"))
          )
        )
        return HttpServerResponse.text("scoped")
      })
      const base = yield* serve(app)
      const res = yield* get(`${base}/scoped`)
      expect(res.body).toBe("scoped")
      const server = yield* serverSpan("GET")
      const cleanup = yield* serverSpan("cleanup")
      expect(inHandler).toBe("GET")
      // The platform's request scope puts the context from before the middleware back before
      // closing: the finalizer has no parent span, so its span is a root of its own trace.
      expect(inFinalizer).toEqual(Option.none())
      expect(cleanup.parentSpanContext).toBeUndefined()
      expect(TestTelemetry.traceId(cleanup)).not.toBe(TestTelemetry.traceId(server))
    }).pipe(withTelemetry))

  it.scopedLive("a pre-response handler installed for the whole server still runs, with ours", () =>
    Effect.gen(function*() {
      const served = HttpServer.serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync)).pipe(
        Layer.provide(Layer.locallyScoped(
          HttpApp.currentPreResponseHandlers,
          Option.some((_request, response) =>
            Effect.succeed(HttpServerResponse.setHeader(response, "x-server-wide", "yes"))
          )
        ))
      )
      const base = yield* start(served as Layer.Layer<never, never, never>)
      const res = yield* get(`${base}/ok`)
      const span = yield* serverSpan("GET /ok")
      expect(res.headers.get("x-server-wide")).toBe("yes")
      expect(res.headers.get("traceparent")).toBe(`00-${TestTelemetry.traceId(span)}-${span.spanContext().spanId}-01`)
    }).pipe(withTelemetry))

  it.scopedLive("captured response headers include those that handlers the app appends (cors) add", () =>
    Effect.gen(function*() {
      const app = HttpRouter.toHttpApp(router).pipe(
        Effect.runSync,
        HttpMiddleware.cors({ allowedOrigins: ["http://app.example"] }),
        (inner) =>
          Effect.zipRight(
            HttpApp.appendPreResponseHandler((_request, response) =>
              Effect.succeed(HttpServerResponse.setHeader(response, "x-request-id", "req-7"))
            ),
            inner
          )
      )
      const base = yield* start(HttpServer.serve(app) as Layer.Layer<never, never, never>, {
        captureResponseHeaders: ["access-control-allow-origin", "x-request-id"]
      })
      const res = yield* get(`${base}/ok`, { headers: { origin: "http://app.example" } })
      expect(res.headers.get("access-control-allow-origin")).toBe("http://app.example")
      const span = yield* serverSpan("GET /ok")
      expect(span.attributes["http.response.header.access-control-allow-origin"]).toEqual(["http://app.example"])
      expect(span.attributes["http.response.header.x-request-id"]).toEqual(["req-7"])
    }).pipe(withTelemetry))

  it.scopedLive("a server instrumented twice by mistake answers as usual with one server span", () =>
    Effect.gen(function*() {
      const twice = Layer.provideMerge(HttpServerTelemetry.layer(), HttpServerTelemetry.layer())
      const base = yield* startWith(
        HttpServer.serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync)) as Layer.Layer<never, never, never>,
        twice
      )
      const res = yield* get(`${base}/ok`)
      expect(res.body).toBe("ok")
      const span = yield* serverSpan("GET /ok")
      expect(span.attributes["http.response.status_code"]).toBe(200)
      expect(res.headers.get("traceparent")).toBe(`00-${TestTelemetry.traceId(span)}-${span.spanContext().spanId}-01`)
      // The outer layer turns the platform's tracer off for what it serves; the inner one reads
      // that as an exclusion, so the request is not recorded twice.
      const servers = (yield* TestTelemetry.spans).filter((s) => TestTelemetry.kindOf(s) === "server")
      expect(servers.map((s) => s.name)).toEqual(["GET /ok"])
    }).pipe(withTelemetry))

  it.scopedLive("an invalid traceparent starts a new root", () =>
    Effect.gen(function*() {
      const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync))
      yield* get(`${base}/ok`, { headers: { traceparent: `00-${"0".repeat(32)}-${parentSpan}-01` } })
      const span = yield* serverSpan("GET /ok")
      expect(TestTelemetry.parentSpanId(span)).toBeUndefined()
      expect(TestTelemetry.traceId(span)).not.toBe("0".repeat(32))
    }).pipe(withTelemetry))

  it.scopedLive("error responses carry the traceparent too", () =>
    Effect.gen(function*() {
      const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync))
      const res = yield* get(`${base}/boom-failure`)
      const span = yield* serverSpan("GET /boom-failure")
      expect(res.headers.get("traceparent")).toContain(span.spanContext().spanId)
    }).pipe(withTelemetry))

  it.scopedLive("responseTraceContext: false writes no traceparent", () =>
    Effect.gen(function*() {
      const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync), { responseTraceContext: false })
      const res = yield* get(`${base}/ok`)
      yield* serverSpan("GET /ok")
      expect(res.headers.get("traceparent")).toBeNull()
    }).pipe(withTelemetry))
})

describe("HttpServerTelemetry headers and exclusions", () => {
  it.scopedLive("captures allow-listed headers only and never records credentials", () =>
    Effect.gen(function*() {
      const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync), {
        captureRequestHeaders: ["X-Request-Id", "authorization", "cookie"],
        captureResponseHeaders: ["set-cookie", "content-type"]
      })
      yield* get(`${base}/cookie`, {
        headers: {
          "x-request-id": "req-1",
          "x-not-listed": "hidden",
          authorization: "Bearer s3cr3t-token",
          cookie: "session=s3cr3t-cookie"
        }
      })
      const span = yield* serverSpan("GET /cookie")
      expect(span.attributes["http.request.header.x-request-id"]).toEqual(["req-1"])
      expect(span.attributes["http.request.header.authorization"]).toEqual(["REDACTED"])
      expect(span.attributes["http.request.header.cookie"]).toEqual(["REDACTED"])
      expect(span.attributes["http.response.header.set-cookie"]).toEqual(["REDACTED"])
      expect(span.attributes["http.response.header.content-type"]).toEqual(["text/plain"])
      expect(span.attributes["http.request.header.x-not-listed"]).toBeUndefined()
      const text = allAttributeText(yield* TestTelemetry.spans)
      expect(text).not.toContain("s3cr3t")
      expect(text).not.toContain("hidden")
    }).pipe(withTelemetry))

  it.scopedLive("excluded paths are served without telemetry", () =>
    Effect.gen(function*() {
      const app = HttpRouter.empty.pipe(
        HttpRouter.get("/health", HttpServerResponse.text("up")),
        HttpRouter.get("/metrics", HttpServerResponse.text("# none")),
        HttpRouter.get("/ok", HttpServerResponse.text("ok")),
        HttpRouter.toHttpApp,
        Effect.runSync
      )
      const base = yield* serve(app, { excludePaths: ["/health", /^\/metrics$/] })
      expect((yield* get(`${base}/health`)).body).toBe("up")
      expect((yield* get(`${base}/metrics`)).body).toBe("# none")
      yield* get(`${base}/ok`)
      yield* serverSpan("GET /ok")
      const names = (yield* TestTelemetry.spans).map((s) => s.name)
      expect(names).toEqual(["GET /ok"])
      const data = yield* TestTelemetry.metricData("http.server.request.duration")
      const routes = (data?.dataPoints ?? []).map((p) => p.attributes["http.route"])
      expect(routes).toEqual(["/ok"])
    }).pipe(withTelemetry))

  it.scopedLive("layerConfig reads exclusions and the unmatched route from Config", () =>
    Effect.gen(function*() {
      const app = HttpRouter.empty.pipe(
        HttpRouter.get("/health", HttpServerResponse.text("up")),
        HttpRouter.toHttpApp,
        Effect.runSync
      )
      const telemetry = HttpServerTelemetry.layerConfig({
        excludePaths: Config.array(Config.string(), "HTTP_EXCLUDE_PATHS"),
        unmatchedRoute: Config.string("HTTP_UNMATCHED_ROUTE")
      }).pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
        new Map([["HTTP_EXCLUDE_PATHS", "/health,/metrics"], ["HTTP_UNMATCHED_ROUTE", "not_found"]])
      ))))
      const base = yield* startWith(HttpServer.serve(app), telemetry)
      yield* get(`${base}/health`)
      yield* get(`${base}/nope`)
      const span = yield* serverSpan("GET")
      expect(span.attributes["http.route"]).toBe("not_found")
      expect((yield* TestTelemetry.spans).map((s) => s.name)).toEqual(["GET"])
    }).pipe(withTelemetry))
})

describe("HttpServerTelemetry metrics", () => {
  it.scopedLive("body sizes are recorded when known, and every metric is exposed to Prometheus", () =>
    Effect.gen(function*() {
      const app = HttpRouter.empty.pipe(
        HttpRouter.post("/echo", HttpServerResponse.text("abc")),
        HttpRouter.toHttpApp,
        Effect.runSync
      )
      const base = yield* serve(app)
      yield* get(`${base}/echo`, { method: "POST", body: "hello" })
      const span = yield* serverSpan("POST /echo")
      expect(span.attributes["http.request.body.size"]).toBe(5)
      expect(span.attributes["http.response.body.size"]).toBe(3)
      const attributes = {
        "http.request.method": "POST",
        "url.scheme": "http",
        "http.route": "/echo",
        "http.response.status_code": 200,
        "network.protocol.version": "1.1"
      }
      const request = yield* eventually(TestTelemetry.metricPoint("http.server.request.body.size", attributes))
      expect((request.value as { sum: number }).sum).toBe(5)
      const response = yield* TestTelemetry.metricPoint("http.server.response.body.size", attributes)
      expect((response.value as { sum: number }).sum).toBe(3)
      const labels = {
        http_request_method: "POST",
        url_scheme: "http",
        http_route: "/echo",
        http_response_status_code: "200",
        network_protocol_version: "1.1"
      }
      expect(yield* TestTelemetry.prometheusValue("http_server_request_duration_seconds_count", labels)).toBe(1)
      expect(yield* TestTelemetry.prometheusValue("http_server_request_body_size_bytes_sum", labels)).toBe(5)
      expect(yield* TestTelemetry.prometheusValue("http_server_response_body_size_bytes_sum", labels)).toBe(3)
      expect(
        yield* TestTelemetry.prometheusValue("http_server_active_requests", {
          http_request_method: "POST",
          url_scheme: "http"
        })
      ).toBe(0)
    }).pipe(withTelemetry))
})

describe("HttpServerTelemetry options", () => {
  it("every entry point is a function, also with every option left out", () => {
    for (
      const entry of [
        HttpServerTelemetry.layer,
        HttpServerTelemetry.layerConfig,
        HttpServerTelemetry.make,
        HttpServerTelemetry.middleware
      ]
    ) {
      expect(typeof entry).toBe("function")
    }
  })

  it.scopedLive("an option of the wrong type fails the layer with the TelemetryOptionsError naming it, before serving", () =>
    Effect.gen(function*() {
      const error = yield* start(HttpServer.serve(router), { excludePaths: "/health" as any }).pipe(Effect.flip)
      expect(error).toBeInstanceOf(TelemetryOptionsError.TelemetryOptionsError)
      expect((error as TelemetryOptionsError.TelemetryOptionsError).message).toBe(
        `HttpServerTelemetry: option excludePaths must be an array of strings and regular expressions, got "/health"`
      )
      const fromConfig = yield* startWith(
        HttpServer.serve(router),
        HttpServerTelemetry.layerConfig({ unmatchedRoute: Config.succeed("") })
      ).pipe(Effect.flip)
      expect((fromConfig as TelemetryOptionsError.TelemetryOptionsError).message).toBe(
        `HttpServerTelemetry: option unmatchedRoute must be a non-empty string, got ""`
      )
    }))

  it("make and middleware throw the same error", () => {
    expect(() => HttpServerTelemetry.middleware({ responseTraceContext: "no" as any })).toThrow(
      `HttpServerTelemetry: option responseTraceContext must be a boolean, got "no"`
    )
    expect(() => HttpServerTelemetry.make({} as HttpServer.HttpServer, { captureRequestHeaders: [1] as any })).toThrow(
      TelemetryOptionsError.TelemetryOptionsError
    )
  })
})

describe("HttpServerTelemetry.middleware in the caller's fiber", () => {
  it.effect("the server span is the app's parent, and the caller's context is back afterwards with the app's other fiber-ref changes kept", () =>
    Effect.gen(function*() {
      const seen = FiberRef.unsafeMake("unset")
      let inside: string | undefined
      const app = Effect.gen(function*() {
        inside = (yield* Effect.currentSpan).name
        yield* FiberRef.set(seen, "set by the app")
        return HttpServerResponse.text("ok")
      })
      const request = HttpServerRequest.fromWeb(new Request("http://127.0.0.1/orders"))
      const outer = yield* Effect.gen(function*() {
        const response = yield* HttpServerTelemetry.middleware()(app)
        expect(response.status).toBe(200)
        // Still in the caller's span: the middleware put the server span in the context and took it out.
        const after = yield* Effect.currentSpan
        expect(after.name).toBe("outer")
        expect(yield* FiberRef.get(seen)).toBe("set by the app")
        return after
      }).pipe(Effect.withSpan("outer"), Effect.provideService(HttpServerRequest.HttpServerRequest, request))
      expect(inside).toBe("GET")
      // A server span without a remote parent is a root, whatever span its caller runs in.
      const spans = yield* TestTelemetry.spans
      const server = spans.find((s) => TestTelemetry.kindOf(s) === "server")!
      expect(server.parentSpanContext).toBeUndefined()
      expect(spans.find((s) => s.name === "outer")!.spanContext().spanId).toBe(outer.spanId)
    }).pipe(withTelemetry))
})

describe("HttpServerTelemetry metric series", () => {
  it.scopedLive(
    "each outcome keeps its own series past the bound outcomes (600 routes), in both sinks",
    () =>
      Effect.gen(function*() {
        const routes = Array.from({ length: 600 }, (_, i) => `/r${i}` as const)
        const many = routes.reduce(
          (router, route) => HttpRouter.get(router, route, HttpServerResponse.text("r")),
          HttpRouter.empty
        )
        const base = yield* serve(HttpRouter.toHttpApp(many).pipe(Effect.runSync))
        for (const route of routes) yield* get(`${base}${route}`)
        // Again: the outcomes bound first and those past the bound ones both add to their series.
        yield* get(`${base}/r0`)
        yield* get(`${base}/r599`)
        const attributes = (route: string) => ({
          "http.request.method": "GET",
          "url.scheme": "http",
          "http.route": route,
          "http.response.status_code": 200,
          "network.protocol.version": "1.1"
        })
        for (const [route, count] of [["/r0", 2], ["/r300", 1], ["/r599", 2]] as const) {
          const point = yield* eventually(TestTelemetry.metricPoint("http.server.request.duration", attributes(route)))
          expect({ route, count: (point.value as { count: number }).count }).toEqual({ route, count })
          const size = yield* TestTelemetry.metricPoint("http.server.response.body.size", attributes(route))
          expect({ route, sum: (size.value as { sum: number }).sum }).toEqual({ route, sum: count })
        }
        const samples = TestTelemetry.parseExposition(yield* TestTelemetry.scrape()).filter((s) =>
          s.name === "http_server_request_duration_seconds_count"
        )
        expect(samples).toHaveLength(600)
        expect(samples.reduce((sum, s) => sum + s.value, 0)).toBe(602)
        expect(
          yield* TestTelemetry.metricValue("http.server.active_requests", {
            "http.request.method": "GET",
            "url.scheme": "http"
          })
        ).toBe(0)
      }).pipe(withTelemetry),
    60_000
  )
})
