// The real Postgres the tests run against: its URL, whether it answers, the connection
// attributes a client of it reports, and a table unique to this run.
import { TestServices } from "@effect-telemetry/testing"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"

export const databaseUrl = TestServices.databaseUrl

/** A fresh, uninstrumented Postgres client layer. */
export const pgLayer = () => PgClient.layer({ url: Redacted.make(databaseUrl), connectTimeout: "3 seconds" })

/** Why the tests cannot run here, or undefined. With CI=true a reason is a failure. */
export const unavailable = TestServices.required(
  "sql",
  await TestServices.probe("Postgres", databaseUrl, () =>
    Effect.runPromise(
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`).pipe(
        Effect.provide(pgLayer()),
        Effect.timeout("5 seconds"),
        Effect.asVoid
      )
    ))
)

const url = new URL(databaseUrl)

/** The connection attributes every statement's metrics carry, derived from the URL. */
export const connection = {
  "db.system.name": "postgresql",
  "db.namespace": decodeURIComponent(url.pathname.slice(1)) || decodeURIComponent(url.username) || "postgres",
  "server.address": url.hostname || "localhost",
  "server.port": url.port === "" ? 5432 : Number(url.port)
} as const

/** A table name no other run uses. */
export const uniqueTable = (label: string) => TestServices.uniqueName(`sqltel_${label}`)

/** Creates `table (id int primary key, name text)` with an uninstrumented client, and drops it with the scope. */
export const withTable = (table: string) =>
  Effect.acquireRelease(
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql`CREATE TABLE ${sql(table)} (id int PRIMARY KEY, name text)`).pipe(
      Effect.provide(pgLayer()),
      Effect.orDie,
      // Fixture statements are not part of what a test observes.
      Effect.withTracerEnabled(false)
    ),
    () =>
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP TABLE IF EXISTS ${sql(table)}`).pipe(
        Effect.provide(pgLayer()),
        Effect.orDie,
        Effect.withTracerEnabled(false)
      )
  )
