/**
 * Order events: placed orders go through a queue to a consumer that starts the fulfilment
 * workflow. Embedded, the queue is `@effect/experimental`'s PersistedQueue (memory store)
 * instrumented by `PersistedQueueTelemetry`; with `AMQP_URL` it is a RabbitMQ queue through
 * `RabbitMq`. Either way the producer's trace continues in the consumer.
 *
 * @since 0.1.0
 */
import { PersistedQueueTelemetry } from "@effect-telemetry/queue"
import * as RabbitMq from "@effect-telemetry/queue/RabbitMq"
import * as PersistedQueue from "@effect/experimental/PersistedQueue"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { DemoConfigTag } from "./DemoConfig.js"
import { Order } from "./Orders.js"

/** The queue's name: `send order-events` / `process order-events` spans. @since 0.1.0 */
export const QUEUE = "order-events"

type Transport =
  | { readonly _tag: "memory"; readonly queue: PersistedQueue.PersistedQueue<Order> }
  | { readonly _tag: "rabbitmq"; readonly rabbit: RabbitMq.RabbitMqService }

/** @since 0.1.0 @category tags */
export class OrderTransport extends Context.Tag("@effect-telemetry/demo/OrderTransport")<OrderTransport, Transport>() {}

const memory = Layer.effect(
  OrderTransport,
  Effect.map(PersistedQueue.make({ name: QUEUE, schema: Order }), (queue): Transport => ({ _tag: "memory", queue }))
).pipe(Layer.provide(PersistedQueueTelemetry.layer()), Layer.provide(PersistedQueue.layerStoreMemory))

const rabbitmq = (url: string) =>
  Layer.effect(
    OrderTransport,
    Effect.gen(function*() {
      const rabbit = yield* RabbitMq.RabbitMq
      yield* rabbit.withChannel((channel) => channel.assertQueue(QUEUE, { durable: true }))
      return { _tag: "rabbitmq", rabbit } satisfies Transport
    })
  ).pipe(Layer.provide(RabbitMq.layer({ url })))

/** @since 0.1.0 @category layers */
export const layer = Layer.unwrapEffect(Effect.map(DemoConfigTag, (config) =>
  Option.match(config.amqpUrl, { onNone: () => memory, onSome: (url) => Layer.orDie(rabbitmq(url)) })
))

const encode = Schema.encodeSync(Schema.parseJson(Order))
const decode = Schema.decodeUnknown(Schema.parseJson(Order))

/** Publishes a placed order. @since 0.1.0 @category producers */
export const publish = (order: Order) =>
  Effect.flatMap(OrderTransport, (transport): Effect.Effect<void> =>
    transport._tag === "memory"
      ? Effect.orDie(Effect.asVoid(transport.queue.offer(order, { id: order.id })))
      : Effect.orDie(transport.rabbit.sendToQueue(QUEUE, encode(order), { messageId: order.id, persistent: true })))

/** Takes orders until interrupted, running `handler` in the consumer span. @since 0.1.0 @category consumers */
export const consume = <A, E, R>(
  handler: (order: Order) => Effect.Effect<A, E, R>
): Effect.Effect<void, never, OrderTransport | R> =>
  Effect.flatMap(OrderTransport, (transport): Effect.Effect<void, never, R> =>
    transport._tag === "memory"
      ? transport.queue.take((order) => handler(order), { maxAttempts: 3 }).pipe(
        Effect.catchAllCause((cause) => Effect.logWarning("order consumer: message failed", cause)),
        Effect.forever
      )
      : Effect.scoped(
        RabbitMq.consume(QUEUE, (message) => Effect.asVoid(Effect.flatMap(decode(message.content.toString("utf8")), handler)), {
          prefetch: 16
        }).pipe(Effect.flatMap(Fiber.join))
      ).pipe(Effect.provideService(RabbitMq.RabbitMq, transport.rabbit), Effect.orDie))
