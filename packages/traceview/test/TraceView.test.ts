import { Telemetry, TelemetryOptionsError } from "@effect-telemetry/core"
import { NodeHttpServer } from "@effect/platform-node"
import * as HttpMiddleware from "@effect/platform/HttpMiddleware"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import { describe, expect, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import { createServer } from "node:http"
import { createServer as createNetServer } from "node:net"
import { TraceView } from "../src/index.js"
import { get, serveViewer, telemetry } from "./fixtures.js"

/** One root span with `children` child spans: one trace. Yields its trace id. */
const trace = (name: string, children = 0) =>
  Effect.gen(function*() {
    for (let i = 0; i < children; i++) yield* Effect.void.pipe(Effect.withSpan(`${name}.child${i}`))
    return yield* Effect.map(Effect.currentSpan, (span) => span.traceId)
  }).pipe(Effect.orDie, Effect.withSpan(name, { root: true }))

/** A port free a moment ago on 127.0.0.1 (layerServer takes a port, not a listener). */
const freePort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const probe = createNetServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
)

const traceIds = Effect.map(TraceView.TraceView, (service) => Effect.runSync(service.traces).map((t) => t.traceId))

describe("TraceView", () => {
  it.scopedLive("layer joins the tracer Tracing.layer builds: finished spans are grouped by trace, root and counts summarised", () =>
    Effect.gen(function*() {
      const failing = Effect.fail("declined").pipe(Effect.withSpan("charge"), Effect.exit)
      const id = yield* Effect.gen(function*() {
        yield* Effect.void.pipe(Effect.withSpan("load"))
        yield* failing
        return yield* Effect.map(Effect.currentSpan, (span) => span.traceId)
      }).pipe(Effect.orDie, Effect.withSpan("GET /orders", { kind: "server" }))
      const service = yield* TraceView.TraceView
      const [summary] = yield* service.traces
      expect(summary).toMatchObject({
        traceId: id,
        rootName: "GET /orders",
        services: ["traceview-test"],
        spanCount: 3,
        droppedSpans: 0,
        errorCount: 1
      })
      expect(summary!.durationMillis).toBeGreaterThanOrEqual(0)
    }).pipe(Effect.provide(telemetry({ enabled: true }))))

  it.scopedLive("keeps at most maxTraces traces and evicts the least recently updated", () =>
    Effect.gen(function*() {
      const ids: Array<string> = []
      for (let i = 0; i < 5; i++) ids.push(yield* trace(`t${i}`))
      expect(new Set(yield* traceIds)).toEqual(new Set(ids.slice(2)))
      const service = yield* TraceView.TraceView
      expect(yield* service.stats).toEqual({ traces: 3, spans: 3, logs: 0, evictedTraces: 2, evictedLogs: 0 })
    }).pipe(Effect.provide(telemetry({ enabled: true, maxTraces: 3 }))))

  it.scopedLive("a trace still receiving spans is not evicted before traces that finished after it started", () =>
    Effect.gen(function*() {
      const service = yield* TraceView.TraceView
      // A long request: its first child ends, three other traces finish, its second child ends.
      const long = yield* Effect.gen(function*() {
        yield* Effect.void.pipe(Effect.withSpan("long.step1"))
        for (let i = 0; i < 2; i++) yield* trace(`short${i}`)
        yield* Effect.void.pipe(Effect.withSpan("long.step2"))
        yield* trace("short2")
        return yield* Effect.map(Effect.currentSpan, (span) => span.traceId)
      }).pipe(Effect.orDie, Effect.withSpan("long"))
      const names = (yield* service.traces).map((t) => t.rootName)
      expect(names).not.toContain("short0")
      expect(names).toContain("long")
      expect((yield* service.traces).find((t) => t.traceId === long)).toMatchObject({ spanCount: 3 })
    }).pipe(Effect.provide(telemetry({ enabled: true, maxTraces: 3 }))))

  it.scopedLive("spans past maxSpansPerTrace are counted as dropped, and the pages say so", () =>
    Effect.gen(function*() {
      const id = yield* trace("big", 7)
      const [summary] = yield* (yield* TraceView.TraceView).traces
      expect(summary).toMatchObject({ traceId: id, spanCount: 5, droppedSpans: 3 })
      const base = yield* serveViewer()
      expect((yield* get(`${base}/traces/`)).body).toContain("5 (+3 dropped)")
      expect((yield* get(`${base}/traces/${id}`)).body).toContain("+3 dropped: over 5 per trace")
    }).pipe(Effect.provide(telemetry({ enabled: true, maxSpansPerTrace: 5 }))))

  it.scopedLive("maxSpans bounds the spans kept across all traces", () =>
    Effect.gen(function*() {
      const ids: Array<string> = []
      for (let i = 0; i < 5; i++) ids.push(yield* trace(`t${i}`, 3))
      const service = yield* TraceView.TraceView
      expect(yield* service.stats).toEqual({ traces: 2, spans: 8, logs: 0, evictedTraces: 3, evictedLogs: 0 })
      expect(new Set(yield* traceIds)).toEqual(new Set(ids.slice(3)))
    }).pipe(Effect.provide(telemetry({ enabled: true, maxSpans: 10, maxSpansPerTrace: 4 }))))

  it("limits that are not positive integers are a clear error", () => {
    expect(() => TraceView.make({ enabled: true, maxTraces: 0 })).toThrow(
      new TelemetryOptionsError.TelemetryOptionsError({
        surface: "TraceView",
        option: "maxTraces",
        expected: "a positive integer",
        value: 0
      })
    )
    expect(() => TraceView.make({ enabled: true, maxSpansPerTrace: 1.5 })).toThrow(
      "TraceView: option maxSpansPerTrace must be a positive integer, got 1.5"
    )
    // maxSpans never below one trace's worth, so the newest trace always fits.
    expect(TraceView.make({ enabled: true, maxSpans: 10 }).limits).toEqual({
      maxTraces: 200,
      maxSpansPerTrace: 1000,
      maxSpans: 1000,
      maxLogs: 10_000
    })
    expect(() => TraceView.make({ enabled: true, maxLogs: 0 })).toThrow(
      "TraceView: option maxLogs must be a positive integer, got 0"
    )
  })

  it.effect("the layers fail with the same TelemetryOptionsError, in their error channel", () =>
    Effect.gen(function*() {
      expect(typeof TraceView.layer).toBe("function")
      const error = yield* Layer.build(TraceView.layer({ enabled: true, maxSpans: Number.NaN })).pipe(
        Effect.scoped,
        Effect.flip
      )
      expect(error).toBeInstanceOf(TelemetryOptionsError.TelemetryOptionsError)
      expect(error.message).toBe("TraceView: option maxSpans must be a positive integer, got NaN")
      const fromConfig = yield* Layer.build(
        TraceView.layerConfig({ enabled: Config.succeed(true), maxTraces: Config.integer("TRACEVIEW_MAX_TRACES") })
      ).pipe(
        Effect.scoped,
        Effect.flip,
        Effect.withConfigProvider(ConfigProvider.fromJson({ TRACEVIEW_MAX_TRACES: -1 }))
      )
      expect(fromConfig.message).toBe("TraceView: option maxTraces must be a positive integer, got -1")
    }))

  it.scopedLive("disabled, it records nothing and its pages answer 404", () =>
    Effect.gen(function*() {
      const id = yield* trace("ignored", 2)
      expect(yield* traceIds).toEqual([])
      const base = yield* serveViewer()
      expect((yield* get(`${base}/traces/`)).status).toBe(404)
      expect((yield* get(`${base}/traces/${id}`)).status).toBe(404)
    }).pipe(Effect.provide(telemetry({ enabled: false }))))

  describe("enabled by default", () => {
    const enabledWith = (env: Record<string, string>) =>
      Effect.map(TraceView.TraceView, (service) => service.enabled).pipe(
        Effect.provide(TraceView.layer().pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromJson(env)))))
      )

    it.effect("on outside production, off when NODE_ENV=production, EFFECT_TELEMETRY_TRACEVIEW wins", () =>
      Effect.gen(function*() {
        expect(yield* enabledWith({})).toBe(true)
        expect(yield* enabledWith({ NODE_ENV: "development" })).toBe(true)
        expect(yield* enabledWith({ NODE_ENV: "production" })).toBe(false)
        expect(yield* enabledWith({ NODE_ENV: "production", EFFECT_TELEMETRY_TRACEVIEW: "true" })).toBe(true)
        expect(yield* enabledWith({ EFFECT_TELEMETRY_TRACEVIEW: "false" })).toBe(false)
        expect(yield* enabledWith({ EFFECT_TELEMETRY_TRACEVIEW: "TRUE", NODE_ENV: "production" })).toBe(true)
      }))

    it.effect("an EFFECT_TELEMETRY_TRACEVIEW that is not a boolean is reported once and the NODE_ENV default used", () =>
      Effect.gen(function*() {
        const warnings: Array<string> = []
        const collector = Logger.make(({ logLevel, message }) => {
          if (logLevel._tag === "Warning") warnings.push(Array.isArray(message) ? message.join(" ") : String(message))
        })
        const capture = Logger.replace(Logger.defaultLogger, collector)
        expect(yield* enabledWith({ EFFECT_TELEMETRY_TRACEVIEW: "maybe" }).pipe(Effect.provide(capture))).toBe(true)
        expect(
          yield* enabledWith({ EFFECT_TELEMETRY_TRACEVIEW: "1", NODE_ENV: "production" }).pipe(Effect.provide(capture))
        ).toBe(false)
        expect(warnings).toEqual([
          `EFFECT_TELEMETRY_TRACEVIEW="maybe" is invalid (not true or false); using true (NODE_ENV is not production)`,
          `EFFECT_TELEMETRY_TRACEVIEW="1" is invalid (not true or false); using false (NODE_ENV is production)`
        ])
      }))

    it.effect("an explicit enabled option wins over the environment", () =>
      Effect.map(TraceView.TraceView, (service) => expect(service.enabled).toBe(true)).pipe(
        Effect.provide(
          TraceView.layer({ enabled: true }).pipe(
            Layer.provide(Layer.setConfigProvider(ConfigProvider.fromJson({ NODE_ENV: "production" })))
          )
        )
      ))
  })
})

