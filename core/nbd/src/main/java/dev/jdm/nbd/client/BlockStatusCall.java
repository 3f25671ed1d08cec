package dev.jdm.nbd.client;

import dev.jdm.spi.IoStatus;
import java.util.Arrays;

/**
 * One NBD_CMD_BLOCK_STATUS a caller waits for: the reader thread adds the extents of the
 * base:allocation context as they come, then ends the call; the caller replays them.
 */
final class BlockStatusCall {
  private long[] extents = new long[32];
  private int count;
  private IoStatus status;

  /** Adds one extent of {@code bytes} bytes with NBD state flags {@code flags}. */
  synchronized void add(long bytes, int flags) {
    if (count + 2 > extents.length) {
      extents = Arrays.copyOf(extents, extents.length * 2);
    }
    extents[count++] = bytes;
    extents[count++] = flags;
  }

  /** Ends the call. */
  synchronized void end(IoStatus s) {
    status = s;
    notifyAll();
  }

  /** Waits for the end; the status. */
  synchronized IoStatus await() throws InterruptedException {
    while (status == null) {
      wait();
    }
    return status;
  }

  /** Feeds the extents to {@code out} up to {@code limit} bytes; the bytes fed. */
  synchronized long replay(SectorExtents out, long limit) {
    long fed = 0;
    for (int i = 0; i < count && fed < limit; i += 2) {
      long n = Math.min(extents[i], limit - fed);
      fed += n;
      if (!out.add(n, (int) extents[i + 1])) {
        break;
      }
    }
    return fed;
  }
}
