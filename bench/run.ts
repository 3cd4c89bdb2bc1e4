/**
 * The benchmark suite: `npm run bench` runs everything and writes bench/RESULTS.md;
 * `npm run bench -- hot-path span` runs the named parts; `--quick` shortens every part.
 *
 *   parts: http, http-profile, http-middleware, http-instructions, http-socket-instructions, hot-path, span,
 *   scrape, shutdown, memory, soak (http-instructions, ~50 min under valgrind, runs only when named)
 */
import { execSync } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname } from "node:path"
import { fileURLToPath } from "node:url"
import * as HotPath from "./hot-path.js"
import * as HttpInstructions from "./http-instructions.js"
import * as HttpMiddleware from "./http-middleware.js"
import * as HttpSocketInstructions from "./http-socket-instructions.js"
import * as Http from "./http.js"
import { canPin, machine, markdown } from "./lib/stats.js"
import type { Table, Target } from "./lib/stats.js"
import * as Memory from "./memory.js"
import * as Scrape from "./scrape.js"
import * as Shutdown from "./shutdown.js"
import * as Soak from "./soak.js"
import * as Span from "./span.js"

type Options = { readonly quick: boolean }

const parts: Record<string, (options: Options) => Promise<Array<Table>>> = {
  http: (options) => Http.run({ ...options, profile: true }),
  "http-profile": Http.runProfiles,
  "http-middleware": HttpMiddleware.run,
  "http-instructions": HttpInstructions.run,
  "http-socket-instructions": HttpSocketInstructions.run,
  "hot-path": HotPath.run,
  span: Span.run,
  scrape: Scrape.run,
  shutdown: Shutdown.run,
  memory: Memory.run,
  soak: Soak.run
}
// `http` already includes the profiles; the separate entry is for profiling alone.
// `http-instructions` (instruction counts under valgrind) is named when wanted: ~50 minutes.
const defaultParts = [
  "hot-path",
  "span",
  "scrape",
  "memory",
  "soak",
  "shutdown",
  "http-middleware",
  "http-socket-instructions",
  "http"
]

const args = process.argv.slice(2)
const quick = args.includes("--quick")
const selected = args.filter((a) => !a.startsWith("--"))
const unknown = selected.filter((name) => !(name in parts))
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(", ")}; choose from ${Object.keys(parts).join(", ")} (and --quick)`)
  process.exit(2)
}
const names = selected.length > 0 ? selected : defaultParts

// The load generator stays off CPU 0, where the server under test is pinned.
if (canPin() && names.includes("http")) {
  try {
    execSync(`taskset -a -p -c 1-${(await import("node:os")).cpus().length - 1} ${process.pid}`, { stdio: "ignore" })
  } catch {
    // not fatal: the figures are still ratios of interleaved rounds
  }
}

const started = Date.now()
const sections: Array<string> = []
const targets: Array<Target> = []
for (const name of names) {
  console.error(`${name}${quick ? " (quick)" : ""}...`)
  const tables = await parts[name]!({ quick })
  for (const table of tables) {
    const text = markdown(table)
    console.log(text)
    sections.push(text)
    targets.push(...(table.targets ?? []))
  }
}
/**
 * Issue 12's targets, in its words, in its order: each row takes its figure from the targets a
 * part reports with that id (see `Target.id`); a part not run, or not reporting the id, leaves
 * its row "not measured". Targets without one of these ids follow as their parts wrote them.
 */
const issueTargets: ReadonlyArray<{ readonly id: string; readonly part: string; readonly target: string }> = [
  {
    id: "sockets",
    part: "http",
    target:
      "Sockets, sampled and exported: overhead ≤ +20 µs/req, and ≤ 1.0× node:http + instrumentation-http's overhead measured in the same run"
  },
  {
    id: "in-process-sampled",
    part: "http-middleware",
    target: "In process: sampled ≤ Effect's own platform span overhead"
  },
  {
    id: "in-process-unsampled",
    part: "http-middleware",
    target: "In process: sampled out ≤ +4 µs/req (metrics and context propagation only)"
  },
  { id: "traced-call", part: "span", target: "Traced call: ≤ Effect's native tracer + 20%" },
  { id: "traced-call-unsampled", part: "span", target: "Traced call: sampled out ≤ native" },
  { id: "scrape", part: "scrape", target: "Scrape: ≤ 1.0× prom-client at 1k, 10k and 50k series" },
  { id: "hot-path", part: "hot-path", target: "Keep: hot path ≤ 0.3× prom-client" },
  {
    id: "effect4",
    part: "http",
    target:
      "Effect 4 comparison (informational): overhead µs/req of ours, node:http + instrumentation-http, @effect/opentelemetry and Effect 4's built-in observability (Node 22), each over its own bare server"
  }
]

const metCell = (met: boolean, informational: boolean | undefined) =>
  informational === true ? `${met ? "yes" : "no"} (informational)` : met ? "yes" : "**no**"

if (targets.length > 0 || names.some((name) => issueTargets.some((t) => t.part === name))) {
  const known = new Set(issueTargets.map((t) => t.id))
  const issueRows = issueTargets.map(({ id, part, target }) => {
    const reported = targets.filter((t) => t.id === id)
    if (reported.length === 0) {
      return [
        target,
        names.includes(part)
          ? `not measured: \`${part}\` reports no target \`${id}\``
          : `not measured: \`${part}\` not run`,
        "n/a",
        ""
      ]
    }
    return [
      target,
      reported.map((t) => t.measured).join("; "),
      metCell(reported.every((t) => t.met), reported.every((t) => t.informational === true)),
      reported.filter((t) => (!t.met || t.informational === true) && t.note !== undefined).map((t) => t.note).join("; ")
    ]
  })
  const otherRows = targets
    .filter((t) => t.id === undefined || !known.has(t.id))
    .map((t) => [t.target, t.measured, metCell(t.met, t.informational), t.met ? "" : t.note ?? ""])
  const summary = markdown({
    title: "Targets",
    header: ["target", "measured in this run", "met", "why not / note"],
    rows: [...issueRows, ...otherRows],
    notes: [
      "The first rows are issue 12's targets as the issue states them; the rest are the earlier targets each part still checks."
    ]
  })
  console.log(summary)
  sections.unshift(summary)
}

const info = machine()
const header = [
  "# Benchmark results",
  "",
  `Generated by \`npm run bench${args.length > 0 ? ` -- ${args.join(" ")}` : ""}\` on ${info.date} in ${
    Math.round((Date.now() - started) / 1000)
  } s.`,
  "",
  `- Machine: ${info.cpu}, ${info.memory}, ${info.os}; Node ${info.node}; load average at the end ${
    (await import("node:os")).loadavg().map((l) => l.toFixed(1)).join(" / ")
  }`,
  `- Versions: ${Object.entries(info.versions).map(([k, v]) => `${k} ${v}`).join(", ")}`,
  "- Every figure is a ratio against a baseline measured in the same run (alternating rounds, medians); see bench/README.md for what each one means.",
  ""
].join("\n")

// Only a full run (all parts, not quick) replaces the committed results.
const output = selected.length === 0 && !quick
  ? fileURLToPath(new URL("./RESULTS.md", import.meta.url))
  : fileURLToPath(new URL("./.scratch/RESULTS.partial.md", import.meta.url))
mkdirSync(dirname(output), { recursive: true })
writeFileSync(output, `${header}\n${sections.join("\n")}`)
console.error(`written ${output}`)
