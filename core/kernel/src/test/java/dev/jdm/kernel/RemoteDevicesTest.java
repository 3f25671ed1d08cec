package dev.jdm.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import org.junit.jupiter.api.Test;

/**
 * The remote sections of the kernel's configuration are checked when the device mapper starts,
 * and a table naming an export nobody serves fails with one line.
 */
class RemoteDevicesTest {
  private static DeviceMapper mapper(String config) {
    return new DeviceMapper(new TargetRegistry(), ConfigFactory.parseString(config)
        .withFallback(ConfigFactory.defaultReference()));
  }

  @Test
  void wrongValuesNameTheirKey() {
    for (String[] bad : new String[][] {
        {"jdm.kernel.nbd.connections = 0", "jdm.kernel.nbd.connections"},
        {"jdm.kernel.nbd.max-in-flight = 1000", "jdm.kernel.nbd.max-in-flight"},
        {"jdm.kernel.nbd.reconnect-delay-max = 1ms", "jdm.kernel.nbd.reconnect-delay-max"},
        {"jdm.kernel.nbd.tls.key = /k.pem", "jdm.kernel.nbd.tls.certificate"},
        {"jdm.kernel.rbd.connect-timeout = 0s", "jdm.kernel.rbd.connect-timeout"}}) {
      ConfigException e = assertThrows(ConfigException.class, () -> mapper(bad[0]));
      assertTrue(e.getMessage().contains(bad[1]), bad[0] + ": " + e.getMessage());
    }
  }

  @Test
  void aTableNamingAnExportNobodyServesFailsWithOneLine() throws Exception {
    TargetRegistry registry = new TargetRegistry();
    registry.register(new PassTarget.Type(), "test");
    try (DeviceMapper dm = new DeviceMapper(registry, ConfigFactory.parseString(
        "jdm.kernel.nbd.connect-timeout = 2s").withFallback(ConfigFactory.defaultReference()))) {
      DmException e = assertThrows(DmException.class, () -> dm.create("far",
          "0 8 pass nbd+unix:///x?socket=/nonexistent/nbd.sock 0 0", false));
      assertTrue(e.getMessage().startsWith("far: pass: Device lookup failed:"
          + " nbd+unix:///x?socket=/nonexistent/nbd.sock: "), e.getMessage());
      assertTrue(!e.getMessage().contains("\n"), e.getMessage());
      DmException uri = assertThrows(DmException.class, () -> dm.create("far",
          "0 8 pass nbd+unix:///x 0 0", false));
      assertTrue(uri.getMessage().contains("Device lookup failed: nbd+unix:///x: socket=PATH is"
          + " missing"), uri.getMessage());
      assertEquals(0, dm.openBackingDevices());
    }
  }
}
