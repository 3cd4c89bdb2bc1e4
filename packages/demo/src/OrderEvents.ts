/**
 * Order events: placed orders go through a queue to a consumer that starts the fulfilment
 * workflow. Embedded, the queue is `@effect/experimental`'s PersistedQueue (on a memory store
 * that forgets finished elements) instrumented by `PersistedQueueTelemetry`; with `AMQP_URL`
 * it is a RabbitMQ queue through `RabbitMq`. Either way the producer's trace continues in the
 * consumer.
 *
 * @since 0.1.0
 */
import { PersistedQueueTelemetry } from "@effect-telemetry/queue"
import * as RabbitMq from "@effect-telemetry/queue/RabbitMq"
import * as PersistedQueue from "@effect/experimental/PersistedQueue"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
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

// PersistedQueue.layerStoreMemory, except that an element's id is forgotten once the element
// leaves the queue for good: upstream keeps every id ever offered (to ignore a repeated offer),
// one more string per order for the life of the process. A repeated offer of a finished order
// is harmless here: the workflow's idempotency key is the order id.
const storeMemory = Layer.sync(PersistedQueue.PersistedQueueStore, () => {
  type Entry = { readonly id: string; attempts: number; readonly element: unknown }
  const ids = new Set<string>()
  const queues = new Map<string, { readonly latch: Effect.Latch; readonly items: Set<Entry> }>()
  const queueOf = (name: string) => {
    let queue = queues.get(name)
    if (queue === undefined) {
      queue = { latch: Effect.unsafeMakeLatch(false), items: new Set() }
      queues.set(name, queue)
    }
    return queue
  }
  return PersistedQueue.PersistedQueueStore.of({
    offer: (options) =>
      Effect.sync(() => {
        if (ids.has(options.id)) return
        ids.add(options.id)
        const queue = queueOf(options.name)
        queue.items.add({ id: options.id, attempts: 0, element: options.element })
        queue.latch.unsafeOpen()
      }),
    take: (options) =>
      Effect.gen(function*() {
        const queue = queueOf(options.name)
        let item: Entry | undefined
        // Another taker may have emptied the queue between the latch opening and this turn.
        while (item === undefined) {
          yield* queue.latch.await
          item = queue.items.values().next().value
        }
        queue.items.delete(item)
        if (queue.items.size === 0) queue.latch.unsafeClose()
        const taken = item
        yield* Effect.addFinalizer((exit) =>
          Effect.sync(() => {
            if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) taken.attempts += 1
            if (Exit.isSuccess(exit) || taken.attempts >= options.maxAttempts) {
              ids.delete(taken.id)
            } else {
              queue.items.add(taken)
              queue.latch.unsafeOpen()
            }
          })
        )
        return taken
      })
  })
})

const memory = Layer.effect(
  OrderTransport,
  Effect.map(PersistedQueue.make({ name: QUEUE, schema: Order }), (queue): Transport => ({ _tag: "memory", queue }))
).pipe(Layer.provide(PersistedQueueTelemetry.layer()), Layer.provide(storeMemory))

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
export const layer = Layer.unwrapEffect(
  Effect.map(DemoConfigTag, (config) =>
    Option.match(config.amqpUrl, {
      onNone: () => memory,
      onSome: (url) => Layer.orDie(rabbitmq(url))
    }))
)

const encode = Schema.encodeSync(Schema.parseJson(Order))
const decode = Schema.decodeUnknown(Schema.parseJson(Order))

/** Publishes a placed order. @since 0.1.0 @category producers */
export const publish = (order: Order) =>
  Effect.flatMap(OrderTransport, (transport): Effect.Effect<void> =>
    transport._tag === "memory"
      ? Effect.orDie(Effect.asVoid(transport.queue.offer(order, { id: order.id })))
      : Effect.orDie(transport.rabbit.sendToQueue(QUEUE, encode(order), { messageId: order.id, persistent: true })))

// Orders handled at once. Starting a durable workflow waits for its journal write, so one at
// a time falls behind the orders a busy API takes, and the backlog waits in memory.
const CONCURRENCY = 8

/** Takes orders until interrupted, running `handler` in the consumer span. @since 0.1.0 @category consumers */
export const consume = <A, E, R>(
  handler: (order: Order) => Effect.Effect<A, E, R>
): Effect.Effect<void, never, OrderTransport | R> =>
  Effect.flatMap(OrderTransport, (transport): Effect.Effect<void, never, R> =>
    transport._tag === "memory"
      ? Effect.all(
        Array.from({ length: CONCURRENCY }, () =>
          transport.queue.take((order) =>
            handler(order), { maxAttempts: 3 }).pipe(
              Effect.catchAllCause((cause) => Effect.logWarning("order consumer: message failed", cause)),
              Effect.forever
            )),
        { concurrency: "unbounded", discard: true }
      )
      : Effect.scoped(
        RabbitMq.consume(QUEUE, (message) =>
          Effect.asVoid(Effect.flatMap(decode(message.content.toString("utf8")), handler)), {
          prefetch: 16,
          concurrency: CONCURRENCY
        }).pipe(Effect.flatMap(Fiber.join))
      ).pipe(Effect.provideService(RabbitMq.RabbitMq, transport.rabbit), Effect.orDie))
