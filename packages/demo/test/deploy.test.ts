/**
 * The deployment artefacts (docker-compose.yml, deploy/**) checked without Docker: the files
 * parse, images are pinned, the demo's environment points at services that exist on the ports
 * they listen on, the collector's pipelines are wired, promtool accepts the Prometheus config,
 * the rules and every dashboard query, and every metric those queries name is one the project
 * declares, spelled as the Prometheus exposition spells it.
 */
import { Instrument, PrometheusMetrics, Semconv } from "@effect-telemetry/core"
import { beforeAll, describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Yaml from "yaml"
import { catalogues } from "../../../scripts/signals.js"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const read = (file: string) => Fs.readFileSync(Path.join(root, file), "utf8")
const readYaml = (file: string): any => Yaml.parse(read(file))

const compose = readYaml("docker-compose.yml")
const collector = readYaml("deploy/otel-collector.yaml")
const prometheus = readYaml("deploy/prometheus.yml")
const alerts = readYaml("deploy/alerts.yml")
const dashboard = JSON.parse(read("deploy/grafana/dashboards/effect-telemetry.json"))

const service = (name: string): any => {
  const s = compose.services?.[name]
  if (s === undefined) {
    throw new Error(
      `docker-compose.yml has no service ${name}; it has ${Object.keys(compose.services ?? {}).join(", ")}`
    )
  }
  return s
}
const demoEnv: Record<string, string> = Object.fromEntries(
  Object.entries(service("demo").environment ?? {}).map(([k, v]) => [k, String(v)])
)
const portOf = (url: URL) =>
  Number(url.port !== "" ? url.port : ({ "http:": 80, "https:": 443 } as Record<string, number>)[url.protocol])
const portOfEndpoint = (endpoint: string) => Number(endpoint.slice(endpoint.lastIndexOf(":") + 1))
/** Container ports a service publishes (`"host:container"` entries). */
const containerPorts = (s: any): Array<number> =>
  (s.ports ?? []).map((p: string | number) => Number(String(p).split(":").at(-1)!.split("/")[0]))
const scrapeTargets = (job: string): Array<string> => {
  const config = (prometheus.scrape_configs as Array<any>).find((c) => c.job_name === job)
  if (config === undefined) throw new Error(`prometheus.yml has no scrape job ${job}`)
  return config.static_configs.flatMap((s: any) => s.targets as Array<string>)
}

// --- PromQL ---------------------------------------------------------------------------------

const keywords = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "inf",
  "nan",
  "atan2",
  "start",
  "end"
])

/**
 * The metric and label names a PromQL expression (or a Grafana `label_values(...)` query)
 * mentions. Strings, ranges and Grafana variables are dropped first so that nothing inside
 * them reads as a name; function names are recognised by the parenthesis after them.
 */
const namesIn = (expression: string): { metrics: Set<string>; labels: Set<string> } => {
  const metrics = new Set<string>()
  const labels = new Set<string>()
  let expr = expression.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, "\"\"")
  expr = expr.replace(
    /\blabel_values\(\s*(?:([^,()]*(?:\{[^}]*\})?)\s*,)?\s*([a-zA-Z_]\w*)\s*\)/g,
    (_, selector, label) => {
      labels.add(label)
      return selector ?? ""
    }
  )
  expr = expr.replace(/\{([^}]*)\}/g, (_, matchers: string) => {
    for (const matcher of matchers.split(",")) {
      const name = /^\s*([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/.exec(matcher)?.[1]
      if (name !== undefined) labels.add(name)
    }
    return ""
  })
  expr = expr.replace(/\[[^\]]*\]/g, "")
  expr = expr.replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_, list: string) => {
    for (const name of list.split(",")) if (name.trim() !== "") labels.add(name.trim())
    return " "
  })
  for (const match of expr.matchAll(/(?<![\w.:$])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()/g)) {
    if (!keywords.has(match[1]!.toLowerCase())) metrics.add(match[1]!)
  }
  return { metrics, labels }
}

const alertRules: Array<{ alert: string; expr: string; annotations?: Record<string, string> }> =
  (alerts.groups as Array<any>)
    .flatMap((g) => g.rules)
const alertingRules = alertRules.filter((r) => typeof (r as any).alert === "string")

