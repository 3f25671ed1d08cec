package dev.jdm.kernel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Supplier;

/**
 * A bounded, lock-free pool of reusable objects for the data path. Taking probes a few slots from a
 * moving cursor and makes a new object when they are empty; giving drops the object when the probed
 * slots are full. Neither blocks nor allocates in steady state.
 */
final class FreeList<T> {
  private static final int PROBES = 8;
  private final AtomicReferenceArray<T> slots;
  private final int mask;
  private final AtomicInteger cursor = new AtomicInteger();
  private final Supplier<T> factory;

  FreeList(int capacity, Supplier<T> factory) {
    int size = Integer.highestOneBit(Math.max(PROBES, capacity - 1) * 2);
    this.slots = new AtomicReferenceArray<>(size);
    this.mask = size - 1;
    this.factory = factory;
  }

  T take() {
    int start = cursor.get();
    for (int i = 0; i < PROBES; i++) {
      int idx = (start - i) & mask;
      T t = slots.get(idx);
      if (t != null && slots.compareAndSet(idx, t, null)) {
        cursor.compareAndSet(start, idx);
        return t;
      }
    }
    return factory.get();
  }

  void give(T t) {
    int start = cursor.get();
    for (int i = 1; i <= PROBES; i++) {
      int idx = (start + i) & mask;
      if (slots.get(idx) == null && slots.compareAndSet(idx, null, t)) {
        cursor.compareAndSet(start, idx);
        return;
      }
    }
  }
}
