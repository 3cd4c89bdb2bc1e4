/**
 * A RabbitMQ publisher and consumer (amqplib) with the same signals as the PersistedQueue:
 * `send {destination}` Producer spans whose context travels in the AMQP headers, and
 * `process {queue}` Consumer spans continuing it.
 *
 * The connection lives in the layer's scope. Publishes go through a confirm channel and
 * `mandatory` (by default), so a publish succeeds only once the broker has taken the message:
 * a refused, unroutable or lost publish is a failed Effect, an Error span and a
 * `messaging.client.sent.messages` point with `error.type`. A consumer is a fiber in the
 * current scope on its own channel with a prefetch; the handler's exit settles each message:
 * success acks, a {@link Nack} failure nacks as asked, any other failure nacks (requeued once
 * by default), interruption requeues. {@link consumeManual} lets the handler settle instead.
 *
 * @example
 * ```ts
 * import * as RabbitMq from "@effect-telemetry/queue/RabbitMq"
 *
 * const program = Effect.gen(function*() {
 *   const rabbit = yield* RabbitMq.RabbitMq
 *   yield* rabbit.withChannel((channel) => channel.assertQueue("orders"))
 *   yield* RabbitMq.consume("orders", (message) => placeOrder(JSON.parse(message.content.toString())))
 *   yield* rabbit.sendToQueue("orders", JSON.stringify({ id: "o-1" }))
 * })
 *
 * program.pipe(Effect.scoped, Effect.provide(RabbitMq.layer({ url: Redacted.make(process.env.AMQP_URL!) })))
 * ```
 *
 * @since 0.1.0
 */
import type { TelemetryOptionsError } from "@effect-telemetry/core"
import type * as amqp from "amqplib"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/rabbitmq.js"

/**
 * Why a RabbitMQ operation failed. `replyCode`/`replyText` carry the broker's AMQP reply
 * (`404`/`NOT_FOUND`) when it closed the channel; the message never contains credentials.
 *
 * @since 0.1.0
 * @category errors
 */
export const RabbitMqError: typeof internal.RabbitMqError = internal.RabbitMqError

/** @since 0.1.0 @category errors */
export type RabbitMqError = internal.RabbitMqError

/**
 * Fail a handler with `Nack` to reject its message on purpose: result `nack`, span not Error,
 * `requeue` as given (false: dead-letter it if the queue has a dead-letter exchange, else drop).
 *
 * @since 0.1.0
 * @category errors
 */
export const Nack: typeof internal.Nack = internal.Nack

/** @since 0.1.0 @category errors */
export type Nack = internal.Nack

/** @since 0.1.0 @category models */
export interface Options {
  /** `amqp://user:password@host:5672/vhost`; may be `Redacted`. Never recorded. */
  readonly url: string | Redacted.Redacted<string>
  /** Passed to amqplib's `connect` (TLS, timeout, heartbeat via the URL). */
  readonly socketOptions?: Record<string, unknown> | undefined
}

/** amqplib publish options; `mandatory` defaults to `true`, `messageId` to a random UUID. @since 0.1.0 @category models */
export interface PublishOptions extends amqp.Options.Publish {}

/** @since 0.1.0 @category models */
export interface RabbitMqService {
  /** The amqplib connection (for what this module does not wrap). */
  readonly connection: amqp.ChannelModel
  /** `server.address` and `server.port` of the broker, from the URL. */
  readonly serverAddress: string
  readonly serverPort: number
  /** Publishes to `exchange` with `routingKey` and waits for the broker's confirm. */
  readonly publish: (
    exchange: string,
    routingKey: string,
    content: Uint8Array | string,
    options?: PublishOptions
  ) => Effect.Effect<void, RabbitMqError>
  /** Publishes to `queue` through the default exchange and waits for the confirm. */
  readonly sendToQueue: (
    queue: string,
    content: Uint8Array | string,
    options?: PublishOptions
  ) => Effect.Effect<void, RabbitMqError>
  /** Runs `f` on a fresh channel closed afterwards: declarations, bindings, purges (not traced). */
  readonly withChannel: <A>(f: (channel: amqp.Channel) => PromiseLike<A>) => Effect.Effect<A, RabbitMqError>
}

/** @since 0.1.0 @category tags */
export const RabbitMq: Context.Tag<internal.RabbitMq, RabbitMqService> = internal.RabbitMq

/** @since 0.1.0 @category tags */
export type RabbitMq = internal.RabbitMq

/**
 * Connects in the current scope (closed with it).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options: Options) => Effect.Effect<RabbitMqService, RabbitMqError, Scope.Scope> = internal.make

/** @since 0.1.0 @category layers */
export const layer = (options: Options): Layer.Layer<RabbitMq, RabbitMqError> => Layer.scoped(RabbitMq, make(options))

