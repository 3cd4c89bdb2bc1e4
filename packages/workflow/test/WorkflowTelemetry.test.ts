import { TelemetryOptionsError } from "@effect-telemetry/core"
import { TestTelemetry } from "@effect-telemetry/testing"
import { WorkflowTelemetry } from "@effect-telemetry/workflow"
import { describe, expect, it } from "@effect/vitest"
import * as Activity from "@effect/workflow/Activity"
import * as DurableClock from "@effect/workflow/DurableClock"
import * as DurableDeferred from "@effect/workflow/DurableDeferred"
import * as Workflow from "@effect/workflow/Workflow"
import * as WorkflowEngine from "@effect/workflow/WorkflowEngine"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Tracer from "effect/Tracer"

class ChargeDeclined extends Schema.TaggedError<ChargeDeclined>()("ChargeDeclined", { attempt: Schema.Number }) {}

// --- an order workflow: an activity, a retried activity, a suspension, another activity ---

const Order = Workflow.make({
  name: "Order",
  payload: { id: Schema.String },
  success: Schema.String,
  error: ChargeDeclined,
  idempotencyKey: ({ id }) => id
})

const Approval = DurableDeferred.make("Approval", { success: Schema.String })

const reserve = Activity.make({ name: "Reserve", success: Schema.String, execute: Effect.succeed("reserved") })

// Declined on the first attempt, accepted on the second: one retry.
const charge = Activity.make({
  name: "Charge",
  success: Schema.Number,
  error: ChargeDeclined,
  execute: Effect.flatMap(
    Activity.CurrentAttempt,
    (attempt) => attempt === 1 ? Effect.fail(new ChargeDeclined({ attempt })) : Effect.succeed(attempt)
  )
})

const ship = Activity.make({ name: "Ship", success: Schema.String, execute: Effect.succeed("shipped") })

const OrderLive = Order.toLayer(Effect.fn(function*({ id }) {
  yield* reserve
  yield* charge.pipe(Activity.retry({ times: 3 }))
  const approvedBy = yield* DurableDeferred.await(Approval)
  const shipped = yield* ship
  return `${id}:${approvedBy}:${shipped}`
}))

// --- a workflow that fails, one that sleeps on a durable clock, one that suspends on failure ---

const Refund = Workflow.make({
  name: "Refund",
  payload: { id: Schema.String },
  error: ChargeDeclined,
  idempotencyKey: ({ id }) => id
})

const RefundLive = Refund.toLayer(() =>
  Activity.make({ name: "Reverse", error: ChargeDeclined, execute: Effect.fail(new ChargeDeclined({ attempt: 1 })) })
)

const Reminder = Workflow.make({ name: "Reminder", payload: { id: Schema.String }, idempotencyKey: ({ id }) => id })

const ReminderLive = Reminder.toLayer(() =>
  Effect.gen(function*() {
    yield* Activity.make({ name: "Note", execute: Effect.void })
    // Above the in-memory threshold: the engine schedules a wake-up and the run suspends.
    yield* DurableClock.sleep({ name: "wait", duration: "20 millis", inMemoryThreshold: "0 millis" })
    yield* Activity.make({ name: "Send", execute: Effect.void })
  })
)

// The same sleep in a body written as an anonymous Effect.fn: its span does not propagate.
const Snooze = Workflow.make({ name: "Snooze", payload: { id: Schema.String }, idempotencyKey: ({ id }) => id })

const SnoozeLive = Snooze.toLayer(Effect.fn(function*() {
  yield* Activity.make({ name: "Before", execute: Effect.void })
  yield* DurableClock.sleep({ name: "wait", duration: "20 millis", inMemoryThreshold: "0 millis" })
  yield* Activity.make({ name: "After", execute: Effect.void })
}))

const Fragile = Workflow.make({
  name: "Fragile",
  payload: { id: Schema.String },
  error: ChargeDeclined,
  idempotencyKey: ({ id }) => id
}).annotate(Workflow.SuspendOnFailure, true)

