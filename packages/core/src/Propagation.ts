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
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core"
import { B3InjectEncoding, B3Propagator } from "@opentelemetry/propagator-b3"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as EffectTracer from "effect/Tracer"
import { otelContextOf } from "./internal/tracer.js"
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
export const make = (names: ReadonlyArray<PropagatorName>): OtelApi.TextMapPropagator =>
  new CompositePropagator({
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
