/**
 * A `KeyValueStore` on Redis (ioredis): every key under a prefix, `clear` and `size` scoped
 * to that prefix with SCAN, binary values kept as bytes. Instrument it like any other store,
 * with `KvTelemetry.layer`.
 *
 * @example
 * ```ts
 * import { KvTelemetry, RedisKeyValueStore } from "@effect-telemetry/kv"
 * import { Config, Layer } from "effect"
 *
 * const Store = KvTelemetry.layerWith({ namespace: "sessions" }).pipe(
 *   Layer.provide(RedisKeyValueStore.layer({ url: "redis://127.0.0.1:6379", prefix: "sessions:" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import { Redaction } from "@effect-telemetry/core"
import * as PlatformError from "@effect/platform/Error"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
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

const validate = (options: Options): string | undefined => {
  if (typeof options.prefix !== "string" || options.prefix === "") {
    return `prefix must be a non-empty string (clear and size are scoped to it), got ${JSON.stringify(options.prefix)}`
  }
  const clientPrefix = "client" in options
    ? options.client.options.keyPrefix
    : options.redisOptions?.keyPrefix
  if (clientPrefix !== undefined && clientPrefix !== "") {
    return "an ioredis keyPrefix is not applied to SCAN patterns; use the store's prefix instead"
  }
  return undefined
}

/**
 * Builds the store. Fails with a `BadArgument` on a bad prefix and a `SystemError` when a
 * `url` cannot be reached (credentials redacted in the message).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options: Options
): Effect.Effect<KeyValueStore.KeyValueStore, PlatformError.PlatformError, Scope.Scope> =>
  Effect.gen(function*() {
    const invalid = validate(options)
    if (invalid !== undefined) {
      return yield* Effect.fail(
        new PlatformError.BadArgument({ module: "KeyValueStore", method: "RedisKeyValueStore.make", description: invalid })
      )
    }
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
export const layer = (options: Options): Layer.Layer<KeyValueStore.KeyValueStore, PlatformError.PlatformError> =>
  Layer.scoped(KeyValueStore.KeyValueStore, make(options))
