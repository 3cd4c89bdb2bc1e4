/**
 * The server reads path, query, scheme and host without a `URL` per request. Whatever the
 * request target and Host header, the result must be what `new URL` would give: generated
 * targets (dot segments, escapes, characters URL rewrites, absolute form) are compared with
 * the platform's `toURL`.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { describe, expect, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import { portOf } from "../src/internal/semantics.js"
import { targetOf } from "../src/internal/server.js"

const requestOf = (url: string, headers: Record<string, string>) =>
  ({ url, headers }) as unknown as HttpServerRequest.HttpServerRequest

const listening = { _tag: "TcpAddress", hostname: "0.0.0.0", port: 8080 } as const

const viaUrl = (request: HttpServerRequest.HttpServerRequest) => {
  const url = Option.getOrUndefined(HttpServerRequest.toURL(request))
  if (url === undefined) return undefined
  const fromHost = request.headers.host !== undefined
  return {
    scheme: url.protocol.slice(0, -1),
    path: url.pathname,
    query: url.search.replace(/^\?/, ""),
    address: fromHost ? url.hostname : listening.hostname,
    port: fromHost ? portOf(url) : listening.port
  }
}

const segment = fc.stringMatching(/^[A-Za-z0-9._~%!$&'()*+,;=:@ "<>^`{|}\\#-]{0,6}$/)
const target = fc.tuple(
  fc.array(fc.oneof(segment, fc.constantFrom(".", "..", "%2e", "", "a b", "é")), { maxLength: 5 }),
  fc.option(fc.stringMatching(/^[A-Za-z0-9=&%+?/#. -]{0,12}$/), { nil: undefined })
).map(([segments, query]) => `/${segments.join("/")}${query === undefined ? "" : `?${query}`}`)
const host = fc.option(
  fc.oneof(
    fc.constantFrom(
      "example.com",
      "EXAMPLE.com:80",
      "example.com:8443",
      "[::1]:3000",
      "[::1]",
      "127.0.0.1:9",
      "h:0",
      "bad host",
      "a@b",
      "x:99999"
    ),
    fc.stringMatching(/^[a-z0-9.:[\]-]{1,12}$/)
  ),
  { nil: undefined }
)

// Absolute-form targets, as a web handler's `fromWeb` request carries them (the whole URL).
const absolute = fc.tuple(
  fc.constantFrom("http", "https", "HTTP", "ftp"),
  fc.constantFrom("example.com", "EXAMPLE.com:80", "h:443", "[::1]:3000", "u:p@h", "a b", "h:x", "127.0.0.1:3000", ""),
  target
).map(([scheme, authority, path]) => `${scheme}://${authority}${path}`)

describe("the request target without a URL per request", () => {
  it("agrees with new URL for generated targets and Host headers", () => {
    fc.assert(
      fc.property(fc.oneof(target, absolute), host, fc.boolean(), (url, hostHeader, https) => {
        const headers: Record<string, string> = https ? { "x-forwarded-proto": "https" } : {}
        if (hostHeader !== undefined) headers.host = hostHeader
        const request = requestOf(url, headers)
        const expected = viaUrl(request)
        const actual = targetOf(request, listening)
        if (expected === undefined) {
          // Unparseable: the raw path, no query, the listening address.
          expect(actual).toMatchObject({ scheme: "http", path: url.split("?")[0], search: "" })
          return
        }
        expect({ ...actual, query: actual.search.replace(/^\?/, ""), search: undefined }).toEqual({
          ...expected,
          search: undefined
        })
      }),
      { numRuns: 4000 }
    )
  })

  it("an absolute-form target and a protocol-relative one read as URL reads them", () => {
    expect(targetOf(requestOf("http://other:81/p?q=1", { host: "h" }), listening)).toMatchObject({
      path: "/p",
      search: "?q=1"
    })
    expect(targetOf(requestOf("//evil/p", { host: "h:1" }), listening)).toMatchObject({ address: "evil" })
  })
})
