import { Propagation, Semconv } from "@effect-telemetry/core"
import * as PersistedQueue from "@effect/experimental/PersistedQueue"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Messaging from "./messaging.js"

/** The marker key of an envelope; its value is the envelope format version. @internal */
export const ENVELOPE_KEY = "~effect-telemetry/envelope"

/** @internal */
export interface Envelope {
  readonly [ENVELOPE_KEY]: 1
  readonly headers: Record<string, string>
  readonly element: unknown
}

/** @internal */
export const isEnvelope = (u: unknown): u is Envelope =>
  typeof u === "object" && u !== null && (u as Record<string, unknown>)[ENVELOPE_KEY] === 1

/** @internal */
export const wrap = (headers: Record<string, string>, element: unknown): Envelope => ({
  [ENVELOPE_KEY]: 1,
  headers,
  element
})

/**
 * The headers and element of a stored element. An element offered without the instrumented
 * factory (an older producer) is no envelope: it is returned as is, with no headers.
 *
 * @internal
 */
export const unwrap = (stored: unknown): { readonly headers: Record<string, string>; readonly element: unknown } => {
  if (isEnvelope(stored)) return { headers: Messaging.carrierOf(stored.headers), element: stored.element }
  return { headers: {}, element: stored }
}

/** @internal */
export const makeFactory = Effect.gen(function*() {
  const store = yield* PersistedQueue.PersistedQueueStore
  return PersistedQueue.PersistedQueueFactory.of({
    make<A, I, R>(options: { readonly name: string; readonly schema: Schema.Schema<A, I, R> }) {
      const encodeUnknown = Schema.encodeUnknown(options.schema)
      const decodeUnknown = Schema.decodeUnknown(options.schema)
      const system = Semconv.MESSAGING_SYSTEM_PERSISTED_QUEUE
      const send = Messaging.sender({ system, destination: options.name, operationName: "offer" })
      return Effect.succeed<PersistedQueue.PersistedQueue<A, R>>({
        [PersistedQueue.TypeId]: PersistedQueue.TypeId,
        offer: (value, opts) =>
          Effect.suspend(() => {
            const id = opts?.id ?? crypto.randomUUID()
            return send(
              (headers) =>
                Effect.flatMap(encodeUnknown(value), (element) =>
                  Effect.as(
                    store.offer({
                      name: options.name,
                      id,
                      element: wrap(headers, element),
                      isCustomId: opts?.id !== undefined
                    }),
                    id
                  )),
              id
            )
          }),
        take: (f, opts) =>
          Effect.uninterruptibleMask((restore) =>
            Effect.gen(function*() {
              const scope = yield* Scope.make()
              const item = yield* store.take({ name: options.name, maxAttempts: opts?.maxAttempts ?? 10 }).pipe(
                Scope.extend(scope),
                restore,
                Effect.onExit((exit) => Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void)
              )
              const { element, headers } = unwrap(item.element)
              return yield* Messaging.process(
                {
                  system,
                  destination: options.name,
                  operationName: "take",
                  messageId: item.id,
                  parent: Propagation.extract(headers),
                  attributes: { [Semconv.ATTR_MESSAGING_DELIVERY_ATTEMPT]: item.attempts + 1 }
                },
                decodeUnknown(element).pipe(
                  Effect.flatMap((value) => f(value, { id: item.id, attempts: item.attempts })),
                  restore
                ),
                // Closing the store's scope is the settlement: complete, retry or fail the item.
                (exit) => Scope.close(scope, exit)
              )
            })
          )
      })
    }
  })
})
