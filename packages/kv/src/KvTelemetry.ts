/**
 * Telemetry for `@effect/platform`'s `KeyValueStore`, on any backend: a Layer that replaces
 * the store it is given with an instrumented one. Every operation records
 * `kv.operation.duration` and `kv.operations` by `kv.namespace`, `kv.operation` and
 * `kv.result`; SchemaStores made with `forSchema` (or `KeyValueStore.layerSchema`) are
 * instrumented too. No spans by default: a cache sits on hot paths and would flood traces.
 *
 * @example
 * ```ts
 * import { KvTelemetry } from "@effect-telemetry/kv"
 * import { KeyValueStore } from "@effect/platform"
 * import { Layer } from "effect"
 *
 * // the one line: an instrumented store wherever the store was provided
 * const Store = KvTelemetry.layerWith({ namespace: "sessions" }).pipe(Layer.provide(KeyValueStore.layerMemory))
 * ```
 *
 * @since 0.1.0
 */
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as metrics from "./internal/metrics.js"
import * as internal from "./internal/store.js"

/** `kv.operation.duration{kv.namespace, kv.operation, kv.result, error.type}`: histogram, seconds. @since 0.1.0 @category metrics */
export const operationDuration = metrics.operationDuration

/** `kv.operations{kv.namespace, kv.operation, kv.result, error.type}`: counter. @since 0.1.0 @category metrics */
export const operations = metrics.operations

/** @since 0.1.0 @category models */
export interface Options {
  /** `kv.namespace` of every operation: which store this is (default `"default"`). Keep it low-cardinality. */
  readonly namespace?: string | undefined
  /** An Internal span per operation, `{kv.operation} {kv.namespace}` (default `false`). */
  readonly spans?: boolean | undefined
}

const resolve = (options: Options | undefined): internal.Options => {
  const namespace = options?.namespace ?? "default"
  if (typeof namespace !== "string" || namespace === "") {
    throw new TypeError(`KvTelemetry: namespace must be a non-empty string, got ${JSON.stringify(namespace)}`)
  }
  const spans = options?.spans ?? false
  if (typeof spans !== "boolean") {
    throw new TypeError(`KvTelemetry: spans must be a boolean, got ${JSON.stringify(spans)}`)
  }
  return { namespace, spans }
}

/**
 * Wraps a store value. Throws a `TypeError` on an empty namespace or a non-boolean `spans`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (store: KeyValueStore.KeyValueStore, options?: Options): KeyValueStore.KeyValueStore =>
  internal.make(store, resolve(options))

/**
 * Replaces the `KeyValueStore` it is given with an instrumented one, with options.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (
  options: Options
): Layer.Layer<KeyValueStore.KeyValueStore, never, KeyValueStore.KeyValueStore> => {
  const resolved = resolve(options)
  return Layer.effect(
    KeyValueStore.KeyValueStore,
    Effect.map(KeyValueStore.KeyValueStore, (store) => internal.make(store, resolved))
  )
}

/**
 * Replaces the `KeyValueStore` it is given with an instrumented one (namespace `default`, no spans).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<KeyValueStore.KeyValueStore, never, KeyValueStore.KeyValueStore> = layerWith({})

/**
 * Like {@link layerWith}, options read from Effect `Config`.
 *
 * @example
 * ```ts
 * KvTelemetry.layerConfig({ namespace: Config.succeed("cache"), spans: Config.boolean("KV_SPANS").pipe(Config.withDefault(false)) })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options>
): Layer.Layer<KeyValueStore.KeyValueStore, ConfigError.ConfigError, KeyValueStore.KeyValueStore> =>
  Layer.unwrapEffect(
    Effect.flatMap(Config.unwrap(config), (options) =>
      Effect.try({
        try: () => layerWith(options),
        catch: (error) => ConfigError.InvalidData([], String((error as Error).message ?? error))
      }))
  )
