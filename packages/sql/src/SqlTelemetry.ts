/**
 * Telemetry for `@effect/sql`: a Layer that replaces the `SqlClient` it is given with an
 * instrumented one. Every statement (yielded, `raw`, `values`, `unprepared`,
 * `withoutTransform`, `stream`, inside `withTransaction` or not) records
 * `db.client.operation.duration` and `db.client.operations`, and runs in one Client span named
 * `{db.operation.name} {db.collection.name}` whose `db.query.text` holds placeholders, never
 * parameter values. `withTransaction` becomes a `transaction` span, parent of its statements.
 *
 * @example
 * ```ts
 * import { SqlTelemetry } from "@effect-telemetry/sql"
 * import { PgClient } from "@effect/sql-pg"
 * import { Config, Layer } from "effect"
 *
 * // the one line: every SqlClient user below gets the instrumented client
 * const Sql = SqlTelemetry.layer().pipe(Layer.provide(PgClient.layerConfig({ url: Config.redacted("DATABASE_URL") })))
 * ```
 *
 * @since 0.1.0
 */
import { Instrumentation, TelemetryOptionsError } from "@effect-telemetry/core"
import type { Signals } from "@effect-telemetry/core"
import * as SqlClient from "@effect/sql/SqlClient"
import * as internal from "./internal/client.js"
import * as metrics from "./internal/metrics.js"
import * as internalSignals from "./internal/signals.js"

/** `db.client.operation.duration{db.system.name, db.namespace, server.address, server.port, db.operation.name, db.collection.name, error.type}`: histogram, seconds. @since 0.1.0 @category metrics */
export const operationDuration = metrics.operationDuration

/** `db.client.operations{…the duration's attributes, result}`: counter, `result` is `ok` or `error`. @since 0.1.0 @category metrics */
export const operations = metrics.operations

/** @since 0.1.0 @category models */
export interface Options {
  /** Client span per statement and a span per transaction (default `true`); metrics are recorded either way. */
  readonly spans?: boolean | undefined
  /** Record `db.query.text` (placeholders kept, literals as `?`) on statement spans (default `true`). */
  readonly queryText?: boolean | undefined
}

const resolve = (options: Options | undefined): internal.Options => ({
  spans: TelemetryOptionsError.boolean("SqlTelemetry", "spans", options?.spans, true),
  queryText: TelemetryOptionsError.boolean("SqlTelemetry", "queryText", options?.queryText, true)
})

/**
 * Wraps a client's service value; the result has the same type (a `PgClient` stays one).
 * Throws a `TelemetryOptionsError` on a non-boolean option.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <C extends SqlClient.SqlClient>(client: C, options?: Options): C =>
  internal.make(client, resolve(options))

/**
 * Replaces the `SqlClient` it is given with an instrumented one (by default spans and query
 * text on). Fails with a `TelemetryOptionsError` on a non-boolean option.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = Instrumentation.decorate<SqlClient.SqlClient, SqlClient.SqlClient, Options>(
  SqlClient.SqlClient,
  make
)

/**
 * {@link layer} with options read from Effect `Config`.
 *
 * @example
 * ```ts
 * SqlTelemetry.layerConfig({ spans: Config.boolean("SQL_SPANS").pipe(Config.withDefault(true)) })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = Instrumentation.decorateConfig<SqlClient.SqlClient, SqlClient.SqlClient, Options>(
  SqlClient.SqlClient,
  make
)

/**
 * Every span and metric this surface emits, with its attributes and meaning: the declaration
 * docs/SIGNALS.md is generated from.
 *
 * @since 0.1.0
 * @category signals
 */
export const signals: Signals.Catalogue = internalSignals.signals
