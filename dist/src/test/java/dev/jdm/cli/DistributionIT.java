package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** What {@code mvn package} lays out: the tree and the tarball holding the same. */
class DistributionIT {
  private static List<String> tree(Path home) throws Exception {
    try (Stream<Path> s = Files.walk(home)) {
      return s.filter(Files::isRegularFile).map(p -> home.relativize(p).toString()).sorted()
          .toList();
    }
  }

  private static List<String> names(Path dir) throws Exception {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  @Test
  void theTreeHoldsLauncherLibrariesPluginsAndConfiguration() throws Exception {
    Path home = Distribution.home();
    assertEquals("rwxr-xr-x", PosixFilePermissions.toString(
        Files.getPosixFilePermissions(home.resolve("bin/jdm"))));
    assertTrue(Files.readString(home.resolve("bin/jdm")).startsWith("#!/bin/sh\n"));
    assertTrue(Files.isRegularFile(home.resolve("conf/jdm.conf")));
    assertTrue(Files.isRegularFile(home.resolve("logback.xml")));
    assertTrue(Files.isRegularFile(home.resolve("README.md")));

    String v = System.getProperty("jdm.version");
    assertEquals(List.of("jdm-target-crypt-" + v + ".jar", "jdm-target-delay-" + v + ".jar",
        "jdm-target-dust-" + v + ".jar", "jdm-target-error-" + v + ".jar",
        "jdm-target-flakey-" + v + ".jar", "jdm-target-hello-" + v + ".jar",
        "jdm-target-linear-" + v + ".jar", "jdm-target-log-writes-" + v + ".jar",
        "jdm-target-snapshot-" + v + ".jar", "jdm-target-striped-" + v + ".jar",
        "jdm-target-unstriped-" + v + ".jar",
        "jdm-target-zero-" + v + ".jar"), names(home.resolve("plugins")));
    List<String> lib = names(home.resolve("lib"));
    for (String jar : List.of("jdm-dist-" + v, "jdm-kernel-" + v, "jdm-spi-" + v, "picocli-",
        "config-", "slf4j-api-", "logback-classic-", "pf4j-", "jdm-luks-" + v, "bcprov-")) {
      assertTrue(lib.stream().anyMatch(n -> n.startsWith(jar)), jar + " in lib: " + lib);
    }
    assertTrue(lib.stream().noneMatch(n -> n.startsWith("jdm-target-")),
        "targets load from plugins/ only: " + lib);
    assertTrue(lib.stream().noneMatch(n -> n.startsWith("junit") || n.startsWith("jdm-testkit")),
        "no test libraries: " + lib);
  }

  @Test
  void theTarballHoldsTheSameTree() throws Exception {
    Path home = Distribution.home();
    Path tarball = Path.of(System.getProperty("jdm.tarball"));
    String base = "jdm-" + System.getProperty("jdm.version") + "/";
    Process tar = new ProcessBuilder("tar", "-tvzf", tarball.toString()).start();
    var listing = Distribution.drain(tar.getInputStream());
    assertTrue(tar.waitFor(Distribution.TIMEOUT_SECONDS, TimeUnit.SECONDS));
    assertEquals(0, tar.exitValue());
    List<String> lines = listing.get().lines().toList();
    List<String> files = lines.stream().filter(l -> l.startsWith("-"))
        .map(l -> l.substring(l.indexOf(base) + base.length())).sorted().toList();
    assertEquals(tree(home), files);
    assertTrue(lines.stream().anyMatch(l -> l.startsWith("-rwxr-xr-x") && l.endsWith(base + "bin/jdm")),
        String.join("\n", lines));
  }
}
