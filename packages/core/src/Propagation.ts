/**
 * Trace context propagation: one propagator, chosen by `OTEL_PROPAGATORS`, installed as the
 * OpenTelemetry global and used by every surface to read and write carriers (HTTP headers,
 * message headers, environment variables of child processes).
 *
 * Parsing is the SDK's W3C/B3 propagators', which follow the W3C processing model: an invalid
 * `traceparent` (all-zero ids, upper-case hex, bad flags or lengths) is ignored and the
 * request starts a new root; a valid one keeps its `tracestate` and its sampled flag.
 *
 * @since 0.1.0
 */
import { makeExternalSpan } from "@effect/opentelemetry/Tracer"
import * as OtelApi from "@opentelemetry/api"
import { CompositePropagator, TraceState, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core"
import { B3InjectEncoding, B3Propagator } from "@opentelemetry/propagator-b3"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as EffectTracer from "effect/Tracer"
import { NativeSpan } from "./internal/span.js"
import { hasContextManager, otelContextOf, spanContextOf } from "./internal/tracer.js"
import type { PropagatorName } from "./TelemetryConfig.js"
import { TelemetryConfig } from "./TelemetryConfig.js"

/** A carrier: header names (lower case) to values; repeated headers may be arrays. @since 0.1.0 @category models */
export type Carrier = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/**
 * Builds the composite propagator for a list of names (empty list: propagates nothing).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (names: ReadonlyArray<PropagatorName>): OtelApi.TextMapPropagator => {
  const propagator = new CompositePropagator({
    propagators: names.map((name) => {
      switch (name) {
        case "tracecontext":
          return new W3CTraceContextPropagator()
        case "baggage":
          return new W3CBaggagePropagator()
        case "b3":
          return new B3Propagator({ injectEncoding: B3InjectEncoding.SINGLE_HEADER })
        case "b3multi":
          return new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER })
      }
    })
  })
  if (names.includes("tracecontext") && names.every((name) => name === "tracecontext" || name === "baggage")) {
    w3cOnly.add(propagator)
  }
  return propagator
}

// Propagators `make` built from W3C trace context (and baggage) only: while one of them is the
// global propagator, `extract` and `inject` read and write `traceparent` and `tracestate`
// themselves, with the SDK propagator's exact rules, and make none of the OTel contexts the
// API's path builds (two context copies, a composite's loop, a span-context lookup per call).
const w3cOnly = new WeakSet<OtelApi.TextMapPropagator>()

// The API's globals (`@opentelemetry/api` 1.x): the global propagator is its `propagation` field.
const otelApiGlobal = Symbol.for("opentelemetry.js.api.1")
const globalPropagator = (): unknown =>
  (globalThis as { [otelApiGlobal]?: { propagation?: unknown } })[otelApiGlobal]?.propagation

const isW3COnly = (): boolean => {
  const propagator = globalPropagator()
  return propagator !== undefined && w3cOnly.has(propagator as OtelApi.TextMapPropagator)
}

// The SDK's W3CTraceContextPropagator's pattern (@opentelemetry/core, trace context level 1):
// version not ff, lower-case hex only, all-zero ids invalid, extra fields only after a version
// other than 00, one optional whitespace at either end.
const TRACE_PARENT = /^\s?((?!ff)[\da-f]{2})-((?![0]{32})[\da-f]{32})-((?![0]{16})[\da-f]{16})-([\da-f]{2})(-.*)?\s?$/

const header = (carrier: Carrier, name: string): string | undefined => {
  const value = carrier[name]
  return typeof value === "string" || value === undefined ? value : value.join(",")
}

/** `extract` through W3C trace context alone, as the SDK's propagator reads a carrier. */
const extractW3C = (carrier: Carrier): Option.Option<EffectTracer.ExternalSpan> => {
  const traceParent = header(carrier, "traceparent")
  if (!traceParent) return Option.none()
  const match = TRACE_PARENT.exec(traceParent)
  if (match === null || (match[1] === "00" && match[5] !== undefined)) return Option.none()
  const traceState = header(carrier, "tracestate")
  return Option.some(makeExternalSpan({
    traceId: match[2]!,
    spanId: match[3]!,
    traceFlags: parseInt(match[4]!, 16) & OtelApi.TraceFlags.SAMPLED,
    traceState: traceState ? new TraceState(traceState) : undefined
  }))
}

/**
 * Installs `propagator` as the OpenTelemetry global (replacing any earlier one).
 *
 * @since 0.1.0
 * @category installation
 */
export const install = (propagator: OtelApi.TextMapPropagator): void => {
  // The global API refuses a second registration; disable first so layers can be rebuilt.
  OtelApi.propagation.disable()
  OtelApi.propagation.setGlobalPropagator(propagator)
}

// Built once: every call returns this value, so a layer provided in two places is still one
// layer (Effect memoizes layers by reference).
const layerInstance: Layer.Layer<never, never, TelemetryConfig> = Layer.scopedDiscard(
  Effect.gen(function*() {
    const config = yield* TelemetryConfig
    yield* Effect.acquireRelease(
      Effect.sync(() => install(make(config.propagators))),
      () => Effect.sync(() => OtelApi.propagation.disable())
    )
  })
)

/**
 * Installs the propagator named by the configuration for the lifetime of the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (): Layer.Layer<never, never, TelemetryConfig> => layerInstance

const getter: OtelApi.TextMapGetter<Carrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key] ?? carrier[key.toLowerCase()]
    // Repeated fields are one comma-joined field (RFC 9110 5.3), as Node's own headers are: the
    // SDK would otherwise keep the first of two traceparents, where the W3C test suite expects
    // a duplicated traceparent to start a new trace. List headers (tracestate, baggage) merge.
    return typeof value === "string" || value === undefined ? value : value.join(",")
  }
}

/**
 * Reads a remote parent from a carrier with the global propagator. `None` when the carrier
 * has no valid context: the caller starts a new root.
 *
 * @since 0.1.0
 * @category extraction
 */
export const extract = (carrier: Carrier): Option.Option<EffectTracer.ExternalSpan> => {
  if (isW3COnly()) return extractW3C(carrier)
  const context = OtelApi.propagation.extract(OtelApi.ROOT_CONTEXT, carrier, getter)
  const spanContext = OtelApi.trace.getSpanContext(context)
  if (spanContext === undefined || !OtelApi.trace.isSpanContextValid(spanContext)) return Option.none()
  return Option.some(makeExternalSpan({
    traceId: spanContext.traceId,
    spanId: spanContext.spanId,
    // Only the sampled bit is defined; the SDK would re-inject other bits as three hex digits
    // ("0a0"), a traceparent every downstream service rejects. W3C: unused flags MUST be zero.
    traceFlags: spanContext.traceFlags & OtelApi.TraceFlags.SAMPLED,
    traceState: spanContext.traceState
  }))
}

/**
 * Writes `span`'s context into a new carrier with the global propagator.
 *
 * @since 0.1.0
 * @category injection
 */
export const inject = (span: EffectTracer.AnySpan): Record<string, string> => {
  const carrier: Record<string, string> = {}
  // Without a context manager the active context is the root one: no baggage to write and
  // tracing not suppressed, so the W3C propagators write exactly the span's context.
  if (!hasContextManager() && isW3COnly()) {
    const spanContext = spanContextOf(span)
    // A native span's ids are valid by construction (random non-zero hex, or a parent's that was
    // checked): the API's regular-expression check cost ~0.5 µs per response in the profiles.
    if (!(span instanceof NativeSpan) && !OtelApi.trace.isSpanContextValid(spanContext)) return carrier
    carrier.traceparent = `00-${spanContext.traceId}-${spanContext.spanId}-0${
      Number(spanContext.traceFlags || OtelApi.TraceFlags.NONE).toString(16)
    }`
    if (spanContext.traceState) carrier.tracestate = spanContext.traceState.serialize()
    return carrier
  }
  OtelApi.propagation.inject(otelContextOf(span, OtelApi.context.active()), carrier)
  return carrier
}

/**
 * The carrier of the current span (empty outside any span).
 *
 * @since 0.1.0
 * @category injection
 */
export const injectCurrent: Effect.Effect<Record<string, string>> = Effect.map(
  Effect.currentSpan.pipe(Effect.option),
  Option.match({ onNone: () => ({}), onSome: inject })
)

/**
 * Runs `effect` with the context extracted from `carrier` as its parent span (or unchanged
 * when the carrier has none).
 *
 * @since 0.1.0
 * @category extraction
 */
export const withParentFrom: {
  (carrier: Carrier): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
} = (carrier) => (effect) =>
  Option.match(extract(carrier), {
    onNone: () => effect,
    onSome: (parent) => Effect.withParentSpan(effect, parent)
  }) as any
