/**
 * Soak: the whole demo as `npm start` runs it (embedded Postgres, the cluster workflow engine,
 * in-memory KV and queue, the trace view, Prometheus and OTLP to a local receiver) in a child
 * process, driven by the demo's load generator (every endpoint, its usual mix) in steps of
 * 10,000 requests. After each step, once every placed order's workflow has completed and
 * nothing is in flight, the child collects twice (`--expose-gc`) and reports its heap and RSS
 * (bench/soak/probe.ts, over IPC). Growth is the least-squares slope over the checkpoints after
 * the first step (the warm-up: pools, caches and the KV store filling to their steady size).
 */
import { OtlpReceiver } from "@effect-telemetry/testing"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { once } from "node:events"
import { createServer } from "node:net"
import { fileURLToPath } from "node:url"
import { fmt } from "./lib/stats.js"
import type { Table } from "./lib/stats.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const probe = fileURLToPath(new URL("./soak/probe.ts", import.meta.url))
const STEP = 10_000

interface Sample {
  readonly requests: number
  readonly heapMiB: number
  readonly rssMiB: number
}

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

/** The demo's address from its banner line, or the process's output if it exits first. */
const started = (child: ChildProcess): Promise<string> =>
  new Promise((resolve, reject) => {
    let output = ""
    const onData = (chunk: Buffer) => {
      output += chunk.toString("utf8")
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match !== null) resolve(match[1]!)
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    child.once("exit", (code) => reject(new Error(`demo exited (${code}) before listening:\n${output}`)))
  })

const heapOf = async (child: ChildProcess): Promise<{ heapMiB: number; rssMiB: number }> => {
  const reply = once(child, "message")
  child.send("heap")
  const [usage] = (await reply) as [{ heapUsed: number; rss: number; collected: boolean }]
  if (!usage.collected) throw new Error("the demo child runs without --expose-gc")
  return { heapMiB: usage.heapUsed / 2 ** 20, rssMiB: usage.rss / 2 ** 20 }
}

/** One step of the load generator; its per-route/status counts. */
const load = async (base: string, requests: number): Promise<Record<string, number>> => {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "packages/demo/src/load.ts",
      "--url",
      base,
      "--requests",
      String(requests),
      "--duration",
      "100000",
      "--concurrency",
      "16"
    ],
    { cwd: root, stdio: ["ignore", "pipe", "inherit"] }
  )
  let output = ""
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
  const [code] = await once(child, "exit")
  if (code !== 0) throw new Error(`load generator exited ${code}`)
  return (JSON.parse(output) as { counts: Record<string, number> }).counts
}

const metricSum = (text: string, name: string, labels = ""): number =>
  text.split("\n").filter((line) => line.startsWith(`${name}{`) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0)

/**
 * Waits until every placed order's workflow completed, no audit or request is in flight, and
 * the cluster has released every idle workflow entity (after its `entityMaxIdleTime`, 1 minute):
 * the heap is then read at rest, not with however many executions the last minute ran.
 */
const drained = async (base: string, placed: number): Promise<number> => {
  const begun = Date.now()
  while (Date.now() - begun < 600_000) {
    const text = await fetch(`${base}/metrics`).then((r) => r.text())
    const completed = metricSum(text, "workflow_completed_total")
    const audits = metricSum(text, "process_active", `process_name="order-audit"`)
    const inFlight = metricSum(text, "http_server_active_requests")
    const entities = metricSum(text, "effect_cluster_entities")
    if (completed >= placed && audits === 0 && inFlight === 0 && entities === 0) return Date.now() - begun
    await sleep(1_000)
  }
  throw new Error(`the demo did not complete ${placed} workflows and release their entities within 600 s`)
}

/** Least-squares slope of y over x. */
const slope = (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>): number => {
  const n = xs.length
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  const num = xs.reduce((sum, x, i) => sum + (x - mx) * (ys[i]! - my), 0)
  const den = xs.reduce((sum, x) => sum + (x - mx) ** 2, 0)
  return num / den
}

