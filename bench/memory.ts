/**
 * Memory: heap growth across many requests served through the instrumented HttpApp (in
 * process, Web `Request`s into `HttpApp.toWebHandlerLayer`, no sockets), and heap growth per
 * 10,000 distinct attribute sets on one counter, against prom-client. Heap is read after two
 * forced collections (`--expose-gc`, which `npm run bench` passes).
 */
import { Instrument, Telemetry } from "@effect-telemetry/core"
import { HttpServerTelemetry } from "@effect-telemetry/http"
import { OtlpReceiver } from "@effect-telemetry/testing"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as PromClient from "prom-client"
import { fmt, gc, median } from "./lib/stats.js"
import type { Table } from "./lib/stats.js"

const heapMiB = (): number => {
  gc()
  return process.memoryUsage().heapUsed / 2 ** 20
}

const router = HttpRouter.empty.pipe(
  HttpRouter.get("/users/:id", Effect.map(HttpRouter.params, (p) => HttpServerResponse.unsafeJson({ id: p.id })))
)

const requestGrowth = async (
  variant: "off" | "ours",
  requests: number,
  sinkUrl: string
): Promise<{ readonly checkpoints: Array<number>; readonly perMillion: number }> => {
  const telemetry = Telemetry.layer(
    {
      serviceName: "bench-memory",
      tracesExporter: "otlp",
      metricsExporters: ["otlp", "prometheus"],
      otlpTraces: { url: `${sinkUrl}/v1/traces` },
      otlpMetrics: { url: `${sinkUrl}/v1/metrics` },
      metricExportIntervalMillis: 5000,
      prometheusServer: false
    }
  )
  // The documented web-handler install: our middleware as the handler's middleware, the
  // platform's server span off for the handler's runtime (in both variants).
  const layer = variant === "ours"
    ? Layer.merge(telemetry, HttpServerTelemetry.platformTracerOff)
    : HttpServerTelemetry.platformTracerOff
  const { dispose, handler } = HttpApp.toWebHandlerLayer(
    router as HttpApp.Default<any, any>,
    layer as Layer.Layer<any>,
    variant === "ours" ? { middleware: HttpServerTelemetry.middleware() } : undefined
  )
  const concurrency = 64
  const serve = async (n: number) => {
    for (let done = 0; done < n; done += concurrency) {
      const batch: Array<Promise<unknown>> = []
      for (let i = 0; i < concurrency; i++) {
        batch.push(handler(new Request(`http://127.0.0.1/users/${(done + i) & 1023}`)).then((r) => r.arrayBuffer()))
      }
      await Promise.all(batch)
    }
  }
  try {
    // In process, the sink shares the event loop with the load and the span queue fills to its
    // bound (16,384 spans, then drops are counted): warm up past that, so the slope is a leak's.
    await serve(25_024)
    const checkpoints = [heapMiB()]
    const step = requests / 4
    for (let k = 0; k < 4; k++) {
      await serve(step)
      checkpoints.push(heapMiB())
    }
    // Slope of the last three checkpoints: the first quarter may still grow caches to size.
    const slope = (checkpoints[4]! - checkpoints[1]!) / (3 * step)
    return { checkpoints, perMillion: slope * 1e6 }
  } finally {
    await dispose()
  }
}

/**
 * Heap held by a span queue filled while the collector does not answer: `spans` server spans
 * (11 attributes, a path and a user agent of their own each, as requests make them) end
 * through `Telemetry.layer`'s production pipeline exporting to a receiver that hangs. With
 * OTLP/protobuf the queue holds each span's encoded bytes; with `http/json` the SDK's batch
 * processor holds the span objects.
 */
/** Heap and array buffers (where encoded bytes live), after two forced collections. */
const heldMiB = (): number => {
  gc()
  const usage = process.memoryUsage()
  return (usage.heapUsed + usage.arrayBuffers) / 2 ** 20
}

