/**
 * Reading V8 CPU profiles of a bundled benchmark program: self time by area (which library or
 * which of our packages the code belongs to), by function, and by the groups the "where the
 * overhead goes" tables use.
 */
import { readFileSync } from "node:fs"
import { fmt, signed } from "./stats.js"
import type { Table } from "./stats.js"

interface CpuProfile {
  readonly nodes: ReadonlyArray<{
    id: number
    callFrame: { functionName: string; url: string; lineNumber: number }
    children?: ReadonlyArray<number>
  }>
  readonly samples: ReadonlyArray<number>
}

/** Where each of our modules starts in a bundle, from the `// path` comments esbuild writes. */
export interface BundleMap {
  readonly file: string
  readonly modules: ReadonlyArray<{ readonly line: number; readonly path: string }>
}

export const emptyBundleMap: BundleMap = { file: "", modules: [] }

export const bundleMapOf = (script: string): BundleMap => ({
  file: script.slice(script.lastIndexOf("/")),
  modules: readFileSync(script, "utf8").split("\n").flatMap((text, line) => {
    const m = /^\/\/ ((?:packages|bench)\/\S+\.ts)$/.exec(text)
    return m === null ? [] : [{ line, path: m[1]! }]
  })
})

/** The source module of a bundle line (0-based). */
const sourceOf = (map: BundleMap, url: string, line: number): string | undefined => {
  if (map.file === "" || !url.endsWith(map.file)) return undefined
  let found: string | undefined
  for (const module of map.modules) {
    if (module.line > line) break
    found = module.path
  }
  return found
}

const read = (profilePath: string): CpuProfile => JSON.parse(readFileSync(profilePath, "utf8")) as CpuProfile

const areaOf = (map: BundleMap, url: string, fn: string, line: number): string => {
  const source = sourceOf(map, url, line) ?? url
  if (source.includes("packages/core/")) return "@effect-telemetry/core"
  if (source.includes("packages/http/")) return "@effect-telemetry/http"
  // Before "bench/": Effect 4 is installed under bench/.scratch/effect4/node_modules.
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m !== null) return m[1]!
  if (source.includes("bench/")) return "bench app"
  if (url.startsWith("node:")) return "node internals"
  if (url === "") return fn === "(garbage collector)" ? "GC" : fn === "(idle)" ? "idle" : `native ${fn}`
  return "other"
}

/** Self time grouped by where the code lives, largest first. */
export const areaShares = (profilePath: string, map: BundleMap): Array<{ area: string; share: number }> => {
  const profile = read(profilePath)
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const shares = new Map<string, number>()
  for (const id of profile.samples) {
    const frame = byId.get(id)!.callFrame
    const key = areaOf(map, frame.url, frame.functionName, frame.lineNumber)
    shares.set(key, (shares.get(key) ?? 0) + 1)
  }
  return [...shares.entries()].sort((a, b) => b[1] - a[1]).map(([area, n]) => ({
    area,
    share: n / profile.samples.length
  }))
}

/** Busy samples taken with our code on the stack: their share, and how it splits by where each was. */
export interface UnderOwnFrames {
  /** The share of busy samples. */
  readonly share: number
  /** By the group of the sampled (innermost) function: our own code, or the library it called. */
  readonly byGroup: ReadonlyMap<Group, number>
}

/**
 * The share of busy (non-idle) samples taken while one of our packages' functions was on the
 * stack: our code with everything it calls (Effect's FiberRef and Context operations, the
 * platform's response helpers, the SDK), which the self-time groups count as those libraries'.
 * What is left outside is the run loop and the platform doing their own work. Split by the
 * sampled function's group: what our functions themselves spend, and what the calls they make
 * spend in each library.
 */
export const underOwnFrames = (profilePath: string, map: BundleMap): UnderOwnFrames => {
  const profile = read(profilePath)
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const own = new Map<number, boolean>()
  const areaAt = (id: number): string => {
    const frame = byId.get(id)!.callFrame
    return areaOf(map, frame.url, frame.functionName, frame.lineNumber)
  }
  const isOwn = (id: number): boolean => {
    let known = own.get(id)
    if (known === undefined) {
      const up = parent.get(id)
      known = areaAt(id).startsWith("@effect-telemetry/") || (up !== undefined && isOwn(up))
      own.set(id, known)
    }
    return known
  }
  let busy = 0
  let under = 0
  const counts = new Map<Group, number>()
  for (const id of profile.samples) {
    if (byId.get(id)!.callFrame.functionName === "(idle)") continue
    busy++
    if (!isOwn(id)) continue
    under++
    const group = groupOf(areaAt(id))
    if (group !== undefined) counts.set(group, (counts.get(group) ?? 0) + 1)
  }
  const byGroup = new Map<Group, number>()
  for (const [group, n] of counts) byGroup.set(group, n / busy)
  return { share: busy === 0 ? 0 : under / busy, byGroup }
}