describe("TraceView pages", () => {
  const hostile = "<script>alert(1)</script>"

  it.scopedLive("span names, attribute keys and values, events and resource values are escaped", () =>
    Effect.gen(function*() {
      const id = yield* Effect.gen(function*() {
        yield* Effect.annotateCurrentSpan(`"><img src=x onerror=alert(2)>`, hostile)
        yield* Effect.annotateCurrentSpan("note", `'quoted' & "double"`)
        const span = yield* Effect.currentSpan
        span.event(hostile, BigInt(Date.now()) * 1_000_000n, { [hostile]: hostile })
        return span.traceId
      }).pipe(Effect.orDie, Effect.withSpan(hostile))
      const base = yield* serveViewer()
      const list = yield* get(`${base}/traces/`)
      const page = yield* get(`${base}/traces/${id}`)
      for (const { body } of [list, page]) {
        expect(body).not.toContain(hostile)
        expect(body).not.toContain("<img")
        expect(body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;")
      }
      expect(page.body).toContain("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;")
      expect(page.body).toContain("&#39;quoted&#39; &amp; &quot;double&quot;")
      // The service name comes from configuration; it is escaped too.
      expect(list.body).toContain("&lt;svc&gt;")
      // Second line of defence: only scripts with this response's nonce run.
      const csp = page.headers.get("content-security-policy")!
      const nonce = /script-src 'nonce-([^']+)'/.exec(csp)![1]!
      expect(page.body.match(/<script[^>]*>/g)).toEqual([`<script nonce="${nonce}">`])
      expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8")
    }).pipe(Effect.provide(telemetry({ enabled: true }, { serviceName: "<svc>" }))))

  it.scopedLive("a span's log records are shown in its details, escaped; records outside any span are not kept", () =>
    Effect.gen(function*() {
      const id = yield* Effect.gen(function*() {
        yield* Effect.logWarning(`${hostile} & 'single' "double"`).pipe(Effect.annotateLogs("order.note", hostile))
        yield* Effect.logInfo("second record").pipe(Effect.withSpan("inner"))
        return yield* Effect.map(Effect.currentSpan, (span) => span.traceId)
      }).pipe(Effect.orDie, Effect.withSpan("checkout", { root: true }))
      yield* Effect.logInfo("outside any span")
      const service = yield* TraceView.TraceView
      expect(yield* service.stats).toMatchObject({ logs: 2, evictedLogs: 0 })
      const base = yield* serveViewer()
      const page = yield* get(`${base}/traces/${id}`)
      expect(page.body).not.toContain(hostile)
      expect(page.body).toContain(
        `<td class="severity">WARN</td><td class="mono body">&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;single&#39; &quot;double&quot;`
      )
      expect(page.body).toContain(
        `<th class="mono">order.note</th><td class="mono">&lt;script&gt;alert(1)&lt;/script&gt;</td>`
      )
      // Each record is in the details of the span it was logged in; the row says how many.
      const templateOf = (name: string) => {
        const spanId = new RegExp(`data-span-id="([0-9a-f]{16})"(?:(?!<tr)[^])*<span class="span-name">${name}</span>`)
          .exec(page.body)![1]
        return new RegExp(`<template id="details-${spanId}">([^]*?)</template>`).exec(page.body)![1]!
      }
      expect(templateOf("checkout")).toContain("<h2>Logs</h2><table class=\"logs\">")
      expect(templateOf("checkout")).not.toContain("second record")
      expect(templateOf("inner")).toContain("second record")
      expect(page.body).toMatch(/data-logs="1"/)
      expect(page.body).not.toContain("outside any span")
    }).pipe(Effect.provide(telemetry({ enabled: true }))))

  it.scopedLive("log records are bounded by maxLogs, the oldest evicted first", () =>
    Effect.gen(function*() {
      const id = yield* Effect.gen(function*() {
        for (let i = 0; i < 5; i++) yield* Effect.logInfo(`record ${i}`)
        return yield* Effect.map(Effect.currentSpan, (span) => span.traceId)
      }).pipe(Effect.orDie, Effect.withSpan("chatty", { root: true }))
      const service = yield* TraceView.TraceView
      expect(yield* service.stats).toMatchObject({ logs: 3, evictedLogs: 2 })
      const page = yield* get(`${yield* serveViewer()}/traces/${id}`)
      // (Effect's tracer also keeps each message as a span event; the logs table is the viewer's.)
      const table = /<table class="logs">([^]*?)<\/table>/.exec(page.body)![1]!
      expect(Array.from(table.matchAll(/<td class="mono body">([^<]*)<\/td>/g), (m) => m[1])).toEqual([
        "record 2",
        "record 3",
        "record 4"
      ])
    }).pipe(Effect.provide(telemetry({ enabled: true, maxLogs: 3 }))))

  it.scopedLive("the list filters by service, span name and error", () =>
    Effect.gen(function*() {
      const ok = yield* trace("GET /health")
      const failed = yield* Effect.gen(function*() {
        yield* Effect.exit(Effect.fail("boom").pipe(Effect.withSpan("db.query")))
        return yield* Effect.map(Effect.currentSpan, (span) => span.traceId)
      }).pipe(Effect.orDie, Effect.withSpan("POST /orders", { root: true }))
      const base = yield* serveViewer()
      const rowsOf = (body: string) =>
        Array.from(body.matchAll(/<tr class="trace" data-trace-id="([0-9a-f]+)"/g), (m) => m[1])
      expect(rowsOf((yield* get(`${base}/traces/`)).body)).toEqual([failed, ok])
      expect(rowsOf((yield* get(`${base}/traces/?error=1`)).body)).toEqual([failed])
      expect(rowsOf((yield* get(`${base}/traces/?name=DB.QUE`)).body)).toEqual([failed])
      expect(rowsOf((yield* get(`${base}/traces/?service=traceview-test`)).body)).toEqual([failed, ok])
      const none = yield* get(`${base}/traces/?service=other`)
      expect(rowsOf(none.body)).toEqual([])
      expect(none.body).toContain("No traces match the filter.")
    }).pipe(Effect.provide(telemetry({ enabled: true }))))

  it.scopedLive("a malformed trace id is a 400, an unknown one a 404 that says why", () =>
    Effect.gen(function*() {
      const base = yield* serveViewer()
      const bad = yield* get(`${base}/traces/not-a-trace-id`)
      expect(bad.status).toBe(400)
      expect(bad.body).toContain("A trace id is 32 hexadecimal characters.")
      const missing = yield* get(`${base}/traces/${"ab".repeat(16)}`)
      expect(missing.status).toBe(404)
      expect(missing.body).toContain("has been evicted")
    }).pipe(Effect.provide(telemetry({ enabled: true }))))

  it.scopedLive("links follow the prefix the router is mounted at", () =>
    Effect.gen(function*() {
      const id = yield* trace("mounted")
      const base = yield* serveViewer("/debug/traces")
      for (const path of ["/debug/traces", "/debug/traces/", "/debug/traces?error="]) {
        const list = yield* get(`${base}${path}`)
        expect(list.status).toBe(200)
        expect(list.body).toContain(`href="/debug/traces/${id}"`)
        expect(list.body).toContain(`action="/debug/traces/"`)
      }
      const page = yield* get(`${base}/debug/traces/${id}`)
      expect(page.body).toContain(`href="/debug/traces/"`)
    }).pipe(Effect.provide(telemetry({ enabled: true }))))

  it.scopedLive("layerServer serves the pages on their own loopback port, without tracing its own requests", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const id = yield* trace("standalone")
      yield* Layer.build(TraceView.layerServer({ port }))
      const root = yield* get(`http://127.0.0.1:${port}/`)
      expect(root.status).toBe(302)
      expect(root.headers.get("location")).toBe("/traces/")
      const list = yield* get(`http://127.0.0.1:${port}/traces/`)
      expect(list.body).toContain(`href="/traces/${id}"`)
      yield* get(`http://127.0.0.1:${port}/traces/${id}`)
      expect(yield* traceIds).toEqual([id])
    }).pipe(Effect.provide(telemetry({ enabled: true }))))

  it.scopedLive("layerServer with prefix / serves the list at the root", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const id = yield* trace("at-root")
      yield* Layer.build(TraceView.layerServer({ port, prefix: "/" }))
      const list = yield* get(`http://127.0.0.1:${port}/`)
      expect(list.status).toBe(200)
      expect(list.body).toContain(`href="/${id}"`)
      expect((yield* get(`http://127.0.0.1:${port}/${id}`)).status).toBe(200)
    }).pipe(Effect.provide(telemetry({ enabled: true }))))
})