const queueHeld = (protocol: "http/protobuf" | "http/json", spans: number, sinkUrl: string): Promise<number> => {
  const span = (i: number) =>
    Effect.void.pipe(Effect.withSpan("GET /users/:id", {
      kind: "server",
      attributes: {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": `/users/${i}`,
        "server.address": "127.0.0.1",
        "server.port": 3000,
        "client.address": "127.0.0.1",
        "user_agent.original": `Mozilla/5.0 (X11; Linux x86_64) bench/${i}`,
        "network.protocol.version": "1.1",
        "http.route": "/users/:id",
        "http.response.status_code": 200,
        "http.response.body.size": 23
      }
    }))
  return Effect.runPromise(Effect.gen(function*() {
    const before = heldMiB()
    const scope = yield* Scope.make()
    // Built in this fiber: the layer's tracer is a fiber ref set for the fiber that builds it.
    yield* Layer.buildWithScope(
      Telemetry.layer({
        serviceName: "bench-memory-queue",
        tracesExporter: "otlp",
        metricsExporters: [],
        logsExporter: "none",
        otlpTraces: { url: `${sinkUrl}/v1/traces`, protocol },
        shutdownTimeoutMillis: 500
      }),
      scope
    )
    yield* Effect.forEach(Array.from({ length: spans }, (_, i) => i), span, { discard: true })
    // Let the batch that filled first reach the exporter (and hang there with its request).
    yield* Effect.sleep("200 millis")
    const held = heldMiB() - before
    yield* Scope.close(scope, Exit.void)
    return held
  }))
}

const labelGrowth = (sets: number) => {
  Instrument.resetAll()
  const ours = Instrument.counter({ name: "bench.memory.labels", unit: "{request}" })
  const registry = new PromClient.Registry()
  const theirs = new PromClient.Counter({
    name: "bench_memory_labels_total",
    help: "h",
    labelNames: ["user_id"],
    registers: [registry]
  })
  const rows: Array<Array<string>> = []
  for (
    const [name, update] of [
      ["ours (cardinality limit 2000)", (i: number) => ours.unsafeAdd(1, { "user.id": `user-${i}` })],
      ["prom-client", (i: number) => theirs.inc({ user_id: `user-${i}` }, 1)]
    ] as const
  ) {
    const before = heapMiB()
    const marks: Array<number> = []
    for (let i = 0; i < sets; i++) {
      update(i)
      if ((i + 1) % 10_000 === 0) marks.push(heapMiB())
    }
    const perTenK = (marks[marks.length - 1]! - marks[0]!) / (marks.length - 1)
    rows.push([
      name,
      fmt(sets),
      fmt(marks[0]! - before, 1),
      fmt(marks[marks.length - 1]! - before, 1),
      fmt(perTenK * 1024, 0)
    ])
  }
  Instrument.resetAll()
  return rows
}

