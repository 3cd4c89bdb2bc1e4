/**
 * Scrape cost of `/metrics`: rendering the Prometheus text exposition of one counter with
 * 1,000 / 10,000 / 50,000 series through our exporter (which reads Effect's registry at
 * scrape time and renders with prom-client) against prom-client alone holding the same series.
 */
import { Instrument, PrometheusMetrics } from "@effect-telemetry/core"
import { resourceFromAttributes } from "@opentelemetry/resources"
import * as Effect from "effect/Effect"
import * as PromClient from "prom-client"
import { alternate, fmt, gc, median, ratio } from "./lib/stats.js"
import type { Table } from "./lib/stats.js"

const resource = resourceFromAttributes({ "service.name": "bench" })

const timeMillis = async (body: () => Promise<unknown>, repeats: number): Promise<number> => {
  await body()
  const samples: Array<number> = []
  for (let i = 0; i < repeats; i++) {
    const start = process.hrtime.bigint()
    await body()
    samples.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  return median(samples)
}

export const run = async (options: { readonly quick: boolean }): Promise<Array<Table>> => {
  const sizes = [1_000, 10_000, 50_000]
  const rounds = 3
  const repeats = options.quick ? 2 : 4
  Instrument.setCardinalityLimit(100_000)
  const rows: Array<Array<string>> = []
  try {
    for (const size of sizes) {
      // Only this size's series in Effect's (global) registry.
      Instrument.resetAll()
      gc()
      const ours = Instrument.counter({
        name: "bench.scrape.requests",
        unit: "{request}",
        description: "Scrape benchmark."
      })
      const registry = new PromClient.Registry()
      const theirs = new PromClient.Counter({
        name: "bench_scrape_requests_total",
        help: "Scrape benchmark.",
        labelNames: ["http_route", "http_response_status_code"],
        registers: [registry]
      })
      for (let i = 0; i < size; i++) {
        ours.unsafeAdd(1, { "http.route": `/route/${i >> 2}`, "http.response.status_code": 200 + (i & 3) })
        theirs.inc({ http_route: `/route/${i >> 2}`, http_response_status_code: 200 + (i & 3) }, 1)
      }
      const exporter = PrometheusMetrics.make({ resource, defaultMetrics: false, effectRuntimeMetrics: false })
      let oursBytes = 0
      let theirsBytes = 0
      const samples = await alternate(rounds, ["ours", "prom-client"] as const, (variant) =>
        variant === "ours"
          ? timeMillis(() => Effect.runPromise(exporter.scrape()).then((s) => (oursBytes = s.body.length)), repeats)
          : timeMillis(() => registry.metrics().then((body) => (theirsBytes = body.length)), repeats))
      const a = median(samples.ours)
      const b = median(samples["prom-client"])
      const oursLines = oursBytes > 0
        ? (await Effect.runPromise(exporter.scrape())).body.split("\n").filter((l) => l.startsWith("bench_scrape"))
          .length
        : 0
      console.error(
        `  scrape ${size} series: ours ${fmt(a, 1)} ms (${oursLines} sample lines), prom-client ${fmt(b, 1)} ms`
      )
      rows.push([
        fmt(size),
        fmt(a, 1),
        fmt(b, 1),
        ratio(a, b),
        fmt((a * 1e6) / size, 0),
        `${fmt(oursBytes / 1024)} / ${fmt(theirsBytes / 1024)}`
      ])
    }
  } finally {
    Instrument.setCardinalityLimit(2000)
    Instrument.resetAll()
  }
  return [{
    title: "Scrape cost of /metrics (one counter, N series)",
    header: [
      "series",
      "ours ms",
      "prom-client ms",
      "ours / prom-client",
      "ours ns/series",
      "body KiB (ours / prom-client)"
    ],
    rows,
    notes: [
      `${rounds} alternating rounds of ${repeats} scrapes per side after one warm-up scrape; medians. Prometheus text format, no default Node.js metrics, no target_info difference worth noting (one line).`,
      "Ours = `PrometheusMetrics.make(...).scrape()`: a collection of Effect's registry into the neutral model, then rendering by prom-client; the extra cost over prom-client is that collection (one pass, one object per series)."
    ]
  }]
}
