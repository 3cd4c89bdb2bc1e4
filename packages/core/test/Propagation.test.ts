import { Propagation, Tracing } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
const PARENT_ID = "00f067aa0ba902b7"

// A server-like handler: continue the caller's trace, do work, say what we would send on.
const handle = (headers: Record<string, string>) =>
  Effect.gen(function*() {
    const outgoing = yield* Propagation.injectCurrent
    return outgoing
  }).pipe(Effect.withSpan("handle", { kind: "server" }), Propagation.withParentFrom(headers))

describe("Propagation", () => {
  it.effect("a valid traceparent is continued and its tracestate forwarded", () =>
    Effect.gen(function*() {
      const outgoing = yield* handle({
        traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
        tracestate: "vendor=abc,other=1"
      })
      const span = yield* TestTelemetry.spanNamed("handle")
      expect(TestTelemetry.traceId(span)).toBe(TRACE_ID)
      expect(TestTelemetry.parentSpanId(span)).toBe(PARENT_ID)
      expect(span.parentSpanContext?.isRemote).toBe(true)
      expect(outgoing.traceparent).toBe(`00-${TRACE_ID}-${span.spanContext().spanId}-01`)
      expect(outgoing.tracestate).toBe("vendor=abc,other=1")
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("a not-sampled parent (flags 00) produces no exported span and propagates not-sampled", () =>
    Effect.gen(function*() {
      const outgoing = yield* handle({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-00`, tracestate: "k=v" })
      expect((yield* TestTelemetry.spans).length).toBe(0)
      expect(outgoing.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`))
      expect(outgoing.tracestate).toBe("k=v")
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("always_on ignores the parent's sampled flag; parentbased honours it", () =>
    Effect.gen(function*() {
      yield* handle({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` })
      const span = yield* TestTelemetry.spanNamed("handle")
      expect(TestTelemetry.traceId(span)).toBe(TRACE_ID)
    }).pipe(Effect.provide(TestTelemetry.layer({ sampler: "always_on" }))))

  const invalid: ReadonlyArray<readonly [string, string]> = [
    ["all-zero trace id", `00-00000000000000000000000000000000-${PARENT_ID}-01`],
    ["all-zero span id", `00-${TRACE_ID}-0000000000000000-01`],
    ["upper-case hex", `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`],
    ["version ff", `ff-${TRACE_ID}-${PARENT_ID}-01`],
    ["short trace id", `00-${TRACE_ID.slice(2)}-${PARENT_ID}-01`],
    ["non-hex flags", `00-${TRACE_ID}-${PARENT_ID}-zz`],
    ["trailing data on version 00", `00-${TRACE_ID}-${PARENT_ID}-01-extra`],
    ["garbage", "not a traceparent"],
    ["8 KiB header", "0".repeat(8192)]
  ]

  for (const [label, header] of invalid) {
    it.effect(`an invalid traceparent (${label}) is ignored: a new root trace, tracestate dropped`, () =>
      Effect.gen(function*() {
        expect(Option.isNone(Propagation.extract({ traceparent: header }))).toBe(true)
        const outgoing = yield* handle({ traceparent: header, tracestate: "vendor=abc" })
        const span = yield* TestTelemetry.spanNamed("handle")
        expect(TestTelemetry.parentSpanId(span)).toBeUndefined()
        expect(TestTelemetry.traceId(span)).not.toBe(TRACE_ID)
        expect(outgoing.tracestate).toBeUndefined()
      }).pipe(Effect.provide(TestTelemetry.layer())))
  }

  it.effect("a later version with extra fields is accepted, as the W3C processing model says", () =>
    Effect.sync(() => {
      const parent = Propagation.extract({ traceparent: `01-${TRACE_ID}-${PARENT_ID}-01-future` })
      expect(Option.map(parent, (p) => p.traceId)).toEqual(Option.some(TRACE_ID))
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("b3 single and multi headers are read and written when configured", () =>
    Effect.gen(function*() {
      const outgoing = yield* handle({ b3: `${TRACE_ID}-${PARENT_ID}-1` })
      const span = yield* TestTelemetry.spanNamed("handle")
      expect(TestTelemetry.traceId(span)).toBe(TRACE_ID)
      expect(outgoing.b3).toBe(`${TRACE_ID}-${span.spanContext().spanId}-1`)
      expect(outgoing["x-b3-traceid"]).toBe(TRACE_ID)
      expect(outgoing.traceparent).toBeUndefined()
    }).pipe(Effect.provide(TestTelemetry.layer({ propagators: ["b3", "b3multi"] }))))

  it.effect("with no propagators nothing is read or written", () =>
    Effect.gen(function*() {
      const outgoing = yield* handle({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` })
      expect(outgoing).toEqual({})
      const span = yield* TestTelemetry.spanNamed("handle")
      expect(TestTelemetry.parentSpanId(span)).toBeUndefined()
    }).pipe(Effect.provide(TestTelemetry.layer({ propagators: [] }))))
})

describe("Tracing status", () => {
  it.effect("success leaves the status Unset; an explicit status wins over the exit", () =>
    Effect.gen(function*() {
      yield* Effect.void.pipe(Effect.withSpan("fine"))
      yield* Tracing.setStatus({ code: "error", message: "HTTP 500" }).pipe(Effect.withSpan("value-error"))
      yield* Effect.fail("client went away").pipe(
        Effect.tap(() => Effect.void),
        Effect.tapError(() => Tracing.setStatus({ code: "unset" })),
        Effect.withSpan("not-an-error"),
        Effect.ignore
      )
      expect(TestTelemetry.statusOf(yield* TestTelemetry.spanNamed("fine"))).toBe("unset")
      const valueError = yield* TestTelemetry.spanNamed("value-error")
      expect(TestTelemetry.statusOf(valueError)).toBe("error")
      expect(valueError.status.message).toBe("HTTP 500")
      expect(TestTelemetry.statusOf(yield* TestTelemetry.spanNamed("not-an-error"))).toBe("unset")
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.effect("a defect marks the span Error with the defect's class as error.type", () =>
    Effect.gen(function*() {
      yield* Effect.die(new RangeError("boom")).pipe(Effect.withSpan("dies"), Effect.exit)
      const span = yield* TestTelemetry.spanNamed("dies")
      expect(TestTelemetry.statusOf(span)).toBe("error")
      expect(span.status.message).toBe("boom")
      expect(span.attributes["error.type"]).toBe("RangeError")
    }).pipe(Effect.provide(TestTelemetry.layer())))
})
