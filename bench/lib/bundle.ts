/**
 * A benchmarked program, or a test's child-process fixture, as a production build runs it: our
 * TypeScript compiled once by esbuild (no `keepNames`), every library from its published JS. Run through tsx instead, only
 * our code would pay tsx's per-closure `__name` calls, and comparisons would not be like for like.
 */
import * as esbuild from "esbuild"

export const bundle = async (entry: string, outfile: string): Promise<void> => {
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Our workspace packages are compiled in; everything from the registry stays external.
    plugins: [{
      name: "registry-packages-external",
      setup(build) {
        build.onResolve(
          { filter: /^[^./]/ },
          (args) => args.path.startsWith("@effect-telemetry/") ? undefined : { path: args.path, external: true }
        )
      }
    }],
    logLevel: "warning"
  })
}
