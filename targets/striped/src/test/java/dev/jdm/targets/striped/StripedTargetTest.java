package dev.jdm.targets.striped;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.ExtentSink;
import dev.jdm.spi.IoLimits;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

class StripedTargetTest {
  private final TargetType type = new StripedTarget.Type();
  private final MemoryDevice a = new MemoryDevice("/dev/a", 256);
  private final MemoryDevice b = new MemoryDevice("/dev/b", 256);
  private final MemoryDevice c = new MemoryDevice("/dev/c", 256);
  private final MemoryDevice.Context context = new MemoryDevice.Context().with(a, b, c);

  private Target create(long length, String line) throws TargetException {
    return type.create(context, length, List.of(line.split(" ")));
  }

  private String refusal(long length, String line) {
    return assertThrows(TargetException.class, () -> create(length, line)).getMessage();
  }

  /** Sends one request through the target, split at chunk boundaries as the core splits. */
  private static void run(Target target, IoOp op, long sector, ByteBuffer data) {
    long step = target.maxIoSectors();
    int done = 0;
    while (done < data.capacity()) {
      long at = sector + done / IoRequest.SECTOR_SIZE;
      int bytes = (int) Math.min(data.capacity() - done, (step - at % step) * IoRequest.SECTOR_SIZE);
      IoRequest piece = new IoRequest().prepare(op, 0, at, bytes, data, done, r -> {});
      assertEquals(MapResult.REMAPPED, target.map(piece));
      piece.device().submit(piece);
      assertEquals(IoStatus.OK, piece.status());
      done += bytes;
    }
  }

  @Test
  void isFoundByServiceLoaderUnderItsName() {
    TargetType found =
        ServiceLoader.load(TargetType.class).stream()
            .map(ServiceLoader.Provider::get)
            .filter(t -> t.name().equals("striped"))
            .findFirst()
            .orElseThrow();
    assertEquals("v1.6.0", found.version().toString());
    assertEquals("<#stripes> <chunk_size> [<dev_path> <offset>]+", found.usage());
  }

  @Test
  void mapsEverySectorAsRaid0() throws Exception {
    Random random = new Random(20240601);
    for (int round = 0; round < 200; round++) {
      int stripes = 1 + random.nextInt(7);
      // Any non-zero chunk size, as the kernel's striped v1.6 takes, powers of two or not.
      long chunk = random.nextBoolean() ? 8L << random.nextInt(10) : 1 + random.nextInt(100);
      long width = chunk * (1 + random.nextInt(50));
      String[] paths = new String[stripes];
      long[] offsets = new long[stripes];
      StringBuilder line = new StringBuilder(stripes + " " + chunk);
      MemoryDevice.Context devices = new MemoryDevice.Context();
      for (int i = 0; i < stripes; i++) {
        paths[i] = "/dev/s" + i;
        offsets[i] = random.nextInt(1000);
        devices.with(MemoryDevice.sizeOnly(paths[i], offsets[i] + width));
        line.append(' ').append(paths[i]).append(' ').append(offsets[i]);
      }
      long length = width * stripes;
      Target target = type.create(devices, length, List.of(line.toString().split(" ")));
      assertEquals(chunk, target.maxIoSectors());

      for (int probe = 0; probe < 200; probe++) {
        long sector = probe == 0 ? length - 1 : random.nextLong(length);
        // Independently: whole rows of (chunk x stripes) sectors, then a column within the row.
        long row = sector / (chunk * stripes);
        long inRow = sector % (chunk * stripes);
        int stripe = (int) (inRow / chunk);
        long expected = offsets[stripe] + row * chunk + inRow % chunk;

        IoRequest request = new IoRequest().prepare(IoOp.READ, 0, sector, 512, null, 0, r -> {});
        assertEquals(MapResult.REMAPPED, target.map(request));
        assertEquals(paths[stripe], request.device().path(), line + " sector " + sector);
        assertEquals(expected, request.sector(), line + " sector " + sector);
      }
    }
  }

