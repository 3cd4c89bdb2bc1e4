// Measures what KvTelemetry adds per operation on the in-memory store (the worst case: the
// backend itself costs almost nothing). Run: npx tsx scripts/kv-overhead.ts
import { KvTelemetry } from "@effect-telemetry/kv"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Effect from "effect/Effect"

const N = 200_000

const bench = (label: string, store: KeyValueStore.KeyValueStore) =>
  Effect.gen(function*() {
    const loop = Effect.gen(function*() {
      for (let i = 0; i < N; i++) {
        yield* store.set(`k${i % 1000}`, "v")
        yield* store.get(`k${i % 1000}`)
      }
    })
    yield* loop // warm-up
    const cpu = process.cpuUsage()
    yield* loop
    // CPU time of this process, not wall time, so other processes on the machine are left out.
    const used = process.cpuUsage(cpu)
    const perOp = ((used.user + used.system) * 1000) / (2 * N)
    console.log(`${label.padEnd(28)} ${perOp.toFixed(0).padStart(6)} ns CPU/op`)
    return perOp
  })

Effect.gen(function*() {
  const plain = yield* KeyValueStore.KeyValueStore
  const instrumented = KvTelemetry.make(plain, { namespace: "bench" })
  // Interleaved rounds: a shared machine drifts, and the first round warms the JIT.
  const totals = { base: 0, metrics: 0 }
  for (let round = 0; round < 3; round++) {
    totals.base += yield* bench("memory store", plain)
    totals.metrics += yield* bench("instrumented (metrics)", instrumented)
  }
  console.log(`mean overhead: ${((totals.metrics - totals.base) / 3).toFixed(0)} ns CPU per operation`)
}).pipe(Effect.provide(KeyValueStore.layerMemory), Effect.runPromise)
