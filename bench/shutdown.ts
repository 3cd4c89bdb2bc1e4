/**
 * Shutdown: a burst of N spans through the production layer (`Telemetry.layer`, batch
 * processor, OTLP/protobuf exporter, default queue sizes) and then the layer closes, as a
 * process exit does. Reported: spans delivered to the collector, dropped (queue full),
 * abandoned (still queued when the shutdown timeout passed) and the time the close took,
 * against a fast collector and one that answers every request after 4 s. Same logic as
 * `npm run example:burst`, in-process.
 *
 * Exit under collector faults: the README-style app of the core shutdown tests
 * (packages/core/test/fixtures/shutdown-app.ts) as a real child process under
 * `NodeRuntime.runMain`, against each fault of the OtlpReceiver; reported are the process exit
 * time after its telemetry scope started closing, and the counts of its one shutdown line.
 */
import { Telemetry } from "@effect-telemetry/core"
import { OtlpReceiver } from "@effect-telemetry/testing"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { runApp, spanCounts } from "../packages/core/test/fixtures/run.js"
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
          return (yield* Telemetry.Telemetry).spans
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

const EXIT_TIMEOUT = 1_500
const EXPORT_TIMEOUT = 1_000

const faults: ReadonlyArray<{
  readonly name: string
  readonly behaviour: OtlpReceiver.Behaviour
  readonly env?: Record<string, string>
  readonly recoverAfterMillis?: number
}> = [
  { name: "fast", behaviour: {} },
  {
    name: "slow (answers after 2× the export timeout)",
    behaviour: { delayMillis: 2 * EXPORT_TIMEOUT },
    env: { OTEL_EXPORTER_OTLP_TIMEOUT: String(EXPORT_TIMEOUT) }
  },
  { name: "refused", behaviour: { refuse: true } },
  { name: "blackholed (TCP accepted, never answered)", behaviour: { blackhole: true } },
  { name: "503 forever", behaviour: { status: 503 } },
  { name: "429 with Retry-After: 60", behaviour: { status: 429, retryAfter: 60 } },
  {
    name: "recovering mid-run (refused, healthy 300 ms after start)",
    behaviour: { refuse: true },
    recoverAfterMillis: 300
  }
]

const exitUnderFaults = async (quick: boolean): Promise<Table> => {
  const sizes = quick ? [10_000] : [10_000, 100_000]
  const rows: Array<Array<string>> = []
  let worstExit = 0
  let allAddUp = true
  for (const fault of faults) {
    for (const size of sizes) {
      const receiver = await OtlpReceiver.start({ retain: false, behaviour: fault.behaviour })
      try {
        const app = await runApp({
          env: {
            MODE: "runMain",
            SPANS: String(size),
            OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
            OTEL_METRICS_EXPORTER: "otlp",
            EFFECT_TELEMETRY_SHUTDOWN_TIMEOUT: String(EXIT_TIMEOUT),
            ...fault.env
          },
          onEvent: (event) => {
            if (event.event === "started" && fault.recoverAfterMillis !== undefined) {
              setTimeout(() => receiver.setBehaviour({}), fault.recoverAfterMillis)
            }
          },
          killAfterMillis: 120_000
        })
        const counts = spanCounts(app)
        const created = size + 1
        const addsUp = counts.ended === created &&
          counts.exported + counts.dropped + counts.failed + counts.abandoned === created
        allAddUp &&= addsUp && app.reportLines.length === 1
        worstExit = Math.max(worstExit, app.exitMillis ?? Infinity)
        console.error(
          `  exit under faults ${fault.name} ${fmt(size)}: exit ${app.exitMillis} ms, code ${app.code}, ${
            JSON.stringify(counts)
          }`
        )
        rows.push([
          fault.name,
          fmt(created),
          app.exitMillis === undefined ? "did not close" : fmt(app.exitMillis),
          String(app.code),
          fmt(counts.exported),
          fmt(counts.dropped),
          fmt(counts.failed),
          fmt(counts.abandoned),
          addsUp ? "yes" : "NO",
          fmt(receiver.spanCount()),
          app.report["metrics.otlp.final_export"] ?? "-",
          app.report["telemetry.shutdown.last_error"] ?? ""
        ])
      } finally {
        await receiver.close()
      }
    }
  }
  const bound = EXIT_TIMEOUT + 1_000
  return {
    targets: [{
      target:
        "Shutdown: under every collector fault the process exits within the shutdown timeout + 1 s, and created = exported + dropped + failed + abandoned",
      measured: `slowest exit ${fmt(worstExit)} ms after the scope started closing (timeout ${
        fmt(EXIT_TIMEOUT)
      } ms); counts add up in ${allAddUp ? "every" : "NOT every"} run`,
      met: worstExit <= bound && allAddUp
    }],
    title: "Exit under collector faults",
    header: [
      "collector",
      "spans created",
      "exit ms after close",
      "exit code",
      "exported",
      "dropped",
      "failed",
      "abandoned",
      "add up",
      "received by collector",
      "final metric export",
      "last error reported"
    ],
    rows,
    notes: [
      `The app (packages/core/test/fixtures/shutdown-app.ts): N calls of a Telemetry.fn under one root span, Effect.forEach with concurrency 64, one counter, Telemetry.layer ended by NodeRuntime.runMain; OTLP/protobuf traces and metrics; EFFECT_TELEMETRY_SHUTDOWN_TIMEOUT=${EXIT_TIMEOUT}, default queue (16,384) and export timeout (10 s; ${EXPORT_TIMEOUT} ms for the slow collector).`,
      "Exit ms: the child process's exit, seen by the parent, after the app's work ended and its telemetry scope started closing. Counts are those of the app's one shutdown line (a warning with spans.* annotations), not of the parent.",
      "Abandoned: still queued or in an export when the deadline passed; the export is aborted, its retry timer cleared and its socket destroyed. Received may exceed exported when the collector's answer arrived after the abort."
    ]
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
  const faultsTable = await exitUnderFaults(options.quick)
  return [{
    targets: [{
      target: "Shutdown: every span is exported, or counted as dropped, failed or abandoned (none lost silently)",
      measured: rows.map((row) =>
        `${row[0]} ${row[1]!.startsWith("slow") ? "slow" : "fast"}: ${row[2]} received, ${row[4]} dropped, ${
          row[6]
        } abandoned`
      ).join("; "),
      met: allAddUp
    }],
    title: "Shutdown: span bursts, then the layer closes",
    header: [
      "spans",
      "collector",
      "received by collector",
      "exported",
      "dropped (queue full)",
      "failed",
      "abandoned at timeout",
      "counts add up",
      "burst ms",
      "close (flush) ms"
    ],
    rows,
    notes: [
      "Defaults: OTEL_BSP_MAX_QUEUE_SIZE 16384, batch 512, 2 exports in flight, shutdown timeout 30 s (EFFECT_TELEMETRY_SHUTDOWN_TIMEOUT). The collector is @effect-telemetry/testing's OtlpReceiver (protobuf decoded).",
      "Drops happen during the burst, when spans end faster than the exporter drains the queue; each is counted (otel.sdk.span.processed{error.type=queue_full}) and logged once at shutdown. Nothing is lost silently: created = exported + dropped + failed + abandoned.",
      "The slow collector: each export takes 4 s, so the close is bounded by the shutdown timeout, not by the backlog."
    ]
  }, faultsTable]
}
