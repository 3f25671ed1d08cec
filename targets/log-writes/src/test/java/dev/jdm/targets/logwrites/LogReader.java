package dev.jdm.targets.logwrites;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** Reads a log as replay-log does: the super block, then its number of entries. */
final class LogReader {
  /** One entry: its header, its data (empty for flushes and discards) or a mark's text. */
  record Entry(long sector, long sectors, long flags, byte[] data, String mark) {
    @Override
    public String toString() {
      return (mark != null ? "mark:" + mark : "flags=" + flags + "@" + sector + "+" + sectors);
    }
  }

  private LogReader() {}

  /** The entries the super block counts, from a log of {@code blockSize}-byte blocks. */
  static List<Entry> read(byte[] log, int blockSize) {
    ByteBuffer b = ByteBuffer.wrap(log).order(ByteOrder.LITTLE_ENDIAN);
    assertEquals(LogWritesTarget.MAGIC, b.getLong(0), "magic");
    assertEquals(1, b.getLong(8), "version");
    assertEquals(blockSize, b.getInt(24), "sectorsize");
    long entries = b.getLong(16);
    List<Entry> out = new ArrayList<>();
    int at = blockSize;
    for (long i = 0; i < entries; i++) {
      long sector = b.getLong(at);
      long sectors = b.getLong(at + 8);
      long flags = b.getLong(at + 16);
      int dataLen = (int) b.getLong(at + 24);
      String mark = (flags & LogWritesTarget.MARK) != 0
          ? new String(log, at + 32, dataLen, StandardCharsets.UTF_8) : null;
      at += blockSize;
      byte[] data = new byte[0];
      if ((flags & LogWritesTarget.DISCARD) == 0) {
        int n = (int) sectors * blockSize;
        data = new byte[n];
        b.get(at, data);
        at += n;
      }
      out.add(new Entry(sector, sectors, flags, data, mark));
    }
    return out;
  }
}
