// Redis down during KV calls, through a TCP proxy in front of the shared Redis (which is never
// stopped): typed errors, counted and on Error spans, and after recovery nothing written before
// the outage is lost.
import { TcpProxy, TestTelemetry } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { KvTelemetry } from "../src/index.js"
import * as RedisKeyValueStore from "../src/RedisKeyValueStore.js"
import { redisUrl, unavailable, uniquePrefix } from "./redis.js"

const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.retry(effect, Schedule.spaced("50 millis").pipe(Schedule.upTo("10 seconds")))

const errors = (operation: string, errorType: string) =>
  TestTelemetry.metricValue("kv.operations", {
    "kv.namespace": "faults",
    "kv.operation": operation,
    "kv.result": "error",
    "error.type": errorType
  }).pipe(Effect.orElseSucceed(() => 0))

describe.skipIf(unavailable !== undefined)("Redis down during KV calls (real Redis behind a TcpProxy)", () => {
  it.scopedLive("calls fail with a SystemError counted as kv.result=error; after recovery every key written before reads back", () =>
    Effect.gen(function*() {
      const proxy = yield* TcpProxy.make({ target: TcpProxy.targetOf(redisUrl) })
      const store = KvTelemetry.make(
        yield* RedisKeyValueStore.make({
          url: proxy.urlFor(redisUrl),
          prefix: uniquePrefix("faults"),
          // Fail calls at once while disconnected (no offline queue, no per-request retry) and
          // reconnect quickly, so the outage is visible and the recovery fast.
          redisOptions: { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 }
        }),
        { namespace: "faults", spans: true }
      )
      yield* Effect.addFinalizer(() => Effect.ignore(store.clear))
      const written = Array.from({ length: 50 }, (_, i) => [`k${i}`, `value-${i}`] as const)
      for (const [key, value] of written) yield* store.set(key, value)
      expect(proxy.connections()).toBe(1)

      yield* proxy.down
      const getError = yield* store.get("k1").pipe(Effect.flip)
      expect(getError._tag).toBe("SystemError")
      expect(getError.message).toMatch(/Redis: /)
      const setError = yield* store.set("during-outage", "x").pipe(Effect.flip)
      expect(setError._tag).toBe("SystemError")
      expect(yield* errors("get", "Unknown")).toBe(1)
      expect(yield* errors("set", "Unknown")).toBe(1)
      const span = yield* TestTelemetry.spanNamed("get faults")
      expect(TestTelemetry.statusOf(span)).toBe("error")
      // The span names the failure as the metric does: the SystemError's reason.
      expect(span.attributes["error.type"]).toBe("Unknown")

      yield* proxy.up
      // The client reconnects by itself; until it has, calls keep failing with the same error.
      yield* eventually(store.get("k0"))
      expect(proxy.connections()).toBe(1)
      for (const [key, value] of written) expect(yield* store.get(key)).toEqual(Option.some(value))
      // A call that failed did nothing: there was no connection to carry it.
      expect(yield* store.has("during-outage")).toBe(false)
      expect(yield* store.size).toBe(written.length)
      const ok = yield* TestTelemetry.metricValue("kv.operations", {
        "kv.namespace": "faults",
        "kv.operation": "get",
        "kv.result": "ok"
      })
      expect(ok).toBeGreaterThanOrEqual(written.length + 1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("a connection cut under a client is a failed call or a transparent reconnect, never a hang or a lost key", () =>
    Effect.gen(function*() {
      const proxy = yield* TcpProxy.make({ target: TcpProxy.targetOf(redisUrl) })
      const store = KvTelemetry.make(
        yield* RedisKeyValueStore.make({
          url: proxy.urlFor(redisUrl),
          prefix: uniquePrefix("cut"),
          redisOptions: { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 }
        }),
        { namespace: "faults" }
      )
      yield* Effect.addFinalizer(() => Effect.ignore(store.clear))
      for (let i = 0; i < 20; i++) yield* store.set(`k${i}`, String(i))
      yield* proxy.cut
      // Calls made while the client notices the reset and reconnects either fail (typed) or succeed.
      const outcomes = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => Effect.either(store.get(`k${i}`)),
        { concurrency: "unbounded" }
      )
      for (const outcome of outcomes) {
        if (outcome._tag === "Left") expect(outcome.left._tag).toBe("SystemError")
      }
      const failed = outcomes.filter((o) => o._tag === "Left").length
      expect(yield* errors("get", "Unknown")).toBe(failed)
      yield* eventually(store.get("k0"))
      for (let i = 0; i < 20; i++) expect(yield* store.get(`k${i}`)).toEqual(Option.some(String(i)))
    }).pipe(Effect.provide(TestTelemetry.layer())))
})
