package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.testkit.PluginJar;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A third party's target jar copied into {@code plugins/} of an installed jdm shows up after a
 * restart, with no rebuild of jdm.
 */
class PluginDropIT {
  @TempDir Path tmp;

  static final String DEMO = """
      package demo;

      import dev.jdm.spi.*;
      import java.util.List;

      /** Reads zeros, swallows writes; only here to be found. */
      public final class DemoTarget implements Target {
        public static final class Type implements TargetType {
          public String name() { return "demo"; }
          public Version version() { return Version.of(2, 3, 4); }
          public String usage() { return ""; }
          public Target create(TargetContext c, long length, List<String> args)
              throws TargetException {
            if (!args.isEmpty()) {
              throw new TargetException("Invalid argument count");
            }
            return new DemoTarget();
          }
        }

        public MapResult map(IoRequest r) {
          if (r.op() == IoOp.READ) {
            r.fillZeros();
          }
          r.complete(IoStatus.OK);
          return MapResult.SUBMITTED;
        }

        public String status(StatusType type) { return ""; }
      }
      """;

  /** A copy of the distribution, as someone would have installed it. */
  private Path install() throws Exception {
    Path from = Distribution.home();
    Path to = tmp.resolve("jdm");
    try (Stream<Path> files = Files.walk(from)) {
      for (Path f : files.toList()) {
        Path t = to.resolve(from.relativize(f).toString());
        if (Files.isDirectory(f)) {
          Files.createDirectories(t);
        } else {
          Files.copy(f, t, StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    }
    return to;
  }

  @Test
  void aTargetJarDroppedIntoPluginsIsThereAfterARestart() throws Exception {
    Path home = install();
    Map<String, String> env = Distribution.env(tmp);
    Path config = tmp.resolve("jdm.conf");
    Files.writeString(config, "jdm {}\n");

    try (ServeProcess before = ServeProcess.start(home, env, "--config", config.toString())) {
      String targets = Distribution.run(home, env, "", "targets").ok();
      assertTrue(targets.contains("linear "), targets);
      assertTrue(!targets.contains("demo "), targets);
      assertEquals(0, before.stop("TERM"));
    }

    new PluginJar("demo-target", "2.3.4")
        .source("demo.DemoTarget", DEMO)
        .service("demo.DemoTarget$Type")
        .writeTo(home.resolve("plugins"));

    try (ServeProcess after = ServeProcess.start(home, env, "--config", config.toString())) {
      String targets = Distribution.run(home, env, "", "targets").ok();
      assertTrue(targets.lines().anyMatch(l -> l.equals("demo             v2.3.4")), targets);
      Distribution.run(home, env, "0 64 demo\n", "create", "d").ok();
      assertEquals("0 64 demo\n", Distribution.run(home, env, "", "table", "d").ok());
      assertEquals(0, after.stop("TERM"));
      assertTrue(after.err().contains("plugin demo-target-2.3.4.jar: [demo]"), after.err());
    }
  }
}
