/// <reference types="vitest/config" />
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The wire types are generated from Rust into web/proto/vigil.ts; the
// dashboard imports them as `@proto` and never keeps a copy.
const proto = fileURLToPath(new URL("../proto/vigil.ts", import.meta.url));

export default defineConfig({
  plugins: [react()],
  resolve: {
    alias: { "@proto": proto },
  },
  server: {
    // Let the dev server read ../proto, which lies outside this package.
    fs: { allow: [".", "../proto"] },
  },
  test: {
    // Store tests run in plain node; React tests opt into jsdom per file.
    environment: "node",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
