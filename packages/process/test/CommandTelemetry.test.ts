import { Propagation, TelemetryOptionsError } from "@effect-telemetry/core"
import { CommandTelemetry } from "@effect-telemetry/process"
import { TestTelemetry } from "@effect-telemetry/testing"
import { NodeContext } from "@effect/platform-node"
import * as Command from "@effect/platform/Command"
import { describe, expect, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { fileURLToPath } from "node:url"
import { flushed } from "./support/flush.js"

const packageDir = fileURLToPath(new URL("..", import.meta.url))
const childScript = fileURLToPath(new URL("./fixtures/child.ts", import.meta.url))

/** The real child: `node --import tsx child.ts`, an Effect program continuing the trace. */
const child = Command.make(process.execPath, "--import", "tsx", childScript).pipe(
  Command.workingDirectory(packageDir)
)
const nodeEval = (code: string, ...args: Array<string>) => Command.make(process.execPath, "-e", code, ...args)

interface ChildReport {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | null
  readonly traceState: string | null
  readonly env: { readonly TRACEPARENT: string | null; readonly TRACESTATE: string | null }
}

const withCommands = (options?: CommandTelemetry.Options) =>
  Effect.provide(Layer.mergeAll(
    CommandTelemetry.layer(options).pipe(Layer.provideMerge(NodeContext.layer)),
    TestTelemetry.layer()
  ))

describe("CommandTelemetry", () => {
  it.live("a command is a Client child span with its exit code, and the child node process continues the trace", () =>
    Effect.gen(function*() {
      const output = yield* Command.string(child).pipe(Effect.withSpan("request", { kind: "server" }))
      const report = JSON.parse(output) as ChildReport
      yield* flushed
      const span = yield* TestTelemetry.spanNamed("exec node")
      const request = yield* TestTelemetry.spanNamed("request")
      expect(TestTelemetry.kindOf(span)).toBe("client")
      expect(TestTelemetry.parentSpanId(span)).toBe(request.spanContext().spanId)
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      expect(span.attributes["process.exit.code"]).toBe(0)
      expect(span.attributes["process.executable.name"]).toBe("node")
      expect(span.attributes["process.command"]).toBe(process.execPath)
      expect(span.attributes["process.args_count"]).toBe(4)
      expect(typeof span.attributes["process.pid"]).toBe("number")
      expect(span.attributes["process.command_args"]).toBeUndefined()
      // The child's own SDK span: same trace, parent = our Client span.
      expect(report.traceId).toBe(TestTelemetry.traceId(span))
      expect(report.parentSpanId).toBe(span.spanContext().spanId)
      expect(report.env.TRACEPARENT).toBe(`00-${report.traceId}-${span.spanContext().spanId}-01`)
      const point = yield* TestTelemetry.metricPoint("process.command.duration", {
        "process.executable.name": "node",
        "process.exit.code": 0
      })
      expect(point.value).toMatchObject({ count: 1 })
      expect((point.value as { sum: number }).sum).toBeGreaterThan(0)
      expect(
        yield* TestTelemetry.prometheusValue("process_command_duration_seconds_count", {
          process_executable_name: "node",
          process_exit_code: "0"
        })
      ).toBe(1)
    }).pipe(withCommands()))

  it.live("the tracestate of a remote parent reaches the child", () =>
    Effect.gen(function*() {
      const remote = {
        traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        tracestate: "vendor=abc,other=1"
      }
      const output = yield* Command.string(child).pipe(
        Effect.withSpan("consume"),
        Propagation.withParentFrom(remote)
      )
      const report = JSON.parse(output) as ChildReport
      yield* flushed
      const span = yield* TestTelemetry.spanNamed("exec node")
      expect(TestTelemetry.traceId(span)).toBe("0af7651916cd43dd8448eb211c80319c")
      expect(report.traceId).toBe("0af7651916cd43dd8448eb211c80319c")
      expect(report.parentSpanId).toBe(span.spanContext().spanId)
      expect(report.env.TRACESTATE).toBe("vendor=abc,other=1")
      expect(report.traceState).toBe("vendor=abc,other=1")
    }).pipe(withCommands()))

  it.live("an unsampled remote parent stays unsampled in the child's TRACEPARENT", () =>
    Effect.gen(function*() {
      const output = yield* Command.string(nodeEval("process.stdout.write(process.env.TRACEPARENT)")).pipe(
        Propagation.withParentFrom({ traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00" })
      )
      expect(output).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/)
      expect(output).not.toContain("b7ad6b7169203331")
      yield* flushed
      expect(yield* TestTelemetry.spansNamed("exec node")).toHaveLength(0)
    }).pipe(withCommands()))

  it.live("a non-zero exit marks the span Error with error.type = the code", () =>
    Effect.gen(function*() {
      const code = yield* Command.exitCode(nodeEval("process.exit(3)"))
      expect(code).toBe(3)
      yield* flushed
      const span = yield* TestTelemetry.spanNamed("exec node")
      expect(TestTelemetry.statusOf(span)).toBe("error")
      expect(span.status.message).toBe("node exited with code 3")
      expect(span.attributes["process.exit.code"]).toBe(3)
      expect(span.attributes["error.type"]).toBe("3")
      const point = yield* TestTelemetry.metricPoint("process.command.duration", {
        "process.executable.name": "node",
        "process.exit.code": 3,
        "error.type": "3"
      })
      expect(point.value).toMatchObject({ count: 1 })
    }).pipe(withCommands()))

  it.live("isError decides which exit codes are errors", () =>
    Effect.gen(function*() {
      // grep's 1 means "no match", not a failure.
      yield* Command.exitCode(nodeEval("process.exit(1)"))
      yield* flushed
      const span = yield* TestTelemetry.spanNamed("exec node")
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      expect(span.attributes["process.exit.code"]).toBe(1)
      expect(span.attributes["error.type"]).toBeUndefined()
    }).pipe(withCommands({ isError: (code) => code > 1 })))

  it.live("a child killed by a signal it raised itself is an Error with error.type = the signal", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Command.exitCode(nodeEval("process.kill(process.pid, 'SIGKILL')")))
      expect(Exit.isFailure(exit)).toBe(true)
      yield* flushed
      const span = yield* TestTelemetry.spanNamed("exec node")
      expect(TestTelemetry.statusOf(span)).toBe("error")
      expect(span.attributes["error.type"]).toBe("SIGKILL")
      expect(span.attributes["process.exit.code"]).toBeUndefined()
      const point = yield* TestTelemetry.metricPoint("process.command.duration", {
        "process.executable.name": "node",
        "error.type": "SIGKILL"
      })
      expect(point.value).toMatchObject({ count: 1 })
    }).pipe(withCommands()))

  it.live("a command that cannot be spawned gives an Error span with the platform reason", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Command.string(Command.make("definitely-not-a-command-7f3a")))
      expect(Exit.isFailure(exit)).toBe(true)
      yield* flushed
      const span = yield* TestTelemetry.spanNamed("exec definitely-not-a-command-7f3a")
      expect(TestTelemetry.statusOf(span)).toBe("error")
      expect(span.attributes["error.type"]).toBe("NotFound")
      expect(span.attributes["process.exit.code"]).toBeUndefined()
      expect(span.events.some((e) => e.name === "exception")).toBe(true)
    }).pipe(withCommands()))

  it.live("a child killed because its scope closed is cancellation: Unset with effect.interrupted", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const running = yield* Command.start(nodeEval("setInterval(() => {}, 1000)")).pipe(Scope.extend(scope))
      expect(yield* running.isRunning).toBe(true)
      yield* Scope.close(scope, Exit.void)
      yield* flushed
      const span = yield* TestTelemetry.spanNamed("exec node")
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      expect(span.attributes["effect.interrupted"]).toBe(true)
      expect(span.attributes["process.pid"]).toBe(running.pid)
    }).pipe(withCommands()))

  it.live("the span ends when the child exits, not when the caller's scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const running = yield* Command.start(nodeEval("")).pipe(Scope.extend(scope))
      expect(yield* running.exitCode).toBe(0)
      yield* Effect.sleep("50 millis")
      yield* flushed
      // Still inside the open scope, yet the span is finished with its exit code.
      const span = yield* TestTelemetry.spanNamed("exec node")
      expect(span.attributes["process.exit.code"]).toBe(0)
      yield* Scope.close(scope, Exit.void)
      yield* flushed
      expect(yield* TestTelemetry.spansNamed("exec node")).toHaveLength(1)
    }).pipe(withCommands()))

  it.live("with recordArgs, arguments are recorded with URL credentials redacted", () =>
    Effect.gen(function*() {
      yield* Command.exitCode(nodeEval("", "postgres://app:s3cret@db:5432/orders", "--verbose"))
      yield* flushed
      const span = yield* TestTelemetry.spanNamed("exec node")
      const args = span.attributes["process.command_args"] as Array<string>
      expect(args).toEqual([process.execPath, "-e", "", "postgres://REDACTED@db:5432/orders", "--verbose"])
      expect(JSON.stringify(span.attributes)).not.toContain("s3cret")
    }).pipe(withCommands({ recordArgs: true })))

  it.live("a stale TRACESTATE in this process's environment is not inherited by the child", () =>
    Effect.acquireUseRelease(
      Effect.sync(() => {
        const before = process.env.TRACESTATE
        process.env.TRACESTATE = "stale=1"
        return before
      }),
      () =>
        Effect.gen(function*() {
          const output = yield* Command.string(nodeEval("process.stdout.write(JSON.stringify(process.env.TRACESTATE))"))
          expect(JSON.parse(output)).toBe("")
        }),
      (before) =>
        Effect.sync(() => {
          if (before === undefined) delete process.env.TRACESTATE
          else process.env.TRACESTATE = before
        })
    ).pipe(withCommands()))

  it.effect("parentFromEnv reads TRACEPARENT and ignores an invalid one", () =>
    Effect.gen(function*() {
      const valid = yield* CommandTelemetry.parentFromEnv({
        TRACEPARENT: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
        TRACESTATE: "v=1"
      })
      expect(Option.map(valid, (s) => [s.traceId, s.spanId, s.sampled])).toEqual(
        Option.some(["0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", false])
      )
      const invalid = yield* CommandTelemetry.parentFromEnv({
        TRACEPARENT: "00-00000000000000000000000000000000-b7ad6b7169203331-01"
      })
      expect(Option.isNone(invalid)).toBe(true)
      expect(Option.isNone(yield* CommandTelemetry.parentFromEnv({}))).toBe(true)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("with B3 propagation the carrier variables are the upper-cased B3 headers", () =>
    Effect.gen(function*() {
      const env = yield* Effect.map(Effect.makeSpan("parent"), CommandTelemetry.envOf)
      expect(env["X_B3_TRACEID"]).toMatch(/^[0-9a-f]{32}$/)
      expect(env["X_B3_SPANID"]).toMatch(/^[0-9a-f]{16}$/)
      expect(env["TRACEPARENT"]).toBe("")
      const parent = yield* CommandTelemetry.parentFromEnv(env)
      expect(Option.map(parent, (s) => s.traceId)).toEqual(Option.some(env["X_B3_TRACEID"]))
    }).pipe(Effect.provide(TestTelemetry.layer({ propagators: ["b3multi"] }))))
})

describe("CommandTelemetry options", () => {
  it("every entry point is a function, also with every option left out", () => {
    for (const entry of [CommandTelemetry.layer, CommandTelemetry.layerConfig, CommandTelemetry.make]) {
      expect(typeof entry).toBe("function")
    }
  })

  it.effect("a bad option fails the layer with the TelemetryOptionsError naming it; make throws it", () =>
    Effect.gen(function*() {
      const failure = <A, E>(layer: Layer.Layer<A, E>) => Layer.build(layer).pipe(Effect.scoped, Effect.flip)
      const recordArgs = yield* failure(
        CommandTelemetry.layer({ recordArgs: "yes" as unknown as boolean }).pipe(Layer.provide(NodeContext.layer))
      )
      expect(recordArgs).toBeInstanceOf(TelemetryOptionsError.TelemetryOptionsError)
      expect(recordArgs.message).toBe(`CommandTelemetry: option recordArgs must be a boolean, got "yes"`)
      const fromConfig = yield* failure(
        CommandTelemetry.layerConfig({ propagate: Config.succeed(0 as unknown as boolean) }).pipe(
          Layer.provide(NodeContext.layer)
        )
      )
      expect(fromConfig.message).toBe("CommandTelemetry: option propagate must be a boolean, got 0")
      expect(() => CommandTelemetry.make({} as any, { isError: 1 as any })).toThrow(
        "CommandTelemetry: option isError must be a function, got 1"
      )
    }))
})
