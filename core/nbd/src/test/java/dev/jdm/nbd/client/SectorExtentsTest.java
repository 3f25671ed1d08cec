package dev.jdm.nbd.client;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jdm.nbd.protocol.NbdWire;
import dev.jdm.spi.ExtentSink;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Byte extents of NBD block status become sector extents, never claiming a hole wrongly. */
class SectorExtentsTest {
  private static final int HOLE = NbdWire.STATE_HOLE | NbdWire.STATE_ZERO;
  private static final int SINK_HOLE = ExtentSink.HOLE | ExtentSink.ZERO;

  private static List<String> run(long total, long[]... extents) {
    List<String> out = new ArrayList<>();
    SectorExtents s = new SectorExtents((n, f) -> out.add(n + ":" + f));
    for (long[] e : extents) {
      s.add(e[0], (int) e[1]);
    }
    s.finish(total);
    return out;
  }

  @Test
  void mergesNeighboursAndFillsTheRestWithData() {
    assertEquals(List.of("8:" + SINK_HOLE, "4:0"),
        run(12, new long[] {2048, HOLE}, new long[] {2048, HOLE}));
  }

  @Test
  void aSectorSharedWithDataIsData() {
    // 700 bytes of hole, then data: the second sector holds both, so it is data.
    assertEquals(List.of("1:" + SINK_HOLE, "1:0", "6:" + SINK_HOLE),
        run(8, new long[] {700, HOLE}, new long[] {324, 0}, new long[] {3072, HOLE}));
    // Holes on both sides of a sector boundary stay a hole.
    assertEquals(List.of("4:" + SINK_HOLE),
        run(4, new long[] {300, HOLE}, new long[] {1748, HOLE}));
  }

  @Test
  void stopsWhenTheSinkHasEnough() {
    List<String> out = new ArrayList<>();
    SectorExtents s = new SectorExtents((n, f) -> {
      out.add(n + ":" + f);
      return false;
    });
    s.add(1024, HOLE);
    s.add(1024, 0);
    s.add(1024, HOLE);
    s.finish(6);
    assertEquals(List.of("2:" + SINK_HOLE), out);
  }
}
