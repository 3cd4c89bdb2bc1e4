// Two runner processes over the real Postgres (issue 15): socket runners A and B of one
// @effect/cluster cluster (loopback ports apart, tables under a prefix of this run), each
// exporting OTLP to one receiver. Executions start on A and suspend (a durable sleep written
// with Effect.gen, the same written as an anonymous Effect.fn, a wait on a DurableDeferred);
// A stops mid-sleep; B resumes and completes them. Once with SIGTERM (A shuts down: it
// releases its shards and flushes its telemetry), once with SIGKILL (A loses what it had not
// exported, and B waits for A's shard locks to expire).
import { OtlpReceiver, TestServices } from "@effect-telemetry/testing"
import * as Effect from "effect/Effect"
import { afterAll, describe, expect, it } from "vitest"
import { dropTables, tablePrefix, unavailable } from "./support/postgres.js"
import { removeBundle, type Runner, type RunnerEvent, startRunner, stopRunner } from "./support/runner.js"

afterAll(() => {
  removeBundle()
  return unavailable === undefined ? Effect.runPromise(dropTables) : undefined
})

type Kind = "gen" | "fn" | "approve"
const kinds: ReadonlyArray<Kind> = ["gen", "fn", "approve"]
const workflowNames: Record<Kind, string> = { gen: "SleepGen", fn: "SleepFn", approve: "Approve" }

/** The durable sleep of the two sleeping workflows. */
const SLEEP_MILLIS = 3_000

/** The fixture's shard lock expiry: what B waits, after a SIGKILL, before it takes A's shards. */
const SHARD_LOCK_EXPIRATION_SECONDS = 3

const runnerEnv = async (
  receiver: OtlpReceiver.OtlpReceiver,
  name: string,
  prefix: string,
  extra: Record<string, string> = {}
): Promise<Record<string, string>> => ({
  DATABASE_URL: TestServices.databaseUrl,
  TABLE_PREFIX: prefix,
  RUNNER_PORT: String(await TestServices.freePort()),
  SLEEP_MILLIS: String(SLEEP_MILLIS),
  SHARD_LOCK_EXPIRATION_SECONDS: String(SHARD_LOCK_EXPIRATION_SECONDS),
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  OTEL_METRICS_EXPORTER: "otlp",
  OTEL_RESOURCE_ATTRIBUTES: `service.instance.id=${name}`,
  ...extra
})

interface Started {
  readonly kind: Kind
  readonly executionId: string
  /** The `checkout {kind}` span on A the execution was started under. */
  readonly traceId: string
  readonly spanId: string
  readonly at: number
}

interface Outcome {
  readonly started: ReadonlyArray<Started>
  readonly webhook: { readonly traceId: string; readonly spanId: string }
  /** From A's end to the last completion on B. */
  readonly resumeMillis: number
}

/**
 * A joins alone first (it creates the tables: joining together on an empty database, two
 * runners race on the upstream table creation, see the README); three executions start on A
 * and suspend; B joins; A is ended by `signal` mid-sleep; the approval comes from B (another
 * request) after A is gone, and B completes all three.
 */
const scenario = async (
  receiver: OtlpReceiver.OtlpReceiver,
  prefix: string,
  signal: "SIGTERM" | "SIGKILL",
  envA: Record<string, string> = {}
): Promise<Outcome> => {
  const runners: Array<Runner> = []
  try {
    // Both processes loaded up front, so B joins within a moment when asked, well inside the
    // sleep however slow the machine is to start a process.
    const a = await startRunner("A", await runnerEnv(receiver, "runner-a", prefix, envA))
    runners.push(a)
    const b = await startRunner("B", await runnerEnv(receiver, "runner-b", prefix))
    runners.push(b)
    await Promise.all([a.waitFor((e) => e.event === "loaded"), b.waitFor((e) => e.event === "loaded")])
    a.send({ join: true })
    await a.waitFor((e) => e.event === "ready")
    kinds.forEach((kind) => a.send({ start: kind, id: `${kind}-${prefix}` }))
    const started = await Promise.all(kinds.map(async (kind): Promise<Started> => {
      const event = await a.waitFor((e) => e.event === "started" && e.kind === kind)
      await a.waitFor((e) => e.event === "suspended" && e.kind === kind)
      return {
        kind,
        executionId: event.executionId as string,
        traceId: event.traceId as string,
        spanId: event.spanId as string,
        at: event.at
      }
    }))
    b.send({ join: true })
    await b.waitFor((e) => e.event === "ready")
    // SIGTERM: runMain interrupts the program, closes the layers and exits 0
    expect(await stopRunner(a, signal)).toEqual(
      signal === "SIGTERM" ? { code: 0, signal: null } : { code: null, signal }
    )
    // The clocks were scheduled after `started`: A must be gone before the first is due, or
    // A itself resumed the sleeps and this test would not test B's takeover.
    expect(Date.now(), "A stopped before the clocks were due").toBeLessThan(
      Math.min(...started.map((s) => s.at)) + SLEEP_MILLIS
    )
    const stoppedAt = Date.now()
    const approve = started.find((s) => s.kind === "approve")!
    b.send({ approve: approve.executionId })
    const approved = await b.waitFor((e) => e.event === "approved")
    started.forEach((s) => b.send({ await: s.executionId, kind: s.kind }))
    const completed: Array<RunnerEvent> = await Promise.all(
      started.map((s) => b.waitFor((e) => e.event === "completed" && e.executionId === s.executionId, 60_000))
    )
    expect(completed.map((e) => e.exit)).toEqual(["Success", "Success", "Success"])
    expect(b.events.filter((e) => e.event === "error")).toEqual([])
    const resumeMillis = Math.max(...completed.map((e) => e.at)) - stoppedAt
    // B shuts down cleanly: everything it recorded is exported
    expect(await stopRunner(b, "SIGTERM")).toEqual({ code: 0, signal: null })
    return {
      started,
      webhook: { traceId: approved.traceId as string, spanId: approved.spanId as string },
      resumeMillis
    }
  } finally {
    for (const runner of runners) await stopRunner(runner, "SIGKILL")
  }
}

