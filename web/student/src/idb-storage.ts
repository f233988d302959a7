// OutboxStorage on IndexedDB: one database per exam and student, an
// auto-keyed `outbox` store and a `meta` store holding the sequence counter
// and the incidents still open. Every change that must stay consistent
// (an item and the counter it consumed) is one transaction.

import type { NewItem, OpenChange, OpenRecord, OutboxItem, OutboxStorage, StoredState } from "./outbox.ts";

const OUTBOX = "outbox";
const META = "meta";

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error("IndexedDB request failed"));
  });
}

function done(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
  });
}

export class IdbStorage implements OutboxStorage {
  private constructor(private db: IDBDatabase) {}

  static async open(name: string, factory: IDBFactory = indexedDB): Promise<IdbStorage> {
    const r = factory.open(name, 1);
    r.onupgradeneeded = () => {
      const db = r.result;
      db.createObjectStore(OUTBOX, { keyPath: "key", autoIncrement: true });
      db.createObjectStore(META);
    };
    return new IdbStorage(await req(r));
  }

  close(): void {
    this.db.close();
  }

  async load(): Promise<StoredState> {
    const tx = this.db.transaction([OUTBOX, META], "readonly");
    const items = req(tx.objectStore(OUTBOX).getAll() as IDBRequest<OutboxItem[]>);
    const seq = req(tx.objectStore(META).get("seq") as IDBRequest<number | undefined>);
    const open = req(tx.objectStore(META).get("open") as IDBRequest<OpenRecord[] | undefined>);
    const [i, s, o] = await Promise.all([items, seq, open]);
    await done(tx);
    return { items: i, seq: s ?? 1, open: o ?? [] };
  }

  async add(item: NewItem, seq: number, open?: OpenChange): Promise<number> {
    const tx = this.db.transaction([OUTBOX, META], "readwrite");
    const key = req(tx.objectStore(OUTBOX).add(item) as IDBRequest<number>);
    tx.objectStore(META).put(seq, "seq");
    if (open && (open.set || open.clear)) this.applyOpen(tx, open);
    const k = await key;
    await done(tx);
    return k;
  }

  async put(item: OutboxItem, seq: number): Promise<void> {
    const tx = this.db.transaction([OUTBOX, META], "readwrite");
    tx.objectStore(OUTBOX).put(item);
    tx.objectStore(META).put(seq, "seq");
    await done(tx);
  }

  async remove(key: number): Promise<void> {
    const tx = this.db.transaction(OUTBOX, "readwrite");
    tx.objectStore(OUTBOX).delete(key);
    await done(tx);
  }

  async setSeq(seq: number): Promise<void> {
    const tx = this.db.transaction(META, "readwrite");
    const meta = tx.objectStore(META);
    // Never move the counter backwards, even if two pages race.
    const cur = await req(meta.get("seq") as IDBRequest<number | undefined>);
    if (cur === undefined || seq > cur) meta.put(seq, "seq");
    await done(tx);
  }

  async setOpen(change: OpenChange): Promise<void> {
    const tx = this.db.transaction(META, "readwrite");
    this.applyOpen(tx, change);
    await done(tx);
  }

  private applyOpen(tx: IDBTransaction, change: OpenChange): void {
    const meta = tx.objectStore(META);
    const get = meta.get("open") as IDBRequest<OpenRecord[] | undefined>;
    get.onsuccess = () => {
      let open = get.result ?? [];
      if (change.clear) open = open.filter((o) => o.id !== change.clear);
      if (change.set) open = [...open.filter((o) => o.id !== change.set!.id), change.set];
      meta.put(open, "open");
    };
  }
}
