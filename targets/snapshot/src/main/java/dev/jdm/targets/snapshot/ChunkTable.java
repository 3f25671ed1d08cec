package dev.jdm.targets.snapshot;

import java.util.Arrays;

/**
 * Chunk numbers mapped to a number, without boxing: a snapshot's completed exceptions (origin chunk
 * to COW chunk) and its reads in flight (chunk to count), the kernel's exception hash tables. Open
 * addressing with linear probing; the caller holds the snapshot's lock around every call.
 */
final class ChunkTable {
  /** What {@link #get} returns for a chunk that is not in the table. */
  static final long ABSENT = -1;
  private static final long FREE = -1;
  private static final int MIN_CAPACITY = 64;

  private long[] keys;
  private long[] values;
  private int size;

  ChunkTable() {
    keys = new long[MIN_CAPACITY];
    values = new long[MIN_CAPACITY];
    Arrays.fill(keys, FREE);
  }

  /** How many chunks are in the table. */
  int size() {
    return size;
  }

  /** The value of {@code chunk}, or {@link #ABSENT}. */
  long get(long chunk) {
    long[] k = keys;
    int mask = k.length - 1;
    for (int i = slot(chunk, mask); ; i = (i + 1) & mask) {
      long key = k[i];
      if (key == chunk) {
        return values[i];
      }
      if (key == FREE) {
        return ABSENT;
      }
    }
  }

  /** Sets the value of {@code chunk} (a chunk number, never negative). */
  void put(long chunk, long value) {
    if ((size + 1) * 4L > keys.length * 3L) {
      grow();
    }
    long[] k = keys;
    int mask = k.length - 1;
    for (int i = slot(chunk, mask); ; i = (i + 1) & mask) {
      if (k[i] == chunk) {
        values[i] = value;
        return;
      }
      if (k[i] == FREE) {
        k[i] = chunk;
        values[i] = value;
        size++;
        return;
      }
    }
  }

  /** Removes {@code chunk}; returns its value, or {@link #ABSENT}. */
  long remove(long chunk) {
    long[] k = keys;
    int mask = k.length - 1;
    int i = slot(chunk, mask);
    while (k[i] != chunk) {
      if (k[i] == FREE) {
        return ABSENT;
      }
      i = (i + 1) & mask;
    }
    long old = values[i];
    // Backward-shift deletion: move later entries of the probe run into the gap.
    int gap = i;
    for (int j = (i + 1) & mask; k[j] != FREE; j = (j + 1) & mask) {
      int home = slot(k[j], mask);
      boolean movable = gap <= j ? home <= gap || home > j : home <= gap && home > j;
      if (movable) {
        k[gap] = k[j];
        values[gap] = values[j];
        gap = j;
      }
    }
    k[gap] = FREE;
    size--;
    return old;
  }

  private void grow() {
    long[] oldKeys = keys;
    long[] oldValues = values;
    keys = new long[oldKeys.length * 2];
    values = new long[oldKeys.length * 2];
    Arrays.fill(keys, FREE);
    size = 0;
    for (int i = 0; i < oldKeys.length; i++) {
      if (oldKeys[i] != FREE) {
        put(oldKeys[i], oldValues[i]);
      }
    }
  }

  private static int slot(long chunk, int mask) {
    long h = chunk * 0x9E3779B97F4A7C15L;
    return (int) (h ^ (h >>> 32)) & mask;
  }
}
