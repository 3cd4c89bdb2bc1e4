/**
 * Server-rendered pages. Span names, attributes, events and resource values are untrusted
 * (any caller can put a string in them), so every interpolated value goes through `escape`;
 * the only markup not escaped is our own. Per-span details are rendered into `<template>`
 * elements and cloned by the script, so the script never builds markup from data.
 */
import type { Attributes, AttributeValue, HrTime, SpanKind } from "@opentelemetry/api"
import { SpanStatusCode } from "@opentelemetry/api"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import type { TraceEntry, TraceStore } from "./store.js"
import { hrToNanos, serviceOf } from "./store.js"

const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }

/** Escapes text for HTML element content and quoted attribute values. @internal */
export const escape = (value: unknown): string => String(value).replace(/[&<>"']/g, (c) => entities[c]!)

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
#details table td,#details table th{font-size:12px;word-break:break-all}.orphan{color:#a36b00;font-size:11px}
`

const page = (title: string, nonce: string, body: string, script = ""): string =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
  `<title>${escape(title)}</title><style>${STYLE}</style></head><body>${body}` +
  (script === "" ? "" : `<script nonce="${escape(nonce)}">${script}</script>`) +
  `</body></html>`

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

/** @internal */
export const renderList = (store: TraceStore, filter: ListFilter, base: string, nonce: string): string => {
  const traces = listTraces(store, filter)
  const services = new Set<string>()
  for (const entry of store.list()) for (const service of entry.services) services.add(service)
  const size = store.size
  const { maxSpans, maxSpansPerTrace, maxTraces } = store.limits
  const options = [`<option value="">all services</option>`].concat(
    Array.from(services).sort().map((service) =>
      `<option value="${escape(service)}"${service === filter.service ? " selected" : ""}>${escape(service)}</option>`
    )
  ).join("")
  const rows = traces.map((entry) => {
    const root = entry.root ?? entry.spans[0]
    return `<tr class="trace" data-trace-id="${escape(entry.traceId)}">` +
      `<td><a class="mono" href="${escape(`${base}/${entry.traceId}`)}">${escape(entry.traceId)}</a></td>` +
      `<td class="root">${
        root === undefined ? "" : `<span class="svc">${escape(serviceOf(root))}</span>${escape(root.name)}`
      }` +
      `${entry.root === undefined ? ` <span class="orphan">(root not recorded)</span>` : ""}</td>` +
      `<td class="mono">${escape(isoOf(entry.startNanos))}</td>` +
      `<td class="duration">${escape(formatDuration(entry.endNanos - entry.startNanos))}</td>` +
      `<td class="count">${entry.spans.length}${
        entry.droppedSpans > 0 ? ` (+${entry.droppedSpans} dropped)` : ""
      }</td>` +
      `<td class="errors">${
        entry.errors > 0 ? `<span class="err">${entry.errors} error${entry.errors === 1 ? "" : "s"}</span>` : ""
      }</td>` +
      `</tr>`
  }).join("")
  const body = `<header><h1>Recent traces</h1></header><main>` +
    `<p class="meta">${size.traces} traces, ${size.spans} spans kept in memory (at most ${maxTraces} traces, ` +
    `${maxSpansPerTrace} spans per trace, ${maxSpans} spans in all; least recently updated evicted first` +
    `${store.evictedTraces > 0 ? `; ${store.evictedTraces} evicted so far` : ""}). Sampled spans only.</p>` +
    `<form class="filter" method="get" action="${escape(`${base}/`)}">` +
    `<select name="service">${options}</select>` +
    `<input type="text" name="name" placeholder="span name contains" value="${escape(filter.name ?? "")}">` +
    `<label><input type="checkbox" name="error" value="1"${
      filter.errorsOnly === true ? " checked" : ""
    }> errors only</label>` +
    `<button type="submit">Filter</button></form>` +
    (traces.length === 0
      ? `<p id="empty">No traces${size.traces > 0 ? " match the filter" : " recorded yet"}.</p>`
      : `<table id="traces"><thead><tr><th>Trace</th><th>Root span</th><th>Start</th><th>Duration</th><th>Spans</th><th>Errors</th></tr></thead>` +
        `<tbody>${rows}</tbody></table>`) +
    `</main>`
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

const attributesTable = (attributes: Attributes): string => {
  const keys = Object.keys(attributes).sort()
  if (keys.length === 0) return `<p class="meta">none</p>`
  return `<table class="attributes"><tbody>` +
    keys.map((key) =>
      `<tr><th class="mono">${escape(key)}</th><td class="mono">${escape(formatValue(attributes[key]))}</td></tr>`
    ).join("") +
    `</tbody></table>`
}

const offsetOf = (time: HrTime, startNanos: number) => formatDuration(hrToNanos(time) - startNanos)

const details = (span: ReadableSpan, store: TraceStore, base: string): string => {
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
  const events = span.events.length === 0
    ? `<p class="meta">none</p>`
    : span.events.map((event) =>
      `<div class="event"><p><strong>${escape(event.name)}</strong> <span class="meta">+${
        escape(offsetOf(event.time, start))
      }</span></p>${attributesTable(event.attributes ?? {})}</div>`
    ).join("")
  const links = span.links.length === 0
    ? `<p class="meta">none</p>`
    : span.links.map((link) => {
      const recorded = store.get(link.context.traceId) !== undefined
      const label = `${link.context.traceId} / ${link.context.spanId}`
      return `<div class="link"><p class="mono">${
        recorded ? `<a href="${escape(`${base}/${link.context.traceId}`)}">${escape(label)}</a>` : escape(label)
      }</p>${attributesTable(link.attributes ?? {})}</div>`
    }).join("")
  const dropped = span.droppedAttributesCount + span.droppedEventsCount + span.droppedLinksCount
  return `<h2>Span</h2><table class="overview"><tbody>` +
    rows.map(([k, v]) => `<tr><th>${escape(k)}</th><td class="mono">${escape(v)}</td></tr>`).join("") +
    `</tbody></table>` +
    `<h2>Attributes</h2>${attributesTable(span.attributes)}` +
    `<h2>Events</h2>${events}<h2>Links</h2>${links}` +
    (dropped > 0
      ? `<p class="meta">Dropped by span limits: ${span.droppedAttributesCount} attributes, ${span.droppedEventsCount} events, ${span.droppedLinksCount} links.</p>`
      : "")
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
  const body = rows.map(({ depth, orphan, span }) => {
    const context = span.spanContext()
    const start = hrToNanos(span.startTime)
    const duration = hrToNanos(span.endTime) - start
    const status = statusName(span.status.code)
    const kind = kindName(span.kind)
    return `<tr class="span" tabindex="0" data-span-id="${escape(context.spanId)}" data-parent-span-id="${
      escape(span.parentSpanContext?.spanId ?? "")
    }" data-depth="${depth}" data-kind="${kind}" data-status="${status}">` +
      `<td class="name" style="padding-left:${8 + depth * 16}px" title="${escape(span.name)}">` +
      `<span class="svc">${escape(serviceOf(span))}</span><span class="span-name">${escape(span.name)}</span>` +
      `${orphan ? ` <span class="orphan">(parent not recorded)</span>` : ""}</td>` +
      `<td class="kind">${kind}</td>` +
      `<td><span class="badge status-${status}">${status}</span></td>` +
      `<td class="duration">${escape(formatDuration(duration))}</td>` +
      `<td class="bar"><div class="track"><div class="fill status-${status}" style="left:${
        pct(start - entry.startNanos)
      }%;width:${pct(duration)}%"></div></div></td></tr>`
  }).join("")
  const templates = entry.spans.map((span) =>
    `<template id="details-${escape(span.spanContext().spanId)}">${details(span, store, base)}</template>`
  ).join("")
  const root = entry.root ?? rows[0]?.span
  const title = `Trace ${entry.traceId}`
  const html =
    `<header><h1>${root === undefined ? "" : `${escape(root.name)} · `}<span class="mono">${
      escape(entry.traceId)
    }</span></h1><a href="${escape(`${base}/`)}">← all traces</a></header><main>` +
    `<p class="meta">${entry.spans.length} spans${
      entry.droppedSpans > 0 ? ` (+${entry.droppedSpans} dropped: over ${store.limits.maxSpansPerTrace} per trace)` : ""
    }, ${escape(formatDuration(entry.endNanos - entry.startNanos))}, started ${escape(isoOf(entry.startNanos))}` +
    `${entry.errors > 0 ? `, <span class="err">${entry.errors} error${entry.errors === 1 ? "" : "s"}</span>` : ""}. ` +
    `Click a span for its attributes, events and links.</p>` +
    `<div class="waterfall"><table id="waterfall"><thead><tr><th>Span</th><th>Kind</th><th>Status</th><th>Duration</th><th>Timeline</th></tr></thead>` +
    `<tbody>${body}</tbody></table><aside id="details"><p class="meta">Select a span.</p></aside></div>${templates}</main>`
  return page(title, nonce, html, SCRIPT)
}

/** @internal */
export const renderMessage = (title: string, message: string, base: string, nonce: string): string =>
  page(
    title,
    nonce,
    `<header><h1>${escape(title)}</h1><a href="${escape(`${base}/`)}">← all traces</a></header><main><p>${
      escape(message)
    }</p></main>`
  )
