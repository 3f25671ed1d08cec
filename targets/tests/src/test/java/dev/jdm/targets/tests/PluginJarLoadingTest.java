package dev.jdm.targets.tests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.PluginDirectory;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.spi.IoStatus;
import dev.jdm.spi.TargetType;
import dev.jdm.testkit.BlockIo;
import dev.jdm.testkit.PluginJar;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Target jars built at test time and dropped into a plugins directory, as a user would. */
class PluginJarLoadingTest {
  @TempDir Path dir;

  /** A one-file target: reads return the byte {@code fill}, writes are dropped. */
  static String source(String pkg, String name, String fill) {
    return """
        package %1$s;

        import dev.jdm.spi.*;
        import java.util.List;

        public final class FillTarget implements Target {
          public MapResult map(IoRequest r) {
            if (r.op() == IoOp.READ) {
              for (int i = 0; i < r.bytes(); i++) {
                r.data().put(r.dataOffset() + i, (byte) %3$s);
              }
            }
            r.complete(IoStatus.OK);
            return MapResult.SUBMITTED;
          }

          public String status(StatusType type) {
            return "";
          }

          public static final class Type implements TargetType {
            public String name() { return "%2$s"; }
            public Version version() { return Version.of(2, 1, 0); }
            public String usage() { return ""; }
            public Target create(TargetContext ctx, long length, List<String> args)
                throws TargetException {
              if (!args.isEmpty()) {
                throw new TargetException("Invalid argument count");
              }
              return new FillTarget();
            }
          }
        }
        """.formatted(pkg, name, fill);
  }

  @Test
  void droppedJarsLoadAndClashingOrBrokenOnesAreSkipped() throws Exception {
    Path plugins = dir.resolve("plugins");
    new PluginJar("a-demo", "1.0.0")
        .source("demo.FillTarget", source("demo", "demo", "0x5a"))
        .service("demo.FillTarget$Type")
        .writeTo(plugins);
    new PluginJar("b-clash", "1.0.0")
        .source("clash.FillTarget", source("clash", "demo", "1"))
        .service("clash.FillTarget$Type")
        .writeTo(plugins);
    new PluginJar("c-broken", "1.0.0")
        .service("nowhere.Missing")
        .writeTo(plugins);
    // A careless plugin that bundles the SPI: the host's copy must still win.
    byte[] spiClass;
    try (InputStream in = TargetType.class.getResourceAsStream("TargetType.class")) {
      spiClass = in.readAllBytes();
    }
    new PluginJar("d-other", "1.0.0")
        .source("other.FillTarget", source("other", "other", "7"))
        .service("other.FillTarget$Type")
        .entry("dev/jdm/spi/TargetType.class", spiClass)
        .writeTo(plugins);
    Files.writeString(plugins.resolve("e-garbage-1.0.0.jar"), "not a zip file");

    TargetRegistry registry = new TargetRegistry();
    registry.discover(getClass().getClassLoader(), "class path");
    try (PluginDirectory pd = new PluginDirectory(plugins, registry);
        DeviceMapper dm = new DeviceMapper(registry)) {
      List<String> problems = pd.loadNew().refused();
      assertEquals(3, problems.size(), problems.toString());
      assertTrue(problems.get(0).startsWith("b-clash-1.0.0.jar: target type 'demo' is already "
          + "registered by a-demo-1.0.0.jar"), problems.get(0));
      assertTrue(problems.get(1).startsWith("c-broken-1.0.0.jar: "), problems.get(1));
      assertTrue(problems.get(2).startsWith("e-garbage-1.0.0.jar: "), problems.get(2));
      problems.forEach(p -> assertTrue(p.endsWith("skipped") && !p.contains("\n"), p));

      var demo = registry.lookup("demo").orElseThrow();
      assertEquals("a-demo-1.0.0.jar", demo.origin());
      assertEquals("v2.1.0", demo.type().version().toString());
      assertTrue(registry.lookup("other").isPresent(), "a jar bundling the SPI still loads");
      assertTrue(registry.lookup("linear").isPresent(), "built-ins stay");

      MappedDevice d = dm.create("fill", "0 64 demo\n64 64 other", false);
      byte[] expected = new byte[1024];
      java.util.Arrays.fill(expected, 0, 512, (byte) 0x5a);
      java.util.Arrays.fill(expected, 512, 1024, (byte) 7);
      assertArrayEquals(expected, new BlockIo(d).read(63, 1024));
      assertEquals(IoStatus.OK, new BlockIo(d).write(0, new byte[512]));
    }
  }
}
