/**
 * Span cost: one traced call (`Effect.withSpan` around a trivial effect) through our tracer,
 * through `@effect/opentelemetry`'s tracer on the same SDK, through Effect's built-in tracer,
 * and the same call with no span at all. Both SDK-backed tracers end spans into a
 * `SimpleSpanProcessor` over an exporter that counts and discards, so the figure is the
 * tracer's own work plus the SDK's span, not network or batching.
 */
import { FunctionTelemetry, TelemetryConfig, Tracing } from "@effect-telemetry/core"
import { serializeTraceRequest } from "@effect-telemetry/core/internal/otlpTraceEncoder"
import * as OtelTracer from "@effect/opentelemetry/Tracer"
import type { ExportResult } from "@opentelemetry/core"
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer"
import { resourceFromAttributes } from "@opentelemetry/resources"
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base"
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
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

/**
 * The processor behind each SDK-backed tracer: `batch` is what an app runs with (Telemetry.layer's
 * default, the processor @effect/opentelemetry's examples give NodeSdk); `simple` exports each
 * span as it ends, one export call (an async function, its promises, an OTel context) per span.
 */
type Processor = "batch" | "simple"

const ourTracer = (
  sampler: "always_on" | "always_off",
  exporter: SpanExporter,
  processor: Processor = "batch"
): EffectTracer.Tracer => {
  const config = Effect.runSync(TelemetryConfig.load({ serviceName: "bench", sampler }))
  const provider = Tracing.makeProvider({ config, resource, exporter, simple: processor === "simple" })
  return Tracing.makeTracer(provider.provider, resource)
}

const theirTracer = (exporter: SpanExporter, processor: Processor = "batch"): EffectTracer.Tracer => {
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [processor === "simple" ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)]
  })
  return Effect.runSync(OtelTracer.make.pipe(Effect.provideService(OtelTracer.OtelTracer, provider.getTracer("bench"))))
}

const work = Effect.succeed(1)
const attributes = { "bench.attribute": "value" }

// The tracer is provided once around the loop, as a layer provides it to an app: provided per
// call (`Effect.withTracer` inside the loop, as this part did before) it adds a fiber-ref
// `locally` to every call, ~3 µs that are not the tracer's.
const loop = (call: Effect.Effect<number>, tracer?: EffectTracer.Tracer) => (n: number) =>
  Effect.runPromise(
    Effect.gen(function*() {
      for (let i = 0; i < n; i++) yield* call
    }).pipe(tracer === undefined ? (self) => self : Effect.withTracer(tracer))
  )

type Variant =
  | "no span"
  | "Effect native tracer"
  | "@effect/opentelemetry"
  | "ours"
  | "ours, sampled out"
  | "@effect/opentelemetry, simple processor"
  | "ours, simple processor"
  | "ours, Telemetry.fn (span + 3 metrics)"
  | "ours, layerFromSpans, name included (span + 3 metrics)"
  | "ours, layerFromSpans, name not included"
  | "ours, withTracer per call (this part's loop before)"

/** Our tracer as FunctionTelemetry.layerFromSpans leaves it: metrics derived from matching Internal spans. */
const fromSpans = (tracer: EffectTracer.Tracer, include: ReadonlyArray<string>): EffectTracer.Tracer =>
  Effect.runSync(
    Effect.scoped(
      Effect.flatMap(Layer.build(FunctionTelemetry.layerFromSpans({ include })), (context) =>
        Effect.provide(Effect.tracer, context)).pipe(Effect.withTracer(tracer))
    )
  )

// A server span as HttpServerTelemetry records it: the request's and the response's attributes.
const serverAttributes = {
  "http.request.method": "GET",
  "url.scheme": "http",
  "url.path": "/users/42",
  "server.address": "127.0.0.1",
  "server.port": 3000,
  "client.address": "127.0.0.1",
  "user_agent.original": "autocannon",
  "network.protocol.version": "1.1",
  "http.route": "/users/:id",
  "http.response.status_code": 200,
  "http.response.body.size": 23
}

/** Keeps what it is handed and answers at once (the SDK's in-memory exporter answers on a timer). */
class CollectingExporter implements SpanExporter {
  readonly spans: Array<ReadableSpan> = []
  export(spans: Array<ReadableSpan>, done: (result: ExportResult) => void): void {
    for (const span of spans) this.spans.push(span)
    done({ code: 0 })
  }
  async shutdown(): Promise<void> {}
}

type Shape = "call" | "server"

