/**
 * Scrape cost of `/metrics`: rendering the exposition of one counter with 1,000 / 10,000 /
 * 50,000 series through our exporter (one pass over Effect's registry, rendered by us) against
 * prom-client alone holding the same series, in the Prometheus text format (the target) and in
 * OpenMetrics; and one histogram with 1,000 series (16 buckets each).
 */
import { Instrument, PrometheusMetrics } from "@effect-telemetry/core"
import { resourceFromAttributes } from "@opentelemetry/resources"
import * as Effect from "effect/Effect"
import * as PromClient from "prom-client"
import { alternate, fmt, gc, median, ratio } from "./lib/stats.js"
import type { Table, Target } from "./lib/stats.js"

const resource = resourceFromAttributes({ "service.name": "bench" })
const openMetricsAccept = "application/openmetrics-text; version=1.0.0"
const boundaries = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 15]

const timeMillis = async (body: () => Promise<unknown>, repeats: number): Promise<number> => {
  await body()
  // Garbage the earlier parts left (the span part promotes millions of objects) is collected
  // here, not in whichever sub-millisecond scrape a major GC would otherwise land on.
  gc()
  const samples: Array<number> = []
  for (let i = 0; i < repeats; i++) {
    const start = process.hrtime.bigint()
    await body()
    samples.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  return median(samples)
}

interface Measured {
  readonly ours: number
  readonly theirs: number
  readonly oursBytes: number
  readonly theirsBytes: number
  readonly oursSamples: number
  readonly theirsSamples: number
}

const sampleLines = (body: string, prefix: string) => body.split("\n").filter((l) => l.startsWith(prefix)).length

const measure = async (options: {
  readonly kind: "counter" | "histogram"
  readonly size: number
  readonly openMetrics: boolean
  readonly rounds: number
  readonly repeats: number
}): Promise<Measured> => {
  const { kind, openMetrics, repeats, rounds, size } = options
  // Only this measurement's series in Effect's (global) registry.
  Instrument.resetAll()
  gc()
  // prom-client's typings omit the constructor's content-type argument.
  const Registry = PromClient.Registry as unknown as new(contentType: string) => PromClient.Registry
  const registry = new Registry(
    openMetrics ? PromClient.Registry.OPENMETRICS_CONTENT_TYPE : PromClient.Registry.PROMETHEUS_CONTENT_TYPE
  )
  const labelNames = ["http_route", "http_response_status_code"]
  const attributes = (i: number) => ({ "http.route": `/route/${i >> 2}`, "http.response.status_code": 200 + (i & 3) })
  const labels = (i: number) => ({ http_route: `/route/${i >> 2}`, http_response_status_code: 200 + (i & 3) })
  if (kind === "counter") {
    const ours = Instrument.counter({
      name: "bench.scrape.requests",
      unit: "{request}",
      description: "Scrape benchmark."
    })
    const theirs = new PromClient.Counter({
      name: "bench_scrape_requests_total",
      help: "Scrape benchmark.",
      labelNames,
      registers: [registry]
    })
    for (let i = 0; i < size; i++) {
      ours.unsafeAdd(1, attributes(i))
      theirs.inc(labels(i), 1)
    }
  } else {
    const ours = Instrument.histogram({
      name: "bench.scrape.duration",
      unit: "s",
      description: "Scrape benchmark.",
      boundaries
    })
    const theirs = new PromClient.Histogram({
      name: "bench_scrape_duration_seconds",
      help: "Scrape benchmark.",
      labelNames,
      buckets: boundaries,
      registers: [registry]
    })
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < 4; j++) {
        ours.unsafeRecord(j * 0.3, attributes(i))
        theirs.observe(labels(i), j * 0.3)
      }
    }
  }
  const exporter = PrometheusMetrics.make({ resource, defaultMetrics: false, effectRuntimeMetrics: false })
  const accept = openMetrics ? openMetricsAccept : undefined
  let oursBody = ""
  let theirsBody = ""
  const samples = await alternate(rounds, ["ours", "prom-client"] as const, (variant) =>
    variant === "ours"
      ? timeMillis(() => Effect.runPromise(exporter.scrape(accept)).then((s) => (oursBody = s.body)), repeats)
      : timeMillis(() => registry.metrics().then((body) => (theirsBody = body)), repeats))
  const prefix = kind === "counter" ? "bench_scrape_requests" : "bench_scrape_duration"
  return {
    ours: median(samples.ours),
    theirs: median(samples["prom-client"]),
    oursBytes: oursBody.length,
    theirsBytes: theirsBody.length,
    oursSamples: sampleLines(oursBody, prefix),
    theirsSamples: sampleLines(theirsBody, prefix)
  }
}

