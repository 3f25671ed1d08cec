package dev.jdm.targets.tests;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.MappedDevice;
import dev.jdm.kernel.PluginDirectory;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.testkit.PluginJar;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A plugin's class loader shows it its own jar, the JDK, and of the host only the SPI and slf4j:
 * asked from inside the plugin, about classes and resources that are all on this test's class
 * path.
 */
class PluginIsolationTest {
  @TempDir Path dir;

  /**
   * The {@code probe} target: each argument is a class name or {@code resource:NAME}; its INFO
   * status says, for each, which loader the plugin gets it from: {@code plugin}, {@code host},
   * {@code jdk}, or {@code hidden}.
   */
  static final String PROBE = """
      package probe;

      import dev.jdm.spi.*;
      import java.net.URL;
      import java.util.ArrayList;
      import java.util.List;

      public final class ProbeTarget implements Target {
        private final List<String> args;
        private final String seen;

        ProbeTarget(List<String> args, String seen) {
          this.args = args;
          this.seen = seen;
        }

        public MapResult map(IoRequest r) {
          r.fillZeros();
          r.complete(IoStatus.OK);
          return MapResult.SUBMITTED;
        }

        public String status(StatusType type) {
          return type == StatusType.INFO ? seen : String.join(" ", args);
        }

        static String where(String what) {
          ClassLoader mine = ProbeTarget.class.getClassLoader();
          ClassLoader host = TargetType.class.getClassLoader();
          if (what.startsWith("resource:")) {
            String name = what.substring("resource:".length());
            URL u = mine.getResource(name);
            return u == null ? "hidden" : u.equals(host.getResource(name)) ? "host" : "plugin";
          }
          try {
            ClassLoader l = Class.forName(what, false, mine).getClassLoader();
            return l == mine ? "plugin" : l == host ? "host"
                : l == null || l == ClassLoader.getPlatformClassLoader() ? "jdk" : "other " + l;
          } catch (ClassNotFoundException e) {
            return "hidden";
          }
        }

        public static final class Type implements TargetType {
          public String name() { return "probe"; }
          public Version version() { return Version.of(1, 0, 0); }
          public String usage() { return "<class_or_resource>..."; }
          public Target create(TargetContext c, long length, List<String> args) {
            List<String> seen = new ArrayList<>();
            for (String a : args) {
              seen.add(a + "=" + where(a));
            }
            return new ProbeTarget(List.copyOf(args), String.join(" ", seen));
          }
        }
      }
      """;

  /** What the probe is asked about, and what it must answer. */
  static final List<String> EXPECTED = List.of(
      "probe.ProbeTarget=plugin",
      "dev.jdm.spi.TargetType=host",
      "org.slf4j.LoggerFactory=host",
      "java.lang.String=jdk",
      "java.sql.Connection=jdk",
      "com.typesafe.config.Config=hidden",
      "org.pf4j.PluginManager=hidden",
      "dev.jdm.kernel.DeviceMapper=hidden",
      "dev.jdm.testkit.PluginJar=hidden",
      "ch.qos.logback.classic.Logger=hidden",
      "resource:reference.conf=hidden",
      "resource:dev/jdm/spi/spi.properties=host");

  /** The probe's table line asking about everything in {@link #EXPECTED}. */
  static String probeLine() {
    return "0 8 probe " + String.join(" ", EXPECTED.stream().map(e -> e.split("=")[0]).toList());
  }

  @Test
  void aPluginSeesItsJarTheJdkTheSpiAndSlf4jOnly() throws Exception {
    new PluginJar("probe", "1.0.0")
        .source("probe.ProbeTarget", PROBE)
        .service("probe.ProbeTarget$Type")
        .writeTo(dir.resolve("plugins"));
    TargetRegistry registry = new TargetRegistry();
    try (PluginDirectory plugins = new PluginDirectory(dir.resolve("plugins"), registry);
        DeviceMapper dm = new DeviceMapper(registry)) {
      assertEquals(List.of(), plugins.loadNew().refused());
      MappedDevice d = dm.create("probe", probeLine(), false);
      assertEquals("0 8 probe " + String.join(" ", EXPECTED), d.status());
    }
  }
}
