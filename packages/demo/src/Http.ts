/**
 * The demo's HTTP API. Each endpoint exercises one or more surfaces; the root lists them.
 *
 * @since 0.1.0
 */
import { PrometheusMetrics } from "@effect-telemetry/core"
import { ProcessTelemetry } from "@effect-telemetry/process"
import { TraceView } from "@effect-telemetry/traceview"
import * as Command from "@effect/platform/Command"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as Background from "./Background.js"
import * as OrderEvents from "./OrderEvents.js"
import * as Orders from "./Orders.js"

const PlaceOrder = Schema.Struct({
  sku: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)),
  quantity: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1000)), { default: () => 1 })
})

const IdParams = Schema.Struct({ id: Schema.String })

const json = (body: unknown, status = 200) => HttpServerResponse.unsafeJson(body, { status })

/** Every endpoint, for the index page and the load generator. @since 0.1.0 @category routes */
export const endpoints = [
  ["GET", "/", "this list"],
  ["GET", "/health", "liveness (excluded from telemetry)"],
  [
    "POST",
    "/orders",
    "traced function → SQL insert (CDC sees it) → background audit (KV) → queue publish → consumer → workflow"
  ],
  ["GET", "/orders/:id", "KV cache, SQL on a miss"],
  ["GET", "/report", "a child `node` process that continues the trace"],
  ["GET", "/slow", "a 100-300 ms request"],
  ["GET", "/fail", "a 500 (Error span)"],
  ["GET", "/metrics", "Prometheus exposition (also on OTEL_EXPORTER_PROMETHEUS_PORT)"],
  ["GET", "/traces", "the in-process trace view (when enabled)"]
] as const

/** @since 0.1.0 @category routes */
export const router = HttpRouter.empty.pipe(
  HttpRouter.get(
    "/",
    Effect.succeed(json({ endpoints: endpoints.map(([method, path, what]) => ({ method, path, what })) }))
  ),
  HttpRouter.get("/health", Effect.succeed(HttpServerResponse.text("ok\n"))),
  HttpRouter.get("/metrics", PrometheusMetrics.handler),
  HttpRouter.post(
    "/orders",
    Effect.gen(function*() {
      const body = yield* HttpServerRequest.schemaBodyJson(PlaceOrder)
      const order = yield* Orders.place(body.sku, body.quantity)
      // In the app's background scope, so the response does not wait for it (a plain fork
      // ends with the handler) and shutdown ends it before the final flush (a daemon's span
      // could be lost); its span is still a child of this request's span. A failed write ends
      // the process with result=error, and is logged.
      const background = yield* Background.Background
      yield* Orders.audit(order).pipe(
        Effect.tapErrorCause((cause) => Effect.logWarning("order audit failed", cause)),
        ProcessTelemetry.forkIn(background)("order-audit")
      )
      yield* OrderEvents.publish(order)
      return json(order, 201)
    }).pipe(
      Effect.catchTags({
        OutOfStock: (error) => Effect.succeed(json({ error: "out of stock", sku: error.sku }, 409)),
        ParseError: (error) => Effect.succeed(json({ error: "invalid body", detail: error.message }, 400)),
        RequestError: () => Effect.succeed(json({ error: "invalid body" }, 400))
      })
    )
  ),
  HttpRouter.get(
    "/orders/:id",
    Effect.gen(function*() {
      const { id } = yield* HttpRouter.schemaPathParams(IdParams)
      return json(yield* Orders.find(id))
    }).pipe(
      Effect.catchTag("OrderNotFound", (error) => Effect.succeed(json({ error: "not found", id: error.id }, 404)))
    )
  ),
  HttpRouter.get(
    "/report",
    Effect.gen(function*() {
      // The child reads TRACEPARENT from its environment; CommandTelemetry sets it.
      const output = yield* Command.string(
        Command.make(
          process.execPath,
          "-e",
          "process.stdout.write(JSON.stringify({ traceparent: process.env.TRACEPARENT ?? null, pid: process.pid }))"
        )
      )
      return json({ child: JSON.parse(output), counts: yield* Orders.countByStatus() })
    })
  ),
  HttpRouter.get(
    "/slow",
    Effect.suspend(() => Effect.sleep(`${100 + Math.floor(Math.random() * 200)} millis`)).pipe(
      Effect.as(HttpServerResponse.text("slow\n"))
    )
  ),
  HttpRouter.get("/fail", Effect.succeed(json({ error: "this endpoint always fails" }, 500))),
  // 404 when the view is disabled (TRACE_VIEW=false, or NODE_ENV=production by default).
  HttpRouter.mount("/traces", TraceView.router)
)
