/**
 * The demo as users run it (`npm start`, a child process), scraped by a real Prometheus and
 * exporting over OTLP to a local receiver, then stopped with SIGTERM: the counts Prometheus
 * scraped match the requests sent and, for every counter, up-down counter and histogram, what
 * arrived over OTLP (one emit, one count, on both paths), in-flight gauges are back at 0, and
 * every span arrived. A second, cheaper run is stopped with SIGINT.
 */
import { Instrument, PrometheusMetrics } from "@effect-telemetry/core"
import { OtlpReceiver } from "@effect-telemetry/testing"
import type { ReceivedDataPoint, ReceivedSpan } from "@effect-telemetry/testing/OtlpReceiver"
import { describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
// Imported for its declarations: the demo's modules declare the instruments it can emit, so
// Instrument.declared() lists them here as in the demo's own process.
import "../src/App.js"

const root = resolve(__dirname, "../../..")

const freePort = () =>
  new Promise<number>((done, fail) => {
    const server = createServer()
    server.once("error", fail)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => done(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const waitFor = async <A>(what: string, f: () => Promise<A | undefined>, timeoutMs: number): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await f()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    await sleep(250)
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`)
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((done) => {
    if (child.exitCode !== null) done(child.exitCode)
    else child.once("exit", (code) => done(code))
  })

const SERVICE = "demo-e2e"

interface Demo {
  readonly child: ChildProcess
  /** The API's base URL. */
  readonly base: string
  /** The port of the Prometheus exporter's own server. */
  readonly metricsPort: number
  /** Everything the demo printed so far. */
  readonly output: () => string
}

/**
 * Starts the demo as `npm start` does (embedded services), exporting spans and, every second,
 * metrics to `receiver`; resolves once it answers /health.
 */
const startDemo = async (receiver: OtlpReceiver.StartedOtlpReceiver): Promise<Demo> => {
  const [appPort, metricsPort] = [await freePort(), await freePort()]
  const child = spawn(process.execPath, ["--import", "tsx", "packages/demo/src/main.ts"], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(appPort),
      TRACE_VIEW: "false",
      OTEL_SERVICE_NAME: SERVICE,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_METRICS_EXPORTER: "prometheus,otlp",
      OTEL_EXPORTER_PROMETHEUS_HOST: "127.0.0.1",
      OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
      OTEL_METRIC_EXPORT_INTERVAL: "1000",
      // Longer than the test: spans left in the batch at the signal arrive only if shutdown flushes.
      OTEL_BSP_SCHEDULE_DELAY: "600000",
      // One report at start and none after: a run between the Prometheus read and the OTLP read
      // of the metric comparison would change the SQL, function and process totals in between.
      REPORT_INTERVAL: "1 hour",
      DATABASE_URL: "",
      REDIS_URL: "",
      AMQP_URL: ""
    },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.on("data", (b) => (output += b))
  child.stderr!.on("data", (b) => (output += b))
  const base = `http://127.0.0.1:${appPort}`
  await waitFor("the demo to listen", async () => ((await fetch(`${base}/health`)).ok ? true : undefined), 60_000)
    .catch((error) => {
      child.kill("SIGKILL")
      throw new Error(`${error}\n${output}`)
    })
  return { child, base, metricsPort, output: () => output }
}

/** Sends `signal`; resolves with the exit code, or "timeout" after 30 s. */
const stop = (demo: Demo, signal: NodeJS.Signals) => {
  demo.child.kill(signal)
  return Promise.race([exited(demo.child), sleep(30_000).then(() => "timeout" as const)])
}

const placeOrder = (base: string) =>
  fetch(`${base}/orders`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ sku: "sku-1", quantity: 1 })
  })

// --- spans ----------------------------------------------------------------------------------

const spansOf = (receiver: OtlpReceiver.StartedOtlpReceiver) =>
  receiver.spans().filter((s) => s.resource["service.name"] === SERVICE)

