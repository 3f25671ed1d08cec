package dev.jdm.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.DeviceIo;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.Region;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * In steady state a dm-io call allocates nothing: its state and per-region requests come from a
 * pool, the duplicates of a reused buffer are kept, and file I/O goes straight from the buffer.
 */
class RegionIoAllocationTest {
  @TempDir Path dir;

  @Test
  void steadyStateCallsAllocateNothing() throws Exception {
    try (ServiceFixture f = new ServiceFixture()) {
      Path a = ServiceFixture.sparse(dir.resolve("a.img"), 4 << 20);
      Path b = ServiceFixture.sparse(dir.resolve("b.img"), 4 << 20);
      Path c = ServiceFixture.sparse(dir.resolve("c.img"), 4 << 20);
      ProbeTarget t = f.probe("alloc", 8192, a, b, c);
      DeviceIo io = t.ctx.io();
      Region[] three = {new Region(), new Region(), new Region()};
      Region[] one = {new Region()};
      ByteBuffer buf = ByteBuffer.allocateDirect(4096);
      long[] calls = new long[2];
      DeviceIo.Done done = (mask, first) -> {
        if (mask != 0 || first != IoStatus.OK) {
          throw new AssertionError("call ended " + mask + " " + first);
        }
        calls[0]++;
      };
      int rounds = 100_000;
      long perCall = Allocations.perCall(rounds, i -> {
        long sector = (i * 8L) % 8184;
        if ((i & 1) == 0) {
          three[0].set(t.dev, sector, 8);
          three[1].set(t.copyTo.get(0), sector, 8);
          three[2].set(t.copyTo.get(1), sector, 8);
          io.submit(IoOp.WRITE, 0, three, 3, buf, 0, done);
        } else {
          one[0].set(t.copyTo.get(1), sector, 8);
          io.submit(IoOp.READ, 0, one, 1, buf, 0, done);
        }
      });
      assertTrue(perCall < 8, "allocated " + perCall + " bytes per call");
      assertEquals(2L * rounds, calls[0]);
    }
  }
}
