package dev.jdm.fuse.proto;

import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;

/**
 * Worker threads parked off the device until they are needed, the most recently parked first.
 *
 * <p>Why: the kernel hands each request to the thread that has waited longest in read(2). With
 * every worker waiting there, one client's requests go round all of them, each cold and often on
 * the other CPU, and a cross-CPU wake-up costs more than the request itself. Keeping only a few
 * workers in read(2) and the rest here keeps one client on threads that ran a moment ago, while
 * parallel clients still wake as many workers as they keep busy.
 *
 * <p>The stack is guarded by this object's monitor, held for a few instructions and never across
 * I/O; nothing is allocated.
 */
final class Standby {
  private final Thread[] threads;
  private final int[] stack;
  private final boolean[] parked;
  private int size;
  private boolean ended;

  /** Room for {@code workers} workers, known by their index. */
  Standby(int workers) {
    this.threads = new Thread[workers];
    this.stack = new int[workers];
    this.parked = new boolean[workers];
  }

  /** Records the thread of worker {@code index}. */
  synchronized void register(int index, Thread thread) {
    threads[index] = thread;
  }

  /**
   * Parks the calling worker {@code index} until {@link #wakeOne} picks it, or leaves at once if,
   * once it is on the stack, {@code neededNow} says a worker is needed (a reader may have found
   * nobody to wake just before).
   *
   * @return false once {@link #end} was called
   */
  boolean park(int index, BooleanSupplier neededNow) {
    synchronized (this) {
      if (ended) {
        return false;
      }
      stack[size++] = index;
      parked[index] = true;
    }
    if (neededNow.getAsBoolean()) {
      synchronized (this) {
        if (parked[index]) {
          remove(index);
        }
      }
    }
    while (true) {
      synchronized (this) {
        if (ended) {
          return false;
        }
        if (!parked[index]) {
          return true;
        }
      }
      LockSupport.park(this);
    }
  }

  private void remove(int index) {
    int at = size - 1;
    while (stack[at] != index) {
      at--;
    }
    System.arraycopy(stack, at + 1, stack, at, size - at - 1);
    size--;
    parked[index] = false;
  }

  /** Wakes the most recently parked worker, if any. */
  void wakeOne() {
    Thread t;
    synchronized (this) {
      if (size == 0) {
        return;
      }
      int index = stack[--size];
      parked[index] = false;
      t = threads[index];
    }
    LockSupport.unpark(t);
  }

  /** Wakes every parked worker for good: the session is over. */
  void end() {
    Thread[] all;
    synchronized (this) {
      ended = true;
      all = threads.clone();
    }
    for (Thread t : all) {
      if (t != null) {
        LockSupport.unpark(t);
      }
    }
  }
}
