// The slot's confirmed position (internal/confirmation.ts, portable: no Effect, no server):
// the end of the longest acknowledged prefix, keepalives between transactions included.
import { describe, expect, it } from "vitest"
import { Confirmation } from "../src/internal/confirmation.js"

describe("Confirmation", () => {
  it("confirms only the acknowledged prefix when transactions are acknowledged out of order", () => {
    const confirmation = new Confirmation(100n)
    const first = confirmation.track(200n)
    const second = confirmation.track(300n)
    const third = confirmation.track(400n)
    expect(confirmation.complete(third)).toBe(false)
    expect(confirmation.complete(second)).toBe(false)
    expect(confirmation.confirmed).toBe(100n)
    expect(confirmation.complete(first)).toBe(true)
    expect(confirmation.confirmed).toBe(400n)
  })

  it("a keepalive's position is confirmed once every earlier transaction is, and consecutive ones share one marker", () => {
    const confirmation = new Confirmation(0n)
    const open = confirmation.track(500n)
    expect(confirmation.reached(600n)).toBe(false)
    expect(confirmation.reached(700n)).toBe(false)
    expect(confirmation.complete(open)).toBe(true)
    // The second keepalive moved the marker instead of queueing behind the first.
    expect(confirmation.confirmed).toBe(700n)
    // Idle: a keepalive alone confirms its position; one behind it changes nothing.
    expect(confirmation.reached(800n)).toBe(true)
    expect(confirmation.reached(750n)).toBe(false)
    expect(confirmation.confirmed).toBe(800n)
  })

  it("never moves back: a transaction ending before the position the slot resumed from confirms nothing", () => {
    const confirmation = new Confirmation(1_000n)
    expect(confirmation.complete(confirmation.track(900n))).toBe(false)
    expect(confirmation.confirmed).toBe(1_000n)
  })
})