  @Test
  void dataIsDealtOutChunkByChunk() throws Exception {
    Target target = create(3 * 64, "3 8 /dev/a 0 /dev/b 16 /dev/c 100");
    ByteBuffer written = ByteBuffer.allocate(3 * 64 * IoRequest.SECTOR_SIZE);
    for (int sector = 0; sector < 3 * 64; sector++) {
      for (int i = 0; i < IoRequest.SECTOR_SIZE; i += 4) {
        written.putInt(sector * IoRequest.SECTOR_SIZE + i, sector);
      }
    }

    run(target, IoOp.WRITE, 0, written);

    // Segment sector 27 is chunk 3, row 1 of stripe 0: /dev/a sector 8 + 3.
    assertEquals(27, ByteBuffer.wrap(a.bytes).getInt(11 * IoRequest.SECTOR_SIZE));
    // Segment sector 8 opens chunk 1, the first chunk of /dev/b, at its offset 16.
    assertEquals(8, ByteBuffer.wrap(b.bytes).getInt(16 * IoRequest.SECTOR_SIZE));
    // The last segment sector ends the last chunk of /dev/c.
    assertEquals(191, ByteBuffer.wrap(c.bytes).getInt((100 + 63) * IoRequest.SECTOR_SIZE));
    assertEquals(0, ByteBuffer.wrap(c.bytes).getInt((100 + 64) * IoRequest.SECTOR_SIZE));

    ByteBuffer read = ByteBuffer.allocate(100 * IoRequest.SECTOR_SIZE);
    run(target, IoOp.READ, 50, read);
    assertEquals(written.slice(50 * IoRequest.SECTOR_SIZE, read.capacity()), read);
  }

  @Test
  void refusesArgumentsWithDeviceMapperPhrases() {
    assertEquals("Not enough arguments", assertThrows(
        TargetException.class, () -> type.create(context, 16, List.of())).getMessage());
    assertEquals("Not enough arguments", refusal(16, "1"));
    for (String count : List.of("0", "x", "-1", "+1", "2147483648", "")) {
      assertEquals("Invalid stripe count", refusal(16, count + " 8 /dev/a 0"), count);
    }
    for (String chunk : List.of("0", "x", "-8", "2147483648", "")) {
      assertEquals("Invalid chunk_size", refusal(16, "1 " + chunk + " /dev/a 0"), chunk);
    }
    assertEquals(
        "Target length not divisible by number of stripes",
        refusal(50, "3 8 /dev/a 0 /dev/b 0 /dev/c 0"));
    assertEquals(
        "Target length not divisible by chunk size", refusal(36, "3 8 /dev/a 0 /dev/b 0 /dev/c 0"));
    assertEquals("Not enough destinations specified", refusal(48, "3 8 /dev/a 0 /dev/b 0"));
    assertEquals(
        "Not enough destinations specified", refusal(48, "2 8 /dev/a 0 /dev/b 0 /dev/c 0"));
    assertEquals("Not enough destinations specified", refusal(48, "2 8 /dev/a 0 /dev/b"));
    for (String offset : List.of("x", "-1", "+1", "1.5", "99999999999999999999")) {
      assertEquals(
          "Couldn't parse stripe destination", refusal(48, "2 8 /dev/a 0 /dev/b " + offset));
    }
    assertTrue(context.opened.isEmpty(), "no device is opened before every argument is checked");

    assertEquals("Device lookup failed", refusal(48, "2 8 /dev/a 0 /dev/nope 0"));
    // Each stripe is 24 sectors wide; /dev/c has 256.
    assertEquals("Device too small", refusal(48, "2 8 /dev/a 0 /dev/c 233"));
    assertEquals("Device too small", refusal(48, "2 8 /dev/a 0 /dev/c " + Long.MAX_VALUE));
  }

