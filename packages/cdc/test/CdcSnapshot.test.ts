import { Cdc, type CdcChange, type CdcError } from "@effect-telemetry/cdc"
import { TelemetryOptionsError } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { awaitActive, databaseUrl, type Fixture, fixture, query, unavailable } from "./postgres.js"

const optionsFor = (f: Fixture, overrides: Partial<Cdc.Options> = {}): Cdc.Options => ({
  connectionString: databaseUrl,
  slot: f.slot,
  publication: f.publication,
  tables: [f.table],
  snapshot: true,
  ...overrides
})

const lsnValue = (lsn: string) => {
  const [high, low] = lsn.split("/")
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`)
}

const tagsOf = (transactions: ReadonlyArray<CdcChange.Transaction>) =>
  transactions.map((tx) => tx.changes.map((c) => c._tag))

const snapshotIds = (transactions: ReadonlyArray<CdcChange.Transaction>) =>
  transactions.flatMap((tx) => tx.changes.flatMap((c) => (c._tag === "Snapshot" ? [c.new.id as number] : [])))

/** Processes `count` transactions through `Cdc.process` (acknowledging each) in a background fiber. */
const consume = (options: Cdc.Options, count: number) =>
  Cdc.stream(options).pipe(
    Cdc.process((tx) => Effect.succeed(tx)),
    Stream.take(count),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray),
    Effect.fork
  )

const slotExists = (slot: string) =>
  Effect.map(query("select 1 from pg_replication_slots where slot_name = $1", [slot]), (rows) => rows.length === 1)

describe.skipIf(unavailable !== undefined)("Cdc initial snapshot (real Postgres, logical replication)", () => {
  it.scopedLive("existing rows arrive as Snapshot changes decoded like inserts, then live changes stream from the consistent point", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      yield* query(
        `insert into ${f.table} values (1, 'a', 10, '2024-01-02T03:04:05Z'), (2, 'b', 9007199254740993, null),
         (3, 'c', 30, null), (4, null, null, null), (5, 'e', 50, null)`
      )
      const fiber = yield* consume(optionsFor(f, { snapshotBatchSize: 2 }), 6)
      // Streaming starts only after the snapshot was read.
      yield* awaitActive(f.slot)
      yield* query(`insert into ${f.table} values (6, 'f', 60, '2024-01-02T03:04:05Z')`)
      yield* query(`update ${f.table} set name = 'a2' where id = 1`)
      yield* query(`delete from ${f.table} where id = 2`)
      const txs = yield* Fiber.join(fiber)

      expect(tagsOf(txs)).toEqual([
        ["Snapshot", "Snapshot"],
        ["Snapshot", "Snapshot"],
        ["Snapshot"],
        ["Insert"],
        ["Update"],
        ["Delete"]
      ])
      expect(snapshotIds(txs)).toEqual([1, 2, 3, 4, 5])
      const snapshots = txs.slice(0, 3)
      const live = txs.slice(3)
      const first = snapshots[0]!.changes[0] as CdcChange.Snapshot
      // The same parsers as a streamed insert: int4 number, int8 string, timestamptz Date, NULL null.
      expect(first.new).toEqual({ id: 1, name: "a", amount: "10", at: new Date("2024-01-02T03:04:05Z") })
      expect((snapshots[0]!.changes[1] as CdcChange.Snapshot).new.amount).toBe("9007199254740993")
      expect((snapshots[1]!.changes[1] as CdcChange.Snapshot).new).toEqual({
        id: 4,
        name: null,
        amount: null,
        at: null
      })
      const insert = live[0]!.changes[0] as CdcChange.Insert
      expect(insert.new).toEqual({ id: 6, name: "f", amount: "60", at: new Date("2024-01-02T03:04:05Z") })
      // The relation is described as pgoutput describes it to the stream.
      expect(first.relation).toEqual(insert.relation)

      const [slot] = yield* query<{ lsn: string }>(
        "select confirmed_flush_lsn::text as lsn from pg_replication_slots where slot_name = $1",
        [f.slot]
      )
      for (const tx of snapshots) {
        expect(tx.xid).toBe(0)
        expect(tx.commitLsn).toBe(tx.endLsn)
        expect(tx.commitLsn).toBe(snapshots[0]!.commitLsn)
        for (const change of tx.changes) expect(change.commitLsn).toBe(tx.commitLsn)
      }
      for (const tx of live) expect(lsnValue(tx.commitLsn)).toBeGreaterThanOrEqual(lsnValue(snapshots[0]!.commitLsn))
      // The live transactions were acknowledged after the snapshot: the slot confirmed past them.
      expect(lsnValue(slot!.lsn)).toBeGreaterThanOrEqual(lsnValue(live[2]!.endLsn))

      const table = `public.${f.table}`
      const attrs = (operation: string) => ({ "cdc.slot": f.slot, "cdc.table": table, "cdc.operation": operation })
      expect(yield* TestTelemetry.metricValue("cdc.changes", attrs("snapshot"))).toBe(5)
      expect(yield* TestTelemetry.metricValue("cdc.changes", attrs("insert"))).toBe(1)
      expect(
        yield* TestTelemetry.prometheusValue("cdc_changes_total", {
          cdc_slot: f.slot,
          cdc_table: table,
          cdc_operation: "snapshot"
        })
      ).toBe(5)

      const [span, ...more] = yield* TestTelemetry.spansNamed(`cdc snapshot ${f.slot}`)
      expect(more).toEqual([])
      expect(TestTelemetry.statusOf(span!)).toBe("unset")
      expect(span!.attributes).toMatchObject({
        "db.system.name": "postgresql",
        "cdc.slot": f.slot,
        "cdc.publication": f.publication,
        "cdc.table": table,
        "cdc.snapshot.rows": 5,
        "cdc.snapshot.lsn": snapshots[0]!.commitLsn
      })
      expect(yield* TestTelemetry.spansNamed(`cdc process ${f.slot}`)).toHaveLength(6)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("writes committed while the snapshot is being read arrive through the stream only: none lost, none twice", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      // A second published table, read after the first: its cursor opens after the writes.
      const other = yield* Effect.acquireRelease(
        Effect.as(query(`create table ${f.table}_b (id int primary key, name text)`), `${f.table}_b`),
        (name) => query(`drop table if exists ${name}`)
      )
      const rows = 2000
      const otherRows = 50
      yield* query(`insert into ${f.table} (id, name) select i, 'v' || i from generate_series(1, ${rows}) as i`)
      yield* query(`insert into ${other} (id, name) select i, 'w' || i from generate_series(1, ${otherRows}) as i`)
      const received: Array<CdcChange.Transaction> = []
      let openSnapshotReads = -1
      let snapshotBatchesBeforeWrites = -1
      // Concurrent writes, made from another connection when the first snapshot batch is
      // processed: the reader is then held back by the full buffer, its transaction open.
      const write = Effect.gen(function*() {
        openSnapshotReads = (yield* query<{ n: number }>(
          `select count(*)::int4 as n from pg_stat_activity
           where state = 'idle in transaction' and query like 'fetch forward%'`
        ))[0]!.n
        snapshotBatchesBeforeWrites = received.length
        // Rows already read and not read yet, new rows, deletes of rows not read yet.
        yield* query(
          `begin; update ${f.table} set name = 'changed' where id in (1, ${rows - 1});
           update ${other} set name = 'changed' where id = 1; commit;`
        )
        yield* query(
          `begin; insert into ${f.table} (id, name) values (${rows + 1}, 'new');
           insert into ${other} (id, name) values (${otherRows + 1}, 'new'); commit;`
        )
        yield* query(
          `begin; delete from ${f.table} where id = ${rows}; delete from ${other} where id = ${otherRows}; commit;`
        )
      })
      const expected = rows / 10 + otherRows / 10 + 3
      yield* Cdc.stream(optionsFor(f, { tables: [f.table, other], snapshotBatchSize: 10, bufferSize: 1 })).pipe(
        Cdc.process((tx) =>
          Effect.suspend(() => {
            received.push(tx)
            return received.length === 1 ? write : Effect.void
          })
        ),
        Stream.take(expected),
        Stream.runDrain
      )

      expect(snapshotBatchesBeforeWrites).toBe(1)
      expect(openSnapshotReads).toBeGreaterThanOrEqual(1)
      const snapshot = received.filter((tx) => tx.changes.every((c) => c._tag === "Snapshot"))
      const stream = received.filter((tx) => tx.changes.every((c) => c._tag !== "Snapshot"))
      expect(snapshot.length + stream.length).toBe(expected)
      const keyOf = (change: CdcChange.Change, row: CdcChange.Row) =>
        `${(change as CdcChange.Snapshot).relation.table}:${row.id}`
      // Every row once, with the values it had at the consistent point (the later updates of
      // rows read after it are not in the snapshot, the deleted rows are, the new ones not).
      const keys = snapshot.flatMap((tx) => tx.changes.map((c) => keyOf(c, (c as CdcChange.Snapshot).new)))
      expect(keys).toHaveLength(rows + otherRows)
      expect(new Set(keys).size).toBe(rows + otherRows)
      const names = new Map<string, unknown>(
        snapshot.flatMap((tx) =>
          tx.changes.map((c) => [keyOf(c, (c as CdcChange.Snapshot).new), (c as CdcChange.Snapshot).new.name])
        )
      )
      expect(names.get(`${f.table}:1`)).toBe("v1")
      expect(names.get(`${f.table}:${rows - 1}`)).toBe(`v${rows - 1}`)
      expect(names.get(`${f.table}:${rows}`)).toBe(`v${rows}`)
      expect(names.has(`${f.table}:${rows + 1}`)).toBe(false)
      expect(names.get(`${other}:1`)).toBe("w1")
      expect(names.get(`${other}:${otherRows}`)).toBe(`w${otherRows}`)
      expect(names.has(`${other}:${otherRows + 1}`)).toBe(false)
      expect(tagsOf(stream)).toEqual([["Update", "Update", "Update"], ["Insert", "Insert"], ["Delete", "Delete"]])

      // Applying the snapshot, then the stream, gives exactly the tables as they are now.
      const model = new Map<string, unknown>(names)
      for (const change of stream.flatMap((tx) => tx.changes)) {
        if (change._tag === "Update" || change._tag === "Insert") model.set(keyOf(change, change.new), change.new.name)
        if (change._tag === "Delete") model.delete(keyOf(change, change.old))
      }
      const now = yield* query<{ key: string; name: string }>(
        `select '${f.table}:' || id as key, name from ${f.table} union all select '${other}:' || id, name from ${other}`
      )
      expect(new Map(now.map((row) => [row.key, row.name]))).toEqual(model)
      expect(
        yield* TestTelemetry.metricValue("cdc.changes", {
          "cdc.slot": f.slot,
          "cdc.table": `public.${f.table}`,
          "cdc.operation": "snapshot"
        })
      ).toBe(rows)
      const spans = yield* TestTelemetry.spansNamed(`cdc snapshot ${f.slot}`)
      expect(spans.map((span) => [span.attributes["cdc.table"], span.attributes["cdc.snapshot.rows"]])).toEqual([
        [`public.${f.table}`, rows],
        [`public.${other}`, otherRows]
      ])
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("a restart with the slot already there takes no snapshot and resumes after the last acknowledged change", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      yield* query(`insert into ${f.table} (id) values (1), (2)`)
      const first = yield* consume(optionsFor(f), 2)
      yield* awaitActive(f.slot)
      yield* query(`insert into ${f.table} (id) values (3)`)
      expect(tagsOf(yield* Fiber.join(first))).toEqual([["Snapshot", "Snapshot"], ["Insert"]])
      expect(yield* slotExists(f.slot)).toBe(true)

      yield* query(`insert into ${f.table} (id) values (4)`)
      const second = yield* Fiber.join(yield* consume(optionsFor(f), 1))
      expect(tagsOf(second)).toEqual([["Insert"]])
      expect((second[0]!.changes[0] as CdcChange.Insert).new.id).toBe(4)
      expect(yield* TestTelemetry.spansNamed(`cdc snapshot ${f.slot}`)).toHaveLength(1)
      expect(
        yield* TestTelemetry.metricValue("cdc.changes", {
          "cdc.slot": f.slot,
          "cdc.table": `public.${f.table}`,
          "cdc.operation": "snapshot"
        })
      ).toBe(2)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("a stream that ends before its snapshot is acknowledged drops the slot, and the next start takes the snapshot again", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      yield* query(`insert into ${f.table} (id) select generate_series(1, 5)`)
      const partial = yield* Fiber.join(yield* consume(optionsFor(f, { snapshotBatchSize: 2 }), 1))
      expect(snapshotIds(partial)).toEqual([1, 2])
      expect(yield* slotExists(f.slot)).toBe(false)

      const fiber = yield* consume(optionsFor(f, { snapshotBatchSize: 2 }), 4)
      yield* awaitActive(f.slot)
      yield* query(`insert into ${f.table} (id) values (6)`)
      const again = yield* Fiber.join(fiber)
      expect(snapshotIds(again)).toEqual([1, 2, 3, 4, 5])
      expect(tagsOf(again.slice(3))).toEqual([["Insert"]])
      // Complete this time: the slot stays.
      expect(yield* slotExists(f.slot)).toBe(true)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("a snapshot whose connection is killed fails the stream with ConnectionLost, drops the slot, and Stream.retry takes it again", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      yield* query(`insert into ${f.table} (id) select generate_series(1, 100)`)
      let killed = 0
      const kill = query<{ n: number }>(
        `select count(pg_terminate_backend(pid, 5000))::int4 as n from pg_stat_activity
         where state = 'idle in transaction' and query like 'fetch forward%'`
      ).pipe(Effect.map((rows) => killed += rows[0]!.n))
      const exit = yield* Cdc.stream(optionsFor(f, { snapshotBatchSize: 10, bufferSize: 1 })).pipe(
        Cdc.process((tx) => tx.xid === 0 && killed === 0 ? kill : Effect.void),
        Stream.runDrain,
        Effect.flip
      )
      expect(killed).toBe(1)
      expect(exit._tag).toBe("CdcError")
      expect((exit as CdcError.CdcError).reason).toBe("ConnectionLost")
      expect(exit.message).toContain(`snapshot of slot ${f.slot}, table public.${f.table}`)
      expect(yield* TestTelemetry.metricValue("cdc.errors", { "cdc.slot": f.slot, "error.type": "ConnectionLost" }))
        .toBe(1)
      const [span] = yield* TestTelemetry.spansNamed(`cdc snapshot ${f.slot}`)
      expect(TestTelemetry.statusOf(span!)).toBe("error")
      expect(yield* slotExists(f.slot)).toBe(false)

      // Retried: a new slot, the whole snapshot again (delivery is at least once).
      const ids: Array<unknown> = []
      killed = 0
      yield* Cdc.stream(optionsFor(f, { snapshotBatchSize: 10, bufferSize: 1 })).pipe(
        Stream.retry(Schedule.recurs(1)),
        Cdc.process((tx) =>
          Effect.suspend(() => {
            ids.push(...snapshotIds([tx]))
            return tx.xid === 0 && killed === 0 ? Effect.as(kill, tx) : Effect.succeed(tx)
          })
        ),
        Stream.takeUntil((tx) => snapshotIds([tx]).includes(100)),
        Stream.runDrain
      )
      expect(killed).toBe(1)
      // The first attempt delivered some batches before it failed; the retry all of them.
      expect(ids.slice(-100)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
      // It stopped right after the last snapshot row (a full batch): complete, the slot stays.
      expect(yield* slotExists(f.slot)).toBe(true)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("the snapshot reads what the publication publishes: its column list and row filter", () =>
    Effect.gen(function*() {
      const f = yield* fixture
      yield* query(`insert into ${f.table} (id, name, amount) values (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)`)
      yield* query(`create publication ${f.publication} for table ${f.table} (id, amount) where (amount > 15)`)
      const fiber = yield* consume(optionsFor(f, { createPublication: false }), 2)
      yield* awaitActive(f.slot)
      yield* query(`insert into ${f.table} (id, name, amount) values (4, 'd', 40), (5, 'e', 5)`)
      const txs = yield* Fiber.join(fiber)
      const snapshot = txs[0]!.changes as ReadonlyArray<CdcChange.Snapshot>
      const insert = txs[1]!.changes as ReadonlyArray<CdcChange.Insert>
      expect(snapshot.map((c) => c.new)).toEqual([{ id: 2, amount: "20" }, { id: 3, amount: "30" }])
      expect(insert.map((c) => c.new)).toEqual([{ id: 4, amount: "40" }])
      expect(snapshot[0]!.relation).toEqual(insert[0]!.relation)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("snapshot and snapshotBatchSize values that are not allowed fail with a TelemetryOptionsError before any SQL runs", () =>
    Effect.gen(function*() {
      const run = (options: Partial<Cdc.Options>) =>
        Stream.runDrain(
          Cdc.stream({ connectionString: databaseUrl, slot: "s", publication: "p", ...options })
        ).pipe(Effect.flip)
      const snapshot = yield* run({ snapshot: "yes" as unknown as boolean })
      expect(snapshot).toBeInstanceOf(TelemetryOptionsError.TelemetryOptionsError)
      expect(snapshot.message).toBe(`Cdc: option snapshot must be a boolean, got "yes"`)
      const zero = yield* run({ snapshot: true, snapshotBatchSize: 0 })
      expect(zero.message).toBe("Cdc: option snapshotBatchSize must be a positive integer, got 0")
      const fraction = yield* run({ snapshot: true, snapshotBatchSize: 2.5 })
      expect(fraction.message).toBe("Cdc: option snapshotBatchSize must be a positive integer, got 2.5")
      expect(yield* slotExists("s")).toBe(false)
    }).pipe(Effect.provide(TestTelemetry.layer())))
})
