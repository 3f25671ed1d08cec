package dev.jdm.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.MetadataBlocks;
import dev.jdm.spi.TargetException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Metadata blocks on a real file: cache, commit order, checksums, refusals. */
class MetadataBlocksTest {
  private static final int BLOCK = 4096;
  /** Where the area starts on the device, in sectors: not at 0, to catch offset mistakes. */
  private static final long OFFSET = 8;
  @TempDir Path dir;
  ServiceFixture f;
  Path meta;
  ProbeTarget t;

  @BeforeEach
  void setUp() throws Exception {
    f = new ServiceFixture(ConfigFactory.parseString("jdm.kernel.metadata.cache-blocks = 4")
        .withFallback(ConfigFactory.defaultReference()));
    meta = ServiceFixture.sparse(dir.resolve("meta.img"), 1 << 20);
    t = f.probe("store", 2048, meta);
  }

  @AfterEach
  void tearDown() {
    f.close();
  }

  /** Fills a block with {@code value} but for its checksum. */
  private static void fill(ByteBuffer b, int value) {
    for (int i = 0; i < BLOCK - 4; i += 4) {
      b.putInt(i, value);
    }
  }

  @Test
  void blockSizesArePowersOfTwoFrom512To1MiB() throws Exception {
    for (int bad : new int[] {0, 256, 1000, 3 << 10, 2 << 20}) {
      TargetException e = assertThrows(TargetException.class,
          () -> t.ctx.metadata(t.dev, 0, bad, false));
      assertEquals("Invalid metadata block size", e.getMessage());
    }
    for (int good : new int[] {512, 4096, 1 << 20}) {
      MetadataBlocks m = t.ctx.metadata(t.dev, 0, good, false);
      assertEquals((1L << 20) / good, m.blockCount());
    }
    assertEquals("Invalid metadata offset",
        assertThrows(TargetException.class, () -> t.ctx.metadata(t.dev, 2048, 512, false))
            .getMessage());
    assertEquals("Metadata device too small",
        assertThrows(TargetException.class, () -> t.ctx.metadata(t.dev, 2047, 1024, false))
            .getMessage());
  }

  @Test
  void commitWritesChangedBlocksThenFlushesThenWritesTheCommitBlock() throws Exception {
    List<String> seen = new CopyOnWriteArrayList<>();
    WatchedDevice watched = new WatchedDevice(t.dev, r -> seen.add(r.op() == IoOp.FLUSH
        ? "FLUSH" : r.op() + " " + (r.sector() - OFFSET) * 512 / BLOCK));
    MetadataBlocks m = t.ctx.metadata(watched, OFFSET, BLOCK, true);
    fill(m.zeroed(0), 100);
    fill(m.zeroed(5), 5);
    fill(m.zeroed(2), 2);
    m.commit(0);
    assertEquals(List.of("WRITE 2", "WRITE 5", "FLUSH", "WRITE 0", "FLUSH"), seen);
    seen.clear();
    // Only what changed since is written; the commit block always is.
    fill(m.read(5), 55);
    m.markDirty(5);
    m.commit(0);
    assertEquals(List.of("WRITE 5", "FLUSH", "WRITE 0", "FLUSH"), seen);
    seen.clear();
    m.commit(-1);
    assertEquals(List.of("FLUSH"), seen);
    // Another instance reads what was committed, checksums and all.
    MetadataBlocks again = t.ctx.metadata(t.dev, OFFSET, BLOCK, true);
    assertEquals(100, again.read(0).getInt(0));
    assertEquals(55, again.read(5).getInt(BLOCK - 8));
    assertEquals(2, again.read(2).getInt(0));
  }

  @Test
  void aChangedByteOnDiskIsAChecksumMismatch() throws Exception {
    MetadataBlocks m = t.ctx.metadata(t.dev, OFFSET, BLOCK, true);
    for (int b = 0; b < 4; b++) {
      fill(m.zeroed(b), b + 1);
    }
    m.commit(0);
    try (RandomAccessFile r = new RandomAccessFile(meta.toFile(), "rw")) {
      r.seek(OFFSET * 512 + 2L * BLOCK + 100);
      r.write(0x5a);
    }
    MetadataBlocks fresh = t.ctx.metadata(t.dev, OFFSET, BLOCK, true);
    assertEquals(2, fresh.read(1).getInt(0));
    IOException e = assertThrows(IOException.class, () -> fresh.read(2));
    assertEquals("store: metadata block 2: checksum mismatch", e.getMessage());
    assertEquals(4, fresh.read(3).getInt(0));
    // Without checksums the same block reads as it is.
    assertEquals(3, t.ctx.metadata(t.dev, OFFSET, BLOCK, false).read(2).getInt(0));
  }

  @Test
  void theCacheKeepsItsBoundButNeverDropsAChangedBlock() throws Exception {
    MetadataBlocks m = t.ctx.metadata(t.dev, 0, BLOCK, false);
    for (int b = 0; b < 10; b++) {
      fill(m.zeroed(b), b);
    }
    // Ten changed blocks stay, past the bound of four, until the commit writes them.
    m.commit(-1);
    MetadataCache cache = (MetadataCache) m;
    assertEquals(0, cache.dirtyBlocks());
    ByteBuffer first = m.read(0);
    for (int b = 1; b < 10; b++) {
      m.read(b);
    }
    // Block 0 was evicted: its old buffer still holds its data, but it must be read again.
    assertEquals(0, first.getInt(0));
    assertThrows(IllegalStateException.class, () -> m.markDirty(0));
    ByteBuffer again = m.read(0);
    fill(again, 42);
    m.markDirty(0);
    m.commit(-1);
    assertEquals(42, t.ctx.metadata(t.dev, 0, BLOCK, false).read(0).getInt(0));
    assertThrows(IllegalArgumentException.class, () -> m.read(m.blockCount()));
  }

  @Test
  void aFailingDeviceIsAnIoException() throws Exception {
    f.dm.create("bad", "0 2048 kill", false);
    ProbeTarget onBad = f.probe("onbad", 2048, "/dev/mapper/bad");
    MetadataBlocks m = onBad.ctx.metadata(onBad.dev, 0, BLOCK, true);
    IOException e = assertThrows(IOException.class, () -> m.read(1));
    assertEquals("onbad: metadata block 1: read failed", e.getMessage());
    m.zeroed(1);
    e = assertThrows(IOException.class, () -> m.commit(-1));
    assertTrue(e.getMessage().contains("metadata block 1: write failed"), e.getMessage());
    assertEquals(1, ((MetadataCache) m).dirtyBlocks());
  }
}
