/**
 * Collector faults below the protocol: a TCP front that hands each connection to the
 * protocol's server, holds it unread (`blackhole`), or stops listening (`refuse`), and the
 * gRPC status each injected HTTP status stands for.
 */
import * as Net from "node:net"
import type { AddressInfo } from "node:net"
import type { Behaviour } from "../OtlpReceiver.js"
import type { ReceiverState } from "./store.js"

/**
 * The listening side: a TCP server that hands connections to the protocol's server (`handoff`),
 * or holds them unread (`blackhole`), and that stops and restarts listening for `refuse`.
 *
 * @internal
 */
export class TcpFront {
  readonly tcp: Net.Server
  readonly held = new Set<Net.Socket>()
  /** Connections handed over (the protocol's server does not track them, as it never listens). */
  readonly open = new Set<Net.Socket>()
  port = 0
  private listening: Promise<void> = Promise.resolve()

  constructor(readonly state: ReceiverState, handoff: (socket: Net.Socket) => void) {
    this.tcp = Net.createServer((socket) => {
      if (state.behaviour.blackhole === true) {
        // Accepted, never read, never answered.
        socket.pause()
        this.held.add(socket)
        socket.on("close", () => this.held.delete(socket))
        socket.on("error", () => undefined)
        return
      }
      this.open.add(socket)
      socket.on("close", () => this.open.delete(socket))
      handoff(socket)
    })
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.tcp.once("error", reject)
      this.tcp.listen(this.port, "127.0.0.1", () => {
        this.tcp.off("error", reject)
        this.port = (this.tcp.address() as AddressInfo).port
        resolve()
      })
    })
  }

  dropConnections(): void {
    for (const socket of this.held) socket.destroy()
    this.held.clear()
    for (const socket of this.open) socket.destroy()
    this.open.clear()
  }

  /** Follows `refuse`: stop listening (and drop connections) or listen again on the same port. */
  apply(behaviour: Behaviour): void {
    const refuse = behaviour.refuse === true
    this.listening = this.listening.then(() => {
      if (refuse && this.tcp.listening) {
        this.tcp.close()
        this.dropConnections()
      } else if (!refuse && !this.tcp.listening && !this.state.closed) {
        return this.start().catch(() => undefined)
      }
    })
  }

  close(): Promise<void> {
    return this.listening.then(() =>
      new Promise<void>((resolve) => {
        this.dropConnections()
        if (this.tcp.listening) this.tcp.close(() => resolve())
        else resolve()
      })
    )
  }
}

/** gRPC status codes. @internal */
export const GrpcCode = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16
} as const

/**
 * The gRPC status a behaviour answers with: `grpcCode` if given, else the code its HTTP
 * `status` stands for in OTLP (503 → UNAVAILABLE, 429 → RESOURCE_EXHAUSTED, …; 2xx → OK).
 *
 * @internal
 */
export const grpcCodeOf = (behaviour: Behaviour): number => {
  if (behaviour.grpcCode !== undefined) return behaviour.grpcCode
  const status = behaviour.status ?? 200
  if (status >= 200 && status <= 299) return GrpcCode.OK
  switch (status) {
    case 400:
      return GrpcCode.INVALID_ARGUMENT
    case 401:
      return GrpcCode.UNAUTHENTICATED
    case 403:
      return GrpcCode.PERMISSION_DENIED
    case 404:
      return GrpcCode.UNIMPLEMENTED
    case 429:
      return GrpcCode.RESOURCE_EXHAUSTED
    case 502:
    case 503:
      return GrpcCode.UNAVAILABLE
    case 504:
      return GrpcCode.DEADLINE_EXCEEDED
    default:
      return GrpcCode.INTERNAL
  }
}
