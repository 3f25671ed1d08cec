package dev.jdm.nbd.client;

import dev.jdm.nbd.protocol.NbdWire;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoRequest;

/**
 * Turns the byte extents of NBD block status into the sector extents of an {@link ExtentSink}:
 * a sector that several extents share is a hole or zeros only if all of them say so, and
 * neighbours with the same flags are reported as one.
 */
final class SectorExtents {
  private final ExtentSink sink;
  /** Bytes added so far. */
  private long bytes;
  /** Sectors reported so far. */
  private long reported;
  /** The run not reported yet: its flags and sectors. */
  private int runFlags = -1;
  private long runSectors;
  /** Flags of the sector being filled, the AND of its extents; -1 while it is empty. */
  private int partial = -1;
  private boolean stopped;

  SectorExtents(ExtentSink sink) {
    this.sink = sink;
  }

  /** Adds {@code n} bytes with NBD state {@code nbdFlags}; false once the sink has enough. */
  boolean add(long n, int nbdFlags) {
    int flags = ((nbdFlags & NbdWire.STATE_HOLE) != 0 ? ExtentSink.HOLE : 0)
        | ((nbdFlags & NbdWire.STATE_ZERO) != 0 ? ExtentSink.ZERO : 0);
    long end = bytes + n;
    long sectorEnd = (bytes | (IoRequest.SECTOR_SIZE - 1)) + 1;
    if ((bytes & (IoRequest.SECTOR_SIZE - 1)) != 0 || end < sectorEnd) {
      partial = partial < 0 ? flags : partial & flags;
      if (end < sectorEnd) {
        bytes = end;
        return !stopped;
      }
      run(partial, 1);
      partial = -1;
      bytes = sectorEnd;
    }
    long whole = (end - bytes) >>> IoRequest.SECTOR_SHIFT;
    if (whole > 0) {
      run(flags, whole);
    }
    bytes += whole << IoRequest.SECTOR_SHIFT;
    if (end > bytes) {
      partial = flags;
      bytes = end;
    }
    return !stopped;
  }

  private void run(int flags, long sectors) {
    if (flags == runFlags) {
      runSectors += sectors;
      return;
    }
    flush();
    runFlags = flags;
    runSectors = sectors;
  }

  private void flush() {
    if (runSectors > 0 && !stopped) {
      reported += runSectors;
      stopped = !sink.extent(runSectors, runFlags);
    }
    runSectors = 0;
  }

  /** Whether the sink said it has enough. */
  boolean stopped() {
    return stopped;
  }

  /** Reports what is left, and up to {@code total} sectors in all, the rest as data. */
  void finish(long total) {
    if (partial >= 0) {
      run(partial, 1);
      partial = -1;
    }
    long known = reported + runSectors;
    if (known < total) {
      run(0, total - known);
    }
    flush();
  }
}