/** The spans each placed order makes once, counted: each count should equal the orders placed. */
const perOrder = (spans: ReadonlyArray<ReceivedSpan>) => {
  const named = (name: string) => spans.filter((s) => s.name === name).length
  return {
    insert: named("INSERT demo_orders"),
    audit: named("process order-audit"),
    send: named("send order-events"),
    process: named("process order-events"),
    workflow: named("workflow Fulfilment")
  }
}

/** Spans whose parent never arrived: a span lost at shutdown leaves its children orphaned. */
const orphans = (spans: ReadonlyArray<ReceivedSpan>) => {
  const ids = new Set(spans.map((s) => s.spanId))
  return spans.filter((s) => s.parentSpanId !== undefined && !ids.has(s.parentSpanId)).map((s) => s.name)
}

// --- metrics --------------------------------------------------------------------------------

/** An OTLP point's attributes as Prometheus labels, spelt as the exporter spells them. */
const labelsOf = (attributes: Readonly<Record<string, unknown>>): Record<string, string> =>
  Object.fromEntries(
    Object.entries(attributes).map(([key, value]) => [PrometheusMetrics.labelName(key), String(value)])
  )

const seriesKey = (name: string, labels: Readonly<Record<string, string>>) =>
  `${name}{${Object.keys(labels).sort().map((key) => `${key}="${labels[key]}"`).join(",")}}`

/** The last point of each of the demo's OTLP series (name and attributes). */
const lastPoints = (receiver: OtlpReceiver.StartedOtlpReceiver): ReadonlyArray<ReceivedDataPoint> => {
  const last = new Map<string, ReceivedDataPoint>()
  for (const point of receiver.dataPoints()) {
    if (point.resource["service.name"] !== SERVICE) continue
    const key = seriesKey(point.name, labelsOf(point.attributes))
    const previous = last.get(key)
    if (previous === undefined || point.timeUnixNano >= previous.timeUnixNano) last.set(key, point)
  }
  return [...last.values()]
}

/** The sum of the last OTLP values of `name` over the series whose attributes include `attributes`. */
const otlpTotal = (receiver: OtlpReceiver.StartedOtlpReceiver, name: string, attributes: Record<string, string> = {}) =>
  lastPoints(receiver)
    .filter((p) => p.name === name && Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))
    .reduce((total, p) => total + (p.value ?? 0), 0)

type Query = (promql: string) => Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>

/**
 * Every declared counter, up-down counter and histogram, series by series under its Prometheus
 * name (histograms: `_count` and `_sum`): the value of the last OTLP point and the value
 * Prometheus holds. `unaccounted` lists OTLP metrics that are neither compared nor excluded.
 *
 * Not compared, because they move on their own between the two reads or exist on one path only:
 * - gauges (declared: `cdc.replication.lag`, `cdc.retained_wal`): a value sampled at each read;
 * - Effect's runtime metrics (`effect_fiber_started`, `_successes`, `_failures`, `_lifetimes`,
 *   `_active`): fibers start and end while the demo idles;
 * - @effect/cluster's gauges (`effect_cluster_entities`, `_shards`, `_runners`, ...): the
 *   workflow engine's state, sampled at each read like the gauges above;
 * - SQL series of the cluster's own tables (`db_collection_name="cluster_…"`): the workflow
 *   engine polls its storage and refreshes its shard locks while the demo idles;
 * - prom-client's Node.js and process metrics (`nodejs_*`, `process_cpu_*`,
 *   `process_resident_memory_bytes`, ...): Prometheus only, never sent over OTLP.
 */
const ownedByCluster = (labels: Readonly<Record<string, string>>) =>
  labels["db_collection_name"]?.startsWith("cluster_") === true

