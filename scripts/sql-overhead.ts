// Measures the CPU SqlTelemetry adds per statement, on a client whose connection answers
// instantly (no database: only what the instrumentation and @effect/sql cost is left).
// Spans go to Effect's default tracer. Run: npx tsx scripts/sql-overhead.ts
import { SqlTelemetry } from "@effect-telemetry/sql"
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"

const N = 20_000
const ROUNDS = 3

const instant: Connection = {
  execute: () => Effect.succeed([]),
  executeRaw: () => Effect.succeed([]),
  executeValues: () => Effect.succeed([]),
  executeUnprepared: () => Effect.succeed([]),
  executeStream: () => Stream.empty
}

Effect.gen(function*() {
  const plain = yield* SqlClient.make({
    acquirer: Effect.succeed(instant),
    compiler: PgClient.makeCompiler(),
    spanAttributes: [["db.system.name", "postgresql"]]
  })
  const clients = {
    "@effect/sql": plain,
    "instrumented (metrics only)": SqlTelemetry.make(plain, { spans: false }),
    "instrumented (spans)": SqlTelemetry.make(plain)
  }
  const totals: Record<string, number> = {}
  // Interleaved rounds after a warm-up: a shared machine drifts; CPU time, not wall time,
  // leaves other processes out.
  for (let round = 0; round <= ROUNDS; round++) {
    for (const [label, sql] of Object.entries(clients)) {
      const cpu = process.cpuUsage()
      for (let i = 0; i < N; i++) yield* sql`SELECT ${i}::int AS n FROM orders`
      const used = process.cpuUsage(cpu)
      if (round > 0) totals[label] = (totals[label] ?? 0) + (used.user + used.system) / N / ROUNDS
    }
  }
  const base = totals["@effect/sql"]!
  for (const [label, micros] of Object.entries(totals)) {
    console.log(
      `${label.padEnd(30)} ${micros.toFixed(1).padStart(6)} µs CPU/statement  (+${(micros - base).toFixed(1)})`
    )
  }
}).pipe(Effect.provide(Reactivity.layer), Effect.runPromise)
