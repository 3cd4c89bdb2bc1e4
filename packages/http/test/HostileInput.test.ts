/**
 * Hostile trace context headers sent as raw HTTP/1.1 to a real instrumented server: every
 * request is served, a header that is not a valid traceparent starts a new root trace, and
 * nothing throws.
 */
import { TestTelemetry } from "@effect-telemetry/testing"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import * as fc from "fast-check"
import * as Net from "node:net"
import { serve, serverSpan } from "./servers.js"

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
const PARENT_ID = "00f067aa0ba902b7"
const VALID = `00-${TRACE_ID}-${PARENT_ID}-01`

const router = HttpRouter.empty.pipe(HttpRouter.get("/ok", HttpServerResponse.text("ok")))

interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
}

/** One request written byte for byte (repeated and oversized headers included), `Connection: close`. */
const raw = (base: string, headerLines: ReadonlyArray<string>) =>
  Effect.async<RawResponse, Error>((resume) => {
    const port = Number(new URL(base).port)
    const socket = Net.connect(port, "127.0.0.1")
    let data = ""
    socket.setEncoding("latin1")
    socket.on("connect", () =>
      socket.write(
        [`GET /ok HTTP/1.1`, `Host: 127.0.0.1:${port}`, ...headerLines, "Connection: close", "", ""].join("\r\n")
      ))
    socket.on("data", (chunk: string) => (data += chunk))
    socket.on("error", (error) => resume(Effect.fail(error)))
    socket.on("close", () => {
      const [statusLine = "", ...lines] = data.split("\r\n\r\n")[0]!.split("\r\n")
      const headers: Record<string, string> = {}
      for (const line of lines) {
        const colon = line.indexOf(":")
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
      }
      resume(Effect.succeed({ status: Number(statusLine.split(" ")[1]), headers }))
    })
    return Effect.sync(() => socket.destroy())
  })

/** The one server span of the request just made (spans are reset before each request). */
const onlyServerSpan = serverSpan("GET /ok")

const expectNewRoot = (span: ReadableSpan, response: RawResponse) => {
  expect(TestTelemetry.parentSpanId(span)).toBeUndefined()
  expect(TestTelemetry.traceId(span)).not.toBe(TRACE_ID)
  expect(TestTelemetry.statusOf(span)).toBe("unset")
  expect(span.events.filter((e) => e.name === "exception")).toEqual([])
  // The response carries the new trace, never the hostile one.
  expect(response.headers["traceparent"]).toBe(`00-${TestTelemetry.traceId(span)}-${span.spanContext().spanId}-01`)
  expect(response.headers["tracestate"]).toBeUndefined()
}

const hostileTraceparents: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
  ["version ff", [`traceparent: ff-${TRACE_ID}-${PARENT_ID}-01`]],
  ["all-zero trace id", [`traceparent: 00-${"0".repeat(32)}-${PARENT_ID}-01`]],
  ["all-zero parent id", [`traceparent: 00-${TRACE_ID}-${"0".repeat(16)}-01`]],
  ["short trace id", [`traceparent: 00-${TRACE_ID.slice(4)}-${PARENT_ID}-01`]],
  ["long parent id", [`traceparent: 00-${TRACE_ID}-${PARENT_ID}00-01`]],
  ["non-hex", [`traceparent: 00-${TRACE_ID.slice(0, 31)}g-${PARENT_ID}-01`]],
  ["upper-case hex", [`traceparent: 00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`]],
  ["extra field on version 00", [`traceparent: ${VALID}-extra`]],
  ["8 KiB traceparent", [`traceparent: ${VALID}${"0".repeat(8192)}`]],
  ["duplicated traceparent headers", [
    `traceparent: ${VALID}`,
    `traceparent: 00-${"1".repeat(32)}-${"2".repeat(16)}-01`
  ]],
  ["duplicated identical traceparent headers", [`traceparent: ${VALID}`, `traceparent: ${VALID}`]],
  ["empty traceparent", ["traceparent: "]],
  ["tracestate without traceparent", ["tracestate: vendor=abc"]]
]