/** Every PromQL string in the dashboard: panel targets and templating queries. */
const dashboardQueries = (): Array<{ where: string; expr: string; legend?: string }> => {
  const found: Array<{ where: string; expr: string; legend?: string }> = []
  const walk = (node: unknown, where: string): void => {
    if (Array.isArray(node)) return node.forEach((n, i) => walk(n, `${where}[${i}]`))
    if (node === null || typeof node !== "object") return
    const o = node as Record<string, unknown>
    const title = typeof o.title === "string" ? `${where} "${o.title}"` : where
    if (typeof o.expr === "string") {
      found.push({
        where: title,
        expr: o.expr,
        ...(typeof o.legendFormat === "string" ? { legend: o.legendFormat } : {})
      })
    }
    for (const [key, value] of Object.entries(o)) {
      if (key === "expr") continue
      walk(value, `${title}.${key}`)
    }
  }
  walk(dashboard.panels, "panels")
  for (const variable of dashboard.templating?.list ?? []) {
    if (variable.type !== "query") continue
    const query = typeof variable.query === "string" ? variable.query : variable.query?.query
    if (typeof query === "string") found.push({ where: `templating ${variable.name}`, expr: query })
  }
  return found
}

/** Dashboard queries as Prometheus sees them once Grafana substituted its variables. */
const asPrometheusSees = (expr: string) =>
  expr.replace(/\$__rate_interval|\$__interval|\$\{__rate_interval\}/g, "1m").replace(/\$\{?(\w+)\}?/g, "$1")

// --- what the project emits ----------------------------------------------------------------

/**
 * Exposed names of every instrument the surfaces declare: each package's public modules are
 * imported so their module-level `Instrument` declarations register, then every declared
 * instrument is turned into its Prometheus name by the exporter's own function. A package that fails to load is reported, not skipped.
 */
const surfaces = [
  "@effect-telemetry/core",
  "@effect-telemetry/http",
  "@effect-telemetry/sql",
  "@effect-telemetry/kv",
  "@effect-telemetry/queue",
  "@effect-telemetry/cdc",
  "@effect-telemetry/workflow",
  "@effect-telemetry/process"
] as const
const importFailures: Array<string> = []
const emitted = new Map<string, { readonly metric: string; readonly kind: string }>()

beforeAll(async () => {
  for (const surface of surfaces) {
    try {
      await import(surface)
    } catch (error) {
      importFailures.push(`${surface}: ${String(error)}`)
    }
  }
  for (const descriptor of Instrument.declared()) {
    const exposed = PrometheusMetrics.exposedName(descriptor)
    const series = descriptor.kind === "histogram" ? ["_bucket", "_sum", "_count"].map((s) => exposed + s) : [exposed]
    for (const s of series) emitted.set(s, { metric: descriptor.name, kind: descriptor.kind })
  }
})

/** A hint for a misspelt name: the emitted names sharing its longest prefix. */
const closest = (name: string): string => {
  for (let n = name.length - 1; n > 0; n--) {
    const near = [...emitted.keys()].filter((e) => e.startsWith(name.slice(0, n)))
    if (near.length > 0) return ` (did you mean ${near.slice(0, 3).join(" or ")}?)`
  }
  return ""
}

/** The dotted names among a text's code spans (`kv.namespace`; values like `ok` are not). */
const dottedNames = (text: string): Array<string> =>
  [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!).filter((name) => /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/.test(name))

/** Attribute names of metrics, from the signal declarations (core's and every surface's). */
const declaredAttributes = catalogues.flatMap((catalogue) =>
  catalogue.metrics.flatMap((metric) => dottedNames(metric.attributes))
)

/**
 * Label names the project's metrics can carry: every attribute in core's Semconv and in the
 * surfaces' signal declarations as Prometheus spells it, plus Prometheus' own.
 */
const knownLabels = new Set([
  "job",
  "instance",
  "le",
  ...[
    ...Object.entries(Semconv).filter(([key, v]) => key.startsWith("ATTR_") && typeof v === "string").map((
      [, v]
    ) => v as string),
    ...declaredAttributes
  ].map((name) => PrometheusMetrics.labelName(name))
])

// --- tests ----------------------------------------------------------------------------------

