import { TcpProxy } from "@effect-telemetry/testing"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Net from "node:net"

/** A real echo server on loopback, closed with the scope. */
const echoServer = Effect.acquireRelease(
  Effect.async<Net.Server>((resume) => {
    const server = Net.createServer((socket) => {
      socket.on("error", () => {})
      socket.pipe(socket)
    })
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) =>
    Effect.async<void>((resume) => {
      // Connections through a proxy that is already closed end by themselves.
      server.close(() => resume(Effect.void))
    })
).pipe(Effect.map((server) => ({ server, port: (server.address() as Net.AddressInfo).port })))

/** A client connection with what it received and how it ended. */
const connect = (port: number) =>
  Effect.async<{ socket: Net.Socket; received: () => string; ended: Promise<string> }, Error>((resume) => {
    let data = ""
    let settle: (how: string) => void = () => {}
    const ended = new Promise<string>((resolve) => (settle = resolve))
    const socket = Net.connect(port, "127.0.0.1")
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => (data += chunk))
    socket.on("error", (error: NodeJS.ErrnoException) => settle(error.code ?? error.message))
    socket.on("close", () => settle("closed"))
    socket.once("connect", () => resume(Effect.succeed({ socket, received: () => data, ended })))
    socket.once("error", (error) => resume(Effect.fail(error)))
  })

const eventually = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.retry(effect, Schedule.spaced("10 millis").pipe(Schedule.upTo("5 seconds")))

const echoes = (client: { socket: Net.Socket; received: () => string }, text: string) =>
  Effect.gen(function*() {
    const before = client.received().length
    client.socket.write(text)
    yield* eventually(Effect.filterOrFail(Effect.sync(() => client.received().slice(before)), (got) => got === text))
  })

describe("TcpProxy (real loopback echo server)", () => {
  it.scopedLive("forwards both ways and counts open connections", () =>
    Effect.gen(function*() {
      const echo = yield* echoServer
      const proxy = yield* TcpProxy.make({ target: { host: "127.0.0.1", port: echo.port } })
      expect(proxy.port).not.toBe(echo.port)
      const a = yield* connect(proxy.port)
      const b = yield* connect(proxy.port)
      yield* echoes(a, "hello")
      yield* echoes(b, "x".repeat(256 * 1024))
      expect(proxy.connections()).toBe(2)
      a.socket.end()
      yield* eventually(Effect.filterOrFail(Effect.sync(proxy.connections), (n) => n === 1))
      b.socket.destroy()
    }))

  it.scopedLive("cut resets every open connection and keeps accepting new ones", () =>
    Effect.gen(function*() {
      const echo = yield* echoServer
      const proxy = yield* TcpProxy.make({ target: { host: "127.0.0.1", port: echo.port } })
      const before = yield* connect(proxy.port)
      yield* echoes(before, "one")
      yield* proxy.cut
      expect(yield* Effect.promise(() => before.ended)).toBe("ECONNRESET")
      expect(proxy.connections()).toBe(0)
      expect(proxy.isUp()).toBe(true)
      const after = yield* connect(proxy.port)
      yield* echoes(after, "two")
      after.socket.destroy()
    }))

  it.scopedLive("down resets connections and refuses new ones; up accepts again on the same port", () =>
    Effect.gen(function*() {
      const echo = yield* echoServer
      const proxy = yield* TcpProxy.make({ target: { host: "127.0.0.1", port: echo.port } })
      const open = yield* connect(proxy.port)
      yield* proxy.down
      expect(yield* Effect.promise(() => open.ended)).toBe("ECONNRESET")
      expect(proxy.isUp()).toBe(false)
      const refused = yield* connect(proxy.port).pipe(Effect.flip)
      expect((refused as NodeJS.ErrnoException).code).toBe("ECONNREFUSED")
      yield* proxy.down // idempotent
      yield* proxy.up
      yield* proxy.up
      const again = yield* connect(proxy.port)
      yield* echoes(again, "back")
      again.socket.destroy()
    }))

  it.scopedLive("a target that is not listening resets the client, like the service being down", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const echo = yield* echoServer.pipe(Scope.extend(scope))
      yield* Scope.close(scope, Exit.void)
      const proxy = yield* TcpProxy.make({ target: { host: "127.0.0.1", port: echo.port } })
      const client = yield* connect(proxy.port)
      expect(["ECONNRESET", "closed"]).toContain(yield* Effect.promise(() => client.ended))
      yield* eventually(Effect.filterOrFail(Effect.sync(proxy.connections), (n) => n === 0))
    }))

  it.scopedLive("closing the scope closes the listener and every connection", () =>
    Effect.gen(function*() {
      const echo = yield* echoServer
      const scope = yield* Scope.make()
      const proxy = yield* TcpProxy.make({ target: { host: "127.0.0.1", port: echo.port } }).pipe(Scope.extend(scope))
      const client = yield* connect(proxy.port)
      yield* Scope.close(scope, Exit.void)
      expect(yield* Effect.promise(() => client.ended)).toBe("ECONNRESET")
      expect((yield* connect(proxy.port).pipe(Effect.flip)).message).toMatch(/ECONNREFUSED/)
    }))

  it("targetOf and urlFor keep scheme, credentials and path and swap host and port", () => {
    expect(TcpProxy.targetOf("redis://127.0.0.1:6379")).toEqual({ host: "127.0.0.1", port: 6379 })
    expect(TcpProxy.targetOf("amqp://guest:guest@localhost")).toEqual({ host: "localhost", port: 5672 })
    expect(TcpProxy.targetOf("postgres://postgres@[::1]/test")).toEqual({ host: "::1", port: 5432 })
    expect(() => TcpProxy.targetOf("foo://x")).toThrow(/no default/)
  })

  it.scopedLive("urlFor points a service URL at the proxy", () =>
    Effect.gen(function*() {
      const proxy = yield* TcpProxy.make({ target: { host: "127.0.0.1", port: 1 } })
      expect(proxy.urlFor("amqp://guest:secret@127.0.0.1:5672/vhost")).toBe(
        `amqp://guest:secret@127.0.0.1:${proxy.port}/vhost`
      )
      expect(proxy.urlFor("postgres://postgres@localhost/test")).toBe(
        `postgres://postgres@127.0.0.1:${proxy.port}/test`
      )
    }))
})
