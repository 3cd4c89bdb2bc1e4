// The real Postgres the tests stream from: availability, SQL, and a fixture of unique slot,
// publication and table names that is dropped afterwards.
import { TestServices } from "@effect-telemetry/testing"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import pg from "pg"

export const databaseUrl = TestServices.databaseUrl

/** Why the tests cannot run here, or undefined. With CI=true a reason is a failure. */
export const unavailable = TestServices.required(
  "cdc",
  await TestServices.probe("Postgres", databaseUrl, async () => {
    const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3_000 })
    client.on("error", () => {})
    try {
      await client.connect()
      const level = (await client.query<{ wal_level: string }>("show wal_level")).rows[0]?.wal_level
      if (level !== "logical") return `wal_level is ${level}; run scripts/cdc-postgres-setup.sh`
      return undefined
    } finally {
      await client.end().catch(() => undefined)
    }
  })
)

export const query = <R extends pg.QueryResultRow = pg.QueryResultRow>(
  text: string,
  params: ReadonlyArray<unknown> = []
): Effect.Effect<ReadonlyArray<R>> =>
  Effect.promise(async () => {
    const client = new pg.Client({ connectionString: databaseUrl })
    client.on("error", () => {})
    await client.connect()
    try {
      return (await client.query<R>(text, params as Array<unknown>)).rows
    } finally {
      await client.end()
    }
  })

export interface Fixture {
  readonly slot: string
  readonly publication: string
  readonly table: string
}

/** Unique names, a table `(id int primary key, name text, amount int8, at timestamptz)`, all dropped at the end. */
export const fixture = Effect.acquireRelease(
  Effect.gen(function*() {
    const id = `${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`
    const names: Fixture = { slot: `cdc_slot_${id}`, publication: `cdc_pub_${id}`, table: `cdc_t_${id}` }
    yield* query(`create table ${names.table} (id int primary key, name text, amount int8, at timestamptz)`)
    return names
  }),
  (names) =>
    Effect.gen(function*() {
      yield* terminateSlotBackend(names.slot)
      yield* Effect.retry(
        query(
          "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1 and not active",
          [names.slot]
        ).pipe(
          Effect.zipRight(query("select 1 from pg_replication_slots where slot_name = $1", [names.slot])),
          Effect.flatMap((rows) => rows.length === 0 ? Effect.void : Effect.fail("slot still present"))
        ),
        { times: 100, schedule: Schedule.spaced("20 millis") }
      ).pipe(Effect.ignore)
      yield* query(`drop publication if exists ${names.publication}`)
      yield* query(`drop table if exists ${names.table}`)
    })
)

/** Terminates the walsender streaming from `slot`, if any, and waits for it to exit. */
export const terminateSlotBackend = (slot: string) =>
  query(
    `select pg_terminate_backend(s.active_pid, 5000) from pg_replication_slots s
     join pg_stat_activity a on a.pid = s.active_pid where s.slot_name = $1 and a.backend_type = 'walsender'`,
    [slot]
  )

/** Waits until a consumer streams from `slot` (changes made after this are captured). */
export const awaitActive = (slot: string) =>
  // A walsender, not the backend that is still creating the slot (it holds it meanwhile).
  query(
    `select 1 from pg_replication_slots s join pg_stat_activity a on a.pid = s.active_pid
     where s.slot_name = $1 and a.backend_type = 'walsender'`,
    [slot]
  ).pipe(
    Effect.flatMap((rows) => rows.length === 1 ? Effect.void : Effect.fail(`slot ${slot} not streaming`)),
    Effect.retry({ times: 500, schedule: Schedule.spaced("20 millis") }),
    Effect.orDie
  )

/** The slot's confirmed position (`confirmed_flush_lsn`) as Postgres prints it. */
export const confirmedFlush = (slot: string) =>
  Effect.map(
    query<{ lsn: string | null }>(
      "select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1",
      [
        slot
      ]
    ),
    (rows) => rows[0]?.lsn ?? undefined
  )
