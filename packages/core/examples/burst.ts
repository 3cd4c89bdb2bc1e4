/**
 * Creates N spans and M metric updates in one burst through the public layers, then exits by
 * closing the layer, which flushes and shuts the providers down.
 *
 *   npm run example:burst -- 10000 [metricUpdates]
 *
 * Point it at a collector with the standard variables, e.g.
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 npm run example:burst -- 10000
 *
 * The last line printed is JSON: spans created, and the delivery counts (exported, dropped,
 * failed), so a caller can check that exported + dropped = created.
 */
import { Instrument, Telemetry } from "@effect-telemetry/core"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"

const spans = Number(process.argv[2] ?? "10000")
const updates = Number(process.argv[3] ?? String(spans))
if (!Number.isInteger(spans) || spans < 0 || !Number.isInteger(updates) || updates < 0) {
  console.error("usage: burst <spans> [metricUpdates]  (non-negative integers)")
  process.exit(2)
}

const burstOps = Instrument.counter({
  name: "example.burst.operations",
  unit: "{operation}",
  description: "Operations of the burst example."
})

const program = Effect.gen(function*() {
  const delivery = (yield* Telemetry.Telemetry).spans
  for (let i = 0; i < spans; i++) {
    yield* Effect.void.pipe(Effect.withSpan("burst.span", { attributes: { "burst.index": i } }))
  }
  for (let i = 0; i < updates; i++) burstOps.unsafeAdd(1, { kind: i % 2 === 0 ? "even" : "odd" })
  return delivery
})

const main = Effect.gen(function*() {
  const stats = yield* Effect.scoped(Effect.gen(function*() {
    const context = yield* Layer.build(Telemetry.layer({ serviceName: "burst-example", prometheusServer: false }))
    const delivery = yield* program.pipe(Effect.provide(context))
    // Closing the scope below runs the shutdown; read the counts after it.
    return delivery
  })).pipe(Effect.flatMap((delivery) => delivery.stats))
  console.log(JSON.stringify({ created: spans, metricUpdates: updates, ...stats }))
})

Effect.runPromise(main.pipe(Effect.provide(Logger.pretty))).catch((error) => {
  console.error(error)
  process.exit(1)
})