describe("HttpServerTelemetry under hostile trace context headers", () => {
  for (const [label, lines] of hostileTraceparents) {
    it.scopedLive(`${label}: 200, a new root trace`, () =>
      Effect.gen(function*() {
        const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync))
        const response = yield* raw(base, [...lines, "tracestate: vendor=abc"])
        expect(response.status).toBe(200)
        expectNewRoot(yield* onlyServerSpan, response)
      }).pipe(Effect.provide(TestTelemetry.layer())))
  }

  const hostileContext: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
    ["8 KiB tracestate", [`tracestate: k=${"v".repeat(8192)}`]],
    ["garbage tracestate", ["tracestate: ,,,=;;\"\\=x,=,a=b=c, =1"]],
    ["duplicated tracestate", ["tracestate: a=1", "tracestate: b=2"]],
    ["8 KiB baggage", [`baggage: k=${"v".repeat(8192)}`]],
    ["garbage baggage", ["baggage: ;;;===,%%%,k=%zz,=v,k;p=1"]],
    ["duplicated baggage", ["baggage: a=1", "baggage: b=2"]]
  ]

  for (const [label, lines] of hostileContext) {
    it.scopedLive(`a valid traceparent with ${label}: 200, the trace is continued`, () =>
      Effect.gen(function*() {
        const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync))
        const response = yield* raw(base, [`traceparent: ${VALID}`, ...lines])
        expect(response.status).toBe(200)
        const span = yield* onlyServerSpan
        expect(TestTelemetry.traceId(span)).toBe(TRACE_ID)
        expect(TestTelemetry.parentSpanId(span)).toBe(PARENT_ID)
        expect(span.events.filter((e) => e.name === "exception")).toEqual([])
        // Baggage is never echoed; an oversized tracestate is not forwarded.
        expect(response.headers["baggage"]).toBeUndefined()
        expect((response.headers["tracestate"] ?? "").length).toBeLessThanOrEqual(512)
      }).pipe(Effect.provide(TestTelemetry.layer())))
  }

  it.scopedLive("headers past Node's 16 KiB limit get Node's 431, and the server keeps serving", () =>
    Effect.gen(function*() {
      const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync))
      const tooLarge = yield* raw(base, [`traceparent: ${VALID}`, `baggage: k=${"v".repeat(32 * 1024)}`])
      expect(tooLarge.status).toBe(431)
      const next = yield* raw(base, [`traceparent: ${VALID}`])
      expect(next.status).toBe(200)
      const span = yield* onlyServerSpan
      expect(TestTelemetry.traceId(span)).toBe(TRACE_ID)
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.scopedLive(
    "generated header values: always 200, a parent only from a valid traceparent",
    () =>
      Effect.gen(function*() {
        const base = yield* serve(HttpRouter.toHttpApp(router).pipe(Effect.runSync))
        // Field-value characters HTTP allows (visible ASCII, space, tab), biased toward near misses.
        const fieldChar = fc.constantFrom(..."0123456789abcdefABCDEF-_=,;% \t\"\\xyz")
        const value = fc.oneof(
          fc.string({ unit: fieldChar, maxLength: 80 }),
          fc.tuple(fc.nat(70), fc.string({ unit: fieldChar, minLength: 1, maxLength: 3 })).map(([at, noise]) =>
            VALID.slice(0, at) + noise + VALID.slice(at + noise.length)
          )
        )
        const runtime = yield* Effect.runtime<TestTelemetry.TestTelemetry>()
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(value, value, value, (traceparent, tracestate, baggage) =>
              Effect.gen(function*() {
                yield* TestTelemetry.resetSpans
                const response = yield* raw(base, [
                  `traceparent: ${traceparent}`,
                  `tracestate: ${tracestate}`,
                  `baggage: ${baggage}`
                ])
                if (response.status !== 200) return false
                // The server sees the value with surrounding whitespace stripped (RFC 9110 OWS).
                // W3C: any version but ff; only a later version may carry more fields.
                const match = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/.exec(
                  traceparent.trim()
                )
                const valid = match !== null && match[1] !== "ff" && !(match[1] === "00" && match[5] !== undefined) &&
                  !/^0+$/.test(match[2]!) && !/^0+$/.test(match[3]!)
                if (valid && (parseInt(match[4]!, 16) & 1) === 0) {
                  // A valid parent that was not sampled: the trace continues unrecorded (no span
                  // to read), and the response says so with the caller's trace id and flags 00.
                  const echoed = /^00-([0-9a-f]{32})-([0-9a-f]{16})-00$/.exec(response.headers["traceparent"] ?? "")
                  return echoed !== null && echoed[1] === match[2]
                }
                const span = yield* onlyServerSpan
                const continued = TestTelemetry.parentSpanId(span) !== undefined
                return continued === valid && span.events.every((e) => e.name !== "exception")
              }).pipe(Runtime.runPromise(runtime))),
            // The shrunk case that once failed: a valid, unsampled parent (and repeated values).
            { numRuns: 60, examples: [[`00-${TRACE_ID}-${PARENT_ID}-00`, VALID, VALID]] }
          )
        )
      }).pipe(Effect.provide(TestTelemetry.layer())),
    60_000
  )
})
