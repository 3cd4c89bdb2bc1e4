/**
 * With the default propagators (W3C trace context and baggage) `Propagation.extract` and
 * `inject` read and write `traceparent`/`tracestate` themselves. Every carrier here is read
 * both ways, by that path and by the SDK's own propagators through the OTel API (a composite
 * `make` did not build, so the general path), and the results must be the same.
 */
import { Propagation } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import { afterEach, describe, expect, it } from "@effect/vitest"
import * as OtelApi from "@opentelemetry/api"
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Tracer from "effect/Tracer"

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
const PARENT_ID = "00f067aa0ba902b7"

const sdkPath = () =>
  new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] })

interface Read {
  readonly parent: Option.Option<{ traceId: string; spanId: string; sampled: boolean }>
  readonly written: Record<string, string>
}

const read = (propagator: OtelApi.TextMapPropagator, carrier: Propagation.Carrier): Read => {
  Propagation.install(propagator)
  const parent = Propagation.extract(carrier)
  return {
    parent: Option.map(parent, (p) => ({ traceId: p.traceId, spanId: p.spanId, sampled: p.sampled })),
    written: Option.match(parent, { onNone: () => ({}), onSome: (p: Tracer.AnySpan) => Propagation.inject(p) })
  }
}

const both = (carrier: Propagation.Carrier): Read => {
  const fast = read(Propagation.make(["tracecontext", "baggage"]), carrier)
  expect(fast).toEqual(read(sdkPath(), carrier))
  expect(read(Propagation.make(["tracecontext"]), carrier)).toEqual(fast)
  return fast
}

const entries = (n: number, prefix = "k") => Array.from({ length: n }, (_, i) => `${prefix}${i}=v${i}`).join(",")

