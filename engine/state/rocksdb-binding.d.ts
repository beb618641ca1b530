// @nxtedition/rocksdb ships no type declarations; rocksdb-store.ts describes the part it uses.
declare module '@nxtedition/rocksdb' {
  export const RocksLevel: new (location: string, options: Record<string, unknown>) => unknown;
}
