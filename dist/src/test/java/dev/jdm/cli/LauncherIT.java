package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How {@code bin/jdm} finds its Java, with fake JDKs of old versions around it. */
class LauncherIT {
  @TempDir Path tmp;

  /** Removes the links to system files first: JUnit leaves them but warns about each. */
  @AfterEach
  void removeLinks() throws IOException {
    try (var files = Files.walk(tmp)) {
      for (Path p : files.filter(Files::isSymbolicLink).toList()) {
        Files.delete(p);
      }
    }
  }

  /** A {@code java} that only says its version, as old JDKs do, on standard error. */
  private static Path fakeJava(Path bin, String version) throws IOException {
    Files.createDirectories(bin);
    Path java = bin.resolve("java");
    Files.writeString(java, "#!/bin/sh\necho 'openjdk version \"" + version + "\" 2020-01-01' >&2\n");
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    return java;
  }

  /** A PATH holding only what the launcher needs from the system, and a fake java. */
  private Path toolsOnly() throws IOException {
    Path bin = tmp.resolve("bin");
    Files.createDirectories(bin);
    for (String tool : List.of("ls", "sed", "dirname", "head")) {
      Path real = Arrays.stream(System.getenv("PATH").split(":"))
          .map(d -> Path.of(d, tool)).filter(Files::isExecutable).findFirst().orElseThrow();
      Files.createSymbolicLink(bin.resolve(tool), real);
    }
    fakeJava(bin, "11.0.2");
    return bin;
  }

  private CliResult launch(Path launcher, Map<String, String> env, String... args)
      throws Exception {
    List<String> cmd = new java.util.ArrayList<>(List.of("/bin/sh", launcher.toString()));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().putAll(env);
    Process p = pb.start();
    try {
      p.getOutputStream().close();
      var out = Distribution.drain(p.getInputStream());
      var err = Distribution.drain(p.getErrorStream());
      assertTrue(p.waitFor(Distribution.TIMEOUT_SECONDS, TimeUnit.SECONDS));
      return new CliResult(p.exitValue(), out.get(), err.get());
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void withoutJava25ItSaysWhatItFound() throws Exception {
    Path old = tmp.resolve("old-jdk");
    fakeJava(old.resolve("bin"), "17.0.9");
    Files.writeString(old.resolve("release"), "IMPLEMENTOR=\"x\"\nJAVA_VERSION=\"17.0.9\"\n");
    Path jvms = tmp.resolve("jvms");
    fakeJava(jvms.resolve("ancient/bin"), "1.8.0_392");
    Path bin = toolsOnly();
    CliResult r = launch(Distribution.home().resolve("bin/jdm"), Map.of("JAVA_HOME",
        old.toString(), "JDM_JVM_DIRS", jvms.toString(), "PATH", bin.toString()), "ls");
    assertEquals("jdm: needs Java 25 or newer; set JAVA_HOME (found: " + old + "/bin/java (17), "
        + jvms + "/ancient/bin/java (8), " + bin + "/java (11))", r.failed());
  }

  @Test
  void anOldJavaHomeIsPassedOverForANewerInstalledJdk() throws Exception {
    Path old = tmp.resolve("old-jdk");
    fakeJava(old.resolve("bin"), "17.0.9");
    Path jvms = tmp.resolve("jvms");
    Files.createDirectories(jvms);
    fakeJava(jvms.resolve("ancient/bin"), "1.8.0_392");
    Files.createSymbolicLink(jvms.resolve("jdk-25"), Path.of(System.getProperty("java.home")));
    CliResult r = launch(Distribution.home().resolve("bin/jdm"), Map.of("JAVA_HOME",
        old.toString(), "JDM_JVM_DIRS", jvms.toString(), "PATH", toolsOnly().toString()),
        "--version");
    assertEquals("jdm " + System.getProperty("jdm.version") + "\n", r.ok());
  }

  @Test
  void itRunsThroughASymlink() throws Exception {
    Path link = tmp.resolve("elsewhere/jdm");
    Files.createDirectories(link.getParent());
    Files.createSymbolicLink(link, Distribution.home().resolve("bin/jdm"));
    assertEquals("jdm " + System.getProperty("jdm.version") + "\n", launch(link, Map.of(),
        "--version").ok());
  }
}
