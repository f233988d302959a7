/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { hashModelsPlugin } from "./scripts/hash-models.mjs";

// The wire types are generated from Rust into web/proto/vigil.ts; the student
// app imports them as `@proto` and never keeps a copy.
const proto = fileURLToPath(new URL("../proto/vigil.ts", import.meta.url));

// `vite build --mode test` makes the browser tests' build, into dist-test/:
// the same app plus `window.__vigil` (src/test-hooks.ts), which the
// production build in dist/ leaves out (scripts/check-bundle.mjs checks).
export default defineConfig(({ mode }) => ({
  // Served by the vigil binary from web/student/dist under /student/.
  base: "/student/",
  resolve: { alias: { "@proto": proto } },
  // public/ holds the prepared models and the tasks-vision WASM (npm run
  // prepare-models); they are copied to dist/models, same-origin, where each
  // group directory then gets a content-hashed name (scripts/hash-models.mjs)
  // so that it can be cached for a year.
  publicDir: "public",
  plugins: [hashModelsPlugin()],
  worker: { format: "es" },
  build: {
    outDir: mode === "test" ? "dist-test" : "dist",
    emptyOutDir: true,
    target: "es2022",
    // tasks-vision is one large module; it only ever loads in the worker.
    chunkSizeWarningLimit: 1024,
  },
  server: { fs: { allow: [".", "../proto"] } },
  test: {
    environment: "node",
    include: ["test/unit/**/*.test.ts"],
  },
}));
