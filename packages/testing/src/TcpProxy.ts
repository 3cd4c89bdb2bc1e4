/**
 * A loopback TCP proxy in front of a real service, to inject network faults without touching
 * the service itself (other tests share it): `cut` drops every open connection (a connection
 * loss), `down` drops them and refuses new ones (the service is down), `up` accepts again on
 * the same port, so a client configured with the proxy's address reconnects by itself.
 *
 * @example
 * ```ts
 * import { TcpProxy, TestServices } from "@effect-telemetry/testing"
 *
 * it.scopedLive("a call while Redis is down fails, and succeeds after it is back", () =>
 *   Effect.gen(function*() {
 *     const proxy = yield* TcpProxy.make({ target: TcpProxy.targetOf(TestServices.redisUrl) })
 *     const redis = new Redis(proxy.urlFor(TestServices.redisUrl))
 *     yield* proxy.down
 *     // ... a call fails ...
 *     yield* proxy.up
 *     // ... the client reconnects ...
 *   }))
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"

/** Where the proxy forwards to. @since 0.1.0 @category models */
export interface Target {
  readonly host: string
  readonly port: number
}

/** @since 0.1.0 @category models */
export interface Options {
  readonly target: Target
}

/**
 * A running proxy, listening on `127.0.0.1:port` until its scope closes.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpProxy {
  readonly host: string
  readonly port: number
  readonly target: Target
  /** `serviceUrl` with its host and port replaced by the proxy's (scheme, credentials, path kept). */
  readonly urlFor: (serviceUrl: string) => string
  /** Open client connections (each with its connection to the target). */
  readonly connections: () => number
  /** Whether new connections are accepted (false between `down` and `up`). */
  readonly isUp: () => boolean
  /** Resets every open connection, both sides; new connections are still accepted. */
  readonly cut: Effect.Effect<void>
  /** Resets every open connection and stops listening: connecting is refused until `up`. */
  readonly down: Effect.Effect<void>
  /** Listens again on the same port (nothing when already up). */
  readonly up: Effect.Effect<void>
}

const defaultPorts: Record<string, number> = {
  "redis:": 6379,
  "rediss:": 6379,
  "amqp:": 5672,
  "amqps:": 5671,
  "postgres:": 5432,
  "postgresql:": 5432
}

/**
 * The host and port of a service URL (`redis:`, `amqp:`, `postgres:`… with their default
 * ports when the URL has none).
 *
 * @since 0.1.0
 * @category constructors
 */
export const targetOf = (serviceUrl: string): Target => {
  const url = new URL(serviceUrl)
  const port = url.port === "" ? defaultPorts[url.protocol] : Number(url.port)
  if (port === undefined) {
    throw new TypeError(`TcpProxy: no port in ${url.protocol}//${url.host} and no default for its scheme`)
  }
  return { host: url.hostname.replace(/^\[(.*)\]$/, "$1"), port }
}

interface Pair {
  readonly client: Net.Socket
  readonly upstream: Net.Socket
}

// A reset (RST), not a graceful end: the peer sees the connection fail as it would on a network loss.
const reset = (socket: Net.Socket) => {
  if (socket.destroyed) return
  if (socket.readyState === "open" || socket.readyState === "readOnly" || socket.readyState === "writeOnly") {
    socket.resetAndDestroy()
  } else socket.destroy()
}

const listen = (server: Net.Server, port: number) =>
  Effect.async<void, Error>((resume) => {
    const onError = (error: Error) => resume(Effect.fail(error))
    server.once("error", onError)
    server.listen(port, "127.0.0.1", () => {
      server.off("error", onError)
      resume(Effect.void)
    })
  })

/**
 * Starts a proxy on an ephemeral loopback port forwarding to `target`; closing the scope
 * closes the listener and every connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<TcpProxy, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { target } = options
    const pairs = new Set<Pair>()
    const server = Net.createServer((client) => {
      const upstream = Net.connect(target.port, target.host)
      const pair: Pair = { client, upstream }
      pairs.add(pair)
      // Either side failing or ending takes the other with it, as one connection would.
      const close = () => {
        if (!pairs.delete(pair)) return
        reset(client)
        reset(upstream)
      }
      for (const socket of [client, upstream]) {
        socket.setNoDelay(true)
        socket.on("error", close)
        socket.on("close", close)
      }
      client.pipe(upstream)
      upstream.pipe(client)
    })
    let listening = false

    const cutAll = Effect.sync(() => {
      for (const pair of [...pairs]) {
        pairs.delete(pair)
        reset(pair.client)
        reset(pair.upstream)
      }
    })

    const down = Effect.zipRight(
      cutAll,
      Effect.async<void>((resume) => {
        if (!listening) return resume(Effect.void)
        listening = false
        server.close(() => resume(Effect.void))
      })
    )

    yield* listen(server, 0).pipe(Effect.orDie)
    listening = true
    const port = (server.address() as Net.AddressInfo).port
    yield* Effect.addFinalizer(() => down)

    const proxy: TcpProxy = {
      host: "127.0.0.1",
      port,
      target,
      urlFor: (serviceUrl) => {
        const url = new URL(serviceUrl)
        url.hostname = "127.0.0.1"
        url.port = String(port)
        return url.toString()
      },
      connections: () => pairs.size,
      isUp: () => listening,
      cut: cutAll,
      down,
      up: Effect.suspend(() => {
        if (listening) return Effect.void
        // The same port, so clients configured with the proxy's address find it again.
        return listen(server, port).pipe(
          Effect.tap(() => Effect.sync(() => (listening = true))),
          Effect.orDie
        )
      })
    }
    return proxy
  })
