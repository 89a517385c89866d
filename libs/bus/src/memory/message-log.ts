/**
 * A topic's messages by index (the index is part of the message id and never changes), from
 * which a prefix can be dropped once nobody needs it. Dropped slots are cleared at once so their
 * messages can be collected; the array itself is compacted when the cleared prefix is at least
 * half of it, so appends and drops stay O(1) amortised.
 */
export class MessageLog<T> {
  private entries: (T | undefined)[] = [];
  /** Index of entries[0]. */
  private offset = 0;
  /** Position in `entries` of the first retained message. */
  private head = 0;

  /** Index of the oldest message still held. */
  get start(): number {
    return this.offset + this.head;
  }

  /** Index the next appended message gets (every message ever appended is below it). */
  get end(): number {
    return this.offset + this.entries.length;
  }

  /** Messages held now. */
  get size(): number {
    return this.entries.length - this.head;
  }

  append(entry: T): number {
    this.entries.push(entry);
    return this.end - 1;
  }

  /** The message at `index`, or undefined if it was dropped or is not written yet. */
  at(index: number): T | undefined {
    if (index < this.start || index >= this.end) return undefined;
    return this.entries[index - this.offset];
  }

  /** Drops every message below `index`. */
  dropBelow(index: number): void {
    const until = Math.min(index, this.end) - this.offset;
    if (until <= this.head) return;
    for (let at = this.head; at < until; at++) this.entries[at] = undefined;
    this.head = until;
    if (this.head >= 1024 && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.offset += this.head;
      this.head = 0;
    }
  }
}
