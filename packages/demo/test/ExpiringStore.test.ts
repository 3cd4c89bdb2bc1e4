// The demo's expiring KeyValueStore over the platform's in-memory store: what it keeps shrinks
// back as keys expire or overflow, so a long-running demo does not grow with its orders.
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as ExpiringStore from "../src/ExpiringStore.js"

// The underlying store stays reachable beside the wrapped one, to see what is really kept.
class Underlying extends Effect.Service<Underlying>()("test/Underlying", {
  effect: Effect.map(KeyValueStore.KeyValueStore, (store) => ({ store }))
}) {}

const withStore = (options: ExpiringStore.Options) => {
  const base = KeyValueStore.layerMemory
  return Layer.merge(ExpiringStore.layer(options), Underlying.Default).pipe(Layer.provide(base))
}

describe("ExpiringStore", () => {
  it.scoped("a key written is gone after its lifetime, from reads and from the underlying store", () =>
    Effect.gen(function*() {
      const kv = yield* KeyValueStore.KeyValueStore
      const { store } = yield* Underlying
      yield* kv.set("audit:1", "a")
      yield* TestClock.adjust("30 seconds")
      yield* kv.set("audit:2", "b")
      expect(yield* kv.get("audit:1")).toEqual(Option.some("a"))
      yield* TestClock.adjust("31 seconds")
      // audit:1 is past its minute, audit:2 is not; the sweep has removed the first underneath
      expect(yield* store.get("audit:1")).toEqual(Option.none())
      expect(yield* kv.get("audit:1")).toEqual(Option.none())
      expect(yield* kv.get("audit:2")).toEqual(Option.some("b"))
      yield* TestClock.adjust("1 minute")
      expect(yield* store.size).toBe(0)
    }).pipe(Effect.provide(withStore({ timeToLive: "1 minute", capacity: 100 }))))

  it.scoped("past the capacity the oldest writes go first; a rewrite makes a key the newest", () =>
    Effect.gen(function*() {
      const kv = yield* KeyValueStore.KeyValueStore
      const { store } = yield* Underlying
      for (const key of ["a", "b", "c"]) yield* kv.set(key, key)
      yield* kv.set("a", "a2")
      yield* kv.set("d", "d")
      yield* kv.set("e", "e")
      expect(yield* store.size).toBe(3)
      expect(yield* Effect.all(["a", "b", "c", "d", "e"].map((key) => kv.get(key)))).toEqual([
        Option.some("a2"),
        Option.none(),
        Option.none(),
        Option.some("d"),
        Option.some("e")
      ])
    }).pipe(Effect.provide(withStore({ timeToLive: "1 hour", capacity: 3 }))))

  it.scoped("remove and clear forget the bookkeeping: a removed key written again lives a full lifetime", () =>
    Effect.gen(function*() {
      const kv = yield* KeyValueStore.KeyValueStore
      yield* kv.set("k", "1")
      yield* TestClock.adjust("50 seconds")
      yield* kv.remove("k")
      yield* kv.set("k", "2")
      yield* TestClock.adjust("50 seconds")
      expect(yield* kv.get("k")).toEqual(Option.some("2"))
      yield* kv.clear
      expect(yield* kv.size).toBe(0)
    }).pipe(Effect.provide(withStore({ timeToLive: "1 minute", capacity: 100 }))))
})
