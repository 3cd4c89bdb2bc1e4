// The same instrumentation over the durable engine: @effect/cluster's ClusterWorkflowEngine,
// journaled in a real Postgres (single runner).
import { TestTelemetry } from "@effect-telemetry/testing"
import { WorkflowTelemetry } from "@effect-telemetry/workflow"
import * as ClusterWorkflowEngine from "@effect/cluster/ClusterWorkflowEngine"
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as Runners from "@effect/cluster/Runners"
import * as RunnerStorage from "@effect/cluster/RunnerStorage"
import * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Activity from "@effect/workflow/Activity"
import * as DurableDeferred from "@effect/workflow/DurableDeferred"
import * as Workflow from "@effect/workflow/Workflow"
import type * as WorkflowEngine from "@effect/workflow/WorkflowEngine"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { dropTables, journal, PgLive, tablePrefix, unavailable } from "./support/postgres.js"

class ChargeDeclined extends Schema.TaggedError<ChargeDeclined>()("ChargeDeclined", { attempt: Schema.Number }) {}

const Order = Workflow.make({
  name: "ClusterOrder",
  payload: { id: Schema.String },
  success: Schema.String,
  error: ChargeDeclined,
  idempotencyKey: ({ id }) => id
})

const Approval = DurableDeferred.make("Approval", { success: Schema.String })

const OrderLive = Order.toLayer(Effect.fn(function*({ id }) {
  yield* Activity.make({ name: "Reserve", success: Schema.String, execute: Effect.succeed("reserved") })
  yield* Activity.make({
    name: "Charge",
    success: Schema.Number,
    error: ChargeDeclined,
    execute: Effect.flatMap(
      Activity.CurrentAttempt,
      (attempt) => attempt === 1 ? Effect.fail(new ChargeDeclined({ attempt })) : Effect.succeed(attempt)
    )
  }).pipe(Activity.retry({ times: 3 }))
  const approvedBy = yield* DurableDeferred.await(Approval)
  yield* Activity.make({ name: "Ship", execute: Effect.void })
  return `${id}:${approvedBy}`
}))

const Cluster = Sharding.layer.pipe(
  Layer.provideMerge(Runners.layerNoop),
  Layer.provideMerge(SqlMessageStorage.layerWith({ prefix: tablePrefix })),
  Layer.provide([RunnerStorage.layerMemory, RunnerHealth.layerNoop]),
  Layer.provide(ShardingConfig.layer({ entityMessagePollInterval: "50 millis", entityReplyPollInterval: "20 millis" })),
  Layer.provide(PgLive)
)

const Engine = WorkflowTelemetry.layer().pipe(
  Layer.provide(ClusterWorkflowEngine.layer),
  Layer.provide(Cluster)
)

const byStart = (spans: ReadonlyArray<ReadableSpan>) =>
  [...spans].sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])

const delivered = Effect.flatMap(
  TestTelemetry.TestTelemetry,
  (t) => Effect.promise(() => t.tracerProvider.accounting.idle())
)

const awaitResult = (executionId: string, tag: string) =>
  Effect.gen(function*() {
    for (let i = 0; i < 500; i++) {
      const result = yield* Order.poll(executionId)
      if (result?._tag === tag) return result
      yield* Effect.sleep("20 millis")
    }
    return yield* Effect.dieMessage(`${executionId} never reached ${tag}`)
  }).pipe(Effect.withTracerEnabled(false))

afterAll(() => (unavailable === undefined ? Effect.runPromise(dropTables) : undefined))

/** The same engine without our layer: a runner that was never instrumented. */
const PlainEngine = ClusterWorkflowEngine.layer.pipe(Layer.provide(Cluster))

/**
 * One "process": the engine (instrumented unless `plain`) and the workflow, built and torn
 * down around `effect`.
 */
const inProcess = <A, E>(effect: Effect.Effect<A, E, WorkflowEngine.WorkflowEngine>, plain = false) =>
  Effect.scoped(
    Effect.flatMap(
      Layer.build(OrderLive.pipe(Layer.provideMerge(plain ? PlainEngine : Engine))),
      (context) => Effect.provide(effect, context)
    )
  )

/** Starts an order and waits for its suspension on the approval. */
const startOrder = (id: string) =>
  Effect.gen(function*() {
    const executionId = yield* Order.execute({ id }, { discard: true }).pipe(Effect.withSpan("checkout"))
    yield* awaitResult(executionId, "Suspended")
    return executionId
  })

