import { TestTelemetry } from "@effect-telemetry/testing"
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { HttpServerTelemetry } from "../src/index.js"
import { fullRoute } from "../src/internal/server.js"
import { eventually, serve, serverSpan, start } from "./servers.js"

const withTelemetry = Effect.provide(TestTelemetry.layer())
const fetchText = (url: string) =>
  Effect.promise(() => fetch(url).then(async (r) => ({ status: r.status, body: await r.text() })))

class UsersGroup extends HttpApiGroup.make("users").add(
  HttpApiEndpoint.get("get", "/users/:id")
    .setPath(Schema.Struct({ id: Schema.NumberFromString }))
    .addSuccess(Schema.String)
) {}
class Api extends HttpApi.make("api").add(UsersGroup) {}
const UsersLive = HttpApiBuilder.group(
  Api,
  "users",
  (handlers) => handlers.handle("get", ({ path }) => Effect.succeed(`user ${path.id}`))
)

describe("HttpServerTelemetry with each router", () => {
  it.scopedLive("HttpLayerRouter: a prefixed route is named by its full template", () =>
    Effect.gen(function*() {
      const routes = HttpLayerRouter.addAll([
        HttpLayerRouter.route("GET", "/orders/:id", HttpServerResponse.text("order"))
      ], { prefix: "/v1" })
      const base = yield* start(HttpLayerRouter.serve(routes, { disableListenLog: true, disableLogger: true }))
      expect((yield* fetchText(`${base}/v1/orders/7`)).body).toBe("order")
      const span = yield* serverSpan("GET /v1/orders/:id")
      expect(span.attributes["http.route"]).toBe("/v1/orders/:id")
    }).pipe(withTelemetry))

  it.scopedLive("HttpRouter.mount: the route carries the mount prefix", () =>
    Effect.gen(function*() {
      const inner = HttpRouter.empty.pipe(HttpRouter.get("/users/:id", HttpServerResponse.text("u")))
      const app = HttpRouter.empty.pipe(HttpRouter.mount("/api", inner), HttpRouter.toHttpApp, Effect.runSync)
      const base = yield* serve(app)
      expect((yield* fetchText(`${base}/api/users/9`)).body).toBe("u")
      const span = yield* serverSpan("GET /api/users/:id")
      expect(span.attributes["http.route"]).toBe("/api/users/:id")
    }).pipe(withTelemetry))

  it.scopedLive("HttpApi: endpoints are named by template; a schema failure (400) leaves the span unset", () =>
    Effect.gen(function*() {
      const serveLayer = HttpApiBuilder.serve().pipe(
        Layer.provide(HttpApiBuilder.api(Api).pipe(Layer.provide(UsersLive)))
      )
      const base = yield* start(serveLayer)
      expect((yield* fetchText(`${base}/users/5`)).body).toBe("\"user 5\"")
      expect((yield* fetchText(`${base}/users/not-a-number`)).status).toBe(400)
      const spans = yield* eventually(
        Effect.flatMap(
          TestTelemetry.spansNamed("GET /users/:id"),
          (s) => s.length === 2 ? Effect.succeed(s) : Effect.fail(s.length)
        )
      )
      const codes = spans.map((s) => s.attributes["http.response.status_code"]).sort()
      expect(codes).toEqual([200, 400])
      expect(spans.map(TestTelemetry.statusOf)).toEqual(["unset", "unset"])
    }).pipe(withTelemetry))

  it.scopedLive("the platform's withTracerDisabledWhen predicate still excludes requests", () =>
    Effect.gen(function*() {
      const app = HttpRouter.empty.pipe(
        HttpRouter.get("/internal", HttpServerResponse.text("i")),
        HttpRouter.get("/ok", HttpServerResponse.text("ok")),
        HttpRouter.toHttpApp,
        Effect.runSync
      )
      const base = yield* start(
        HttpServer.serve(app).pipe(HttpMiddleware.withTracerDisabledWhen((request) => request.url === "/internal"))
      )
      yield* fetchText(`${base}/internal`)
      yield* fetchText(`${base}/ok`)
      yield* serverSpan("GET /ok")
      expect((yield* TestTelemetry.spans).map((s) => s.name)).toEqual(["GET /ok"])
    }).pipe(withTelemetry))
})

describe("fullRoute", () => {
  it("prefixes a mounted template with the literal mount segments", () => {
    expect(fullRoute("/users/:id", "/api/users/9")).toBe("/api/users/:id")
    expect(fullRoute("/", "/api")).toBe("/api")
    expect(fullRoute("/users/:id", "/users/9")).toBe("/users/:id")
    expect(fullRoute("/files/*", "/api/files/a/b/c")).toBe("/files/*")
  })

  it("counts segments, not slashes: empty segments and a trailing slash add no prefix; deep mounts keep every segment", () => {
    expect(fullRoute("/users/:id", "//users//9/")).toBe("/users/:id")
    expect(fullRoute("/users/:id", "/users/9/")).toBe("/users/:id")
    expect(fullRoute("/users/:id", "/v1//api/users/9")).toBe("/v1/api/users/:id")
    expect(fullRoute("/", "/")).toBe("/")
    expect(fullRoute("/users/:id", "/users")).toBe("/users/:id")
    // The same template under two mounts: the cached count serves both.
    expect(fullRoute("/users/:id", "/a/b/users/9")).toBe("/a/b/users/:id")
    expect(fullRoute("/users/:id", "/c/users/9")).toBe("/c/users/:id")
  })
})

describe("HttpServerTelemetry.middleware under a web handler", () => {
  const router = HttpRouter.empty.pipe(HttpRouter.get("/users/:id", HttpServerResponse.text("user")))

  const serverSpansAfter = (layer: Layer.Layer<TestTelemetry.TestTelemetry>) =>
    Effect.gen(function*() {
      const runtime = yield* Layer.toRuntime(layer)
      // As the handler's middleware (not wrapped around the app): only there does it see the
      // final response, error responses included, and add its trace context.
      const handler = HttpApp.toWebHandlerRuntime(runtime)(router, HttpServerTelemetry.middleware())
      for (let i = 0; i < 3; i++) {
        const response = yield* Effect.promise(() => handler(new Request(`http://127.0.0.1/users/${i}`)))
        expect(yield* Effect.promise(() => response.text())).toBe("user")
        expect(response.headers.get("traceparent")).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
      }
      const spans = yield* TestTelemetry.spans.pipe(Effect.provide(runtime))
      return spans.filter((span) => TestTelemetry.kindOf(span) === "server").map((span) => span.name)
    })

  it.scopedLive("with platformTracerOff each request is exactly one server span, named by its route", () =>
    Effect.gen(function*() {
      const names = yield* serverSpansAfter(Layer.merge(TestTelemetry.layer(), HttpServerTelemetry.platformTracerOff))
      expect(names).toEqual(["GET /users/:id", "GET /users/:id", "GET /users/:id"])
    }))

  it.scopedLive("HttpMiddleware.withTracerDisabledWhen on the layer does not reach the handler: two server spans each", () =>
    Effect.gen(function*() {
      const names = yield* serverSpansAfter(HttpMiddleware.withTracerDisabledWhen(TestTelemetry.layer(), () => true))
      expect(names).toHaveLength(6)
    }))
})
