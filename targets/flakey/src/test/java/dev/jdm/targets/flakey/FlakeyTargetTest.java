package dev.jdm.targets.flakey;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.DmException;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.TargetType;
import dev.jdm.testkit.BlockIo;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.ServiceLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The flakey target through the real core over a real file. {@code 0 1} intervals keep it down
 * for good, {@code 1 0} up for good, so each feature is checked without waiting.
 */
class FlakeyTargetTest {
  private static final int SECTORS = 2048;
  private static final String DOWN = " 0 0 1";

  @TempDir Path dir;
  private DeviceMapper mapper;
  private Path file;
  private byte[] old;

  @BeforeEach
  void mapper() throws Exception {
    TargetRegistry registry = new TargetRegistry();
    assertEquals(List.of(), registry.discover(getClass().getClassLoader(), "class path"));
    mapper = new DeviceMapper(registry);
    file = dir.resolve("disk.img");
    old = new byte[SECTORS * 512];
    new Random(3).nextBytes(old);
    Files.write(file, old);
  }

  @AfterEach
  void close() {
    mapper.close();
  }

  private BlockIo flakey(String args) throws DmException {
    return new BlockIo(mapper.create("f", "0 " + SECTORS + " flakey " + file + args, false));
  }

  private static byte[] pattern(int bytes, int seed) {
    byte[] b = new byte[bytes];
    new Random(seed).nextBytes(b);
    return b;
  }

  private byte[] onDisk(int sector, int bytes) throws Exception {
    return Arrays.copyOfRange(Files.readAllBytes(file), sector * 512, sector * 512 + bytes);
  }

  @Test
  void isFoundByServiceLoaderUnderItsName() {
    TargetType t = ServiceLoader.load(TargetType.class).stream().map(ServiceLoader.Provider::get)
        .filter(x -> x.name().equals("flakey")).findFirst().orElseThrow();
    assertEquals("v1.5.0", t.version().toString());
  }

  @Test
  void upForGoodIsLinear() throws Exception {
    BlockIo io = flakey(" 0 1 0");
    byte[] data = pattern(8192, 1);
    assertEquals(IoStatus.OK, io.write(16, data));
    assertEquals(IoStatus.OK, io.flush());
    assertArrayEquals(data, io.read(16, data.length));
    assertArrayEquals(data, onDisk(16, data.length));
  }

  @Test
  void withoutFeaturesEverythingFailsWhileDown() throws Exception {
    BlockIo io = flakey(DOWN);
    assertEquals(IoStatus.EIO, io.readStatus(0, 4096));
    assertEquals(IoStatus.EIO, io.write(0, new byte[4096]));
    assertEquals(IoStatus.EIO, io.flush());
    assertArrayEquals(old, Files.readAllBytes(file));
    assertEquals("0 " + SECTORS + " flakey " + file + " 0 0 1 2 error_reads error_writes",
        mapper.get("f").table(), "no features and 0 features mean error_reads error_writes");
  }

  @Test
  void errorReadsFailsReadsOnly() throws Exception {
    BlockIo io = flakey(DOWN + " 1 error_reads");
    assertEquals(IoStatus.EIO, io.readStatus(0, 512));
    byte[] data = pattern(4096, 2);
    assertEquals(IoStatus.OK, io.write(8, data));
    assertEquals(IoStatus.OK, io.flush());
    assertArrayEquals(data, onDisk(8, data.length));
  }

  @Test
  void dropWritesSucceedsButStoresNothing() throws Exception {
    BlockIo io = flakey(DOWN + " 1 drop_writes");
    assertEquals(IoStatus.OK, io.write(8, pattern(4096, 3)));
    assertEquals(IoStatus.OK, io.flush());
    assertArrayEquals(Arrays.copyOfRange(old, 8 * 512, 8 * 512 + 4096), io.read(8, 4096),
        "a dropped write reads back the old data");
    assertArrayEquals(old, Files.readAllBytes(file));
  }

  @Test
  void errorWritesFailsWritesAndFlushes() throws Exception {
    BlockIo io = flakey(DOWN + " 1 error_writes");
    assertEquals(IoStatus.EIO, io.write(8, pattern(4096, 4)));
    assertEquals(IoStatus.EIO, io.flush());
    assertArrayEquals(Arrays.copyOfRange(old, 0, 4096), io.read(0, 4096));
  }

