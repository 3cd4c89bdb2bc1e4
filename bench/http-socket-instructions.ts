/**
 * HTTP per-request work over sockets, in instructions: the socket part's servers
 * (`bench/http/server.ts`, `bench/http/node-server.cjs`) under valgrind's callgrind, loaded by
 * autocannon over loopback as in the `http` part. The socket part's CPU time moves by up to 2×
 * between runs on these machines; the count does not, and it sees what the in-process harness
 * cannot: the node request and response objects, the headers written, the span export.
 *
 * Per variant and repetition: the server starts with callgrind's instrumentation off, answers a
 * warm-up, then counts (`callgrind_control`) over a fixed number of requests only. What runs on
 * a timer is kept out of that window as far as it can be (metric export every hour, no
 * `/metrics` scrape): under valgrind a second holds ~50 times fewer requests, so a timer's work
 * would weigh ~50 times more per request than in service. The span batch processor's timer (5 s)
 * stays: its exports carry the spans of the window.
 */
import { OtlpReceiver } from "@effect-telemetry/testing"
import autocannon from "autocannon"
import { execFile, spawn } from "node:child_process"
import { existsSync, mkdirSync, rmSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { instructionTable, logRepetition } from "./http-instructions.js"
import type { PerRequest } from "./http-instructions.js"
import * as Http from "./http.js"
import { countsOf } from "./lib/callgrind.js"
import type { Counts } from "./lib/callgrind.js"
import { fmt, has } from "./lib/stats.js"
import type { Table } from "./lib/stats.js"

const outputs = fileURLToPath(new URL("./.scratch/callgrind-sockets/", import.meta.url))

const variants = [
  "off",
  "off-refs",
  "off-services",
  "span-floor",
  "platform-native",
  "ours-unsampled",
  "ours",
  "effect-otel",
  "node-plain",
  "node-otel"
] as const
type Variant = (typeof variants)[number]

/** The socket part's labels, the two decomposition rows', and ours' without what this part leaves out of the window. */
const labelOf = (variant: Variant): string =>
  variant === "ours"
    ? "ours: span, 4 metrics, propagation, OTLP span export"
    : variant === "off-refs"
    ? "the bare router with a tracer and a logger installed (the floor's fiber refs, no middleware)"
    : variant === "off-services"
    ? "the bare router with as many unused services in the app's context as our layers add"
    : Http.labels[variant]

const baselineOf = (variant: Variant): Variant =>
  variant === "off-refs" || variant === "off-services" ? "off" : Http.baselineOf(variant) as Variant

const WARM_UP = 20_000
const CONNECTIONS = 32

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

const control = (args: ReadonlyArray<string>): Promise<void> =>
  new Promise((resolve, reject) =>
    execFile(
      "callgrind_control",
      args,
      (error, _stdout, stderr) =>
        error !== null
          ? reject(new Error(`callgrind_control ${args.join(" ")}: ${error.message}\n${stderr}`))
          : resolve()
    )
  )

/**
 * Requests that timed out or lost their connection under valgrind: a server starved of CPU (a
 * busy machine slows valgrind's process tens of times), not a wrong answer. The count is taken
 * again: one such run aborted a 90-minute full bench an hour in.
 */
class Starved extends Error {}

const ATTEMPTS = 3

const load = async (url: string, amount: number): Promise<number> => {
  const result = await autocannon({ url, connections: CONNECTIONS, amount, timeout: 60 })
  if (result.non2xx > 0) throw new Error(`${url}: ${result.non2xx} of ${amount} requests answered with an error`)
  const failed = result.errors + result.timeouts
  if (failed > 0) throw new Starved(`${url}: ${failed} of ${amount} requests timed out or failed under valgrind`)
  return result.requests.total
}

const count = async (
  variant: Variant,
  sink: OtlpReceiver.StartedOtlpReceiver,
  requests: number,
  file: string
): Promise<PerRequest> => {
  const port = await Http.freePort()
  const metricsPort = await Http.freePort()
  rmSync(file, { force: true })
  rmSync(`${file}.1`, { force: true })
  const child = spawn("valgrind", [
    "--tool=callgrind",
    "--instr-atstart=no",
    `--callgrind-out-file=${file}`,
    process.execPath,
    "--single-threaded",
    variant.startsWith("node-") ? Http.nodeServerScript : Http.serverScript,
    variant,
    String(port)
  ], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...Http.serverEnv(variant, sink.url, metricsPort), OTEL_METRIC_EXPORT_INTERVAL: "3600000" }
  })
  let stderr = ""
  child.stderr!.on("data", (chunk) => void (stderr = (stderr + chunk).slice(-4000)))
  try {
    const url = `http://127.0.0.1:${port}/users/42`
    const deadline = Date.now() + 180_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${variant} exited under valgrind: ${stderr}`)
      try {
        const response = await fetch(url)
        await response.arrayBuffer()
        if (response.ok) break
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${variant} did not answer under valgrind within 180 s`)
      await sleep(250)
    }
    await load(url, WARM_UP)
    await control(["--instr=on", String(child.pid)])
    const served = await load(url, requests)
    await control(["--dump", String(child.pid)])
    const counts: Counts = await countsOf(`${file}.1`)
    const mutator = counts.total - counts.compiler - counts.gc
    return { mutator: mutator / served, gc: counts.gc / served, compiler: counts.compiler / served }
  } finally {
    // Killed, not stopped: the exit would dump again, and nothing after the window matters.
    child.kill("SIGKILL")
    if (child.exitCode === null) await new Promise((resolve) => child.once("exit", resolve))
    rmSync(file, { force: true })
    rmSync(`${file}.1`, { force: true })
  }
}

