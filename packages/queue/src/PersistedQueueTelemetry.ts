/**
 * `@effect/experimental` PersistedQueue with traces and metrics: a drop-in replacement for
 * `PersistedQueue.layer` over any store (memory, Redis).
 *
 * `offer` runs in a `send {queue}` Producer span; `take` runs the handler in a
 * `process {queue}` Consumer span that continues the producer's trace, or a root Consumer
 * span when the element carries no context. The store has no message headers, so the trace
 * context travels in an envelope around the encoded element:
 *
 * ```json
 * { "~effect-telemetry/envelope": 1, "headers": { "traceparent": "00-…-01" }, "element": <encoded value> }
 * ```
 *
 * `headers` holds what the configured propagators inject (`traceparent`, `tracestate`,
 * `baggage`, `b3`…), possibly nothing. An element without the envelope (offered by an
 * uninstrumented producer) is processed as is, in a root span; an uninstrumented consumer,
 * however, cannot decode an enveloped element, so install this layer on producers and
 * consumers of a queue together.
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
import type * as PersistedQueue from "@effect/experimental/PersistedQueue"
import { PersistedQueueFactory } from "@effect/experimental/PersistedQueue"
import * as Layer from "effect/Layer"
import * as internal from "./internal/persistedQueue.js"

/** The key whose presence (value `1`) marks a stored element as an envelope. @since 0.1.0 @category envelope */
export const ENVELOPE_KEY: typeof internal.ENVELOPE_KEY = internal.ENVELOPE_KEY

/** What the store holds for each element offered through this factory. @since 0.1.0 @category envelope */
export type Envelope = internal.Envelope

/** Whether a stored element is an envelope. @since 0.1.0 @category envelope */
export const isEnvelope: (u: unknown) => u is Envelope = internal.isEnvelope

/**
 * Splits a stored element into its propagation headers and the encoded element; a plain
 * element comes back unchanged with no headers.
 *
 * @since 0.1.0
 * @category envelope
 */
export const unwrap: (stored: unknown) => { readonly headers: Record<string, string>; readonly element: unknown } =
  internal.unwrap

/**
 * The instrumented factory over the `PersistedQueueStore` in context (`PersistedQueue.makeFactory`
 * with telemetry).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: typeof PersistedQueue.makeFactory = internal.makeFactory

/**
 * `PersistedQueueFactory` with telemetry, in place of `PersistedQueue.layer`. It takes no
 * options; it is a function like every surface's `layer`, so callers never meet a value in
 * one package and a function in the next.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (): Layer.Layer<PersistedQueueFactory, never, PersistedQueue.PersistedQueueStore> =>
  Layer.effect(PersistedQueueFactory, internal.makeFactory)
