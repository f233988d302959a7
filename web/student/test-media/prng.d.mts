// Types for prng.mjs, which the TypeScript unit tests import.
export function prng(seed: number): () => number;