describe("TraceView install", () => {
  it.scopedLive("Telemetry.layer with TraceView.layer provided, pages mounted in HttpRouter.Default by layerRoutes", () =>
    Effect.gen(function*() {
      const id = yield* Effect.gen(function*() {
        yield* Effect.void.pipe(Effect.withSpan("installed.child0"))
        yield* Effect.logInfo("inside installed")
        return yield* Effect.map(Effect.currentSpan, (span) => span.traceId)
      }).pipe(Effect.orDie, Effect.withSpan("installed", { root: true }))
      const context = yield* Layer.build(
        HttpRouter.Default.serve().pipe(
          HttpMiddleware.withTracerDisabledWhen(() => true),
          Layer.provide(TraceView.layerRoutes({ prefix: "/_traces" })),
          Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
        )
      )
      const { port } = Effect.runSync(Effect.provide(HttpServer.HttpServer, context)).address as HttpServer.TcpAddress
      const list = yield* get(`http://127.0.0.1:${port}/_traces`)
      expect(list.status).toBe(200)
      expect(list.body).toContain(`href="/_traces/${id}"`)
      const page = yield* get(`http://127.0.0.1:${port}/_traces/${id}`)
      expect(page.body).toContain(`<span class="span-name">installed.child0</span>`)
      // Telemetry.layer's logs layer feeds the viewer too (with OTEL_LOGS_EXPORTER=none).
      expect(page.body).toContain(`<td class="mono body">inside installed</td>`)
    }).pipe(
      Effect.provide(
        Telemetry.layer({
          serviceName: "installed",
          tracesExporter: "none",
          metricsExporters: [],
          logsExporter: "none"
        }).pipe(
          Layer.provideMerge(TraceView.layer({ enabled: true }))
        )
      )
    ))
})
