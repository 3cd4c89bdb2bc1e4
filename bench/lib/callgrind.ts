/**
 * A callgrind output's instructions split into the runtime's own (the mutator), V8's garbage
 * collector's and its compilers', read from the call graph the file records.
 *
 * The GC's share is every call into one of V8's heap functions made from outside them: an
 * allocation that triggers a collection, but also the incremental marking steps that allocation
 * observers and tasks run, and the sweeping that follows a full collection. Counted from
 * `Heap::CollectGarbage` alone (as this did before), a full collection whose marking and sweeping
 * fell into the counted window put ~60,000 instructions per request into the runtime's count of
 * one repetition in three. Calls made by V8's platform job runner are left out: under
 * `--single-threaded` it runs the jobs of a collection already counted (the scavenger's, the
 * evacuation's) inside it. The compilers' share is every call into the optimizing or baseline
 * compiler from outside them.
 */
import { createReadStream } from "node:fs"
import { createInterface } from "node:readline"

/** Instructions of one callgrind run: in all, and inclusive in the optimizing compiler and the GC. */
export interface Counts {
  readonly total: number
  readonly compiler: number
  readonly gc: number
}

const heap =
  /Scaveng|Marking|MarkCompact|Sweep|Evacuat|MinorGC|MemoryReducer|RememberedSet|heap::base::|cppgc::|GCTracer|v8::internal::Heap::|EphemeronHashTable|GlobalHandles::/
// Heap functions the mutator calls as part of its own work (allocating, write barriers, filler
// objects): not a collection, unless they call one (which then counts as the collection's).
const mutatorHeap =
  /Heap::(Allocate|EphemeronKeyWriteBarrier|InsertIntoRememberedSet|NotifyObject|CreateFiller|AppendArrayBufferExtension|GetFillToAlign|external_memory|DeoptMarkedAllocationSites|StartIncrementalMarkingIfAllocationLimitIsReached)/
const jobRunner = /v8::platform::/
const compiler = /v8::internal::compiler::|v8::internal::Compiler::|v8::internal::baseline::|GetOrCompileOptimized/

const isCollection = (name: string) => heap.test(name) && !mutatorHeap.test(name)

/** Reads `file` (callgrind's format, one event: instructions). */
export const countsOf = async (file: string): Promise<Counts> => {
  // Names are compressed: `fn=(12) name` the first time, `fn=(12)` afterwards.
  const names = new Map<string, string>()
  const nameOf = (spec: string): string => {
    const match = /^\((\d+)\)(?: (.*))?$/.exec(spec)
    if (match === null) return spec
    if (match[2] !== undefined) names.set(match[1]!, match[2])
    return names.get(match[1]!) ?? spec
  }
  let caller = ""
  let callee = ""
  let callCost = false
  let total = 0
  let gc = 0
  let compiled = 0
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) {
    if (line.startsWith("fn=")) {
      caller = nameOf(line.slice(3))
      callCost = false
    } else if (line.startsWith("cfn=")) {
      callee = nameOf(line.slice(4))
    } else if (line.startsWith("calls=")) {
      // The next cost line is the call's inclusive cost, not the caller's own.
      callCost = true
    } else if (/^[\d+\-*]/.test(line)) {
      const cost = Number(line.split(" ")[1] ?? 0)
      if (!callCost) {
        total += cost
        continue
      }
      callCost = false
      if (isCollection(callee) && !isCollection(caller) && !jobRunner.test(caller)) gc += cost
      else if (compiler.test(callee) && !compiler.test(caller) && !heap.test(callee)) compiled += cost
    }
  }
  return { total, compiler: compiled, gc }
}
