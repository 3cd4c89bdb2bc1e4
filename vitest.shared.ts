import { fileURLToPath } from "node:url"

const packages = fileURLToPath(new URL("./packages/", import.meta.url))

/**
 * Tests run on the sources: `@effect-telemetry/<pkg>` and its subpaths resolve to
 * `packages/<pkg>/src`, not to the built `dist/` the package.json exports (the consumer test
 * covers what users install).
 */
export const sourceAliases = [
  { find: /^@effect-telemetry\/([a-z]+)$/, replacement: `${packages}$1/src/index.ts` },
  { find: /^@effect-telemetry\/([a-z]+)\/(.+)$/, replacement: `${packages}$1/src/$2.ts` }
]
