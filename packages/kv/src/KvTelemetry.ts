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
 * const Store = KvTelemetry.layer({ namespace: "sessions" }).pipe(Layer.provide(KeyValueStore.layerMemory))
 * ```
 *
 * @since 0.1.0
 */
import { Instrumentation, TelemetryOptionsError } from "@effect-telemetry/core"
import type { Signals } from "@effect-telemetry/core"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as metrics from "./internal/metrics.js"
import * as internalSignals from "./internal/signals.js"
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

const resolve = (options: Options | undefined): internal.Options => ({
  namespace: TelemetryOptionsError.nonEmptyString("KvTelemetry", "namespace", options?.namespace, "default"),
  spans: TelemetryOptionsError.boolean("KvTelemetry", "spans", options?.spans, false)
})

/**
 * Wraps a store value. Throws a `TelemetryOptionsError` on a blank namespace or a
 * non-boolean `spans`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (store: KeyValueStore.KeyValueStore, options?: Options): KeyValueStore.KeyValueStore =>
  internal.make(store, resolve(options))

/**
 * Replaces the `KeyValueStore` it is given with an instrumented one (by default namespace
 * `default`, no spans). Fails with a `TelemetryOptionsError` on a blank namespace or a
 * non-boolean `spans`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = Instrumentation.decorate(KeyValueStore.KeyValueStore, make)

/**
 * {@link layer} with options read from Effect `Config`.
 *
 * @example
 * ```ts
 * KvTelemetry.layerConfig({ namespace: Config.succeed("cache"), spans: Config.boolean("KV_SPANS").pipe(Config.withDefault(false)) })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = Instrumentation.decorateConfig(KeyValueStore.KeyValueStore, make)

/**
 * Every span and metric this surface emits, with its attributes and meaning: the declaration
 * docs/SIGNALS.md is generated from.
 *
 * @since 0.1.0
 * @category signals
 */
export const signals: Signals.Catalogue = internalSignals.signals