/** `count` ended spans of one shape, as the exporter receives them from `tracer`. */
const collect = async (
  tracer: (exporter: SpanExporter) => EffectTracer.Tracer,
  shape: Shape,
  count: number
): Promise<Array<ReadableSpan>> => {
  const exporter = new CollectingExporter()
  const span = shape === "call"
    ? work.pipe(Effect.withSpan("bench.call", { attributes }))
    : work.pipe(Effect.withSpan("GET /users/:id", { kind: "server", attributes: serverAttributes }))
  await Effect.runPromise(Effect.withTracer(Effect.repeatN(span, count - 1), tracer(exporter)))
  // The simple processor hands spans over after a microtask: wait until every one arrived.
  while (exporter.spans.length < count) await new Promise((resolve) => setTimeout(resolve, 1))
  return exporter.spans
}

/**
 * ns per span to serialize a batch of 512 ended spans into an OTLP/protobuf request with the
 * SDK's serializer (what the OTLP exporter does for each batch): our native spans against the
 * SDK's spans of the same shape. "First export" serializes spans never read before, so our
 * spans' deferred conversion of attributes, events and links is in it; "again" is the
 * serializer alone.
 */
const serialization = async (): Promise<Table> => {
  const batch = 512
  const rounds = 7
  const passes = 20
  const sources = {
    "ours, traced call (1 attribute)": [(e: SpanExporter) => ourTracer("always_on", e, "simple"), "call"],
    "SDK span, traced call (1 attribute)": [(e: SpanExporter) => theirTracer(e, "simple"), "call"],
    "ours, server span (11 attributes)": [(e: SpanExporter) => ourTracer("always_on", e, "simple"), "server"],
    "SDK span, server span (11 attributes)": [(e: SpanExporter) => theirTracer(e, "simple"), "server"]
  } as const
  const serializers = {
    "SDK serializer": (spans: Array<ReadableSpan>) => ProtobufTraceSerializer.serializeRequest(spans)!,
    "our encoder": serializeTraceRequest
  } as const
  type Source = keyof typeof sources
  type SerializerName = keyof typeof serializers
  const sourceNames = Object.keys(sources) as Array<Source>
  const serializerNames = Object.keys(serializers) as Array<SerializerName>
  const names = sourceNames.flatMap((source) => serializerNames.map((serializer) => [source, serializer] as const))
  const label = ([source, serializer]: readonly [Source, SerializerName]) => `${source}, ${serializer}`
  const first: Record<string, Array<number>> = {}
  const again: Record<string, Array<number>> = {}
  const bytes: Record<string, number> = {}
  for (const name of names) {
    first[label(name)] = []
    again[label(name)] = []
  }
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(j + round) % names.length]!
      const [tracer, shape] = sources[name[0]]
      const serialize = serializers[name[1]]
      const sets = await Promise.all(Array.from({ length: passes }, () => collect(tracer, shape, batch)))
      let start = process.hrtime.bigint()
      let size = 0
      for (const spans of sets) size += serialize(spans).length
      first[label(name)]!.push(Number(process.hrtime.bigint() - start) / (passes * batch))
      start = process.hrtime.bigint()
      for (const spans of sets) serialize(spans)
      again[label(name)]!.push(Number(process.hrtime.bigint() - start) / (passes * batch))
      bytes[label(name)] = size / (passes * batch)
    }
  }
  return {
    title: "OTLP serialization per span (batches of 512)",
    header: ["spans, serializer", "first export ns/span", "serialized again ns/span", "bytes/span"],
    rows: names.map(label).map((n) => [n, fmt(median(first[n]!)), fmt(median(again[n]!)), fmt(bytes[n]!)]),
    notes: [
      `\`ProtobufTraceSerializer.serializeRequest\` (the SDK's) against \`serializeTraceRequest\` (ours, what our OTLP exporter uses for protobuf), ${passes} fresh batches of ${batch} spans per variant and round, ${rounds} alternating rounds, medians; wall time, one core.`,
      "Our spans convert attributes, events and links from the Effect span's fields when the exporter first reads them (in the batch processor's export, off the request path): the first-export column includes that conversion for the SDK's serializer, the second is the serializer alone. Our encoder reads a native span's attributes and clock readings from the Effect span's fields, without that conversion, on every export."
    ]
  }
}

