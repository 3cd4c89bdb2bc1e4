/**
 * HTTP per-request work in instructions: the in-process harness (`bench/http/middleware.ts`)
 * under valgrind's callgrind, which counts the instructions the process executes. Unlike CPU
 * time the count does not move with what else the machine runs (the time figures of the other
 * HTTP parts drift by up to 2× on these shared machines), so it separates "ours does more work
 * than the floor" from "ours took longer this time".
 *
 * Per variant and repetition, two runs from the same warm-up: a short and a long batch of
 * requests after a full collection; the difference of their counts over the difference of their
 * requests is the work per request, start-up and warm-up cancelling. V8's optimizing compiler and
 * the garbage collector, which run on the main thread here (`--single-threaded`) and whose timing
 * varies from run to run, are taken out by their inclusive counts and given apart
 * (`lib/callgrind.ts`).
 */
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, rmSync } from "node:fs"
import * as os from "node:os"
import { fileURLToPath } from "node:url"
import { harnessEnv, labels } from "./http-middleware.js"
import { bundle } from "./lib/bundle.js"
import { countsOf } from "./lib/callgrind.js"
import type { Counts } from "./lib/callgrind.js"
import { fmt, has, median } from "./lib/stats.js"
import type { Table } from "./lib/stats.js"

export type { Counts } from "./lib/callgrind.js"

const source = fileURLToPath(new URL("./http/middleware.ts", import.meta.url))
const script = fileURLToPath(new URL("./.scratch/http-middleware.mjs", import.meta.url))
const outputs = fileURLToPath(new URL("./.scratch/callgrind/", import.meta.url))

const variants = ["off", "span-floor", "ours-unsampled", "ours", "platform-native"] as const
type Variant = (typeof variants)[number]

const WARM_UP = 20_000
const SHORT = 2_000

const exec = (command: string, args: ReadonlyArray<string>): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile(command, args, {
      maxBuffer: 1 << 26,
      env: harnessEnv
    }, (error, _stdout, stderr) => {
      if (error !== null) reject(new Error(`${command} failed: ${error.message}\n${stderr.slice(-2000)}`))
      else resolve()
    })
  })

const count = async (variant: Variant, requests: number, file: string): Promise<Counts> => {
  rmSync(file, { force: true })
  await exec("valgrind", [
    "--tool=callgrind",
    `--callgrind-out-file=${file}`,
    process.execPath,
    "--single-threaded",
    "--expose-gc",
    script,
    "run",
    variant,
    String(WARM_UP),
    String(requests)
  ])
  const counts = await countsOf(file)
  rmSync(file, { force: true })
  return counts
}

/** Instructions per request of one repetition: the runtime's own (mutator), the GC's, the compiler's. */
export interface PerRequest {
  readonly mutator: number
  readonly gc: number
  readonly compiler: number
}

const perRequest = async (variant: Variant, long: number, repetition: number): Promise<PerRequest> => {
  // The two runs of a pair at once: valgrind runs a process on one CPU, and a count does not
  // depend on what runs beside it.
  const [a, b] = await Promise.all([
    count(variant, SHORT, `${outputs}${variant}-${repetition}-short.out`),
    count(variant, long, `${outputs}${variant}-${repetition}-long.out`)
  ])
  const n = long - SHORT
  const mutator = (x: Counts) => x.total - x.compiler - x.gc
  return { mutator: (mutator(b) - mutator(a)) / n, gc: (b.gc - a.gc) / n, compiler: (b.compiler - a.compiler) / n }
}

/** One repetition's count of one variant, on stderr as it comes. */
export const logRepetition = (part: string, repetition: number, variant: string, r: PerRequest): void =>
  console.error(
    `  ${part} ${repetition + 1} ${variant.padEnd(16)} ${fmt(r.mutator)} instructions/req ` +
      `(GC ${fmt(r.gc)}, compiler ${fmt(r.compiler)})`
  )