describe("docker-compose.yml", () => {
  it("defines the demo and every service it instruments or reports to", () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ["demo", "grafana", "jaeger", "otel-collector", "postgres", "prometheus", "rabbitmq", "redis"]
    )
  })

  it("pins every image, and the Dockerfile's base image, to a version tag", () => {
    const images: Array<[string, string]> = Object.entries(compose.services as Record<string, any>)
      .filter(([, s]) => s.image !== undefined)
      .map(([name, s]) => [name, String(s.image)])
    const dockerfile = read(service("demo").build.dockerfile)
    for (const line of dockerfile.split("\n")) {
      const from = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)/i.exec(line)
      if (from) images.push(["deploy/Dockerfile", from[1]!])
    }
    expect(images.length).toBe(Object.keys(compose.services).length)
    for (const [where, image] of images) {
      const tag = /^[^@\s]+:([\w][\w.-]*)$/.exec(image)?.[1]
      expect(tag, `${where}: ${image} has no tag`).toBeDefined()
      expect(tag, `${where}: ${image}`).not.toBe("latest")
      expect(tag, `${where}: ${image} is not a version tag`).toMatch(/\d/)
    }
  })

  it("runs Postgres with logical replication for the CDC surface", () => {
    const command = ([] as Array<string>).concat(service("postgres").command).join(" ")
    expect(command).toMatch(/-c\s+wal_level=logical\b/)
  })

  it("gives the demo every variable it reads, listening on all interfaces", () => {
    for (
      const name of [
        "DATABASE_URL",
        "REDIS_URL",
        "AMQP_URL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_SERVICE_NAME",
        "OTEL_METRICS_EXPORTER",
        "OTEL_EXPORTER_PROMETHEUS_HOST",
        "OTEL_EXPORTER_PROMETHEUS_PORT",
        "PORT",
        "TRACE_VIEW",
        "HOST"
      ]
    ) expect(demoEnv[name], name).toBeTruthy()
    // Both default to loopback, which no other container can reach.
    expect(demoEnv.HOST).toBe("0.0.0.0")
    expect(demoEnv.OTEL_EXPORTER_PROMETHEUS_HOST).toBe("0.0.0.0")
    expect(demoEnv.OTEL_METRICS_EXPORTER!.split(",").map((s) => s.trim()).sort()).toEqual(["otlp", "prometheus"])
    expect(["on", "off", "true", "false"]).toContain(demoEnv.TRACE_VIEW)
    expect(containerPorts(service("demo"))).toEqual(
      expect.arrayContaining([Number(demoEnv.PORT), Number(demoEnv.OTEL_EXPORTER_PROMETHEUS_PORT)])
    )
    expect(JSON.stringify(service("demo").healthcheck.test)).toContain(`:${demoEnv.PORT}/health`)
  })

  it("points the demo at the services by name, on the ports and with the credentials they use", () => {
    const postgres = service("postgres").environment
    const db = new URL(demoEnv.DATABASE_URL!)
    expect([db.protocol, db.hostname, portOf(new URL(db.href.replace(/^postgres/, "http")))]).toEqual([
      "postgres:",
      "postgres",
      5432
    ])
    expect([decodeURIComponent(db.username), decodeURIComponent(db.password), db.pathname]).toEqual(
      [postgres.POSTGRES_USER, postgres.POSTGRES_PASSWORD, `/${postgres.POSTGRES_DB}`]
    )

    const redis = new URL(demoEnv.REDIS_URL!)
    expect([redis.protocol, redis.hostname, Number(redis.port)]).toEqual([
      "redis:",
      "redis",
      containerPorts(service("redis"))[0]
    ])

    const rabbit = service("rabbitmq")
    const amqp = new URL(demoEnv.AMQP_URL!)
    expect([amqp.protocol, amqp.hostname, Number(amqp.port)]).toEqual(["amqp:", "rabbitmq", 5672])
    expect(containerPorts(rabbit)).toContain(5672)
    expect([amqp.username, amqp.password]).toEqual([
      rabbit.environment.RABBITMQ_DEFAULT_USER,
      rabbit.environment.RABBITMQ_DEFAULT_PASS
    ])

    // The demo exports OTLP/HTTP (the only protocol bundled) to the collector's HTTP receiver.
    const otlp = new URL(demoEnv.OTEL_EXPORTER_OTLP_ENDPOINT!)
    expect(otlp.hostname).toBe("otel-collector")
    expect(portOf(otlp)).toBe(portOfEndpoint(collector.receivers.otlp.protocols.http.endpoint))

    for (const dependency of ["postgres", "redis", "rabbitmq", "otel-collector"]) {
      expect(Object.keys(service("demo").depends_on), dependency).toContain(dependency)
    }
  })

  it("builds the demo with a Dockerfile whose start script exists and whose install sees every workspace", () => {
    const demo = service("demo")
    const dockerfile = read(demo.build.dockerfile)
    expect(Path.resolve(root, demo.build.context ?? ".")).toBe(Path.resolve(root))
    const cmd = /^\s*CMD\s+(\[.*\])\s*$/m.exec(dockerfile)
    expect(cmd, "Dockerfile has an exec-form CMD").not.toBeNull()
    const argv: Array<string> = JSON.parse(cmd![1]!)
    expect(argv.slice(0, 2)).toEqual(["npm", "start"])
    const rootPackage = JSON.parse(read("package.json"))
    expect(rootPackage.scripts?.start, "root package.json has a start script").toBeTruthy()
    expect(dockerfile).toMatch(/^RUN npm ci\b/m)
    // npm ci fails when a workspace's manifest is missing, so every one is copied before it.
    const beforeInstall = dockerfile.slice(0, dockerfile.search(/^RUN npm ci\b/m))
    for (const pkg of Fs.readdirSync(Path.join(root, "packages"))) {
      if (!Fs.existsSync(Path.join(root, "packages", pkg, "package.json"))) continue
      expect(beforeInstall, `packages/${pkg}/package.json copied before npm ci`).toContain(
        `packages/${pkg}/package.json`
      )
    }
  })

  it("mounts only files that exist", () => {
    for (const [name, s] of Object.entries(compose.services as Record<string, any>)) {
      for (const volume of s.volumes ?? []) {
        const source = String(volume).split(":")[0]!
        if (!source.startsWith(".")) continue
        expect(Fs.existsSync(Path.join(root, source)), `${name}: ${source}`).toBe(true)
      }
    }
  })
})

