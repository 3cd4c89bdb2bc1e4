/**
 * Interop with OpenTelemetry code that reads the active context (libraries instrumented with
 * `@opentelemetry/api`): with a context manager registered, the Effect span of the running
 * fiber is the active OTel span, also after an async boundary; without one, nothing is set up.
 */
import { FunctionTelemetry } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as OtelApi from "@opentelemetry/api"
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks"
import * as Effect from "effect/Effect"

/** An async-hooks context manager registered globally for the scope. */
const registerManager = Effect.acquireRelease(
  Effect.sync(() => OtelApi.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())),
  () => Effect.sync(() => OtelApi.context.disable())
)

const activeSpanId = () => OtelApi.trace.getActiveSpan()?.spanContext().spanId

describe("the active OpenTelemetry context inside Effect spans", () => {
  it.scopedLive("with a context manager: the fiber's span is active, before and after a sleep, and parents OTel spans", () =>
    Effect.gen(function*() {
      yield* registerManager
      const seen = yield* Effect.gen(function*() {
        const span = yield* Effect.currentSpan
        const before = activeSpanId()
        yield* Effect.sleep("5 millis")
        const after = activeSpanId()
        // A span started by plain OTel code, as an instrumented library would.
        const child = OtelApi.trace.getTracer("library").startSpan("library.call")
        child.end()
        const nested = yield* Effect.sync(activeSpanId).pipe(Effect.withSpan("inner"))
        return {
          span: span.spanId,
          before,
          after,
          nested,
          childTrace: child.spanContext().traceId,
          trace: span.traceId
        }
      }).pipe(Effect.withSpan("outer"))
      expect(seen.before).toBe(seen.span)
      expect(seen.after).toBe(seen.span)
      expect(seen.nested).not.toBe(seen.span)
      expect(seen.nested).toMatch(/^[0-9a-f]{16}$/)
      const spans = yield* TestTelemetry.spans
      const inner = spans.find((s) => s.name === "inner")!
      expect(inner.spanContext().spanId).toBe(seen.nested)
      expect(TestTelemetry.parentSpanId(inner)).toBe(seen.span)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  // Without a manager the tracer runs Effect's pass-through hook for every fiber operation and
  // checks for a manager when a span starts: one registered while a span is already running
  // counts from the next span on, also through layerFromSpans' wrapped tracer.
  for (const wrapped of [false, true]) {
    it.scopedLive(`a manager registered after spans ran counts from the next span${wrapped ? " (layerFromSpans)" : ""}`, () =>
      Effect.gen(function*() {
        const early = yield* Effect.sync(activeSpanId).pipe(Effect.withSpan("orders.early"))
        expect(early).toBeUndefined()
        yield* registerManager
        const seen = yield* Effect.gen(function*() {
          const span = yield* Effect.currentSpan
          yield* Effect.sleep("1 millis")
          return { span: span.spanId, active: activeSpanId() }
        }).pipe(Effect.withSpan("orders.late"))
        expect(seen.active).toBe(seen.span)
        if (wrapped) {
          const calls = yield* TestTelemetry.metricValue("function.calls", { function: "orders.late", result: "ok" })
          expect(calls).toBe(1)
        }
      }).pipe(
        wrapped ? Effect.provide(FunctionTelemetry.layerFromSpans({ include: ["orders.*"] })) : (self) => self,
        Effect.provide(TestTelemetry.layer())
      ))
  }

  it.effect("without a context manager: no active span is visible (and none is built)", () =>
    Effect.gen(function*() {
      const id = yield* Effect.sync(activeSpanId).pipe(Effect.withSpan("outer"))
      expect(id).toBeUndefined()
    }).pipe(Effect.provide(TestTelemetry.layer())))
})
