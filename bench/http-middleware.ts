/**
 * HTTP per-request cost in process: `bench/http/middleware.ts` (bundled like the socket
 * benchmark's server) in one child process pinned to CPU 0, every variant in its own runtime,
 * rounds alternating. Beside the CPU time it reports Effect fiber operations per request, the
 * unit the platform's and our per-request work is made of.
 */
import { execFile } from "node:child_process"
import { existsSync, mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type { Counts } from "./http/middleware.js"
import { bundle } from "./lib/bundle.js"
import * as Profile from "./lib/profile.js"
import { canPin, fmt, median, onCpu0, pairedDifference, ratio, signed } from "./lib/stats.js"
import type { Table } from "./lib/stats.js"

const source = fileURLToPath(new URL("./http/middleware.ts", import.meta.url))
const script = fileURLToPath(new URL("./.scratch/http-middleware.mjs", import.meta.url))

/** What each in-process variant runs, as the tables name it. */
export const labels: Record<string, string> = {
  off: "HttpRouter app, platform tracer off (baseline)",
  "platform-native": "platform tracer + Effect native tracer",
  ours: "ours: span, 4 metrics, response traceparent (export excluded)",
  "ours-unsampled": "ours, sampled out (always_off), metrics kept",
  "off-same-refs": "HttpRouter app, platform tracer off, in a runtime with ours' fiber refs (like-for-like baseline)",
  "platform-native-same-refs": "platform tracer + Effect native tracer, in a runtime with ours' fiber refs",
  "off-same-refs-slot":
    "HttpRouter app, platform tracer off, ours' fiber refs, an empty middleware in serve's slot and an identity pre-response handler (where ours sits, nothing in it)",
  "off-same-refs-slot-services":
    "the empty slot row, with as many services of the bench's own in the app's context as our layers add",
  "span-floor":
    "the floor: a tracer and logger installed, a middleware in serve's slot starting Effect's native span, in the request's context until it ends (nothing recorded)"
}

interface Output {
  readonly cpu: Record<string, ReadonlyArray<number>>
  readonly operations: Record<string, Counts>
  /** Services our layers add to the app's context (the stand-in row holds as many). */
  readonly services: number
}

const runChild = (rounds: number, requests: number): Promise<Output> =>
  runNode([script, String(rounds), String(requests)]).then((stdout) =>
    // The child's telemetry may log its shutdown line to stdout too: the result is the JSON line.
    JSON.parse(stdout.split("\n").find((line) => line.startsWith("{\"cpu\"")) ?? stdout) as Output
  )

/** The harness's environment: spans and metrics are made and recorded but go nowhere (export is the socket table's). */
export const harnessEnv = { ...process.env, OTEL_TRACES_EXPORTER: "none", OTEL_METRICS_EXPORTER: "none" }

/** The bundled harness in a child pinned to CPU 0; its stdout. */
const runNode = (node: ReadonlyArray<string>): Promise<string> => {
  const [command, args] = onCpu0(node)
  return new Promise((resolve, reject) => {
    execFile(command, args, {
      maxBuffer: 1 << 20,
      env: harnessEnv
    }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`middleware benchmark failed: ${error.message}\n${stderr}`))
      else resolve(stdout)
    })
  })
}