describe("deploy/otel-collector.yaml", () => {
  it("wires each pipeline only to defined components, traces to Jaeger and metrics to Prometheus", () => {
    const pipelines = collector.service.pipelines as Record<string, Record<string, Array<string>>>
    expect(Object.keys(pipelines).sort()).toEqual(["metrics", "traces"])
    for (const [name, pipeline] of Object.entries(pipelines)) {
      for (const kind of ["receivers", "processors", "exporters"] as const) {
        expect(pipeline[kind]?.length, `${name}.${kind}`).toBeGreaterThan(0)
        for (const component of pipeline[kind]!) {
          expect(Object.keys(collector[kind] ?? {}), `${name}.${kind}: ${component}`).toContain(component)
        }
      }
      expect(pipeline.processors, name).toContain("batch")
      expect(pipeline.processors!.at(-1), `${name}: batch comes last`).toBe("batch")
    }
    for (const extension of collector.service.extensions) expect(Object.keys(collector.extensions)).toContain(extension)
    expect(collector.service.extensions).toContain("health_check")
    expect(Object.keys(collector.receivers.otlp.protocols).sort()).toEqual(["grpc", "http"])

    const tracesTo = pipelines.traces!.exporters!.map((e) => collector.exporters[e])
    const jaegerEndpoint = tracesTo.map((e) => e.endpoint as string).find((e) => e.startsWith("jaeger:"))
    expect(jaegerEndpoint, "a traces exporter sends to jaeger").toBeDefined()
    expect(portOfEndpoint(jaegerEndpoint!)).toBe(4317)
    expect(String(service("jaeger").environment.COLLECTOR_OTLP_ENABLED)).toBe("true")

    const promExporter = pipelines.metrics!.exporters!.find((e) => e.split("/")[0] === "prometheus")
    expect(promExporter, "a metrics exporter exposes Prometheus").toBeDefined()
    expect(scrapeTargets("otel-collector")).toContain(
      `otel-collector:${portOfEndpoint(collector.exporters[promExporter!].endpoint)}`
    )
  })

  it("is mounted where the collector reads its configuration", () => {
    const c = service("otel-collector")
    const mount = (c.volumes as Array<string>).find((v) => v.startsWith("./deploy/otel-collector.yaml:"))!
    expect(([] as Array<string>).concat(c.command).join(" ")).toContain(`--config=${mount.split(":")[1]}`)
  })
})

