package dev.jdm.cli;

import static dev.jdm.cli.InProcessDaemon.lineOf;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jdm.daemon.JdmConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What reading the configuration again (SIGHUP) does to a running daemon: devices new in the file
 * are created in file order, every other difference is one line and changes nothing.
 */
class ConfigReloadTest {
  @TempDir Path tmp;

  private static List<String> reload(InProcessDaemon d, String body) throws Exception {
    InProcessDaemon.writeConfig(d.dir, body);
    return d.daemon.reload(JdmConfig.load(Optional.of(d.config), Map.of()));
  }

  @Test
  void newDevicesAreCreatedAndEveryOtherChangeIsOneLineLeftAlone() throws Exception {
    Path img = tmp.resolve("state/img");
    String start = """
          images.img { path = "%s", size = 1 MiB }
          frontends.probe { enabled = true, where = "here" }
          devices {
            a.table = "0 2048 linear %s 0"
            c.table = "0 8 zero"
          }
        """.formatted(img, img);
    try (InProcessDaemon d = InProcessDaemon.start(tmp, start)) {
      assertEquals(List.of(), reload(d, start), "the same file changes nothing");
      // The same table, spelled differently, is the same table.
      assertEquals(List.of(), reload(d, start.replace("0 2048 linear", "0   2048  linear")));

      d.jdm("create", "--table", "0 8 error", "mine").ok();
      Path img2 = tmp.resolve("state/img2");
      String edited = """
            images.img { path = "%s", size = 1 MiB }
            images.img2 { path = "%s", size = 1 MiB }
            frontends.probe { enabled = true, where = "there" }
            devices {
              a.table = "0 1024 linear %s 0"
              b.table = "0 2048 linear %s 0"
              mine.table = "0 8 zero"
              upper.table = "0 2048 linear /dev/mapper/b 0"
              bad.table = "0 8 nosuch"
            }
          """.formatted(img, img2, img, img2);
      List<String> lines = reload(d, edited);
      Path f = d.config;
      assertEquals(List.of(
          "b: created from the configuration",
          "upper: created from the configuration",
          f + ": " + lineOf(f, "a.table") + ": jdm.devices.a: table changed: not applied to the"
              + " running device ('jdm load a' then 'jdm resume a' apply a table)",
          f + ": " + lineOf(f, "mine.table") + ": jdm.devices.mine: a device mine exists already"
              + " (not from the file): not created",
          f + ": " + lineOf(f, "bad.table") + ": bad: nosuch: unknown target type (line 1):"
              + " not created",
          "jdm.devices.c is gone from the file: c keeps running ('jdm remove c' removes it)",
          f + ": " + lineOf(f, "there") + ": jdm.frontends.probe.where changed: not applied"
              + " (it takes a restart of jdm serve)"),
          lines);
      assertEquals(1 << 20, Files.size(img2));
      assertEquals("a\t(253:0)\nb\t(253:3)\nc\t(253:1)\nmine\t(253:2)\nupper\t(253:4)\n",
          d.jdm("ls").ok());
      assertEquals("0 2048 linear " + img + " 0\n", d.jdm("table", "a").ok());
      assertEquals("0 8 error\n", d.jdm("table", "mine").ok());

      // Once c is removed by hand nothing is left to say about it; the rest is said again.
      d.jdm("remove", "c").ok();
      List<String> again = reload(d, edited);
      assertEquals(4, again.size(), again.toString());
      assertEquals(List.of(), again.stream().filter(l -> l.contains("created from")
          || l.contains("jdm.devices.c ")).toList());
    }
  }

  @Test
  void aReadOnlyChangeIsReportedAndAFixedTableIsCreatedNextTime() throws Exception {
    try (InProcessDaemon d = InProcessDaemon.start(tmp, "devices.z.table = \"0 8 zero\"")) {
      List<String> lines = reload(d, """
            devices.z { table = "0 8 zero", read-only = true }
            devices.y.table = "0 8 zero extra"
          """);
      assertEquals(2, lines.size(), lines.toString());
      assertEquals(d.config + ": " + lineOf(d.config, "devices.z") + ": jdm.devices.z: read-only"
          + " changed: not applied to the running device (remove and create it to change that)",
          lines.get(0));
      assertEquals(d.config + ": " + lineOf(d.config, "devices.y") + ": y: zero: Invalid argument"
          + " count (line 1): not created", lines.get(1));
      assertEquals(List.of("y: created from the configuration"),
          reload(d, "devices.z.table = \"0 8 zero\"\ndevices.y.table = \"0 8 zero\""));
      assertEquals("y\t(253:1)\nz\t(253:0)\n", d.jdm("ls").ok());
    }
  }
}