const compareAll = async (receiver: OtlpReceiver.StartedOtlpReceiver, query: Query) => {
  const otlp: Record<string, number | undefined> = {}
  const prometheus: Record<string, number> = {}
  const points = lastPoints(receiver)
  const compared = Instrument.declared().filter((d) => d.kind !== "gauge")
  for (const descriptor of compared) {
    const name = PrometheusMetrics.exposedName(descriptor)
    for (const point of points) {
      if (point.name !== descriptor.name) continue
      expect(point.temporality, point.name).toBe("cumulative")
      const labels = labelsOf(point.attributes)
      if (ownedByCluster(labels)) continue
      if (point.histogram !== undefined) {
        otlp[seriesKey(`${name}_count`, labels)] = point.histogram.count
        otlp[seriesKey(`${name}_sum`, labels)] = point.histogram.sum
      } else {
        otlp[seriesKey(name, labels)] = point.value
      }
    }
    for (const series of descriptor.kind === "histogram" ? [`${name}_count`, `${name}_sum`] : [name]) {
      for (const sample of await query(`${series}{job="demo"}`)) {
        const { __name__: _, instance: _instance, job: _job, ...labels } = sample.metric
        if (ownedByCluster(labels)) continue
        prometheus[seriesKey(series, labels)] = Number(sample.value[1])
      }
    }
  }
  const gauges = new Set(Instrument.declared().filter((d) => d.kind === "gauge").map((d) => d.name))
  const unaccounted = [...new Set(points.map((p) => p.name))].filter((name) =>
    !compared.some((d) => d.name === name) && !gauges.has(name) && !/^effect[._](fiber|cluster)[._]/.test(name)
  )
  return { otlp, prometheus, unaccounted }
}

// --- tests ----------------------------------------------------------------------------------

const prometheusBinary = spawnSync("sh", ["-c", "command -v prometheus"], { encoding: "utf8" }).stdout.trim()
const run = prometheusBinary === "" && process.env.CI !== "true" ? describe.skip : describe