export const run = async (options: { readonly quick: boolean }): Promise<Array<Table>> => {
  if ((globalThis as { gc?: unknown }).gc === undefined) {
    return [{
      title: "Memory",
      header: ["note"],
      rows: [["skipped: run with `node --expose-gc` (npm run bench does)"]]
    }]
  }
  const requests = options.quick ? 20_000 : 60_000
  const sink = await OtlpReceiver.start({ retain: false })
  const requestRows: Array<Array<string>> = []
  const growth: Record<string, number> = {}
  try {
    for (const variant of ["off", "ours"] as const) {
      const started = Date.now()
      const r = await requestGrowth(variant, requests, sink.url)
      growth[variant] = r.perMillion
      console.error(
        `  memory ${variant}: heap MiB ${r.checkpoints.map((c) => c.toFixed(1)).join(" → ")} (${
          Date.now() - started
        } ms)`
      )
      requestRows.push([
        variant === "off" ? "router, telemetry off" : "router + our full telemetry",
        fmt(requests),
        r.checkpoints.map((c) => c.toFixed(1)).join(" → "),
        fmt(r.perMillion, 1)
      ])
    }
  } finally {
    await sink.close()
  }
  // The default queue size: every span is queued, none dropped.
  const queued = 16_384
  const hanging = await OtlpReceiver.start({ retain: false })
  hanging.setBehaviour({ hang: true })
  const held: Record<string, Array<number>> = { "http/protobuf": [], "http/json": [] }
  try {
    for (let round = 0; round < (options.quick ? 1 : 3); round++) {
      for (const protocol of ["http/protobuf", "http/json"] as const) {
        held[protocol]!.push(await queueHeld(protocol, queued, hanging.url))
      }
    }
  } finally {
    await hanging.close()
  }
  const heldMedian = (protocol: string) => median(held[protocol]!)
  const sets = options.quick ? 30_000 : 100_000
  const labelRows = labelGrowth(sets)
  const oursPerTenK = Number(labelRows[0]![4]!.replace(/,/g, ""))
  return [
    {
      targets: [{
        target: "Memory: heap growth per 1M requests is flat",
        measured: `${fmt(growth.ours!, 1)} MiB per 1M with our telemetry, ${fmt(growth.off!, 1)} MiB without`,
        // ≤ 16 bytes per request: a leak of anything per request (a span is ~1 KiB, an attribute
        // set ~100 B) would show as 100-1,000 MiB per 1M; below that is the heap reading's noise.
        met: growth.ours! <= 16,
        note: "flat = under 16 MiB per 1M requests (16 B/request); one retained span per request would be ~1,000 MiB"
      }],
      title: "Memory: heap across requests (in-process HttpApp, no sockets)",
      header: ["variant", "requests", "heap MiB after warm-up, then each quarter", "growth MiB per 1M requests"],
      rows: requestRows,
      notes: [
        `Scaled down from 1M to ${
          fmt(requests)
        } requests, served in-process through \`HttpApp.toWebHandlerLayer\` (64 concurrent); growth is the slope over the last three quarters, extrapolated to 1M, after a warm-up of 25,024 requests (the span queue fills to its bound of 16,384 in process, where the OTLP sink shares the event loop with the load).`,
        "Ours: `HttpServerTelemetry.middleware` as the handler's middleware + `Telemetry.layer` exporting spans and metrics over OTLP to a local receiver; every request sampled; the platform's own span off (`platformTracerOff`) in both variants."
      ]
    },
    {
      title: "Memory: a full span queue while the collector does not answer",
      header: [
        "export protocol (what the queue holds)",
        "spans queued",
        "MiB held (heap + array buffers)",
        "KiB per span"
      ],
      rows: (["http/protobuf", "http/json"] as const).map((protocol) => [
        protocol === "http/protobuf"
          ? "OTLP/protobuf (each span's encoded bytes)"
          : "OTLP/JSON (the span objects, SDK batch processor)",
        fmt(queued),
        fmt(heldMedian(protocol), 1),
        fmt(heldMedian(protocol) * 1024 / queued, 2)
      ]),
      notes: [
        `\`Telemetry.layer\` exporting spans to a local receiver that never answers; ${
          fmt(queued)
        } server spans of 11 attributes (a path and a user agent of their own each) end, the default queue size, so none is dropped; V8 heap plus array buffers (the encoded bytes live in one) after two forced collections, less the same before the layer was built; median of ${
          options.quick ? 1 : 3
        } alternating rounds. The first batch sits in the exporter, waiting for the answer, as its request bytes.`
      ]
    },
    {
      title: "Memory: distinct attribute sets on one counter",
      header: [
        "library",
        "distinct sets",
        "heap MiB after first 10k",
        "heap MiB after all",
        "KiB per further 10k sets"
      ],
      rows: labelRows,
      targets: [{
        target: "Memory: distinct label sets are bounded by the cardinality limit",
        measured: `${fmt(oursPerTenK, 0)} KiB per further 10k sets past the limit (prom-client: ${
          labelRows[1]![4]
        } KiB)`,
        met: oursPerTenK <= 64
      }],
      notes: [
        "Ours keeps at most the cardinality limit (default 2000, EFFECT_TELEMETRY_METRIC_CARDINALITY_LIMIT) series per metric; later new sets go to one `otel.metric.overflow=\"true\"` series, so memory stops growing. prom-client keeps every set."
      ]
    }
  ]
}
