// Types of bin/bundle.js (plain JavaScript: it runs before anything can load TypeScript).
export const ROOT: string
export const ENTRY: string
export const BUNDLE: string
export function bundleIsFresh (): boolean
export function buildBundle (): Promise<string>
export function freshBundle (): Promise<string>
