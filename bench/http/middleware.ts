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
 *   node --expose-gc bench/.scratch/http-middleware.mjs run <variant> <warm-up requests> <requests>
 *   node --expose-gc --min-semi-space-size=256 --max-semi-space-size=256 \
 *     bench/.scratch/http-middleware.mjs alloc <variant> <warm-up requests> <requests>
 *
 * Prints one JSON object: per variant, the CPU µs per request of every round, and the fiber
 * operations, fiber refs held and fiber-ref sets per request (counted in a separate, untimed pass).
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
import * as FiberRef from "effect/FiberRef"
import { constTrue } from "effect/Function"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import { writeFileSync } from "node:fs"
import * as Inspector from "node:inspector"
import { PerformanceObserver } from "node:perf_hooks"
import * as V8 from "node:v8"
import * as SpanFloor from "./spanFloor.js"
import * as StandIns from "./standIns.js"

export const variants = [
  "off",
  "platform-native",
  "ours",
  "ours-unsampled",
  "off-same-refs",
  "platform-native-same-refs",
  "off-same-refs-slot",
  "off-same-refs-slot-services",
  "span-floor"
] as const
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

// Fiber refs of the bench's own: as many as ours holds beyond the refs each variant has anyway.
const standInRefs = [FiberRef.unsafeMake(0), FiberRef.unsafeMake(0)]

/**
 * The fiber refs our telemetry adds to every request fiber, without its work: a tracer installed
 * as a service (Effect's own native tracer's functions in a tracer object of its own: a service
 * equal to the default one would not be held), a logger added, and `standIns` refs of the
 * bench's own in place of the rest (the server's pre-response handler, and for the platform span
 * the platform tracer's predicate our server sets). Every FiberRefs copy the runtime makes per
 * request (each `FiberRef` set, each fork) copies every ref the fiber holds.
 */
const sameRefs = (standIns: number): Layer.Layer<never> =>
  Layer.mergeAll(
    SpanFloor.refs(),
    ...standInRefs.slice(0, standIns).map((ref) => Layer.locallyScoped(ref, 1))
  )

