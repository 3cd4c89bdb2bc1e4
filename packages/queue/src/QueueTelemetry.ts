/**
 * The messaging signals shared by every queue this package instruments, and the two
 * combinators they are built from, for brokers it does not cover.
 *
 * `send` wraps a publish in a `send {destination}` Producer span and hands it the carrier to
 * put in the message; `process` runs a handler in a `process {destination}` Consumer span
 * that continues the carrier's trace (a root span when the carrier has no context) and then
 * settles the message from the handler's exit.
 *
 * @example
 * ```ts
 * import { QueueTelemetry } from "@effect-telemetry/queue"
 *
 * const publish = (body: string) =>
 *   QueueTelemetry.send({ system: "nats", destination: "orders", operationName: "publish" }, (headers) =>
 *     Effect.promise(() => nats.publish("orders", body, { headers })))
 *
 * const handle = (msg: Msg) =>
 *   QueueTelemetry.process(
 *     { system: "nats", destination: "orders", operationName: "consume", carrier: msg.headers },
 *     placeOrder(msg.data),
 *     (exit) => Exit.isSuccess(exit) ? Effect.sync(() => msg.ack()) : Effect.sync(() => msg.nak())
 *   )
 * ```
 *
 * @since 0.1.0
 */
import { Propagation } from "@effect-telemetry/core"
import type { Signals } from "@effect-telemetry/core"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Messaging from "./internal/messaging.js"
import * as internalSignals from "./internal/signals.js"

/** `messaging.client.sent.messages{messaging.system, messaging.destination.name, messaging.operation.name, messaging.operation.type, error.type?}`: counter. @since 0.1.0 @category metrics */
export const sentMessages = Messaging.sentMessages

/** `messaging.client.consumed.messages{messaging.system, messaging.destination.name, messaging.operation.name, messaging.operation.type}`: counter. @since 0.1.0 @category metrics */
export const consumedMessages = Messaging.consumedMessages

/** `messaging.client.operation.duration{…, error.type?}`: histogram of sends, seconds. @since 0.1.0 @category metrics */
export const operationDuration = Messaging.operationDuration

/** `messaging.process.duration{…, result, error.type?}`: histogram, seconds. @since 0.1.0 @category metrics */
export const processDuration = Messaging.processDuration

/** `messaging.process.active{messaging.system, messaging.destination.name}`: up-down counter. @since 0.1.0 @category metrics */
export const active = Messaging.active

/**
 * `messaging.consumer.errors{messaging.system, messaging.destination.name, error.type}`: counter
 * of consumers that stopped on a failure, so a consumer that dies while idle (no message in a
 * handler, hence no span) is still seen. @since 0.1.0 @category metrics
 */
export const consumerErrors = Messaging.consumerErrors

/** `ack` | `nack` | `error` | `ack_error` | `nack_error` @since 0.1.0 @category models */
export type Result = Messaging.Result

/** @since 0.1.0 @category models */
export interface Destination {
  /** `messaging.system`: `rabbitmq`, `kafka`, `nats`… */
  readonly system: string
  /** `messaging.destination.name`: a queue, topic or exchange; keep it low-cardinality. */
  readonly destination: string
  /** `messaging.operation.name`: the system's own name for the call (`publish`, `consume`). */
  readonly operationName: string
}

/** @since 0.1.0 @category models */
export interface SendOptions<E> extends Destination {
  /** `messaging.message.id` on the span. */
  readonly messageId?: string | undefined
  /** Extra span attributes. */
  readonly attributes?: Record<string, unknown> | undefined
  /** `error.type` of a failure (default: the error's `_tag` or class name). */
  readonly errorType?: ((error: E) => string) | undefined
}

/**
 * Runs `publish` in a Producer span, passing it the trace context to send with the message.
 *
 * @since 0.1.0
 * @category producer
 */
export const send: <A, E, R>(
  options: SendOptions<E>,
  publish: (carrier: Record<string, string>) => Effect.Effect<A, E, R>
) => Effect.Effect<A, E, R> = Messaging.send

/** @since 0.1.0 @category models */
export interface ProcessOptions<E> extends Destination {
  /** The headers the message arrived with (the trace context is read from them). */
  readonly carrier?: Propagation.Carrier | undefined
  readonly messageId?: string | undefined
  readonly attributes?: Record<string, unknown> | undefined
  /** A failure that is a deliberate rejection: result `nack`, span not Error. Default: none. */
  readonly isNack?: ((error: E) => boolean) | undefined
}

/**
 * Runs `handle` in a Consumer span continuing the carrier's trace, then `settle` with its exit
 * (uninterruptibly): `settle` is taken to ack after a success and nack otherwise, so a failed
 * `settle` makes the result `ack_error` or `nack_error` and fails with its error.
 *
 * @since 0.1.0
 * @category consumer
 */
export const process = <A, E, R, E2, R2>(
  options: ProcessOptions<E>,
  handle: Effect.Effect<A, E, R>,
  settle: (exit: Exit.Exit<A, E>) => Effect.Effect<void, E2, R2>
): Effect.Effect<A, E | E2, R | R2> =>
  Messaging.process(
    {
      ...options,
      parent: options.carrier === undefined ? Option.none() : Propagation.extract(options.carrier)
    },
    handle,
    settle
  )

/**
 * Every span and metric this package emits (PersistedQueue, RabbitMQ and the combinators
 * above), with its attributes and meaning: the declaration docs/SIGNALS.md is generated from.
 *
 * @since 0.1.0
 * @category signals
 */
export const signals: Signals.Catalogue = internalSignals.signals
