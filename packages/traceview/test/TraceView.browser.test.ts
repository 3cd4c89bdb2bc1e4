/**
 * The viewer in a real headless Chromium, after real traffic: an HTTP server instrumented by
 * `@effect-telemetry/http`, a `Telemetry.fn` traced function, and a message sent and processed
 * through `@effect-telemetry/queue`'s instrumented PersistedQueue (memory store), all recorded
 * through the production install (`Tracing.layer` with `TraceView.layer` provided).
 */
import { Telemetry } from "@effect-telemetry/core"
import { HttpServerTelemetry } from "@effect-telemetry/http"
import { PersistedQueueTelemetry } from "@effect-telemetry/queue"
import * as PersistedQueue from "@effect/experimental/PersistedQueue"
import { NodeHttpServer } from "@effect/platform-node"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServer from "@effect/platform/HttpServer"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { existsSync, mkdirSync } from "node:fs"
import { createServer } from "node:http"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import type { Browser } from "playwright-core"
import { chromium } from "playwright-core"
import { TraceView } from "../src/index.js"
import { telemetry } from "./fixtures.js"

const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"
const chromiumMissing = !existsSync(executablePath)
if (chromiumMissing && process.env.CI === "true") {
  throw new Error(`Chromium not found at ${executablePath}: run scripts/install-chromium.sh (or set CHROMIUM_PATH)`)
}
// The documented screenshot is refreshed on request only: a test run never edits tracked files.
const screenshotPath = resolve(
  dirname(fileURLToPath(import.meta.url)),
  process.env.UPDATE_SCREENSHOTS === "1" ? "../../../docs/images/trace-view.png" : "../../../.tmp/trace-view.png"
)

const Order = Schema.Struct({ id: Schema.String, sku: Schema.String })

const launch = Effect.acquireRelease(
  Effect.promise(() =>
    chromium.launch({
      executablePath,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync"
      ]
    })
  ),
  (browser: Browser) => Effect.promise(() => browser.close())
)

/** The app: `POST /orders` → `orders.place` → queue offer; a consumer processes each order; the viewer at /traces. */
const app = Effect.gen(function*() {
  const queue = yield* PersistedQueue.make({ name: "orders", schema: Order })
  const placeOrder = Telemetry.fn("orders.place")(function*(sku: string) {
    const id = `o-${sku}`
    yield* queue.offer({ id, sku })
    return id
  })
  yield* queue.take((order) =>
    Effect.void.pipe(Effect.withSpan("orders.fulfil", { attributes: { "order.id": order.id } }))
  ).pipe(
    Effect.forever,
    Effect.forkScoped
  )
  const viewer = yield* TraceView.TraceView
  const router = HttpRouter.empty.pipe(
    HttpRouter.post(
      "/orders/:sku",
      Effect.flatMap(HttpRouter.params, ({ sku }) => placeOrder(sku ?? "none")).pipe(
        Effect.map((id) => HttpServerResponse.unsafeJson({ id }, { status: 201 }))
      )
    ),
    HttpRouter.get(
      "/hostile",
      Effect.as(Effect.annotateCurrentSpan("note", "<img src=x onerror=alert(2)>"), HttpServerResponse.empty()).pipe(
        Effect.withSpan("<script>alert(1)</script>")
      )
    ),
    HttpRouter.mount("/traces", TraceView.router),
    HttpRouter.provideService(TraceView.TraceView, viewer)
  )
  const context = yield* Layer.build(
    HttpServer.serve(router).pipe(
      // The viewer's own pages are excluded, as an app should: looking must not add traces.
      Layer.provide(HttpServerTelemetry.layer({ excludePaths: [/^\/traces/] })),
      Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
    )
  )
  const address = Effect.runSync(Effect.provide(HttpServer.HttpServer, context)).address as HttpServer.TcpAddress
  return `http://127.0.0.1:${address.port}`
})

/** The little of the DOM the page callbacks use (the project compiles without the DOM lib). */
interface DomElement {
  readonly dataset: Record<string, string | undefined>
  readonly style: { readonly left: string; readonly width: string }
  readonly textContent: string | null
  querySelector(selector: string): DomElement | null
}

const post = (url: string) => Effect.promise(() => fetch(url, { method: "POST" }).then((r) => r.status))

