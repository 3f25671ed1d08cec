package dev.jdm.nbd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import dev.jdm.kernel.DeviceMapper;
import dev.jdm.kernel.TargetRegistry;
import dev.jdm.testkit.ExternalTools;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** The {@code jdm.frontends.nbd} section: defaults, and errors that name file and line. */
class NbdConfigTest {
  @TempDir
  Path tmp;

  private Config file(String text) throws Exception {
    Path f = tmp.resolve("jdm.conf");
    Files.writeString(f, text);
    return ConfigFactory.parseFile(f.toFile())
        .withFallback(ConfigFactory.parseString("jdm.runtime-dir = \"" + tmp + "\""))
        .withFallback(ConfigFactory.defaultReference());
  }

  private String error(String text) throws Exception {
    Config c = file(text);
    return assertThrows(ConfigException.class, () -> NbdConfig.from(c)).getMessage();
  }

  @Test
  void defaultsComeFromReferenceConf() {
    NbdConfig c = NbdConfig.from(ConfigFactory.parseString("jdm.runtime-dir = /run/jdm")
        .withFallback(ConfigFactory.defaultReference()));
    assertTrue(c.enabled());
    assertEquals(List.of("unix:/run/jdm/nbd.sock"),
        c.listen().stream().map(ListenAddress::text).toList());
    assertEquals(32 << 20, c.maxPayload());
    assertEquals(NbdConfig.TlsMode.OFF, c.tls().mode());
    assertEquals("", c.defaultExport());
  }

  @Test
  void aBadAddressNamesFileLineAndKey() throws Exception {
    String m = error("jdm.frontends.nbd {\n  listen = [\"unix:/ok.sock\",\n    \"nohost\"]\n}\n");
    assertTrue(m.contains("jdm.conf: 3"), m);
    assertTrue(m.contains("listen[1]") && m.contains("expected HOST:PORT or unix:/path"), m);
  }

  @Test
  void eachAddressFormIsChecked() {
    assertEquals(Path.of("/run/jdm/nbd.sock"),
        ListenAddress.parse("unix:/run/jdm/nbd.sock").socketPath());
    assertEquals("unix:/tmp/a.sock", ListenAddress.parse("/tmp/a.sock").text());
    assertEquals(10809, ((InetSocketAddress) ListenAddress.parse("[::1]:10809").address())
        .getPort());
    for (String bad : List.of("unix:relative.sock", "127.0.0.1:99999", "::1:10809", "host:",
        "127.0.0.1:x")) {
      assertThrows(IllegalArgumentException.class, () -> ListenAddress.parse(bad), bad);
    }
  }

  @Test
  void anUnknownKeyIsAnErrorNotIgnored() throws Exception {
    String m = error("jdm.frontends.nbd.max-payloud = 1MiB\n");
    assertTrue(m.contains("jdm.conf: 1") && m.contains("max-payloud"), m);
  }

  @Test
  void aWrongTypeNamesTheLine() throws Exception {
    String m = error("\n\njdm.frontends.nbd.threads-per-connection = many\n");
    assertTrue(m.contains("jdm.conf: 3") && m.contains("threads-per-connection"), m);
  }

  @Test
  void tlsNeedsItsFilesAndAKnownMode() throws Exception {
    assertTrue(error("jdm.frontends.nbd.tls.mode = sometimes\n").contains("expected off, on or"
        + " require"));
    String m = error("jdm.frontends.nbd.tls {\n mode = on\n}\n");
    assertTrue(m.contains("tls.certificate") && m.contains("jdm.conf"), m);
    m = error("jdm.frontends.nbd.tls { mode = require, certificate = c.pem, key = k.pem,"
        + " verify-client = true }\n");
    assertTrue(m.contains("tls.trust"), m);
  }

  @Test
  void payloadLimitsAreChecked() throws Exception {
    assertTrue(error("jdm.frontends.nbd.max-payload = 65MiB\n").contains("max-payload"));
    assertEquals(64 << 20, NbdConfig.from(file("jdm.frontends.nbd.max-payload = 64MiB\n"))
        .maxPayload());
    assertTrue(error("jdm.frontends.nbd.max-payload = 1000\n").contains("max-payload"));
  }

