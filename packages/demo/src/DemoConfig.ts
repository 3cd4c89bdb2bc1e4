/**
 * What the demo reads from its environment, beside the standard `OTEL_*` variables that
 * `Telemetry.layer` reads: where its services are. Unset means embedded (an in-process
 * Postgres, in-memory KV and queue), so `npm start` works on a machine with no services.
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"

/** @since 0.1.0 @category models */
export interface DemoConfig {
  /** HTTP port of the API (`PORT`, default 8080; 0 picks a free port). */
  readonly port: number
  readonly host: string
  /** `DATABASE_URL`; none → embedded Postgres with wal_level=logical. */
  readonly databaseUrl: Option.Option<string>
  /** `REDIS_URL`; none → in-memory KeyValueStore. */
  readonly redisUrl: Option.Option<string>
  /** `AMQP_URL`; none → in-memory queue. */
  readonly amqpUrl: Option.Option<string>
  /** `TRACE_VIEW` (default on unless NODE_ENV=production). */
  readonly traceView: boolean
  /** `REPORT_INTERVAL`: time between the background order reports (default 15 seconds). */
  readonly reportInterval: Duration.Duration
  /** `KV_TTL`: how long a cache entry or audit record is kept (default 10 minutes). */
  readonly kvTtl: Duration.Duration
  /** `KV_CAPACITY`: most KV keys kept; the oldest go first (default 10,000). */
  readonly kvCapacity: number
}

/** @since 0.1.0 @category tags */
export class DemoConfigTag extends Context.Tag("@effect-telemetry/demo/DemoConfig")<DemoConfigTag, DemoConfig>() {}

const optionalUrl = (name: string) =>
  Config.option(Config.string(name)).pipe(Config.map(Option.filter((url) => url.trim() !== "")))

/** @since 0.1.0 @category config */
export const config: Config.Config<DemoConfig> = Config.all({
  port: Config.integer("PORT").pipe(Config.withDefault(8080)),
  host: Config.string("HOST").pipe(Config.withDefault("127.0.0.1")),
  databaseUrl: optionalUrl("DATABASE_URL"),
  redisUrl: optionalUrl("REDIS_URL"),
  amqpUrl: optionalUrl("AMQP_URL"),
  traceView: Config.all({
    explicit: Config.option(Config.boolean("TRACE_VIEW")),
    env: Config.string("NODE_ENV").pipe(Config.withDefault("development"))
  }).pipe(Config.map(({ env, explicit }) => Option.getOrElse(explicit, () => env !== "production"))),
  reportInterval: Config.duration("REPORT_INTERVAL").pipe(Config.withDefault(Duration.seconds(15))),
  kvTtl: Config.duration("KV_TTL").pipe(Config.withDefault(Duration.minutes(10))),
  kvCapacity: Config.integer("KV_CAPACITY").pipe(
    Config.validate({ message: "KV_CAPACITY must be at least 1", validation: (n) => n >= 1 }),
    Config.withDefault(10_000)
  )
})

/** @since 0.1.0 @category layers */
export const layer = Layer.effect(DemoConfigTag, config)
