package dev.jdm.targets.linear;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.BlockDevice;
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
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class LinearTargetTest {
  private static final int DEVICE_SECTORS = 64;

  @TempDir Path dir;
  private Path disk;
  private FileDevice.Context context;
  private final TargetType type = new LinearTarget.Type();

  @BeforeEach
  void makeDisk() throws Exception {
    disk = dir.resolve("disk");
    byte[] content = new byte[DEVICE_SECTORS * IoRequest.SECTOR_SIZE];
    for (int i = 0; i < content.length; i++) {
      content[i] = (byte) (i / IoRequest.SECTOR_SIZE);
    }
    Files.write(disk, content);
    context = new FileDevice.Context(false);
  }

  @AfterEach
  void closeDevices() throws Exception {
    context.close();
  }

  private Target create(long length, String... args) throws TargetException {
    return type.create(context, length, List.of(args));
  }

  private String refusal(long length, String... args) {
    return assertThrows(TargetException.class, () -> create(length, args)).getMessage();
  }

  /** Maps {@code request} and submits it where the target sent it, as the core does. */
  private static IoStatus run(Target target, IoRequest request) {
    assertEquals(MapResult.REMAPPED, target.map(request));
    request.device().submit(request);
    return request.status();
  }

  @Test
  void isFoundByServiceLoaderUnderItsName() {
    TargetType found =
        ServiceLoader.load(TargetType.class).stream()
            .map(ServiceLoader.Provider::get)
            .filter(t -> t.name().equals("linear"))
            .findFirst()
            .orElseThrow();
    assertEquals("v1.4.0", found.version().toString());
    assertEquals("<dev_path> <offset>", found.usage());
    assertTrue(found.aliases().isEmpty());
  }

  @Test
  void writeLandsAtOffsetPlusSector() throws Exception {
    Target target = create(32, disk.toString(), "16");
    ByteBuffer data = ByteBuffer.allocate(2 * IoRequest.SECTOR_SIZE + 100);
    for (int i = 100; i < data.capacity(); i++) {
      data.put(i, (byte) 0xAB);
    }
    IoRequest write = new IoRequest().prepare(IoOp.WRITE, 0, 3, 1024, data, 100, r -> {});

    assertEquals(IoStatus.OK, run(target, write));

    byte[] content = Files.readAllBytes(disk);
    int at = (16 + 3) * IoRequest.SECTOR_SIZE;
    assertEquals(18, content[at - 1]);
    assertArrayEquals(fill(1024, (byte) 0xAB), Arrays.copyOfRange(content, at, at + 1024));
    assertEquals(21, content[at + 1024]);
  }

  @Test
  void readComesFromOffsetPlusSector() throws Exception {
    Target target = create(32, disk.toString(), "16");
    ByteBuffer data = ByteBuffer.allocateDirect(3 * IoRequest.SECTOR_SIZE);
    IoRequest read = new IoRequest().prepare(IoOp.READ, 0, 31, 512, data, 512, r -> {});

    assertEquals(IoStatus.OK, run(target, read));

    assertEquals(16 + 31, data.get(512));
    assertEquals(16 + 31, data.get(1023));
    assertEquals(0, data.get(1024));
  }

  @Test
  void argumentCountIsCheckedBeforeAnythingElse() {
    assertEquals("Invalid argument count", refusal(8));
    assertEquals("Invalid argument count", refusal(8, disk.toString()));
    assertEquals("Invalid argument count", refusal(8, "/no/such/disk", "x", "0"));
    assertTrue(context.modes.isEmpty());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "x", "-1", "+1", " 1", "1 ", "0x10", "1.0", "99999999999999999999"})
  void offsetMustBeAPlainDecimalSector(String offset) {
    assertEquals("Invalid device sector", refusal(8, "/no/such/disk", offset));
    assertTrue(context.modes.isEmpty(), "no device is opened before the arguments are checked");
  }

  @Test
  void missingDeviceIsALookupFailure() {
    assertEquals("Device lookup failed", refusal(8, dir.resolve("absent").toString(), "0"));
  }

  @Test
  void segmentMustFitInsideTheDevice() throws Exception {
    assertEquals("Device too small", refusal(32, disk.toString(), "33"));
    assertEquals("Device too small", refusal(DEVICE_SECTORS + 1, disk.toString(), "0"));
    assertEquals("Device too small", refusal(1, disk.toString(), Long.toString(Long.MAX_VALUE)));
    create(32, disk.toString(), "32");
    create(DEVICE_SECTORS, disk.toString(), "0");
  }

  @Test
  void opensTheDeviceReadWriteUnlessTheTableIsReadOnly() throws Exception {
    create(8, disk.toString(), "0");
    assertEquals(List.of(DeviceMode.READ_WRITE), context.modes);

    try (FileDevice.Context readOnly = new FileDevice.Context(true)) {
      type.create(readOnly, 8, List.of(disk.toString(), "0"));
      assertEquals(List.of(DeviceMode.READ_ONLY), readOnly.modes);
    }
  }

  @Test
  void tableStatusRebuildsAnEqualTarget() throws Exception {
    Target target = create(32, disk.toString(), "0016");
    String table = target.status(StatusType.TABLE);
    assertEquals(disk + " 16", table);
    assertEquals("", target.status(StatusType.INFO));

    Target again = create(32, table.split(" "));
    assertEquals(table, again.status(StatusType.TABLE));
    assertEquals(target.devices().getFirst().path(), again.devices().getFirst().path());
  }

  @Test
  void discardSupportLimitsAndAllocationFollowTheDevice() throws Exception {
    List<long[]> asked = new ArrayList<>();
    IoLimits hints = new IoLimits(4096, 65536, 1 << 20);
    BlockDevice thin =
        new BlockDevice() {
          @Override
          public String path() {
            return "thin";
          }

          @Override
          public long sizeInSectors() {
            return 1000;
          }

          @Override
          public boolean readOnly() {
            return false;
          }

          @Override
          public void submit(IoRequest request) {
            request.complete(IoStatus.OK);
          }

          @Override
          public boolean supports(IoOp op) {
            return op != IoOp.WRITE_ZEROES;
          }

          @Override
          public IoLimits limits() {
            return hints;
          }

          @Override
          public void blockStatus(long sector, long sectors, ExtentSink sink) {
            asked.add(new long[] {sector, sectors});
            sink.extent(sectors, ExtentSink.HOLE);
          }
        };
    context.stubs.put("thin", thin);
    Target target = create(100, "thin", "500");

    assertTrue(target.supports(IoOp.DISCARD));
    assertFalse(target.supports(IoOp.WRITE_ZEROES));
    assertSame(hints, target.limits());
    assertEquals(List.of(thin), target.devices());

    List<Long> extents = new ArrayList<>();
    target.blockStatus(10, 20, (sectors, flags) -> extents.add(sectors * 10 + flags));
    assertArrayEquals(new long[] {510, 20}, asked.getFirst());
    assertEquals(List.of(20L * 10 + ExtentSink.HOLE), extents);

    IoRequest discard = new IoRequest().prepare(IoOp.DISCARD, 0, 7, 4096, null, 0, r -> {});
    assertEquals(MapResult.REMAPPED, target.map(discard));
    assertSame(thin, discard.device());
    assertEquals(507, discard.sector());
  }

  @Test
  void mapAllocatesNothing() throws Exception {
    Target target = create(32, disk.toString(), "16");
    IoRequest request = new IoRequest();
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    for (int round = 0; round < 3; round++) {
      long before = threads.getCurrentThreadAllocatedBytes();
      for (int i = 0; i < 100_000; i++) {
        request.prepare(IoOp.READ, 0, i & 31, 512, null, 0, null);
        target.map(request);
      }
      long allocated = threads.getCurrentThreadAllocatedBytes() - before;
      if (round == 2) {
        assertTrue(allocated < 1024, "map allocated " + allocated + " bytes");
      }
    }
  }

  private static byte[] fill(int length, byte value) {
    byte[] bytes = new byte[length];
    Arrays.fill(bytes, value);
    return bytes;
  }
}