  @Test
  void acceptsTheLimitsExactly() throws Exception {
    create(512, "2 8 /dev/a 0 /dev/c 0");
    create(48, "2 8 /dev/a 232 /dev/c 232");
    create(256, "1 256 /dev/b 0");
    create(3 * 16, "3 16 /dev/a 0 /dev/a 16 /dev/a 32");
  }

  @Test
  void opensEveryStripeReadWriteUnlessTheTableIsReadOnly() throws Exception {
    create(48, "3 8 /dev/c 0 /dev/a 0 /dev/b 0");
    assertEquals(List.of("/dev/c", "/dev/a", "/dev/b"), context.opened);
    assertEquals(DeviceMode.READ_WRITE, context.lastMode);

    context.readOnly = true;
    create(48, "3 8 /dev/c 0 /dev/a 0 /dev/b 0");
    assertEquals(DeviceMode.READ_ONLY, context.lastMode);
  }

  @Test
  void tableStatusRebuildsAnEqualTarget() throws Exception {
    Target target = create(96, "3 016 /dev/a 0 /dev/b 00 /dev/c 128");
    String table = target.status(StatusType.TABLE);
    assertEquals("3 16 /dev/a 0 /dev/b 0 /dev/c 128", table);
    assertEquals(table, create(96, table).status(StatusType.TABLE));
    assertEquals(List.of(a, b, c), target.devices());
  }

  @Test
  void infoStatusNamesEachStripeAndItsHealth() throws Exception {
    assertEquals(
        "3 /dev/a /dev/b /dev/c 1 AAA",
        create(96, "3 16 /dev/a 0 /dev/b 0 /dev/c 128").status(StatusType.INFO));
    assertEquals("1 /dev/b 1 A", create(8, "1 8 /dev/b 0").status(StatusType.INFO));
  }

  @Test
  void discardAndWriteZeroesNeedEveryStripeToSupportThem() throws Exception {
    a.supporting(IoOp.DISCARD, IoOp.WRITE_ZEROES);
    b.supporting(IoOp.DISCARD);
    Target mixed = create(32, "2 8 /dev/a 0 /dev/b 0");
    assertTrue(mixed.supports(IoOp.DISCARD));
    assertFalse(mixed.supports(IoOp.WRITE_ZEROES));
    assertTrue(mixed.supports(IoOp.READ));
    assertTrue(mixed.supports(IoOp.WRITE));
    assertFalse(create(32, "2 8 /dev/a 0 /dev/c 0").supports(IoOp.DISCARD));

    IoRequest discard = new IoRequest().prepare(IoOp.DISCARD, 0, 8, 4096, null, 0, r -> {});
    assertEquals(MapResult.REMAPPED, mixed.map(discard));
    assertSame(b, discard.device());
    assertEquals(0, discard.sector());
  }

  @Test
  void hintsAChunkAsMinimumAndAFullStripeAsOptimal() throws Exception {
    IoLimits limits = create(3 * 128, "3 128 /dev/a 0 /dev/b 0 /dev/c 0").limits();
    assertEquals(new IoLimits(512, 128 * 512, 3 * 128 * 512), limits);

    c.hinting(new IoLimits(4096, 4096, 0));
    assertEquals(4096, create(48, "3 8 /dev/a 0 /dev/b 0 /dev/c 0").limits().logicalBlockSize());
  }

  @Test
  void hugeChunksAreAcceptedWithHintsThatFit() throws Exception {
    context.with(MemoryDevice.sizeOnly("/dev/big", 1L << 40));
    Target target = create(1L << 31, "2 1073741824 /dev/big 0 /dev/big 1073741824");
    assertEquals(1L << 30, target.maxIoSectors());
    assertEquals(new IoLimits(512, 1 << 30, 0), target.limits());
  }