/** `counted`, taken again while it fails because valgrind's server was starved (see {@link Starved}). */
const againIfStarved = async (variant: Variant, counted: () => Promise<PerRequest>): Promise<PerRequest> => {
  for (let attempt = 1;; attempt++) {
    try {
      return await counted()
    } catch (error) {
      if (!(error instanceof Starved) || attempt >= ATTEMPTS) throw error
      console.error(
        `  http-socket-instructions ${variant}: ${error.message}; counted again (${attempt + 1} of ${ATTEMPTS})`
      )
    }
  }
}

export const run = async (options: { readonly quick: boolean }): Promise<Array<Table>> => {
  const title = "HTTP per-request work over sockets, in instructions (callgrind)"
  if (!has("valgrind") || !has("callgrind_control")) {
    return [{ title, header: ["note"], rows: [["skipped: valgrind (callgrind) is not installed"]] }]
  }
  const repetitions = options.quick ? 1 : 3
  const requests = options.quick ? 3_000 : 6_000
  await Http.buildServer()
  if (!existsSync(outputs)) mkdirSync(outputs, { recursive: true })
  const sink = await OtlpReceiver.start({ retain: false })
  const results = new Map<Variant, Array<PerRequest>>()
  try {
    for (let repetition = 0; repetition < repetitions; repetition++) {
      // Two servers at a time (a count does not depend on what runs beside it; two CPUs here).
      for (let i = 0; i < variants.length; i += 2) {
        await Promise.all(
          variants.slice(i, i + 2).map(async (variant) => {
            const r = await againIfStarved(
              variant,
              () => count(variant, sink, requests, `${outputs}${variant}-${repetition}.out`)
            )
            logRepetition("http-socket-instructions", repetition, variant, r)
            results.set(variant, [...(results.get(variant) ?? []), r])
          })
        )
      }
    }
  } finally {
    await sink.close()
  }
  return [{
    title,
    ...instructionTable(variants, results, {
      labelOf,
      baselineOf,
      baselineHeader: "over its baseline",
      floor: "span-floor",
      hasFloor: (v) => !v.startsWith("node-")
    }),
    notes: [
      `The socket part's servers under valgrind's callgrind (\`node --single-threaded\`), loaded by autocannon over loopback (${CONNECTIONS} connections): per variant and repetition (${repetitions}), ${
        fmt(WARM_UP)
      } warm-up requests with the instrumentation off, then instructions counted over ${
        fmt(requests)
      } requests; medians of the repetitions. User space only: valgrind does not see the kernel (the socket part's kernel column does).`,
      "Kept out of the window: the metric export (every hour here, not every 5 s) and the `/metrics` scrape, which under valgrind would weigh ~50 times more per request than in service (the `scrape` part measures the scrape). Kept in: the span batch processor's exports, every 5 s or 512 spans, which carry the window's spans.",
      "The node:http rows are over plain node:http, the Effect rows over the bare router: only overheads compare across the two.",
      "The two decomposition rows split what every Effect 3 variant with telemetry pays before its middleware does anything: a tracer and a logger installed (fiber refs each fork and fiber-ref write copies; the floor holds them too) and the services our layers add to the app's context (`Telemetry`, `PrometheusMetrics`; the platform and the router copy a request's context several times per request, each copy copying every service). Ours, sampled out, is roughly both plus its middleware's own work.",
      "Runtime, GC and compiler as in the in-process instruction table. Instructions are not time: over sockets each instruction costs more CPU time than in process (caches the kernel's network path keeps cold), which is why the socket part's overheads are larger than the in-process ones for the same code."
    ]
  }]
}
