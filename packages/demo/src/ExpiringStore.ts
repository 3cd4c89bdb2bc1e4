/**
 * What the demo keeps in its KeyValueStore (the order cache, the audit records) expires: a
 * `KeyValueStore` in context is wrapped so every key written lives at most `timeToLive`, and
 * at most `capacity` keys written by this process are kept (the oldest go first). A store that
 * only grows would make a service that runs for weeks grow with every order.
 *
 * One lifetime for every key makes the expiry order the write order, so the bookkeeping is one
 * insertion-ordered Map (key → deadline), swept from its head. The wrapper sits beneath the
 * telemetry layer: the sweeps' removals are not requests and make no spans.
 *
 * @since 0.1.0
 */
import type * as PlatformError from "@effect/platform/Error"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"

/** @since 0.1.0 @category models */
export interface Options {
  /** How long a written key lives. */
  readonly timeToLive: Duration.DurationInput
  /** Most keys kept; writing one more removes the oldest. */
  readonly capacity: number
}

/**
 * Wraps `store`. Keys this process did not write (a Redis store's keys from an earlier run)
 * are read as they are; `remove` and `clear` forget the bookkeeping too.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (store: KeyValueStore.KeyValueStore, options: Options) =>
  Effect.gen(function*() {
    const ttl = Duration.toMillis(options.timeToLive)
    const clock = yield* Effect.clock
    const deadlines = new Map<string, number>()
    const drop = (key: string) => {
      deadlines.delete(key)
      return Effect.ignore(store.remove(key))
    }
    const expired = (key: string) => {
      const deadline = deadlines.get(key)
      return deadline !== undefined && deadline <= clock.unsafeCurrentTimeMillis()
    }
    // Removes every expired key, and the oldest beyond capacity.
    const sweep = Effect.suspend(() => {
      const now = clock.unsafeCurrentTimeMillis()
      const doomed: Array<string> = []
      for (const [key, deadline] of deadlines) {
        if (deadline > now && deadlines.size - doomed.length <= options.capacity) break
        doomed.push(key)
      }
      for (const key of doomed) deadlines.delete(key)
      return Effect.forEach(doomed, (key) => Effect.ignore(store.remove(key)), { discard: true })
    })
    yield* sweep.pipe(
      Effect.repeat(Schedule.spaced(Duration.millis(Math.max(100, Math.min(ttl / 4, 10_000))))),
      Effect.forkScoped
    )
    const read = <A>(key: string, get: Effect.Effect<Option.Option<A>, PlatformError.PlatformError>) =>
      Effect.suspend(() => expired(key) ? Effect.as(drop(key), Option.none<A>()) : get)
    return KeyValueStore.make({
      get: (key) => read(key, store.get(key)),
      getUint8Array: (key) => read(key, store.getUint8Array(key)),
      set: (key, value) =>
        Effect.zipRight(
          store.set(key, value),
          Effect.suspend(() => {
            // Re-inserted so the Map stays in deadline order.
            deadlines.delete(key)
            deadlines.set(key, clock.unsafeCurrentTimeMillis() + ttl)
            return deadlines.size > options.capacity ? sweep : Effect.void
          })
        ),
      remove: (key) => Effect.zipRight(store.remove(key), Effect.sync(() => deadlines.delete(key))),
      clear: Effect.zipRight(store.clear, Effect.sync(() => deadlines.clear())),
      size: store.size
    })
  })

/**
 * Replaces the `KeyValueStore` in context with the expiring one; the sweeper stops with the
 * layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<KeyValueStore.KeyValueStore, never, KeyValueStore.KeyValueStore> =>
  Layer.scoped(
    KeyValueStore.KeyValueStore,
    Effect.flatMap(KeyValueStore.KeyValueStore, (store) => make(store, options))
  )