/** Approves a suspended order and waits for its result. */
const approveOrder = (executionId: string) =>
  Effect.gen(function*() {
    const token = DurableDeferred.tokenFromExecutionId(Approval, { workflow: Order, executionId })
    yield* DurableDeferred.succeed(Approval, { token, value: "alice" }).pipe(Effect.withSpan("approval-webhook"))
    return yield* awaitResult(executionId, "Complete")
  })

/** What the workflow itself journals: its activities' attempts, nothing of ours. */
const ownActivities = ["Reserve/1", "Charge/1", "Charge/2", "Ship/1"]

describe.skipIf(unavailable !== undefined)("WorkflowTelemetry on the cluster engine (Postgres)", () => {
  it.live("a retry and a suspension across two engine lifetimes: the resumed run continues the caller's trace from the journal", () =>
    Effect.gen(function*() {
      const id = `o-${tablePrefix}`
      // First process: start, run to the suspension, shut the engine down.
      const executionId = yield* inProcess(Effect.gen(function*() {
        const executionId = yield* Order.execute({ id }, { discard: true }).pipe(Effect.withSpan("checkout"))
        yield* awaitResult(executionId, "Suspended")
        return executionId
      }))
      // Second process: a new engine over the same Postgres journal; a webhook completes the
      // deferred and the execution resumes here.
      yield* inProcess(Effect.gen(function*() {
        const token = DurableDeferred.tokenFromExecutionId(Approval, { workflow: Order, executionId })
        yield* DurableDeferred.succeed(Approval, { token, value: "alice" }).pipe(Effect.withSpan("approval-webhook"))
        const result = yield* awaitResult(executionId, "Complete")
        expect(result).toMatchObject({ exit: { _tag: "Success", value: `${id}:alice` } })
      }))
      yield* delivered

      const checkout = yield* TestTelemetry.spanNamed("checkout")
      const webhook = yield* TestTelemetry.spanNamed("approval-webhook")
      const runs = byStart(yield* TestTelemetry.spansNamed("workflow ClusterOrder"))
      expect(runs.map((r) => r.attributes["workflow.run.result"])).toEqual(["suspended", "completed"])
      expect(runs.map((r) => r.attributes["workflow.resumed"])).toEqual([false, true])
      const [first, resumed] = runs as [ReadableSpan, ReadableSpan]
      // the origin the first process journaled is the parent of the run in the second one
      expect(TestTelemetry.parentSpanId(first)).toBeDefined()
      expect(TestTelemetry.parentSpanId(resumed)).toBe(TestTelemetry.parentSpanId(first))
      expect(TestTelemetry.traceId(first)).toBe(TestTelemetry.traceId(checkout))
      expect(TestTelemetry.traceId(resumed)).toBe(TestTelemetry.traceId(checkout))
      // the journaling of the origin starts no trace of its own: every span is in the
      // caller's trace or the webhook's
      const traces = new Set((yield* TestTelemetry.spans).map(TestTelemetry.traceId))
      expect([...traces].sort()).toEqual([TestTelemetry.traceId(checkout), TestTelemetry.traceId(webhook)].sort())

      // nothing journaled for telemetry: the stored activities are the workflow's own, and the
      // trace context the runs continue is the one the cluster stored with the run request
      const stored = yield* journal(executionId)
      expect(stored.activities).toEqual(ownActivities)
      expect(stored.runs).toHaveLength(1)
      expect(stored.runs[0]!.traceId).toBe(TestTelemetry.traceId(checkout))
      expect(stored.runs[0]!.spanId).toBe(TestTelemetry.parentSpanId(first))

      const charges = byStart(yield* TestTelemetry.spansNamed("activity Charge"))
      expect(charges.map((s) => s.attributes["activity.attempt"])).toEqual([1, 2])
      expect(charges.map(TestTelemetry.statusOf)).toEqual(["error", "unset"])
      expect(yield* TestTelemetry.spansNamed("activity Reserve")).toHaveLength(1)
      const ship = yield* TestTelemetry.spanNamed("activity Ship")
      expect(TestTelemetry.traceId(ship)).toBe(TestTelemetry.traceId(checkout))

      const wf = { "workflow.name": "ClusterOrder" }
      expect(yield* TestTelemetry.metricValue("workflow.started", wf)).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.suspended", wf)).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.completed", wf)).toBe(1)
      const attempts = (activity: string, result: string) =>
        TestTelemetry.metricValue("activity.attempts", { ...wf, "activity.name": activity, result })
      expect(yield* attempts("Reserve", "ok")).toBe(1)
      expect(yield* attempts("Charge", "error")).toBe(1)
      expect(yield* attempts("Charge", "ok")).toBe(1)
      expect(yield* attempts("Ship", "ok")).toBe(1)
      expect(yield* TestTelemetry.metricValue("activity.retries", { ...wf, "activity.name": "Charge" })).toBe(1)
      // start to completion spans both processes
      expect((yield* TestTelemetry.metricPoint("workflow.duration", { ...wf, result: "ok" })).value)
        .toMatchObject({ count: 1 })
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.live("an interrupt requested while suspended is counted failed with error.type=interrupted, not suspended", () =>
    Effect.gen(function*() {
      const id = `o2-${tablePrefix}`
      yield* inProcess(Effect.gen(function*() {
        const executionId = yield* Order.execute({ id }, { discard: true })
        yield* awaitResult(executionId, "Suspended")
        yield* Order.interrupt(executionId)
        const result = yield* awaitResult(executionId, "Complete")
        expect(result).toMatchObject({ exit: { _tag: "Failure" } })
      }))
      yield* delivered
      const runs = byStart(yield* TestTelemetry.spansNamed("workflow ClusterOrder"))
      expect(runs.map((r) => r.attributes["workflow.run.result"])).toEqual(["suspended", "interrupted"])
      const wf = { "workflow.name": "ClusterOrder" }
      expect(yield* TestTelemetry.metricValue("workflow.failed", { ...wf, "error.type": "interrupted" })).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.suspended", wf)).toBe(1)
      expect((yield* TestTelemetry.metricPoint("workflow.duration", { ...wf, result: "interrupted" })).value)
        .toMatchObject({ count: 1 })
    }).pipe(Effect.provide(TestTelemetry.layer())))

  it.live("started on an instrumented engine, completed on one without our layer, and the other way round", () =>
    Effect.gen(function*() {
      // instrumented start, plain completion
      const first = yield* inProcess(startOrder(`o3-${tablePrefix}`))
      const done = yield* inProcess(approveOrder(first), true)
      expect(done).toMatchObject({ exit: { _tag: "Success", value: `o3-${tablePrefix}:alice` } })
      expect((yield* journal(first)).activities).toEqual(ownActivities)

      // plain start, instrumented completion: the resumed run is in the caller's trace, from
      // the context the cluster stored with the run request
      const second = yield* inProcess(startOrder(`o4-${tablePrefix}`), true)
      yield* delivered
      yield* TestTelemetry.resetSpans
      const resumedDone = yield* inProcess(approveOrder(second))
      expect(resumedDone).toMatchObject({ exit: { _tag: "Success", value: `o4-${tablePrefix}:alice` } })
      expect((yield* journal(second)).activities).toEqual(ownActivities)
      yield* delivered
      const stored = (yield* journal(second)).runs[0]!
      const run = yield* TestTelemetry.spanNamed("workflow ClusterOrder")
      expect(run.attributes["workflow.execution.id"]).toBe(second)
      expect(run.attributes["workflow.resumed"]).toBe(true)
      expect(run.attributes["workflow.run.result"]).toBe("completed")
      expect(TestTelemetry.traceId(run)).toBe(stored.traceId)
      expect(TestTelemetry.parentSpanId(run)).toBe(stored.spanId)
      // the replayed activities made no span; the one that ran on the instrumented side did
      expect((yield* TestTelemetry.spans).filter((s) => s.name.startsWith("activity ")).map((s) => s.name))
        .toEqual(["activity Ship"])
      const wf = { "workflow.name": "ClusterOrder" }
      // each side counts what it saw: the start of the first, the completion of the second
      expect(yield* TestTelemetry.metricValue("workflow.started", wf)).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.suspended", wf)).toBe(1)
      expect(yield* TestTelemetry.metricValue("workflow.completed", wf)).toBe(1)
    }).pipe(Effect.provide(TestTelemetry.layer())))
})
