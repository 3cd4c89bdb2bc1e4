/**
 * The one-Layer install for a server and a client (typechecked with the workspace).
 */
import { Telemetry } from "@effect-telemetry/core"
import { HttpClientTelemetry, HttpServerTelemetry } from "@effect-telemetry/http"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { createServer } from "node:http"

const Routes = HttpRouter.Default.use((router) =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    yield* router.get("/health", HttpServerResponse.text("up"))
    yield* router.get(
      "/users/:id",
      Effect.gen(function*() {
        const { id } = yield* HttpRouter.params
        const profile = yield* Effect.flatMap(client.get(`http://profiles.internal/profiles/${id}`), (r) => r.text)
        return HttpServerResponse.text(profile)
      }).pipe(Effect.orDie)
    )
  })
)

const ServerLive = HttpRouter.Default.serve().pipe(
  Layer.provide(Routes),
  Layer.provide(HttpServerTelemetry.layer({ excludePaths: ["/health", "/metrics"] })),
  Layer.provide(NodeHttpServer.layer(createServer, { port: 3000 })),
  Layer.provide(HttpClientTelemetry.layer().pipe(Layer.provide(NodeHttpClient.layerUndici)))
)

ServerLive.pipe(
  Layer.provide(Telemetry.layer({ serviceName: "users" })),
  Layer.launch,
  NodeRuntime.runMain
)
