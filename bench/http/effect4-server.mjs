/**
 * The same app (`GET /users/:id`, small JSON answer) on Effect 4 (effect 4.1.5,
 * @effect/platform-node 4.1.5) under Node 22: the peer the issue names, Effect 4's built-in
 * observability.
 *
 *   <node 22> bench/.scratch/effect4/effect4-server.mjs <effect4-off|effect4-observability> <port>
 *
 * Modules imported one by one: the package index also loads NodeRedis, whose `redis` peer is
 * not installed. Plain ESM, never bundled or typechecked with the workspace: Effect 4 is not a workspace
 * dependency. The driver (bench/effect4.ts) installs Effect 4 into bench/.scratch/effect4 and
 * copies this file there, so `effect` resolves to that install and not to the workspace's
 * Effect 3.
 *
 * - `effect4-off`: the router, the HTTP server span turned off (`TracerDisabledWhen`), no
 *   request logger: the baseline of the next row.
 * - `effect4-observability`: the router's server span on, `OtlpTracer` and `OtlpMetrics`
 *   (protobuf, `OtlpSerialization.layerProtobuf`) to the driver's OTLP sink (metrics every
 *   5 s), and `PrometheusMetrics.layerHttp` serving `/metrics` on the same router, scraped
 *   by the driver every second. Effect 4 records no HTTP metrics of its own.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Layer } from "effect"
import { FetchHttpClient, HttpMiddleware, HttpRouter, HttpServerResponse } from "effect/http"
import { OtlpMetrics, OtlpSerialization, OtlpTracer, PrometheusMetrics } from "effect/observability"
import { writeFileSync } from "node:fs"
import { createServer } from "node:http"
import * as Inspector from "node:inspector"

const variants = ["effect4-off", "effect4-observability"]
const variant = process.argv[2]
const port = Number(process.argv[3])
if (!variants.includes(variant) || !Number.isInteger(port)) {
  console.error(`usage: effect4-server.mjs <${variants.join("|")}> <port>`)
  process.exit(2)
}

const route = HttpRouter.add(
  "GET",
  "/users/:id",
  Effect.map(HttpRouter.params, (params) => HttpServerResponse.jsonUnsafe({ id: params.id, name: "Ada" }))
)

const platform = NodeHttpServer.layer(createServer, { host: "127.0.0.1", port })

const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "http://127.0.0.1:4318"
const resource = { serviceName: "bench-effect4" }

const observability = Layer.mergeAll(
  OtlpTracer.layer({ url: `${endpoint}/v1/traces`, resource }),
  OtlpMetrics.layer({ url: `${endpoint}/v1/metrics`, resource, exportInterval: "5 seconds" })
).pipe(Layer.provide(OtlpSerialization.layerProtobuf), Layer.provide(FetchHttpClient.layer))

const serve = variant === "effect4-off"
  ? HttpRouter.serve(route, { disableLogger: true, disableListenLog: true }).pipe(
    Layer.provide(Layer.succeed(HttpMiddleware.TracerDisabledWhen)(() => true)),
    Layer.provide(platform)
  )
  : HttpRouter.serve(Layer.mergeAll(route, PrometheusMetrics.layerHttp()), {
    disableLogger: true,
    disableListenLog: true
  }).pipe(
    Layer.provide(HttpMiddleware.layerTracerDisabledForUrls(["/metrics"])),
    Layer.provide(platform),
    Layer.provide(observability)
  )

// Steady-state profiling, as in server.ts: the driver sends SIGUSR2 once warmed up and again
// when the load ends.
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

NodeRuntime.runMain(Layer.launch(serve))