/**
 * The layer from Effect `Config`, e.g. `RabbitMq.layerConfig({ url: Config.redacted("AMQP_URL") })`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<RabbitMq, RabbitMqError | ConfigError.ConfigError> =>
  Layer.scoped(RabbitMq, Effect.flatMap(Config.unwrap(config), make))

/**
 * What a failed handler does to its message: `"once"` (default) requeues a first delivery and
 * rejects a redelivered one (dead-lettered if the queue has a DLX), `"always"` requeues (a
 * poison message loops), `"never"` rejects.
 *
 * @since 0.1.0
 * @category models
 */
export type RequeueOnFailure = internal.RequeueOnFailure

/** @since 0.1.0 @category models */
export interface ConsumeOptions {
  /** Unacknowledged messages the broker sends ahead (default `max(10, concurrency)`). */
  readonly prefetch?: number | undefined
  /** Messages handled at once (default 1). */
  readonly concurrency?: number | undefined
  readonly requeueOnFailure?: RequeueOnFailure | undefined
}

/**
 * Consumes `queue` in a fiber of the current scope, one `process {queue}` span per message;
 * returns once the broker registered the consumer (fails if the queue does not exist). The
 * fiber ends with an error if the broker cancels the consumer or closes its channel, or when
 * the connection is lost (`reason: "ConnectionLost"`, the cause in the message); deliveries
 * not yet handled are then dropped, for the broker to redeliver. A `prefetch` or
 * `concurrency` that is not a positive integer, or an unknown `requeueOnFailure`, fails it with
 * a `TelemetryOptionsError` before any channel opens.
 *
 * @since 0.1.0
 * @category consumer
 */
export const consume: <E, R>(
  queue: string,
  handler: (message: amqp.ConsumeMessage) => Effect.Effect<void, E, R>,
  options?: ConsumeOptions
) => Effect.Effect<
  Fiber.RuntimeFiber<void, RabbitMqError>,
  RabbitMqError | TelemetryOptionsError.TelemetryOptionsError,
  RabbitMq | R | Scope.Scope
> = internal.consume

/**
 * A delivery in manual-ack mode ({@link consumeManual}): amqplib's message with its own
 * `ack()` and `nack(requeue = true)`. The first call settles the message and is the one
 * outcome recorded; a later call fails with `reason: "AlreadySettled"` without reaching the
 * broker. A call whose channel is gone fails with `reason: "Settle"` (recorded as `ack_error`
 * or `nack_error`).
 *
 * @since 0.1.0
 * @category models
 */
export interface ManualMessage extends amqp.ConsumeMessage {
  readonly ack: () => Effect.Effect<void, RabbitMqError>
  readonly nack: (requeue?: boolean) => Effect.Effect<void, RabbitMqError>
}

/**
 * {@link consume} in manual-ack mode: the handler settles each message itself with
 * `message.ack()` or `message.nack(requeue?)`, for instance after a side effect whose own
 * success decides. Telemetry records exactly one outcome per message: the handler's first
 * settle call (`ack`, `nack`, or `ack_error`/`nack_error` when the call failed), even if the
 * handler fails afterwards (the span is then Error with its `error.type`).
 *
 * A handler that settles nothing is handled as the consumer would: a failure or `Nack` nacks per
 * `requeueOnFailure`, an interruption requeues, and a handler that succeeds without settling
 * fails with `reason: "Unsettled"` (result `error`, `error.type=Unsettled`, the message
 * requeued once then rejected under the default `requeueOnFailure: "once"`), so a forgotten ack
 * shows as an error and neither blocks a prefetch slot forever nor loops.
 *
 * @since 0.1.0
 * @category consumer
 */
export const consumeManual: <E, R>(
  queue: string,
  handler: (message: ManualMessage) => Effect.Effect<void, E, R>,
  options?: ConsumeOptions
) => Effect.Effect<
  Fiber.RuntimeFiber<void, RabbitMqError>,
  RabbitMqError | TelemetryOptionsError.TelemetryOptionsError,
  RabbitMq | R | Scope.Scope
> = internal.consumeManual

/** @since 0.1.0 @category models */
export interface BatchOptions {
  /** Most messages per batch. */
  readonly size: number
  /** Longest wait to fill a batch. */
  readonly within: Duration.DurationInput
  /** Default: `size`. */
  readonly prefetch?: number | undefined
  readonly requeueOnFailure?: RequeueOnFailure | undefined
}

/**
 * Consumes `queue` in batches: one root `process {queue}` span per batch with
 * `messaging.batch.message_count` and a link to each message's producer; the batch is acked
 * or nacked as a whole.
 *
 * @since 0.1.0
 * @category consumer
 */
export const consumeBatch: <E, R>(
  queue: string,
  handler: (messages: ReadonlyArray<amqp.ConsumeMessage>) => Effect.Effect<void, E, R>,
  options: BatchOptions
) => Effect.Effect<
  Fiber.RuntimeFiber<void, RabbitMqError>,
  RabbitMqError | TelemetryOptionsError.TelemetryOptionsError,
  RabbitMq | R | Scope.Scope
> = internal.consumeBatch