export const run = async (options: { readonly quick: boolean }): Promise<Array<Table>> => {
  const iterations = options.quick ? 20_000 : 50_000
  // Nine rounds: a traced call moves by 10-20% between runs (GC and the shared CPU); the median of
  // nine keeps the comparison with the native tracer steadier than five did.
  const rounds = options.quick ? 3 : 9
  const exporters = {
    ours: new CountingExporter(),
    theirs: new CountingExporter(),
    oursSimple: new CountingExporter(),
    theirsSimple: new CountingExporter(),
    unsampled: new CountingExporter(),
    fn: new CountingExporter(),
    included: new CountingExporter(),
    excluded: new CountingExporter(),
    perCall: new CountingExporter()
  }
  const perCallTracer = ourTracer("always_on", exporters.perCall)
  const withSpan = work.pipe(Effect.withSpan("bench.call", { attributes }))
  const tracedFn = FunctionTelemetry.traced(work, "bench.call", { attributes })
  const bodies: Record<Variant, (n: number) => Promise<void>> = {
    "no span": loop(work),
    "Effect native tracer": loop(withSpan),
    "@effect/opentelemetry": loop(withSpan, theirTracer(exporters.theirs)),
    ours: loop(withSpan, ourTracer("always_on", exporters.ours)),
    "ours, sampled out": loop(withSpan, ourTracer("always_off", exporters.unsampled)),
    "@effect/opentelemetry, simple processor": loop(withSpan, theirTracer(exporters.theirsSimple, "simple")),
    "ours, simple processor": loop(withSpan, ourTracer("always_on", exporters.oursSimple, "simple")),
    "ours, Telemetry.fn (span + 3 metrics)": loop(tracedFn, ourTracer("always_on", exporters.fn)),
    "ours, layerFromSpans, name included (span + 3 metrics)": loop(
      withSpan,
      fromSpans(ourTracer("always_on", exporters.included), ["bench.*"])
    ),
    "ours, layerFromSpans, name not included": loop(
      withSpan,
      fromSpans(ourTracer("always_on", exporters.excluded), ["other.*"])
    ),
    "ours, withTracer per call (this part's loop before)": (n) =>
      Effect.runPromise(Effect.gen(function*() {
        for (let i = 0; i < n; i++) yield* Effect.withTracer(withSpan, perCallTracer)
      }))
  }
  const variants = Object.keys(bodies) as Array<Variant>
  const samples = await alternate(rounds, variants, (variant) => cpuNsPerOpAsync(bodies[variant], iterations))
  const ns = Object.fromEntries(variants.map((v) => [v, median(samples[v])])) as Record<Variant, number>
  for (const v of variants) console.error(`  span ${v}: ${fmt(ns[v])} ns/call`)
  const base = ns["no span"]
  const spanCost = (v: Variant) => ns[v] - base
  const native = spanCost("Effect native tracer")
  return [{
    targets: [{
      id: "traced-call",
      target: "Traced call: ≤ Effect's native tracer + 20%",
      measured: `span cost ${fmt(spanCost("ours"))} ns vs native ${fmt(native)} ns (${
        ratio(spanCost("ours"), native)
      }); with the simple processor ${fmt(spanCost("ours, simple processor"))} ns (${
        ratio(spanCost("ours, simple processor"), native)
      })`,
      met: spanCost("ours") <= native * 1.2
    }, {
      id: "traced-call-unsampled",
      target: "Traced call: sampled out ≤ native",
      measured: `span cost ${fmt(spanCost("ours, sampled out"))} ns vs native ${fmt(native)} ns (${
        ratio(spanCost("ours, sampled out"), native)
      })`,
      met: spanCost("ours, sampled out") <= native
    }, {
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
        : v === "ours, simple processor"
        ? fmt(exporters.oursSimple.count)
        : v === "@effect/opentelemetry, simple processor"
        ? fmt(exporters.theirsSimple.count)
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
        : v.startsWith("ours, withTracer per call")
        ? fmt(exporters.perCall.count)
        : "-"
    ]),
    notes: [
      `${rounds} alternating rounds of ${
        fmt(iterations)
      } calls per variant after a warm-up, in one Effect loop with the tracer provided once around it (the last row provides it per call, as this part did before: a fiber-ref \`locally\` per call); CPU time (user+system) per call, medians. "vs @effect/opentelemetry" compares span costs (no-span call subtracted).`,
      "Both SDK tracers: BasicTracerProvider with the BatchSpanProcessor at its defaults (what an app runs: Telemetry.layer's default processor, and the one @effect/opentelemetry's NodeSdk examples give), an exporter that counts and discards (our provider adds its delivery accounting, as in production); the batch exports run inside the measured loop, so their CPU is counted. The 'simple processor' rows export each span as it ends instead (the SDK's SimpleSpanProcessor: an async export call, its promises and an OTel context per span); this part measured those before.",
      "Spans exported: counted when the rounds end. Behind the batch processor every full batch of 512 has reached the exporter by then (it exports one as soon as it has it) and only the last partial batch (the calls modulo 512) is still queued: nothing was dropped.",
      "Sampled out: our tracer with `always_off`; the span still exists for Effect (ids, attributes kept in its map) but records nothing and is never exported.",
      "layerFromSpans: our tracer wrapped by FunctionTelemetry.layerFromSpans; 'included' records function.calls/duration/active from the span (what Telemetry.fn records), 'not included' pays only the name filter."
    ]
  }, await serialization()]
}
