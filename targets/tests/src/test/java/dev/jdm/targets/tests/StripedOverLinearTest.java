package dev.jdm.targets.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.spi.IoStatus;
import dev.jdm.testkit.BlockIo;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random data written through striped over linear over files lands in the files exactly where
 * RAID-0 arithmetic, worked out here from scratch, says it should.
 */
class StripedOverLinearTest {
  static final int STRIPES = 3;
  static final int CHUNK = 32;
  static final long[] LINEAR_OFFSET = {0, 100, 2048};
  static final long[] STRIPE_OFFSET = {8, 0, 64};
  static final long FILE_SECTORS = 16384;
  static final long DEVICE_SECTORS = 3 * 4096;

  @TempDir Path dir;

  @Test
  void bytesLandWhereTheStripingFormulaSays() throws Exception {
    TargetRegistry registry = new TargetRegistry();
    assertEquals(List.of(), registry.discover(getClass().getClassLoader(), "class path"));
    try (DeviceMapper dm = new DeviceMapper(registry)) {
      Path[] files = new Path[STRIPES];
      StringBuilder stripes = new StringBuilder();
      for (int i = 0; i < STRIPES; i++) {
        files[i] = dir.resolve("disk" + i + ".img");
        try (RandomAccessFile f = new RandomAccessFile(files[i].toFile(), "rw")) {
          f.setLength(FILE_SECTORS * 512);
        }
        dm.create("leg" + i, "0 8000 linear " + files[i] + " " + LINEAR_OFFSET[i], false);
        stripes.append(" /dev/mapper/leg").append(i).append(' ').append(STRIPE_OFFSET[i]);
      }
      MappedDevice top = dm.create("raid0",
          "0 " + DEVICE_SECTORS + " striped " + STRIPES + " " + CHUNK + stripes, false);
      BlockIo io = new BlockIo(top);
      Random rnd = new Random(2024);
      for (int n = 0; n < 200; n++) {
        int sectors = 1 + rnd.nextInt(200);
        long sector = (long) (rnd.nextDouble() * (DEVICE_SECTORS - sectors));
        byte[] data = new byte[sectors * 512];
        rnd.nextBytes(data);
        assertEquals(IoStatus.OK, io.write(sector, data));
        for (int s = 0; s < sectors; s++) {
          long[] where = locate(sector + s);
          byte[] onDisk = new byte[512];
          try (RandomAccessFile f = new RandomAccessFile(files[(int) where[0]].toFile(), "r")) {
            f.seek(where[1] * 512);
            f.readFully(onDisk);
          }
          byte[] expected = java.util.Arrays.copyOfRange(data, s * 512, s * 512 + 512);
          assertArrayEquals(expected, onDisk, "device sector " + (sector + s));
        }
      }
    }
  }

  /** Which file and which sector of it hold device sector {@code x}. */
  private static long[] locate(long x) {
    long chunkNumber = x / CHUNK;
    int leg = (int) (chunkNumber % STRIPES);
    long rowOnLeg = chunkNumber / STRIPES;
    long sectorOnLeg = STRIPE_OFFSET[leg] + rowOnLeg * CHUNK + x % CHUNK;
    return new long[] {leg, LINEAR_OFFSET[leg] + sectorOnLeg};
  }
}