const runnerOf = (item: { readonly resource: OtlpReceiver.Attributes }) => item.resource["service.instance.id"]

/** Spans about one execution: ours, the library's and the cluster's carry its id. */
const aboutExecution = (spans: ReadonlyArray<OtlpReceiver.ReceivedSpan>, executionId: string) =>
  spans.filter((s) =>
    s.attributes["workflow.execution.id"] === executionId || s.attributes["executionId"] === executionId ||
    s.attributes["entity.id"] === executionId
  )

const runsOf = (spans: ReadonlyArray<OtlpReceiver.ReceivedSpan>, kind: Kind, executionId: string) =>
  spans
    .filter((s) =>
      s.name === `workflow ${workflowNames[kind]}` && s.attributes["workflow.execution.id"] === executionId
    )
    .sort((x, y) => Number(x.startTimeUnixNano - y.startTimeUnixNano))

/**
 * A counter's total across runners: each runner's last (cumulative) point, summed. Absent
 * everywhere is 0.
 */
const total = (points: ReadonlyArray<OtlpReceiver.ReceivedDataPoint>, name: string, workflowName: string) => {
  const last = new Map<unknown, number>()
  for (const point of points) {
    if (point.name !== name || point.attributes["workflow.name"] !== workflowName) continue
    last.set(runnerOf(point), point.value ?? 0)
  }
  return [...last.values()].reduce((sum, value) => sum + value, 0)
}

