/**
 * A `KeyValueStore` on Redis (ioredis): every key under a prefix, `clear` and `size` scoped
 * to that prefix with SCAN, binary values kept as bytes. Instrument it like any other store,
 * with `KvTelemetry.layer()`.
 *
 * @example
 * ```ts
 * import { KvTelemetry } from "@effect-telemetry/kv"
 * import * as RedisKeyValueStore from "@effect-telemetry/kv/RedisKeyValueStore"
 * import { Config, Layer } from "effect"
 *
 * const Store = KvTelemetry.layer({ namespace: "sessions" }).pipe(
 *   Layer.provide(RedisKeyValueStore.layer({ url: "redis://127.0.0.1:6379", prefix: "sessions:" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Redaction, TelemetryOptionsError } from "@effect-telemetry/core"
import type * as PlatformError from "@effect/platform/Error"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import { Redis } from "ioredis"
import type { RedisOptions } from "ioredis"
import * as internal from "./internal/redis.js"

/** @since 0.1.0 @category models */
export type Options =
  & {
    /** Prepended to every key; `clear` and `size` only see keys under it. Required, non-empty. */
    readonly prefix: string
  }
  & (
    | {
      /** `redis://[user:password@]host:port[/db]`; the store connects, and disconnects with its scope. */
      readonly url: string | Redacted.Redacted<string>
      /** Passed to ioredis (`keyPrefix` is refused: use `prefix`). */
      readonly redisOptions?: RedisOptions | undefined
    }
    | {
      /** A client you own; the store neither connects nor closes it. */
      readonly client: Redis
    }
  )

const validate = (options: Options): void => {
  if (typeof options.prefix !== "string" || options.prefix === "") {
    throw new TelemetryOptionsError.TelemetryOptionsError({
      surface: "RedisKeyValueStore",
      option: "prefix",
      expected: "a non-empty string (clear and size are scoped to it)",
      value: options.prefix
    })
  }
  const [option, clientPrefix] = "client" in options
    ? ["client.options.keyPrefix", options.client.options.keyPrefix]
    : ["redisOptions.keyPrefix", options.redisOptions?.keyPrefix]
  if (clientPrefix !== undefined && clientPrefix !== "") {
    throw new TelemetryOptionsError.TelemetryOptionsError({
      surface: "RedisKeyValueStore",
      option,
      expected: "unset (ioredis does not apply it to SCAN patterns; use prefix)",
      value: clientPrefix
    })
  }
}

/**
 * Builds the store. Fails with a `TelemetryOptionsError` on an empty prefix or an ioredis
 * `keyPrefix`, and a `SystemError` when a `url` cannot be reached (credentials redacted in
 * the message).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<
  KeyValueStore.KeyValueStore,
  PlatformError.PlatformError | TelemetryOptionsError.TelemetryOptionsError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    yield* TelemetryOptionsError.attempt(() => validate(options))
    if ("client" in options) return internal.make(options.client, options.prefix)
    const url = Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = new Redis(url, { ...options.redisOptions, lazyConnect: true })
        // Connection errors reach the caller as failed operations (kv.result=error); without a
        // listener ioredis would also print each one as unhandled.
        client.on("error", () => {})
        return client
      }),
      (client) =>
        Effect.promise(() => client.quit().then(() => undefined, () => client.disconnect())).pipe(
          Effect.timeoutOption("2 seconds"),
          Effect.ensuring(Effect.sync(() => client.disconnect()))
        )
    )
    yield* Effect.tryPromise({
      try: () => client.connect(),
      catch: (cause) => internal.systemError(`connect ${Redaction.credentialsInText(url)}`, cause)
    })
    return internal.make(client, options.prefix)
  })

/**
 * The store as the `KeyValueStore` service.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<
  KeyValueStore.KeyValueStore,
  PlatformError.PlatformError | TelemetryOptionsError.TelemetryOptionsError
> => Layer.scoped(KeyValueStore.KeyValueStore, make(options))

/**
 * {@link layer} connecting to a `url`, read from Effect `Config`.
 *
 * @example
 * ```ts
 * RedisKeyValueStore.layerConfig({ url: Config.redacted("REDIS_URL"), prefix: Config.succeed("sessions:") })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  config: Config.Config.Wrap<{ readonly prefix: string; readonly url: string | Redacted.Redacted<string> }>
): Layer.Layer<
  KeyValueStore.KeyValueStore,
  PlatformError.PlatformError | TelemetryOptionsError.TelemetryOptionsError | ConfigError.ConfigError
> => Layer.scoped(KeyValueStore.KeyValueStore, Effect.flatMap(Config.unwrap(config), make))
