/**
 * Measurement helpers shared by every sub-benchmark: A/B alternation, medians, tables.
 * Every figure is a ratio against a baseline measured in the same run, because absolute
 * numbers on a shared machine drift between runs while ratios of interleaved rounds do not.
 */
import { execSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as os from "node:os"

export const median = (values: ReadonlyArray<number>): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/**
 * How much `values` exceeds `baseline`, sample by sample: the median of the differences of
 * samples taken in the same round. Variants measured back to back share a round's drift (a
 * busy neighbour, a slower CPU), which the difference of two medians keeps.
 */
export const pairedDifference = (values: ReadonlyArray<number>, baseline: ReadonlyArray<number>): number => {
  const rounds = Math.min(values.length, baseline.length)
  return median(Array.from({ length: rounds }, (_, i) => values[i]! - baseline[i]!))
}

/** Nanoseconds per call of `body`, timed over `iterations` calls after a warm-up. */
export const nsPerOp = (body: (i: number) => void, iterations: number): number => {
  for (let i = 0; i < Math.min(iterations, 50_000); i++) body(i)
  const start = process.hrtime.bigint()
  for (let i = 0; i < iterations; i++) body(i)
  return Number(process.hrtime.bigint() - start) / iterations
}

/**
 * CPU nanoseconds (user + system, this process) per operation of an asynchronous body that
 * runs `n` operations. CPU time, not wall time: Effect's scheduler yields to the event loop
 * with timers in long synchronous loops, and that idle time is not a cost of the code measured.
 */
export const cpuNsPerOpAsync = async (body: (n: number) => Promise<void>, iterations: number): Promise<number> => {
  await body(Math.min(iterations, 5_000))
  const start = process.cpuUsage()
  await body(iterations)
  const used = process.cpuUsage(start)
  return ((used.user + used.system) * 1000) / iterations
}

/**
 * Runs each variant once per round, in an order rotated every round so that no variant
 * always runs first (warm caches, GC debt), and returns every variant's samples.
 */
export const alternate = async <K extends string>(
  rounds: number,
  variants: ReadonlyArray<K>,
  measure: (variant: K, round: number) => Promise<number> | number
): Promise<Record<K, Array<number>>> => {
  const samples = Object.fromEntries(variants.map((v) => [v, [] as Array<number>])) as Record<K, Array<number>>
  for (let round = 0; round < rounds; round++) {
    for (let j = 0; j < variants.length; j++) {
      const variant = variants[(j + round) % variants.length]!
      samples[variant].push(await measure(variant, round))
    }
  }
  return samples
}

export const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect !== undefined) {
    collect()
    collect()
  }
}

export const fmt = (value: number, digits = 0): string =>
  Number.isFinite(value)
    ? value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : "n/a"

/** A difference with its sign, one decimal: `+1.5`, `-0.3`. */
export const signed = (value: number): string => `${value >= 0 ? "+" : ""}${fmt(value, 1)}`

export const ratio = (value: number, baseline: number): string =>
  Number.isFinite(value) && Number.isFinite(baseline) && baseline !== 0 ? `${(value / baseline).toFixed(2)}×` : "n/a"

/** One result table: a title, a header row, rows, and notes printed under it. */
export interface Table {
  readonly title: string
  readonly header: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
  readonly notes?: ReadonlyArray<string>
  /** Issue targets this table checks, gathered into the summary at the top of RESULTS.md. */
  readonly targets?: ReadonlyArray<Target>
}

/** One target, its measured value in this run and whether it is met (with the cause if not). */
export interface Target {
  /**
   * The issue target this row measures (run.ts lists them, e.g. `sockets`, `traced-call`):
   * the summary states that target in the words with this row's figure; several rows
   * with one id become one (met when all are). Without an id the row is listed as written.
   */
  readonly id?: string
  /** Shown for comparison, not a target to meet: `met` reads "yes/no (informational)". */
  readonly informational?: boolean
  readonly target: string
  readonly measured: string
  readonly met: boolean
  readonly note?: string
}

export const markdown = (table: Table): string => {
  const line = (cells: ReadonlyArray<string>) => `| ${cells.join(" | ")} |`
  return [
    `### ${table.title}`,
    "",
    line(table.header),
    line(table.header.map(() => "---")),
    ...table.rows.map(line),
    ...(table.notes !== undefined && table.notes.length > 0 ? ["", ...table.notes.map((n) => `- ${n}`)] : []),
    ""
  ].join("\n")
}

const version = (name: string): string => {
  try {
    return JSON.parse(readFileSync(new URL(`../../node_modules/${name}/package.json`, import.meta.url), "utf8")).version
  } catch {
    return "not installed"
  }
}

/** Whether a command is on the PATH. */
export const has = (command: string): boolean => {
  try {
    execSync(`command -v ${command}`, { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/** Whether the server child can be pinned to one CPU (and the load generator kept off it). */
export const canPin = (): boolean => os.cpus().length > 1 && has("taskset")

/**
 * A node command (`args` after `node`; this process's Node unless `node` names another binary)
 * pinned to CPU 0 when `taskset` can, as [command, arguments].
 */
export const onCpu0 = (args: ReadonlyArray<string>, node: string = process.execPath): [string, Array<string>] =>
  canPin() ? ["taskset", ["-c", "0", node, ...args]] : [node, [...args]]

export const machine = () => ({
  date: new Date().toISOString(),
  cpu: `${os.cpus()[0]?.model ?? "unknown"} × ${os.cpus().length}`,
  memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`,
  os: `${os.type()} ${os.release()} ${os.arch()}`,
  node: process.version,
  versions: Object.fromEntries(
    [
      "effect",
      "@effect/platform",
      "@effect/platform-node",
      "@effect/opentelemetry",
      "@opentelemetry/sdk-trace-base",
      "@opentelemetry/sdk-metrics",
      "prom-client",
      "autocannon"
    ].map((name) => [name, version(name)])
  )
})
