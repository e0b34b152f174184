// Keeps a list of elements in step with a list of keyed items: makes the new
// ones, updates all, removes the gone, and moves an element only when the
// order changed (so focus inside a row survives an update).
export interface Row<T> { el: HTMLElement; update(v: T): void }

export class Keyed<T> {
  private rows = new Map<string, Row<T>>();
  constructor(private readonly parent: HTMLElement, private readonly make: (key: string, v: T) => Row<T>) {}

  get size(): number { return this.rows.size; }
  has(key: string): boolean { return this.rows.has(key); }
  get(key: string): Row<T> | undefined { return this.rows.get(key); }
  keys(): IterableIterator<string> { return this.rows.keys(); }

  sync(items: Array<[string, T]>): void {
    const keep = new Set(items.map(([k]) => k));
    for (const [k, r] of this.rows) if (!keep.has(k)) { r.el.remove(); this.rows.delete(k); }
    let prev: Node | null = null;
    for (const [k, v] of items) {
      let r = this.rows.get(k);
      if (!r) { r = this.make(k, v); this.rows.set(k, r); }
      r.update(v);
      const at: Node | null = prev ? prev.nextSibling : this.parent.firstChild;
      if (at !== r.el) this.parent.insertBefore(r.el, at);
      prev = r.el;
    }
  }

  clear(): void {
    for (const r of this.rows.values()) r.el.remove();
    this.rows.clear();
  }
}
