/**
 * The demo as one Layer, so the tests can start it in process on a free port.
 *
 * @since 0.1.0
 */
import { Cdc, CdcChange } from "@effect-telemetry/cdc"
import type { TelemetryConfig } from "@effect-telemetry/core"
import { Telemetry } from "@effect-telemetry/core"
import { HttpServerTelemetry } from "@effect-telemetry/http"
import { KvTelemetry } from "@effect-telemetry/kv"
import * as RedisKeyValueStore from "@effect-telemetry/kv/RedisKeyValueStore"
import { CommandTelemetry, ProcessTelemetry } from "@effect-telemetry/process"
import { SqlTelemetry } from "@effect-telemetry/sql"
import { TraceView } from "@effect-telemetry/traceview"
import { WorkflowTelemetry } from "@effect-telemetry/workflow"
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as Runners from "@effect/cluster/Runners"
import * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import { NodeHttpServer } from "@effect/platform-node"
import * as HttpServer from "@effect/platform/HttpServer"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import { PgClient } from "@effect/sql-pg"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { createServer } from "node:http"
import * as Background from "./Background.js"
import * as Database from "./Database.js"
import * as DemoConfig from "./DemoConfig.js"
import * as ExpiringStore from "./ExpiringStore.js"
import * as Http from "./Http.js"
import * as OrderEvents from "./OrderEvents.js"
import * as Orders from "./Orders.js"

/** @since 0.1.0 @category models */
export interface Options {
  /** Telemetry overrides (tests pass in-memory friendly ones). */
  readonly telemetry?: TelemetryConfig.Overrides | undefined
  /** Print where to look once started. Default true. */
  readonly banner?: boolean | undefined
}

// The demo's defaults when the environment says nothing: Prometheus on, OTLP only when an
// endpoint is configured. Anything set in the environment wins.
const demoDefaults = (): TelemetryConfig.Overrides => {
  const env = process.env
  const otlp = env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined
  return {
    serviceName: env.OTEL_SERVICE_NAME ?? "effect-telemetry-demo",
    ...(env.OTEL_METRICS_EXPORTER === undefined
      ? { metricsExporters: otlp ? ["prometheus", "otlp"] : ["prometheus"] }
      : {}),
    ...(env.OTEL_TRACES_EXPORTER === undefined ? { tracesExporter: otlp ? "otlp" : "none" } : {}),
    // Logs follow the traces: without an endpoint they would go to localhost:4318 and be retried.
    ...(env.OTEL_LOGS_EXPORTER === undefined
      ? { logsExporter: otlp || env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT !== undefined ? "otlp" : "none" }
      : {})
  }
}

const SqlLive = Layer.unwrapEffect(
  Effect.map(
    Database.DatabaseUrl,
    ({ url }) => SqlTelemetry.layer().pipe(Layer.provide(PgClient.layer({ url: Redacted.make(url) })))
  )
)

// Cache entries and audit records expire (KV_TTL, at most KV_CAPACITY keys), beneath the
// telemetry layer so the expiry's removals make no spans.
const KvLive = Layer.unwrapEffect(
  Effect.map(DemoConfig.DemoConfigTag, (config) =>
    KvTelemetry.layer({ namespace: "orders" }).pipe(
      Layer.provide(ExpiringStore.layer({ timeToLive: config.kvTtl, capacity: config.kvCapacity })),
      Layer.provide(
        Option.match(config.redisUrl, {
          onNone: () => KeyValueStore.layerMemory,
          onSome: (url) => Layer.orDie(RedisKeyValueStore.layer({ url, prefix: "effect-telemetry-demo:" }))
        })
      )
    ))
)

// The durable engine users deploy: @effect/cluster's workflow engine on a single runner,
// journaled in the demo's Postgres (tables `cluster_*`); SingleRunner.layer's composition with
// two changes. Not WorkflowEngine.layerMemory: it keeps every execution and activity result
// for the life of the process.
// - The cluster's storage gets its own pool, instrumented without spans: its polls and lock
//   refreshes would otherwise be a root trace every few seconds (its statements still count
//   in the SQL metrics). Without query text too: the message poll is generated with a new
//   text each time, and SqlTelemetry keeps the attributes of up to 2,000 statement texts;
//   with the text among them that was ~50 MiB (a sawtooth of the heap) for spans never made.
//   That pool is given to the storage layers only: entities run with the context Sharding was
//   built in, so a SqlClient there would replace the app's in the workflow's activities, and
//   their SQL spans would be lost.
// - The sharding config is set here, not read by ShardingConfig.layerFromEnv: that one reads
//   HOST and PORT, the demo's own variables, as the runner's address. Shard locks live in the
//   `cluster_locks` table instead of Postgres advisory locks, whose numbers ignore the table
//   prefix: on a shared DATABASE_URL another cluster (the workflow tests') would take the
//   demo's shards.
const ClusterLive = Layer.unwrapEffect(Effect.map(Database.DatabaseUrl, ({ url }) => {
  const storageSql = SqlTelemetry.layer({ spans: false, queryText: false }).pipe(
    Layer.provide(PgClient.layer({ url: Redacted.make(url) }))
  )
  return Sharding.layer.pipe(
    Layer.provideMerge(Runners.layerNoop),
    Layer.provideMerge(SqlMessageStorage.layer.pipe(Layer.provide(storageSql))),
    Layer.provide([Layer.orDie(SqlRunnerStorage.layer.pipe(Layer.provide(storageSql))), RunnerHealth.layerNoop]),
    Layer.provide(ShardingConfig.layer({ shardLockDisableAdvisory: true }))
  )
}))

