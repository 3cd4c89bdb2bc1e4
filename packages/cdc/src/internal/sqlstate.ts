/**
 * Server and socket errors to the reason a change stream failed, by SQLSTATE, with no Effect
 * (a portable module: see docs/ADDING-A-SURFACE.md).
 *
 * @internal
 */
import type { Reason } from "../CdcError.js"

/** The SQLSTATE of a server error (`pg` sets `code`), or a socket error's code. @internal */
export const errorCode = (error: unknown): string | undefined =>
  typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string"
    ? (error as { code: string }).code
    : undefined

/** @internal */
export const messageOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

/** The reason of a server or socket error (SQLSTATE where the server sent one). @internal */
export const classify = (error: unknown): Reason => {
  const code = errorCode(error)
  const message = messageOf(error)
  if (code === "42704" && /replication slot/i.test(message)) return "SlotDropped"
  if (code === "55006") return "SlotInUse"
  // 42704 publication missing, 55000 wal_level/physical slot, 28xxx auth, 42501 privileges,
  // 0A000 feature not supported (e.g. another plugin's slot), 3D000 database missing.
  if (code === "42704" || code === "55000" || code === "42501" || code === "0A000" || code === "3D000") return "Setup"
  if (code !== undefined && code.startsWith("28")) return "Setup"
  return "ConnectionLost"
}
