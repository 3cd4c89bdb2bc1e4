/**
 * Span cost: one traced call (`Effect.withSpan` around a trivial effect) through our tracer,
 * through `@effect/opentelemetry`'s tracer on the same SDK, through Effect's built-in tracer,
 * and the same call with no span at all. Both SDK-backed tracers end spans into a
 * `SimpleSpanProcessor` over an exporter that counts and discards, so the figure is the
 * tracer's own work plus the SDK's span, not network or batching.
 */
import { FunctionTelemetry, TelemetryConfig, Tracing } from "@effect-telemetry/core"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import type { ExportResult } from "@opentelemetry/core"
import { resourceFromAttributes } from "@opentelemetry/resources"
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base"
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as EffectTracer from "effect/Tracer"
import { alternate, cpuNsPerOpAsync, fmt, median, ratio } from "./lib/stats.js"
import type { Table } from "./lib/stats.js"

class CountingExporter implements SpanExporter {
  count = 0
  export(spans: Array<ReadableSpan>, done: (result: ExportResult) => void): void {
    this.count += spans.length
    done({ code: 0 })
  }
  async shutdown(): Promise<void> {}
}

const resource = resourceFromAttributes({ "service.name": "bench" })

const ourTracer = (sampler: "always_on" | "always_off", exporter: SpanExporter): EffectTracer.Tracer => {
  const config = Effect.runSync(TelemetryConfig.load({ serviceName: "bench", sampler }))
  const provider = Tracing.makeProvider({ config, resource, exporter, simple: true })
  return Tracing.makeTracer(provider.provider, resource)
}

const theirTracer = (exporter: SpanExporter): EffectTracer.Tracer => {
  const provider = new BasicTracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor(exporter)] })
  return Effect.runSync(OtelTracer.make.pipe(Effect.provideService(OtelTracer.OtelTracer, provider.getTracer("bench"))))
}

const work = Effect.succeed(1)
const attributes = { "bench.attribute": "value" }

const loop = (call: Effect.Effect<number>) => (n: number) =>
  Effect.runPromise(Effect.gen(function*() {
    for (let i = 0; i < n; i++) yield* call
  }))

type Variant =
  | "no span"
  | "Effect native tracer"
  | "@effect/opentelemetry"
  | "ours"
  | "ours, sampled out"
  | "ours, Telemetry.fn (span + 3 metrics)"
  | "ours, layerFromSpans, name included (span + 3 metrics)"
  | "ours, layerFromSpans, name not included"

/** Our tracer as FunctionTelemetry.layerFromSpans leaves it: metrics derived from matching Internal spans. */
const fromSpans = (tracer: EffectTracer.Tracer, include: ReadonlyArray<string>): EffectTracer.Tracer =>
  Effect.runSync(
    Effect.scoped(
      Effect.flatMap(Layer.build(FunctionTelemetry.layerFromSpans({ include })), (context) =>
        Effect.provide(Effect.tracer, context)).pipe(Effect.withTracer(tracer))
    )
  )

export const run = async (options: { readonly quick: boolean }): Promise<Array<Table>> => {
  const iterations = options.quick ? 20_000 : 50_000
  const rounds = options.quick ? 3 : 5
  const exporters = {
    ours: new CountingExporter(),
    theirs: new CountingExporter(),
    unsampled: new CountingExporter(),
    fn: new CountingExporter(),
    included: new CountingExporter(),
    excluded: new CountingExporter()
  }
  const withSpan = work.pipe(Effect.withSpan("bench.call", { attributes }))
  const tracedFn = FunctionTelemetry.traced(work, "bench.call", { attributes })
  const bodies: Record<Variant, (n: number) => Promise<void>> = {
    "no span": loop(work),
    "Effect native tracer": loop(withSpan),
    "@effect/opentelemetry": loop(Effect.withTracer(withSpan, theirTracer(exporters.theirs))),
    ours: loop(Effect.withTracer(withSpan, ourTracer("always_on", exporters.ours))),
    "ours, sampled out": loop(Effect.withTracer(withSpan, ourTracer("always_off", exporters.unsampled))),
    "ours, Telemetry.fn (span + 3 metrics)": loop(Effect.withTracer(tracedFn, ourTracer("always_on", exporters.fn))),
    "ours, layerFromSpans, name included (span + 3 metrics)": loop(
      Effect.withTracer(withSpan, fromSpans(ourTracer("always_on", exporters.included), ["bench.*"]))
    ),
    "ours, layerFromSpans, name not included": loop(
      Effect.withTracer(withSpan, fromSpans(ourTracer("always_on", exporters.excluded), ["other.*"]))
    )
  }
  const variants = Object.keys(bodies) as Array<Variant>
  const samples = await alternate(rounds, variants, (variant) => cpuNsPerOpAsync(bodies[variant], iterations))
  const ns = Object.fromEntries(variants.map((v) => [v, median(samples[v])])) as Record<Variant, number>
  for (const v of variants) console.error(`  span ${v}: ${fmt(ns[v])} ns/call`)
  const base = ns["no span"]
  const spanCost = (v: Variant) => ns[v] - base
  return [{
    targets: [{
      target: "Span: a traced call through our layer costs no more than through @effect/opentelemetry",
      measured: `${fmt(spanCost("ours"))} ns vs ${fmt(spanCost("@effect/opentelemetry"))} ns (${
        ratio(spanCost("ours"), spanCost("@effect/opentelemetry"))
      }); sampled out ${fmt(spanCost("ours, sampled out"))} ns`,
      met: spanCost("ours") <= spanCost("@effect/opentelemetry")
    }],
    title: "Span cost (CPU ns per traced call)",
    header: ["variant", "ns/call", "span cost (minus no span)", "vs @effect/opentelemetry", "spans exported"],
    rows: variants.map((v) => [
      v,
      fmt(ns[v]),
      v === "no span" ? "0" : fmt(ns[v] - base),
      ratio(ns[v] - base, ns["@effect/opentelemetry"] - base),
      v === "ours"
        ? fmt(exporters.ours.count)
        : v === "@effect/opentelemetry"
        ? fmt(exporters.theirs.count)
        : v === "ours, sampled out"
        ? fmt(exporters.unsampled.count)
        : v.startsWith("ours, Telemetry.fn")
        ? fmt(exporters.fn.count)
        : v === "ours, layerFromSpans, name included (span + 3 metrics)"
        ? fmt(exporters.included.count)
        : v === "ours, layerFromSpans, name not included"
        ? fmt(exporters.excluded.count)
        : "-"
    ]),
    notes: [
      `${rounds} alternating rounds of ${
        fmt(iterations)
      } calls per variant after a warm-up, in one Effect loop; CPU time (user+system) per call, medians. "vs @effect/opentelemetry" compares span costs (no-span call subtracted).`,
      "Both SDK tracers: BasicTracerProvider, SimpleSpanProcessor, an exporter that counts and discards (our provider adds its delivery accounting, as in production).",
      "Sampled out: our tracer with `always_off`; the span still exists for Effect (ids, attributes kept) but records nothing in the SDK and is never exported.",
      "layerFromSpans: our tracer wrapped by FunctionTelemetry.layerFromSpans; 'included' records function.calls/duration/active from the span (what Telemetry.fn records), 'not included' pays only the name filter."
    ]
  }]
}