  @Test
  void corruptBioByteOnReadsChangesTheNthByteOfEachRead() throws Exception {
    BlockIo io = flakey(DOWN + " 5 corrupt_bio_byte 32 r 1 0");
    byte[] read = io.read(100, 4096);
    byte[] expected = Arrays.copyOfRange(old, 100 * 512, 100 * 512 + 4096);
    expected[31] = 1;
    assertArrayEquals(expected, read);
    assertArrayEquals(old, Files.readAllBytes(file), "the device itself is untouched");
    byte[] data = pattern(1024, 5);
    assertEquals(IoStatus.OK, io.write(4, data), "writes go through unharmed");
    assertArrayEquals(data, onDisk(4, data.length));
  }

  @Test
  void corruptBioByteOnWritesStoresTheChangeAndSparesTheCallersBuffer() throws Exception {
    MappedDevice d = mapper.create("f", "0 " + SECTORS + " flakey " + file + DOWN
        + " 5 corrupt_bio_byte 224 w 0 0", false);
    byte[] data = pattern(4096, 6);
    data[223] = 7;
    ByteBuffer buffer = ByteBuffer.allocateDirect(data.length).put(0, data);
    assertEquals(IoStatus.OK, new BlockIo(d).run(IoOp.WRITE, 0, 40, data.length, buffer));
    byte[] after = new byte[data.length];
    buffer.get(0, after);
    assertArrayEquals(data, after, "the caller's buffer is left as it was");
    byte[] expected = data.clone();
    expected[223] = 0;
    assertArrayEquals(expected, onDisk(40, data.length));
    assertArrayEquals(expected, new BlockIo(d).read(40, data.length), "reads are not corrupted");
  }

  @Test
  void corruptBioByteFlagsSelectTheRequests() throws Exception {
    BlockIo io = flakey(DOWN + " 5 corrupt_bio_byte 1 w 255 131072");
    byte[] data = new byte[512];
    assertEquals(IoStatus.OK, io.write(0, data));
    assertEquals(0, onDisk(0, 1)[0], "a write without FUA does not match REQ_FUA");
    ByteBuffer b = ByteBuffer.allocateDirect(512);
    assertEquals(IoStatus.OK, io.run(IoOp.WRITE, IoRequest.FUA, 1, 512, b));
    assertEquals((byte) 255, onDisk(1, 1)[0], "a FUA write does");
  }

  @Test
  void corruptBioBytePastTheEndOfARequestLeavesItAlone() throws Exception {
    BlockIo io = flakey(DOWN + " 5 corrupt_bio_byte 4097 r 1 0");
    assertArrayEquals(Arrays.copyOfRange(old, 0, 4096), io.read(0, 4096));
  }

  @Test
  void randomCorruptionChangesAtMostOneByteOfARequest() throws Exception {
    BlockIo io = flakey(DOWN + " 4 random_read_corrupt 1000000000 random_write_corrupt 0");
    byte[] expected = Arrays.copyOfRange(old, 0, 4096);
    int changed = 0;
    for (int i = 0; i < 20; i++) {
      int diff = differences(expected, io.read(0, 4096));
      assertTrue(diff <= 1, "bytes changed: " + diff);
      changed += diff;
    }
    assertTrue(changed >= 10, "reads corrupted: " + changed);
    assertEquals("0 " + SECTORS + " flakey " + file + " 0 0 1 2 random_read_corrupt 1000000000",
        mapper.get("f").table());
  }

  @Test
  void randomWriteCorruptionReachesTheDevice() throws Exception {
    BlockIo io = flakey(DOWN + " 2 random_write_corrupt 1000000000");
    int changed = 0;
    for (int i = 0; i < 20; i++) {
      byte[] data = pattern(4096, 100 + i);
      assertEquals(IoStatus.OK, io.write(64, data));
      int diff = differences(data, onDisk(64, data.length));
      assertTrue(diff <= 1, "bytes changed: " + diff);
      changed += diff;
    }
    assertTrue(changed >= 10, "writes corrupted: " + changed);
  }

  private static int differences(byte[] a, byte[] b) {
    int n = 0;
    for (int i = 0; i < a.length; i++) {
      if (a[i] != b[i]) {
        n++;
      }
    }
    return n;
  }

  @Test
  void upAndDownIntervalsAlternateInSeconds() throws Exception {
    BlockIo io = flakey(" 0 1 1");
    long start = System.nanoTime();
    StringBuilder seen = new StringBuilder();
    while (System.nanoTime() - start < 3_500_000_000L) {
      char c = io.readStatus(0, 512) == IoStatus.OK ? 'u' : 'd';
      if (seen.isEmpty() || seen.charAt(seen.length() - 1) != c) {
        seen.append(c);
      }
      Thread.sleep(50);
    }
    assertTrue(seen.toString().startsWith("udud"), "windows seen: " + seen);
  }

