/**
 * Server-rendered pages, built with the `html` tagged template only (internal/template.ts):
 * every interpolated value is escaped unless it is markup the template built or our own
 * fragment marked `raw`. Per-span details are rendered into `<template>` elements and cloned
 * by the script, so the script never builds markup from data.
 */
import type { Attributes, AttributeValue, HrTime, SpanKind } from "@opentelemetry/api"
import { SpanStatusCode } from "@opentelemetry/api"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import type { LogRecordView, TraceEntry, TraceStore } from "./store.js"
import { hrToNanos, serviceOf } from "./store.js"
import type { Html } from "./template.js"
import { concat, html, raw } from "./template.js"

/** Longest attribute value shown in full; the rest is elided with its length. */
const MAX_VALUE_CHARS = 4096

const formatValue = (value: AttributeValue | undefined): string => {
  const text = typeof value === "string" ? value : JSON.stringify(value)
  return text.length > MAX_VALUE_CHARS
    ? `${text.slice(0, MAX_VALUE_CHARS)}… (${text.length - MAX_VALUE_CHARS} more characters)`
    : text
}

/** @internal */
export const formatDuration = (nanos: number): string => {
  if (!Number.isFinite(nanos) || nanos < 0) return "–"
  if (nanos < 1e6) return `${(nanos / 1e3).toFixed(0)} µs`
  if (nanos < 1e9) return `${(nanos / 1e6).toFixed(2)} ms`
  return `${(nanos / 1e9).toFixed(3)} s`
}

const isoOf = (nanos: number) => Number.isFinite(nanos) ? new Date(nanos / 1e6).toISOString() : "–"

