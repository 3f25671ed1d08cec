package dev.jdm.targets.hello;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class HelloTargetTest {
  /** The seed's disk: a 128 MiB file, 262144 sectors. */
  private static final Disk MYDISK = new Disk("/tmp/mydisk", 262144);

  private final TargetType type = new HelloTarget.Type();
  private final Logger trace = (Logger) LoggerFactory.getLogger("dev.jdm.targets.hello");
  private final ListAppender<ILoggingEvent> lines = new ListAppender<>();

  /** A device that completes everything; hello only remaps, so no data needs to move. */
  record Disk(String path, long sizeInSectors) implements BlockDevice {
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
      return true;
    }
  }

  /** The segment being built: where it starts in the jdm device, and the one disk there is. */
  record Segment(long beginSector, boolean readOnly, List<DeviceMode> modes)
      implements TargetContext {
    Segment(long beginSector) {
      this(beginSector, false, new ArrayList<>());
    }

    @Override
    public String deviceName() {
      return "my_device_mapper";
    }

    @Override
    public BlockDevice openDevice(String path, DeviceMode mode) throws TargetException {
      if (!path.equals(MYDISK.path())) {
        throw new TargetException("Device lookup failed");
      }
      modes.add(mode);
      return MYDISK;
    }
  }

  @BeforeEach
  void captureTrace() {
    lines.start();
    trace.addAppender(lines);
    trace.setAdditive(false);
    trace.setLevel(Level.INFO);
  }

  @AfterEach
  void releaseTrace() {
    trace.detachAppender(lines);
    trace.setLevel(null);
    trace.setAdditive(true);
  }

  private List<String> traced() {
    return lines.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

  private Target create(long begin, long length, String... args) throws TargetException {
    return type.create(new Segment(begin), length, List.of(args));
  }

  private String refusal(String... args) {
    return assertThrows(TargetException.class, () -> create(0, 8, args)).getMessage();
  }

  private static IoRequest request(IoOp op, long sector, int bytes) {
    ByteBuffer data = op.hasData() ? ByteBuffer.allocate(bytes) : null;
    return new IoRequest().prepare(op, 0, sector, bytes, data, 0, r -> {});
  }

  @Test
  void isFoundByServiceLoaderAsHelloAndHelloTarget() {
    TargetType found =
        ServiceLoader.load(TargetType.class).stream()
            .map(ServiceLoader.Provider::get)
            .filter(t -> t.name().equals("hello"))
            .findFirst()
            .orElseThrow();
    assertEquals(List.of("hello_target"), found.aliases());
    assertEquals("v1.0.0", found.version().toString());
    assertEquals("<dev_path> <offset>", found.usage());
  }

  @Test
  void theSeedTableLineWorks() throws Exception {
    Target target = create(0, 262144, "/tmp/mydisk", "0");
    IoRequest write = request(IoOp.WRITE, 262016, 4096);

    assertEquals(MapResult.REMAPPED, target.map(write));

    assertSame(MYDISK, write.device());
    assertEquals(262016, write.sector());
    assertEquals(List.of("write, 262016, 4096"), traced());
  }

  @Test
  void logsTheSectorInTheJdmDeviceAndMapsByOffset() throws Exception {
    Target target = create(1000, 2048, "/tmp/mydisk", "5000");
    IoRequest read = request(IoOp.READ, 8, 512);
    IoRequest write = request(IoOp.WRITE, 16, 8192);

    assertEquals(MapResult.REMAPPED, target.map(read));
    assertEquals(MapResult.REMAPPED, target.map(write));

    assertEquals(5008, read.sector());
    assertEquals(5016, write.sector());
    assertEquals(List.of("read, 1008, 512", "write, 1016, 8192"), traced());
    assertTrue(lines.list.stream().allMatch(e -> e.getLevel() == Level.INFO));
  }

  @Test
  void requestsThatChangeDataAreLoggedAsWrites() throws Exception {
    Target target = create(0, 64, "/tmp/mydisk", "0");
    assertTrue(target.supports(IoOp.DISCARD));
    assertTrue(target.supports(IoOp.WRITE_ZEROES));

    target.map(request(IoOp.DISCARD, 0, 4096));
    target.map(request(IoOp.WRITE_ZEROES, 8, 4096));

    assertEquals(List.of("write, 0, 4096", "write, 8, 4096"), traced());
  }

  @Test
  void logsNothingAndAllocatesNothingWhenInfoIsOff() throws Exception {
    trace.setLevel(Level.WARN);
    Target target = create(0, 64, "/tmp/mydisk", "0");
    IoRequest request = new IoRequest();
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long allocated = Long.MAX_VALUE;
    for (int round = 0; round < 3; round++) {
      long before = threads.getCurrentThreadAllocatedBytes();
      for (int i = 0; i < 100_000; i++) {
        request.prepare(IoOp.WRITE, 0, i & 63, 512, null, 0, null);
        target.map(request);
      }
      allocated = threads.getCurrentThreadAllocatedBytes() - before;
    }
    assertTrue(allocated < 1024, "map allocated " + allocated + " bytes");
    assertEquals(List.of(), traced());
  }

  @Test
  void refusesArgumentsAsLinearDoes() {
    assertEquals("Invalid argument count", refusal());
    assertEquals("Invalid argument count", refusal("/tmp/mydisk"));
    assertEquals("Invalid argument count", refusal("/tmp/mydisk", "0", "0"));
    for (String bad : Arrays.asList("", "x", "-8", "+8", "8s", "18446744073709551616")) {
      assertEquals("Invalid device sector", refusal("/tmp/mydisk", bad), bad);
    }
    assertEquals("Device lookup failed", refusal("/tmp/other", "0"));
    assertEquals("Device too small", refusal("/tmp/mydisk", "262137"));
  }

  @Test
  void opensReadOnlyForAReadOnlyTable() throws Exception {
    Segment readOnly = new Segment(0, true, new ArrayList<>());
    type.create(readOnly, 8, List.of("/tmp/mydisk", "0"));
    Segment readWrite = new Segment(0);
    type.create(readWrite, 8, List.of("/tmp/mydisk", "0"));

    assertEquals(List.of(DeviceMode.READ_ONLY), readOnly.modes());
    assertEquals(List.of(DeviceMode.READ_WRITE), readWrite.modes());
  }

  @Test
  void tableStatusRebuildsAnEqualTarget() throws Exception {
    Target target = create(0, 1024, "/tmp/mydisk", "007");
    String table = target.status(StatusType.TABLE);
    assertEquals("/tmp/mydisk 7", table);
    assertEquals("", target.status(StatusType.INFO));
    assertEquals(List.of(MYDISK), target.devices());

    assertEquals(table, create(0, 1024, table.split(" ")).status(StatusType.TABLE));
  }
}
