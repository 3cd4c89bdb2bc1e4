/**
 * What the trace viewer's processor adds per span end, on a real SDK provider: the same
 * workload (a root and 9 children per trace) with no processor, a no-op processor and the
 * viewer's (defaults: 200 traces kept), interleaved, medians of 7 rounds; then the heap a full
 * buffer holds. A shared machine is noisy: compare the columns, not runs.
 * Run: node --expose-gc --import tsx scripts/traceview-overhead.ts
 */
import { TraceView } from "@effect-telemetry/traceview"
import { context, trace } from "@opentelemetry/api"
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base"
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base"

const TRACES = 50_000
const CHILDREN = 9

const workload = (spanProcessors: Array<SpanProcessor>, traces: number) => {
  const tracer = new BasicTracerProvider({ spanProcessors }).getTracer("bench")
  const started = process.hrtime.bigint()
  for (let t = 0; t < traces; t++) {
    const root = tracer.startSpan("root")
    const parent = trace.setSpan(context.active(), root)
    for (let c = 0; c < CHILDREN; c++) tracer.startSpan(`child${c}`, { attributes: { i: c } }, parent).end()
    root.end()
  }
  return Number(process.hrtime.bigint() - started) / (traces * (CHILDREN + 1))
}

const noop: SpanProcessor = { onStart() {}, onEnd() {}, forceFlush: async () => {}, shutdown: async () => {} }
const rounds = { bare: [] as Array<number>, noop: [] as Array<number>, viewer: [] as Array<number> }
workload([], TRACES)
workload([TraceView.make({ enabled: true }).processor], TRACES)
for (let i = 0; i < 7; i++) {
  rounds.bare.push(workload([], TRACES))
  rounds.noop.push(workload([noop], TRACES))
  rounds.viewer.push(workload([TraceView.make({ enabled: true }).processor], TRACES))
}
const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!.toFixed(0)
console.log(
  `ns per span (start + end), median of 7 x ${TRACES * (CHILDREN + 1)} spans: ` +
    `no processor ${median(rounds.bare)}, no-op processor ${median(rounds.noop)}, trace viewer ${median(rounds.viewer)}`
)

globalThis.gc?.()
const before = process.memoryUsage().heapUsed
const full = TraceView.make({ enabled: true, maxTraces: 2_000 })
workload([full.processor], 2_000)
globalThis.gc?.()
const after = process.memoryUsage().heapUsed
const stats = full.store.size
console.log(
  `heap held by a full buffer of ${stats.traces} traces, ${stats.spans} spans (1 attribute each): ` +
    `~${((after - before) / 1024 / 1024).toFixed(1)} MiB (${
      ((after - before) / stats.spans).toFixed(0)
    } bytes per span)`
)
