package dev.jdm.kernel;

import java.lang.management.ManagementFactory;
import java.util.function.IntConsumer;

/** Measures what a call allocates on this thread once the JIT and the pools have warmed up. */
final class Allocations {
  private Allocations() {}

  /**
   * Runs {@code call} {@code 2 * rounds} times with the round number and returns the bytes the
   * second half allocated per call (the first half warms up).
   */
  static long perCall(int rounds, IntConsumer call) {
    var mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long before = 0;
    for (int i = 0; i < 2 * rounds; i++) {
      if (i == rounds) {
        before = mx.getCurrentThreadAllocatedBytes();
      }
      call.accept(i);
    }
    return (mx.getCurrentThreadAllocatedBytes() - before) / rounds;
  }
}
