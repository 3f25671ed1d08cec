package dev.jdm.targets.error;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.BlockDevice;
import dev.jdm.spi.DeviceMode;
import dev.jdm.spi.IoOp;
import dev.jdm.spi.IoRequest;
import dev.jdm.spi.MapResult;
import dev.jdm.spi.StatusType;
import dev.jdm.spi.Target;
import dev.jdm.spi.TargetContext;
import dev.jdm.spi.TargetException;
import dev.jdm.spi.TargetType;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class ErrorTargetTest {
  private final TargetType type = new ErrorTarget.Type();

  /** A segment of a read-only table; error opens nothing, so any device lookup fails. */
  record Segment(String deviceName, long beginSector, boolean readOnly) implements TargetContext {
    @Override
    public BlockDevice openDevice(String path, DeviceMode mode) throws TargetException {
      throw new TargetException("Device lookup failed");
    }
  }

  private Target create(String... args) throws TargetException {
    return type.create(new Segment("broken", 2048, true), 4096, List.of(args));
  }

  @Test
  void isFoundByServiceLoaderUnderItsName() {
    TargetType found =
        ServiceLoader.load(TargetType.class).stream()
            .map(ServiceLoader.Provider::get)
            .filter(t -> t.name().equals("error"))
            .findFirst()
            .orElseThrow();
    assertEquals("v1.6.0", found.version().toString());
    assertTrue(found.aliases().isEmpty());
  }

  @ParameterizedTest
  @EnumSource(value = IoOp.class, names = "FLUSH", mode = EnumSource.Mode.EXCLUDE)
  void everyRequestIsKilledWithoutBeingCompletedByTheTarget(IoOp op) throws Exception {
    Target target = create();
    assertTrue(target.supports(op), "so the core sends it here instead of refusing it");
    AtomicInteger completions = new AtomicInteger();
    ByteBuffer data = op.hasData() ? ByteBuffer.allocate(4096) : null;
    IoRequest request =
        new IoRequest().prepare(op, 0, 8, 4096, data, 0, r -> completions.incrementAndGet());

    assertEquals(MapResult.KILL, target.map(request));

    assertEquals(0, completions.get(), "the core completes a killed request with EIO");
    assertNull(request.device());
  }

  @Test
  void takesNoArguments() {
    for (List<String> args : List.of(List.of("x"), List.of("/dev/loop0", "0"))) {
      TargetException e =
          assertThrows(TargetException.class, () -> create(args.toArray(String[]::new)));
      assertEquals("Invalid argument count", e.getMessage());
    }
  }

  @Test
  void statusIsEmptyAndRebuildsTheSameTarget() throws Exception {
    Target target = create();
    assertEquals("", target.status(StatusType.TABLE));
    assertEquals("", target.status(StatusType.INFO));
    assertEquals("", create().status(StatusType.TABLE));
    assertTrue(target.devices().isEmpty());
  }
}
