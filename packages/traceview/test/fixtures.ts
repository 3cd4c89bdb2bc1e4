import { Logging, Propagation, TelemetryConfig, TelemetryResource, Tracing } from "@effect-telemetry/core"
import { NodeHttpServer } from "@effect/platform-node"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"
import { TraceView } from "../src/index.js"

/**
 * The production install path: `Tracing.layer` and `Logging.layer` (the ones `Telemetry.layer`
 * uses) with `TraceView.layer` provided to them, no exporter.
 */
export const telemetry = (options?: TraceView.Options, overrides?: TelemetryConfig.Overrides) =>
  Layer.mergeAll(Tracing.layer(), Logging.layer(), Propagation.layer()).pipe(
    Layer.provideMerge(TraceView.layer(options)),
    Layer.provideMerge(TelemetryResource.layer()),
    Layer.provideMerge(
      TelemetryConfig.layerStatic({
        serviceName: "traceview-test",
        tracesExporter: "none",
        logsExporter: "none",
        ...overrides
      })
    )
  )

/** Serves `router` on 127.0.0.1 with an ephemeral port; yields the base URL. */
export const serve = <E, R>(router: HttpRouter.HttpRouter<E, R>, options?: { readonly traced?: boolean }) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      HttpServer.serve(router).pipe(
        HttpMiddleware.withTracerDisabledWhen(() => options?.traced !== true),
        Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
      )
    )
    const server = Effect.runSync(Effect.provide(HttpServer.HttpServer, context))
    const address = server.address as HttpServer.TcpAddress
    return `http://127.0.0.1:${address.port}`
  })

/** The viewer mounted at `prefix` (default `/traces`), its own requests untraced (as an app should exclude them). */
export const serveViewer = (prefix: `/${string}` = "/traces") =>
  Effect.flatMap(
    TraceView.TraceView,
    (service) =>
      serve(
        HttpRouter.empty.pipe(
          HttpRouter.mount(prefix, TraceView.router),
          HttpRouter.provideService(TraceView.TraceView, service)
        )
      )
  )

export const get = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url, { redirect: "manual" })
    return { status: response.status, headers: response.headers, body: await response.text() }
  })
