package dev.jdm.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.IoCompletion;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * In steady state a request through the core to a backing file allocates nothing: clones and
 * bookkeeping come from pools, and file I/O goes straight from the request's buffer.
 */
class DataPathAllocationTest {
  @TempDir Path dir;

  @Test
  void steadyStateRequestsAllocateNothing() throws Exception {
    Path f = dir.resolve("disk.img");
    try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
      r.setLength(4096 * 512);
    }
    TargetRegistry registry = new TargetRegistry();
    registry.register(new PassTarget.Type("quiet", Set.of(), null), "test");
    try (DeviceMapper dm = new DeviceMapper(registry)) {
      MappedDevice d = dm.create("alloc",
          "0 2048 quiet " + f + " 0 0\n2048 2048 quiet " + f + " 2048 0", false);
      ByteBuffer buf = ByteBuffer.allocateDirect(4096);
      IoStatus[] last = new IoStatus[1];
      IoCompletion done = r -> last[0] = r.status();
      IoRequest req = new IoRequest();
      int rounds = 200_000;
      long perRequest = Allocations.perCall(rounds, i -> {
        IoOp op = (i & 1) == 0 ? IoOp.WRITE : IoOp.READ;
        d.submit(req.prepare(op, 0, (i * 8L) % 4088, 4096, buf, 0, done));
        if (last[0] != IoStatus.OK) {
          throw new AssertionError("request " + i + " ended " + last[0]);
        }
      });
      assertTrue(perRequest < 8, "allocated " + perRequest + " bytes per request");
      assertEquals(2 * rounds, d.stats().reads() + d.stats().writes());
    }
  }
}