const FragileLive = Fragile.toLayer(() => Effect.fail(new ChargeDeclined({ attempt: 1 })))

const Item = Workflow.make({ name: "Item", payload: { id: Schema.String }, idempotencyKey: ({ id }) => id })

const ItemLive = Item.toLayer(() => Activity.make({ name: "Pack", execute: Effect.void }))

const Batch = Workflow.make({ name: "Batch", payload: { id: Schema.String }, idempotencyKey: ({ id }) => id })

const BatchLive = Batch.toLayer(({ id }) => Item.execute({ id: `${id}/1` }))

const engineWith = (
  telemetry: Layer.Layer<
    WorkflowEngine.WorkflowEngine,
    TelemetryOptionsError.TelemetryOptionsError,
    WorkflowEngine.WorkflowEngine
  >
) =>
  Layer.mergeAll(OrderLive, RefundLive, ReminderLive, SnoozeLive, FragileLive, ItemLive, BatchLive).pipe(
    Layer.provideMerge(telemetry.pipe(Layer.provide(WorkflowEngine.layerMemory)))
  )

const withTelemetry = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  telemetry: Layer.Layer<
    WorkflowEngine.WorkflowEngine,
    TelemetryOptionsError.TelemetryOptionsError,
    WorkflowEngine.WorkflowEngine
  > = WorkflowTelemetry.layer()
) => effect.pipe(Effect.provide(engineWith(telemetry)), Effect.provide(TestTelemetry.layer()))

/** Polls (without spans of its own) until the execution reports `tag`. */
const awaitResult = (
  workflow: Workflow.Any & { readonly poll: (id: string) => any },
  executionId: string,
  tag: string
) =>
  Effect.gen(function*() {
    for (let i = 0; i < 2_000; i++) {
      const result = yield* (workflow.poll(executionId) as Effect.Effect<
        { readonly _tag: string } | undefined,
        never,
        WorkflowEngine.WorkflowEngine
      >)
      if (result?._tag === tag) return result
      yield* Effect.sleep("2 millis")
    }
    return yield* Effect.dieMessage(`${workflow.name} ${executionId} never reached ${tag}`)
  }).pipe(Effect.withTracerEnabled(false))

/**
 * Waits until every ended span reached the in-memory exporter: it confirms exports on a timer
 * and the harness runs two exports at a time, so a burst of spans lands a moment later.
 */
const delivered = Effect.flatMap(
  TestTelemetry.TestTelemetry,
  (t) => Effect.promise(() => t.tracerProvider.accounting.idle())
)

const byStart = (spans: ReadonlyArray<ReadableSpan>) =>
  [...spans].sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])

const spanId = (span: ReadableSpan) => span.spanContext().spanId