export const run = async (options: { readonly quick: boolean }): Promise<Array<Table>> => {
  const steps = options.quick ? 3 : 5
  const sink = await OtlpReceiver.start({ retain: false })
  const child = spawn(
    process.execPath,
    ["--expose-gc", "--import", "tsx", "--import", probe, "packages/demo/src/main.ts"],
    {
      cwd: root,
      env: {
        ...process.env,
        // Embedded everything, whatever the caller's environment points at.
        DATABASE_URL: "",
        REDIS_URL: "",
        AMQP_URL: "",
        NODE_ENV: "development",
        PORT: "0",
        OTEL_SERVICE_NAME: "bench-soak",
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
        OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()),
        // Short enough that the KV store reaches its steady size within the warm-up step.
        KV_TTL: "1 minute"
      },
      stdio: ["ignore", "pipe", "pipe", "ipc"]
    }
  )
  const samples: Array<Sample> = []
  const totals = new Map<string, number>()
  let drainMillis = 0
  try {
    const base = await started(child)
    for (let step = 1; step <= steps; step++) {
      const t0 = Date.now()
      for (const [key, count] of Object.entries(await load(base, STEP))) totals.set(key, (totals.get(key) ?? 0) + count)
      const loadMillis = Date.now() - t0
      drainMillis = Math.max(drainMillis, await drained(base, totals.get("POST /orders 201") ?? 0))
      // The batch span processor's delay (5 s by default): its queue is empty again after it.
      await sleep(6_000)
      const usage = await heapOf(child)
      samples.push({ requests: step * STEP, ...usage })
      console.error(
        `  soak: ${fmt(step * STEP)} requests, heap ${usage.heapMiB.toFixed(1)} MiB, rss ${
          usage.rssMiB.toFixed(0)
        } MiB (${(STEP / (loadMillis / 1000)).toFixed(0)} req/s)`
      )
    }
  } finally {
    child.kill("SIGTERM")
    if (child.exitCode === null) await Promise.race([once(child, "exit"), sleep(30_000)])
    await sink.close()
  }
  const after = samples.slice(1)
  const bytesPerRequest = slope(after.map((s) => s.requests), after.map((s) => s.heapMiB * 2 ** 20))
  const kibPerTenK = (bytesPerRequest * STEP) / 1024
  const spread = Math.max(...after.map((s) => s.heapMiB)) - Math.min(...after.map((s) => s.heapMiB))
  const errors = [...totals.entries()].filter(([key]) => key.startsWith("error")).reduce((sum, [, n]) => sum + n, 0)
  return [{
    targets: [{
      target: "Soak: the whole demo's heap after GC is flat across requests",
      measured: `${fmt(bytesPerRequest, 1)} B per request (${fmt(kibPerTenK, 0)} KiB per 10k) over ${
        fmt((steps - 1) * STEP)
      } requests after a ${fmt(STEP)} warm-up`,
      // A retained workflow execution was ~7.8 KB per request (issue 15); 100 B per request is
      // 1 MiB per 10k requests. The spread too: a slope alone reads a sawtooth (a cache
      // filling, then cleared) as flat or falling.
      met: Math.abs(bytesPerRequest) <= 100 && spread <= 16 && errors === 0,
      note: errors > 0
        ? `${errors} load-generator errors`
        : `flat = under 100 B per request and the checkpoints after the warm-up within 16 MiB (here ${
          spread.toFixed(1)
        }); one retained execution per order was ~7.8 KB per request`
    }],
    title: "Soak: the whole demo (npm start) across requests on every endpoint",
    header: ["requests served", "heap MiB after GC", "RSS MiB"],
    rows: samples.map((s) => [fmt(s.requests), s.heapMiB.toFixed(1), s.rssMiB.toFixed(0)]),
    notes: [
      `Heap after two forced collections, once every placed order's workflow completed and the cluster released the idle workflow entities (slowest wait after a step: ${
        fmt(drainMillis / 1000, 1)
      } s). Growth after the warm-up step: ${fmt(bytesPerRequest, 1)} B per request, ${
        fmt(kibPerTenK, 0)
      } KiB per 10k requests (least squares); the checkpoints after it span ${spread.toFixed(1)} MiB.`,
      `Requests by route and status: ${[...totals.entries()].sort().map(([key, n]) => `${key} ${fmt(n)}`).join(", ")}.`,
      "The demo's own process (`packages/demo/src/main.ts` through tsx, child of the bench), `KV_TTL=1 minute` so the KV store is at its steady size after the warm-up (default 10 minutes, at most `KV_CAPACITY` 10,000 keys); everything else at its defaults: workflows on the cluster engine over the embedded Postgres, traces and metrics over OTLP to a local receiver, Prometheus, the trace view. Load: `packages/demo/src/load.ts`, 16 concurrent, 10,000 requests per step."
    ]
  }]
}
