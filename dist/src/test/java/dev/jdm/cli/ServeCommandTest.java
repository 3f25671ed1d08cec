package dev.jdm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/** {@code jdm serve}'s options become the configuration keys the daemon and frontends read. */
class ServeCommandTest {
  private static Map<String, Object> overrides(String... args) {
    Jdm jdm = new Jdm(new ByteArrayInputStream(new byte[0]), System.out, System.err);
    ParseResult parsed = new CommandLine(jdm).parseArgs(args);
    ServeCommand serve = parsed.subcommand().commandSpec().commandLine().getCommand();
    return serve.overrides();
  }

  @Test
  void optionsBecomeConfigurationKeys() {
    assertEquals(Map.of(
        "jdm.runtime-dir", "/r",
        "jdm.plugins-dir", "/p",
        "jdm.frontends.nbd.enabled", true,
        "jdm.frontends.nbd.listen", List.of("127.0.0.1:10809", "/run/jdm/nbd.sock"),
        "jdm.frontends.fuse.enabled", true,
        "jdm.frontends.fuse.mountpoint", "/mnt/jdm"),
        overrides("serve", "--nbd", "127.0.0.1:10809", "--nbd", "/run/jdm/nbd.sock",
            "--fuse", "/mnt/jdm", "--plugins", "/p", "--runtime-dir", "/r"));
    assertEquals(Map.of("jdm.runtime-dir", "/r"), overrides("--runtime-dir", "/r", "serve"));
    assertEquals(Map.of(), overrides("serve"));
  }

  @Test
  void aRelativeMountPointIsTakenFromWhereTheCommandRuns() {
    assertEquals(Path.of("").toAbsolutePath().resolve("mnt/jdm").toString(),
        overrides("serve", "--fuse", "mnt/jdm").get("jdm.frontends.fuse.mountpoint"));
  }
}
