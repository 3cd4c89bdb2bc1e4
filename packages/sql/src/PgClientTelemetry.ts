/**
 * {@link SqlTelemetry} for code that asks for `@effect/sql-pg`'s `PgClient` (listen/notify,
 * json helpers) as well as `SqlClient`: both tags get the same instrumented client.
 *
 * A module of its own, outside the package index, because `@effect/sql-pg` is an optional
 * peer: apps on another `@effect/sql` driver never load it, not even its types.
 *
 * @example
 * ```ts
 * import * as PgClientTelemetry from "@effect-telemetry/sql/PgClientTelemetry"
 * import { PgClient } from "@effect/sql-pg"
 * import { Config, Layer } from "effect"
 *
 * const Sql = PgClientTelemetry.layer().pipe(
 *   Layer.provide(PgClient.layerConfig({ url: Config.redacted("DATABASE_URL") }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import { TelemetryOptionsError } from "@effect-telemetry/core"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlTelemetry from "./SqlTelemetry.js"

/**
 * Replaces both `PgClient` and `SqlClient` with one instrumented client (the options of
 * {@link SqlTelemetry.Options}). Fails with a `TelemetryOptionsError` on a bad option.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options?: SqlTelemetry.Options
): Layer.Layer<
  PgClient.PgClient | SqlClient.SqlClient,
  TelemetryOptionsError.TelemetryOptionsError,
  PgClient.PgClient
> =>
  Layer.effectContext(
    Effect.flatMap(PgClient.PgClient, (client) =>
      Effect.map(
        TelemetryOptionsError.attempt(() => SqlTelemetry.make(client, options)),
        (instrumented) =>
          Context.make(PgClient.PgClient, instrumented).pipe(Context.add(SqlClient.SqlClient, instrumented))
      ))
  )

/**
 * {@link layer} with options read from Effect `Config`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<SqlTelemetry.Options>
): Layer.Layer<
  PgClient.PgClient | SqlClient.SqlClient,
  ConfigError.ConfigError | TelemetryOptionsError.TelemetryOptionsError,
  PgClient.PgClient
> => Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
