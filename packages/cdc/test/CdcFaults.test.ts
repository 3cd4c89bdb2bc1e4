// A network loss on the replication connection, through a TCP proxy in front of the shared
// Postgres (which is never restarted): unlike pg_terminate_backend (Cdc.test.ts), the client
// gets a reset with no message from the server. Stream.retry must resume from the
// acknowledged position with nothing lost and nothing repeated.
import { Cdc, type CdcChange } from "@effect-telemetry/cdc"
import { TcpProxy, TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { awaitActive, databaseUrl, fixture, query, unavailable } from "./postgres.js"

const insertedIds = (tx: CdcChange.Transaction) => tx.changes.flatMap((c) => (c._tag === "Insert" ? [c.new.id] : []))

const waitFor = (condition: () => boolean) =>
  Effect.sync(condition).pipe(
    Effect.flatMap((ok) => (ok ? Effect.void : Effect.fail("waiting"))),
    Effect.retry({ times: 500, schedule: Schedule.spaced("20 millis") }),
    Effect.orDie
  )

const scenario = (fault: "cut" | "down") =>
  Effect.gen(function*() {
    const f = yield* fixture
    const proxy = yield* TcpProxy.make({ target: TcpProxy.targetOf(databaseUrl) })
    const ids: Array<unknown> = []
    const fiber = yield* Cdc.stream({
      connectionString: proxy.urlFor(databaseUrl),
      slot: f.slot,
      publication: f.publication,
      tables: [f.table]
    }).pipe(
      Stream.retry(Schedule.spaced("100 millis")),
      Cdc.process((tx) => Effect.sync(() => ids.push(...insertedIds(tx)))),
      Stream.take(6),
      Stream.runDrain,
      Effect.fork
    )
    yield* awaitActive(f.slot)
    for (const id of [1, 2]) yield* query(`insert into ${f.table} (id) values ($1)`, [id])
    yield* waitFor(() => ids.length === 2)
    if (fault === "cut") {
      yield* proxy.cut
      for (const id of [3, 4]) yield* query(`insert into ${f.table} (id) values ($1)`, [id])
    } else {
      yield* proxy.down
      // Written while the consumer cannot reach Postgres: kept by the slot, delivered after.
      for (const id of [3, 4]) yield* query(`insert into ${f.table} (id) values ($1)`, [id])
      yield* Effect.sleep("500 millis")
      expect(ids).toEqual([1, 2])
      yield* proxy.up
    }
    yield* waitFor(() => ids.length >= 4)
    for (const id of [5, 6]) yield* query(`insert into ${f.table} (id) values ($1)`, [id])
    yield* Fiber.join(fiber)
    expect(ids).toEqual([1, 2, 3, 4, 5, 6])
    expect(yield* TestTelemetry.metricValue("cdc.errors", { "cdc.slot": f.slot, "error.type": "ConnectionLost" }))
      .toBeGreaterThanOrEqual(1)
    const changes = yield* TestTelemetry.metricValue("cdc.changes", {
      "cdc.slot": f.slot,
      "cdc.table": `public.${f.table}`,
      "cdc.operation": "insert"
    })
    expect(changes).toBe(6)
  }).pipe(Effect.provide(TestTelemetry.layer()))

describe.skipIf(unavailable !== undefined)("Cdc through a TcpProxy (real Postgres, network faults)", () => {
  it.scopedLive("a cut replication connection fails with ConnectionLost and Stream.retry resumes with nothing lost or repeated", () =>
    scenario("cut"))

  it.scopedLive("Postgres unreachable for a while: changes made meanwhile arrive once it is back, in order, once each", () =>
    scenario("down"))
})