  @Test
  void tableStatusRoundTripsEveryFeature() throws Exception {
    String all = " 0 3 4 10 drop_writes corrupt_bio_byte 7 r 9 131072 random_read_corrupt 5"
        + " random_write_corrupt 0";
    MappedDevice d = mapper.create("f", "0 " + SECTORS + " flakey " + file + all, false);
    assertEquals("0 " + SECTORS + " flakey " + file
        + " 0 3 4 8 drop_writes corrupt_bio_byte 7 r 9 131072 random_read_corrupt 5", d.table());
    assertEquals("0 " + SECTORS + " flakey", d.status());
    MappedDevice copy = mapper.create("g", d.table(), false);
    assertEquals(d.table().replace(" f ", " g "), copy.table());
  }

  @Test
  void refusesWithTheKernelsPhrases() throws Exception {
    String dev = "0 " + SECTORS + " flakey " + file + " 0 ";
    assertRefused("Invalid argument count", dev + "1");
    assertRefused("Invalid device sector", "0 " + SECTORS + " flakey " + file + " x 1 1");
    assertRefused("Invalid up interval", dev + "-1 1");
    assertRefused("Invalid down interval", dev + "1 4294967296");
    assertRefused("Total (up + down) interval is zero", dev + "0 0");
    assertRefused("Interval overflow", dev + "4294967295 1");
    assertRefused("Invalid number of feature args", dev + "1 1 12");
    assertRefused("Invalid number of feature args", dev + "1 1 2 drop_writes");
    assertRefused("Feature error_reads duplicated", dev + "1 1 2 error_reads ERROR_READS");
    assertRefused("Feature drop_writes duplicated", dev + "1 1 2 drop_writes drop_writes");
    assertRefused("Feature drop_writes conflicts with feature error_writes",
        dev + "1 1 2 error_writes drop_writes");
    assertRefused("Feature error_writes conflicts with feature drop_writes",
        dev + "1 1 2 drop_writes error_writes");
    assertRefused("Feature error_writes duplicated", dev + "1 1 2 error_writes error_writes");
    assertRefused("Feature corrupt_bio_byte requires 4 parameters",
        dev + "1 1 4 corrupt_bio_byte 1 r 1");
    assertRefused("Invalid corrupt bio byte", dev + "1 1 5 corrupt_bio_byte 0 r 1 0");
    assertRefused("Invalid corrupt bio direction (r or w)",
        dev + "1 1 5 corrupt_bio_byte 1 x 1 0");
    assertRefused("Invalid corrupt value to write into bio byte (0-255)",
        dev + "1 1 5 corrupt_bio_byte 1 r 256 0");
    assertRefused("Invalid corrupt bio flags mask", dev + "1 1 5 corrupt_bio_byte 1 r 1 -1");
    assertRefused("Feature corrupt_bio_byte duplicated",
        dev + "1 1 10 corrupt_bio_byte 1 r 1 0 corrupt_bio_byte 1 r 1 0");
    assertRefused("Feature random_read_corrupt requires a parameter",
        dev + "1 1 1 random_read_corrupt");
    assertRefused("Invalid random corrupt argument", dev + "1 1 2 random_write_corrupt 1000000001");
    assertRefused("Feature random_write_corrupt duplicated",
        dev + "1 1 4 random_write_corrupt 1 random_write_corrupt 1");
    assertRefused("Unrecognised flakey feature requested", dev + "1 1 1 sometimes");
    assertRefused("drop_writes is incompatible with random_write_corrupt or corrupt_bio_byte with"
        + " the WRITE flag set", dev + "1 1 6 drop_writes corrupt_bio_byte 1 w 1 0");
    assertRefused("error_writes is incompatible with random_write_corrupt or corrupt_bio_byte with"
        + " the WRITE flag set", dev + "1 1 3 error_writes random_write_corrupt 5");
    assertRefused("error_reads is incompatible with random_read_corrupt or corrupt_bio_byte with"
        + " the READ flag set", dev + "1 1 6 error_reads corrupt_bio_byte 1 r 1 0");
    assertRefused("Device lookup failed", "0 8 flakey /no/such/file 0 1 1");
    assertRefused("Device too small", "0 " + SECTORS + " flakey " + file + " 1 1 1");
    assertEquals(0, mapper.openBackingDevices());
  }

  private void assertRefused(String phrase, String table) {
    DmException e = assertThrows(DmException.class, () -> mapper.create("bad", table, false));
    assertEquals("bad: flakey: " + phrase + " (line 1)", e.getMessage().replaceFirst(
        "Device lookup failed: .*\\(line 1\\)$", "Device lookup failed (line 1)"));
  }
}
