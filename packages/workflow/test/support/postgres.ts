// The real Postgres behind the cluster engine: availability, and a unique table prefix per
// test file whose tables are dropped afterwards.
import { TestServices } from "@effect-telemetry/testing"
import { PgClient } from "@effect/sql-pg"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import pg from "pg"

export const databaseUrl = TestServices.databaseUrl

const withClient = async <A>(f: (client: pg.Client) => Promise<A>): Promise<A> => {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3_000 })
  client.on("error", () => {})
  await client.connect()
  try {
    return await f(client)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Why the cluster tests cannot run here, or undefined. With CI=true a reason is a failure. */
export const unavailable = TestServices.required(
  "workflow cluster",
  await TestServices.probe(
    "Postgres",
    databaseUrl,
    () => withClient(async (client) => void (await client.query("select 1")))
  )
)

/** A table prefix no other run shares, so journals of earlier runs never answer this one. */
export const tablePrefix = `wf_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`

/** Drops every table this run's cluster storage created. */
export const dropTables = Effect.promise(() =>
  withClient(async (client) => {
    const { rows } = await client.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_name like $1",
      [`${tablePrefix}_%`]
    )
    for (const { table_name } of rows) await client.query(`drop table if exists "${table_name}" cascade`)
  })
)

export const PgLive = PgClient.layer({ url: Redacted.make(databaseUrl) })

/**
 * The activity requests the cluster journaled for one execution, as `name/attempt` in the
 * order they were stored, and the trace context stored with its `run` request.
 */
export const journal = (executionId: string) =>
  Effect.promise(() =>
    withClient(async (client) => {
      const activities = await client.query<{ payload: string }>(
        `select payload from "${tablePrefix}_messages" where entity_id = $1 and tag = 'activity' order by id`,
        [executionId]
      )
      const runs = await client.query<{ trace_id: string | null; span_id: string | null }>(
        `select trace_id, span_id from "${tablePrefix}_messages" where entity_id = $1 and tag = 'run'`,
        [executionId]
      )
      return {
        activities: activities.rows.map((row) => {
          const { attempt, name } = JSON.parse(row.payload) as { name: string; attempt: number }
          return `${name}/${attempt}`
        }),
        runs: runs.rows.map((row) => ({ traceId: row.trace_id, spanId: row.span_id }))
      }
    })
  )
