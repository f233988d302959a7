// Types of what the TypeScript side (the unit tests) imports from prepare-models.mjs.
export const MODELS_LAYOUT: number;
export function groupOf(key: string): string;
export function prepareModels(outDir: string): { layout: number; groups: Record<string, string>; files: Record<string, { bytes: number; sha256: string }> };