/** Starts one variant's server in its own runtime; the serving fiber's refs reach every request. */
const start = async (variant: Variant): Promise<Served> => {
  const ours = variant === "ours" || variant === "ours-unsampled"
  const layer = ours
    ? Telemetry.layer({ serviceName: "bench-middleware", sampler: variant === "ours" ? "always_on" : "always_off" })
    : variant === "off-same-refs"
    ? sameRefs(1)
    : variant === "off-same-refs-slot"
    ? sameRefs(0)
    : variant === "off-same-refs-slot-services"
    ? Layer.merge(sameRefs(0), StandIns.services(await StandIns.oursServices()))
    : variant === "platform-native-same-refs"
    ? sameRefs(2)
    : variant === "span-floor"
    ? SpanFloor.refs()
    : Layer.empty
  const runtime = ManagedRuntime.make(layer as Layer.Layer<never>)
  let handle: (() => void) | undefined
  const plain = inMemoryServer((h) => void (handle = h))
  const server = ours ? HttpServerTelemetry.make(plain) : plain
  // The slot variant: what any middleware in `serve`'s slot with a pre-response handler beside it
  // (where ours sits) costs the platform, with nothing in either. Its handler is the real fiber
  // ref in place of the stand-in, so it holds as many refs as the other same-refs rows.
  const serve = variant === "off-same-refs-slot" || variant === "off-same-refs-slot-services"
    ? HttpApp.withPreResponseHandler(
      server.serve(app, HttpMiddleware.make((app) => app)),
      (_request, response) => Effect.sync(() => response)
    ) as Effect.Effect<void, never, Scope.Scope>
    : variant === "span-floor"
    ? Effect.provideService(SpanFloor.serveEffect(app), HttpServer.HttpServer, server)
    : server.serve(app)
  await runtime.runPromise(
    Effect.scoped(
      variant.startsWith("off") ? Effect.locally(serve, HttpMiddleware.currentTracerDisabledWhen, constTrue) : serve
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

export interface Counts {
  /** Run-loop steps per request. */
  readonly operations: number
  /** Fiber refs the running fiber held, averaged over those steps. */
  readonly refs: number
  /** Fiber-ref writes per request, one ref or all at once (a one-ref write copies every ref the fiber holds). */
  readonly sets: number
}

/**
 * Fiber operations per request: the tracer's `context` hook runs once per operation, with the
 * fiber, whose refs it reads; fiber-ref sets are counted on the runtime fiber's own method.
 */
const countOperations = async (served: Served, n: number): Promise<Counts> => {
  const tracer = served.tracer as { context: Tracer.Tracer["context"] }
  const original = tracer.context
  let operations = 0
  let refs = 0
  let sets = 0
  // Both ways a fiber's refs are set: one ref (`FiberRef.set`, copying the others) or all of
  // them at once (what our middleware does, see packages/http/src/internal/server.ts).
  const methods = ["setFiberRef", "setFiberRefs"] as const
  let fiberPrototype: Record<(typeof methods)[number], (...args: Array<unknown>) => void> | undefined
  const originals = new Map<string, (...args: Array<unknown>) => void>()
  tracer.context = function<X>(execution: () => X, fiber: Parameters<Tracer.Tracer["context"]>[1]): X {
    operations++
    refs += (fiber as unknown as { _fiberRefs: { locals: Map<unknown, unknown> } })._fiberRefs.locals.size
    if (fiberPrototype === undefined) {
      const prototype = Object.getPrototypeOf(fiber)
      fiberPrototype = prototype
      for (const method of methods) {
        const set = prototype[method]
        originals.set(method, set)
        prototype[method] = function(this: unknown, ...args: Array<unknown>) {
          sets++
          return set.apply(this, args)
        }
      }
    }
    return original.call(served.tracer, execution, fiber) as X
  }
  try {
    await batch(served, n)
  } finally {
    tracer.context = original
    for (const [method, set] of originals) fiberPrototype![method as (typeof methods)[number]] = set
  }
  return { operations: operations / n, refs: refs / operations, sets: sets / n }
}

/**
 * Bytes allocated per request: the heap's growth over `n` requests after a full collection,
 * valid only if no collection ran meanwhile (run with a young generation large enough to hold
 * them, see the usage above); `collections` says how many did. Optimized code's escape
 * analysis applies, so what is counted is what the app's requests really put on the heap.
 */
const allocated = async (served: Served, n: number): Promise<{ bytes: number; collections: number }> => {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error("alloc needs --expose-gc")
  gc()
  let collections = 0
  const observer = new PerformanceObserver((list) => void (collections += list.getEntries().length))
  observer.observe({ entryTypes: ["gc"] })
  const before = V8.getHeapStatistics().used_heap_size
  await batch(served, n)
  const after = V8.getHeapStatistics().used_heap_size
  // Entries arrive in a later turn: let them.
  await new Promise((resolve) => setTimeout(resolve, 20))
  observer.disconnect()
  return { bytes: (after - before) / n, collections }
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
  // One variant, warmed up, then a full collection (both runs of a pair start the measured
  // requests from the same heap), then the requests: bench/http-instructions.ts counts them.
  if (process.argv[2] === "run") {
    const served = await start(process.argv[3] as Variant)
    await batch(served, Number(process.argv[4]))
    ;(globalThis as { gc?: () => void }).gc?.()
    await batch(served, Number(process.argv[5]))
    return served.dispose()
  }
  if (process.argv[2] === "alloc") {
    const served = await start(process.argv[3] as Variant)
    await batch(served, Number(process.argv[4]))
    process.stdout.write(JSON.stringify(await allocated(served, Number(process.argv[5]))) + "\n")
    return served.dispose()
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
  const operations: Record<string, Counts> = {}
  for (const variant of variants) operations[variant] = await countOperations(servers.get(variant)!, 1_000)
  for (const served of servers.values()) await served.dispose()
  process.stdout.write(JSON.stringify({ cpu, operations, services: await StandIns.oursServices() }))
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