describe.skipIf(chromiumMissing)("TraceView in Chromium", () => {
  it.scopedLive("a cross-surface trace shows HTTP server → function → queue send → queue process in one waterfall", () =>
    Effect.gen(function*() {
      const base = yield* app
      expect(yield* post(`${base}/orders/sku-1`)).toBe(201)
      expect(yield* post(`${base}/orders/sku-2`)).toBe(201)
      expect((yield* Effect.promise(() => fetch(`${base}/hostile`))).status).toBe(204)
      const viewer = yield* TraceView.TraceView
      // The consumer runs in its own fiber: wait until both messages were processed.
      const traces = yield* viewer.traces.pipe(
        Effect.filterOrFail((all) =>
          all.filter((t) => t.rootName === "POST /orders/:sku" && t.spanCount === 5).length === 2
        ),
        Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo("10 seconds")))
      )
      const latest = traces.find((t) => t.rootName === "POST /orders/:sku")!

      const browser = yield* launch
      const page = yield* Effect.promise(() => browser.newPage({ viewport: { width: 1400, height: 640 } }))
      const dialogs: Array<string> = []
      page.on("dialog", (dialog) => {
        dialogs.push(dialog.message())
        void dialog.dismiss()
      })

      // The list: newest first, the hostile trace shown as text.
      yield* Effect.promise(() => page.goto(`${base}/traces`))
      const listed = yield* Effect.promise(() =>
        page.$$eval("#traces tbody tr", (rows) =>
          rows.map((row) => ({
            traceId: (row as unknown as DomElement).dataset.traceId,
            root: row.querySelector("td.root")!.textContent,
            count: row.querySelector("td.count")!.textContent
          })))
      )
      expect(listed).toHaveLength(3)
      expect(listed[0]!.root).toBe("traceview-testGET /hostile")
      expect(listed[1]).toEqual({ traceId: latest.traceId, root: "traceview-testPOST /orders/:sku", count: "5" })

      // The trace page, reached by its link.
      yield* Effect.promise(() => page.click(`a[href="/traces/${latest.traceId}"]`))
      yield* Effect.promise(() => page.waitForSelector("#waterfall"))
      expect(page.url()).toBe(`${base}/traces/${latest.traceId}`)
      const rows = yield* Effect.promise(() =>
        page.$$eval("#waterfall tr.span", (rows) =>
          rows.map((row) => {
            const el = row as unknown as DomElement
            const fill = el.querySelector(".fill")!
            return {
              name: el.querySelector(".span-name")!.textContent,
              kind: el.dataset.kind,
              depth: Number(el.dataset.depth),
              spanId: el.dataset.spanId,
              parent: el.dataset.parentSpanId,
              left: parseFloat(fill.style.left),
              width: parseFloat(fill.style.width)
            }
          }))
      )
      expect(rows.map(({ depth, kind, name }) => ({ name, kind, depth }))).toEqual([
        { name: "POST /orders/:sku", kind: "server", depth: 0 },
        { name: "orders.place", kind: "internal", depth: 1 },
        { name: "send orders", kind: "producer", depth: 2 },
        { name: "process orders", kind: "consumer", depth: 3 },
        { name: "orders.fulfil", kind: "internal", depth: 4 }
      ])
      // Each row is the child of the row above it, and the bars sit inside the trace.
      for (let i = 1; i < rows.length; i++) expect(rows[i]!.parent).toBe(rows[i - 1]!.spanId)
      expect(rows[0]!.left).toBe(0)
      for (const row of rows) expect(row.left + row.width).toBeLessThanOrEqual(100.001)
      expect(rows[3]!.left).toBeGreaterThanOrEqual(rows[2]!.left)

      // Clicking a row shows its attributes.
      yield* Effect.promise(() => page.click(`tr.span[data-span-id="${rows[2]!.spanId}"]`))
      const attributes = yield* Effect.promise(() =>
        page.$$eval(
          "#details table.attributes tr",
          (trs) =>
            Object.fromEntries(
              trs.map((tr) => [tr.querySelector("th")!.textContent, tr.querySelector("td")!.textContent])
            )
        )
      )
      expect(attributes).toMatchObject({
        "messaging.system": "effect_persisted_queue",
        "messaging.destination.name": "orders",
        "messaging.operation.type": "send"
      })
      expect(yield* Effect.promise(() => page.getAttribute(`tr.span[data-span-id="${rows[2]!.spanId}"]`, "class")))
        .toContain(
          "selected"
        )
      mkdirSync(dirname(screenshotPath), { recursive: true })
      yield* Effect.promise(() => page.screenshot({ path: screenshotPath, fullPage: true }))

      // The hostile trace renders its name as text and runs no injected script.
      const hostile = traces.find((t) => t.rootName === "GET /hostile")!
      yield* Effect.promise(() => page.goto(`${base}/traces/${hostile.traceId}`))
      const names = yield* Effect.promise(() =>
        page.$$eval("#waterfall .span-name", (els) => els.map((e) => e.textContent))
      )
      expect(names).toEqual(["GET /hostile", "<script>alert(1)</script>"])
      yield* Effect.promise(() => page.click("tr.span[data-depth='1']"))
      expect(yield* Effect.promise(() => page.textContent("#details"))).toContain("<img src=x onerror=alert(2)>")
      expect(yield* Effect.promise(() => page.$$("#details img"))).toHaveLength(0)
      expect(dialogs).toEqual([])
    }).pipe(
      Effect.provide(
        Layer.mergeAll(
          telemetry({ enabled: true }),
          PersistedQueueTelemetry.layer().pipe(Layer.provide(PersistedQueue.layerStoreMemory))
        )
      )
    ))
})
