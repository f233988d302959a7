// Types of hash-models.mjs, for vite.config.ts and the unit tests (TypeScript).
import type { Plugin } from "vite";

export const GROUP_HASH_HEX: number;
export function groupHash(files: Iterable<{ name: string; sha256: string }>): string;
export class HashModelsError extends Error {}
export function hashModels(modelsDir: string): Record<string, string>;
export function hashModelsPlugin(): Plugin;
