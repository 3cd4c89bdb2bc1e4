/**
 * A KeyValueStore on Redis through ioredis. Every key lives under the store's prefix, and
 * `clear`/`size` walk the prefix with SCAN (never KEYS, which blocks the server), so a store
 * shares a database with anything else safely.
 */
import * as PlatformError from "@effect/platform/Error"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { Redis } from "ioredis"

const SCAN_COUNT = 500

/** @internal */
export const systemError = (method: string, cause: unknown): PlatformError.SystemError =>
  new PlatformError.SystemError({
    reason: /timed? ?out|ETIMEDOUT/i.test(String((cause as Error)?.message ?? cause)) ? "TimedOut" : "Unknown",
    module: "KeyValueStore",
    method,
    description: `Redis: ${String((cause as Error)?.message ?? cause)}`,
    cause
  })

const call = <A>(method: string, f: () => Promise<A>): Effect.Effect<A, PlatformError.PlatformError> =>
  Effect.tryPromise({ try: f, catch: (cause) => systemError(method, cause) })

/** SCAN MATCH treats `*?[]\` as glob syntax; a prefix containing them must match literally. */
const globEscape = (prefix: string) => prefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)

const toBuffer = (value: Uint8Array) => Buffer.from(value.buffer, value.byteOffset, value.byteLength)

/** @internal */
export const make = (client: Redis, prefix: string): KeyValueStore.KeyValueStore => {
  const k = (key: string) => `${prefix}${key}`
  const pattern = `${globEscape(prefix)}*`

  // Walks the prefix with SCAN; `f` gets each batch of (full) keys.
  const scan = (method: string, f: (keys: Array<string>) => Promise<unknown>) =>
    call(method, async () => {
      let cursor = "0"
      do {
        const [next, keys] = await client.scan(cursor, "MATCH", pattern, "COUNT", SCAN_COUNT)
        if (keys.length > 0) await f(keys)
        cursor = next
      } while (cursor !== "0")
    })

  return KeyValueStore.make({
    get: (key) => call("get", () => client.get(k(key))).pipe(Effect.map(Option.fromNullable)),
    getUint8Array: (key) =>
      call("getUint8Array", () => client.getBuffer(k(key))).pipe(
        Effect.map((buffer) =>
          buffer === null ? Option.none() : Option.some(new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.length))
        )
      ),
    set: (key, value) =>
      call("set", () => client.set(k(key), typeof value === "string" ? value : toBuffer(value))).pipe(Effect.asVoid),
    remove: (key) => call("remove", () => client.del(k(key))).pipe(Effect.asVoid),
    has: (key) => call("has", () => client.exists(k(key))).pipe(Effect.map((n) => n > 0)),
    clear: scan("clear", (keys) => client.unlink(...keys)),
    size: Effect.suspend(() => {
      let size = 0
      return Effect.map(
        scan("size", async (keys) => {
          size += keys.length
        }),
        () => size
      )
    }),
    // Read, apply, write only if the key still exists (`XX`): a key removed meanwhile stays
    // removed. Concurrent modifies of one key are last-writer-wins, as in the other backends.
    modify: (key, f) =>
      call("modify", async () => {
        const current = await client.get(k(key))
        if (current === null) return Option.none<string>()
        const next = f(current)
        const written = await client.set(k(key), next, "XX")
        return written === null ? Option.none<string>() : Option.some(next)
      }),
    modifyUint8Array: (key, f) =>
      call("modifyUint8Array", async () => {
        const current = await client.getBuffer(k(key))
        if (current === null) return Option.none<Uint8Array>()
        const next = f(new Uint8Array(current.buffer, current.byteOffset, current.length))
        const written = await client.set(k(key), toBuffer(next), "XX")
        return written === null ? Option.none<Uint8Array>() : Option.some(next)
      })
  })
}