export const run = async (options: { readonly quick: boolean }): Promise<Array<Table>> => {
  const rounds = options.quick ? 5 : 9
  const requests = options.quick ? 10_000 : 20_000
  await bundle(source, script)
  const { cpu, operations, services } = await runChild(rounds, requests)
  const base = median(cpu.off!)
  // `variant` over `over`: CPU µs per request, the median of the rounds' differences (a round runs
  // every variant back to back, so what drifts between rounds cancels), and fiber operations per
  // request (signed, whole).
  const cpuOver = (variant: string, over: string) => pairedDifference(cpu[variant]!, cpu[over]!)
  const operationsOver = (variant: string, over: string) => {
    const d = operations[variant]!.operations - operations[over]!.operations
    return `${d >= 0 ? "+" : ""}${fmt(d, 0)}`
  }
  const rows = Object.keys(labels).map((variant) => {
    const us = median(cpu[variant]!)
    return [
      labels[variant]!,
      fmt(us, 1),
      variant === "off" ? "0" : signed(cpuOver(variant, "off")),
      ratio(base, us),
      fmt(operations[variant]!.operations, 0),
      variant === "off" ? "0" : operationsOver(variant, "off"),
      fmt(operations[variant]!.refs, 1),
      fmt(operations[variant]!.sets, 0)
    ]
  })
  const overhead = (variant: string) => cpuOver(variant, "off")
  // Like for like: over the bare router in a runtime holding the same fiber refs as ours.
  const overSameRefs = (variant: string) => cpuOver(variant, "off-same-refs")

  // One profiled run per variant, inlining off: whose code the overhead is.
  const dir = fileURLToPath(new URL("./.profiles/", import.meta.url))
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true })
  const bundleMap = Profile.bundleMapOf(script)
  const attribution: Record<string, Profile.Attribution> = {}
  for (const variant of Object.keys(labels)) {
    const path = `${dir}middleware-${variant}.cpuprofile`
    await runNode(["--no-turbo-inlining", script, "profile", variant, String(options.quick ? 20_000 : 60_000), path])
    attribution[variant] = Profile.attribution(
      Profile.areaShares(path, bundleMap),
      median(cpu[variant]!),
      Profile.underOwnFrames(path, bundleMap)
    )
  }
  const split = (variant: string, over: string) => Profile.deltaNote(attribution[variant]!, attribution[over]!)
  const sameRefsNote = `Like for like, over the bare router in a runtime holding the fiber refs ours adds (${
    fmt(median(cpu["off-same-refs"]!), 1)
  } µs/req, ${signed(overhead("off-same-refs"))} over the bare one)`
  // Issue 12's bound for a sampled-out request in process, µs/req.
  const unsampledBound = 4
  return [
    {
      targets: [{
        id: "in-process-sampled",
        target: "In process: sampled ≤ Effect's own platform span overhead",
        measured: `${signed(overhead("ours"))} µs/req vs platform span ${signed(overhead("platform-native"))}`,
        met: overhead("ours") <= overhead("platform-native"),
        note: `Split by the profiles' shares: ours over the bare router ${split("ours", "off")}; the platform span's ${
          split("platform-native", "off")
        }. ${sameRefsNote}: ours ${signed(overSameRefs("ours"))}, the platform span ${
          signed(overSameRefs("platform-native-same-refs"))
        } (split: ours ${split("ours", "off-same-refs")}; the platform span ${
          split("platform-native-same-refs", "off-same-refs")
        })`
      }, {
        id: "in-process-unsampled",
        target: `In process: sampled out ≤ +${unsampledBound} µs/req (metrics and context propagation only)`,
        measured: `${signed(overhead("ours-unsampled"))} µs/req`,
        met: overhead("ours-unsampled") <= unsampledBound,
        note: `${
          overhead("span-floor") >= unsampledBound
            ? `The floor alone (${
              signed(overhead("span-floor"))
            } µs/req: a span in the request's context, which the route and the propagation need, nothing recorded) takes the whole +${unsampledBound} µs/req. `
            : ""
        }Split by the profiles' shares: ${
          split("ours-unsampled", "off")
        }; our code (our packages, the OTel SDK, prom-client) ${
          signed(Profile.ownCode(attribution["ours-unsampled"]!) - Profile.ownCode(attribution.off!))
        }. ${sameRefsNote}: ${
          split("ours-unsampled", "off-same-refs")
        }. The platform's price of the place ours sits in (an empty middleware in \`serve\`'s slot and an identity pre-response handler, same refs): ${
          signed(overSameRefs("off-same-refs-slot"))
        } µs/req and ${
          operationsOver("off-same-refs-slot", "off-same-refs")
        } fiber operations; ours sampled out over it, what its own work adds: ${
          signed(cpuOver("ours-unsampled", "off-same-refs-slot"))
        } µs/req (${split("ours-unsampled", "off-same-refs-slot")}) and ${
          operationsOver("ours-unsampled", "off-same-refs-slot")
        } fiber operations. Of that, the ${services} services our layers leave in the app's context (the router and each \`provideService\` copy the context on every request; stand-ins of the bench's own, same slot and refs): ${
          signed(cpuOver("off-same-refs-slot-services", "off-same-refs-slot"))
        } µs/req; ours sampled out over the slot with as many services: ${
          signed(cpuOver("ours-unsampled", "off-same-refs-slot-services"))
        } µs/req. The floor (bench/http/spanFloor.ts: the least a span middleware costs, built from Effect's own parts; ours' work comes on top of it) costs ${
          signed(overhead("span-floor"))
        } µs/req over the bare router and ${operationsOver("span-floor", "off")} fiber operations (${
          split("span-floor", "off")
        }); ours sampled out over the floor: ${signed(cpuOver("ours-unsampled", "span-floor"))} µs/req (${
          split("ours-unsampled", "span-floor")
        }) and ${
          operationsOver("ours-unsampled", "span-floor")
        } fiber operations; see "Where the in-process overhead goes"`
      }],
      title: "HTTP per-request cost in process (no sockets)",
      header: [
        "variant",
        "CPU µs/req",
        "overhead µs/req",
        "throughput vs baseline",
        "fiber operations/req",
        "vs baseline",
        "fiber refs held",
        "fiber-ref sets/req"
      ],
      rows,
      notes: [
        `${rounds} alternating rounds of ${
          requests.toLocaleString("en-US")
        } requests per variant after a warm-up; CPU µs/req: the median of the rounds, overheads and every difference: the median of the per-round differences; one process ${
          canPin() ? "pinned to CPU 0" : "(not pinned)"
        }, each variant in its own runtime.`,
        "The socket table's app behind an in-memory `HttpServer`: each request a `fromWeb` request forked into `HttpApp.toHandled` as NodeHttpServer forks it, 500 in flight. No kernel, parser or writev: what is left is the Effect work per request, with a fraction of the socket run's noise.",
        "Fiber operations: run-loop steps per request, counted through the tracer's per-operation `context` hook in a separate, untimed pass; fiber refs held: the refs of the fiber running each step, averaged over the steps; fiber-ref sets: calls of the runtime fiber's `setFiberRef` (one ref) and `setFiberRefs` (all at once) per request, in the same pass.",
        `Same refs: our layers leave more fiber refs in every request fiber than the bare runtime holds (${
          fmt(operations.ours!.refs, 1)
        } against ${
          fmt(operations.off!.refs, 1)
        }: the tracer installed as a service, the log exporter's logger, the server's pre-response handler), and the runtime copies every ref a fiber holds at each \`FiberRef\` set and fork. The two 'same refs' rows run the bare router and the platform span in a runtime holding as many refs (Effect's own native tracer's functions installed with \`Layer.setTracer\`, a no-op logger added, fiber refs of the bench's own for the rest) without any of our work: what those copies cost on their own, and the baseline an app with its own tracer and logger already pays.`,
        "Empty slot: `HttpApp.toHandled` runs a middleware given to `serve` inside a match of its own with a step after it, and a pre-response handler inside a `tap`; the bare router has neither. The empty-slot row gives `serve` a middleware that returns the app as it is and installs a handler that returns the response as it is, in the same-refs runtime: what the platform charges any middleware placed where ours is (the whole request, the response's writing included, and the response seen before it is written), before that middleware does anything.",
        "The floor: bench/http/spanFloor.ts in a runtime holding Effect's native tracer's functions (installed with `Layer.setTracer`) and a no-op logger: a middleware in `serve`'s slot, an identity pre-response handler beside it, and in the middleware's step one span of Effect's own native tracer started, written into the request's own context and ended with the request's exit (the step, a match and its continuation: three fiber operations, as ours). It records, propagates and exports nothing: the least any span middleware costs in Effect 3 with the platform's span off; whatever a telemetry middleware records comes on top of it.",
        `Services: our layers leave ${services} services in the app's context (\`Telemetry.Telemetry\`: configuration, resource, delivery counts, meter provider; and the Prometheus exporter \`PrometheusMetrics.handler\` reads; they were 6 before 2026-12-07, one Tag per part). Every request's context starts as a copy of it, and the router and each \`provideService\` copy it again, so each service costs every request something whether it is used or not; the services row holds as many services of the bench's own, unused.`
      ]
    },
    Profile.attributionTable({
      title: "Where the in-process overhead goes (CPU µs per request, split by the profiles' shares)",
      variants: [
        ["off", attribution.off!],
        ["off, same refs", attribution["off-same-refs"]!],
        ["platform span", attribution["platform-native"]!],
        ["platform span, same refs", attribution["platform-native-same-refs"]!],
        ["empty middleware slot, same refs", attribution["off-same-refs-slot"]!],
        ["empty slot with ours' count of services, same refs", attribution["off-same-refs-slot-services"]!],
        ["the floor (a span in the context, nothing recorded)", attribution["span-floor"]!],
        ["ours, sampled out", attribution["ours-unsampled"]!],
        ["ours", attribution.ours!]
      ],
      deltas: [
        ["ours − off", attribution.ours!, attribution.off!],
        ["ours − platform span", attribution.ours!, attribution["platform-native"]!],
        ["sampled out − off", attribution["ours-unsampled"]!, attribution.off!],
        ["ours − platform span, same refs", attribution.ours!, attribution["platform-native-same-refs"]!],
        ["sampled out − off, same refs", attribution["ours-unsampled"]!, attribution["off-same-refs"]!],
        ["sampled out − empty slot, same refs", attribution["ours-unsampled"]!, attribution["off-same-refs-slot"]!],
        [
          "sampled out − empty slot and as many services, same refs",
          attribution["ours-unsampled"]!,
          attribution["off-same-refs-slot-services"]!
        ],
        ["floor − off", attribution["span-floor"]!, attribution.off!],
        ["sampled out − floor", attribution["ours-unsampled"]!, attribution["span-floor"]!]
      ],
      notes: [
        Profile.attributionMethod,
        "In process there is no socket, no export and no exporter: 'bench app' (the harness forking requests) falls in 'other'."
      ]
    })
  ]
}
