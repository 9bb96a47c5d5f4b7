// Host uid/gid ranges for labs: each open lab owns one range that no other open lab uses.
export class IdRanges {
  private used = new Set<number>();
  constructor(
    readonly base: number,
    readonly size: number,
    readonly slots: number,
  ) {
    if (base + size * slots > 2 ** 32 - 2) throw new Error('the lab id ranges do not fit in 32 bits');
  }

  allocate(): { slot: number; base: number } | null {
    for (let slot = 0; slot < this.slots; slot++) {
      if (!this.used.has(slot)) {
        this.used.add(slot);
        return { slot, base: this.base + slot * this.size };
      }
    }
    return null;
  }

  release(slot: number) {
    this.used.delete(slot);
  }

  /** Does this host uid belong to any lab range? */
  contains(uid: number): boolean {
    return uid >= this.base && uid < this.base + this.size * this.slots;
  }

  get inUse(): number {
    return this.used.size;
  }
}
