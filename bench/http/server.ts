/**
 * The benchmarked app, one variant per process so that no variant's background work (batch
 * export, metric collection) runs beside another's measurement.
 *
 *   node --import tsx bench/http/server.ts <variant> <port>
 *
 * Every variant serves the same HttpRouter app (`GET /users/:id` answering a small JSON
 * body); they differ only in the telemetry composed around it. Exporters read the standard
 * `OTEL_*` variables the driver sets (a local OTLP sink, a Prometheus port).
 */
import { Telemetry } from "@effect-telemetry/core"
import { HttpServerTelemetry } from "@effect-telemetry/http"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto"
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { writeFileSync } from "node:fs"
import { createServer } from "node:http"
import * as Inspector from "node:inspector"
import * as SpanFloor from "./spanFloor.js"
import * as StandIns from "./standIns.js"
import * as Variants from "./variants.js"

const variant = process.argv[2] as Variants.Variant
const port = Number(process.argv[3])
if (!Variants.all.includes(variant) || !Number.isInteger(port)) {
  console.error(`usage: server.ts <${Variants.all.join("|")}> <port>`)
  process.exit(2)
}

const app = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/users/:id",
    Effect.map(HttpRouter.params, (params) => HttpServerResponse.unsafeJson({ id: params.id, name: "Ada" }))
  )
)

const platform = NodeHttpServer.layer(createServer, { host: "127.0.0.1", port })

// The bare router's server with the platform's span off, in a runtime holding `runtime`'s output.
const bare = (runtime: Layer.Layer<never>): Layer.Layer<never> =>
  HttpServer.serve(app).pipe(
    HttpMiddleware.withTracerDisabledWhen(() => true),
    Layer.provide(platform),
    Layer.provide(runtime),
    Layer.orDie
  )

const standInServices = variant === "off-services" ? await StandIns.oursServices() : 0

const serve: Layer.Layer<never, never, never> = (() => {
  switch (variant) {
    case "off":
      // The baseline: the router alone, the platform's own server span turned off.
      return bare(Layer.empty)
    case "off-refs":
      // The baseline with a tracer and a logger installed (the floor's fiber refs, no middleware):
      // what any app with a tracer and a logger pays per request before a span is made.
      return bare(SpanFloor.refs())
    case "off-services":
      // The baseline with as many (unused) services in the app's context as our layers add.
      return bare(StandIns.services(standInServices))
    case "platform-native":
      // The platform's server span on Effect's built-in tracer, exported nowhere.
      return HttpServer.serve(app).pipe(Layer.provide(platform), Layer.orDie)
    case "span-floor":
      // The least a span middleware costs (see spanFloor.ts): what ours records comes on top.
      return Layer.scopedDiscard(SpanFloor.serveEffect(app)).pipe(
        Layer.provide(platform),
        Layer.provide(SpanFloor.refs()),
        Layer.orDie
      )
    case "effect-otel":
      // The usual do-it-yourself stack: platform span, @effect/opentelemetry, OTLP batch export.
      return HttpServer.serve(app).pipe(
        Layer.provide(platform),
        Layer.provide(NodeSdk.layer(() => ({
          resource: { serviceName: "bench-effect-otel" },
          spanProcessor: new BatchSpanProcessor(
            new OTLPTraceExporter({ url: `${process.env.OTEL_EXPORTER_OTLP_ENDPOINT}/v1/traces` })
          )
        }))),
        Layer.orDie
      )
    case "ours":
    case "ours-unsampled":
      // Our full telemetry; the unsampled variant differs only by OTEL_TRACES_SAMPLER=always_off.
      return HttpServer.serve(app).pipe(
        Layer.provide(HttpServerTelemetry.layer({ excludePaths: ["/metrics"] })),
        Layer.provide(platform),
        Layer.provide(Telemetry.layer({ serviceName: "bench-ours" })),
        Layer.orDie
      )
  }
})()

// Steady-state profiling: the driver sends SIGUSR2 once warmed up and again when the load
// ends, so start-up (module compilation) stays out of the profile.
const profilePath = process.env.BENCH_CPU_PROFILE
if (profilePath !== undefined && profilePath !== "") {
  const session = new Inspector.Session()
  session.connect()
  let running = false
  process.on("SIGUSR2", () => {
    if (!running) {
      running = true
      session.post("Profiler.enable", () => session.post("Profiler.start"))
    } else {
      session.post("Profiler.stop", (error, result) => {
        writeFileSync(profilePath, error ? "" : JSON.stringify(result.profile))
      })
    }
  })
}

NodeRuntime.runMain(Layer.launch(serve), { disablePrettyLogger: true })