run("demo under a real Prometheus and an OTLP receiver", () => {
  it(
    "scraped counts match the requests sent and, series by series, the OTLP totals; SIGTERM delivers every span",
    async () => {
      if (prometheusBinary === "") throw new Error("prometheus is not installed: run scripts/install-prometheus.sh")
      const receiver = await OtlpReceiver.start()
      const promPort = await freePort()
      const dir = mkdtempSync(join(tmpdir(), "demo-prometheus-"))
      let demo: Demo | undefined
      let prometheus: ChildProcess | undefined
      try {
        demo = await startDemo(receiver)
        const { base, metricsPort } = demo
        // It says where to look: the API, the embedded database, both /metrics endpoints, OTLP.
        await waitFor("the banner", async () => (demo!.output().includes("load:") ? true : undefined), 10_000)
        for (
          const line of [
            `listening on ${base}`,
            "embedded Postgres",
            `${base}/metrics`,
            `127.0.0.1:${metricsPort}/metrics`,
            receiver.url
          ]
        ) {
          expect(demo.output()).toContain(line)
        }

        writeFileSync(
          join(dir, "prometheus.yml"),
          `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: ["127.0.0.1:${metricsPort}"]\n`
        )
        prometheus = spawn(prometheusBinary, [
          `--config.file=${join(dir, "prometheus.yml")}`,
          `--storage.tsdb.path=${join(dir, "data")}`,
          `--web.listen-address=127.0.0.1:${promPort}`
        ], { stdio: "ignore" })
        const query: Query = async (promql) => {
          const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(promql)}`)
          const body = (await r.json()) as { status: string; data: { result: Awaited<ReturnType<Query>> } }
          if (body.status !== "success") throw new Error(`query failed: ${promql}`)
          return body.data.result
        }
        await waitFor("Prometheus to scrape the demo", async () => {
          const up = await query(`up{job="demo"}`)
          return up[0]?.value[1] === "1" ? true : undefined
        }, 30_000)

        // The load generator drives every endpoint and reports what it got, per route and status.
        const load = spawnSync(process.execPath, [
          "--import",
          "tsx",
          "packages/demo/src/load.ts",
          "--url",
          base,
          "--requests",
          "120",
          "--duration",
          "60",
          "--concurrency",
          "4"
        ], {
          cwd: root,
          encoding: "utf8"
        })
        expect(load.status, load.stderr).toBe(0)
        const report = JSON.parse(load.stdout) as { requests: number; counts: Record<string, number> }
        expect(report.requests).toBe(120)

        const expected = new Map<string, number>()
        for (const [key, count] of Object.entries(report.counts)) {
          const [method, route, status] = key.split(" ")
          expect(method, `unexpected load outcome ${key}`).not.toBe("error")
          const k = `${method} ${route} ${status}`
          expected.set(k, (expected.get(k) ?? 0) + count)
        }

        // Let two scrapes and two OTLP exports pass with no traffic, so both sinks hold the final values.
        await sleep(3_500)
        const scraped = await query(
          `sum by (http_request_method, http_route, http_response_status_code) (http_server_request_duration_seconds_count{job="demo"})`
        )
        const actual = new Map(scraped.map((s) => [
          `${s.metric.http_request_method} ${s.metric.http_route} ${s.metric.http_response_status_code}`,
          Number(s.value[1])
        ]))
        expect(Object.fromEntries(actual)).toEqual(Object.fromEntries(expected))

        const inFlight = await query(`sum(http_server_active_requests{job="demo"})`)
        expect(Number(inFlight[0]!.value[1])).toBe(0)
        const functionsInFlight = await query(`sum(function_active{job="demo"})`)
        expect(Number(functionsInFlight[0]!.value[1])).toBe(0)

        // Every placed order went through every other surface: the audit process, the queue (sent =
        // consumed, none in flight), the workflow, and the CDC consumer of the embedded database.
        // They run after the response, so wait until the scrape shows them all.
        const placed = expected.get("POST /orders 201") ?? 0
        expect(placed).toBeGreaterThan(0)
        const total = async (promql: string) => Number((await query(`sum(${promql})`))[0]?.value[1] ?? 0)
        const surfaces = async () => ({
          audits: await total(`process_terminated_total{job="demo",process_name="order-audit",result="completed"}`),
          sent: await total(
            `messaging_client_sent_messages_total{job="demo",messaging_destination_name="order-events"}`
          ),
          consumed: await total(
            `messaging_client_consumed_messages_total{job="demo",messaging_destination_name="order-events"}`
          ),
          processing: await total(`messaging_process_active{job="demo"}`),
          workflows: await total(`workflow_completed_total{job="demo",workflow_name="Fulfilment"}`),
          cdcInserts: await total(`cdc_changes_total{job="demo",cdc_table="public.demo_orders",cdc_operation="insert"}`)
        })
        const want = {
          audits: placed,
          sent: placed,
          consumed: placed,
          processing: 0,
          workflows: placed,
          cdcInserts: placed
        }
        let seen: Awaited<ReturnType<typeof surfaces>> | undefined
        await waitFor("every surface to have seen each placed order", async () => {
          seen = await surfaces()
          return JSON.stringify(seen) === JSON.stringify(want) ? true : undefined
        }, 30_000).catch((error) => {
          throw new Error(`${error}: scraped ${JSON.stringify(seen)}, want ${JSON.stringify(want)}`)
        })

        const p90 = await query(
          `histogram_quantile(0.9, sum by (le) (rate(http_server_request_duration_seconds_bucket{job="demo"}[1m])))`
        )
        expect(Number.isFinite(Number(p90[0]!.value[1]))).toBe(true)

        // One emit, one count, on both paths, for every metric: after another idle wait (the
        // surfaces above finished just now), each series' last OTLP point equals the scrape.
        await sleep(3_500)
        const all = await compareAll(receiver, query)
        expect(all.unaccounted).toEqual([])
        expect(Object.keys(all.otlp)).toContain(seriesKey("process_started_total", { process_name: "order-audit" }))
        expect(all.otlp).toEqual(all.prometheus)

        // Graceful stop: layers close, spans and a final metric collection are flushed, and the
        // runtime (not a library's own signal hook) ends the process, with code 0.
        const code = await stop(demo, "SIGTERM")
        expect(code, demo.output()).toBe(0)

        // Every server span arrived (one per request the load generator sent).
        const spans = spansOf(receiver)
        const serverSpans = spans.filter((s) => s.kind === "server")
        const byName: Record<string, number> = {}
        for (const s of serverSpans) {
          byName[`${s.name} ${s.attributes["http.response.status_code"]}`] =
            (byName[`${s.name} ${s.attributes["http.response.status_code"]}`] ?? 0) + 1
        }
        expect(serverSpans.length, JSON.stringify({ byName, counts: report.counts })).toBe(report.requests)
        // And the spans below them: one of each per placed order, as many as the metrics counted,
        // and no span whose parent is missing.
        expect(perOrder(spans)).toEqual({
          insert: placed,
          audit: placed,
          send: placed,
          process: placed,
          workflow: placed
        })
        expect(orphans(spans)).toEqual([])

        // The final collection at shutdown agrees too: the last OTLP totals of the request
        // duration equal the scrape.
        const latest = new Map<string, number>()
        for (const point of lastPoints(receiver)) {
          if (point.name !== "http.server.request.duration" || point.histogram === undefined) continue
          const key = `${point.attributes["http.request.method"]} ${point.attributes["http.route"]} ${
            point.attributes["http.response.status_code"]
          }`
          latest.set(key, (latest.get(key) ?? 0) + point.histogram.count)
        }
        expect(Object.fromEntries(latest)).toEqual(Object.fromEntries(expected))
      } finally {
        demo?.child.kill("SIGKILL")
        prometheus?.kill("SIGTERM")
        await receiver.close()
        if (prometheus) await exited(prometheus)
        rmSync(dir, { recursive: true, force: true })
      }
    },
    240_000
  )
})

describe("demo stopped with SIGINT", () => {
  it("exits 0 through the runtime and delivers every span, as with SIGTERM", async () => {
    const receiver = await OtlpReceiver.start()
    let demo: Demo | undefined
    try {
      demo = await startDemo(receiver)
      const placed = 3
      for (let i = 0; i < placed; i++) expect((await placeOrder(demo.base)).status).toBe(201)
      expect((await fetch(`${demo.base}/fail`)).status).toBe(500)
      // The orders' audits and workflows run after the responses: wait until the OTLP metrics
      // (exported every second) count them all.
      const done = () => ({
        audits: otlpTotal(receiver, "process.terminated", { "process.name": "order-audit", result: "completed" }),
        workflows: otlpTotal(receiver, "workflow.completed", { "workflow.name": "Fulfilment" })
      })
      await waitFor(
        "the audits and workflows to complete",
        async () => JSON.stringify(done()) === JSON.stringify({ audits: placed, workflows: placed }) ? true : undefined,
        30_000
      )
        .catch((error) => {
          throw new Error(`${error}: ${JSON.stringify(done())}`)
        })

      const code = await stop(demo, "SIGINT")
      expect(code, demo.output()).toBe(0)
      const spans = spansOf(receiver)
      expect(spans.filter((s) => s.kind === "server").map((s) => s.name).sort()).toEqual(
        [...Array.from({ length: placed }, () => "POST /orders"), "GET /fail"].sort()
      )
      expect(perOrder(spans)).toEqual({
        insert: placed,
        audit: placed,
        send: placed,
        process: placed,
        workflow: placed
      })
      // The consumers' spans end only when their layers close: they arrived, so the flush came after.
      for (const name of ["process order-consumer", "process cdc-consumer"]) {
        expect(spans.map((s) => s.name)).toContain(name)
      }
      expect(orphans(spans)).toEqual([])
    } finally {
      demo?.child.kill("SIGKILL")
      await receiver.close()
    }
  }, 120_000)
})
