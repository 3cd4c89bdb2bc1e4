import { CommandTelemetry, ProcessTelemetry } from "@effect-telemetry/process"
import { TestTelemetry } from "@effect-telemetry/testing"
import { NodeContext } from "@effect/platform-node"
import * as Command from "@effect/platform/Command"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"

describe("process metrics exposition", () => {
  it.live("process.* and process.command.* are exposed with their Prometheus types and pass promtool", () =>
    Effect.gen(function*() {
      yield* Fiber.join(yield* ProcessTelemetry.fork(Effect.void, "mailer"))
      yield* Command.exitCode(Command.make(process.execPath, "-e", ""))
      const text = yield* TestTelemetry.scrape()
      expect(text).toContain("# TYPE process_started_total counter")
      expect(text).toContain("# TYPE process_terminated_total counter")
      expect(text).toContain("# TYPE process_active gauge")
      expect(text).toContain("# TYPE process_duration_seconds histogram")
      expect(text).toContain("# TYPE process_command_duration_seconds histogram")
      expect(TestTelemetry.promtoolCheck(text)).toEqual({ status: 0, output: "" })
    }).pipe(Effect.provide(Layer.mergeAll(
      CommandTelemetry.layer().pipe(Layer.provideMerge(NodeContext.layer)),
      TestTelemetry.layer()
    ))))
})
