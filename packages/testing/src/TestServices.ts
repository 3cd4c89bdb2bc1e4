/**
 * The real services integration tests run against: their URLs (from the environment, with the
 * local defaults), whether they answer, names no other run uses, and free ports. With
 * `CI=true` a missing service fails the suite; elsewhere its tests are skipped with the reason.
 *
 * @example
 * ```ts
 * import { TestServices } from "@effect-telemetry/testing"
 *
 * const unavailable = TestServices.required(
 *   "kv",
 *   await TestServices.probe("Redis", TestServices.redisUrl, () => new Redis(TestServices.redisUrl).ping())
 * )
 *
 * it.skipIf(unavailable !== undefined)("a get through Redis is traced", ...)
 * ```
 *
 * @since 0.1.0
 */
import { Redaction } from "@effect-telemetry/core"
import * as Net from "node:net"

/** `DATABASE_URL`, default `postgres://postgres@127.0.0.1:5432/test`. @since 0.1.0 @category urls */
export const databaseUrl: string = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test"

/** `REDIS_URL`, default `redis://127.0.0.1:6379`. @since 0.1.0 @category urls */
export const redisUrl: string = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"

/** `AMQP_URL`, default `amqp://guest:guest@127.0.0.1:5672`. @since 0.1.0 @category urls */
export const amqpUrl: string = process.env.AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672"

/**
 * Runs `check` against the service at `url`: `undefined` when it passes, else the reason, the
 * one `check` returns or `"<service> at <url> is unavailable: <error>"` when it throws, with
 * the URL's credentials redacted.
 *
 * @example
 * ```ts
 * await TestServices.probe("Postgres", TestServices.databaseUrl, async () => {
 *   const level = await walLevel()
 *   return level === "logical" ? undefined : `wal_level is ${level}`
 * })
 * ```
 *
 * @since 0.1.0
 * @category availability
 */
export const probe = async (
  service: string,
  url: string,
  check: () => PromiseLike<string | undefined | void>
): Promise<string | undefined> => {
  try {
    return (await check()) ?? undefined
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return `${service} at ${Redaction.credentialsInText(url)} is unavailable: ${message}`
  }
}

/**
 * What the suite `suite` does with a probe's reason: nothing when there is none; with
 * `CI=true` it throws (a missing service is a failure there); elsewhere it warns that the
 * suite's tests are skipped. Returns the reason, for `it.skipIf`.
 *
 * @example
 * ```ts
 * export const unavailable = TestServices.required("sql", await TestServices.probe("Postgres", url, selectOne))
 * ```
 *
 * @since 0.1.0
 * @category availability
 */
export const required = (suite: string, reason: string | undefined): string | undefined => {
  if (reason === undefined) return undefined
  if (process.env.CI === "true") throw new Error(`${suite} tests need their services: ${reason}`)
  console.warn(`skipping ${suite} tests: ${reason}`)
  return reason
}

/**
 * A name no other test or run uses, for tables, queues and key prefixes on a shared service:
 * `label`, the process id, the time and a random part, joined by `separator`.
 *
 * @example
 * ```ts
 * TestServices.uniqueName("sqltel_orders") // "sqltel_orders_4242_mbx1k2_3f9a"
 * ```
 *
 * @since 0.1.0
 * @category names
 */
export const uniqueName = (label: string, separator: string = "_"): string =>
  [label, process.pid, Date.now().toString(36), Math.floor(Math.random() * 1e6).toString(36)].join(separator)

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now, for a server or receiver a test
 * starts (or for a collector that is down).
 *
 * @example
 * ```ts
 * const port = yield* Effect.promise(TestServices.freePort)
 * ```
 *
 * @since 0.1.0
 * @category ports
 */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = Net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as Net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })
