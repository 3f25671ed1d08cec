package dev.jdm.targets.zero;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ZeroTargetTest {
  private final TargetType type = new ZeroTarget.Type();
  private final List<IoStatus> completions = new ArrayList<>();

  /** zero needs no device: opening one is a test failure. */
  private static final TargetContext NO_DEVICES =
      new TargetContext() {
        @Override
        public String deviceName() {
          return "zeros";
        }

        @Override
        public long beginSector() {
          return 0;
        }

        @Override
        public boolean readOnly() {
          return false;
        }

        @Override
        public BlockDevice openDevice(String path, DeviceMode mode) {
          throw new AssertionError("zero opened " + path);
        }
      };

  private Target create(String... args) throws TargetException {
    return type.create(NO_DEVICES, 1 << 20, List.of(args));
  }

  private IoRequest request(IoOp op, ByteBuffer data, int offset, int bytes) {
    return new IoRequest().prepare(op, 0, 40, bytes, data, offset, r -> completions.add(r.status()));
  }

  private static ByteBuffer filled(int capacity) {
    ByteBuffer data = ByteBuffer.allocate(capacity);
    for (int i = 0; i < capacity; i++) {
      data.put(i, (byte) 0x5A);
    }
    return data;
  }

  @Test
  void isFoundByServiceLoaderUnderItsName() {
    TargetType found =
        ServiceLoader.load(TargetType.class).stream()
            .map(ServiceLoader.Provider::get)
            .filter(t -> t.name().equals("zero"))
            .findFirst()
            .orElseThrow();
    assertEquals("v1.2.0", found.version().toString());
    assertEquals("", found.usage());
  }

  @Test
  void readReturnsZerosInItsOwnRangeOnly() throws Exception {
    ByteBuffer data = filled(4096 + 8);
    IoRequest read = request(IoOp.READ, data, 4, 4096);

    assertEquals(MapResult.SUBMITTED, create().map(read));

    assertEquals(List.of(IoStatus.OK), completions);
    assertEquals(0x5A, data.get(3));
    for (int i = 4; i < 4100; i++) {
      assertEquals(0, data.get(i), "byte " + i);
    }
    assertEquals(0x5A, data.get(4100));
  }

  @Test
  void writeSucceedsAndStoresNothing() throws Exception {
    Target target = create();
    ByteBuffer data = filled(1024);

    assertEquals(MapResult.SUBMITTED, target.map(request(IoOp.WRITE, data, 0, 1024)));
    assertEquals(filled(1024), data);

    ByteBuffer again = filled(1024);
    target.map(request(IoOp.READ, again, 0, 1024));
    assertEquals(ByteBuffer.allocate(1024), again);
    assertEquals(List.of(IoStatus.OK, IoStatus.OK), completions);
  }

  @ParameterizedTest
  @EnumSource(value = IoOp.class, names = {"DISCARD", "WRITE_ZEROES"})
  void discardAndWriteZeroesSucceed(IoOp op) throws Exception {
    Target target = create();
    assertTrue(target.supports(op));
    IoRequest request =
        new IoRequest()
            .prepare(op, IoRequest.FAST_ZERO, 0, 1 << 20, null, 0, r -> completions.add(r.status()));

    assertEquals(MapResult.SUBMITTED, target.map(request));
    assertEquals(List.of(IoStatus.OK), completions);
  }

  @Test
  void everyRangeIsAZeroHole() throws Exception {
    List<String> extents = new ArrayList<>();
    create().blockStatus(123, 4567, (sectors, flags) -> extents.add(sectors + ":" + flags));
    assertEquals(List.of("4567:" + (ExtentSink.HOLE | ExtentSink.ZERO)), extents);
  }

  @Test
  void takesNoArguments() {
    TargetException e = assertThrows(TargetException.class, () -> create("0"));
    assertEquals("Invalid argument count", e.getMessage());
  }

  @Test
  void statusIsEmptyAndRebuildsTheSameTarget() throws Exception {
    Target target = create();
    assertEquals("", target.status(StatusType.TABLE));
    assertEquals("", target.status(StatusType.INFO));
    assertEquals("", create(new String[0]).status(StatusType.TABLE));
    assertTrue(target.devices().isEmpty());
    assertEquals(IoLimits.DEFAULT, target.limits());
    assertFalse(target.supports(IoOp.FLUSH));
  }
}
