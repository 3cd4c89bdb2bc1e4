/**
 * Shutdown: a burst of N spans through the production layer (`Telemetry.layer`, batch
 * processor, OTLP/protobuf exporter, default queue sizes) and then the layer closes, as a
 * process exit does. Reported: spans delivered to the collector, dropped (queue full),
 * abandoned (still queued when the shutdown timeout passed) and the time the close took,
 * against a fast collector and one that answers every request after 4 s. Same logic as
 * `npm run example:burst`, in-process.
 */
import { Telemetry, Tracing } from "@effect-telemetry/core"
import { OtlpReceiver } from "@effect-telemetry/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { fmt } from "./lib/stats.js"
import type { Table } from "./lib/stats.js"

interface Outcome {
  readonly created: number
  readonly received: number
  readonly exported: number
  readonly dropped: number
  readonly failed: number
  readonly abandoned: number
  readonly burstMillis: number
  readonly closeMillis: number
}

const burst = async (spans: number, receiver: OtlpReceiver.StartedOtlpReceiver): Promise<Outcome> => {
  receiver.reset()
  const layer = Telemetry.layer(
    {
      serviceName: "bench-shutdown",
      tracesExporter: "otlp",
      metricsExporters: ["none"],
      otlpTraces: { url: receiver.endpoints.traces, protocol: "http/protobuf" },
      prometheusServer: false
    }
  )
  let burstMillis = 0
  let closeStarted = 0
  const delivery = await Effect.runPromise(
    Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(layer)
      const started = Date.now()
      const delivery = yield* Effect.provide(
        Effect.gen(function*() {
          for (let i = 0; i < spans; i++) {
            yield* Effect.void.pipe(Effect.withSpan("burst.span", { attributes: { "burst.index": i } }))
          }
          return yield* Tracing.SpanDeliveryTag
        }),
        context
      )
      burstMillis = Date.now() - started
      closeStarted = Date.now()
      return delivery
    })).pipe(Logger.withMinimumLogLevel(LogLevel.Error))
  )
  const closeMillis = Date.now() - closeStarted
  const stats = await Effect.runPromise(delivery.stats)
  return {
    created: spans,
    received: receiver.spanCount(),
    exported: stats.exported,
    dropped: stats.dropped,
    failed: stats.failed,
    abandoned: stats.ended - stats.dropped - stats.exported - stats.failed,
    burstMillis,
    closeMillis
  }
}

export const run = async (options: { readonly quick: boolean }): Promise<Array<Table>> => {
  const sizes = options.quick ? [10_000] : [10_000, 100_000]
  const rows: Array<Array<string>> = []
  for (const collector of ["fast", "slow (answers after 4 s)"] as const) {
    const receiver = await OtlpReceiver.start({ retain: false })
    if (collector !== "fast") receiver.setBehaviour({ delayMillis: 4000 })
    try {
      for (const size of sizes) {
        const o = await burst(size, receiver)
        console.error(`  shutdown ${fmt(size)} spans, ${collector}: ${JSON.stringify(o)}`)
        rows.push([
          fmt(size),
          collector,
          fmt(o.received),
          fmt(o.exported),
          fmt(o.dropped),
          fmt(o.failed),
          fmt(o.abandoned),
          o.created === o.exported + o.dropped + o.failed + o.abandoned ? "yes" : "NO",
          fmt(o.burstMillis),
          fmt(o.closeMillis)
        ])
      }
    } finally {
      await receiver.close()
    }
  }
  const allAddUp = rows.every((row) => row[7] === "yes")
  return [{
    targets: [{
      target: "Shutdown: every span is exported, or counted as dropped, failed or abandoned (none lost silently)",
      measured: rows.map((row) => `${row[0]} ${row[1]!.startsWith("slow") ? "slow" : "fast"}: ${row[2]} received, ${row[4]} dropped, ${row[6]} abandoned`).join("; "),
      met: allAddUp
    }],
    title: "Shutdown: span bursts, then the layer closes",
    header: ["spans", "collector", "received by collector", "exported", "dropped (queue full)", "failed", "abandoned at timeout", "counts add up", "burst ms", "close (flush) ms"],
    rows,
    notes: [
      "Defaults: OTEL_BSP_MAX_QUEUE_SIZE 16384, batch 512, 2 exports in flight, shutdown timeout 30 s (EFFECT_TELEMETRY_SHUTDOWN_TIMEOUT). The collector is @effect-telemetry/testing's OtlpReceiver (protobuf decoded).",
      "Drops happen during the burst, when spans end faster than the exporter drains the queue; each is counted (otel.sdk.span.processed{error.type=queue_full}) and logged once at shutdown. Nothing is lost silently: created = exported + dropped + failed + abandoned.",
      "The slow collector: each export takes 4 s, so the close is bounded by the shutdown timeout, not by the backlog."
    ]
  }]
}
