// Runner processes for the multi-runner test: the fixture (`fixtures/runner.ts`) bundled once
// by esbuild (our packages from source, every library from its published JS, as a production
// build runs it) and started with `node`, driven by JSON lines on stdin, answering with JSON
// events on stdout.
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { rmSync } from "node:fs"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { fileURLToPath } from "node:url"
import { bundle } from "../../../../bench/lib/bundle.js"

const here = Path.dirname(fileURLToPath(import.meta.url))
const FIXTURE = Path.join(here, "..", "fixtures", "runner.ts")
const ROOT = Path.resolve(here, "../../../..")
// Under node_modules so that the bundle's bare imports resolve from the workspace.
const BUNDLE = Path.join(ROOT, "node_modules", ".cache", "effect-telemetry", `workflow-runner-${process.pid}.mjs`)

let bundled: Promise<string> | undefined

const build = (): Promise<string> =>
  bundled ??= bundle(FIXTURE, BUNDLE)
    .then(() => BUNDLE)

/** Deletes the bundle (a test worker's exit handlers do not run, so the test calls this). */
export const removeBundle = (): void => rmSync(BUNDLE, { force: true })

export interface RunnerEvent {
  readonly event: string
  readonly at: number
  readonly [key: string]: unknown
}

export interface Runner {
  readonly name: string
  readonly child: ChildProcess
  readonly events: ReadonlyArray<RunnerEvent>
  readonly output: () => string
  /** The first event matching, waiting for it up to `timeoutMillis`. */
  readonly waitFor: (
    predicate: (event: RunnerEvent) => boolean,
    timeoutMillis?: number
  ) => Promise<RunnerEvent>
  readonly send: (command: Record<string, unknown>) => void
  /** Resolves with the exit code and signal once the process exited. */
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/** Starts a runner with the environment cleared of `OTEL_*` and the cluster's own variables. */
export const startRunner = async (name: string, env: Readonly<Record<string, string>>): Promise<Runner> => {
  const script = await build()
  const childEnv: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    // ShardingConfig.layerFromEnv reads HOST, PORT, SHARDS_PER_GROUP, ... (constant case):
    // only the variables the test sets reach the runner.
    if (value !== undefined && (key === "PATH" || key === "HOME" || key === "NODE_OPTIONS")) childEnv[key] = value
  }
  Object.assign(childEnv, env)
  const child = spawn(process.execPath, [script], { cwd: ROOT, env: childEnv, stdio: ["pipe", "pipe", "pipe"] })
  const events: Array<RunnerEvent> = []
  const lines: Array<string> = []
  const waiters = new Set<() => void>()
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => lines.push(chunk))
  Readline.createInterface({ input: child.stdout! }).on("line", (line) => {
    lines.push(line)
    if (!line.startsWith("{\"event\"")) return
    events.push(JSON.parse(line) as RunnerEvent)
    for (const wake of waiters) wake()
  })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => {
      for (const wake of waiters) wake()
      resolve({ code, signal })
    })
  )
  const output = () => lines.join("\n")
  const waitFor = (predicate: (event: RunnerEvent) => boolean, timeoutMillis = 30_000) =>
    new Promise<RunnerEvent>((resolve, reject) => {
      const check = () => {
        const found = events.find(predicate)
        if (found !== undefined) {
          done()
          resolve(found)
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done()
          reject(new Error(`runner ${name} exited (${child.exitCode ?? child.signalCode}) first:\n${output()}`))
        }
      }
      const timer = setTimeout(() => {
        done()
        reject(new Error(`runner ${name}: no matching event after ${timeoutMillis} ms:\n${output()}`))
      }, timeoutMillis)
      const done = () => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      check()
    })
  const send = (command: Record<string, unknown>) => void child.stdin!.write(`${JSON.stringify(command)}\n`)
  return { name, child, events, output, waitFor, send, exited }
}

/** Ends a runner with `signal` and waits for its exit (SIGKILL after `graceMillis`). */
export const stopRunner = async (runner: Runner, signal: NodeJS.Signals, graceMillis = 20_000) => {
  if (runner.child.exitCode !== null || runner.child.signalCode !== null) return runner.exited
  const killer = setTimeout(() => runner.child.kill("SIGKILL"), graceMillis)
  runner.child.kill(signal)
  const exit = await runner.exited
  clearTimeout(killer)
  return exit
}