describe.skipIf(unavailable !== undefined)("two runner processes over Postgres", () => {
  it(
    "SIGTERM of A mid-sleep: B resumes; one trace per execution with intact parents, counts once across runners",
    async () => {
      const receiver = await OtlpReceiver.start()
      try {
        const { resumeMillis, started, webhook } = await scenario(receiver, `${tablePrefix}_term`, "SIGTERM")
        console.log(
          `SIGTERM: B completed the executions ${resumeMillis} ms after A exited (clocks due 3 s after they were scheduled)`
        )
        const spans = receiver.spans()
        const byId = new Map(spans.map((s) => [s.spanId, s]))

        // Every trace received is one execution's (its checkout's) or the webhook's: the
        // wake-ups start no trace of their own, however the body is written.
        expect(new Set(spans.map((s) => s.traceId))).toEqual(
          new Set([...started.map((s) => s.traceId), webhook.traceId])
        )

        for (const { executionId, kind, spanId, traceId } of started) {
          const runs = runsOf(spans, kind, executionId)
          expect(runs.map(runnerOf), kind).toEqual(["runner-a", "runner-b"])
          expect(runs.map((r) => r.attributes["workflow.resumed"])).toEqual([false, true])
          expect(runs.map((r) => r.attributes["workflow.run.result"])).toEqual(["suspended", "completed"])
          const [first, resumed] = runs as [OtlpReceiver.ReceivedSpan, OtlpReceiver.ReceivedSpan]
          // B's run is a child of the origin A journaled, in the caller's trace
          expect(resumed.parentSpanId).toBe(first.parentSpanId)

          // one trace per execution, with intact parents: every span of the checkout's trace
          // but the checkout itself has its parent among the received spans
          const trace = spans.filter((s) => s.traceId === traceId)
          expect(trace.filter((s) => s.parentSpanId === undefined).map((s) => s.spanId)).toEqual([spanId])
          for (const span of trace) {
            if (span.parentSpanId !== undefined) expect(byId.get(span.parentSpanId)?.traceId, span.name).toBe(traceId)
          }
          const elsewhere = aboutExecution(spans, executionId).filter((s) => s.traceId !== traceId)
          if (kind === "approve") {
            // the approval's own request: the webhook and the cluster's delivery of the deferred
            expect(elsewhere.map((s) => s.name)).toEqual([`Workflow/Approve(${executionId}).deferred`])
            expect(elsewhere[0]!.parentSpanId).toBe(webhook.spanId)
          } else {
            expect(elsewhere.map((s) => s.name), kind).toEqual([])
          }

          // activities: Before ran on A, After on B; B's replay of Before made no span of ours
          const attempts = (name: string) => trace.filter((s) => s.name === `activity ${name}`).map(runnerOf)
          expect(attempts("Before")).toEqual(["runner-a"])
          expect(attempts("After")).toEqual(["runner-b"])

          // counted once across both runners
          const name = workflowNames[kind]
          expect(total(receiver.dataPoints(), "workflow.started", name), kind).toBe(1)
          expect(total(receiver.dataPoints(), "workflow.suspended", name), kind).toBe(1)
          expect(total(receiver.dataPoints(), "workflow.completed", name), kind).toBe(1)
        }

        // The DurableDeferred, as the README says for the cluster engine: the resumed run links
        // to the cluster's re-delivery of the stored run request (B's `.run` span, in the
        // execution's trace), not to the webhook; the webhook's trace holds the delivery of
        // the deferred, a child of the webhook.
        const approve = started.find((s) => s.kind === "approve")!
        const [, resumed] = runsOf(spans, "approve", approve.executionId)
        expect(resumed!.links).toHaveLength(1)
        const linked = byId.get(resumed!.links[0]!.spanId)!
        expect(linked.name).toBe(`Workflow/Approve(${approve.executionId}).run`)
        expect(runnerOf(linked)).toBe("runner-b")
        expect(linked.traceId).toBe(approve.traceId)
        expect(spans.filter((s) => s.traceId === webhook.traceId).map((s) => s.name).sort()).toEqual(
          ["approval-webhook", `Workflow/Approve(${approve.executionId}).deferred`].sort()
        )
      } finally {
        await receiver.close()
      }
    },
    90_000
  )

  it(
    "SIGKILL of A mid-sleep: B resumes after A's shard locks expire, in A's traces; A's unexported spans and counters are lost",
    async () => {
      const receiver = await OtlpReceiver.start()
      try {
        // A's batch delay and metric interval outlast its life: nothing of A is exported
        // before the kill, the case the README describes (by default up to 5 s of spans and
        // 60 s of counters).
        const { resumeMillis, started, webhook } = await scenario(receiver, `${tablePrefix}_kill`, "SIGKILL", {
          OTEL_BSP_SCHEDULE_DELAY: "60000",
          OTEL_METRIC_EXPORT_INTERVAL: "60000"
        })
        const spans = receiver.spans()
        const byId = new Map(spans.map((s) => [s.spanId, s]))
        expect(spans.filter((s) => runnerOf(s) === "runner-a")).toEqual([])
        expect(receiver.dataPoints().filter((p) => runnerOf(p) === "runner-a")).toEqual([])
        expect(new Set(spans.map((s) => s.traceId))).toEqual(
          new Set([...started.map((s) => s.traceId), webhook.traceId])
        )

        for (const { executionId, kind, traceId } of started) {
          // only B's run arrived: resumed, in the trace A's checkout started, its parent (the
          // origin, on A) lost with A
          const runs = runsOf(spans, kind, executionId)
          expect(runs.map(runnerOf), kind).toEqual(["runner-b"])
          const [resumed] = runs as [OtlpReceiver.ReceivedSpan]
          expect(resumed.attributes["workflow.resumed"]).toBe(true)
          expect(resumed.attributes["workflow.run.result"]).toBe("completed")
          expect(resumed.traceId).toBe(traceId)
          expect(byId.has(resumed.parentSpanId!)).toBe(false)
          for (const span of aboutExecution(spans, executionId)) {
            if (span.name !== `Workflow/Approve(${executionId}).deferred`) expect(span.traceId, span.name).toBe(traceId)
          }

          // A's counters never left A: the execution's start and suspension are not counted;
          // its completion on B is, and its duration from the journaled start
          const name = workflowNames[kind]
          expect(total(receiver.dataPoints(), "workflow.started", name), kind).toBe(0)
          expect(total(receiver.dataPoints(), "workflow.suspended", name), kind).toBe(0)
          expect(total(receiver.dataPoints(), "workflow.completed", name), kind).toBe(1)
          const duration = receiver.dataPoints().find((p) =>
            p.name === "workflow.duration" && p.attributes["workflow.name"] === name
          )
          expect(duration?.histogram?.count).toBe(1)
        }
        // For the README: B took over after the lock expiry (3 s here, 35 s by default).
        console.log(
          `SIGKILL: B completed the executions ${resumeMillis} ms after A was killed (shard lock expiry ${SHARD_LOCK_EXPIRATION_SECONDS} s)`
        )
      } finally {
        await receiver.close()
      }
    },
    90_000
  )
})