  @Test
  void disabledStartsNothing() throws Exception {
    Config c = file("jdm.frontends.nbd.enabled = false\n");
    try (DeviceMapper m = new DeviceMapper(new TargetRegistry(), c)) {
      assertTrue(new NbdFrontendProvider().start(m, c).isEmpty());
    }
  }

  @Test
  void byDefaultOnlyTheDaemonsUserReachesTheDevicesThroughAPrivateSocketInTheRuntimeDir()
      throws Exception {
    Path run = Files.createDirectory(tmp.resolve("run"));
    Config c = ConfigFactory.parseString("jdm.runtime-dir = \"" + run + "\"")
        .withFallback(ConfigFactory.defaultReference());
    TargetRegistry targets = new TargetRegistry();
    targets.discover(getClass().getClassLoader(), "class path");
    try (DeviceMapper m = new DeviceMapper(targets, c);
        var nbd = new NbdFrontendProvider().start(m, c).orElseThrow()) {
      Path sock = run.resolve("nbd.sock");
      assertEquals("rw-------", PosixFilePermissions.toString(
          Files.getPosixFilePermissions(sock)));
      assertEquals("nbd on unix:" + sock + " (nbd+unix:///NAME?socket=" + sock + ")",
          nbd.describe());
      m.create("disk", "0 2048 zero", false);
      try (ExternalTools tools = new ExternalTools(tmp)) {
        assertEquals("1048576\n", tools.ok(List.of("nbdinfo", "--size",
            "nbd+unix:///disk?socket=" + sock), 60));
      }
    }
  }

  @Test
  void tcpWithoutTlsIsOnlyWhenAskedAndSaysSoInOneLine() throws Exception {
    Logger log = (Logger) LoggerFactory.getLogger(NbdServer.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    log.addAppender(lines);
    Config c = file("jdm.frontends.nbd.listen = [\"127.0.0.1:0\"]\n");
    try (DeviceMapper m = new DeviceMapper(new TargetRegistry(), c);
        var nbd = new NbdFrontendProvider().start(m, c).orElseThrow()) {
      List<String> warnings = lines.list.stream().filter(e -> e.getLevel() == Level.WARN)
          .map(ILoggingEvent::getFormattedMessage).toList();
      assertEquals(1, warnings.size(), warnings.toString());
      assertTrue(warnings.getFirst().matches("nbd: listening on TCP 127\\.0\\.0\\.1:\\d+ without"
          + " TLS: every local user, .*"), warnings.getFirst());
    } finally {
      log.detachAppender(lines);
    }
  }

  @Test
  void aUnixSocketIsPrivateAndAStaleOneIsReplaced() throws Exception {
    Path sock = tmp.resolve("sub/nbd.sock");
    Files.createDirectories(sock.getParent());
    Files.writeString(sock, "");
    Config c = file("jdm.frontends.nbd.listen = [\"unix:" + sock + "\"]\n");
    try (DeviceMapper m = new DeviceMapper(new TargetRegistry(), c)) {
      Exception e = assertThrows(Exception.class, () -> new NbdFrontendProvider().start(m, c));
      assertTrue(e.getMessage().contains("not a socket"), e.getMessage());
      Files.delete(sock);
      try (var nbd = new NbdFrontendProvider().start(m, c).orElseThrow()) {
        assertEquals("rw-------", PosixFilePermissions.toString(
            Files.getPosixFilePermissions(sock)));
        assertEquals("nbd on unix:" + sock + " (nbd+unix:///NAME?socket=" + sock + ")",
            nbd.describe());
        Exception busy = assertThrows(Exception.class,
            () -> new NbdFrontendProvider().start(m, c));
        assertTrue(busy.getMessage().contains("another server"), busy.getMessage());
      }
      assertTrue(Files.notExists(sock), "socket removed on close");
    }
  }
}
