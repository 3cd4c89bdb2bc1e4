import { TelemetryOptionsError } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as FileSystem from "@effect/platform/FileSystem"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import { describe, expect, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { KvTelemetry } from "../src/index.js"
import * as RedisKeyValueStore from "../src/RedisKeyValueStore.js"
import { redisUrl, unavailable as redisUnavailable, uniquePrefix } from "./redis.js"

interface Backend {
  readonly name: string
  readonly skip: boolean
  /** The uninstrumented store. */
  readonly layer: () => Layer.Layer<KeyValueStore.KeyValueStore, unknown>
}

const backends: ReadonlyArray<Backend> = [
  { name: "memory", skip: false, layer: () => KeyValueStore.layerMemory },
  {
    name: "file system",
    skip: false,
    layer: () =>
      Layer.unwrapScoped(
        Effect.map(FileSystem.FileSystem.pipe(Effect.flatMap((fs) => fs.makeTempDirectoryScoped())), (dir) =>
          KeyValueStore.layerFileSystem(dir))
      ).pipe(Layer.provide(NodeContext.layer))
  },
  {
    name: "redis",
    skip: redisUnavailable !== undefined,
    layer: () => RedisKeyValueStore.layer({ url: redisUrl, prefix: uniquePrefix("table") })
  }
]

const instrumented = (backend: Backend, options: KvTelemetry.Options) =>
  Layer.mergeAll(KvTelemetry.layer(options).pipe(Layer.provide(backend.layer())), TestTelemetry.layer())

const count = (namespace: string, operation: string, result: string, extra: Record<string, string> = {}) =>
  TestTelemetry.metricValue("kv.operations", {
    "kv.namespace": namespace,
    "kv.operation": operation,
    "kv.result": result,
    ...extra
  })

const durationCount = (namespace: string, operation: string, result: string) =>
  Effect.map(
    TestTelemetry.metricPoint("kv.operation.duration", {
      "kv.namespace": namespace,
      "kv.operation": operation,
      "kv.result": result
    }),
    (p) => (p.value as { count: number }).count
  )

const total = Effect.map(
  TestTelemetry.metricData("kv.operations"),
  (data) => (data?.dataPoints ?? []).reduce((sum, p) => sum + (p.value as number), 0)
)

for (const backend of backends) {
  describe.skipIf(backend.skip)(`KvTelemetry on the ${backend.name} store`, () => {
    it.scopedLive("every operation is counted once with its result, and no span is made by default", () =>
      Effect.gen(function*() {
        const store = yield* KeyValueStore.KeyValueStore
        yield* store.set("a", "1")
        expect(yield* store.get("a")).toEqual(Option.some("1"))
        expect(yield* store.get("missing")).toEqual(Option.none())
        expect(yield* store.getUint8Array("missing")).toEqual(Option.none())
        expect(yield* store.has("a")).toBe(true)
        expect(yield* store.has("missing")).toBe(false)
        expect(yield* store.modify("a", (v) => v + "1")).toEqual(Option.some("11"))
        expect(yield* store.modify("missing", (v) => v + "1")).toEqual(Option.none())
        expect(yield* store.size).toBe(1)
        expect(yield* store.isEmpty).toBe(false)
        yield* store.remove("a")
        yield* store.clear

        const ns = "sessions"
        expect(yield* count(ns, "set", "ok")).toBe(1)
        expect(yield* count(ns, "get", "ok")).toBe(1)
        expect(yield* count(ns, "get", "not_found")).toBe(2)
        expect(yield* count(ns, "has", "ok")).toBe(2)
        expect(yield* count(ns, "modify", "ok")).toBe(1)
        expect(yield* count(ns, "modify", "not_found")).toBe(1)
        expect(yield* count(ns, "size", "ok")).toBe(2)
        expect(yield* count(ns, "remove", "ok")).toBe(1)
        expect(yield* count(ns, "clear", "ok")).toBe(1)
        expect(yield* total).toBe(12)
        expect(yield* durationCount(ns, "get", "not_found")).toBe(2)
        expect(
          yield* TestTelemetry.prometheusValue("kv_operations_total", {
            kv_namespace: ns,
            kv_operation: "get",
            kv_result: "not_found"
          })
        ).toBe(2)
        expect(yield* TestTelemetry.spans).toEqual([])
      }).pipe(Effect.provide(instrumented(backend, { namespace: "sessions" }))))

    it.scopedLive("a SchemaStore counts each operation once, and a value that does not decode is an error", () =>
      Effect.gen(function*() {
        const store = yield* KeyValueStore.KeyValueStore
        const users = store.forSchema(Schema.Struct({ n: Schema.Number }))
        yield* users.set("u", { n: 1 })
        expect(yield* users.get("u")).toEqual(Option.some({ n: 1 }))
        expect(yield* users.modify("u", ({ n }) => ({ n: n + 1 }))).toEqual(Option.some({ n: 2 }))
        expect(yield* users.get("nobody")).toEqual(Option.none())
        yield* store.set("broken", "not json")
        const error = yield* users.get("broken").pipe(Effect.flip)
        expect(error._tag).toBe("ParseError")
        yield* store.clear

        expect(yield* count("default", "set", "ok")).toBe(2)
        expect(yield* count("default", "get", "ok")).toBe(1)
        expect(yield* count("default", "get", "not_found")).toBe(1)
        expect(yield* count("default", "modify", "ok")).toBe(1)
        expect(yield* count("default", "get", "error", { "error.type": "ParseError" })).toBe(1)
        expect(yield* count("default", "clear", "ok")).toBe(1)
        expect(yield* total).toBe(7)
      }).pipe(Effect.provide(instrumented(backend, {}))))

    it.scopedLive("with spans on, each operation is one span in the caller's trace", () =>
      Effect.gen(function*() {
        const store = yield* KeyValueStore.KeyValueStore
        yield* Effect.gen(function*() {
          yield* store.set("k", "v")
          yield* store.get("k")
          yield* store.clear
        }).pipe(Effect.withSpan("caller"))
        const caller = yield* TestTelemetry.spanNamed("caller")
        const children = yield* TestTelemetry.childrenOf(caller)
        expect(children.map((s) => s.name)).toEqual(["set cache", "get cache", "clear cache"])
        for (const span of children) {
          expect(TestTelemetry.kindOf(span)).toBe("internal")
          expect(span.attributes["kv.namespace"]).toBe("cache")
          expect(TestTelemetry.traceId(span)).toBe(TestTelemetry.traceId(caller))
        }
        expect(children[1]!.attributes["kv.operation"]).toBe("get")
        // Values and keys stay out of spans.
        expect(JSON.stringify(children.map((s) => s.attributes))).not.toMatch(/"v"|"k"/)
      }).pipe(Effect.provide(instrumented(backend, { namespace: "cache", spans: true }))))
  })
}

describe("KvTelemetry on a failing backend", () => {
  it.scopedLive("a file system store whose directory is gone counts set as error with the system error's reason", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = `${yield* fs.makeTempDirectoryScoped()}/store`
      const inner = yield* Effect.provide(KeyValueStore.KeyValueStore, KeyValueStore.layerFileSystem(dir))
      const store = KvTelemetry.make(inner, { namespace: "files", spans: true })
      yield* fs.remove(dir, { recursive: true })
      const error = yield* store.set("k", "v").pipe(Effect.flip)
      expect(error._tag).toBe("SystemError")
      expect(yield* count("files", "set", "error", { "error.type": "NotFound" })).toBe(1)
      const span = yield* TestTelemetry.spanNamed("set files")
      expect(TestTelemetry.statusOf(span)).toBe("error")
      expect(span.attributes["error.type"]).toBe("NotFound")
    }).pipe(Effect.provide(Layer.mergeAll(NodeContext.layer, TestTelemetry.layer()))))
})

