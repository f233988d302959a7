// ESLint: typescript-eslint's type-checked recommendations for the app
// (src/) and its unit tests; ESLint's own for the Node scripts and the
// browser tests (plain .mjs).
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import globals from "globals";
import tseslint from "typescript-eslint";

export default defineConfig(
  { ignores: ["dist/", "dist-test/", "public/", "bench/", "test-media/out/"] },
  js.configs.recommended,
  {
    files: ["**/*.ts"],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
  },
  {
    files: ["**/*.mjs", "eslint.config.js"],
    languageOptions: { globals: globals.node },
  },
  {
    // Callbacks handed to page.evaluate run in the page; test/browser/ is loaded by the page.
    files: ["test/**/*.mjs", "scripts/bench*.mjs"],
    languageOptions: { globals: globals.browser },
  },
);
