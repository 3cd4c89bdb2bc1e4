/**
 * `@effect/experimental` PersistedQueue with traces and metrics: a drop-in replacement for
 * `PersistedQueue.layer` over any store (memory, Redis).
 *
 * `offer` runs in a `send {queue}` Producer span; `take` runs the handler in a
 * `process {queue}` Consumer span that continues the producer's trace, or a root Consumer
 * span when the element carries no context. The store keeps only the encoded element (no
 * headers, no metadata), so the trace context travels in it, in a form an uninstrumented
 * consumer of the same queue (plain `PersistedQueue.layer`) still decodes with its schema:
 *
 * - an element whose schema encodes to an object (a `Struct`, a `Class`, a union of them; no
 *   index signature, excess properties not rejected nor kept) gets one more property,
 *   {@link TRACE_KEY}, holding what the propagators inject. Effect Schema ignores an excess
 *   property by default, so other readers decode the same value; this layer takes it out
 *   before decoding.
 * - any other element (a string, a number, an array, a record) is stored as is: its consumer's
 *   span is a root span. `nonObjectElements: "envelope"` wraps such elements in the
 *   {@link Envelope} instead, which keeps the trace but which only this layer decodes.
 *
 * `take` reads all three forms, so a queue still holding envelopes from an earlier version is
 * drained without loss.
 *
 * ```json
 * { "id": "o-1", "~effect-telemetry/trace": { "traceparent": "00-…-01" } }
 * ```
 *
 * @example
 * ```ts
 * import { PersistedQueue } from "@effect/experimental"
 * import * as PersistedQueueRedis from "@effect/experimental/PersistedQueue/Redis"
 * import { PersistedQueueTelemetry } from "@effect-telemetry/queue"
 *
 * const QueueLive = PersistedQueueTelemetry.layer().pipe(
 *   Layer.provide(PersistedQueueRedis.layerStore({ host: "127.0.0.1" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import type { TelemetryOptionsError } from "@effect-telemetry/core"
import type * as PersistedQueue from "@effect/experimental/PersistedQueue"
import { PersistedQueueFactory } from "@effect/experimental/PersistedQueue"
import * as Layer from "effect/Layer"
import * as internal from "./internal/persistedQueue.js"

/** @since 0.1.0 @category models */
export interface Options {
  /**
   * Elements whose schema does not encode to an object: `"plain"` (default) stores them as
   * is, readable by any consumer, without trace context; `"envelope"` keeps the context in an
   * {@link Envelope} that only consumers with this layer decode.
   */
  readonly nonObjectElements?: "plain" | "envelope" | undefined
}

/**
 * The property of an object element that holds its trace context (`{ traceparent, tracestate? }`).
 *
 * @since 0.1.0
 * @category format
 */
export const TRACE_KEY: typeof internal.TRACE_KEY = internal.TRACE_KEY

/** The key whose presence (value `1`) marks a stored element as an envelope. @since 0.1.0 @category format */
export const ENVELOPE_KEY: typeof internal.ENVELOPE_KEY = internal.ENVELOPE_KEY

/**
 * The earlier format, still read, and written for non-object elements under
 * `nonObjectElements: "envelope"`. @since 0.1.0 @category format
 */
export type Envelope = internal.Envelope

/** Whether a stored element is an envelope. @since 0.1.0 @category format */
export const isEnvelope: (u: unknown) => u is Envelope = internal.isEnvelope

/**
 * Splits a stored element into its propagation headers and the encoded element (without
 * {@link TRACE_KEY}); a plain element comes back unchanged with no headers.
 *
 * @since 0.1.0
 * @category format
 */
export const unwrap: (stored: unknown) => { readonly headers: Record<string, string>; readonly element: unknown } =
  internal.unwrap

/**
 * The instrumented factory over the `PersistedQueueStore` in context (`PersistedQueue.makeFactory`
 * with telemetry), with the default options.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: typeof PersistedQueue.makeFactory = internal.makeFactory

/**
 * `PersistedQueueFactory` with telemetry, in place of `PersistedQueue.layer`. Without options
 * it cannot fail; an unknown `nonObjectElements` fails it with a `TelemetryOptionsError`.
 *
 * @since 0.1.0
 * @category layers
 */
export function layer(): Layer.Layer<PersistedQueueFactory, never, PersistedQueue.PersistedQueueStore>
/** With options, validated when the layer is built. @since 0.1.0 @category layers */
export function layer(
  options?: Options
): Layer.Layer<PersistedQueueFactory, TelemetryOptionsError.TelemetryOptionsError, PersistedQueue.PersistedQueueStore>
export function layer(
  options?: Options
): Layer.Layer<PersistedQueueFactory, TelemetryOptionsError.TelemetryOptionsError, PersistedQueue.PersistedQueueStore> {
  // Without options there is nothing to validate: the default factory, which cannot fail.
  return options === undefined
    ? Layer.effect(PersistedQueueFactory, internal.makeFactory)
    : Layer.effect(PersistedQueueFactory, internal.makeFactoryWith(options))
}
