package dev.jdm.daemon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JdmConfigTest {
  @TempDir Path tmp;

  private Path file(String text) throws IOException {
    Path f = tmp.resolve("jdm.conf");
    Files.writeString(f, text);
    return f;
  }

  private String refusal(String text) throws IOException {
    Path f = file(text);
    return assertThrows(ConfigProblem.class, () -> JdmConfig.load(Optional.of(f), Map.of()))
        .getMessage();
  }

  @Test
  void embeddedDefaultIsTheTutorialDeviceOnASparseImageInTheStateDir() throws Exception {
    JdmConfig c = JdmConfig.load(Optional.empty(), Map.of("jdm.state-dir", "/srv/jdm"));
    List<DeviceSpec> devices = c.devices();
    assertEquals(1, devices.size());
    assertEquals("my_device_mapper", devices.getFirst().name());
    assertEquals("0 262144 hello_target /srv/jdm/mydisk.img 0", devices.getFirst().table());
    assertFalse(devices.getFirst().readOnly());
    assertEquals(List.of(new ImageSpec("mydisk", Path.of("/srv/jdm/mydisk.img"), 128L << 20)),
        c.images());
  }

  @Test
  void commandLineWinsOverTheFileAndTheFileOverTheReference() throws Exception {
    Path f = file("jdm { runtime-dir = /from/file, state-dir = /state/file }");
    JdmConfig c = JdmConfig.load(Optional.of(f), Map.of("jdm.runtime-dir", "/from/cli"));
    assertEquals(Path.of("/from/cli"), c.runtimeDir());
    if (System.getenv("JDM_STATE_DIR") == null) {
      assertEquals(Path.of("/state/file"), c.stateDir());
    }
    assertEquals(30, c.config().getDuration("jdm.kernel.suspend-timeout").toSeconds());
  }

  @Test
  void pluginsDirFollowsTheInstallDirectory() throws Exception {
    JdmConfig c = JdmConfig.load(Optional.of(file("jdm.home = /opt/x")), Map.of());
    assertEquals(Path.of("/opt/x/plugins"), c.pluginsDir());
  }

  @Test
  void everyProblemOfAFileIsReportedAtOnceWithFileLineAndFullKey() throws Exception {
    Path garbage = Files.writeString(tmp.resolve("garbage.pem"), "this is no certificate\n");
    String m = refusal("""
        jdm {
          kernel.request-pool-size = -5
          kernel.suspend-timeout = 0s
          devices.a { table = "0 8 zero" }
          devices.b { table = "0 8 zero" }
          devices.a { table = "0 16 zero" }
          frontends.nbd.tls { mode = require, certificate = "/nonexistent/cert.pem", key = "K" }
          frontends.fuse { enabled = true, mountpoint = "/x", threads = 0 }
        }
        """.replace("K", garbage.toString()));
    String f = tmp.resolve("jdm.conf").toString();
    assertEquals(List.of(
        f + ": 6: jdm.devices.a: a second device called a (the first is at line 4): HOCON would"
            + " keep only this one's table; rename one",
        f + ": 3: jdm.kernel.suspend-timeout: must be a positive duration, not PT0S",
        f + ": 2: jdm.kernel.request-pool-size: must be from 1 to 1048576, not -5",
        f + ": 7: jdm.frontends.nbd.tls.certificate: /nonexistent/cert.pem: No such file",
        f + ": 8: jdm.frontends.fuse.threads: must be 1 to 1024, not 0"), m.lines().toList());
  }

  @Test
  void aGarbageCertificateSaysWhyWithFileAndLine() throws Exception {
    Path garbage = Files.writeString(tmp.resolve("garbage.pem"), "this is no certificate\n");
    String m = refusal("jdm.frontends.nbd.tls { mode = on, certificate = \"" + garbage
        + "\", key = \"" + garbage + "\" }\n");
    assertEquals(tmp.resolve("jdm.conf") + ": 1: jdm.frontends.nbd.tls.certificate: " + garbage
        + ": not a PEM certificate file: No certificate data found", m);
  }

  @Test
  void aTypoInAKeyIsRefusedWithFileAndLine() throws Exception {
    String m = refusal("""
        jdm {
          state-dir = /tmp
          runtme-dir = /tmp/x
        }
        """);
    assertEquals(tmp.resolve("jdm.conf") + ": 3: unknown key jdm.runtme-dir", m);
  }

  @Test
  void unknownKeysAreFoundAtEveryLevel() throws Exception {
    String m = refusal("""
        devices.d.table = "0 1 zero"
        jdm.kernel.suspend-timout = 5s
        jdm.devices.d { table = "0 1 zero", readonly = true }
        jdm.images.i { path = /x, size = 1M, sparse = yes }
        jdm.control.shutdown-timeout = 1s
        """);
    List<String> lines = m.lines().toList();
    assertEquals(4, lines.size(), m);
    assertTrue(lines.contains("jdm.conf: 1: unknown key devices".replace("jdm.conf",
        tmp.resolve("jdm.conf").toString())), m);
    assertTrue(m.contains(": 2: unknown key jdm.kernel.suspend-timout"), m);
    assertTrue(m.contains(": 3: unknown key jdm.devices.d.readonly"), m);
    assertTrue(m.contains(": 4: unknown key jdm.images.i.sparse"), m);
  }

  @Test
  void frontendSectionsAreLeftToTheirFrontends() throws Exception {
    JdmConfig c = JdmConfig.load(Optional.of(file("""
        jdm.frontends.nbd { enabled = false, listen = ["127.0.0.1:10809"] }
        jdm.frontends.someday.anything = true
        """)), Map.of());
    assertTrue(c.frontendSections().containsAll(List.of("nbd", "someday")));
  }

  @Test
  void aValueOfTheWrongTypeIsRefusedWithFileAndLine() throws Exception {
    assertTrue(refusal("""
        jdm.devices.d {
          table = "0 1 zero"
          read-only = maybe
        }
        """).startsWith(tmp.resolve("jdm.conf") + ": 3: "));
    assertTrue(refusal("jdm.control.shutdown-timeout = soon")
        .startsWith(tmp.resolve("jdm.conf") + ": 1: "));
    assertTrue(refusal("jdm.devices = [1, 2]").startsWith(tmp.resolve("jdm.conf") + ": 1: "));
  }

  @Test
  void devicesAndImagesAreCheckedWhole() throws Exception {
    assertEquals(tmp.resolve("jdm.conf") + ": 1: jdm.devices.d has no table",
        refusal("jdm.devices.d { read-only = true }"));
    assertEquals(tmp.resolve("jdm.conf") + ": 2: jdm.devices.d.table must be a string of table"
        + " lines or a list of them", refusal("\njdm.devices.d.table = { start = 0 }"));
    assertEquals(tmp.resolve("jdm.conf") + ": 1: jdm.devices.d must be an object { table = ...,"
        + " read-only = ... }", refusal("jdm.devices.d = \"0 1 zero\""));
    assertTrue(refusal("jdm.images.i { path = /x, size = lots }")
        .startsWith(tmp.resolve("jdm.conf") + ": 1: "));
    assertTrue(refusal("jdm.images.i { path = /x, size = 0 }").endsWith(
        "jdm.images.i.size must be more than 0 bytes"));
  }

  @Test
  void aSyntaxErrorNamesFileAndLine() throws Exception {
    assertTrue(refusal("jdm {\n  state-dir = /x\n  devices {\n")
        .startsWith(tmp.resolve("jdm.conf") + ": "));
    assertTrue(refusal("jdm.state-dir = ${nowhere}").startsWith(tmp.resolve("jdm.conf") + ": 1: "));
  }

  @Test
  void aMissingFileIsSaidSo() {
    Path f = tmp.resolve("absent.conf");
    assertEquals(f + ": No such file", assertThrows(ConfigProblem.class,
        () -> JdmConfig.load(Optional.of(f), Map.of())).getMessage());
  }

  @Test
  void devNullIsAConfigurationWithNothingInIt() throws Exception {
    JdmConfig c = JdmConfig.load(Optional.of(Path.of("/dev/null")), Map.of());
    assertEquals(List.of(), c.devices());
    assertEquals(List.of(), c.images());
    assertEquals(tmp + ": Is a directory", assertThrows(ConfigProblem.class,
        () -> JdmConfig.load(Optional.of(tmp), Map.of())).getMessage());
  }

  @Test
  void devicesComeInTheOrderOfTheFile() throws Exception {
    JdmConfig c = JdmConfig.load(Optional.of(file("""
        jdm.devices {
          zeta.table = "0 8 zero"
          alpha.table = "0 8 linear /dev/mapper/zeta 0"
          mid { table = ["0 4 zero", "4 4 error"], read-only = true }
        }
        """)), Map.of());
    assertEquals(List.of("zeta", "alpha", "mid"), c.devices().stream().map(DeviceSpec::name).toList());
    DeviceSpec mid = c.devices().get(2);
    assertEquals("0 4 zero\n4 4 error", mid.table());
    assertTrue(mid.readOnly());
  }

  @Test
  void aTableErrorPointsAtTheLineOfTheFileItCameFrom() throws Exception {
    JdmConfig c = JdmConfig.load(Optional.of(file("""
        jdm.devices {
          listed {
            table = [
              "0 4 zero"
              "4 4 nosuch"
            ]
          }
          text {
            table = \"""
        0 4 zero
        4 4 nosuch
        \"""
          }
          one.table = "0 4 nosuch"
        }
        """)), Map.of());
    String f = tmp.resolve("jdm.conf").toString();
    assertEquals(f + ": 5", c.devices().get(0).where("listed: nosuch: unknown target type (line 2)"));
    assertEquals(f + ": 11", c.devices().get(1).where("text: nosuch: unknown target type (line 3)"));
    assertEquals(f + ": 14", c.devices().get(2).where("one: nosuch: unknown target type (line 1)"));
    assertEquals(f + ": 14", c.devices().get(2).where("one: Device or resource busy"));
  }

  @Test
  void theExampleConfigurationOfTheDistributionIsValid() throws Exception {
    JdmConfig c = JdmConfig.load(Optional.of(Path.of("src/dist/conf/jdm.conf")),
        Map.of("jdm.state-dir", tmp.toString()));
    assertEquals(List.of("traced", "patchwork"), c.devices().stream().map(DeviceSpec::name).toList());
    assertEquals(1, c.images().size());
  }
}
