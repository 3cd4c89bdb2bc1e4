// Measures what PersistedQueueTelemetry adds per message (offer + take on the memory store,
// so the store costs almost nothing and the difference is ours). Spans are sampled and
// recorded by the real SDK tracer with no exporter. Run: npx tsx scripts/queue-overhead.ts
import { Telemetry } from "@effect-telemetry/core"
import { PersistedQueueTelemetry } from "@effect-telemetry/queue"
import * as PersistedQueue from "@effect/experimental/PersistedQueue"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

const N = 20_000
const Job = Schema.Struct({ n: Schema.Number })

const bench = (label: string, factory: Layer.Layer<PersistedQueue.PersistedQueueFactory>) =>
  Effect.gen(function*() {
    const queue = yield* PersistedQueue.make({ name: `bench-${label}`, schema: Job })
    const loop = Effect.gen(function*() {
      for (let n = 0; n < N; n++) {
        yield* queue.offer({ n })
        yield* queue.take(() => Effect.void)
      }
    })
    yield* loop // warm-up
    const cpu = process.cpuUsage()
    yield* loop
    // CPU time rather than wall time: other processes on a shared machine are left out.
    const used = process.cpuUsage(cpu)
    const perMessage = (used.user + used.system) / N
    console.log(`${label.padEnd(16)} ${perMessage.toFixed(1).padStart(7)} µs CPU/message (offer + take)`)
    return perMessage
  }).pipe(Effect.provide(factory))

const store = PersistedQueue.layerStoreMemory
Effect.gen(function*() {
  const totals = { plain: 0, instrumented: 0 }
  // Interleaved rounds: the first warms the JIT, a shared machine drifts.
  for (let round = 0; round < 3; round++) {
    totals.plain += yield* bench("plain", PersistedQueue.layer.pipe(Layer.provide(store)))
    totals.instrumented += yield* bench("instrumented", PersistedQueueTelemetry.layer().pipe(Layer.provide(store)))
  }
  console.log(`mean overhead: ${((totals.instrumented - totals.plain) / 3).toFixed(1)} µs CPU per message`)
}).pipe(
  Effect.provide(Telemetry.layer({ serviceName: "queue-bench", tracesExporter: "none", metricsExporters: [] })),
  Effect.runPromise
)
