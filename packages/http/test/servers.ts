/**
 * Real servers for the tests: `NodeHttpServer` on 127.0.0.1 with an ephemeral port, decorated by
 * `HttpServerTelemetry.layer`, living as long as the test's scope.
 */
import type { TelemetryOptionsError } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpServer from "@effect/platform/HttpServer"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import { createServer } from "node:http"
import { HttpServerTelemetry } from "../src/index.js"

const listen = NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })

/** The base URL of a server built from `serveLayer` (any layer that needs `HttpServer`). */
export const start = <E>(
  serveLayer: Layer.Layer<never, E, any>,
  options?: HttpServerTelemetry.Options
): Effect.Effect<string, E | TelemetryOptionsError.TelemetryOptionsError, Scope.Scope> =>
  startWith(serveLayer, HttpServerTelemetry.layer(options))

/** Like {@link start} with a given telemetry layer (`layerConfig`). */
export const startWith = <E, E2>(
  serveLayer: Layer.Layer<never, E, any>,
  telemetry: Layer.Layer<HttpServer.HttpServer, E2, HttpServer.HttpServer>
): Effect.Effect<string, E | E2, Scope.Scope> =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      serveLayer.pipe(
        Layer.provideMerge(telemetry),
        Layer.provideMerge(listen)
      ) as Layer.Layer<HttpServer.HttpServer, E | E2, never>
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("expected a TCP address")
    return `http://127.0.0.1:${address.port}`
  })

/** Serves one `HttpApp` (a router's app, an HttpApi app...). */
export const serve = <E, R>(app: HttpApp.Default<E, R>, options?: HttpServerTelemetry.Options) =>
  start(HttpServer.serve(app) as Layer.Layer<never, never, never>, options)

/**
 * Retries `effect` until it succeeds (about 3 s): spans end and metrics settle in the server
 * fiber just after the client has its response.
 */
export const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.retry(effect, Schedule.intersect(Schedule.spaced(Duration.millis(10)), Schedule.recurs(300)))

/** The one server span with this name, once it has ended. */
export const serverSpan = (name: string) => eventually(TestTelemetry.spanNamed(name))

/** Every attribute value of the spans, flattened to strings, for "never recorded" checks. */
export const allAttributeText = (spans: ReadonlyArray<ReadableSpan>) =>
  spans.flatMap((s) => [s.name, ...Object.entries(s.attributes).map(([k, v]) => `${k}=${String(v)}`)]).join("\n")