describe("WorkflowTelemetry", () => {
  it.live("an order with a retry and a suspension: one trace from the caller, runs and attempts counted", () =>
    withTelemetry(Effect.gen(function*() {
      const executionId = yield* Order.execute({ id: "o-1" }, { discard: true }).pipe(
        Effect.withSpan("checkout", { kind: "server" })
      )
      yield* awaitResult(Order, executionId, "Suspended")
      const token = DurableDeferred.tokenFromExecutionId(Approval, { workflow: Order, executionId })
      yield* DurableDeferred.succeed(Approval, { token, value: "alice" }).pipe(Effect.withSpan("approval-webhook"))
      const result = yield* awaitResult(Order, executionId, "Complete")
      expect(result).toMatchObject({ exit: Exit.succeed("o-1:alice:shipped") })

      // trace shape
      yield* delivered
      const checkout = yield* TestTelemetry.spanNamed("checkout")
      const start = yield* TestTelemetry.spanNamed("Order.execute")
      const webhook = yield* TestTelemetry.spanNamed("approval-webhook")
      const runs = byStart(yield* TestTelemetry.spansNamed("workflow Order"))
      expect(runs).toHaveLength(2)
      const [first, resumed] = runs as [ReadableSpan, ReadableSpan]
      expect(TestTelemetry.parentSpanId(start)).toBe(spanId(checkout))
      for (const run of runs) {
        expect(TestTelemetry.kindOf(run)).toBe("internal")
        expect(TestTelemetry.traceId(run)).toBe(TestTelemetry.traceId(checkout))
        expect(TestTelemetry.parentSpanId(run)).toBe(spanId(start))
        expect(run.attributes["workflow.name"]).toBe("Order")
        expect(run.attributes["workflow.execution.id"]).toBe(executionId)
      }
      expect(first.attributes["workflow.resumed"]).toBe(false)
      expect(first.attributes["workflow.run.result"]).toBe("suspended")
      expect(TestTelemetry.statusOf(first)).toBe("unset")
      expect(first.attributes["effect.interrupted"]).toBeUndefined()
      expect(resumed.attributes["workflow.resumed"]).toBe(true)
      expect(resumed.attributes["workflow.run.result"]).toBe("completed")
      expect(TestTelemetry.statusOf(resumed)).toBe("unset")
      // the resumed run points at what woke it up
      expect(resumed.links.map((l) => l.context.spanId)).toEqual([spanId(webhook)])
      expect(start.attributes["workflow.execution.id"]).toBe(executionId)

      // activity attempts: replays on the resumed run emit nothing
      const underRun = (span: ReadableSpan, run: ReadableSpan) => {
        const all = new Map<string, ReadableSpan>()
        return Effect.map(TestTelemetry.spans, (spans) => {
          for (const s of spans) all.set(spanId(s), s)
          let current: ReadableSpan | undefined = span
          while (current !== undefined) {
            if (spanId(current) === spanId(run)) return true
            const parent = TestTelemetry.parentSpanId(current)
            current = parent === undefined ? undefined : all.get(parent)
          }
          return false
        })
      }
      const reserveSpan = yield* TestTelemetry.spanNamed("activity Reserve")
      expect(yield* underRun(reserveSpan, first)).toBe(true)
      expect(reserveSpan.attributes).toMatchObject({
        "workflow.name": "Order",
        "workflow.execution.id": executionId,
        "activity.name": "Reserve",
        "activity.attempt": 1
      })
      const charges = byStart(yield* TestTelemetry.spansNamed("activity Charge"))
      expect(charges.map((s) => s.attributes["activity.attempt"])).toEqual([1, 2])
      expect(charges.map(TestTelemetry.statusOf)).toEqual(["error", "unset"])
      expect(charges[0]!.attributes["error.type"]).toBe("ChargeDeclined")
      for (const c of charges) expect(yield* underRun(c, first)).toBe(true)
      const shipSpan = yield* TestTelemetry.spanNamed("activity Ship")
      expect(yield* underRun(shipSpan, resumed)).toBe(true)
      // only the workflow's own activities ran: nothing journaled for telemetry
      const activities = (yield* TestTelemetry.spans).filter((s) => s.name.startsWith("activity "))
      expect([...new Set(activities.map((s) => s.name))].sort()).toEqual(
        ["activity Charge", "activity Reserve", "activity Ship"]
      )

      // metrics, OTLP side
      const wf = { "workflow.name": "Order" }
      expect(yield* TestTelemetry.metricValue("workflow.started", wf)).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.suspended", wf)).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.completed", wf)).toBe(1)
      expect(yield* Effect.flip(TestTelemetry.metricValue("workflow.failed", wf))).toBeDefined()
      const total = yield* TestTelemetry.metricPoint("workflow.duration", { ...wf, result: "ok" })
      expect(total.value).toMatchObject({ count: 1 })
      const attempts = (activity: string, result: string) =>
        TestTelemetry.metricValue("activity.attempts", { ...wf, "activity.name": activity, result })
      expect(yield* attempts("Reserve", "ok")).toBe(1)
      expect(yield* attempts("Charge", "error")).toBe(1)
      expect(yield* attempts("Charge", "ok")).toBe(1)
      expect(yield* attempts("Ship", "ok")).toBe(1)
      expect(yield* TestTelemetry.metricValue("activity.retries", { ...wf, "activity.name": "Charge" })).toBe(1)
      expect(yield* Effect.flip(TestTelemetry.metricValue("activity.retries", { ...wf, "activity.name": "Reserve" })))
        .toBeDefined()
      const chargeDuration = yield* TestTelemetry.metricPoint("activity.duration", {
        ...wf,
        "activity.name": "Charge",
        result: "error"
      })
      expect(chargeDuration.value).toMatchObject({ count: 1 })

      // the same values on the Prometheus side
      const labels = { workflow_name: "Order" }
      expect(yield* TestTelemetry.prometheusValue("workflow_started_total", labels)).toBe(1)
      expect(yield* TestTelemetry.prometheusValue("workflow_suspended_total", labels)).toBe(1)
      expect(yield* TestTelemetry.prometheusValue("workflow_completed_total", labels)).toBe(1)
      expect(yield* TestTelemetry.prometheusValue("workflow_duration_seconds_count", { ...labels, result: "ok" })).toBe(
        1
      )
      expect(
        yield* TestTelemetry.prometheusValue("activity_attempts_total", {
          ...labels,
          activity_name: "Charge",
          result: "error"
        })
      ).toBe(1)
      expect(yield* TestTelemetry.prometheusValue("activity_retries_total", { ...labels, activity_name: "Charge" }))
        .toBe(1)
    })))

  it.live("an unsampled caller keeps every run unsampled, resumes included, while metrics still count", () =>
    withTelemetry(Effect.gen(function*() {
      const caller = Tracer.externalSpan({
        traceId: "0af7651916cd43dd8448eb211c80319c",
        spanId: "b7ad6b7169203331",
        sampled: false
      })
      const executionId = yield* Order.execute({ id: "o-3" }, { discard: true }).pipe(Effect.withParentSpan(caller))
      yield* awaitResult(Order, executionId, "Suspended")
      const token = DurableDeferred.tokenFromExecutionId(Approval, { workflow: Order, executionId })
      // the webhook is sampled: the resumed run must still follow the execution's own decision
      yield* DurableDeferred.succeed(Approval, { token, value: "bob" }).pipe(Effect.withSpan("approval-webhook"))
      yield* awaitResult(Order, executionId, "Complete")
      yield* delivered
      const names = (yield* TestTelemetry.spans).map((s) => s.name)
      expect(names).toEqual(["approval-webhook"])
      const wf = { "workflow.name": "Order" }
      expect(yield* TestTelemetry.metricValue("workflow.started", wf)).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.suspended", wf)).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.completed", wf)).toBe(1)
      expect(yield* TestTelemetry.metricValue("activity.retries", { ...wf, "activity.name": "Charge" })).toBe(1)
    })))

  it.live("a workflow that fails marks its run Error and counts it failed, with its duration", () =>
    withTelemetry(Effect.gen(function*() {
      const error = yield* Effect.flip(Refund.execute({ id: "r-1" }).pipe(Effect.withSpan("refund-request")))
      expect(error).toBeInstanceOf(ChargeDeclined)
      yield* delivered
      const run = yield* TestTelemetry.spanNamed("workflow Refund")
      expect(TestTelemetry.statusOf(run)).toBe("error")
      expect(run.attributes["error.type"]).toBe("ChargeDeclined")
      expect(run.attributes["workflow.run.result"]).toBe("failed")
      expect(run.events.map((e) => e.name)).toContain("exception")
      const attempt = yield* TestTelemetry.spanNamed("activity Reverse")
      expect(TestTelemetry.statusOf(attempt)).toBe("error")
      const wf = { "workflow.name": "Refund" }
      expect(yield* TestTelemetry.metricValue("workflow.started", wf)).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.failed", { ...wf, "error.type": "ChargeDeclined" })).toBe(1)
      expect(yield* Effect.flip(TestTelemetry.metricValue("workflow.completed", wf))).toBeDefined()
      expect((yield* TestTelemetry.metricPoint("workflow.duration", { ...wf, result: "error" })).value)
        .toMatchObject({ count: 1 })
      expect(
        yield* TestTelemetry.metricValue("activity.attempts", { ...wf, "activity.name": "Reverse", result: "error" })
      ).toBe(1)
    })))

  it.live("a durable clock suspends the run; started outside any span, the resumed run joins the first run's trace", () =>
    withTelemetry(Effect.gen(function*() {
      // Straight to the engine, as a runner with no caller context would: no span around it.
      const engine = yield* WorkflowEngine.WorkflowEngine
      const executionId = yield* Reminder.executionId({ id: "m-1" })
      yield* engine.execute(Reminder, { executionId, payload: { id: "m-1" } })
      yield* delivered
      const runs = byStart(yield* TestTelemetry.spansNamed("workflow Reminder"))
      expect(runs).toHaveLength(2)
      const [first, resumed] = runs as [ReadableSpan, ReadableSpan]
      expect(first.attributes["workflow.run.result"]).toBe("suspended")
      expect(resumed.attributes["workflow.run.result"]).toBe("completed")
      expect(TestTelemetry.parentSpanId(first)).toBeUndefined()
      expect(TestTelemetry.traceId(resumed)).toBe(TestTelemetry.traceId(first))
      expect(TestTelemetry.parentSpanId(resumed)).toBe(spanId(first))
      // woken by the clock the first run scheduled: that is the parent already, no extra link
      expect(resumed.links).toEqual([])
      expect(yield* TestTelemetry.spansNamed("activity Note")).toHaveLength(1)
      expect(yield* TestTelemetry.spansNamed("activity Send")).toHaveLength(1)
      const wf = { "workflow.name": "Reminder" }
      expect(yield* TestTelemetry.metricValue("workflow.started", wf)).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.suspended", wf)).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.completed", wf)).toBe(1)
      const total = (yield* TestTelemetry.metricPoint("workflow.duration", { ...wf, result: "ok" })).value as {
        readonly sum: number
      }
      // start to completion includes the 20 ms the clock slept
      expect(total.sum).toBeGreaterThanOrEqual(0.02)
    })))

  it.live("an Effect.fn body with a durable sleep: the wake-up and the resumed run stay in the execution's trace", () =>
    withTelemetry(Effect.gen(function*() {
      yield* Snooze.execute({ id: "s-1" }).pipe(Effect.withSpan("snooze-request"))
      yield* delivered
      const request = yield* TestTelemetry.spanNamed("snooze-request")
      const caller = yield* TestTelemetry.spanNamed("Snooze.execute")
      const runs = byStart(yield* TestTelemetry.spansNamed("workflow Snooze"))
      expect(runs.map((r) => r.attributes["workflow.run.result"])).toEqual(["suspended", "completed"])
      const [first, resumed] = runs as [ReadableSpan, ReadableSpan]
      expect(TestTelemetry.parentSpanId(first)).toBe(spanId(caller))
      expect(TestTelemetry.parentSpanId(resumed)).toBe(spanId(caller))
      // woken under the first run's span, not the body's non-propagating Effect.fn span
      expect(resumed.links.map((l) => l.context.spanId)).toEqual([spanId(first)])
      const traceIds = new Set((yield* TestTelemetry.spans).map(TestTelemetry.traceId))
      expect([...traceIds]).toEqual([TestTelemetry.traceId(request)])
      expect((yield* TestTelemetry.spansNamed("activity Before")).length).toBe(1)
      expect((yield* TestTelemetry.spansNamed("activity After")).length).toBe(1)
    })))

  it.live("resumeTrace linked: a resumed run starts its own trace, linked to the caller", () =>
    withTelemetry(
      Effect.gen(function*() {
        yield* Reminder.execute({ id: "m-2" }).pipe(Effect.withSpan("schedule-reminder"))
        yield* delivered
        const caller = yield* TestTelemetry.spanNamed("Reminder.execute")
        const runs = byStart(yield* TestTelemetry.spansNamed("workflow Reminder"))
        expect(runs).toHaveLength(2)
        const [first, resumed] = runs as [ReadableSpan, ReadableSpan]
        expect(TestTelemetry.parentSpanId(first)).toBe(spanId(caller))
        expect(TestTelemetry.parentSpanId(resumed)).toBeUndefined()
        expect(TestTelemetry.traceId(resumed)).not.toBe(TestTelemetry.traceId(caller))
        // first the origin, then what woke it up (the clock scheduled by the first run)
        expect(resumed.links.map((l) => l.context.spanId)).toEqual([spanId(caller), spanId(first)])
      }),
      WorkflowTelemetry.layer({ resumeTrace: "linked" })
    ))

  it.live("SuspendOnFailure: a failing run is counted suspended, not failed, and keeps the error on its span", () =>
    withTelemetry(Effect.gen(function*() {
      const executionId = yield* Fragile.execute({ id: "f-1" }, { discard: true })
      yield* awaitResult(Fragile, executionId, "Suspended")
      yield* delivered
      const run = yield* TestTelemetry.spanNamed("workflow Fragile")
      expect(run.attributes["workflow.run.result"]).toBe("suspended")
      expect(TestTelemetry.statusOf(run)).toBe("error")
      expect(run.attributes["error.type"]).toBe("ChargeDeclined")
      const wf = { "workflow.name": "Fragile" }
      expect(yield* TestTelemetry.metricValue("workflow.suspended", wf)).toBe(1)
      expect(yield* Effect.flip(TestTelemetry.metricValue("workflow.failed", wf))).toBeDefined()
    })))

  it.live("an interrupted execution is counted failed with error.type=interrupted, its last run Unset", () =>
    withTelemetry(Effect.gen(function*() {
      const executionId = yield* Order.execute({ id: "o-2" }, { discard: true })
      yield* awaitResult(Order, executionId, "Suspended")
      yield* Order.interrupt(executionId)
      const result = yield* awaitResult(Order, executionId, "Complete")
      expect(Exit.isInterrupted((result as any).exit)).toBe(true)
      yield* delivered
      const runs = byStart(yield* TestTelemetry.spansNamed("workflow Order"))
      expect(runs.map((r) => r.attributes["workflow.run.result"])).toEqual(["suspended", "interrupted"])
      expect(TestTelemetry.statusOf(runs[1]!)).toBe("unset")
      expect(runs[1]!.attributes["effect.interrupted"]).toBe(true)
      const wf = { "workflow.name": "Order" }
      expect(yield* TestTelemetry.metricValue("workflow.failed", { ...wf, "error.type": "interrupted" })).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.suspended", wf)).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.started", wf)).toBe(1)
      expect(yield* Effect.flip(TestTelemetry.metricValue("workflow.completed", wf))).toBeDefined()
      expect((yield* TestTelemetry.metricPoint("workflow.duration", { ...wf, result: "interrupted" })).value)
        .toMatchObject({ count: 1 })
    })))

  it.live("a child workflow runs in its parent's trace, under the parent's call to it", () =>
    withTelemetry(Effect.gen(function*() {
      yield* Batch.execute({ id: "b-1" }).pipe(Effect.withSpan("nightly"))
      yield* delivered
      const nightly = yield* TestTelemetry.spanNamed("nightly")
      const parentRun = yield* TestTelemetry.spanNamed("workflow Batch")
      const call = yield* TestTelemetry.spanNamed("Item.execute")
      const childRun = yield* TestTelemetry.spanNamed("workflow Item")
      const pack = yield* TestTelemetry.spanNamed("activity Pack")
      expect(TestTelemetry.parentSpanId(call)).toBe(spanId(parentRun))
      expect(TestTelemetry.parentSpanId(childRun)).toBe(spanId(call))
      for (const span of [parentRun, call, childRun, pack]) {
        expect(TestTelemetry.traceId(span)).toBe(TestTelemetry.traceId(nightly))
      }
      expect(pack.attributes["workflow.name"]).toBe("Item")
      expect(yield* TestTelemetry.metricValue("workflow.started", { "workflow.name": "Batch" })).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.completed", { "workflow.name": "Batch" })).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.started", { "workflow.name": "Item" })).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.completed", { "workflow.name": "Item" })).toBe(1)
      expect(
        yield* TestTelemetry.metricValue("activity.attempts", {
          "workflow.name": "Item",
          "activity.name": "Pack",
          result: "ok"
        })
      ).toBe(1)
    })))

  it.live("the workflow metrics are exposed with their Prometheus types and pass promtool check metrics", () =>
    withTelemetry(Effect.gen(function*() {
      yield* Effect.flip(Refund.execute({ id: "r-2" }))
      yield* Reminder.execute({ id: "m-3" })
      const text = yield* TestTelemetry.scrape()
      for (
        const line of [
          "# TYPE workflow_started_total counter",
          "# TYPE workflow_completed_total counter",
          "# TYPE workflow_failed_total counter",
          "# TYPE workflow_suspended_total counter",
          "# TYPE workflow_duration_seconds histogram",
          "# TYPE activity_attempts_total counter",
          "# TYPE activity_duration_seconds histogram"
        ]
      ) expect(text).toContain(line)
      // whole-workflow buckets reach days, not the 10 s of the request-duration default
      const bucket = (le: string) =>
        TestTelemetry.prometheusValue("workflow_duration_seconds_bucket", {
          workflow_name: "Reminder",
          result: "ok",
          le
        })
      expect(yield* bucket("604800")).toBe(1)
      expect(yield* bucket("0.01")).toBe(0)
      expect(TestTelemetry.promtoolCheck(text)).toEqual({ status: 0, output: "" })
    })))

  it("every entry point is a function, also with every option left out", () => {
    for (const entry of [WorkflowTelemetry.layer, WorkflowTelemetry.layerConfig, WorkflowTelemetry.make]) {
      expect(typeof entry).toBe("function")
    }
  })

  it.effect("an unknown resumeTrace fails the layer with the TelemetryOptionsError naming the option and value", () =>
    Effect.gen(function*() {
      const error = yield* Layer.build(
        WorkflowTelemetry.layer({ resumeTrace: "sideways" as any }).pipe(Layer.provide(WorkflowEngine.layerMemory))
      ).pipe(Effect.scoped, Effect.flip)
      expect(error).toBeInstanceOf(TelemetryOptionsError.TelemetryOptionsError)
      expect(error.message).toBe(
        `WorkflowTelemetry: option resumeTrace must be one of "child", "linked", got "sideways"`
      )
      expect(() => WorkflowTelemetry.make({} as any, { resumeTrace: "sideways" as any })).toThrow(error.message)
    }))

  it.effect("layerConfig reads its options from Config and rejects a bad value as a ConfigError", () =>
    Effect.gen(function*() {
      const layer = WorkflowTelemetry.layerConfig({
        resumeTrace: Config.literal("child", "linked")("WORKFLOW_RESUME_TRACE")
      }).pipe(Layer.provide(WorkflowEngine.layerMemory))
      const good = yield* Effect.exit(
        Layer.build(layer).pipe(
          Effect.scoped,
          Effect.withConfigProvider(ConfigProvider.fromJson({ WORKFLOW_RESUME_TRACE: "linked" }))
        )
      )
      expect(Exit.isSuccess(good)).toBe(true)
      const bad = yield* Effect.flip(
        Layer.build(layer).pipe(
          Effect.scoped,
          Effect.withConfigProvider(ConfigProvider.fromJson({ WORKFLOW_RESUME_TRACE: "sideways" }))
        )
      )
      expect(String(bad)).toContain("WORKFLOW_RESUME_TRACE")
    }))
})
