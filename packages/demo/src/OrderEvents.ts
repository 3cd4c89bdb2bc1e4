/**
 * Order events: placed orders go through a queue to a consumer that starts the fulfilment
 * workflow. The queue is `@effect/experimental`'s PersistedQueue instrumented by
 * `PersistedQueueTelemetry` (memory store when embedded), so the producer's trace continues
 * in the consumer.
 *
 * @since 0.1.0
 */
import { PersistedQueueTelemetry } from "@effect-telemetry/queue"
import * as PersistedQueue from "@effect/experimental/PersistedQueue"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Order } from "./Orders.js"

/** The queue's name: `send order-events` / `process order-events` spans. @since 0.1.0 */
export const QUEUE = "order-events"

/** @since 0.1.0 @category tags */
export class OrderQueue extends Context.Tag("@effect-telemetry/demo/OrderQueue")<
  OrderQueue,
  PersistedQueue.PersistedQueue<Order>
>() {}

/** @since 0.1.0 @category layers */
export const layer: Layer.Layer<OrderQueue> = Layer.effect(
  OrderQueue,
  PersistedQueue.make({ name: QUEUE, schema: Order })
).pipe(
  Layer.provide(PersistedQueueTelemetry.layer),
  Layer.provide(PersistedQueue.layerStoreMemory)
)

/** Publishes a placed order. @since 0.1.0 @category producers */
export const publish = (order: Order) =>
  Effect.flatMap(OrderQueue, (queue) => queue.offer(order, { id: order.id })).pipe(Effect.orDie)

/** Takes orders forever, one at a time, running `handler` in the consumer span. @since 0.1.0 @category consumers */
export const consume = <A, E, R>(handler: (order: Order) => Effect.Effect<A, E, R>) =>
  Effect.flatMap(OrderQueue, (queue) => queue.take((order) => handler(order), { maxAttempts: 3 })).pipe(
    Effect.catchAllCause((cause) => Effect.logWarning("order consumer: message failed", cause)),
    Effect.forever
  )
