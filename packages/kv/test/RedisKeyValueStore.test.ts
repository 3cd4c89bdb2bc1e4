import { TestTelemetry } from "@effect-telemetry/testing"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import { describe, expect, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { Redis } from "ioredis"
import { KvTelemetry } from "../src/index.js"
import * as RedisKeyValueStore from "../src/RedisKeyValueStore.js"
import { redisUrl, unavailable, uniquePrefix } from "./redis.js"

/** A client the test owns, to look at Redis behind the store's back. */
const rawClient = Effect.acquireRelease(
  Effect.promise(async () => {
    const client = new Redis(redisUrl, { lazyConnect: true })
    await client.connect()
    return client
  }),
  (client) => Effect.sync(() => client.disconnect())
)

describe.skipIf(unavailable !== undefined)("RedisKeyValueStore (real Redis)", () => {
  it.scopedLive("clear and size see only the store's prefix; keys outside it are untouched", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient
      const prefix = uniquePrefix("scope")
      const neighbour = `${prefix.slice(0, -1)}-neighbour:x`
      yield* Effect.promise(() => raw.set(neighbour, "keep"))
      yield* Effect.addFinalizer(() => Effect.promise(() => raw.del(neighbour)))
      const store = yield* RedisKeyValueStore.make({ url: redisUrl, prefix })
      for (let i = 0; i < 1200; i++) yield* store.set(`k${i}`, String(i))
      expect(yield* Effect.promise(() => raw.get(`${prefix}k7`))).toBe("7")
      expect(yield* store.size).toBe(1200)
      yield* store.clear
      expect(yield* store.size).toBe(0)
      expect(yield* store.isEmpty).toBe(true)
      expect(yield* Effect.promise(() => raw.get(neighbour))).toBe("keep")
    }))

  it.scopedLive("a prefix with glob characters matches literally", () =>
    Effect.gen(function*() {
      const raw = yield* rawClient
      const base = uniquePrefix("glob")
      const other = `${base}ab:x`
      yield* Effect.promise(() => raw.set(other, "keep"))
      yield* Effect.addFinalizer(() => Effect.promise(() => raw.del(other)))
      // Unescaped, `a*` would match `ab:x` as well.
      const store = yield* RedisKeyValueStore.make({ url: redisUrl, prefix: `${base}a*[?]\\` })
      yield* store.set("one", "1")
      expect(yield* store.size).toBe(1)
      yield* store.clear
      expect(yield* Effect.promise(() => raw.get(other))).toBe("keep")
    }))

  it.scopedLive("get, getUint8Array, has, modify and remove behave like the other backends", () =>
    Effect.gen(function*() {
      const store = yield* RedisKeyValueStore.make({ url: redisUrl, prefix: uniquePrefix("ops") })
      const bytes = new Uint8Array([0, 1, 2, 254, 255])
      yield* store.set("bin", bytes)
      expect(yield* store.getUint8Array("bin")).toEqual(Option.some(bytes))
      expect(yield* store.modifyUint8Array("bin", (b) => b.map((x) => 255 - x))).toEqual(
        Option.some(new Uint8Array([255, 254, 253, 1, 0]))
      )
      yield* store.set("s", "héllo")
      expect(yield* store.get("s")).toEqual(Option.some("héllo"))
      expect(yield* store.has("s")).toBe(true)
      expect(yield* store.modify("s", (v) => v.toUpperCase())).toEqual(Option.some("HÉLLO"))
      expect(yield* store.modify("absent", (v) => v)).toEqual(Option.none())
      expect(yield* store.has("absent")).toBe(false)
      yield* store.remove("s")
      expect(yield* store.get("s")).toEqual(Option.none())
      yield* store.clear
    }))

  it.scopedLive("a client that fails counts as kv.result=error on the instrumented store", () =>
    Effect.gen(function*() {
      const client = new Redis(redisUrl, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
      yield* Effect.promise(() => client.connect())
      const store = KvTelemetry.make(
        yield* RedisKeyValueStore.make({ client, prefix: uniquePrefix("fail") }),
        { namespace: "redis" }
      )
      yield* store.set("k", "v")
      client.disconnect()
      const error = yield* store.get("k").pipe(Effect.flip)
      expect(error._tag).toBe("SystemError")
      expect(error.message).toMatch(/Redis: /)
      expect(
        yield* TestTelemetry.metricValue("kv.operations", {
          "kv.namespace": "redis",
          "kv.operation": "get",
          "kv.result": "error",
          "error.type": "Unknown"
        })
      ).toBe(1)
      expect(
        yield* TestTelemetry.metricValue("kv.operations", {
          "kv.namespace": "redis",
          "kv.operation": "set",
          "kv.result": "ok"
        })
      ).toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive("the store as a layer is what KvTelemetry wraps", () =>
    Effect.gen(function*() {
      const store = yield* KeyValueStore.KeyValueStore
      yield* store.set("x", "1")
      yield* store.clear
      expect(
        yield* TestTelemetry.metricValue("kv.operations", {
          "kv.namespace": "default",
          "kv.operation": "set",
          "kv.result": "ok"
        })
      ).toBe(1)
    }).pipe(
      Effect.provide(
        KvTelemetry.layer().pipe(
          Layer.provide(RedisKeyValueStore.layer({ url: redisUrl, prefix: uniquePrefix("layer") })),
          Layer.merge(TestTelemetry.layer())
        )
      )
    ))
})

describe("RedisKeyValueStore bad input", () => {
  it.scoped("an empty prefix or an ioredis keyPrefix is refused with a TelemetryOptionsError naming it", () =>
    Effect.gen(function*() {
      const error = yield* RedisKeyValueStore.make({ url: redisUrl, prefix: "" }).pipe(Effect.flip)
      expect(error._tag).toBe("TelemetryOptionsError")
      expect(error.message).toBe(
        `RedisKeyValueStore: option prefix must be a non-empty string (clear and size are scoped to it), got ""`
      )
      const keyPrefix = yield* RedisKeyValueStore.make({
        url: redisUrl,
        prefix: "p:",
        redisOptions: { keyPrefix: "x:" }
      })
        .pipe(Effect.flip)
      expect(keyPrefix.message).toMatch(/^RedisKeyValueStore: option redisOptions.keyPrefix must be unset.*got "x:"$/)
    }))

  it.scoped.skipIf(unavailable !== undefined)(
    "layerConfig reads the url and prefix from Effect Config",
    () =>
      Effect.gen(function*() {
        const prefix = uniquePrefix("config")
        const context = yield* Layer.build(
          RedisKeyValueStore.layerConfig({ url: Config.redacted("REDIS_URL"), prefix: Config.succeed(prefix) })
        ).pipe(Effect.withConfigProvider(ConfigProvider.fromJson({ REDIS_URL: redisUrl })))
        const store = Context.get(context, KeyValueStore.KeyValueStore)
        yield* store.set("k", "v")
        expect(yield* store.get("k")).toEqual(Option.some("v"))
        yield* store.clear
      })
  )

  it.scopedLive("an unreachable server fails with a SystemError whose message has no password", () =>
    Effect.gen(function*() {
      const error = yield* RedisKeyValueStore.make({
        url: "redis://user:hunter2-secret@127.0.0.1:1",
        prefix: "p:",
        redisOptions: { retryStrategy: () => null, maxRetriesPerRequest: 0, connectTimeout: 2000 }
      }).pipe(Effect.flip)
      expect(error._tag).toBe("SystemError")
      expect(error.message).toMatch(/127\.0\.0\.1:1/)
      expect(error.message).not.toContain("hunter2-secret")
    }))
})
