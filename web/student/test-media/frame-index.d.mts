// Types for frame-index.mjs, which the test build of the inference worker imports.
export const BLOCKS: number;
export const DATA_BITS: number;
export const STRIP_FRACTION: number;
export const MAX_INDEX: number;
export function frameIndexBlocks(index: number): number[];
export function stripRows(height: number): [number, number];
export function drawFrameIndex(img: { width: number; height: number; data: Uint8Array | Uint8ClampedArray }, index: number): void;
export function decodeFrameIndex(imageData: { width: number; height: number; data: ArrayLike<number> }): number | null;
