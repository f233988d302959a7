/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The wire types are generated from Rust into web/proto/vigil.ts; the
// dashboard imports them as `@proto` and never keeps a copy.
const proto = fileURLToPath(new URL("../proto/vigil.ts", import.meta.url));

// `vite build --mode profiling` makes the browser test's build: React's
// profiling renderer (so `<Profiler>` reports in production code), one
// Profiler per tile (see GridTile), and the test hooks, into dist-profiling.
export default defineConfig(({ mode }) => {
  const profiling = mode === "profiling";
  return {
    // vigil serves the built app at /dashboard/ (from <web-dir>/dashboard/dist).
    base: "/dashboard/",
    plugins: [react()],
    resolve: {
      alias: [
        { find: "@proto", replacement: proto },
        ...(profiling ? [{ find: /^react-dom\/client$/, replacement: "react-dom/profiling" }] : []),
      ],
    },
    build: {
      outDir: profiling ? "dist-profiling" : "dist",
      emptyOutDir: true,
      sourcemap: profiling,
      minify: !profiling,
    },
    server: {
      // Let the dev server read ../proto, which lies outside this package.
      fs: { allow: [".", "../proto"] },
      // `VIGIL_URL=http://127.0.0.1:8080 npm run dev`: API and Socket.IO go to a running server.
      proxy: process.env.VIGIL_URL
        ? {
            "/api": process.env.VIGIL_URL,
            "/socket.io": { target: process.env.VIGIL_URL, ws: true },
          }
        : undefined,
    },
    test: {
      // Store tests run in plain node; React tests opt into jsdom per file.
      environment: "node",
      include: ["src/**/*.test.{ts,tsx}"],
    },
  };
});
