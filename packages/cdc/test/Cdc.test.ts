import { Cdc, type CdcChange, type CdcError } from "@effect-telemetry/cdc"
import { TelemetryOptionsError } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import {
  awaitActive,
  confirmedFlush,
  databaseUrl,
  type Fixture,
  fixture,
  query,
  terminateSlotBackend,
  unavailable
} from "./postgres.js"

const optionsFor = (f: Fixture, overrides: Partial<Cdc.Options> = {}): Cdc.Options => ({
  connectionString: databaseUrl,
  slot: f.slot,
  publication: f.publication,
  tables: [f.table],
  retainedWalInterval: "100 millis",
  ...overrides
})

const lsnValue = (lsn: string) => {
  const [high, low] = lsn.split("/")
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`)
}

const insertedIds = (transactions: ReadonlyArray<CdcChange.Transaction>) =>
  transactions.flatMap((tx) => tx.changes.flatMap((c) => (c._tag === "Insert" ? [c.new.id] : [])))

/** Consumes `count` transactions through `Cdc.process` in a background fiber; starts once the slot is active. */
const consume = (options: Cdc.Options, count: number) =>
  Effect.gen(function*() {
    const fiber = yield* Cdc.stream(options).pipe(
      Cdc.process((tx) => Effect.succeed(tx)),
      Stream.take(count),
      Stream.runCollect,
      Effect.map(Chunk.toReadonlyArray),
      Effect.fork
    )
    // A consumer with nothing left to wait for may finish before it is ever seen active.
    yield* Effect.race(awaitActive(options.slot), Fiber.await(fiber))
    return fiber
  })

const cdcErrorOf = <A>(exit: Exit.Exit<A, unknown>): CdcError.CdcError | undefined =>
  Exit.isFailure(exit)
    ? Option.getOrUndefined(Cause.failureOption(exit.cause)) as CdcError.CdcError | undefined
    : undefined

describe.skipIf(unavailable !== undefined)("Cdc (real Postgres, logical replication)", () => {
  it.scopedLive("inserts, updates, deletes and truncates arrive in commit order with decoded columns and commit LSNs", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      const fiber = yield* consume(optionsFor(f), 4)
      yield* query(
        `insert into ${f.table} values (1, 'a', 10, '2024-01-02T03:04:05Z'), (2, 'b', 9007199254740993, null), (3, 'c', 30, null)`
      )
      yield* query(`update ${f.table} set name = 'a2' where id = 1`)
      yield* query(`delete from ${f.table} where id = 2`)
      yield* query(`truncate ${f.table}`)
      const txs = yield* Fiber.join(fiber)

      expect(txs.map((tx) => tx.changes.map((c) => c._tag))).toEqual([
        ["Insert", "Insert", "Insert"],
        ["Update"],
        ["Delete"],
        ["Truncate"]
      ])
      const [inserts, update, del, truncate] = txs as [
        CdcChange.Transaction,
        CdcChange.Transaction,
        CdcChange.Transaction,
        CdcChange.Transaction
      ]
      const first = inserts.changes[0] as CdcChange.Insert
      expect(first.relation.schema).toBe("public")
      expect(first.relation.table).toBe(f.table)
      expect(first.relation.columns.map((c) => [c.name, c.key])).toEqual([
        ["id", true],
        ["name", false],
        ["amount", false],
        ["at", false]
      ])
      // pg's parsers: int4 a number, int8 a string (no precision loss), timestamptz a Date.
      expect(first.new).toEqual({ id: 1, name: "a", amount: "10", at: new Date("2024-01-02T03:04:05Z") })
      expect((inserts.changes[1] as CdcChange.Insert).new.amount).toBe("9007199254740993")
      expect((update.changes[0] as CdcChange.Update).new).toMatchObject({ id: 1, name: "a2" })
      expect((del.changes[0] as CdcChange.Delete).old).toEqual({ id: 2 })
      expect((truncate.changes[0] as CdcChange.Truncate).relations.map((r) => r.table)).toEqual([f.table])

      for (const tx of txs) {
        expect(tx.slot).toBe(f.slot)
        for (const change of tx.changes) expect(change.commitLsn).toBe(tx.commitLsn)
        expect(lsnValue(tx.endLsn)).toBeGreaterThan(lsnValue(tx.commitLsn))
      }
      for (let i = 1; i < txs.length; i++) {
        expect(lsnValue(txs[i]!.commitLsn)).toBeGreaterThan(lsnValue(txs[i - 1]!.commitLsn))
        expect(txs[i]!.xid).toBeGreaterThan(txs[i - 1]!.xid)
      }

      const table = `public.${f.table}`
      const attrs = (operation: string) => ({ "cdc.slot": f.slot, "cdc.table": table, "cdc.operation": operation })
      expect(yield* TestTelemetry.metricValue("cdc.changes", attrs("insert"))).toBe(3)
      expect(yield* TestTelemetry.metricValue("cdc.changes", attrs("update"))).toBe(1)
      expect(yield* TestTelemetry.metricValue("cdc.changes", attrs("delete"))).toBe(1)
      expect(yield* TestTelemetry.metricValue("cdc.changes", attrs("truncate"))).toBe(1)
      expect(
        yield* TestTelemetry.prometheusValue("cdc_changes_total", {
          cdc_slot: f.slot,
          cdc_table: table,
          cdc_operation: "insert"
        })
      ).toBe(3)
      const lag = yield* TestTelemetry.metricPoint("cdc.replication.lag", { "cdc.slot": f.slot })
      expect(lag.type).toBe("gauge")
      expect(lag.value as number).toBeGreaterThanOrEqual(0)
      expect(lag.value as number).toBeLessThan(60)

      const spans = yield* TestTelemetry.spansNamed(`cdc process ${f.slot}`)
      expect(spans).toHaveLength(4)
      spans.forEach((span, i) => {
        expect(TestTelemetry.kindOf(span)).toBe("consumer")
        expect(TestTelemetry.parentSpanId(span)).toBeUndefined()
        expect(span.links).toEqual([])
        expect(TestTelemetry.statusOf(span)).toBe("unset")
        expect(span.attributes).toMatchObject({
          "db.system.name": "postgresql",
          "cdc.slot": f.slot,
          "cdc.publication": f.publication,
          "cdc.transaction.xid": txs[i]!.xid,
          "cdc.transaction.commit_lsn": txs[i]!.commitLsn,
          "cdc.transaction.end_lsn": txs[i]!.endLsn,
          "cdc.transaction.changes": txs[i]!.changes.length
        })
      })
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("cdc.retained_wal reports the bytes pg_replication_slots says the slot retains", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      const fiber = yield* Cdc.stream(optionsFor(f)).pipe(Stream.runDrain, Effect.fork)
      yield* awaitActive(f.slot)
      const point = yield* TestTelemetry.metricPoint("cdc.retained_wal", { "cdc.slot": f.slot }).pipe(
        Effect.retry({ times: 100, schedule: Schedule.spaced("50 millis") })
      )
      const [row] = yield* query<{ bytes: string }>(
        "select pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text as bytes from pg_replication_slots where slot_name = $1",
        [f.slot]
      )
      expect(point.type).toBe("gauge")
      expect(point.value as number).toBeGreaterThanOrEqual(0)
      // Polled a moment earlier: at most what the slot retains now.
      expect(point.value as number).toBeLessThanOrEqual(Number(row!.bytes))
      expect(yield* TestTelemetry.prometheusValue("cdc_retained_wal_bytes", { cdc_slot: f.slot })).toBe(point.value)
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(TestTelemetry.layer())))
  it.scopedLive("a restarted consumer resumes after the last acknowledged transaction: nothing lost, nothing repeated", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      const options = optionsFor(f)
      const first = yield* consume(options, 3)
      for (const id of [1, 2, 3, 4, 5]) yield* query(`insert into ${f.table} (id) values ($1)`, [id])
      const before = yield* Fiber.join(first)
      expect(insertedIds(before)).toEqual([1, 2, 3])
      // Written while no consumer runs.
      for (const id of [6, 7]) yield* query(`insert into ${f.table} (id) values ($1)`, [id])
      const confirmed = lsnValue((yield* confirmedFlush(f.slot))!)

      const after = yield* Fiber.join(yield* consume(options, 4))
      expect(insertedIds(after)).toEqual([4, 5, 6, 7])
      // Confirmed exactly the processed prefix: past transaction 3, not into transaction 4.
      expect(confirmed).toBeGreaterThanOrEqual(lsnValue(before[2]!.endLsn))
      expect(confirmed).toBeLessThanOrEqual(lsnValue(after[0]!.commitLsn))
      expect(
        yield* TestTelemetry.metricValue("cdc.changes", {
          "cdc.slot": f.slot,
          "cdc.table": `public.${f.table}`,
          "cdc.operation": "insert"
        })
      ).toBe(7)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("a failing handler leaves its transaction unacknowledged, and the next consumer gets it again", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      const options = optionsFor(f)
      const seen: Array<unknown> = []
      const failing = yield* Cdc.run(options, (tx) => {
        const ids = insertedIds([tx])
        seen.push(...ids)
        return ids.includes(2) ? Effect.fail("projection failed" as const) : Effect.void
      }).pipe(Effect.flip, Effect.fork)
      yield* awaitActive(f.slot)
      for (const id of [1, 2, 3]) yield* query(`insert into ${f.table} (id) values ($1)`, [id])
      expect(yield* Fiber.join(failing)).toBe("projection failed")
      expect(seen).toEqual([1, 2])

      const spans = yield* TestTelemetry.spansNamed(`cdc process ${f.slot}`)
      expect(spans.map(TestTelemetry.statusOf)).toEqual(["unset", "error"])
      // A handler failure is the consumer's, not the stream's: no cdc.errors.
      expect(
        yield* Effect.either(
          TestTelemetry.metricValue("cdc.errors", { "cdc.slot": f.slot, "error.type": "ConnectionLost" })
        )
      )
        .toMatchObject({ _tag: "Left" })

      const retried = yield* Fiber.join(yield* consume(options, 2))
      expect(insertedIds(retried)).toEqual([2, 3])
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("acknowledging out of order confirms only the acknowledged prefix", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      const received: Array<CdcChange.Transaction> = []
      yield* Cdc.stream(optionsFor(f)).pipe(
        Stream.runForEach((tx) => Effect.sync(() => received.push(tx))),
        Effect.forkScoped
      )
      yield* awaitActive(f.slot)
      for (const id of [1, 2]) yield* query(`insert into ${f.table} (id) values ($1)`, [id])
      yield* Effect.suspend(() => received.length === 2 ? Effect.void : Effect.fail("waiting")).pipe(
        Effect.retry({ times: 200, schedule: Schedule.spaced("20 millis") })
      )
      const [one, two] = received as [CdcChange.Transaction, CdcChange.Transaction]
      const confirmed = Effect.map(confirmedFlush(f.slot), (lsn) => lsnValue(lsn!))

      yield* two.acknowledge
      yield* Effect.sleep("300 millis")
      expect(yield* confirmed).toBeLessThanOrEqual(lsnValue(one.commitLsn))

      yield* one.acknowledge
      yield* confirmed.pipe(
        Effect.flatMap((lsn) => lsn >= lsnValue(two.endLsn) ? Effect.void : Effect.fail("waiting")),
        Effect.retry({ times: 200, schedule: Schedule.spaced("20 millis") })
      )
      expect(yield* confirmed).toBeGreaterThanOrEqual(lsnValue(two.endLsn))
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("a killed replication connection fails the stream with ConnectionLost and counts cdc.errors once", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      const fiber = yield* Cdc.run(optionsFor(f), () => Effect.void).pipe(Effect.exit, Effect.fork)
      yield* awaitActive(f.slot)
      yield* terminateSlotBackend(f.slot)
      const error = cdcErrorOf(yield* Fiber.join(fiber))
      expect(error?._tag).toBe("CdcError")
      expect(error?.reason).toBe("ConnectionLost")
      expect(error?.slot).toBe(f.slot)
      expect(yield* TestTelemetry.metricValue("cdc.errors", { "cdc.slot": f.slot, "error.type": "ConnectionLost" }))
        .toBe(1)
      expect(
        yield* TestTelemetry.prometheusValue("cdc_errors_total", { cdc_slot: f.slot, error_type: "ConnectionLost" })
      )
        .toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("after a killed connection, Stream.retry resumes from the acknowledged position with nothing lost", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      const ids: Array<unknown> = []
      const fiber = yield* Cdc.stream(optionsFor(f)).pipe(
        Stream.retry(Schedule.spaced("100 millis")),
        Cdc.process((tx) => Effect.sync(() => ids.push(...insertedIds([tx])))),
        Stream.take(4),
        Stream.runDrain,
        Effect.fork
      )
      yield* awaitActive(f.slot)
      for (const id of [1, 2]) yield* query(`insert into ${f.table} (id) values ($1)`, [id])
      yield* Effect.sync(() => ids.length).pipe(
        Effect.flatMap((n) => n === 2 ? Effect.void : Effect.fail("waiting")),
        Effect.retry({ times: 200, schedule: Schedule.spaced("20 millis") })
      )
      yield* terminateSlotBackend(f.slot)
      for (const id of [3, 4]) yield* query(`insert into ${f.table} (id) values ($1)`, [id])
      yield* Fiber.join(fiber)
      expect(ids).toEqual([1, 2, 3, 4])
      expect(yield* TestTelemetry.metricValue("cdc.errors", { "cdc.slot": f.slot, "error.type": "ConnectionLost" }))
        .toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("a dropped slot fails the stream with SlotDropped instead of silently starting over", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      const first = yield* Cdc.stream(optionsFor(f)).pipe(Stream.runDrain, Effect.fork)
      yield* awaitActive(f.slot)
      yield* Fiber.interrupt(first)
      yield* query("select pg_drop_replication_slot($1)", [f.slot]).pipe(
        Effect.retry({ times: 100, schedule: Schedule.spaced("20 millis") })
      )
      const exit = yield* Cdc.run(optionsFor(f, { createSlot: false }), () => Effect.void).pipe(Effect.exit)
      const error = cdcErrorOf(exit)
      expect(error?.reason).toBe("SlotDropped")
      expect(error?.message).toContain(f.slot)
      expect(yield* TestTelemetry.metricValue("cdc.errors", { "cdc.slot": f.slot, "error.type": "SlotDropped" }))
        .toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("a missing publication that may not be created fails with Setup", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      const exit = yield* Cdc.run(optionsFor(f, { createPublication: false }), () => Effect.void).pipe(Effect.exit)
      expect(cdcErrorOf(exit)?.reason).toBe("Setup")
      expect(cdcErrorOf(exit)?.message).toContain(f.publication)
      expect(yield* TestTelemetry.metricValue("cdc.errors", { "cdc.slot": f.slot, "error.type": "Setup" })).toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("a slot name Postgres would reject fails with the TelemetryOptionsError naming it, before any SQL runs", () =>
    Effect.gen(function*() {
      const error = yield* Cdc.run(
        { connectionString: databaseUrl, slot: "bad-slot; drop table x", publication: "p" },
        () => Effect.void
      ).pipe(Effect.flip)
      expect(error).toBeInstanceOf(TelemetryOptionsError.TelemetryOptionsError)
      expect(error.message).toBe(
        `Cdc: option slot must be a slot name: 1 to 63 of a-z, 0-9 and _, got "bad-slot; drop table x"`
      )
      // not a stream failure: nothing ran, nothing is counted
      expect(yield* TestTelemetry.scrape()).not.toContain("bad-slot")
      const buffer = yield* Stream.runDrain(
        Cdc.stream({ connectionString: databaseUrl, slot: "s", publication: "p", bufferSize: 0 })
      ).pipe(Effect.flip)
      expect(buffer.message).toBe("Cdc: option bufferSize must be a positive integer, got 0")
      const tables = yield* Stream.runDrain(
        Cdc.stream({ connectionString: databaseUrl, slot: "s", publication: "p", tables: ["a b"] })
      ).pipe(Effect.flip)
      expect(tables.message).toBe(`Cdc: option tables must be table or schema.table names, got "a b"`)
    }).pipe(Effect.provide(TestTelemetry.layer())))
  it.scopedLive("a consumer slower than the server gets every transaction in order when the buffer is full", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      const ids: Array<unknown> = []
      const fiber = yield* Cdc.stream(optionsFor(f, { bufferSize: 1 })).pipe(
        Cdc.process((tx) => Effect.sync(() => ids.push(...insertedIds([tx]))).pipe(Effect.delay("5 millis"))),
        Stream.take(40),
        Stream.runDrain,
        Effect.fork
      )
      yield* awaitActive(f.slot)
      // One statement, forty transactions: they reach the client faster than it processes them.
      yield* query(
        Array.from({ length: 40 }, (_, i) => `begin; insert into ${f.table} (id) values (${i + 1}); commit;`).join(" ")
      )
      yield* Fiber.join(fiber)
      expect(ids).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
    }).pipe(Effect.provide(TestTelemetry.layer())))
})
