/**
 * The HTTP server's per-request cost without sockets: the same router app as `server.ts`,
 * served by an in-memory `HttpServer` whose requests are `fromWeb` requests forked straight
 * into `HttpApp.toHandled`, as `NodeHttpServer` forks them. What is left is the Effect work
 * per request (the router, the platform's handling, the telemetry around it), measured in CPU
 * time and in Effect fiber operations, with none of the kernel and loopback noise of the
 * socket benchmark.
 *
 *   node bench/.scratch/http-middleware.mjs <rounds> <requests per round>
 *   node --no-turbo-inlining bench/.scratch/http-middleware.mjs profile <variant> <requests> <path>
 *
 * Prints one JSON object: per variant, the CPU µs per request of every round and the fiber
 * operations per request (counted in a separate, untimed pass).
 */
import { Telemetry } from "@effect-telemetry/core"
import { HttpServerTelemetry } from "@effect-telemetry/http"
import * as HttpApp from "@effect/platform/HttpApp"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import { constTrue } from "effect/Function"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Runtime from "effect/Runtime"
import type * as Tracer from "effect/Tracer"
import { writeFileSync } from "node:fs"
import * as Inspector from "node:inspector"

export const variants = ["off", "platform-native", "ours", "ours-unsampled"] as const
export type Variant = (typeof variants)[number]

const app = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/users/:id",
    Effect.map(HttpRouter.params, (params) => HttpServerResponse.unsafeJson({ id: params.id, name: "Ada" }))
  )
)

const web = new Request("http://127.0.0.1:3000/users/42", {
  headers: { host: "127.0.0.1:3000", "user-agent": "autocannon", accept: "*/*" }
})

let answered = 0

/** An `HttpServer` with no socket: `handle` forks one request, as NodeHttpServer does per request. */
const inMemoryServer = (ready: (handle: () => void) => void): HttpServer.HttpServer =>
  HttpServer.make({
    address: { _tag: "TcpAddress", hostname: "127.0.0.1", port: 3000 },
    serve: (httpApp, middleware) =>
      Effect.map(Effect.runtime<never>(), (runtime) => {
        const handled = HttpApp.toHandled(httpApp, () => Effect.sync(() => void answered++), middleware)
        const fork = Runtime.runFork(runtime)
        ready(() =>
          fork(
            Effect.provideService(
              handled,
              HttpServerRequest.HttpServerRequest,
              HttpServerRequest.fromWeb(web)
            ) as Effect.Effect<void>
          )
        )
      }) as any
  })

interface Served {
  readonly handle: () => void
  readonly tracer: Tracer.Tracer
  readonly dispose: () => Promise<void>
}

/** Starts one variant's server in its own runtime; the serving fiber's refs reach every request. */
const start = async (variant: Variant): Promise<Served> => {
  const telemetry = variant === "ours" || variant === "ours-unsampled"
    ? Telemetry.layer({ serviceName: "bench-middleware", sampler: variant === "ours" ? "always_on" : "always_off" })
    : Layer.empty
  const runtime = ManagedRuntime.make(telemetry as Layer.Layer<never>)
  let handle: (() => void) | undefined
  const plain = inMemoryServer((h) => void (handle = h))
  const server = telemetry === Layer.empty ? plain : HttpServerTelemetry.make(plain)
  const serve = server.serve(app)
  await runtime.runPromise(
    Effect.scoped(
      variant === "off" ? Effect.locally(serve, HttpMiddleware.currentTracerDisabledWhen, constTrue) : serve
    )
  )
  return { handle: handle!, tracer: await runtime.runPromise(Effect.tracer), dispose: () => runtime.dispose() }
}

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

/** `n` requests, 500 forked at a time (the connections a loaded server has in flight), all answered. */
const batch = async (served: Served, n: number): Promise<void> => {
  const target = answered + n
  for (let i = 0; i < n; i++) {
    served.handle()
    if (i % 500 === 499) await yieldToLoop()
  }
  while (answered < target) await yieldToLoop()
}

/** Fiber operations per request: the tracer's `context` hook runs once per operation. */
const countOperations = async (served: Served, n: number): Promise<number> => {
  const tracer = served.tracer as { context: Tracer.Tracer["context"] }
  const original = tracer.context
  let operations = 0
  tracer.context = function<X>(execution: () => X, fiber: Parameters<Tracer.Tracer["context"]>[1]): X {
    operations++
    return original.call(served.tracer, execution, fiber) as X
  }
  try {
    await batch(served, n)
  } finally {
    tracer.context = original
  }
  return operations / n
}

/**
 * `profile <variant> <requests> <path>`: one variant warmed up, then the V8 profiler on for
 * `requests` more, written to `path` (run with `--no-turbo-inlining`, see bench/lib/profile.ts).
 */
const profile = async (variant: Variant, requests: number, path: string) => {
  const served = await start(variant)
  await batch(served, 30_000)
  const session = new Inspector.Session()
  session.connect()
  await new Promise<void>((resolve) =>
    session.post("Profiler.enable", () => session.post("Profiler.start", () => resolve()))
  )
  await batch(served, requests)
  const result = await new Promise<unknown>((resolve, reject) =>
    session.post("Profiler.stop", (error, stopped) => (error ? reject(error) : resolve(stopped.profile)))
  )
  writeFileSync(path, JSON.stringify(result))
  await served.dispose()
}

const main = async () => {
  if (process.argv[2] === "profile") {
    return profile(process.argv[3] as Variant, Number(process.argv[4]), process.argv[5]!)
  }
  const rounds = Number(process.argv[2] ?? 7)
  const requests = Number(process.argv[3] ?? 20_000)
  const servers = new Map<Variant, Served>()
  for (const variant of variants) servers.set(variant, await start(variant))
  for (const served of servers.values()) await batch(served, 10_000)
  const cpu: Record<string, Array<number>> = Object.fromEntries(variants.map((v) => [v, []]))
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < variants.length; k++) {
      const variant = variants[(k + round) % variants.length]!
      const before = process.cpuUsage()
      await batch(servers.get(variant)!, requests)
      const used = process.cpuUsage(before)
      cpu[variant]!.push((used.user + used.system) / requests)
    }
  }
  const operations: Record<string, number> = {}
  for (const variant of variants) operations[variant] = await countOperations(servers.get(variant)!, 1_000)
  for (const served of servers.values()) await served.dispose()
  process.stdout.write(JSON.stringify({ cpu, operations }))
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