describe("deploy/prometheus.yml", () => {
  it("scrapes the demo's Prometheus port and the collector, and loads the alert rules", () => {
    expect(scrapeTargets("demo")).toEqual([`demo:${demoEnv.OTEL_EXPORTER_PROMETHEUS_PORT}`])
    const demoJob = (prometheus.scrape_configs as Array<any>).find((c) => c.job_name === "demo")
    expect(demoJob.metrics_path ?? "/metrics").toBe("/metrics")
    const readers = collector.service.telemetry.metrics.readers as Array<any>
    const internalPort = readers[0].pull.exporter.prometheus.port
    expect(scrapeTargets("otel-collector-internal")).toEqual([`otel-collector:${internalPort}`])
    expect(prometheus.rule_files).toEqual(["alerts.yml"])
    const mounts = (service("prometheus").volumes as Array<string>).map((v) => v.split(":").slice(0, 2))
    expect(mounts).toEqual(expect.arrayContaining([
      ["./deploy/prometheus.yml", "/etc/prometheus/prometheus.yml"],
      ["./deploy/alerts.yml", "/etc/prometheus/alerts.yml"]
    ]))
  })
})

// promtool is installed by scripts/install-prometheus.sh; in CI its absence is a failure.
const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" })
const hasPromtool = promtool.status === 0
if (!hasPromtool && process.env.CI !== "true") {
  console.warn("promtool not found (run scripts/install-prometheus.sh): skipping the promtool checks")
}
const promtoolIt = hasPromtool || process.env.CI === "true" ? it : it.skip
const runPromtool = (...args: Array<string>) => {
  const result = spawnSync("promtool", args, { cwd: root, encoding: "utf8" })
  if (result.error) throw result.error
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

describe("promtool", () => {
  promtoolIt("accepts deploy/prometheus.yml and the rule file it loads", () => {
    const result = runPromtool("check", "config", "deploy/prometheus.yml")
    expect(result.status, result.output).toBe(0)
    expect(result.output).toContain(`SUCCESS: ${alertingRules.length} rules found`)
  })

  promtoolIt("accepts deploy/alerts.yml", () => {
    const result = runPromtool("check", "rules", "deploy/alerts.yml")
    expect(result.status, result.output).toBe(0)
  })

  promtoolIt("parses every dashboard query", () => {
    // promtool has no expression check of its own; a recording rule per query gets one.
    const queries = dashboardQueries().filter((q) => !q.where.startsWith("templating"))
    const rules = {
      groups: [{
        name: "dashboard",
        rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: asPrometheusSees(q.expr) }))
      }]
    }
    const file = Path.join(Fs.mkdtempSync(Path.join(Os.tmpdir(), "deploy-test-")), "dashboard-rules.yml")
    Fs.writeFileSync(file, Yaml.stringify(rules))
    const result = runPromtool("check", "rules", file)
    expect(result.status, result.output).toBe(0)
    expect(result.output).toContain(`SUCCESS: ${queries.length} rules found`)
  })
})