  /** What one sector of the segment reports, found through the independent RAID 0 formula. */
  private static int flagsAt(long sector, long chunk, MemoryDevice[] stripes, long[] offsets) {
    long row = sector / (chunk * stripes.length);
    long inRow = sector % (chunk * stripes.length);
    int stripe = (int) (inRow / chunk);
    return stripes[stripe].flags[(int) (offsets[stripe] + row * chunk + inRow % chunk)];
  }

  @Test
  void blockStatusWalksTheChunksAndJoinsLikeExtents() throws Exception {
    Random random = new Random(7);
    MemoryDevice[] stripes = {a, b, c};
    long[] offsets = {0, 16, 40};
    for (MemoryDevice device : stripes) {
      for (int i = 0; i < device.flags.length; i++) {
        // Long runs, so that some extents span chunks and stripes.
        device.flags[i] = i / 20 % 3 == 0 ? ExtentSink.HOLE | ExtentSink.ZERO : 0;
      }
    }
    Target target = create(3 * 192, "3 8 /dev/a 0 /dev/b 16 /dev/c 40");
    for (int round = 0; round < 100; round++) {
      long start = random.nextLong(3 * 192);
      long sectors = 1 + random.nextLong(3 * 192 - start);
      List<long[]> reported = new ArrayList<>();
      target.blockStatus(start, sectors, (n, flags) -> reported.add(new long[] {n, flags}));

      long at = start;
      int previous = -1;
      for (long[] extent : reported) {
        assertTrue(extent[0] >= 1);
        assertTrue(extent[1] != previous, "neighbouring extents differ");
        for (long s = at; s < at + extent[0]; s++) {
          assertEquals(flagsAt(s, 8, stripes, offsets), extent[1], "sector " + s);
        }
        previous = (int) extent[1];
        at += extent[0];
      }
      assertEquals(start + sectors, at, "the extents cover the range exactly");
    }
  }

  @Test
  void blockStatusStopsWhenTheSinkHasEnough() throws Exception {
    for (int i = 0; i < a.flags.length; i++) {
      a.flags[i] = i % 2 == 0 ? ExtentSink.HOLE : 0;
    }
    Target target = create(64, "2 8 /dev/a 0 /dev/b 0");
    List<Long> seen = new ArrayList<>();
    target.blockStatus(0, 64, (n, flags) -> seen.add(n) && seen.size() < 3);
    assertEquals(List.of(1L, 1L, 1L), seen);

    List<Long> all = new ArrayList<>();
    create(64, "2 8 /dev/b 0 /dev/c 0").blockStatus(3, 60, (n, flags) -> all.add(n));
    assertEquals(List.of(60L), all, "allocated data everywhere is one extent");
  }

  @Test
  void aStripeThatStopsShortLeavesItsPieceDescribedAsData() throws Exception {
    MemoryDevice terse =
        new MemoryDevice("/dev/terse", 64) {
          @Override
          public void blockStatus(long sector, long sectors, ExtentSink sink) {
            sink.extent(1, ExtentSink.HOLE);
          }
        };
    context.with(terse);
    List<String> seen = new ArrayList<>();
    create(16, "1 8 /dev/terse 0").blockStatus(0, 16, (n, flags) -> seen.add(n + ":" + flags));
    assertEquals(List.of("1:1", "7:0", "1:1", "7:0"), seen);
  }

  @Test
  void mapAllocatesNothing() throws Exception {
    Target target = create(3 * 64, "3 8 /dev/a 0 /dev/b 16 /dev/c 100");
    IoRequest request = new IoRequest();
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long allocated = Long.MAX_VALUE;
    for (int round = 0; round < 3; round++) {
      long before = threads.getCurrentThreadAllocatedBytes();
      for (int i = 0; i < 100_000; i++) {
        request.prepare(IoOp.WRITE, 0, i % (3 * 64), 512, null, 0, null);
        target.map(request);
      }
      allocated = threads.getCurrentThreadAllocatedBytes() - before;
    }
    assertTrue(allocated < 1024, "map allocated " + allocated + " bytes");
  }
}
