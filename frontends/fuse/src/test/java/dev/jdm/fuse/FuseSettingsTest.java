package dev.jdm.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.TargetRegistry;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The {@code jdm.frontends.fuse} section: defaults, and errors naming key, file and line. */
class FuseSettingsTest {
  private static Config conf(String text) {
    return ConfigFactory.parseString(text, ConfigParseOptions.defaults()
        .setOriginDescription("jdm.conf"));
  }

  private static String error(String text) {
    return assertThrows(ConfigException.class, () -> FuseSettings.from(conf(text))).getMessage();
  }

  @Test
  void disabledByDefaultSoNothingStarts() throws Exception {
    FuseSettings s = FuseSettings.from(ConfigFactory.empty());
    assertEquals(false, s.enabled());
    assertEquals(8, s.threads());
    assertEquals(1 << 20, s.maxWrite());
    assertEquals(Duration.ofSeconds(1), s.attrTimeout());
    try (DeviceMapper mapper = new DeviceMapper(new TargetRegistry())) {
      assertTrue(new FuseFrontendProvider().start(mapper, ConfigFactory.empty()).isEmpty());
    }
    assertEquals("fuse", new FuseFrontendProvider().name());
  }

  @Test
  void anUnknownKeyIsNamedWithItsLine() {
    String e = error("jdm.frontends.fuse {\n  enabled = true\n  mountpiont = \"/mnt\"\n}");
    assertTrue(e.contains("jdm.conf: 3: jdm.frontends.fuse.mountpiont: unknown key"), e);
  }

  @Test
  void aWrongTypeIsNamedWithItsLine() {
    String e = error("jdm.frontends.fuse {\n  threads = many\n}");
    assertTrue(e.contains("jdm.conf: 2") && e.contains("threads"), e);
  }

  @Test
  void badValuesAreAllReportedWithTheirLines() {
    String e = error("jdm.frontends.fuse {\n  enabled = true\n  threads = 0\n"
        + "  max-write = 1000\n}");
    assertTrue(e.contains("jdm.conf: 3: jdm.frontends.fuse.threads: must be 1 to 1024, not 0"), e);
    assertTrue(e.contains("jdm.conf: 4: jdm.frontends.fuse.max-write: must be a multiple of 4 KiB"),
        e);
    assertTrue(e.contains("jdm.conf: 2: jdm.frontends.fuse.mountpoint: must be set to an absolute"
        + " directory path when the frontend is enabled"), e);
  }

  @Test
  void aRelativeMountpointIsRefused() {
    String e = error("jdm.frontends.fuse {\n  enabled = true\n  mountpoint = mnt\n}");
    assertTrue(e.contains("jdm.conf: 3: jdm.frontends.fuse.mountpoint: must be an absolute"), e);
  }
}
