import { Instrument, PrometheusMetrics, Signals } from "@effect-telemetry/core"
import { describe, expect, it } from "@effect/vitest"

const jobs = Instrument.counter({ name: "signals_test.jobs", unit: "{job}", description: "Jobs done." })

const catalogue = Signals.make({
  surface: "jobs",
  spans: [{
    name: "job {job.name}",
    nameNote: "(`job nightly`)",
    ours: true,
    kind: "Internal",
    attributes: "`job.name`",
    meaning: "One job."
  }],
  metrics: [{ instrument: jobs, ours: true, attributes: "always `job.name`" }]
})

describe("Signals", () => {
  it("renders a span row and a metric row whose kind, unit and Prometheus name come from the instrument", () => {
    expect(Signals.render(catalogue, "spans").split("\n")[2]).toBe(
      "| `job {job.name}` (`job nightly`) *(ours)* | Internal | `job.name` | One job. |"
    )
    // the meaning defaults to the instrument's description
    expect(Signals.render(catalogue, "metrics").split("\n")[2]).toBe(
      `| \`signals_test.jobs\` *(ours)* | counter | \`{job}\` | always \`job.name\` | Jobs done. | \`${
        PrometheusMetrics.exposedName(jobs.descriptor)
      }\` |`
    )
  })

  it("apply replaces the text between a surface's markers and keeps the prose around them", () => {
    const doc = [
      "intro",
      "<!-- signals:jobs:spans -->",
      "stale",
      "<!-- /signals:jobs:spans -->",
      "between",
      "<!-- signals:jobs:metrics -->",
      "<!-- /signals:jobs:metrics -->",
      "outro"
    ].join("\n")
    const out = Signals.apply(doc, [catalogue])
    expect(out).not.toContain("stale")
    expect(out).toContain(
      `<!-- signals:jobs:spans -->\n${Signals.render(catalogue, "spans")}\n<!-- /signals:jobs:spans -->`
    )
    expect(out.startsWith("intro\n")).toBe(true)
    expect(out).toContain("<!-- /signals:jobs:spans -->\nbetween\n")
    expect(out.endsWith("<!-- /signals:jobs:metrics -->\noutro")).toBe(true)
    // generating twice changes nothing
    expect(Signals.apply(out, [catalogue])).toBe(out)
  })

  it("apply fails naming the surface and part whose markers are missing", () => {
    expect(() => Signals.apply("<!-- signals:jobs:spans --><!-- /signals:jobs:spans -->", [catalogue])).toThrow(
      "Signals.apply: no markers for jobs:metrics"
    )
  })
})