const WorkflowLive = Orders.FulfilmentLive.pipe(
  Layer.provideMerge(
    WorkflowTelemetry.layer().pipe(Layer.provide(ClusterWorkflowEngine.layer), Layer.provide(ClusterLive))
  )
)

const HttpLive = Layer.unwrapEffect(Effect.map(DemoConfig.DemoConfigTag, (config) =>
  HttpServer.serve(Http.router).pipe(
    Layer.provide(HttpServerTelemetry.layer({ excludePaths: ["/health", "/metrics", /^\/traces/] })),
    // NodeHttpServer.layer brings Node's CommandExecutor; the handlers get the traced one over it.
    Layer.provide(CommandTelemetry.layer()),
    Layer.provideMerge(NodeHttpServer.layer(createServer, { port: config.port, host: config.host }))
  )))

// Background work: the order-event consumer, a CDC consumer of the orders table, and a
// report every REPORT_INTERVAL, each a named process with its own span.
const WorkersLive = Layer.scopedDiscard(Effect.gen(function*() {
  const { url } = yield* Database.DatabaseUrl
  const config = yield* DemoConfig.DemoConfigTag
  yield* Orders.migrate
  yield* OrderEvents.consume((order) => Orders.Fulfilment.execute({ id: order.id }, { discard: true })).pipe(
    ProcessTelemetry.forkScoped("order-consumer")
  )
  yield* Cdc.run(
    { connectionString: Redacted.make(url), slot: "demo_orders", publication: "demo_orders", tables: ["demo_orders"] },
    (transaction) =>
      Effect.forEach(
        transaction.changes,
        (change) =>
          CdcChange.$is("Insert")(change)
            ? Effect.logDebug(`cdc: order ${String(change.new["id"])} inserted`)
            : Effect.void
      )
  ).pipe(Effect.retry(Schedule.spaced("1 second")), ProcessTelemetry.forkScoped("cdc-consumer"))
  yield* Orders.countByStatus().pipe(
    Effect.tap((rows) => Effect.logDebug(`orders by status: ${JSON.stringify(rows)}`)),
    ProcessTelemetry.repeat("order-report", Schedule.spaced(config.reportInterval)),
    Effect.forkScoped
  )
}))

const Banner = Layer.effectDiscard(Effect.gen(function*() {
  const config = yield* DemoConfig.DemoConfigTag
  const database = yield* Database.DatabaseUrl
  const { config: telemetry } = yield* Telemetry.Telemetry
  const server = yield* HttpServer.HttpServer
  const address = server.address._tag === "TcpAddress"
    ? `http://${server.address.hostname}:${server.address.port}`
    : "?"
  const lines = [
    `effect-telemetry demo listening on ${address}`,
    `  database   ${database.embedded ? "embedded Postgres (wal_level=logical)" : "DATABASE_URL"}`,
    `  kv         ${Option.isSome(config.redisUrl) ? "Redis (REDIS_URL)" : "in memory"}`,
    `  queue      ${Option.isSome(config.amqpUrl) ? "RabbitMQ (AMQP_URL)" : "in memory"}`,
    `  traces     ${telemetry.tracesExporter === "otlp" ? telemetry.otlpTraces.url : telemetry.tracesExporter}` +
    `${config.traceView ? `; trace view at ${address}/traces` : ""}`,
    `  metrics    ${address}/metrics` +
    (telemetry.metricsExporters.includes("prometheus")
      ? `, http://${telemetry.prometheusHost}:${telemetry.prometheusPort}/metrics`
      : "") +
    (telemetry.metricsExporters.includes("otlp") ? `, OTLP ${telemetry.otlpMetrics.url}` : ""),
    ...Http.endpoints.map(([method, path, what]) => `  ${method.padEnd(5)} ${path.padEnd(12)} ${what}`),
    `  load:  npm run load -- --url ${address} --duration 30`
  ]
  yield* Effect.sync(() => console.log(lines.join("\n")))
}))

/**
 * The whole demo. Telemetry is outermost, so it is the last to close: everything the other
 * layers emit while shutting down is still exported.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options) => {
  const services = Layer.mergeAll(SqlLive, KvLive, OrderEvents.layer, Background.layer)
  const app = Layer.mergeAll(HttpLive, WorkersLive).pipe(Layer.provideMerge(WorkflowLive), Layer.provideMerge(services))
  const withBanner = options?.banner === false ? app : Layer.provideMerge(Banner, app)
  // The trace view's span processor joins the tracer, so it is built before Telemetry.
  const traceView = Layer.unwrapEffect(
    Effect.map(DemoConfig.DemoConfigTag, (config) => TraceView.layer({ enabled: config.traceView }))
  )
  return withBanner.pipe(
    Layer.provideMerge(Database.layer),
    Layer.provideMerge(Telemetry.layer({ ...demoDefaults(), ...options?.telemetry })),
    Layer.provideMerge(traceView),
    Layer.provideMerge(DemoConfig.layer)
  )
}
