/**
 * Every span and metric `@effect-telemetry/http` emits (server and client), declared once:
 * docs/SIGNALS.md's tables for them are generated from this (`npx tsx scripts/signals.ts`).
 *
 * @internal
 */
import { Signals } from "@effect-telemetry/core"
import * as metrics from "./metrics.js"

/** @internal */
export const serverSignals: Signals.Catalogue = Signals.make({
  surface: "http-server",
  spans: [
    {
      name: "{METHOD} {http.route}",
      nameNote:
        "(`GET /users/:id`); `{METHOD}` when no route matched or the app has no router; `HTTP` for a method outside the known set",
      kind: "Server",
      attributes:
        "Always: `http.request.method` (`_OTHER` for an unknown method), `url.path`, `url.scheme` (`https` behind a proxy sending `x-forwarded-proto: https`). When known: `http.request.method_original` (method normalised), `http.route` (the template, `HttpRouter.mount` and `HttpLayerRouter` prefixes included; `_unmatched`, option `unmatchedRoute`, when the router found none), `http.response.status_code` (the status on the wire, 101 for an upgrade; absent when the client left first), `url.query` (sensitive values `REDACTED`), `server.address`, `server.port` (Host header, else the listening address), `client.address`, `user_agent.original`, `network.protocol.version`, `http.request.body.size` (`content-length`), `http.response.body.size` (known before sending), allow-listed `http.request.header.<name>` / `http.response.header.<name>` (string arrays), `error.type` (the 5xx status as a string; the failure's class for a stream that failed after its headers), `effect.interrupted` (the client disconnected)",
      meaning:
        "One request, from arrival until its response, stream or websocket ended. Parent extracted from the request headers with the configured propagators (`OTEL_PROPAGATORS`), else a new root; the response carries the span's `traceparent` (and `tracestate`, never `baggage`) unless `responseTraceContext: false`. Error for a 5xx (returned, or a failure or defect answered with 500) and for a streamed body that failed after its headers were sent. Unset for 1xx\u20134xx, including failures answered with a 4xx (`RouteNotFound`, HttpApi schema errors). A client that disconnected leaves it Unset with `effect.interrupted=true`."
    }
  ],
  metrics: [
    {
      instrument: metrics.serverRequestDuration,
      attributes:
        "always `http.request.method`, `url.scheme`; when known `http.route`, `http.response.status_code`, `network.protocol.version`; `error.type` as on the span",
      meaning: "Request duration, until the response (or its stream) ended."
    },
    {
      instrument: metrics.serverActiveRequests,
      attributes: "always `http.request.method`, `url.scheme`",
      meaning: "Requests in progress; returns to 0 after every exit, client aborts and interruptions included."
    },
    {
      instrument: metrics.serverRequestBodySize,
      attributes: "as `http.server.request.duration`",
      meaning: "Request body size, recorded when the request declares it (`content-length`). Size buckets."
    },
    {
      instrument: metrics.serverResponseBodySize,
      attributes: "as `http.server.request.duration`",
      meaning:
        "Response body size, recorded when known before sending (not for `HEAD`, not when the client left). Size buckets."
    }
  ]
})

/** @internal */
export const clientSignals: Signals.Catalogue = Signals.make({
  surface: "http-client",
  spans: [
    {
      name: "{METHOD}",
      nameNote: "(`HTTP` for an unknown method)",
      kind: "Client",
      attributes:
        "Always: `http.request.method`, `server.address` (host name), `url.full` (`user:password@` as `REDACTED:REDACTED@`, sensitive query values `REDACTED`), `url.scheme`. When known: `server.port` (explicit, else 80/443), `http.request.method_original`, `http.response.status_code`, allow-listed `http.request.header.<name>` / `http.response.header.<name>` (credentials `REDACTED`), `error.type` on Error",
      meaning:
        "One request attempt, until the response headers arrived; child of the current span. Only the configured propagators' headers are written (the platform's unconditional `b3` is not). Error for 4xx, 5xx (`error.type` = the status) and transport failures (`error.type` = a system code like `ECONNREFUSED`, else the error's class). Unset otherwise and on interruption."
    }
  ],
  metrics: [
    {
      instrument: metrics.clientRequestDuration,
      attributes:
        "always `http.request.method`, `server.address`, `url.scheme`; when known `server.port`, `http.response.status_code`, `error.type`",
      meaning: "Attempt duration, until the response headers arrived."
    }
  ]
})