/**
 * An instruction table's header and rows: per variant the median runtime count, over its
 * baseline and over the floor (blank where `floor` does not apply), the repetitions' spread,
 * and the GC's and the compiler's shares.
 */
export const instructionTable = <V extends string>(
  variants: ReadonlyArray<V>,
  results: ReadonlyMap<V, ReadonlyArray<PerRequest>>,
  options: {
    readonly labelOf: (variant: V) => string
    readonly baselineOf: (variant: V) => V
    readonly baselineHeader: string
    readonly floor: V
    readonly hasFloor?: (variant: V) => boolean
  }
): Pick<Table, "header" | "rows"> => {
  const mutatorOf = (v: V) => median(results.get(v)!.map((r) => r.mutator))
  const over = (v: V, base: V) => {
    const d = mutatorOf(v) - mutatorOf(base)
    return `${d >= 0 ? "+" : ""}${fmt(d)}`
  }
  return {
    header: [
      "variant",
      "instructions/req (runtime, no GC or compiler)",
      options.baselineHeader,
      "over the floor",
      "lowest–highest repetition",
      "GC instructions/req",
      "compiler instructions/req"
    ],
    rows: variants.map((v) => {
      const rs = results.get(v)!
      const mutators = rs.map((r) => r.mutator)
      const baseline = options.baselineOf(v)
      return [
        options.labelOf(v),
        fmt(mutatorOf(v)),
        v === baseline ? "0" : over(v, baseline),
        options.hasFloor?.(v) === false ? "" : v === options.floor ? "0" : over(v, options.floor),
        `${fmt(Math.min(...mutators))}–${fmt(Math.max(...mutators))}`,
        fmt(median(rs.map((r) => r.gc))),
        fmt(median(rs.map((r) => r.compiler)))
      ]
    })
  }
}

export const run = async (options: { readonly quick: boolean }): Promise<Array<Table>> => {
  const title = "HTTP per-request work in process, in instructions (callgrind)"
  if (!has("valgrind")) {
    return [{ title, header: ["note"], rows: [["skipped: valgrind (callgrind) is not installed"]] }]
  }
  const repetitions = options.quick ? 1 : 3
  const long = options.quick ? 12_000 : 32_000
  if (os.cpus().length < 2) console.error("  http-instructions: one CPU, the pairs run one after the other")
  await bundle(source, script)
  if (!existsSync(outputs)) mkdirSync(outputs, { recursive: true })
  const results = new Map<Variant, Array<PerRequest>>()
  for (let repetition = 0; repetition < repetitions; repetition++) {
    for (const variant of variants) {
      const r = await perRequest(variant, long, repetition)
      logRepetition("http-instructions", repetition, variant, r)
      results.set(variant, [...(results.get(variant) ?? []), r])
    }
  }
  return [{
    title,
    ...instructionTable(variants, results, {
      labelOf: (v) => labels[v]!,
      baselineOf: () => "off",
      baselineHeader: "over the bare router",
      floor: "span-floor"
    }),
    notes: [
      `The http-middleware part's harness (each request a \`fromWeb\` request forked into \`HttpApp.toHandled\`, 500 in flight, export off) under valgrind's callgrind with \`node --single-threaded\`: per variant and repetition (${repetitions}), a run of ${
        fmt(SHORT)
      } and one of ${fmt(long)} requests, each after ${
        fmt(WARM_UP)
      } warm-up requests and a full collection; instructions per request: the difference of the two runs' counts over the difference of their requests; medians of the repetitions.`,
      "Runtime: every instruction but those inside V8's optimizing and baseline compilers and its garbage collector (inclusive counts of every call into them from outside them: collections, incremental marking steps, sweeping), which run on the main thread here at moments that vary from run to run; their per-request shares are given apart (GC follows allocation, so it is part of a variant's cost; the compiler's is what tiering still did in the measured window).",
      "Instructions are not time: two variants with the same count can differ in CPU time by how their memory is laid out and touched (caches, allocation). What the count gives is the work done, free of the machine's noise: the CPU-time tables say what it cost on this machine."
    ]
  }]
}