/** Self time by function, the top `count`. */
export const topFunctions = (
  profilePath: string,
  map: BundleMap,
  count: number
): Array<{ name: string; share: number }> => {
  const profile = read(profilePath)
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<string, number>()
  for (const id of profile.samples) {
    const frame = byId.get(id)!.callFrame
    const file = sourceOf(map, frame.url, frame.lineNumber) ??
      frame.url.replace(/^.*node_modules\//, "").replace(/^.*\/packages\//, "packages/").replace(/^file:\/\//, "")
    const key = `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + 1)
  }
  const total = profile.samples.length
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, n]) => ({ name, share: n / total }))
}

export const groups = [
  "@effect-telemetry (our packages)",
  "@opentelemetry SDK and OTLP serializer",
  "prom-client",
  "effect (fiber runtime, FiberRefs, Context)",
  "@effect/platform, platform-node, router",
  "node internals (http, net, streams, timers)",
  "writev (kernel)",
  "GC",
  "other (V8 program, natives, app)"
] as const
export type Group = (typeof groups)[number]

/** A group's name without its parenthesis, for one-line notes. */
export const shortGroup = (g: Group): string => g.replace(/ \(.*\)$/, "").replace(/,.*$/, "")

const groupOf = (area: string): Group | undefined => {
  if (area === "idle") return undefined
  if (area.startsWith("@effect-telemetry/")) return "@effect-telemetry (our packages)"
  if (area.startsWith("@opentelemetry/") || area === "protobufjs" || area.startsWith("@grpc/")) {
    return "@opentelemetry SDK and OTLP serializer"
  }
  if (area === "prom-client") return "prom-client"
  if (area === "effect") return "effect (fiber runtime, FiberRefs, Context)"
  if (area.startsWith("@effect/") || area === "find-my-way-ts") return "@effect/platform, platform-node, router"
  if (area === "node internals") return "node internals (http, net, streams, timers)"
  if (area === "native writev") return "writev (kernel)"
  if (area === "GC") return "GC"
  return "other (V8 program, natives, app)"
}

/**
 * Where a profiled program's CPU goes, in µs per request by group: the profile's shares of busy
 * (non-idle) samples applied to a measured CPU µs per request. Shares rather than the
 * profile's clock: one profiled run is one sample of a noisy machine, while the shares hold
 * across its slow and fast phases.
 */
export interface Attribution {
  /** CPU µs per request the shares are applied to. */
  readonly busy: number
  readonly byGroup: ReadonlyMap<Group, number>
  /** CPU µs per request with our code on the stack (see {@link underOwnFrames}), when measured. */
  readonly underOwn?: number
  /** The same split by where the sampled function lives (our code, or a library it called). */
  readonly underOwnByGroup?: ReadonlyMap<Group, number>
}

export const attribution = (
  areas: ReadonlyArray<{ readonly area: string; readonly share: number }>,
  cpuMicrosPerRequest: number,
  underOwn?: UnderOwnFrames
): Attribution => {
  const shares = new Map<Group, number>()
  let busyShare = 0
  for (const { area, share } of areas) {
    const group = groupOf(area)
    if (group === undefined) continue
    shares.set(group, (shares.get(group) ?? 0) + share)
    busyShare += share
  }
  const byGroup = new Map<Group, number>()
  for (const [group, share] of shares) byGroup.set(group, (share / busyShare) * cpuMicrosPerRequest)
  if (underOwn === undefined) return { busy: cpuMicrosPerRequest, byGroup }
  const underOwnByGroup = new Map<Group, number>()
  for (const [group, share] of underOwn.byGroup) underOwnByGroup.set(group, share * cpuMicrosPerRequest)
  return { busy: cpuMicrosPerRequest, byGroup, underOwn: underOwn.share * cpuMicrosPerRequest, underOwnByGroup }
}

/** A group's name in the "with our code on the stack" split: our package group is our functions' own time. */
const ownSplitLabel = (g: Group): string => g === "@effect-telemetry (our packages)" ? "our functions" : shortGroup(g)

/** Each group whose difference moved by `threshold` µs or more, largest first, as `label ±d`. */
const movedGroups = (difference: (g: Group) => number, threshold: number, label: (g: Group) => string): string =>
  groups
    .map((g) => [g, difference(g)] as const)
    .filter(([, d]) => Math.abs(d) >= threshold)
    .sort((a, b) => b[1] - a[1])
    .map(([g, d]) => `${label(g)} ${signed(d)}`)
    .join(", ")

/**
 * `of − over` with our code on the stack, by where the time was spent (groups that moved by
 * 0.3 µs or more, largest first): our functions' own time, then the library calls they make.
 */
export const underOwnNote = (of: Attribution, over: Attribution): string => {
  if (of.underOwnByGroup === undefined || over.underOwnByGroup === undefined) return ""
  return movedGroups(
    (g) => (of.underOwnByGroup!.get(g) ?? 0) - (over.underOwnByGroup!.get(g) ?? 0),
    0.3,
    ownSplitLabel
  )
}

/**
 * The "where the overhead goes" table: each variant's CPU µs/req by group, then the differences
 * asked for (`of` minus `over`), group by group.
 */
export const attributionTable = (options: {
  readonly title: string
  readonly variants: ReadonlyArray<readonly [label: string, attribution: Attribution]>
  readonly deltas: ReadonlyArray<readonly [label: string, of: Attribution, over: Attribution]>
  readonly notes: ReadonlyArray<string>
}): Table => {
  const at = (a: Attribution, g: Group) => a.byGroup.get(g) ?? 0
  return {
    title: options.title,
    header: ["group", ...options.variants.map(([label]) => label), ...options.deltas.map(([label]) => label)],
    rows: [
      ...groups.map((g) => [
        g,
        ...options.variants.map(([, a]) => fmt(at(a, g), 1)),
        ...options.deltas.map(([, of, over]) => signed(at(of, g) - at(over, g)))
      ]),
      [
        "**total (CPU µs/req)**",
        ...options.variants.map(([, a]) => fmt(a.busy, 1)),
        ...options.deltas.map(([, of, over]) => signed(of.busy - over.busy))
      ],
      ...(options.variants.every(([, a]) => a.underOwn !== undefined)
        ? [[
          "with our code on the stack (our code and the library calls it makes; within the total)",
          ...options.variants.map(([, a]) => fmt(a.underOwn!, 1)),
          ...options.deltas.map(([, of, over]) => signed(of.underOwn! - over.underOwn!))
        ], ...underOwnRows(options)]
        : [])
    ],
    notes: [...options.notes]
  }
}

/** "With our code on the stack" split by group: the groups where some variant spends 0.1 µs or more. */
const underOwnRows = (options: {
  readonly variants: ReadonlyArray<readonly [label: string, attribution: Attribution]>
  readonly deltas: ReadonlyArray<readonly [label: string, of: Attribution, over: Attribution]>
}): Array<Array<string>> => {
  const at = (a: Attribution, g: Group) => a.underOwnByGroup?.get(g) ?? 0
  return groups
    .filter((g) => options.variants.some(([, a]) => at(a, g) >= 0.1))
    .map((g) => [
      `- of which in ${ownSplitLabel(g)}`,
      ...options.variants.map(([, a]) => fmt(at(a, g), 1)),
      ...options.deltas.map(([, of, over]) => signed(at(of, g) - at(over, g)))
    ])
}

/** CPU µs per request in our own code: our packages, the OTel SDK and serializer, prom-client. */
export const ownCode = (a: Attribution): number =>
  (a.byGroup.get("@effect-telemetry (our packages)") ?? 0) +
  (a.byGroup.get("@opentelemetry SDK and OTLP serializer") ?? 0) +
  (a.byGroup.get("prom-client") ?? 0)

/** `of − over` in one line: the total, then each group that moved by 0.5 µs or more, largest first. */
export const deltaNote = (of: Attribution, over: Attribution): string => {
  const parts = movedGroups((g) => (of.byGroup.get(g) ?? 0) - (over.byGroup.get(g) ?? 0), 0.5, shortGroup)
  const split = underOwnNote(of, over)
  const under = of.underOwn !== undefined && over.underOwn !== undefined
    ? `; with our code on the stack ${signed(of.underOwn - over.underOwn)}${split === "" ? "" : `: ${split}`}`
    : ""
  return `${signed(of.busy - over.busy)} (${parts}${under})`
}

/** The note shared by the attribution tables: how the split is made. */
export const attributionMethod =
  "Each variant's CPU µs/req (the median of its measured rounds) split by the shares of its profile's busy samples (one profiled run per variant after the rounds; V8's sampling profiler sees the main thread, idle excluded). The profiled runs have TurboFan's inlining off (`--no-turbo-inlining`), so each function's self time stays its own instead of counting for the caller it was inlined into (our continuations run inside Effect's run loop and Node's callbacks); the shares are those of that build, the totals are measured without it. Groups by where the code lives: our packages' compiled code; @opentelemetry/* (the SDK's batch processor, the OTLP serializer); prom-client; effect (the fiber runtime: run loop, FiberRef copies, Context); @effect/platform and the router; Node's own JS; writev (the kernel writing responses and export requests); GC pauses."