describe("metric names in alerts and dashboard", () => {
  it("reads metric and label names out of PromQL", () => {
    const { labels, metrics } = namesIn(
      `histogram_quantile(0.99, sum by (job, le) (rate(a_seconds_bucket{x="y", z=~"5.."}[5m]))) > 1 ` +
        `unless on (job) sum(rate(b_total{job="$job"}[$__rate_interval] offset 5m)) / clamp_min(c, 1e3)`
    )
    expect([...metrics].sort()).toEqual(["a_seconds_bucket", "b_total", "c"])
    expect([...labels].sort()).toEqual(["job", "le", "x", "z"])
    expect([...namesIn("label_values(d_total{k=\"v\"}, job)").metrics]).toEqual(["d_total"])
    expect([...namesIn("label_values(job)").labels]).toEqual(["job"])
  })

  it("loads every surface, so the declared set is complete", () => {
    expect(importFailures).toEqual([])
    expect(emitted.size).toBeGreaterThan(0)
  })

  it("every metric an alert rule references is one the project emits", () => {
    expect(alertingRules.length).toBeGreaterThan(0)
    const unknown: Array<string> = []
    for (const rule of alertingRules) {
      const { metrics } = namesIn(rule.expr)
      expect(metrics.size, `${rule.alert} references a metric`).toBeGreaterThan(0)
      for (const m of metrics) if (!emitted.has(m)) unknown.push(`${rule.alert}: ${m}${closest(m)}`)
    }
    expect(unknown, "metrics no surface emits").toEqual([])
  })

  it("every metric a dashboard query references is one the project emits", () => {
    const queries = dashboardQueries()
    expect(queries.length).toBeGreaterThan(0)
    const unknown: Array<string> = []
    for (const q of queries) {
      const { metrics } = namesIn(q.expr)
      expect(metrics.size, `${q.where} references a metric`).toBeGreaterThan(0)
      for (const m of metrics) if (!emitted.has(m)) unknown.push(`${q.where}: ${m}${closest(m)}`)
    }
    expect(unknown, "metrics no surface emits").toEqual([])
  })

  it("every label they filter, group or print by is a project attribute or a Prometheus label", () => {
    const unknown: Array<string> = []
    const check = (where: string, names: Iterable<string>) => {
      for (const n of names) if (!knownLabels.has(n)) unknown.push(`${where}: ${n}`)
    }
    for (const rule of alertingRules) {
      check(rule.alert, namesIn(rule.expr).labels)
      check(rule.alert, [...JSON.stringify(rule.annotations ?? {}).matchAll(/\$labels\.(\w+)/g)].map((m) => m[1]!))
    }
    for (const q of dashboardQueries()) {
      check(q.where, namesIn(q.expr).labels)
      check(q.where, [...(q.legend ?? "").matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!))
    }
    expect(unknown).toEqual([])
  })

  it("keeps the two metric paths apart: rules group by job, panels select one job", () => {
    // The demo's metrics reach Prometheus twice (scraped, and OTLP via the collector);
    // summed together, rates double and histograms from two sources merge into one.
    for (const rule of alertingRules) expect(rule.expr, rule.alert).toMatch(/\bby \(job\b/)
    for (const q of dashboardQueries().filter((q) => !q.where.startsWith("templating"))) {
      expect(q.expr, q.where).toContain(`job="$job"`)
    }
  })

  it("computes every quantile from a histogram's buckets grouped by le", () => {
    const all = [...alertingRules.map((r) => r.expr), ...dashboardQueries().map((q) => q.expr)]
    const quantiles = all.flatMap((e) => [...e.matchAll(/histogram_quantile\(([^]*?)\[/g)].map((m) => m[1]!))
    expect(quantiles.length).toBeGreaterThan(0)
    for (const q of quantiles) {
      expect(q).toMatch(/^\s*0?\.\d+, sum by \([^)]*\ble\b[^)]*\) \(rate\(\w+_bucket\b/)
      const bucket = /(\w+_bucket)\b/.exec(q)![1]!
      expect(emitted.get(bucket)?.kind, bucket).toBe("histogram")
    }
  })
})

describe("grafana provisioning", () => {
  it("provisions the Prometheus datasource at the compose service and the dashboard from its mount", () => {
    const grafana = service("grafana")
    const mounts = new Map((grafana.volumes as Array<string>).map((v) => [v.split(":")[0]!, v.split(":")[1]!]))
    const provisioning = mounts.get("./deploy/grafana/provisioning")
    expect(provisioning).toBe("/etc/grafana/provisioning")

    const datasources = readYaml("deploy/grafana/provisioning/datasources/datasources.yml").datasources as Array<any>
    const prom = datasources.find((d) => d.type === "prometheus")
    expect(prom.url).toBe(`http://prometheus:${containerPorts(service("prometheus"))[0]}`)
    expect(prom.isDefault).toBe(true)
    expect(datasources.find((d) => d.type === "jaeger")?.url).toBe(
      `http://jaeger:${containerPorts(service("jaeger"))[0]}`
    )

    const providers = readYaml("deploy/grafana/provisioning/dashboards/dashboards.yml").providers as Array<any>
    expect(providers.map((p) => p.options.path)).toEqual([mounts.get("./deploy/grafana/dashboards")])
    expect(grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH).toBe(
      `${mounts.get("./deploy/grafana/dashboards")}/effect-telemetry.json`
    )
  })

  it("has one row per surface, unique panel ids, and a job selector defaulting to the demo's scrape job", () => {
    const rows = (dashboard.panels as Array<any>).filter((p) => p.type === "row").map((p) => p.title)
    expect(rows).toEqual(
      expect.arrayContaining([
        "HTTP server",
        "HTTP client",
        "Functions",
        "SQL",
        "Key-value store",
        "Queue",
        "Workflow",
        "CDC",
        "Telemetry pipeline"
      ])
    )
    const ids = (dashboard.panels as Array<any>).map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    const job = (dashboard.templating.list as Array<any>).find((v) => v.name === "job")
    expect(job.current.value).toBe("demo")
    expect((prometheus.scrape_configs as Array<any>).map((c) => c.job_name)).toContain(job.current.value)
  })
})