const kindNames = ["internal", "server", "client", "producer", "consumer"] as const
/** @internal */
export const kindName = (kind: SpanKind): string => kindNames[kind] ?? "internal"
/** @internal */
export const statusName = (code: SpanStatusCode): "unset" | "ok" | "error" =>
  code === SpanStatusCode.ERROR ? "error" : code === SpanStatusCode.OK ? "ok" : "unset"

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:10px 20px}header a{color:#9cc4ff}
main{padding:16px 20px}h1{font-size:18px;margin:0}h2{font-size:15px;margin:16px 0 8px}
table{border-collapse:collapse;width:100%;background:#fff}th,td{padding:4px 8px;text-align:left;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#eef0f3;font-weight:600}code,.mono{font-family:ui-monospace,monospace;font-size:12px}
.meta{color:#5b6472;margin:6px 0 12px}.err{color:#b3261e;font-weight:600}.ok{color:#1b7f3b}
form.filter{display:flex;gap:8px;align-items:center;margin-bottom:12px}form.filter input[type=text]{width:220px}
.waterfall{display:grid;grid-template-columns:minmax(0,1fr) 360px;gap:16px;align-items:start}
tr.span{cursor:pointer}tr.span:hover{background:#f0f5ff}tr.span.selected{background:#dce8ff}
td.name{white-space:nowrap;overflow:hidden;text-overflow:ellipsis;max-width:420px}
.kind{font-size:11px;text-transform:uppercase;color:#5b6472}.svc{color:#5b6472;font-size:12px;margin-right:4px}
td.bar{width:40%}.track{position:relative;height:14px;background:#f0f1f4}
.fill{position:absolute;top:0;height:14px;min-width:2px;border-radius:2px}
.fill.status-unset{background:#4a7bd0}.fill.status-ok{background:#2e9e58}.fill.status-error{background:#d64541}
.badge{display:inline-block;padding:0 6px;border-radius:8px;font-size:11px;color:#fff}
.badge.status-unset{background:#7b8494}.badge.status-ok{background:#2e9e58}.badge.status-error{background:#d64541}
#details{background:#fff;border:1px solid #e3e6ea;padding:8px 12px;position:sticky;top:8px;max-height:90vh;overflow:auto}
#details table td,#details table th{font-size:12px;word-break:break-all}.orphan{color:#a36b00;font-size:11px}.logcount{color:#5b6472;font-size:11px}
`

const page = (title: string, nonce: string, body: Html, script?: string): string =>
  concat(
    html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">`,
    html`<title>${title}</title><style>${raw(STYLE)}</style></head><body>${body}`,
    script !== undefined && html`<script nonce="${nonce}">${raw(script)}</script>`,
    html`</body></html>`
  ).value

/** @internal */
export interface ListFilter {
  readonly service?: string | undefined
  readonly name?: string | undefined
  readonly errorsOnly?: boolean | undefined
}

const matchesFilter = (entry: TraceEntry, filter: ListFilter): boolean => {
  if (filter.errorsOnly === true && entry.errors === 0) return false
  if (filter.service !== undefined && filter.service !== "" && !entry.services.has(filter.service)) return false
  if (filter.name !== undefined && filter.name !== "") {
    const needle = filter.name.toLowerCase()
    if (!entry.spans.some((span) => span.name.toLowerCase().includes(needle))) return false
  }
  return true
}

/** Traces newest first (by start), filtered. @internal */
export const listTraces = (store: TraceStore, filter: ListFilter): Array<TraceEntry> =>
  store.list().filter((entry) => matchesFilter(entry, filter)).sort((a, b) => b.startNanos - a.startNanos)

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`

/** @internal */
export const renderList = (store: TraceStore, filter: ListFilter, base: string, nonce: string): string => {
  const traces = listTraces(store, filter)
  const services = new Set<string>()
  for (const entry of store.list()) for (const service of entry.services) services.add(service)
  const size = store.size
  const { maxLogs, maxSpans, maxSpansPerTrace, maxTraces } = store.limits
  const options = [html`<option value="">all services</option>`].concat(
    Array.from(services).sort().map((service) =>
      html`<option value="${service}"${service === filter.service && raw(" selected")}>${service}</option>`
    )
  )
  const rows = traces.map((entry) => {
    const root = entry.root ?? entry.spans[0]
    return concat(
      html`<tr class="trace" data-trace-id="${entry.traceId}">`,
      html`<td><a class="mono" href="${`${base}/${entry.traceId}`}">${entry.traceId}</a></td>`,
      html`<td class="root">${root !== undefined && html`<span class="svc">${serviceOf(root)}</span>${root.name}`}${
        entry.root === undefined && html` <span class="orphan">(root not recorded)</span>`
      }</td>`,
      html`<td class="mono">${isoOf(entry.startNanos)}</td>`,
      html`<td class="duration">${formatDuration(entry.endNanos - entry.startNanos)}</td>`,
      html`<td class="count">${entry.spans.length}${
        entry.droppedSpans > 0 && ` (+${entry.droppedSpans} dropped)`
      }</td>`,
      html`<td class="errors">${
        entry.errors > 0 && html`<span class="err">${plural(entry.errors, "error")}</span>`
      }</td>`,
      html`</tr>`
    )
  })
  const body = concat(
    html`<header><h1>Recent traces</h1></header><main>`,
    html`<p class="meta">${size.traces} traces, ${size.spans} spans, ${size.logs} log records kept in memory `,
    html`(at most ${maxTraces} traces, ${maxSpansPerTrace} spans per trace, ${maxSpans} spans and ${maxLogs} log records in all; `,
    html`least recently updated evicted first${
      store.evictedTraces > 0 && `; ${store.evictedTraces} evicted so far`
    }). `,
    html`Sampled spans only.</p>`,
    html`<form class="filter" method="get" action="${`${base}/`}">`,
    html`<select name="service">${options}</select>`,
    html`<input type="text" name="name" placeholder="span name contains" value="${filter.name ?? ""}">`,
    html`<label><input type="checkbox" name="error" value="1"${
      filter.errorsOnly === true && raw(" checked")
    }> errors only</label>`,
    html`<button type="submit">Filter</button></form>`,
    traces.length === 0
      ? html`<p id="empty">No traces${size.traces > 0 ? " match the filter" : " recorded yet"}.</p>`
      : html`<table id="traces"><thead><tr><th>Trace</th><th>Root span</th><th>Start</th><th>Duration</th><th>Spans</th><th>Errors</th></tr></thead><tbody>${rows}</tbody></table>`,
    html`</main>`
  )
  return page("Recent traces", nonce, body)
}

/** @internal */
export interface Row {
  readonly span: ReadableSpan
  readonly depth: number
  /** The span names a local parent that was not recorded (not ended yet, dropped or evicted). */
  readonly orphan: boolean
}

/** Spans in tree order: each parent before its children, siblings by start time. @internal */
export const treeRows = (spans: ReadonlyArray<ReadableSpan>): Array<Row> => {
  const byId = new Map<string, ReadableSpan>()
  for (const span of spans) byId.set(span.spanContext().spanId, span)
  const children = new Map<string, Array<ReadableSpan>>()
  const roots: Array<ReadableSpan> = []
  for (const span of spans) {
    const parent = span.parentSpanContext?.spanId
    if (parent !== undefined && parent !== span.spanContext().spanId && byId.has(parent)) {
      const list = children.get(parent)
      if (list === undefined) children.set(parent, [span])
      else list.push(span)
    } else {
      roots.push(span)
    }
  }
  const byStart = (a: ReadableSpan, b: ReadableSpan) => hrToNanos(a.startTime) - hrToNanos(b.startTime)
  const rows: Array<Row> = []
  const visited = new Set<string>()
  const stack: Array<{ span: ReadableSpan; depth: number }> = roots.sort(byStart).reverse().map((span) => ({
    span,
    depth: 0
  }))
  while (stack.length > 0) {
    const { depth, span } = stack.pop()!
    const id = span.spanContext().spanId
    if (visited.has(id)) continue
    visited.add(id)
    const parent = span.parentSpanContext
    rows.push({ span, depth, orphan: depth === 0 && parent !== undefined && parent.isRemote !== true })
    const kids = children.get(id)
    if (kids !== undefined) {
      for (const kid of kids.sort(byStart).reverse()) stack.push({ span: kid, depth: depth + 1 })
    }
  }
  return rows
}

const none = html`<p class="meta">none</p>`

const attributesTable = (attributes: Attributes | Readonly<Record<string, unknown>>): Html => {
  const keys = Object.keys(attributes).sort()
  if (keys.length === 0) return none
  return html`<table class="attributes"><tbody>${
    keys.map((key) =>
      html`<tr><th class="mono">${key}</th><td class="mono">${formatValue(attributes[key] as AttributeValue)}</td></tr>`
    )
  }</tbody></table>`
}

const offsetOf = (time: HrTime | readonly [number, number], startNanos: number) =>
  formatDuration(hrToNanos(time) - startNanos)

/** The body of a log record as text: a string as it is, anything else as JSON. */
const logBody = (body: unknown): string => typeof body === "string" ? body : formatValue(body as AttributeValue)

const logsTable = (records: ReadonlyArray<LogRecordView>, start: number): Html =>
  records.length === 0
    ? none
    : html`<table class="logs"><thead><tr><th>At</th><th>Severity</th><th>Message</th></tr></thead><tbody>${
      records.map((record) =>
        html`<tr class="log"><td class="mono">+${offsetOf(record.hrTime, start)}</td><td class="severity">${
          record.severityText ?? ""
        }</td><td class="mono body">${logBody(record.body)}${
          Object.keys(record.attributes).length > 0 && attributesTable(record.attributes)
        }</td></tr>`
      )
    }</tbody></table>`

const details = (span: ReadableSpan, logs: ReadonlyArray<LogRecordView>, store: TraceStore, base: string): Html => {
  const context = span.spanContext()
  const status = statusName(span.status.code)
  const start = hrToNanos(span.startTime)
  const rows: Array<[string, string]> = [
    ["name", span.name],
    ["kind", kindName(span.kind)],
    ["status", status + (span.status.message ? `: ${span.status.message}` : "")],
    ["service", serviceOf(span)],
    ["span id", context.spanId],
    [
      "parent span id",
      span.parentSpanContext === undefined ? "(root)" : span.parentSpanContext.spanId +
        (span.parentSpanContext.isRemote === true ? " (remote)" : "")
    ],
    ["start", isoOf(start)],
    ["duration", formatDuration(hrToNanos(span.endTime) - start)],
    ["scope", span.instrumentationScope.name]
  ]
  const events = span.events.length === 0 ?
    none :
    span.events.map((event) =>
      html`<div class="event"><p><strong>${event.name}</strong> <span class="meta">+${
        offsetOf(event.time, start)
      }</span></p>${attributesTable(event.attributes ?? {})}</div>`
    )
  const links = span.links.length === 0 ? none : span.links.map((link) => {
    const recorded = store.get(link.context.traceId) !== undefined
    const label = `${link.context.traceId} / ${link.context.spanId}`
    return html`<div class="link"><p class="mono">${
      recorded ? html`<a href="${`${base}/${link.context.traceId}`}">${label}</a>` : label
    }</p>${attributesTable(link.attributes ?? {})}</div>`
  })
  const dropped = span.droppedAttributesCount + span.droppedEventsCount + span.droppedLinksCount
  return concat(
    html`<h2>Span</h2><table class="overview"><tbody>${
      rows.map(([k, v]) => html`<tr><th>${k}</th><td class="mono">${v}</td></tr>`)
    }</tbody></table>`,
    html`<h2>Attributes</h2>${attributesTable(span.attributes)}`,
    html`<h2>Events</h2>${events}<h2>Links</h2>${links}`,
    html`<h2>Logs</h2>${logsTable(logs, start)}`,
    dropped > 0 &&
      html`<p class="meta">Dropped by span limits: ${span.droppedAttributesCount} attributes, ${span.droppedEventsCount} events, ${span.droppedLinksCount} links.</p>`
  )
}

const SCRIPT = `
(function(){
  var panel=document.getElementById("details");
  var selected=null;
  function select(row){
    if(selected)selected.classList.remove("selected");
    selected=row;row.classList.add("selected");
    var t=document.getElementById("details-"+row.dataset.spanId);
    if(t)panel.replaceChildren(t.content.cloneNode(true));
    if(history.replaceState)history.replaceState(null,"","#"+row.dataset.spanId);
  }
  document.querySelectorAll("tr.span").forEach(function(row){
    row.addEventListener("click",function(){select(row)});
    row.addEventListener("keydown",function(e){if(e.key==="Enter"||e.key===" "){e.preventDefault();select(row)}});
  });
  var initial=location.hash.slice(1);
  var row=initial&&/^[0-9a-f]{16}$/.test(initial)?document.querySelector('tr.span[data-span-id="'+initial+'"]'):null;
  if(row)select(row);
})();
`

/** @internal */
export const renderTrace = (store: TraceStore, entry: TraceEntry, base: string, nonce: string): string => {
  const rows = treeRows(entry.spans)
  const total = Math.max(entry.endNanos - entry.startNanos, 1)
  const pct = (nanos: number) => Math.min(100, Math.max(0, (nanos / total) * 100)).toFixed(3)
  const logsBySpan = new Map<string, Array<LogRecordView>>()
  for (const record of store.logsOf(entry.traceId)) {
    const spanId = record.spanContext!.spanId
    const list = logsBySpan.get(spanId)
    if (list === undefined) logsBySpan.set(spanId, [record])
    else list.push(record)
  }
  const body = rows.map(({ depth, orphan, span }) => {
    const context = span.spanContext()
    const start = hrToNanos(span.startTime)
    const duration = hrToNanos(span.endTime) - start
    const status = statusName(span.status.code)
    const kind = kindName(span.kind)
    const logCount = logsBySpan.get(context.spanId)?.length ?? 0
    return concat(
      html`<tr class="span" tabindex="0" data-span-id="${context.spanId}" data-parent-span-id="${
        span.parentSpanContext?.spanId ?? ""
      }" data-depth="${depth}" data-kind="${kind}" data-status="${status}" data-logs="${logCount}">`,
      html`<td class="name" style="padding-left:${8 + depth * 16}px" title="${span.name}">`,
      html`<span class="svc">${serviceOf(span)}</span><span class="span-name">${span.name}</span>`,
      html`${orphan && html` <span class="orphan">(parent not recorded)</span>`}${
        logCount > 0 && html` <span class="logcount">${plural(logCount, "log")}</span>`
      }</td>`,
      html`<td class="kind">${kind}</td>`,
      html`<td><span class="badge status-${status}">${status}</span></td>`,
      html`<td class="duration">${formatDuration(duration)}</td>`,
      html`<td class="bar"><div class="track"><div class="fill status-${status}" style="left:${
        pct(start - entry.startNanos)
      }%;width:${pct(duration)}%"></div></div></td></tr>`
    )
  })
  const templates = entry.spans.map((span) => {
    const spanId = span.spanContext().spanId
    return html`<template id="details-${spanId}">${details(span, logsBySpan.get(spanId) ?? [], store, base)}</template>`
  })
  const root = entry.root ?? rows[0]?.span
  const main = concat(
    html`<header><h1>${root !== undefined && `${root.name} · `}<span class="mono">${entry.traceId}</span></h1>`,
    html`<a href="${`${base}/`}">← all traces</a></header><main>`,
    html`<p class="meta">${entry.spans.length} spans${
      entry.droppedSpans > 0 && ` (+${entry.droppedSpans} dropped: over ${store.limits.maxSpansPerTrace} per trace)`
    }, ${formatDuration(entry.endNanos - entry.startNanos)}, started ${isoOf(entry.startNanos)}`,
    html`${entry.errors > 0 && html`, <span class="err">${plural(entry.errors, "error")}</span>`}. `,
    html`Click a span for its attributes, events, links and logs.</p>`,
    html`<div class="waterfall"><table id="waterfall"><thead><tr><th>Span</th><th>Kind</th><th>Status</th><th>Duration</th><th>Timeline</th></tr></thead>`,
    html`<tbody>${body}</tbody></table><aside id="details"><p class="meta">Select a span.</p></aside></div>${templates}</main>`
  )
  return page(`Trace ${entry.traceId}`, nonce, main, SCRIPT)
}

/** @internal */
export const renderMessage = (title: string, message: string, base: string, nonce: string): string =>
  page(
    title,
    nonce,
    html`<header><h1>${title}</h1><a href="${`${base}/`}">← all traces</a></header><main><p>${message}</p></main>`
  )