export const run = async (options: { readonly quick: boolean }): Promise<Array<Table>> => {
  const sizes = [1_000, 10_000, 50_000]
  const rounds = options.quick ? 3 : 5
  // About 50,000 series rendered per timed sample at every size (at least 4 scrapes), so the
  // 1k figure is not a handful of sub-millisecond samples at the mercy of one GC pause.
  const repeatsFor = (size: number) =>
    Math.max(options.quick ? 2 : 4, Math.round((options.quick ? 25_000 : 50_000) / size))
  Instrument.setCardinalityLimit(100_000)
  const rows: Array<Array<string>> = []
  const targets: Array<Target> = []
  const ratios: Array<string> = []
  let met = true
  try {
    for (const size of sizes) {
      const text = await measure({ kind: "counter", size, openMetrics: false, rounds, repeats: repeatsFor(size) })
      const open = await measure({ kind: "counter", size, openMetrics: true, rounds, repeats: repeatsFor(size) })
      console.error(
        `  scrape ${size} series: text ours ${fmt(text.ours, 2)} ms, prom-client ${fmt(text.theirs, 2)} ms; ` +
          `OpenMetrics ours ${fmt(open.ours, 2)} ms, prom-client ${fmt(open.theirs, 2)} ms`
      )
      rows.push([
        `counter, ${fmt(size)} series`,
        fmt(text.ours, 2),
        fmt(text.theirs, 2),
        ratio(text.ours, text.theirs),
        fmt((text.ours * 1e6) / size, 0),
        ratio(open.ours, open.theirs),
        `${fmt(text.oursSamples)} / ${fmt(text.theirsSamples)}`,
        `${fmt(text.oursBytes / 1024)} / ${fmt(text.theirsBytes / 1024)}`
      ])
      ratios.push(`${fmt(size / 1000)}k ${ratio(text.ours, text.theirs)}`)
      met &&= text.ours <= text.theirs && text.oursSamples === text.theirsSamples
    }
    const size = 1_000
    const text = await measure({ kind: "histogram", size, openMetrics: false, rounds, repeats: repeatsFor(size * 4) })
    const open = await measure({ kind: "histogram", size, openMetrics: true, rounds, repeats: repeatsFor(size * 4) })
    console.error(
      `  scrape histogram ${size} series: text ours ${fmt(text.ours, 2)} ms, prom-client ${fmt(text.theirs, 2)} ms; ` +
        `OpenMetrics ours ${fmt(open.ours, 2)} ms, prom-client ${fmt(open.theirs, 2)} ms`
    )
    rows.push([
      `histogram (${boundaries.length + 1} buckets), ${fmt(size)} series`,
      fmt(text.ours, 2),
      fmt(text.theirs, 2),
      ratio(text.ours, text.theirs),
      fmt((text.ours * 1e6) / size, 0),
      ratio(open.ours, open.theirs),
      `${fmt(text.oursSamples)} / ${fmt(text.theirsSamples)}`,
      `${fmt(text.oursBytes / 1024)} / ${fmt(text.theirsBytes / 1024)}`
    ])
  } finally {
    Instrument.setCardinalityLimit(2000)
    Instrument.resetAll()
  }
  targets.push({
    id: "scrape",
    target: "Scrape: ≤ 1.0× prom-client at 1k, 10k and 50k series",
    measured: `ours / prom-client, text format: ${ratios.join(", ")}`,
    met,
    note: "a ratio above 1.0× (or a sample count that differs from prom-client's)"
  })
  return [{
    targets,
    title: "Scrape cost of /metrics (one metric, N series)",
    header: [
      "metric",
      "ours ms",
      "prom-client ms",
      "ours / prom-client",
      "ours ns/series",
      "OpenMetrics: ours / prom-client",
      "sample lines (ours / prom-client)",
      "body KiB (ours / prom-client)"
    ],
    rows,
    notes: [
      `${rounds} alternating rounds per side, each the median of ${
        sizes.map((s) => `${repeatsFor(s)} scrapes at ${fmt(s / 1000)}k`).join(", ")
      } (the histogram: ${
        repeatsFor(4000)
      }) after one warm-up scrape; medians of the rounds. ms columns: Prometheus text format; no default Node.js metrics on either side (ours adds one target_info line).`,
      "Ours = `PrometheusMetrics.make(...).scrape()`: one pass over Effect's metric registry rendering each series from its label set escaped once and cached on the series, joined into one string. prom-client = `registry.metrics()` of its own Counter/Histogram holding the same series.",
      "The histogram row records 4 values per series; each series renders 16 bucket lines, `_sum` and `_count`."
    ]
  }]
}
