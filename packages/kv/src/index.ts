/**
 * The package index holds what needs no backend client. The Redis store is the subpath
 * `@effect-telemetry/kv/RedisKeyValueStore` (as Effect's `@effect/experimental/Persistence/Redis`):
 * `ioredis` is an optional peer, loaded only by apps that import that module.
 *
 * @since 0.1.0
 */

/** The instrumented KeyValueStore layer and the `kv.*` metrics. @since 0.1.0 */
export * as KvTelemetry from "./KvTelemetry.js"
