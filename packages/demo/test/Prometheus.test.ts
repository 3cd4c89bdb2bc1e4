/**
 * The demo as users run it (`npm start`, a child process), scraped by a real Prometheus and
 * exporting over OTLP to a local receiver, then stopped with SIGTERM: the counts Prometheus
 * scraped match the requests sent and what arrived over OTLP (one emit, one count, on both
 * paths), in-flight gauges are back at 0, and every server span arrived.
 */
import { OtlpReceiver } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

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

const prometheusBinary = spawnSync("sh", ["-c", "command -v prometheus"], { encoding: "utf8" }).stdout.trim()
const run = prometheusBinary === "" && process.env.CI !== "true" ? describe.skip : describe

run("demo under a real Prometheus and an OTLP receiver", () => {
  it("scraped counts match the requests sent and the OTLP totals; SIGTERM delivers every span", async () => {
    if (prometheusBinary === "") throw new Error("prometheus is not installed: run scripts/install-prometheus.sh")
    const receiver = await OtlpReceiver.start()
    const [appPort, metricsPort, promPort] = [await freePort(), await freePort(), await freePort()]
    const dir = mkdtempSync(join(tmpdir(), "demo-prometheus-"))
    let demo: ChildProcess | undefined
    let prometheus: ChildProcess | undefined
    try {
      demo = spawn(process.execPath, ["--import", "tsx", "packages/demo/src/main.ts"], {
        cwd: root,
        env: {
          ...process.env,
          PORT: String(appPort),
          TRACE_VIEW: "false",
          OTEL_SERVICE_NAME: "demo-e2e",
          OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
          OTEL_METRICS_EXPORTER: "prometheus,otlp",
          OTEL_EXPORTER_PROMETHEUS_HOST: "127.0.0.1",
          OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
          OTEL_METRIC_EXPORT_INTERVAL: "1000",
          // Longer than the test: spans left in the batch at SIGTERM arrive only if shutdown flushes.
          OTEL_BSP_SCHEDULE_DELAY: "600000",
          DATABASE_URL: "",
          REDIS_URL: "",
          AMQP_URL: ""
        },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      demo.stdout!.on("data", (b) => (output += b))
      demo.stderr!.on("data", (b) => (output += b))
      const base = `http://127.0.0.1:${appPort}`
      await waitFor("the demo to listen", async () => ((await fetch(`${base}/health`)).ok ? true : undefined), 60_000)
        .catch((error) => {
          throw new Error(`${error}\n${output}`)
        })
      // It says where to look: the API, the embedded database, both /metrics endpoints, OTLP.
      await waitFor("the banner", async () => (output.includes("load:") ? true : undefined), 10_000)
      for (const line of [`listening on ${base}`, "embedded Postgres", `${base}/metrics`, `127.0.0.1:${metricsPort}/metrics`, receiver.url]) {
        expect(output).toContain(line)
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
      const query = async (promql: string) => {
        const r = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(promql)}`)
        const body = (await r.json()) as { status: string; data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }
        if (body.status !== "success") throw new Error(`query failed: ${promql}`)
        return body.data.result
      }
      await waitFor("Prometheus to scrape the demo", async () => {
        const up = await query(`up{job="demo"}`)
        return up[0]?.value[1] === "1" ? true : undefined
      }, 30_000)

      // The load generator drives every endpoint and reports what it got, per route and status.
      const load = spawnSync(process.execPath, ["--import", "tsx", "packages/demo/src/load.ts", "--url", base, "--requests", "120", "--duration", "60", "--concurrency", "4"], {
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

      // Every placed order went through every other surface: the queue (sent = consumed, none in
      // flight), the workflow, and the CDC consumer of the embedded database. They run after the
      // response, so wait until the scrape shows them all.
      const placed = expected.get("POST /orders 201") ?? 0
      expect(placed).toBeGreaterThan(0)
      const total = async (promql: string) => Number((await query(`sum(${promql})`))[0]?.value[1] ?? 0)
      const surfaces = async () => ({
        sent: await total(`messaging_client_sent_messages_total{job="demo",messaging_destination_name="order-events"}`),
        consumed: await total(`messaging_client_consumed_messages_total{job="demo",messaging_destination_name="order-events"}`),
        processing: await total(`messaging_process_active{job="demo"}`),
        workflows: await total(`workflow_completed_total{job="demo",workflow_name="Fulfilment"}`),
        cdcInserts: await total(`cdc_changes_total{job="demo",cdc_table="public.demo_orders",cdc_operation="insert"}`)
      })
      const want = { sent: placed, consumed: placed, processing: 0, workflows: placed, cdcInserts: placed }
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

      // Graceful stop: layers close, spans and a final metric collection are flushed, and the
      // runtime (not a library's own signal hook) ends the process, with code 0.
      demo.kill("SIGTERM")
      const code = await Promise.race([exited(demo), sleep(30_000).then(() => "timeout" as const)])
      expect(code, output).toBe(0)

      // Every server span arrived (one per request the load generator sent).
      const serverSpans = receiver.spans().filter((s) => s.kind === "server" && s.resource["service.name"] === "demo-e2e")
      const byName: Record<string, number> = {}
      for (const s of serverSpans) byName[`${s.name} ${s.attributes["http.response.status_code"]}`] = (byName[`${s.name} ${s.attributes["http.response.status_code"]}`] ?? 0) + 1
      expect(serverSpans.length, JSON.stringify({ byName, counts: report.counts })).toBe(report.requests)
      // And the spans below them: one of each per placed order, as many as the metrics counted.
      const named = (name: string) => receiver.spans().filter((s) => s.name === name && s.resource["service.name"] === "demo-e2e").length
      expect({
        insert: named("INSERT demo_orders"),
        send: named("send order-events"),
        process: named("process order-events"),
        workflow: named("workflow Fulfilment")
      }).toEqual({ insert: placed, send: placed, process: placed, workflow: placed })

      // One emit, one count, on both paths: the last cumulative OTLP points equal the scrape.
      const latest = new Map<string, { time: bigint; count: number }>()
      for (const point of receiver.dataPoints()) {
        if (point.name !== "http.server.request.duration" || point.histogram === undefined) continue
        const key = `${point.attributes["http.request.method"]} ${point.attributes["http.route"]} ${point.attributes["http.response.status_code"]}`
        const previous = latest.get(key)
        if (previous === undefined || point.timeUnixNano >= previous.time) {
          latest.set(key, { time: point.timeUnixNano, count: point.histogram.count })
        }
      }
      expect(Object.fromEntries([...latest].map(([k, v]) => [k, v.count]))).toEqual(Object.fromEntries(expected))
    } finally {
      demo?.kill("SIGKILL")
      prometheus?.kill("SIGTERM")
      await receiver.close()
      if (prometheus) await exited(prometheus)
      rmSync(dir, { recursive: true, force: true })
    }
  }, 240_000)
})
