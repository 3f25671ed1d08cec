package dev.jdm.cli;

import static dev.jdm.cli.InProcessDaemon.lineOf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.daemon.ConfigProblem;
import dev.jdm.daemon.ControlProtocol;
import dev.jdm.daemon.Daemon;
import dev.jdm.daemon.JdmConfig;
import dev.jdm.daemon.ProbeFrontend;
import dev.jdm.daemon.StartFailed;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon's life in this JVM: start, single instance, sockets, config devices, frontends, stop. */
class DaemonTest {
  @TempDir Path tmp;

  private static StartFailed refused(Path config) {
    return assertThrows(StartFailed.class,
        () -> Daemon.start(JdmConfig.load(Optional.of(config), Map.of())));
  }

  @Test
  void theRuntimeDirIsPrivateAndEmptiedOnStop() throws Exception {
    Path run;
    try (InProcessDaemon d = InProcessDaemon.start(tmp, "")) {
      run = d.runtimeDir();
      assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(run)));
      assertEquals("rw-------", PosixFilePermissions.toString(
          Files.getPosixFilePermissions(run.resolve(ControlProtocol.SOCKET))));
      assertEquals(ProcessHandle.current().pid() + "\n", Files.readString(run.resolve("jdm.lock")));
      assertTrue(d.daemon.readyLine().startsWith("jdm ready: control socket "
          + run.resolve(ControlProtocol.SOCKET) + "; no devices"), d.daemon.readyLine());
    }
    try (var left = Files.list(run)) {
      assertEquals(List.of(), left.toList());
    }
  }

  @Test
  void aFrontendThatCannotStartIsNamedOnce() throws Exception {
    Path config = InProcessDaemon.writeConfig(tmp, "frontends.fuse { enabled = true,"
        + " mountpoint = \"" + tmp.resolve("nowhere") + "\" }");
    assertEquals("fuse: mountpoint " + tmp.resolve("nowhere") + " does not exist",
        refused(config).getMessage());
  }

  @Test
  void aRuntimeDirOthersMayWriteToIsRefused() throws Exception {
    Path run = Files.createDirectory(tmp.resolve("run"));
    Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxrwxrwx"));
    Path config = InProcessDaemon.writeConfig(tmp, "");
    assertEquals(run + ": refusing the runtime directory: other users may write to it (mode"
        + " rwxrwxrwx) and so swap its sockets; chmod go-w it or use another --runtime-dir",
        refused(config).getMessage());
    Files.setPosixFilePermissions(run, PosixFilePermissions.fromString("rwxrwx---"));
    assertTrue(refused(config).getMessage().contains("(mode rwxrwx---)"));
    assertEquals(List.of(), runtimeDirEntries(), "nothing created in it");
  }

  @Test
  void aRuntimeDirOfAnotherUserIsRefused() throws Exception {
    Path run = Files.createDirectory(tmp.resolve("run"),
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    int me = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
    int other = me == 65534 ? 65533 : 65534;
    Files.setAttribute(run, "unix:uid", other);
    Path config = InProcessDaemon.writeConfig(tmp, "");
    assertEquals(run + ": refusing the runtime directory: it belongs to uid " + other + ", not to"
        + " this daemon's user (uid " + me + "), who could swap its sockets; use another"
        + " --runtime-dir", refused(config).getMessage());
  }

  @Test
  void aSecondDaemonOnTheSameRuntimeDirIsRefused() throws Exception {
    try (InProcessDaemon d = InProcessDaemon.start(tmp, "")) {
      String m = refused(d.config).getMessage();
      assertEquals("another jdm serve (pid " + ProcessHandle.current().pid() + ") is running on "
          + d.runtimeDir() + "; stop it first or use another --runtime-dir", m);
      assertEquals("No devices found\n", d.jdm("ls").ok());
    }
  }

  @Test
  void aStaleSocketIsReplaced() throws Exception {
    Path run = tmp.resolve("run");
    Files.createDirectories(run);
    Path socket = run.resolve(ControlProtocol.SOCKET);
    try (ServerSocketChannel dead = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
      dead.bind(UnixDomainSocketAddress.of(socket));
    }
    assertTrue(Files.exists(socket));
    try (InProcessDaemon d = InProcessDaemon.start(tmp, "")) {
      assertEquals("No devices found\n", d.jdm("ls").ok());
    }
    assertFalse(Files.exists(socket));
  }

  @Test
  void configuredDevicesAreCreatedInFileOrderAndRemovedOnStop() throws Exception {
    Path img = tmp.resolve("state/img");
    String body = """
          images.img { path = "%s", size = 1 MiB }
          devices {
            lower.table = "0 2048 linear %s 0"
            upper { table = ["0 1024 linear /dev/mapper/lower 0", "1024 1024 zero"], read-only = true }
          }
        """.formatted(img, img);
    try (InProcessDaemon d = InProcessDaemon.start(tmp, body)) {
      assertEquals("lower\t(253:0)\nupper\t(253:1)\n", d.jdm("ls").ok());
      assertEquals(1 << 20, Files.size(img));
      assertTrue(d.jdm("info", "upper").ok().contains("(READ-ONLY)"));
      assertTrue(d.jdm("info", "lower").ok().contains("Open count:        1\n"));
      assertTrue(d.daemon.readyLine().contains("; devices lower, upper"), d.daemon.readyLine());
      assertEquals(List.of("  lower (1048576 bytes): jdm --runtime-dir X table lower",
          "  upper (1048576 bytes): jdm --runtime-dir X table upper"),
          d.daemon.hints(" --runtime-dir X"));
    }
    assertEquals(List.of(), runtimeDirEntries());
  }

  private List<String> runtimeDirEntries() throws Exception {
    try (var left = Files.list(tmp.resolve("run"))) {
      return left.map(Path::toString).toList();
    }
  }

  @Test
  void stopFlushesEveryWritableDeviceBeforeRemovingIt() throws Exception {
    Path img = tmp.resolve("state/img");
    List<String> heard = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (InProcessDaemon d = InProcessDaemon.start(tmp, """
          images.img { path = "%s", size = 1 MiB }
          devices.w.table = "0 2048 linear %s 0"
          devices.r { table = "0 2048 zero", read-only = true }
        """.formatted(img, img))) {
      for (String name : List.of("w", "r")) {
        d.daemon.mapper().get(name).trace((start, op, sector, bytes, latency, status) ->
            heard.add(name + " " + op + " " + status));
      }
    }
    assertEquals(List.of("w FLUSH OK"), heard);
  }

  @Test
  void anExistingImageIsLeftAlone() throws Exception {
    Path img = tmp.resolve("state/img");
    Files.createDirectories(img.getParent());
    Files.writeString(img, "x".repeat(4096));
    try (InProcessDaemon d = InProcessDaemon.start(tmp,
        "images.img { path = \"" + img + "\", size = 1 MiB }")) {
      assertEquals(4096, Files.size(img));
      assertEquals("No devices found\n", d.jdm("ls").ok());
    }
  }

  @Test
  void aBadTableInTheConfigStopsTheStartWithFileAndLine() throws Exception {
    Path config = InProcessDaemon.writeConfig(tmp, """
          devices {
            good.table = "0 8 zero"
            bad.table = [
              "0 8 zero"
              "8 8 linear"
            ]
          }
        """);
    assertEquals(config + ": " + lineOf(config, "8 8 linear")
        + ": bad: linear: Invalid argument count (line 2)",
        refused(config).getMessage());
    // Nothing kept running: the same runtime dir starts again at once.
    InProcessDaemon.writeConfig(tmp, "devices.good.table = \"0 8 zero\"");
    try (InProcessDaemon d = InProcessDaemon.start(tmp, "devices.good.table = \"0 8 zero\"")) {
      assertEquals("good\t(253:0)\n", d.jdm("ls").ok());
    }
  }

  @Test
  void aBadValueReadByTheKernelStopsTheStartWithFileLineAndFullKey() throws Exception {
    Path config = InProcessDaemon.writeConfig(tmp, "kernel.suspend-timeout = soon");
    String m = assertThrows(ConfigProblem.class,
        () -> JdmConfig.load(Optional.of(config), Map.of())).getMessage();
    assertTrue(m.startsWith(config + ": " + lineOf(config, "soon")
        + ": jdm.kernel.suspend-timeout: "), m);
  }

  @Test
  void frontendsStartFromTheirSectionAndCloseBeforeTheDevicesGo() throws Exception {
    ProbeFrontend.EVENTS.clear();
    try (InProcessDaemon d = InProcessDaemon.start(tmp, """
          frontends.probe { enabled = true, where = "over there" }
          devices.z.table = "0 8 zero"
        """)) {
      assertTrue(d.daemon.readyLine().endsWith("; devices z; probe at over there"),
          d.daemon.readyLine());
      assertTrue(d.daemon.hints("").contains("  probe at over there"));
    }
    assertEquals(List.of("closed with 1 device(s)"), ProbeFrontend.EVENTS);
  }

  @Test
  void aFrontendThatCannotStartStopsTheStart() throws Exception {
    ProbeFrontend.EVENTS.clear();
    Path config = InProcessDaemon.writeConfig(tmp, """
          frontends.probe { enabled = true, fail = "127.0.0.1:1: Address already in use" }
          devices.z.table = "0 8 zero"
        """);
    assertEquals("probe: 127.0.0.1:1: Address already in use", refused(config).getMessage());
    assertEquals(List.of(), runtimeDirEntries());
  }

  @Test
  void anEnabledFrontendThatIsNotInstalledIsRefused() throws Exception {
    Path config = InProcessDaemon.writeConfig(tmp, "frontends.carrier-pigeon.enabled = true");
    String m = refused(config).getMessage();
    assertTrue(m.startsWith(config + ": " + lineOf(config, "pigeon")
        + ": jdm.frontends.carrier-pigeon.enabled: no frontend called carrier-pigeon is installed"
        + " (installed: "), m);
    assertTrue(m.contains("probe"), m);
  }

  @Test
  void aMalformedRequestIsAnsweredAndTheDaemonGoesOn() throws Exception {
    try (InProcessDaemon d = InProcessDaemon.start(tmp, "")) {
      Path socket = d.runtimeDir().resolve(ControlProtocol.SOCKET);
      try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
        c.write(ByteBuffer.wrap(new byte[] {0x7f, (byte) 0xff, (byte) 0xff, (byte) 0xff}));
        c.shutdownOutput();
        List<String> reply = ControlProtocol.read(c);
        assertEquals("2", reply.get(0));
        assertTrue(reply.get(2).startsWith("jdm: bad control request: bad string count"), reply.get(2));
      }
      try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
        ControlProtocol.write(c, List.of("jdm-control/0", "ls"));
        List<String> reply = ControlProtocol.read(c);
        assertEquals("2", reply.get(0));
        assertTrue(reply.get(2).contains("speaks jdm-control/1"), reply.get(2));
      }
      try (SocketChannel c = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
        ControlProtocol.write(c, List.of(ControlProtocol.VERSION, "create", "x"));
        assertEquals("2", ControlProtocol.read(c).get(0));
      }
      // A client that connects and says nothing does not hold anyone up.
      try (SocketChannel idle = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
        assertTrue(idle.isConnected());
        assertEquals("No devices found\n", d.jdm("ls").ok());
      }
    }
  }
}