describe("Propagation: W3C fast path", () => {
  afterEach(() => OtelApi.propagation.disable())

  const traceparents: ReadonlyArray<readonly [string, string, boolean]> = [
    ["valid, sampled", `00-${TRACE_ID}-${PARENT_ID}-01`, true],
    ["valid, not sampled", `00-${TRACE_ID}-${PARENT_ID}-00`, true],
    ["unknown flag bits kept out", `00-${TRACE_ID}-${PARENT_ID}-ff`, true],
    ["upper-case trace id", `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`, false],
    ["upper-case flags", `00-${TRACE_ID}-${PARENT_ID}-0A`, false],
    ["upper-case version", `0A-${TRACE_ID}-${PARENT_ID}-01`, false],
    ["version ff", `ff-${TRACE_ID}-${PARENT_ID}-01`, false],
    ["future version with extra fields", `cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-holds`, true],
    ["future version, no extra fields", `01-${TRACE_ID}-${PARENT_ID}-01`, true],
    ["future version, extra data not a field", `01-${TRACE_ID}-${PARENT_ID}-01x`, false],
    ["version 00 with extra fields", `00-${TRACE_ID}-${PARENT_ID}-01-extra`, false],
    ["all-zero trace id", `00-${"0".repeat(32)}-${PARENT_ID}-01`, false],
    ["all-zero span id", `00-${TRACE_ID}-${"0".repeat(16)}-01`, false],
    ["trace id one digit short", `00-${TRACE_ID.slice(1)}-${PARENT_ID}-01`, false],
    ["span id one digit long", `00-${TRACE_ID}-${PARENT_ID}0-01`, false],
    ["one-digit flags", `00-${TRACE_ID}-${PARENT_ID}-1`, false],
    ["leading and trailing space", ` 00-${TRACE_ID}-${PARENT_ID}-01 `, true],
    ["two leading spaces", `  00-${TRACE_ID}-${PARENT_ID}-01`, false],
    ["non-hex digit", `00-${TRACE_ID.slice(0, 31)}g-${PARENT_ID}-01`, false],
    ["empty", "", false],
    ["8 KiB", "0".repeat(8192), false]
  ]

  for (const [label, traceparent, valid] of traceparents) {
    it(`traceparent ${label}: ${valid ? "continued" : "ignored"}, as by the SDK's propagator`, () => {
      const { parent, written } = both({ traceparent, tracestate: "vendor=abc" })
      expect(Option.isSome(parent)).toBe(valid)
      if (valid) {
        expect(written.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
        expect(written.tracestate).toBe("vendor=abc")
      }
    })
  }

  it("a repeated traceparent (joined by the carrier) starts a new trace", () => {
    const { parent } = both({ traceparent: [`00-${TRACE_ID}-${PARENT_ID}-01`, `00-${TRACE_ID}-${PARENT_ID}-01`] })
    expect(Option.isNone(parent)).toBe(true)
  })

  const traceStates: ReadonlyArray<readonly [string, Propagation.Carrier["tracestate"]]> = [
    ["32 entries, all kept", entries(32)],
    ["33 entries, the 33rd dropped", entries(33)],
    ["over 512 characters, long entries dropped", `a=${"x".repeat(300)},b=1,c=${"y".repeat(300)}`],
    ["invalid keys and values dropped", "UPPER=1,ok=2,bad value=3,x=y=z"],
    ["repeated header, merged", ["a=1,b=2", "c=3"]],
    ["empty", ""],
    ["only separators", ",,, ,"]
  ]

  for (const [label, tracestate] of traceStates) {
    it(`tracestate ${label}: as by the SDK's propagator`, () => {
      const { written } = both({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, tracestate })
      expect(written.traceparent).toBe(`00-${TRACE_ID}-${PARENT_ID}-01`)
    })
  }

  it("the 32-entry limit and the validity rules hold on the written tracestate", () => {
    const { written } = both({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, tracestate: entries(40) })
    expect(written.tracestate?.split(",").length).toBe(32)
    const invalid = both({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, tracestate: "UPPER=1,ok=2" })
    expect(invalid.written.tracestate).toBe("ok=2")
  })

  it("baggage is not echoed by inject and a b3-only setup reads no traceparent", () => {
    const { written } = both({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, baggage: "user=1" })
    expect(written.baggage).toBeUndefined()
    Propagation.install(Propagation.make(["b3"]))
    expect(Option.isNone(Propagation.extract({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` }))).toBe(true)
    Propagation.install(Propagation.make(["tracecontext", "b3"]))
    const parent = Propagation.extract({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` })
    expect(Option.isSome(parent) && Propagation.inject(parent.value).b3).toBe(`${TRACE_ID}-${PARENT_ID}-1`)
  })

  // Native spans skip the API's validity check on the fast path (their ids are valid by
  // construction): what they write must still be what the SDK's propagators write for them.
  const nativeSpans = (sampler: "always_on" | "always_off" | "parentbased_always_on") =>
    Effect.gen(function*() {
      const current = Effect.currentSpan
      const root = yield* current.pipe(Effect.withSpan("root"))
      const [parent, child] = yield* Effect.zip(current, current.pipe(Effect.withSpan("child"))).pipe(
        Effect.withSpan("parent")
      )
      const remote = (flags: string) =>
        current.pipe(
          Effect.withSpan("from.remote"),
          Propagation.withParentFrom({
            traceparent: `00-${TRACE_ID}-${PARENT_ID}-${flags}`,
            tracestate: "vendor=value,other=1"
          })
        )
      return [root, parent, child, yield* remote("01"), yield* remote("00")]
    }).pipe(Effect.provide(TestTelemetry.layer({ sampler })))

  for (const sampler of ["always_on", "always_off", "parentbased_always_on"] as const) {
    it.effect(`native spans (${sampler}) write what the SDK's propagators write for them`, () =>
      Effect.gen(function*() {
        const spans = yield* nativeSpans(sampler)
        for (const span of spans) {
          Propagation.install(Propagation.make(["tracecontext", "baggage"]))
          const fast = Propagation.inject(span)
          Propagation.install(sdkPath())
          expect(fast).toEqual(Propagation.inject(span))
          expect(fast.traceparent).toBe(`00-${span.traceId}-${span.spanId}-0${span.sampled ? 1 : 0}`)
        }
        // The remote parent's trace, flags and tracestate carry over to its children.
        const [, , , sampled, unsampled] = spans.map((span) => {
          Propagation.install(Propagation.make(["tracecontext"]))
          return Propagation.inject(span)
        })
        expect(sampled!.traceparent).toMatch(
          new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-0${sampler === "always_off" ? 0 : 1}$`)
        )
        expect(sampled!.tracestate).toBe("vendor=value,other=1")
        expect(unsampled!.traceparent).toMatch(
          new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-0${sampler === "always_on" ? 1 : 0}$`)
        )
      }))
  }
})