describe("KvTelemetry options", () => {
  it("every entry point is a function, also with every option left out", () => {
    for (const entry of [KvTelemetry.layer, KvTelemetry.layerConfig, KvTelemetry.make]) {
      expect(typeof entry).toBe("function")
    }
  })

  it.effect("a blank namespace or a non-boolean spans fails the layer with the TelemetryOptionsError naming it", () =>
    Effect.gen(function*() {
      const failure = (options: KvTelemetry.Options) =>
        Layer.build(KvTelemetry.layer(options).pipe(Layer.provide(KeyValueStore.layerMemory))).pipe(
          Effect.scoped,
          Effect.flip
        )
      const blank = yield* failure({ namespace: "" })
      expect(blank).toBeInstanceOf(TelemetryOptionsError.TelemetryOptionsError)
      expect(blank.message).toBe(`KvTelemetry: option namespace must be a non-empty string, got ""`)
      expect((yield* failure({ spans: 1 as unknown as boolean })).message).toBe(
        "KvTelemetry: option spans must be a boolean, got 1"
      )
      const fromConfig = yield* Layer.build(
        KvTelemetry.layerConfig({ namespace: Config.succeed(" ") }).pipe(Layer.provide(KeyValueStore.layerMemory))
      ).pipe(Effect.scoped, Effect.flip)
      expect(fromConfig).toBeInstanceOf(TelemetryOptionsError.TelemetryOptionsError)
    }))

  it("make throws the same error", () => {
    expect(() => KvTelemetry.make(KeyValueStore.makeStringOnly({} as any), { namespace: "" })).toThrow(
      TelemetryOptionsError.TelemetryOptionsError
    )
  })
})
