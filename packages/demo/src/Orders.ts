/**
 * The demo's domain: orders stored in Postgres, cached in a KeyValueStore, fulfilled by a
 * durable workflow. Every function is a traced function, so each request's trace shows the
 * function, SQL, KV, queue and workflow spans beneath the HTTP server span.
 *
 * @since 0.1.0
 */
import { Telemetry } from "@effect-telemetry/core"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Activity from "@effect/workflow/Activity"
import * as Workflow from "@effect/workflow/Workflow"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"

/** @since 0.1.0 @category models */
export const Order = Schema.Struct({
  id: Schema.String,
  sku: Schema.String,
  quantity: Schema.Number,
  status: Schema.String
})
/** @since 0.1.0 @category models */
export type Order = typeof Order.Type

/** @since 0.1.0 @category errors */
export class OrderNotFound extends Schema.TaggedError<OrderNotFound>()("OrderNotFound", { id: Schema.String }) {}

/** @since 0.1.0 @category errors */
export class CarrierBusy extends Schema.TaggedError<CarrierBusy>()("CarrierBusy", { attempt: Schema.Number }) {}

/** @since 0.1.0 @category errors */
export class OutOfStock extends Schema.TaggedError<OutOfStock>()("OutOfStock", { sku: Schema.String }) {}

/** Creates the table (idempotent). @since 0.1.0 @category migrations */
export const migrate = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS demo_orders (
    id text PRIMARY KEY,
    sku text NOT NULL,
    quantity integer NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  )`
  // CDC needs the old row on updates and deletes, not only the key.
  yield* sql`ALTER TABLE demo_orders REPLICA IDENTITY FULL`
})

const cacheKey = (id: string) => `order:${id}`
const encode = Schema.encodeSync(Schema.parseJson(Order))
const decode = Schema.decodeUnknownOption(Schema.parseJson(Order))

/** Inserts an order. `sku` "none" is out of stock (the demo's error path). @since 0.1.0 @category functions */
export const place = Telemetry.fn("orders.place")(function*(sku: string, quantity: number) {
  if (sku === "none") return yield* new OutOfStock({ sku })
  const sql = yield* SqlClient.SqlClient
  const id = crypto.randomUUID()
  yield* sql`INSERT INTO demo_orders ${sql.insert({ id, sku, quantity, status: "placed" })}`
  return { id, sku, quantity, status: "placed" } satisfies Order
})

/** Reads an order through the cache. @since 0.1.0 @category functions */
export const find = Telemetry.fn("orders.find")(function*(id: string) {
  const kv = yield* KeyValueStore.KeyValueStore
  const cached = Option.flatMap(yield* kv.get(cacheKey(id)), decode)
  if (Option.isSome(cached)) return cached.value
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<Order>`SELECT id, sku, quantity, status FROM demo_orders WHERE id = ${id}`
  const order = rows[0]
  if (order === undefined) return yield* new OrderNotFound({ id })
  yield* kv.set(cacheKey(id), encode(order))
  return order
})

/**
 * Writes an audit record of a placed order to the KeyValueStore (`audit:{id}`). The API runs it
 * as the background process `order-audit`, off the response's path.
 *
 * @since 0.1.0
 * @category functions
 */
export const audit = (order: Order) =>
  Effect.flatMap(
    KeyValueStore.KeyValueStore,
    (kv) => kv.set(`audit:${order.id}`, JSON.stringify({ ...order, placedAt: new Date().toISOString() }))
  )

/** Sets an order's status and drops its cache entry. @since 0.1.0 @category functions */
export const setStatus = Telemetry.fn("orders.set_status")(function*(id: string, status: string) {
  const sql = yield* SqlClient.SqlClient
  yield* sql`UPDATE demo_orders SET status = ${status} WHERE id = ${id}`
  const kv = yield* KeyValueStore.KeyValueStore
  yield* kv.remove(cacheKey(id))
})

/** Counts orders by status (the scheduled background report). @since 0.1.0 @category functions */
export const countByStatus = Telemetry.fn("orders.count_by_status")(function*() {
  const sql = yield* SqlClient.SqlClient
  return yield* sql<
    { status: string; count: string }
  >`SELECT status, count(*)::text AS count FROM demo_orders GROUP BY status`
})

// --- fulfilment workflow ----------------------------------------------------------------------

/** @since 0.1.0 @category workflows */
export const Fulfilment = Workflow.make({
  name: "Fulfilment",
  payload: { id: Schema.String },
  success: Schema.String,
  idempotencyKey: ({ id }) => id
})

/** Reserve stock, then ship (the ship activity fails on its first attempt: one retry to see). @since 0.1.0 @category workflows */
export const FulfilmentLive = Fulfilment.toLayer(Effect.fn(function*({ id }) {
  yield* Activity.make({ name: "Reserve", execute: setStatus(id, "reserved").pipe(Effect.orDie) })
  yield* Activity.make({
    name: "Ship",
    error: CarrierBusy,
    execute: Effect.flatMap(
      Activity.CurrentAttempt,
      (attempt) =>
        attempt === 1 ? Effect.fail(new CarrierBusy({ attempt })) : setStatus(id, "shipped").pipe(Effect.orDie)
    )
  }).pipe(Activity.retry({ times: 3 }), Effect.orDie)
  return "shipped"
}))
