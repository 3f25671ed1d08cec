package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jdm.spi.Spi;
import dev.jdm.testkit.PluginJar;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * jdm's insmod and rmmod: {@code jdm plugin load | unload | ls} of the distribution's real
 * {@code bin/jdm} against a running daemon, with plugin jars built at test time; no restart.
 */
class PluginVerbsIT {
  @TempDir Path tmp;
  Path home;
  Map<String, String> env;

  private CliResult jdm(String... args) throws Exception {
    return Distribution.run(home, env, "", args);
  }

  /** The distribution's built-in target jars, copied into a plugins directory of the test's. */
  private Path builtInPlugins() throws Exception {
    Path plugins = Files.createDirectories(tmp.resolve("plugins"));
    try (Stream<Path> jars = Files.list(home.resolve("plugins"))) {
      for (Path jar : jars.toList()) {
        Files.copy(jar, plugins.resolve(jar.getFileName()));
      }
    }
    return plugins;
  }

  @Test
  void aPluginLoadsIntoARunningDaemonAndUnloadsOnlyWhenNoTableUsesIt() throws Exception {
    home = Distribution.home();
    env = Distribution.env(tmp);
    Path plugins = builtInPlugins();
    Path config = Files.writeString(tmp.resolve("jdm.conf"), "jdm {}\n");
    Path demo = new PluginJar("demo-target", "2.3.4").source("demo.DemoTarget", PluginDropIT.DEMO)
        .service("demo.DemoTarget$Type").writeTo(tmp.resolve("elsewhere"));
    Path needsTwo = new PluginJar("needs-two", "1.0.0").source("demo.DemoTarget", PluginDropIT.DEMO)
        .service("demo.DemoTarget$Type").requires("^2.0.0").writeTo(tmp.resolve("elsewhere"));

    try (ServeProcess d = ServeProcess.start(home, env, "--config", config.toString(),
        "--plugins", plugins.toString())) {
      // The built-in targets are plugins too, each requiring this SPI's major version.
      List<String> builtIn = jdm("plugin", "ls").ok().lines().toList();
      long shipped;
      try (Stream<Path> jars = Files.list(home.resolve("plugins"))) {
        shipped = jars.count();
      }
      assertEquals(shipped, builtIn.size(), builtIn.toString());
      for (String line : builtIn) {
        String[] f = line.split(" +");
        assertEquals(f[1] + "-" + f[2] + ".jar", f[0], line);
        // A plugin is named after its target type, or one of them (snapshot has three).
        assertTrue(f[1].startsWith("jdm-target-")
            && List.of(f[3].split(",")).contains(f[1].substring(11)), line);
        try (JarFile jar = new JarFile(plugins.resolve(f[0]).toFile())) {
          assertEquals("^" + Spi.VERSION,
              jar.getManifest().getMainAttributes().getValue("Plugin-Requires"), f[0]);
        }
      }

      String demoLine = demo + "  demo-target  2.3.4  demo\n";
      assertEquals(demoLine, jdm("plugin", "load", demo.toString()).ok());
      // Columns line up over all plugins; the first is sorted, a path before file names.
      assertEquals(List.of(demo.toString(), "demo-target", "2.3.4", "demo"),
          List.of(jdm("plugin", "ls").ok().lines().findFirst().orElseThrow().split(" +")));
      assertTrue(jdm("targets").ok().contains("demo             v2.3.4\n"));

      String busy = "jdm: demo-target: Device or resource busy: target type 'demo' is in use by"
          + " 1 target(s)";
      jdm("create", "--table", "0 64 demo", "a").ok();
      assertEquals(busy, jdm("plugin", "unload", "demo-target").failed());
      // Only an inactive table uses it now: still busy.
      jdm("create", "--table", "0 8 zero", "b").ok();
      jdm("load", "--table", "0 64 demo", "b").ok();
      jdm("remove", "a").ok();
      assertEquals(busy, jdm("plugin", "unload", "demo-target").failed());
      jdm("clear", "b").ok();
      assertEquals("", jdm("plugin", "unload", "demo-target").ok());
      assertFalse(jdm("targets").ok().contains("demo"));
      assertFalse(jdm("plugin", "ls").ok().contains("demo"));
      assertTrue(jdm("create", "--table", "0 64 demo", "c").failed()
          .startsWith("jdm: c: demo: unknown target type"));

      // Loaded again, from the same jar, it works as before.
      assertEquals(demoLine, jdm("plugin", "load", demo.toString()).ok());
      jdm("create", "--table", "0 64 demo", "c").ok();
      jdm("remove", "c").ok();
      assertEquals("", jdm("plugin", "unload", "demo-target").ok());

      // A jar for another SPI is refused by name, with both versions.
      assertEquals("jdm: " + needsTwo + ": needs SPI ^2.0.0 (Plugin-Requires), this jdm has SPI "
          + Spi.VERSION, jdm("plugin", "load", needsTwo.toString()).failed());

      // Without a JAR, 'load' takes the jars dropped into the plugins directory since the start.
      Files.copy(demo, plugins.resolve(demo.getFileName()));
      assertEquals("demo-target-2.3.4.jar  demo-target  2.3.4  demo\n",
          jdm("plugin", "load").ok());
      Files.copy(needsTwo, plugins.resolve(needsTwo.getFileName()));
      Files.writeString(plugins.resolve("garbage.jar"), "not a zip file");
      CliResult scan = jdm("plugin", "load");
      assertEquals(1, scan.code(), scan.toString());
      assertEquals("", scan.out());
      assertEquals("jdm: garbage.jar: cannot load plugin: Cannot read manifest from "
          + plugins.resolve("garbage.jar") + ": zip END header not found; skipped\n"
          + "jdm: needs-two-1.0.0.jar: needs SPI ^2.0.0 (Plugin-Requires), this jdm has SPI "
          + Spi.VERSION + "; skipped\n", scan.err());
      jdm("create", "--table", "0 64 demo", "d").ok();

      assertEquals(0, d.stop("TERM"));
      String log = d.err();
      assertTrue(log.contains("WARN  Plugins: plugin needs-two-1.0.0.jar: needs SPI ^2.0.0"), log);
      assertFalse(log.contains("\tat "), "a refused jar is one line, never a stack trace: " + log);
    }
  }
}
