import { TelemetryOptionsError } from "@effect-telemetry/core"
import { ProcessTelemetry } from "@effect-telemetry/process"
import { TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { flushed } from "./support/flush.js"

class SmtpDown extends Data.TaggedError("SmtpDown")<{}> {}

describe("ProcessTelemetry", () => {
  it.effect("a process forked inside a span is its child, one span from spawn to exit, counted completed", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const fiber = yield* Effect.gen(function*() {
        const fiber = yield* Deferred.await(release).pipe(
          Effect.zipRight(Effect.withSpan(Effect.void, "send one")),
          ProcessTelemetry.fork("mailer")
        )
        return fiber
      }).pipe(Effect.withSpan("boot"))
      yield* Effect.yieldNow()
      yield* flushed
      // Running: started and active while the boot span has long ended.
      expect(yield* TestTelemetry.metricValue("process.started", { "process.name": "mailer" })).toBe(1)
      expect(yield* TestTelemetry.metricValue("process.active", { "process.name": "mailer" })).toBe(1)
      expect(yield* TestTelemetry.spansNamed("process mailer")).toHaveLength(0)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(fiber)
      yield* flushed

      const span = yield* TestTelemetry.spanNamed("process mailer")
      const boot = yield* TestTelemetry.spanNamed("boot")
      const work = yield* TestTelemetry.spanNamed("send one")
      expect(TestTelemetry.parentSpanId(span)).toBe(boot.spanContext().spanId)
      expect(TestTelemetry.traceId(span)).toBe(TestTelemetry.traceId(boot))
      expect(TestTelemetry.parentSpanId(work)).toBe(span.spanContext().spanId)
      expect(TestTelemetry.kindOf(span)).toBe("internal")
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      expect(span.attributes["process.name"]).toBe("mailer")
      expect(yield* TestTelemetry.metricValue("process.terminated", { "process.name": "mailer", result: "completed" }))
        .toBe(1)
      expect(yield* TestTelemetry.metricValue("process.active", { "process.name": "mailer" })).toBe(0)
      expect(yield* TestTelemetry.prometheusValue("process_started_total", { process_name: "mailer" })).toBe(1)
      expect(
        yield* TestTelemetry.prometheusValue("process_terminated_total", {
          process_name: "mailer",
          result: "completed"
        })
      ).toBe(1)
      expect(yield* TestTelemetry.prometheusValue("process_active", { process_name: "mailer" })).toBe(0)
      expect(
        yield* TestTelemetry.prometheusValue("process_duration_seconds_count", {
          process_name: "mailer",
          result: "completed"
        })
      ).toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("a daemon forked outside any span is a root span, not invisible", () =>
    Effect.gen(function*() {
      const fiber = yield* ProcessTelemetry.forkDaemon(Effect.void, "warmer")
      yield* Fiber.join(fiber)
      yield* flushed
      const span = yield* TestTelemetry.spanNamed("process warmer")
      expect(TestTelemetry.parentSpanId(span)).toBeUndefined()
      expect(yield* TestTelemetry.metricValue("process.started", { "process.name": "warmer" })).toBe(1)
      expect(yield* TestTelemetry.metricValue("process.terminated", { "process.name": "warmer", result: "completed" }))
        .toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("a failing process marks its span Error and counts result=error", () =>
    Effect.gen(function*() {
      const fiber = yield* new SmtpDown().pipe(ProcessTelemetry.fork("mailer"))
      const exit = yield* Fiber.await(fiber)
      expect(Exit.isFailure(exit)).toBe(true)
      yield* flushed
      const span = yield* TestTelemetry.spanNamed("process mailer")
      expect(TestTelemetry.statusOf(span)).toBe("error")
      expect(span.attributes["error.type"]).toBe("SmtpDown")
      expect(yield* TestTelemetry.metricValue("process.terminated", { "process.name": "mailer", result: "error" }))
        .toBe(1)
      expect(yield* TestTelemetry.metricValue("process.active", { "process.name": "mailer" })).toBe(0)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("closing the scope interrupts a scoped process: span Unset with effect.interrupted, result=interrupted", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Effect.never.pipe(ProcessTelemetry.forkScoped("consumer"), Scope.extend(scope))
      yield* Effect.yieldNow()
      expect(yield* TestTelemetry.metricValue("process.active", { "process.name": "consumer" })).toBe(1)
      yield* Scope.close(scope, Exit.void)
      yield* flushed
      const span = yield* TestTelemetry.spanNamed("process consumer")
      expect(TestTelemetry.statusOf(span)).toBe("unset")
      expect(span.attributes["effect.interrupted"]).toBe(true)
      expect(
        yield* TestTelemetry.metricValue("process.terminated", { "process.name": "consumer", result: "interrupted" })
      )
        .toBe(1)
      expect(yield* TestTelemetry.metricValue("process.active", { "process.name": "consumer" })).toBe(0)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("forkIn outlives its spawner and ends with the given scope: child span, interrupted at close, exported", () =>
    Effect.gen(function*() {
      const background = yield* Scope.make()
      // The spawner (a request, say) ends at once; the process keeps running in `background`.
      yield* Effect.never.pipe(ProcessTelemetry.forkIn(background)("audit"), Effect.withSpan("request"))
      yield* Effect.yieldNow()
      expect(yield* TestTelemetry.metricValue("process.active", { "process.name": "audit" })).toBe(1)
      yield* Scope.close(background, Exit.void)
      yield* flushed
      const span = yield* TestTelemetry.spanNamed("process audit")
      const request = yield* TestTelemetry.spanNamed("request")
      expect(TestTelemetry.parentSpanId(span)).toBe(request.spanContext().spanId)
      expect(span.attributes["effect.interrupted"]).toBe(true)
      expect(yield* TestTelemetry.metricValue("process.terminated", { "process.name": "audit", result: "interrupted" }))
        .toBe(1)
      expect(yield* TestTelemetry.metricValue("process.active", { "process.name": "audit" })).toBe(0)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("scheduled work gets one span per run, each its own trace linked to the spawner", () =>
    Effect.gen(function*() {
      let runs = 0
      const job = Effect.sync(() => {
        runs += 1
      }).pipe(Effect.zipRight(Effect.withSpan(Effect.void, "cleanup step")))
      const fiber = yield* job.pipe(
        ProcessTelemetry.schedule("cleanup", Schedule.spaced("1 minute")),
        Effect.fork,
        Effect.withSpan("boot")
      )
      yield* TestClock.adjust("3 minutes")
      yield* Fiber.interrupt(fiber)
      expect(runs).toBe(3)
      yield* flushed

      const boot = yield* TestTelemetry.spanNamed("boot")
      const spans = yield* TestTelemetry.spansNamed("process cleanup")
      expect(spans.map((s) => s.attributes["process.run"])).toEqual([1, 2, 3])
      expect(new Set(spans.map(TestTelemetry.traceId)).size).toBe(3)
      for (const span of spans) {
        expect(TestTelemetry.parentSpanId(span)).toBeUndefined()
        expect(TestTelemetry.traceId(span)).not.toBe(TestTelemetry.traceId(boot))
        expect(span.links.map((l) => l.context.spanId)).toEqual([boot.spanContext().spanId])
        const [step] = yield* TestTelemetry.childrenOf(span)
        expect(step?.name).toBe("cleanup step")
      }
      expect(yield* TestTelemetry.metricValue("process.started", { "process.name": "cleanup" })).toBe(3)
      expect(yield* TestTelemetry.metricValue("process.terminated", { "process.name": "cleanup", result: "completed" }))
        .toBe(3)
      expect(yield* TestTelemetry.metricValue("process.active", { "process.name": "cleanup" })).toBe(0)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("a cron schedule waits for its tick; trace: child keeps runs in the spawner's trace", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.void.pipe(
        ProcessTelemetry.schedule("report", Schedule.cron("0 * * * *"), { trace: "child" }),
        Effect.fork,
        Effect.withSpan("boot")
      )
      yield* TestClock.adjust("30 minutes")
      yield* flushed
      expect(yield* TestTelemetry.spansNamed("process report")).toHaveLength(0)
      yield* TestClock.adjust("2 hours")
      yield* Fiber.interrupt(fiber)
      yield* flushed
      const boot = yield* TestTelemetry.spanNamed("boot")
      const spans = yield* TestTelemetry.spansNamed("process report")
      expect(spans).toHaveLength(2)
      for (const span of spans) expect(TestTelemetry.parentSpanId(span)).toBe(boot.spanContext().spanId)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("repeat runs now and per schedule; a failing run ends the loop and is counted as error", () =>
    Effect.gen(function*() {
      let runs = 0
      const exit = yield* Effect.suspend(() => {
        runs += 1
        return runs === 3 ? Effect.fail(new SmtpDown()) : Effect.void
      }).pipe(ProcessTelemetry.repeat("poller", Schedule.recurs(5)), Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      yield* flushed
      expect(yield* TestTelemetry.spansNamed("process poller")).toHaveLength(3)
      expect(yield* TestTelemetry.metricValue("process.terminated", { "process.name": "poller", result: "completed" }))
        .toBe(2)
      expect(yield* TestTelemetry.metricValue("process.terminated", { "process.name": "poller", result: "error" }))
        .toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it("a blank process name or an unknown trace mode throws the TelemetryOptionsError naming it", () => {
    expect(() => ProcessTelemetry.fork(Effect.void, " ")).toThrow(TelemetryOptionsError.TelemetryOptionsError)
    expect(() => ProcessTelemetry.fork(Effect.void, " ")).toThrow(
      `ProcessTelemetry: option name must be a non-empty string, got " "`
    )
    expect(() => ProcessTelemetry.schedule(Effect.void, "", Schedule.once)).toThrow(
      `ProcessTelemetry: option name must be a non-empty string, got ""`
    )
    expect(() => ProcessTelemetry.instrument(Effect.void, "job", { trace: "sibling" as any })).toThrow(
      `ProcessTelemetry: option trace must be one of "child", "linked", got "sibling"`
    )
  })
})
